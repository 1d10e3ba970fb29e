"""Checkers for one step of the forward chain (notebook 02) and for x̂_0 from a noise prediction (notebook 03)."""

from __future__ import annotations

from .. import predict_x0_from_eps, q_step
from ._harness import IMAGES, check_per_timestep, coef, images, randn


def _q_step_variants(s, x_prev, t, noise):
    x, e = x_prev.double(), noise.double()
    alpha, beta, abar = coef(s.alphas, t, x), coef(s.betas, t, x), coef(s.alphas_cumprod, t, x)
    early, late = coef(s.betas, t - 1, x), coef(s.betas, (t + 1).clamp(max=s.T - 1), x)
    mix = lambda c0, c1: c0 * x + c1 * e
    return [
        ("ᾱ_t used where α_t belongs: √ᾱ_t x + √(1 − ᾱ_t) ε is the closed form q(x_t | x_0), from the clean image; "
         "one step from x_{t−1} uses α_t = 1 − β_t", mix(abar.sqrt(), (1 - abar).sqrt())),
        ("β_t used where √β_t belongs: ε is scaled by the standard deviation √β_t", mix(alpha.sqrt(), beta)),
        ("1 − β_t used where √(1 − β_t) belongs: x_{t−1} is scaled by √α_t = √(1 − β_t)", mix(alpha, beta.sqrt())),
        ("square roots missing: x_t = √(1 − β_t) x_{t−1} + √β_t ε", mix(alpha, beta)),
        ("the two coefficients are swapped: √(1 − β_t) goes with x_{t−1}, √β_t with ε", mix(beta.sqrt(), alpha.sqrt())),
        ("β read one index early (β_{t−1}, betas[t − 1]): index t's step uses β_t = betas[t]",
         mix((1 - early).sqrt(), early.sqrt())),
        ("β read one index late (β_{t+1}): index t's step uses β_t = betas[t]", mix((1 - late).sqrt(), late.sqrt())),
        ("x_{t−1} is not scaled: without √(1 − β_t) the variance grows by β_t at every step",
         mix(1, beta.sqrt())),
        ("1 − √β_t is not √(1 − β_t)", mix(1 - beta.sqrt(), beta.sqrt())),
        ("the noise term √β_t ε is missing", mix(alpha.sqrt(), 0)),
    ]


def check_q_step(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x_prev, t, noise)`` → x_t = √(1 − β_t) x_{t−1} + √β_t ε against ``helpers.q_step``.

    ``shape``: the batch the check uses, images [B, C, H, W] by default; (B, D) checks points."""
    check_per_timestep(fn, "q_step", 7, dict(x_prev=randn, noise=randn), q_step, _q_step_variants, shape, again=True)


def _x0_variants(s, x_t, t, eps):
    x, e = x_t.double(), eps.double()
    a, alpha, prev = coef(s.alphas_cumprod, t, x), coef(s.alphas, t, x), coef(s.alphas_cumprod_prev, t, x)
    x0 = lambda c_x, c_e, d: (c_x * x - c_e * e) / d
    return [
        ("√(1 − ᾱ_t) and √ᾱ_t swapped: x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t", x0(1, a.sqrt(), (1 - a).sqrt())),
        ("divided by ᾱ_t: divide by its square root, x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t", x0(1, (1 - a).sqrt(), a)),
        ("square roots missing: x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t", x0(1, 1 - a, a)),
        ("1 − ᾱ_t used where √(1 − ᾱ_t) belongs: ε̂ is scaled by the noise's standard deviation",
         x0(1, 1 - a, a.sqrt())),
        ("α_t = 1 − β_t used where ᾱ_t belongs: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε uses the running product "
         "alphas_cumprod[t]", x0(1, (1 - alpha).sqrt(), alpha.sqrt())),
        ("ᾱ_{t−1} used where ᾱ_t belongs: x_t was made with ᾱ_t = alphas_cumprod[t]",
         x0(1, (1 - prev).sqrt(), prev.sqrt())),
        ("sign of the noise term: subtract √(1 − ᾱ_t) ε̂ from x_t", x0(1, -(1 - a).sqrt(), a.sqrt())),
        ("only the noise term is divided by √ᾱ_t: divide the whole difference, (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t",
         x - (1 - a).sqrt() * e / a.sqrt()),
        ("multiplied by √ᾱ_t: divide by it, x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t", a.sqrt() * (x - (1 - a).sqrt() * e)),
        ("that is √ᾱ_t x_t + √(1 − ᾱ_t) ε̂, the forward formula: solve x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for x_0",
         a.sqrt() * x + (1 - a).sqrt() * e),
    ]


def check_predict_x0(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x_t, t, eps)`` → x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t against
    ``helpers.predict_x0_from_eps`` (ε̂ is any prediction, not necessarily the noise x_t was made with)."""
    check_per_timestep(fn, "predict_x0", 8, dict(x_t=images, eps=randn), predict_x0_from_eps, _x0_variants, shape)
