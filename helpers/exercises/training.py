"""Checker for the exponential moving average (EMA) of the weights (notebook 05)."""

from __future__ import annotations

import torch

from ._harness import call, close, generator, keep_rng, passed, randn

LABEL = "ema_update"
RULE = "θ_EMA ← d·θ_EMA + (1 − d)·θ"
SHAPES = [(3, 2, 3, 3), (3,), (4, 5)]  # a conv weight, a bias, a linear weight
# the decays checked: the series' 0.999 and the short run's 0.99, one far from 1 where mistakes show, and 0 (copy θ)
DECAYS = [(0.9, torch.float32), (0.999, torch.float32), (0.99, torch.float64), (0.0, torch.float32)]


def _variants(old, params, d):
    """(hint, new EMA list) for each common mistake, from the EMA before the call and θ, in float64."""
    mix = lambda a, b: [a * e.double() + b * p.detach().double() for e, p in zip(old, params)]
    return [
        ("decay and 1 − decay swapped (d applied to the new weights θ): the old average keeps the weight d, close "
         f"to 1, and θ gets 1 − d; {RULE}", mix(1 - d, d)),
        (f"the new weights are not scaled by 1 − d: with weights d and 1 the EMA grows without bound; {RULE}",
         mix(d, 1.0)),
        (f"the new weights θ are missing: {RULE}", mix(d, 0.0)),
        (f"that is θ itself: the EMA keeps d of its old value; {RULE}", mix(0.0, 1.0)),
        (f"that is the old EMA unchanged: {RULE}", mix(1.0, 0.0)),
    ]


def _as_list(out, n: int):
    if not isinstance(out, (list, tuple)) or len(out) != n or not all(isinstance(e, torch.Tensor) for e in out):
        raise AssertionError(f"{LABEL} returned {type(out).__name__}: update ema_params in place (and return "
                             f"nothing), or return a list of {n} tensors, one new θ_EMA per parameter")
    return list(out)


def _update(fn, ema, params, decay, where):
    """Call fn once; return the new EMA tensors (the returned list, or ema_params updated in place)."""
    old = [e.clone() for e in ema]
    theta = [p.detach().clone() for p in params]
    try:
        out = call(fn, LABEL, dict(ema_params=ema, params=params, decay=decay))
    except AssertionError as err:
        if "leaf Variable that requires grad" in str(err):
            raise AssertionError(f"{LABEL} modified the model's weights θ in place: only θ_EMA changes; "
                                 f"θ stays as the optimizer left it ({where})") from None
        raise
    if any(not torch.equal(p.detach(), b) for p, b in zip(params, theta)):
        raise AssertionError(f"{LABEL} modified the model's weights θ: only θ_EMA changes; θ stays as the "
                             f"optimizer left it ({where})")
    if out is None:
        if all(torch.equal(e, b) for e, b in zip(ema, old)):
            raise AssertionError(f"{LABEL} neither returned anything nor changed ema_params: `e = d * e + …` only "
                                 "rebinds the name e. Update each tensor in place (e.mul_(d).add_(p, alpha=1 − d), "
                                 "under torch.no_grad()) or return the list of new tensors")
        new = ema
    else:
        new = _as_list(out, len(ema))
    for e, b in zip(new, old):
        if tuple(e.shape) != tuple(b.shape):
            raise AssertionError(f"{LABEL}: a new θ_EMA has shape {list(e.shape)}, its parameter {list(b.shape)} "
                                 f"({where})")
        if any(e is q for q in params):
            raise AssertionError(f"{LABEL} returned θ's own tensors: the next optimizer step would move the EMA "
                                 "too; return new tensors or update ema_params in place")
        if e.requires_grad:
            raise AssertionError(f"{LABEL}: the EMA tracks gradients (requires_grad): update it under "
                                 "torch.no_grad() or use p.detach(), or every step's graph is kept alive")
    return new, old


@keep_rng
def check_ema_update(fn) -> None:
    """Check ``fn(ema_params, params, decay)``: θ_EMA ← d·θ_EMA + (1 − d)·θ for each pair of tensors (lists of the
    same length, as ``model.parameters()`` gives them), either updating ``ema_params`` in place and returning
    None, or returning the list of new tensors. θ must not change, and the EMA must not track gradients."""
    gen = generator(11)
    for decay, dtype in DECAYS:
        ema = [randn(s, dtype, gen) for s in SHAPES]
        params = [randn(s, dtype, gen).requires_grad_() for s in SHAPES]  # like model.parameters()
        where = f"d = {decay}, {str(dtype).replace('torch.', '')}"
        new, old = _update(fn, ema, params, decay, where)
        # computed in float64, rounded to θ_EMA's dtype: close() then allows that dtype's precision
        ref = [(decay * b.double() + (1 - decay) * p.detach().double()).to(dtype) for b, p in zip(old, params)]
        if all(close(e, r) for e, r in zip(new, ref)):
            if any(e.dtype != dtype for e in new):
                raise AssertionError(f"{LABEL} changed the dtype to {new[0].dtype}: keep θ_EMA's dtype ({where})")
            continue
        for hint, variant in _variants(old, params, decay):
            if all(close(e, v) for e, v in zip(new, variant)) and not all(close(v, r) for v, r in zip(variant, ref)):
                raise AssertionError(f"{LABEL}: {hint} ({where})")
        err = max(float((e.double() - r).abs().max()) for e, r in zip(new, ref))
        raise AssertionError(f"{LABEL}: wrong values ({where}); largest error {err:.3g}; {RULE}")

    # repeated updates towards fixed weights: after k of them, θ_EMA = d^k θ_EMA + (1 − d^k) θ
    d, k = 0.9, 5
    ema = [randn(s, torch.float32, gen) for s in SHAPES]
    params = [randn(s, torch.float32, gen).requires_grad_() for s in SHAPES]
    start = [e.clone() for e in ema]
    for _ in range(k):
        ema, _ = _update(fn, ema, params, d, f"update after update, d = {d}")
    ref = [d**k * b.double() + (1 - d**k) * p.detach().double() for b, p in zip(start, params)]
    if not all(close(e, r) for e, r in zip(ema, ref)):
        raise AssertionError(f"{LABEL}: {k} updates in a row towards fixed θ should give d^{k}·θ_EMA + (1 − d^{k})·θ")
    passed(LABEL, f"{RULE}, d = 0, 0.9, 0.99, 0.999, in place or returned, θ untouched, no gradient")


__all__ = ["check_ema_update"]
