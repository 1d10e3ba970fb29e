"""Checkers for the forward process (notebook 02) and the posterior (notebook 03)."""

from __future__ import annotations

import torch

from .. import q_posterior_mean_variance, q_sample
from ._harness import (
    CASES,
    IMAGES,
    as_images,
    call,
    check_per_timestep,
    check_tensor,
    coef,
    describe,
    expect,
    generator,
    images,
    keep_rng,
    passed,
    randn,
    schedule,
    timesteps,
)

PREV = "ᾱ_{t−1} used (alphas_cumprod_prev or alphas_cumprod[t − 1]): q(x_t | x_0) needs ᾱ_t = alphas_cumprod[t]"
WRAP = ("ᾱ_{t−1} read as alphas_cumprod[t − 1], which wraps round to ᾱ_{T−1} at t = 0: use "
        "schedule.alphas_cumprod_prev (ᾱ_{−1} = 1)")


def _q_sample_variants(s, x0, t, noise):
    x, e = x0.double(), noise.double()
    a = coef(s.alphas_cumprod, t, x)
    late = coef(s.alphas_cumprod, (t + 1).clamp(max=s.T - 1), x)
    prev, wrap = coef(s.alphas_cumprod_prev, t, x), coef(s.alphas_cumprod, t - 1, x)
    alpha, beta = coef(s.alphas, t, x), coef(s.betas, t, x)
    mix = lambda c0, c1: c0 * x + c1 * e
    return [
        ("1 − ᾱ_t used where √(1 − ᾱ_t) belongs: ε is scaled by the standard deviation, not the variance",
         mix(a.sqrt(), 1 - a)),
        ("ᾱ_t used where √ᾱ_t belongs: x_0 is scaled by √ᾱ_t", mix(a, (1 - a).sqrt())),
        ("square roots missing: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε", mix(a, 1 - a)),
        ("1 − √ᾱ_t is not √(1 − ᾱ_t)", mix(a.sqrt(), 1 - a.sqrt())),
        ("the two coefficients are swapped: √ᾱ_t goes with x_0, √(1 − ᾱ_t) with ε", mix((1 - a).sqrt(), a.sqrt())),
        ("ᾱ read one index late (ᾱ_{t+1}): t is 0-based, use alphas_cumprod[t]", mix(late.sqrt(), (1 - late).sqrt())),
        (PREV, mix(prev.sqrt(), (1 - prev).sqrt())),
        (PREV, mix(wrap.sqrt(), (1 - wrap).sqrt())),
        ("α_t = 1 − β_t used where ᾱ_t belongs: √α_t x + √β_t ε is one step q(x_t | x_{t−1}); the closed form "
         "uses ᾱ_t = alphas_cumprod[t], the running product", mix(alpha.sqrt(), (1 - alpha).sqrt())),
        ("β_t used where 1 − ᾱ_t belongs: the noise coefficient is √(1 − ᾱ_t)", mix(a.sqrt(), beta.sqrt())),
        ("the noise term √(1 − ᾱ_t) ε is missing", mix(a.sqrt(), 0)),
        ("x_0 is not scaled: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε", mix(1, (1 - a).sqrt())),
    ]


