"""The evaluation summary of a shipped checkpoint: notebook 09 and ``benchmarks/evaluation.py`` both call
``evaluate``, so at the same n, seed and batch they print the same table (``summary_table``), which the
README quotes.

Every score is FID and KID in classifier space (and class accuracy for a conditional model) of n samples,
beside the references computed by the same code at the same n: real training images (floor), real +
N(0, 0.05²) (grain) and real images blurred with σ = 1 pixel (blur). The references hold each class as often
as the samples do (``reference_images``): a conditional model's samples are class-balanced (``generate``
asks for the labels 0, 1, …, 9, 0, … in turn), and at small n a random draw's unequal class counts alone move
a Fréchet distance a lot. Each row is ``helpers.evaluation.sample_quality`` plus KID ± s.e.
(``QualityEvaluator.kid``) and, for a conditional model, the accuracy's binomial s.e. √(p(1−p)/n).
"""

from __future__ import annotations

import math

import torch

from ._checks import check_int
from .data import load_dataset, to_float
from .evaluation import balanced_labels, sample_quality
from .metrics import gaussian_blur, memorisation_check, reference_indices

STEPS = (10, 20, 50, 100)
ETAS = (0.0, 1.0)
SCALES = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5)
GUIDANCE_STEPS = 20
BLUR_SIGMA = 1.0
NOISE_STD = 0.05


def accuracy_se(p: float, n: int) -> float:
    """The binomial standard error of an accuracy p measured on n images:  √(p(1−p)/n)  (0 at p = 0 or 1)."""
    check_int(n, "n", 1)
    return math.sqrt(p * (1 - p) / n)


def stratified_sd(p_c: dict[int, float], n_c: dict[int, int]) -> float:
    """σ_strat = √(Σ_c n_c p_c (1 − p_c)) / n, n = Σ_c n_c: the s.d. of the accuracy of n independent samples,
    n_c of class c, each right with probability p_c."""
    n = sum(n_c.values())
    return math.sqrt(sum(n_c[c] * p_c[c] * (1 - p_c[c]) for c in n_c)) / n


def reference_images(dataset: str, n: int, seed: int = 0, labels: torch.Tensor | None = None,
                     noise_std: float = NOISE_STD, blur_sigma: float = BLUR_SIGMA) -> dict:
    """The three reference sets of n real training images: "floor" (the images), "grain" (+ N(0, noise_std²),
    clamped to [−1, 1]) and "blur" (``gaussian_blur`` with ``blur_sigma``).

    ``labels`` None: the first n images of a random permutation (seeded by ``seed``), the draw of
    ``QualityEvaluator.references``, which these sets then equal. ``labels`` [n]: class-balanced like the
    samples; image i has class ``labels[i]``, taken in the order of the same permutation.
    """
    train = load_dataset(dataset, "train")
    gen = torch.Generator().manual_seed(seed)
    real = to_float(train.images[reference_indices(train.labels, n, gen, labels)])
    grain = (real + noise_std * torch.randn(real.shape, generator=gen)).clamp(-1, 1)
    return {"floor": real, "grain": grain, "blur": gaussian_blur(real, blur_sigma)}


def references(evaluator, n: int, seed: int = 0, labels: torch.Tensor | None = None) -> tuple[dict, dict]:
    """FID and KID of ``reference_images`` at sample size n: ``({name: FID}, {name: [KID, s.e.]})``, KID's
    subsets drawn with a generator seeded by ``seed`` (as for the samples)."""
    images = reference_images(evaluator.dataset, n, seed, labels)
    fid = {name: evaluator.fid(x) for name, x in images.items()}
    kid = {name: list(evaluator.kid(x, generator=torch.Generator().manual_seed(seed))) for name, x in images.items()}
    return fid, kid


