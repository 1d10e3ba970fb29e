"""Sample quality of a checkpoint: FID in classifier space (and class accuracy for a conditional
model) on N samples, DDIM (η = 0) or DDPM (all T steps), beside the real-image references at the same N. A
conditional model's samples are drawn for the labels 0, 1, …, 9, 0, …, and its references hold the same classes
(``references_balanced``); an unconditional model's are random draws of training images. Files written before
2026-12-05 hold random references for the conditional models too.

    python -m benchmarks.quality --model fashion-mnist-cfg --n 2000 --steps 50 --guidance 3
    python -m benchmarks.quality --model fashion-mnist-cfg --n 2000 --sampler ddpm --guidance 1
    python -m benchmarks.quality --checkpoint runs/fmnist-cfg/model.pt --n 2000
    python -m benchmarks.quality --model fashion-mnist-cfg --guidance 3 --keep-model-eps
    python -m benchmarks.quality --model fashion-mnist --n 2000 --guidance 1 --seed 0 1 2 3 4 5

Writes benchmarks/results/quality-<name>.json (DDIM), quality-<name>-ddpm.json (``--sampler ddpm``; at the
same seed, the same labels as the DDIM rows, and the x_T of the first batch too, later ones not, as DDPM's
noise moves the generator on), or the file ``--out`` names. The sampler re-derives ε̂ from the clipped x̂_0 at
each step (``recompute_eps=True``, the default); ``--keep-model-eps`` keeps the model's ε̂ (diffusers'
default, use_clipped_model_output=False) and writes quality-<name>-model-eps.json.

One FID on 2,000 samples moves from draw to draw by more than its references suggest (docs/maintaining.md,
"fashion-mnist past epoch 40"): ``--seed`` with several seeds draws n samples per seed and reports each row's
mean FID with the per-seed values and their s.d., the accuracy pooled over the n·k samples, and the references'
means (per seed too). With one seed a row keeps its one-draw form. A conditional model's rows also keep how many
samples of each label the classifier named right (``correct_per_class``, per seed ``correct_per_class_per_seed``,
None for a joined draw made before they were kept), from which the stratified spread of a draw's accuracy follows.

A draw of 2,000 DDPM samples takes most of an hour on one CPU thread, so draws can run side by side, one seed per
process, each with its own ``--out`` outside benchmarks/results (the README's table reads every quality file
there), and be joined: ``--draws`` names their results files, and each seed they hold is taken from them instead
of sampled again, if they scored the same weights (``weights_sha256``, or for older files the checkpoint they
name, loaded again) with the same classifier (``classifier_sha256``, or for older files its test accuracy and
the real-image references at their seeds), n, sampler, steps, guidance, batch and ε̂ option. The joined file
keeps each draw's command, hardware and date, and a joined draw's own draws:

    python -m benchmarks.quality --model mnist --n 2000 --sampler ddpm --guidance 1 --seed 3 --batch 250 \
        --threads 1 --out runs/quality-mnist-ddpm-s3.json
    python -m benchmarks.quality --model mnist --n 2000 --sampler ddpm --guidance 1 --seed 0 3 --batch 250 \
        --draws runs/quality-mnist-ddpm-s3.json --out runs/quality-mnist-ddpm-s03.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
from pathlib import Path

import torch

from benchmarks.common import RESULTS, checkpoint_sha256, hardware, weights_sha256, write_results
from helpers.evaluation import balanced_labels, sample_quality
from helpers.metrics import QualityEvaluator
from helpers.pretrained import load_checkpoint, load_pretrained


def evaluate(model, schedule, metadata, n, steps, guidances, seeds=(0,), batch=500, evaluator=None,
             recompute_eps=True, sampler="ddim", done=None):
    """One row per guidance scale: n samples per seed (``seeds``: an int or several), scored and pooled by ``pool``;
    ``done``: draws made elsewhere, ``{(guidance, seed): draw}`` (``earlier_draws``), taken instead of sampled."""
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    done = done or {}
    ev = evaluator or QualityEvaluator(metadata["dataset"])
    # DDPM's clipped posterior mean has no ε̂ to keep or re-derive, so recompute_eps is DDIM's alone
    options = {"recompute_eps": recompute_eps} if sampler == "ddim" else {}
    rows = []
    for s in guidances:
        draws = []
        for seed in seeds:
            draws.append(done.get((s, seed)) or sample_quality(
                model, schedule, ev, n, sampler=sampler, steps=steps, guidance_scale=s, seed=seed, batch=batch,
                per_class=True, **options)[0])
            if len(seeds) > 1:  # a draw of 2,000 takes minutes: report each as it comes
                print(f"guidance {s}, seed {seed}: FID {draws[-1]['fid']:.3f}", flush=True)
        row = pool(draws, seeds)
        rows.append(row)
        print(row, flush=True)
    return rows, ev


def pool(draws: list[dict], seeds) -> dict:
    """A row from ``sample_quality`` scores at the same n, one per seed. FID: the mean over the draws, with the
    per-seed values and their sample s.d. (the s.e. of the mean is s.d./√k); accuracy: the mean, which is the
    pooled accuracy of all n·k samples since every draw has n; right answers per class: each draw's
    (correct_per_class_per_seed, None for a draw that kept none; correct_per_class for one draw), absent when no
    draw kept them."""
    first = draws[0]
    row = {"guidance_scale": first["guidance_scale"], "steps": first["steps"], "n": first["n"]}
    fids = [d["fid"] for d in draws]
    row["fid"] = round(statistics.fmean(fids), 3)
    if len(draws) > 1:
        row.update(seeds=list(seeds), fid_per_seed=[round(f, 3) for f in fids], fid_sd=round(statistics.stdev(fids), 3))
    row["sampling_seconds"] = round(sum(d["seconds"] for d in draws), 1)
    if len(draws) > 1 and not any(d.get("seconds_shared") for d in draws):  # only times measured seed by seed
        row["seconds_per_seed"] = [round(d["seconds"], 1) for d in draws]
    if "accuracy" in first:
        accuracies = [d["accuracy"] for d in draws]
        row["accuracy"] = round(statistics.fmean(accuracies), 4)
        if len(draws) > 1:
            row["accuracy_per_seed"] = [round(a, 4) for a in accuracies]
    # each draw's right answers per class (None for draws made before they were kept), for the stratified spread
    if any("correct_per_class" in d for d in draws):
        counts = [d.get("correct_per_class") for d in draws]
        row.update({"correct_per_class_per_seed": counts} if len(draws) > 1 else {"correct_per_class": counts[0]})
    return row


def references(ev, n, seeds, labels=None) -> tuple[dict, list[dict]]:
    """The real-image references at n for each seed (a new draw of training images each), and their means;
    ``labels`` [n]: drawn class by class like a conditional model's samples (``QualityEvaluator.references``)."""
    per_seed = [{k: round(v, 3) for k, v in ev.references(n, seed=seed, labels=labels).items()} for seed in seeds]
    return {k: round(statistics.fmean(r[k] for r in per_seed), 3) for k in per_seed[0]}, per_seed


