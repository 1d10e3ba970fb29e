"""The evaluation summary of a shipped checkpoint: notebook 09 and ``benchmarks/evaluation.py`` both call
``evaluate``, so at the same n, seed and batch they print the same table (``summary_table``), which the
README quotes.

Every score is FID in classifier space (and class accuracy for a conditional model) of n samples, beside
the references computed by the same code at the same n: real training images (floor), real + N(0, 0.05²)
(grain) and real images blurred with σ = 1 pixel (blur). Each row is ``helpers.evaluation.sample_quality``.
"""

from __future__ import annotations

from .data import load_dataset
from .evaluation import sample_quality
from .metrics import memorisation_check

STEPS = (10, 20, 50, 100)
ETAS = (0.0, 1.0)
SCALES = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5)
GUIDANCE_STEPS = 20
BLUR_SIGMA = 1.0


def evaluate(model, schedule, evaluator, n: int, seed: int = 0, batch: int = 64, steps=STEPS, etas=ETAS,
             ddpm: bool = True, scales=SCALES, guidance_steps: int = GUIDANCE_STEPS, memorisation_steps: int = 50,
             log=print) -> dict:
    """Quality against DDIM steps for each η (η = 1 is DDPM's ancestral step on the shorter sequence),
    DDPM over all T steps, quality against the guidance scale (conditional models), the references, and
    a nearest-neighbour memorisation check on the samples of DDIM ``memorisation_steps`` steps, η = 0.

    Rows follow ``sample_quality`` (s = 1 unless guided); a setting that two sweeps share is sampled once.
    """
    conditional = bool(model.num_classes)
    cache, images_of = {}, {}

    def run(**kw):
        key = tuple(sorted(kw.items()))
        if key not in cache:
            cache[key], images_of[key] = sample_quality(model, schedule, evaluator, n, seed=seed, batch=batch, **kw)
            if log:
                log(_describe(cache[key]))
        return cache[key]

    ddim = dict(sampler="ddim", spacing="trailing")
    steps_rows = [run(**ddim, eta=float(eta), steps=st, guidance_scale=1.0) for eta in etas for st in steps]
    if ddpm:
        steps_rows.append(run(sampler="ddpm", variance="posterior", clip_x0=True, guidance_scale=1.0))
    guidance_rows = [run(**ddim, eta=0.0, steps=guidance_steps, guidance_scale=float(s)) for s in scales] \
        if conditional else []
    mem_key = tuple(sorted(dict(**ddim, eta=0.0, steps=memorisation_steps, guidance_scale=1.0).items()))
    if mem_key not in images_of:
        run(**ddim, eta=0.0, steps=memorisation_steps, guidance_scale=1.0)
    data = evaluator.dataset
    memorisation = memorisation_check(images_of[mem_key], load_dataset(data, "train").images,
                                      load_dataset(data, "test").images[:n])
    return {"n": n, "seed": seed, "batch": batch, "conditional": conditional,
            "references": evaluator.references(n, seed=seed, blur_sigma=BLUR_SIGMA),
            "classifier_test_accuracy": evaluator.classifier.metadata.get("test_accuracy"),
            "steps_rows": steps_rows, "guidance_rows": guidance_rows,
            "memorisation": {**memorisation, "steps": memorisation_steps}}


def _describe(row: dict) -> str:
    if row["sampler"] == "ddpm":
        name = f"DDPM, {row['steps']} steps"
    else:
        name = f"DDIM, {row['steps']} steps, η = {row['eta']:g}"
    s = "" if row["guidance_scale"] is None else f", s = {row['guidance_scale']:g}"
    acc = f", accuracy {row['accuracy']:.3f}" if "accuracy" in row else ""
    return f"{name}{s}: FID {row['fid']:.2f}{acc}, {row['seconds_per_image']:.3f} s per image"


def summary_table(results: dict) -> str:
    """A markdown table of the headline numbers of ``evaluate``'s results (rounded; no timings)."""
    n, refs = results["n"], results["references"]
    lines = [f"| n = {n} samples each | FID (classifier) | class accuracy |", "| --- | ---: | ---: |"]
    acc_real = results.get("classifier_test_accuracy")
    lines.append(f"| reference: real training images (floor) | {refs['floor']:.2f} | "
                 f"{'' if acc_real is None else f'{acc_real:.1%} (real test set)'} |")
    lines.append(f"| reference: real + N(0, 0.05²) (grain) | {refs['grain']:.2f} | |")
    lines.append(f"| reference: real, blurred σ = {BLUR_SIGMA:g} px (blur) | {refs['blur']:.2f} | |")

    def row_line(row, label):
        acc = f"{row['accuracy']:.1%}" if "accuracy" in row else "—"
        return f"| {label} | {row['fid']:.2f} | {acc} |"

    for row in results["steps_rows"]:
        if row["sampler"] == "ddpm":
            label = f"DDPM, all {row['steps']} steps"
        else:
            label = f"DDIM η = {row['eta']:g}, {row['steps']} steps"
        lines.append(row_line(row, label + ("" if row["guidance_scale"] is None else ", s = 1")))
    for row in results["guidance_rows"]:
        if row not in results["steps_rows"]:  # s = 1 at a swept step count is listed once
            lines.append(row_line(row, f"DDIM η = 0, {row['steps']} steps, guidance s = {row['guidance_scale']:g}"))
    m = results["memorisation"]
    lines.append(f"| nearest-neighbour ratio (DDIM {m['steps']} steps; < 1 would mean copying) | "
                 f"{m['ratio']:.2f} | |")
    return "\n".join(lines)
