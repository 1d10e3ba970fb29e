"""Checkers for classifier-free guidance (notebook 08): label dropout.

Label dropout is random, so ``check_drop_labels`` does not ask for the reference's exact draws: it checks what
any correct answer must do (every output label is the input's or the null label; each example is dropped
independently, with probability ``p_uncond``; the draws come from ``generator``) and names the usual mistakes.
"""

from __future__ import annotations

import math

import torch

from ..loss import drop_labels
from ._harness import call, generator, keep_rng, passed

NULL = ("use the null label passed in (`null_label`, the extra class index num_classes), not a fixed number "
        "or num_classes − 1, which is a real class")
KEEP = ("p_uncond is the probability of dropping a label (uniform draw < p_uncond → ∅), not of keeping it: "
        "about a fraction 1 − p_uncond came back as ∅")
WHOLE = ("the whole batch is dropped or kept at once: draw one uniform number per example "
         "(torch.rand(y.shape, generator=generator)), so each label is dropped independently")
NONE = ("no label was dropped: replace y_i by null_label where a uniform draw is below p_uncond "
        "(torch.where(drop, null_label, y))")
SEED = ("the same generator state gave different labels: draw with the `generator` argument "
        "(torch.rand(y.shape, generator=generator)), so training can be replayed exactly")
FIXED = ("the same labels are dropped whatever the generator: the dropped examples must be drawn at random "
         "(torch.rand(y.shape, generator=generator) < p_uncond), not picked by position or class")
INPLACE = ("drop_labels modified its input `y` in place (y[drop] = …): build a new tensor, "
           "torch.where(drop, torch.full_like(y, null_label), y), or work on y.clone()")


def _run(fn, y: torch.Tensor, p: float, null: int, seed: int) -> torch.Tensor:
    """fn(y, p, null, generator seeded by ``seed``), checked for type, shape and dtype."""
    try:
        out = call(fn, "drop_labels", dict(y=y, p_uncond=p, null_label=null, generator=generator(seed)))
    except AssertionError as err:
        if "in place" in str(err):
            raise AssertionError(INPLACE) from None
        raise
    where = f"y {list(y.shape)}, p_uncond = {p:g}, null_label = {null}"
    if not isinstance(out, torch.Tensor):
        hint = " (missing `return`?)" if out is None else ""
        raise AssertionError(f"drop_labels should return a torch.Tensor, got {type(out).__name__}{hint}")
    if tuple(out.shape) != tuple(y.shape):
        raise AssertionError(f"drop_labels returned shape {list(out.shape)}, expected y's {list(y.shape)} ({where}): "
                             "one label per example")
    if out.dtype != y.dtype:
        raise AssertionError(f"drop_labels returned dtype {out.dtype}, expected y's {y.dtype} ({where}): labels "
                             "index the class embedding, so keep them integers (torch.full_like(y, null_label))")
    return out


def _fraction(out: torch.Tensor, null: int) -> float:
    return float((out == null).double().mean())


@keep_rng
def check_drop_labels(fn) -> None:
    """Check ``fn(y, p_uncond, null_label, generator)`` → labels with each y_i replaced by ``null_label``
    independently with probability ``p_uncond`` (``helpers.loss.drop_labels``)."""
    classes, null, n = 10, 10, 20_000
    y = torch.arange(n) % classes

    # 1. every output label is the input's or the null label
    for p, nl, cls in [(0.3, null, classes), (0.5, 5, 5), (0.5, 10, 7)]:  # the last: null_label ≠ y.max() + 1
        yy = torch.arange(n) % cls
        out = _run(fn, yy, p, nl, 0)
        wrong = (out != yy) & (out != nl)
        if wrong.any():
            used = sorted(set(out[wrong].tolist()))[:3]
            raise AssertionError(f"drop_labels: a dropped label became {used} with null_label = {nl} "
                                 f"({cls} classes): {NULL}")

    # 2. per example, not the whole batch: at p = 0.5 a batch of 20,000 is never all-or-nothing
    fractions = [_fraction(_run(fn, y, 0.5, null, seed), null) for seed in range(8)]
    if all(f in (0.0, 1.0) for f in fractions):
        raise AssertionError(f"drop_labels: {NONE if max(fractions) == 0 else WHOLE} (p_uncond = 0.5, "
                             f"fraction dropped in 8 batches of {n}: {fractions})")

    # 3. the rate is p_uncond, within 5 binomial standard errors
    for p in (0.1, 0.3, 0.8):
        f = _fraction(_run(fn, y, p, null, 1), null)
        se = math.sqrt(p * (1 - p) / n)
        if abs(f - p) > 5 * se:
            hint = KEEP if abs(f - (1 - p)) <= 5 * se else (
                f"dropped a fraction {f:.3f} of the labels, expected p_uncond = {p:g} ± {se:.3f}: "
                "drop y_i where a uniform draw is below p_uncond")
            raise AssertionError(f"drop_labels: {hint} (p_uncond = {p:g})")

    # 4. p = 0 keeps every label, p = 1 drops every label
    if not torch.equal(_run(fn, y, 0.0, null, 0), y):
        raise AssertionError("drop_labels changed labels with p_uncond = 0: nothing may be dropped")
    if not bool((_run(fn, y, 1.0, null, 0) == null).all()):
        raise AssertionError("drop_labels kept labels with p_uncond = 1: every label must become null_label")

    # 5. the draws come from the generator: same seed, same labels; another seed, other labels
    a, b, c = (_run(fn, y, 0.3, null, seed) for seed in (2, 2, 3))
    if not torch.equal(a, b):
        raise AssertionError(f"drop_labels: {SEED}")
    if torch.equal(a, c):
        raise AssertionError(f"drop_labels: {FIXED}")

    # 6. independent of the class: each class is dropped at the same rate
    out = _run(fn, y, 0.3, null, 4)
    per_class = torch.stack([(out[y == k] == null).double().mean() for k in range(classes)])
    se = math.sqrt(0.3 * 0.7 / (n // classes))
    if (per_class - 0.3).abs().max() > 5 * se:
        raise AssertionError(f"drop_labels: the rate depends on the class ({[round(v, 2) for v in per_class.tolist()]}"
                             f" at p_uncond = 0.3): drop each example with the same probability, whatever its label")

    # 7. independent per example: in batches of 8 at p = 0.5 the count dropped is Binomial(8, 0.5), variance 2;
    # a fixed count (randperm(B)[:round(p·B)]) has variance 0. Over 1,000 batches the sample variance has an s.e.
    # of √((μ₄ − σ⁴)/1000) = √(7/1000) ≈ 0.084
    small = torch.arange(8) % classes
    counts = torch.tensor([float((_run(fn, small, 0.5, null, 1000 + i) == null).sum()) for i in range(1000)])
    if abs(float(counts.var()) - 2.0) > 6 * math.sqrt(7 / 1000):
        raise AssertionError(f"drop_labels: in 1,000 batches of 8 at p_uncond = 0.5 the number dropped has variance "
                             f"{float(counts.var()):.2f}, where independent draws give 8·p(1 − p) = 2: drop each "
                             "example on its own uniform draw, torch.rand(y.shape, generator=generator) < p_uncond, "
                             "not a fixed number of them")

    exact = torch.equal(out, drop_labels(y, 0.3, null, generator(4)))
    passed("drop_labels", "p_uncond = 0, 0.1, 0.3, 0.5, 0.8, 1; per example, from the generator"
           + ("; draw for draw as helpers.loss.drop_labels" if exact else ""))


__all__ = ["check_drop_labels"]
