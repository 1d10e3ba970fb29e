"""Checker for notebook 06's second exercise: Ho et al.'s ε-form of the DDPM mean, which is μ̃_t(x̂_0, x_t) of
the posterior with the unclipped x̂_0 substituted (Ho et al. 2020, eq. 11):

    μ_θ(x_t, t) = (x_t − β_t/√(1 − ᾱ_t) · ε̂) / √α_t,   α_t = 1 − β_t.
"""

from __future__ import annotations

import torch

from .. import ddpm_step
from ._harness import IMAGES, check_per_timestep, coef, randn

FORM = "μ_θ = (x_t − β_t/√(1 − ᾱ_t) · ε̂)/√α_t"


def _mean(s, x_t, t, eps, root=lambda a: a.sqrt(), noise_coef=None, outer=None, sign=-1.0):
    """The ε-form mean in float64 with one part changed: ``noise_coef(beta, abar)`` is the factor on ε̂,
    ``outer(alpha, abar)`` multiplies the bracket (right: 1/√α_t)."""
    x, e = x_t.double(), eps.double()
    beta, abar = coef(s.betas, t, x), coef(s.alphas_cumprod, t, x)
    alpha = 1 - beta
    c = beta / root(1 - abar) if noise_coef is None else noise_coef(beta, abar)
    o = 1 / alpha.sqrt() if outer is None else outer(alpha, abar)
    return o * (x + sign * c * e)


def _mean_variants(s, x_t, t, eps):
    abar = coef(s.alphas_cumprod, t, x_t.double())
    x0_hat = (x_t.double() - (1 - abar).sqrt() * eps.double()) / abar.sqrt()
    return [
        (f"divided by √ᾱ_t where √α_t belongs (α_t = 1 − β_t, one step, not the running product): {FORM}",
         _mean(s, x_t, t, eps, outer=lambda alpha, abar: 1 / abar.sqrt())),
        (f"multiplied by √α_t: the bracket is divided by √α_t, {FORM}",
         _mean(s, x_t, t, eps, outer=lambda alpha, abar: alpha.sqrt())),
        (f"the factor 1/√α_t is missing: {FORM}", _mean(s, x_t, t, eps, outer=lambda alpha, abar: 1.0)),
        (f"1 − ᾱ_t used where √(1 − ᾱ_t) belongs in the noise coefficient: {FORM}",
         _mean(s, x_t, t, eps, root=lambda v: v)),
        (f"√β_t used where β_t belongs in the noise coefficient: {FORM}",
         _mean(s, x_t, t, eps, noise_coef=lambda beta, abar: beta.sqrt() / (1 - abar).sqrt())),
        (f"√(1 − ᾱ_t) ε̂ subtracted (that gives x̂_0's numerator); the mean removes only β_t/√(1 − ᾱ_t) ε̂: {FORM}",
         _mean(s, x_t, t, eps, noise_coef=lambda beta, abar: (1 - abar).sqrt())),
        (f"ε̂ added: the mean subtracts the predicted noise, {FORM}", _mean(s, x_t, t, eps, sign=1.0)),
        ("returned x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t: the mean of the step is " + FORM, x0_hat),
    ]


def _reference(s, x_t, t, eps):
    """The other way round, through x̂_0 and the posterior mean, in float64."""
    x64, e64 = x_t.double(), eps.double()
    return ddpm_step(s, x64, t, e64, noise=torch.zeros_like(x64), clip_x0=False).to(x_t.dtype)


def check_ddpm_mean(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x_t, t, eps)`` → μ_θ(x_t, t) = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t against
    ``helpers.ddpm_step(schedule, x_t, t, eps, clip_x0=False, noise=0)``, i.e. μ̃_t(x̂_0, x_t) with the
    unclipped x̂_0: the two forms must agree at every t, 0 and T − 1 included."""
    check_per_timestep(fn, "ddpm_mean", 7, dict(x_t=randn, eps=randn), _reference, _mean_variants, shape,
                       detail="equals μ̃_t(x̂_0, x_t) with x̂_0 unclipped, float32 and float64, t from 0 to T−1")