def evaluate(model, schedule, evaluator, n: int, seed: int = 0, batch: int = 64, steps=STEPS, etas=ETAS,
             ddpm: bool = True, scales=SCALES, guidance_steps: int = GUIDANCE_STEPS, memorisation_steps: int = 50,
             log=print) -> dict:
    """Quality against DDIM steps for each η (η = 1 is DDPM's ancestral step on the shorter sequence),
    DDPM over all T steps, quality against the guidance scale (conditional models), the references, and
    a nearest-neighbour memorisation check on the samples of DDIM ``memorisation_steps`` steps, η = 0.

    Rows follow ``sample_quality`` (s = 1 unless guided) plus "kid", "kid_se" and, for a conditional model,
    "accuracy_se"; a setting that two sweeps share is sampled once. The references ("references": FID,
    "references_kid": [KID, s.e.]) are class-balanced like the samples for a conditional model
    ("references_balanced"), a random draw otherwise.
    """
    conditional = bool(model.num_classes)
    cache, images_of = {}, {}

    def run(**kw):
        key = tuple(sorted(kw.items()))
        if key not in cache:
            row, images_of[key] = sample_quality(model, schedule, evaluator, n, seed=seed, batch=batch, **kw)
            row["kid"], row["kid_se"] = evaluator.kid(images_of[key], generator=torch.Generator().manual_seed(seed))
            if "accuracy" in row:
                row["accuracy_se"] = accuracy_se(row["accuracy"], n)
            cache[key] = row
            if log:
                log(describe_row(row))
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
    labels = balanced_labels(n, model.num_classes) if conditional else None  # generate's labels
    ref_fid, ref_kid = references(evaluator, n, seed=seed, labels=labels)
    return {"n": n, "seed": seed, "batch": batch, "conditional": conditional,
            "references": ref_fid, "references_kid": ref_kid, "references_balanced": conditional,
            "classifier_test_accuracy": evaluator.classifier.metadata.get("test_accuracy"),
            "steps_rows": steps_rows, "guidance_rows": guidance_rows,
            "memorisation": {**memorisation, "steps": memorisation_steps}}


def describe_row(row: dict) -> str:
    """One line for a row of ``evaluate``: the sampler and its steps, s, FID, KID ± s.e., accuracy, time per image."""
    if row["sampler"] == "ddpm":
        name = f"DDPM, {row['steps']} steps"
    else:
        name = f"DDIM, {row['steps']} steps, η = {row['eta']:g}"
    s = "" if row["guidance_scale"] is None else f", s = {row['guidance_scale']:g}"
    acc = f", accuracy {row['accuracy']:.3f}" if "accuracy" in row else ""
    return (f"{name}{s}: FID {row['fid']:.2f}, KID {row['kid']:.1f} ± {row['kid_se']:.1f}{acc}, "
            f"{row['seconds_per_image']:.3f} s per image")


def _accuracy(p: float, se: float, n: int) -> str:
    """p ± s.e.; at p = 0 or 1 the binomial s.e. is 0 and says nothing, so the count is shown instead."""
    if se > 0:
        return f"{p:.1%} ± {se:.1%}"
    return f"{p:.1%} ({round(p * n)} of {n})"


def summary_table(results: dict) -> str:
    """A markdown table of the headline numbers of ``evaluate``'s results (rounded; no timings): FID, KID ± its
    s.e., class accuracy ± its binomial s.e. (at 0% or 100%, where that s.e. is 0, the count instead)."""
    n, refs, refs_kid = results["n"], results["references"], results["references_kid"]
    lines = [f"| n = {n} samples each | FID (classifier) | KID ± s.e. (classifier) | class accuracy ± s.e. |",
             "| --- | ---: | ---: | ---: |"]
    acc_real = results.get("classifier_test_accuracy")
    drawn = "class-balanced" if results.get("references_balanced") else "random"
    labels = {"floor": f"reference: real training images, {drawn} (floor)",
              "grain": f"reference: real + N(0, {NOISE_STD:g}²) (grain)",
              "blur": f"reference: real, blurred σ = {BLUR_SIGMA:g} px (blur)"}
    for name, label in labels.items():
        acc = f"{acc_real:.1%} (real test set)" if name == "floor" and acc_real is not None else ""
        kid, se = refs_kid[name]
        lines.append(f"| {label} | {refs[name]:.2f} | {kid:.1f} ± {se:.1f} | {acc} |")

    def row_line(row, label):
        acc = "—" if "accuracy" not in row else _accuracy(row["accuracy"], row["accuracy_se"], row["n"])
        return f"| {label} | {row['fid']:.2f} | {row['kid']:.1f} ± {row['kid_se']:.1f} | {acc} |"

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
                 f"{m['ratio']:.2f} | | |")
    return "\n".join(lines)
