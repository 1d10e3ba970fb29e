"""Class proportions of an unconditional checkpoint's samples: how many of n DDIM-50 (η = 0) samples the data
set's classifier assigns to each class, against its assignments of the real test set (Pearson's χ² test of
homogeneity), and what FID such proportions cost on real images: n training images drawn class by class in the
samples' *predicted* class counts (filled by the images' true labels), against n drawn at random (class counts
free to vary, as any sample's do: the floor's construction) and n drawn in the training set's exact proportions
(on Fashion-MNIST, whose classes are equal in number, what balanced labels give a class-conditional model; MNIST's
are not: 9.0-11.2 % a digit). Each FID is [mean, s.d. of one draw] over --draws draws,
draw k of every kind seeded with seed + k.

    python -m benchmarks.class_balance --model fashion-mnist mnist --n 2000 --batch 250 --threads 1
    python -m benchmarks.class_balance --checkpoint runs/fmnist/model.pt --out class_balance-run

The samples are the quality benchmark's DDIM rows' (``helpers.evaluation.generate``, the same seed, batch and
steps), so the FID printed here is that row's. A class-conditional model gets its classes from the labels,
and is left out. The models of an earlier run of the same sampler, seed and batch that this one does not name
keep their entries in the results file (one checkpoint retrained is scored alone; the samples, and so the
scores, can differ in the last digits from one CPU to another), and each entry names the command, hardware
and date that scored it.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from benchmarks.common import RESULTS, checkpoint_sha256, command, hardware, write_results
from helpers.data import load_dataset, to_float
from helpers.evaluation import generate
from helpers.metrics import QualityEvaluator, chi2_homogeneity
from helpers.pretrained import load_checkpoint, load_pretrained


def at_proportions(labels: torch.Tensor, counts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``counts[c]`` examples of each class c, drawn at random without replacement from ``labels``."""
    picks = [torch.nonzero(labels == c).flatten() for c in range(len(counts))]
    return torch.cat([p[torch.randperm(len(p), generator=generator)[:int(k)]] for p, k in zip(picks, counts)])


def proportional(counts: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` split in the proportions of ``counts`` (largest remainders), so that the parts sum to exactly n."""
    share = counts.double() * n / counts.sum()
    parts = share.floor().long()
    parts[torch.argsort(share - parts, descending=True)[:n - int(parts.sum())]] += 1
    return parts


def balance(model, schedule, metadata, n: int, seed: int, batch: int, steps: int, draws: int) -> dict:
    ev = QualityEvaluator(metadata["dataset"])
    samples, _ = generate(model, schedule, n, steps=steps, seed=seed, batch=batch)
    counts, test_counts = ev.class_counts(samples), ev.class_counts()
    chi2, df, p = chi2_homogeneity(counts, test_counts)
    train = load_dataset(metadata["dataset"], "train")

    def real_fids(pick):  # one FID per draw of n real training images, pick(generator) giving their indices
        fids = torch.tensor([ev.fid(to_float(train.images[pick(torch.Generator().manual_seed(seed + k))]))
                             for k in range(draws)])
        return [round(float(fids.mean()), 3), round(float(fids.std()), 3)]

    return {"epochs": metadata.get("epochs"), "n": n, "steps": steps, "classes": train.classes,
            "sample_counts": counts.tolist(), "test_counts": test_counts.tolist(),
            "chi2": round(chi2, 2), "df": df, "p": float(f"{p:.3g}"),
            "fid": round(ev.fid(samples), 3), "draws": draws,
            "fid_real_at_sample_proportions": real_fids(lambda g: at_proportions(train.labels, counts, g)),
            "fid_real_random": real_fids(lambda g: torch.randperm(len(train.labels), generator=g)[:n]),
            "fid_real_at_train_proportions": real_fids(
                lambda g: at_proportions(train.labels, proportional(torch.bincount(train.labels), n), g))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="*", default=["fashion-mnist", "mnist"], help="shipped unconditional checkpoints")
    p.add_argument("--checkpoint", help="or one checkpoint file (instead of --model)")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=250, help="images per sampler call (the quality benchmark's)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--draws", type=int, default=10, help="draws of real images at each set of class counts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="class_balance", help="results file name (benchmarks/results/<out>.json)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"hardware: {hardware()}", flush=True)
    runs = ({args.checkpoint: load_checkpoint(args.checkpoint)} if args.checkpoint else
            {name: load_pretrained(name, return_metadata=True) for name in args.model})
    for name, (model, _, _) in runs.items():
        if model.num_classes:
            p.error(f"{name} is class-conditional: its samples' classes come from the labels")
    run = {"sampler": f"DDIM, {args.steps} steps, trailing, eta=0", "seed": args.seed, "batch": args.batch}
    results = earlier_entries(RESULTS / f"{args.out}.json", run, names=runs)
    scored_by = {"command": command(), "hardware": hardware(), "date": time.strftime("%Y-%m-%d")}
    for name, (model, schedule, metadata) in runs.items():
        results[name] = {"checkpoint_sha256": checkpoint_sha256(name),
                         **balance(model, schedule, metadata, args.n, args.seed, args.batch, args.steps, args.draws),
                         **scored_by}
        print(name, results[name], flush=True)
    write_results(args.out, {**run, "models": dict(sorted(results.items()))})


def earlier_entries(path, run: dict, names) -> dict:
    """The entries of the results file at ``path`` for models not in ``names``, where it was written with this
    ``run``'s sampler, seed and batch (else none); each keeps the command, hardware and date that scored it (a
    file written before entries named them: its own)."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    if any(old.get(key) != value for key, value in run.items()):
        print(f"{path.name} was written with other settings: its entries are replaced", flush=True)
        return {}
    scored_by = {key: old[key] for key in ("command", "hardware", "date")}
    return {name: {**scored_by, **entry} for name, entry in old["models"].items() if name not in names}


if __name__ == "__main__":
    main()
