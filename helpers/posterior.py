"""The posterior q(x_{t−1} | x_t, x_0) and x̂_0 from a noise prediction.

x is any batch [B, …] (points [B, D], images [B, C, H, W]); coefficients broadcast over the dims after B.
"""

from __future__ import annotations

import torch

from ._checks import check_inputs
from .schedules import DiffusionSchedule


def q_posterior_mean_variance(schedule: DiffusionSchedule, x0: torch.Tensor, x_t: torch.Tensor, t):
    """q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) with
    μ̃_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t,
    β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t.

    Returns ``(mean, variance, log_variance)``; the variances have shape [B, 1, …, 1] (x_t's number of
    dims) and the log-variance is clipped at t=0 (where β̃_0 = 0) to log β̃_1.
    """
    t = check_inputs(x_t, "x_t", T=schedule.T, t=t, like={"x0": x0})
    mean = (schedule.gather(schedule.posterior_mean_coef1, t, x_t) * x0
            + schedule.gather(schedule.posterior_mean_coef2, t, x_t) * x_t)
    variance = schedule.gather(schedule.posterior_variance, t, x_t)
    log_variance = schedule.gather(schedule.posterior_log_variance_clipped, t, x_t)
    return mean, variance, log_variance


def predict_x0_from_eps(schedule: DiffusionSchedule, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t   (q_sample solved for x_0)."""
    t = check_inputs(x_t, "x_t", T=schedule.T, t=t, like={"eps": eps})
    return (schedule.gather(schedule.sqrt_recip_alphas_cumprod, t, x_t) * x_t
            - schedule.gather(schedule.sqrt_recipm1_alphas_cumprod, t, x_t) * eps)


def predict_eps_from_x0(schedule: DiffusionSchedule, x_t: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
    """ε̂ = (x_t − √ᾱ_t · x̂_0) / √(1 − ᾱ_t)   (the inverse of ``predict_x0_from_eps``)."""
    t = check_inputs(x_t, "x_t", T=schedule.T, t=t, like={"x0": x0})
    return ((schedule.gather(schedule.sqrt_recip_alphas_cumprod, t, x_t) * x_t - x0)
            / schedule.gather(schedule.sqrt_recipm1_alphas_cumprod, t, x_t))