def check_q_sample(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x0, t, noise)`` → x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε against ``helpers.q_sample``.

    ``shape``: the batch the check uses, images [B, C, H, W] by default; (B, D) checks points."""
    check_per_timestep(fn, "q_sample", 2, dict(x0=images, noise=randn), q_sample, _q_sample_variants, shape,
                       again=True)


def _posterior(s, x0, x_t, t, prev="prev", sqrt_alpha=True, sqrt_prev=True):
    """(μ̃_t, β̃_t) in float64, with ᾱ_{t−1} taken as ``prev``: "prev" (right), "same" (ᾱ_t) or "wrap"."""
    x0, x_t = x0.double(), x_t.double()
    a, alpha, beta = (coef(table, t, x0) for table in (s.alphas_cumprod, s.alphas, s.betas))
    ap = {"prev": coef(s.alphas_cumprod_prev, t, x0), "same": a, "wrap": coef(s.alphas_cumprod, t - 1, x0)}[prev]
    c1 = beta * (ap.sqrt() if sqrt_prev else ap) / (1 - a)
    c2 = (1 - ap) * (alpha.sqrt() if sqrt_alpha else alpha) / (1 - a)
    return c1 * x0 + c2 * x_t, (1 - ap) / (1 - a) * beta, (c1, c2)


def _posterior_variants(s, x0, x_t, t, shape):
    mean, var, (c1, c2) = _posterior(s, x0, x_t, t)
    same, wrap = _posterior(s, x0, x_t, t, "same"), _posterior(s, x0, x_t, t, "wrap")
    means = [
        ("coef1 and coef2 swapped: μ̃_t = coef1·x_0 + coef2·x_t with coef1 = β_t √ᾱ_{t−1}/(1 − ᾱ_t)",
         c2 * x0.double() + c1 * x_t.double()),
        ("ᾱ_t used where ᾱ_{t−1} belongs (schedule.alphas_cumprod_prev)", same[0]),
        (WRAP, wrap[0]),
        ("α_t used where √α_t belongs: coef2 = (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t)",
         _posterior(s, x0, x_t, t, sqrt_alpha=False)[0]),
        ("ᾱ_{t−1} used where √ᾱ_{t−1} belongs: coef1 = β_t √ᾱ_{t−1}/(1 − ᾱ_t)",
         _posterior(s, x0, x_t, t, sqrt_prev=False)[0]),
        ("returned (variance, mean): return (mean, variance)", var.expand(shape)),
    ]
    beta = coef(s.betas, t, x0.double())
    variances = [
        ("β_t is the forward variance; the posterior's is β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t "
         "(or ᾱ_t used where ᾱ_{t−1} belongs)", beta.expand(shape)),
        ("that is the standard deviation √β̃_t: return the variance β̃_t", var.sqrt().expand(shape)),
        ("that is log β̃_t: return β̃_t itself", coef(s.posterior_log_variance_clipped, t, var).expand(shape)),
        (WRAP, wrap[1].expand(shape)),
        ("returned (variance, mean): return (mean, variance)", mean),
    ]
    return means, variances


@keep_rng
def check_posterior(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x0, x_t, t)`` → ``(mean, variance)`` of q(x_{t−1} | x_t, x_0) against
    ``helpers.q_posterior_mean_variance``; the variance β̃_t may be [B, 1, 1, 1] or x's shape."""
    s, gen = schedule(), generator(3)
    label = "posterior"
    for dtype, edges in CASES:
        x0 = images(shape, dtype, gen)
        t = timesteps(shape[0], s.T, gen, edges)
        x_t = q_sample(s, as_images(x0), t, as_images(randn(shape, dtype, gen))).reshape(shape)
        out = call(fn, label, dict(schedule=s, x0=x0, x_t=x_t, t=t))
        if not isinstance(out, (tuple, list)) or len(out) not in (2, 3):
            raise AssertionError(f"{label} should return a tuple (mean, variance), got {type(out).__name__}")
        mean, var = out[0], out[1]
        where = describe(x0, t=t)
        if isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor) and tuple(var.shape) == tuple(shape) \
                and tuple(mean.shape) != tuple(shape):
            raise AssertionError(f"{label} returned (variance, mean): return (mean, variance)")
        ref_mean, ref_var, _ = q_posterior_mean_variance(s, as_images(x0), as_images(x_t), t)
        ref_mean, ref_var = ref_mean.reshape(shape), ref_var.reshape(-1, *([1] * (len(shape) - 1)))
        means, variances = _posterior_variants(s, x0, x_t, t, shape)
        expect(mean, ref_mean, means, f"{label} mean μ̃_t", where)
        var = check_tensor(var, shape, f"{label} variance", where, broadcast=True)
        expect(var, ref_var.expand(shape), variances, f"{label} variance β̃_t", where)
    passed("posterior", "μ̃_t and β̃_t, float32 and float64, t from 0 to T−1")