# what a joined draw must share (and DDIM's steps); its guidance scales need only meet --guidance's, one row a scale
SETTINGS = ("n", "sampler", "batch", "keep_model_eps")


def earlier_draws(files: list[Path], args: argparse.Namespace, weights: str,
                  classifier: dict) -> tuple[dict, list[dict]]:
    """The draws in ``files`` (results of this script) as ``({(guidance, seed): draw}, provenance)``, each checked
    to be a draw of ``args``'s settings, of the same ``weights``, scored by the same ``classifier`` (``{"sha256",
    "test_accuracy", "references": {seed: random references}}``: FID is measured in its feature space), at a seed of
    ``args.seed`` no other draw holds. A file's rows at guidance scales not among ``args.guidance`` are left out
    (a file must hold at least one that is), so that scales drawn apart, or a join of fewer scales, pool alike."""
    done, provenance = {}, []
    for file in files:
        res = json.loads(Path(file).read_text())
        theirs = parser().parse_args(shlex.split(res["command"])[3:])
        keys = SETTINGS + (("steps",) if args.sampler == "ddim" else ())
        if differ := [k for k in keys if getattr(theirs, k) != getattr(args, k)]:
            raise SystemExit(f"--draws {file}: drawn with another {differ[0]} ({getattr(theirs, differ[0])!r}, "
                             f"here {getattr(args, differ[0])!r})")
        if _weights_of(res, theirs, file) != weights:
            raise SystemExit(f"--draws {file}: scored other weights than {args.model or args.checkpoint}")
        taken = [s for s in theirs.guidance if s in args.guidance]
        if not taken:
            raise SystemExit(f"--draws {file}: drawn at guidance {theirs.guidance}, none of --guidance {args.guidance}")
        for row, s in zip(res["rows"], theirs.guidance, strict=True):
            if s not in taken:
                continue
            seeds = row.get("seeds", theirs.seed)
            if "accuracy" in row and len(seeds) > 1 and "accuracy_per_seed" not in row:
                raise SystemExit(f"--draws {file}: its accuracy pools seeds {seeds} and it holds no "
                                 "accuracy_per_seed, so no seed's own accuracy can be taken from it")
            if len(row.get("correct_per_class_per_seed", seeds)) != len(seeds):
                raise SystemExit(f"--draws {file}: its correct_per_class_per_seed holds "
                                 f"{len(row['correct_per_class_per_seed'])} entries for its {len(seeds)} seeds")
            # older files of several seeds kept only the total time: each seed then gets an equal share of it, which
            # adds up to the total but is no seed's own time
            shared = "seconds_per_seed" not in row and len(seeds) > 1
            seconds = row.get("seconds_per_seed", [row["sampling_seconds"] / len(seeds)] * len(seeds))
            # an unconditional model's rows hold no accuracy: one None per seed, so that no seed is dropped
            per_seed = zip(seeds, row.get("fid_per_seed", [row["fid"]]),
                           row.get("accuracy_per_seed", [row.get("accuracy")] * len(seeds)), seconds,
                           row.get("correct_per_class_per_seed", [row.get("correct_per_class")] * len(seeds)),
                           strict=True)
            for seed, fid, accuracy, seconds_of_seed, counts in per_seed:
                if seed not in args.seed:
                    raise SystemExit(f"--draws {file}: seed {seed} is not among --seed {args.seed}")
                if (s, seed) in done:
                    raise SystemExit(f"--draws {file}: seed {seed} at guidance {s:g} is in another file too")
                done[s, seed] = {"guidance_scale": row["guidance_scale"], "steps": row["steps"], "n": row["n"],
                                 "fid": fid, "seconds": seconds_of_seed, **({"seconds_shared": True} if shared else {}),
                                 **({} if accuracy is None else {"accuracy": accuracy}),
                                 **({} if counts is None else {"correct_per_class": counts})}
        _check_classifier(res, theirs.seed, classifier, file)  # after the seeds are known to be among --seed
        provenance.append({k: res[k] for k in ("command", "hardware", "date", "checkpoint_sha256", "draws_from")
                           if k in res} | {"seeds": theirs.seed}
                          | ({"guidance": taken} if taken != theirs.guidance else {}))
    return done, provenance


