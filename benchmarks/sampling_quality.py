"""Sample quality against the sampler's settings, for a shipped checkpoint: FID in classifier space (and
class accuracy for a conditional model) against DDIM steps (and DDPM's T steps), and against the
guidance scale s, each at the same n beside the real-image references at that n.

    python -m benchmarks.sampling_quality --n 500            # steps and guidance sweeps (notebooks 07, 08)
    python -m benchmarks.sampling_quality --n 500 --ddpm-variants --etas 0.5 1 --spacings report
                                                             # + notebook 06's DDPM variants, 07's η and spacing
    python -m benchmarks.sampling_quality --n 20 --out sampling_quality-smoke

Scores come from ``helpers.evaluation.sample_quality`` (``helpers.evaluation.generate`` +
``QualityEvaluator``), the code the notebooks call: at the same n, seed, batch and steps the numbers
agree with theirs. Results are written after every row (benchmarks/results/<out>.json).
Sweeps: "steps" (DDIM steps, then DDPM), "guidance" (scales at --scale-steps DDIM steps), and on request
"ddpm_variants" (posterior/beta variance, clipping), "ddim_variants" (η, spacing at --variant-steps).
Each row also holds KID ± s.e. (``QualityEvaluator.kid``, subsets drawn from --seed) and, for a
conditional model, the accuracy's binomial s.e. √(p(1−p)/n); "references_kid" holds the references'
KID at the same n. The references are real training images, for a conditional model of the samples' classes
(``references_balanced``; random draws before 2026-12-05).
"""

from __future__ import annotations

import math

import torch

from benchmarks.common import checkpoint_parser, hardware, write_results
from helpers.evaluation import balanced_labels, sample_quality
from helpers.metrics import QualityEvaluator
from helpers.pretrained import load_pretrained


def _round(row: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def main(argv=None):
    p = checkpoint_parser(__doc__, out="sampling_quality", batch=64, n=500)
    p.add_argument("--steps", type=int, nargs="*", default=[10, 20, 50, 100], help="DDIM steps of the first sweep")
    p.add_argument("--no-ddpm", action="store_true", help="leave DDPM out of the steps sweep")
    p.add_argument("--steps-guidance", type=float, default=1.0, help="the guidance scale of the steps sweep")
    p.add_argument("--scales", type=float, nargs="*", default=[0.0, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 7.5],
                   help="guidance scales of the second sweep (conditional models only)")
    p.add_argument("--scale-steps", type=int, default=20, help="DDIM steps of the guidance sweep")
    p.add_argument("--ddpm-variants", action="store_true",
                   help="also DDPM with the fixed-large variance (beta) and without clipping x0")
    p.add_argument("--etas", type=float, nargs="*", default=[], help="DDIM eta values to add (eta=0 is the default)")
    p.add_argument("--spacings", nargs="*", default=[], help="DDIM spacings to add, e.g. report leading")
    p.add_argument("--variant-steps", type=int, default=20, help="DDIM steps of the eta and spacing rows")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, schedule, metadata = load_pretrained(args.model, return_metadata=True)
    conditional = bool(model.num_classes)
    print(f"hardware: {hardware()}", flush=True)
    ev = QualityEvaluator(metadata["dataset"])
    # a conditional model samples the labels 0, 1, …, 9, 0, … (generate): its references hold the same classes
    labels = balanced_labels(args.n, model.num_classes) if conditional else None
    refs = {k: round(v, 4) for k, v in ev.references(args.n, seed=args.seed, labels=labels).items()}
    refs_kid = {k: [round(v, 4) for v in est_se]
                for k, est_se in ev.references(args.n, seed=args.seed, metric="kid", labels=labels).items()}
    print(f"references at n = {args.n}:", refs, "KID (estimate, s.e.):", refs_kid, flush=True)

    results = {
        "model": args.model, "epochs": metadata.get("epochs"), "n": args.n, "seed": args.seed, "batch": args.batch,
        "references": refs, "references_kid": refs_kid, "references_balanced": conditional,
        "classifier_test_accuracy": ev.classifier.metadata.get("test_accuracy"),
        "steps_sweep": {"guidance_scale": args.steps_guidance if conditional else None,
                        "sampler": "DDIM trailing, eta=0 (and DDPM, posterior variance)", "rows": []},
        "guidance_sweep": {"steps": args.scale_steps, "sampler": "DDIM trailing, eta=0", "rows": []},
    }
    if args.ddpm_variants:
        results["ddpm_variants"] = {"guidance_scale": args.steps_guidance if conditional else None, "rows": []}
    if args.etas or args.spacings:
        results["ddim_variants"] = {"guidance_scale": args.steps_guidance if conditional else None,
                                    "steps": args.variant_steps, "rows": []}

    done = {}  # a setting that two sweeps share (DDPM, s = 1 at 20 steps, …) is sampled once

    def record(sweep: str, **kwargs) -> None:
        key = tuple(sorted(kwargs.items()))
        if key not in done:
            row, images = sample_quality(model, schedule, ev, args.n, seed=args.seed, batch=args.batch, **kwargs)
            row["kid"], row["kid_se"] = ev.kid(images, generator=torch.Generator().manual_seed(args.seed))
            if "accuracy" in row:
                row["accuracy_se"] = math.sqrt(row["accuracy"] * (1 - row["accuracy"]) / args.n)
            done[key] = _round(row)
        print(sweep, done[key], flush=True)
        results[sweep]["rows"].append(done[key])
        write_results(args.out, results)

    s = args.steps_guidance if conditional else 1.0
    # the defaults (variance="posterior", clip_x0=True, eta=0, spacing="trailing") are spelled out, so that
    # equal settings are recognised as such
    ddim = dict(sampler="ddim", eta=0.0, spacing="trailing")
    ddpm = dict(sampler="ddpm", variance="posterior", clip_x0=True)
    for steps in args.steps:
        record("steps_sweep", **ddim, steps=steps, guidance_scale=s)
    if not args.no_ddpm:
        record("steps_sweep", **ddpm, guidance_scale=s)
    if args.ddpm_variants:
        for variance, clip in [("posterior", True), ("beta", True), ("posterior", False)]:
            record("ddpm_variants", **{**ddpm, "variance": variance, "clip_x0": clip}, guidance_scale=s)
    for change in [{"eta": eta} for eta in args.etas] + [{"spacing": sp} for sp in args.spacings]:
        record("ddim_variants", **{**ddim, **change}, steps=args.variant_steps, guidance_scale=s)
    if conditional:
        for scale in args.scales:
            record("guidance_sweep", **ddim, steps=args.scale_steps, guidance_scale=scale)


if __name__ == "__main__":
    main()