REFERENCE_TOLERANCE = 0.01  # a stored reference (3 places) redrawn on other hardware; another classifier moves it more


def _check_classifier(res: dict, seeds: list[int], classifier: dict, file: Path) -> None:
    """Refuse a results file scored by another classifier: by its sha256, or for older files, which do not record
    it, by the classifier's accuracy on the real test set and the real-image references at the file's seeds (the
    same training images at the same seed, so only the classifier, or the data, can move them; such files predate
    class-balanced references, so theirs are random draws, for a conditional model too)."""
    def refuse(what, theirs, ours):
        raise SystemExit(f"--draws {file}: scored by another classifier ({what} {theirs}, here {ours}), whose feature "
                         "space gives other FIDs")

    if "classifier_sha256" in res:
        if res["classifier_sha256"] != classifier["sha256"]:
            refuse("sha256", f"{res['classifier_sha256'][:12]}…", f"{classifier['sha256'][:12]}…")
        return
    if res.get("classifier_test_accuracy") != classifier["test_accuracy"]:
        refuse("test accuracy", repr(res.get("classifier_test_accuracy")), repr(classifier["test_accuracy"]))
    for seed, theirs in zip(seeds, res.get("references_per_seed", [res["references"]]), strict=True):
        ours = classifier["references"][seed]
        if any(abs(theirs[k] - ours[k]) > REFERENCE_TOLERANCE for k in ours):
            refuse(f"references at seed {seed}", theirs, ours)


def _weights_of(res: dict, args: argparse.Namespace, file: Path) -> str:
    """The weights a results file scored: its own record, or the checkpoint its command names, if unchanged."""
    if "weights_sha256" in res:
        return res["weights_sha256"]
    if "checkpoint_sha256" not in res:
        raise SystemExit(f"--draws {file}: records neither weights_sha256 nor checkpoint_sha256, so which weights "
                         "it scored cannot be checked")
    source = args.model or args.checkpoint
    if checkpoint_sha256(source) != res["checkpoint_sha256"]:
        raise SystemExit(f"--draws {file}: {source} is not the file it scored (its sha256 has changed)")
    return weights_sha256(_load(args)[0])


def _load(args: argparse.Namespace):
    if args.model:
        return load_pretrained(args.model, device=args.device, return_metadata=True)
    return load_checkpoint(args.checkpoint, device=args.device)


DEVICES = ("cpu", "cuda")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("--model", help="a shipped checkpoint name")
    p.add_argument("--checkpoint", help="or a checkpoint file")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim",
                   help="DDIM with --steps steps (eta = 0), or DDPM over all T steps")
    p.add_argument("--steps", type=int, default=50, help="DDIM's steps (DDPM always takes T)")
    p.add_argument("--guidance", type=float, nargs="*", default=[3.0])
    p.add_argument("--seed", type=int, nargs="+", default=[0],
                   help="one seed, or several: each row then reports the mean FID over the draws (n samples each)")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--keep-model-eps", action="store_true",
                   help="keep the model's eps after clipping x0 (diffusers' default) instead of re-deriving it")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=DEVICES,
                   help="where the networks run; x_T and the noise are drawn on the CPU either way, so a seed's draw "
                        "differs between devices only by their float32 arithmetic")
    p.add_argument("--draws", nargs="+", type=Path, default=[], metavar="JSON",
                   help="results of draws of the same weights and settings made in other processes: their seeds "
                        "are taken from them, not sampled again")
    p.add_argument("--out", type=Path, metavar="JSON",
                   help="a file path (unlike the other benchmarks' --out, not a name): write the results there instead "
                        "of benchmarks/results/quality-<name>[-ddpm|-model-eps].json (a draw to be joined, kept out "
                        "of the README's table)")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if len(set(args.seed)) < len(args.seed):
        p.error(f"--seed: the seeds must differ (got {args.seed}): a repeated seed repeats its draw")
    if args.sampler == "ddpm" and args.keep_model_eps:
        p.error("--keep-model-eps is a DDIM option: DDPM's posterior mean has no ε̂ to keep")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            p.error("--device cuda: torch sees no CUDA device here; use --device cpu")
        # full float32, as on the CPU: TF32 would round the networks' products to 10 bits of mantissa
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(args.threads)
    model, schedule, metadata = _load(args)
    name = args.model or Path(args.checkpoint).stem
    suffix = "-model-eps" if args.keep_model_eps else "-ddpm" if args.sampler == "ddpm" else ""
    out = args.out or RESULTS / f"quality-{name}{suffix}.json"
    # before an hour of sampling, not after: where the results go must be writable and must not be a file joined
    if out.is_dir():
        p.error(f"--out {out}: a directory; give a file path, e.g. {out / f'quality-{name}{suffix}.json'}")
    if out.resolve() in {Path(f).resolve() for f in args.draws}:
        p.error(f"--out {out}: one of the --draws files, which the results would overwrite; give --out another path")
    weights = weights_sha256(model)
    ev = QualityEvaluator(metadata["dataset"], device=args.device)
    # a conditional model samples the labels 0, 1, …, 9, 0, … (generate): its references hold the same classes
    labels = balanced_labels(args.n, model.num_classes) if model.num_classes else None
    refs, refs_per_seed = references(ev, args.n, args.seed, labels)
    clf = ev.classifier.metadata
    # files that predate the classifier's sha256 are recognised by their (random) references
    fingerprint = refs_per_seed if labels is None else references(ev, args.n, args.seed)[1] if args.draws else []
    classifier = {"sha256": weights_sha256(ev.classifier), "test_accuracy": clf["test_accuracy"],
                  "references": dict(zip(args.seed, fingerprint))}
    done, provenance = earlier_draws(args.draws, args, weights, classifier)
    print(f"hardware: {hardware(args.device)}")
    rows, ev = evaluate(model, schedule, metadata, args.n, args.steps, args.guidance, args.seed, args.batch,
                        evaluator=ev, recompute_eps=not args.keep_model_eps, sampler=args.sampler, done=done)
    print("references:", refs)
    extra = {"references_per_seed": refs_per_seed} if len(args.seed) > 1 else {}
    if provenance:
        extra["draws_from"] = provenance
    sampler = (f"DDPM, {schedule.T} steps" if args.sampler == "ddpm" else f"DDIM, {args.steps} steps, trailing, eta=0"
               + (", model's ε̂ kept after clipping" if args.keep_model_eps else ""))
    write_results(out.stem, {
        "model": name, "checkpoint_sha256": checkpoint_sha256(args.model or args.checkpoint), "weights_sha256": weights,
        "epochs": metadata.get("epochs"), "train_minutes": metadata.get("train_minutes"),
        "train_hardware": metadata.get("hardware"),
        **({"init_from": metadata["init_from"]} if "init_from" in metadata else {}), "sampler": sampler,
        "references": refs, **extra, "references_balanced": labels is not None,
        "classifier_test_accuracy": clf["test_accuracy"],
        "classifier_sha256": classifier["sha256"], "rows": rows,
    }, path=out, device=args.device)


if __name__ == "__main__":
    main()
