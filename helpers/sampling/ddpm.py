"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2): x_{t−1} ~ N(μ̃_t(x̂_0, x_t), σ_t² I), t = T−1 … 0."""

from __future__ import annotations

import torch

from .._checks import check_inputs
from ..forward import noise_like
from ..posterior import predict_x0_from_eps, q_posterior_mean_variance
from ..schedules import DiffusionSchedule
from ._loop import run_steps
from .guidance import cfg_eps

VARIANCES = ("posterior", "beta")


def ddpm_step(schedule: DiffusionSchedule, x_t: torch.Tensor, t, eps: torch.Tensor, noise: torch.Tensor | None = None,
              clip_x0: bool = True, variance: str = "posterior", generator: torch.Generator | None = None,
              return_x0: bool = False):
    """One ancestral step x_t → x_{t−1} ~ N(μ̃_t(x̂_0, x_t), σ_t² I):

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t  (clipped to [−1, 1] if ``clip_x0``),
    μ̃_t = β_t √ᾱ_{t−1}/(1−ᾱ_t) · x̂_0 + (1−ᾱ_{t−1}) √α_t/(1−ᾱ_t) · x_t,
    x_{t−1} = μ̃_t + σ_t z,  z ~ N(0, I),  σ_t² = β̃_t (``variance="posterior"``, "fixed small", the
    report's) or β_t (``"beta"``, "fixed large"); σ = 0 where t = 0, so the last step returns μ̃_0.

    x_t: any batch [B, …]; ``t``: an int or a LongTensor [B] (per example). ``noise`` (z) is drawn with
    ``generator`` if not given. With ``return_x0=True`` returns ``(x_{t−1}, x̂_0)``.
    """
    t = check_inputs(x_t, "x_t", T=schedule.T, t=t, like={"eps": eps, "noise": noise},
                     choices={"variance": (variance, VARIANCES)})
    # 1. x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, clipped to the data range
    x0_hat = predict_x0_from_eps(schedule, x_t, t, eps)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    # 2. μ̃_t(x̂_0, x_t), the mean of the posterior q(x_{t−1} | x_t, x̂_0)
    x_prev, _, _ = q_posterior_mean_variance(schedule, x0_hat, x_t, t)
    # 3. x_{t−1} = μ̃_t + σ_t z, σ_t² = β̃_t or β_t, and σ_0 = 0: the step at t = 0 adds no noise
    if bool((t > 0).any()):  # z drawn only when some example needs it, as diffusers does
        variances = schedule.posterior_variance if variance == "posterior" else schedule.betas
        sigma = schedule.gather(variances.sqrt() * (torch.arange(schedule.T) > 0), t, x_t)
        x_prev = x_prev + sigma * (noise_like(x_t, generator) if noise is None else noise)
    return (x_prev, x0_hat) if return_x0 else x_prev


def ddpm_sample(model, schedule: DiffusionSchedule, x_T: torch.Tensor, y=None, guidance_scale: float = 1.0,
                clip_x0: bool = True, variance: str = "posterior", generator: torch.Generator | None = None,
                return_trajectory: bool = False, progress: bool = False, trajectory_every: int = 1):
    """Ancestral sampling: x_{T−1} = ``x_T`` ~ N(0, I), then ``ddpm_step`` for t = T−1, …, 0 (T model calls).

    x_T: any batch [B, …] the model takes. ε̂ comes from ``cfg_eps(model, x_t, t, y, guidance_scale)``.
    Returns x_0, or with ``return_trajectory=True`` ``(x_0, trajectory)``: a dict of CPU tensors ``"t"``
    [K] (the index of each recorded step), ``"t_prev"`` [K] (t − 1), ``"x_t"`` [K, B, …] (the step's
    input) and ``"x0_hat"`` [K, B, …] (its prediction of x_0, clipped when ``clip_x0``).
    ``trajectory_every=k`` keeps every k-th step and the last (K = T when k = 1).
    """
    y, s = check_inputs(x_T, "x_T", model=model, y=y, guidance_scale=guidance_scale,
                        choices={"variance": (variance, VARIANCES)})

    def step(x_t, t, t_prev):
        eps = cfg_eps(model, x_t, t, y, s)  # 1. ε̂ = ε_θ(x_t, t, y), guided
        return ddpm_step(schedule, x_t, t, eps, clip_x0=clip_x0, variance=variance,  # 2. x_{t−1}
                         generator=generator, return_x0=True)

    pairs = [(t, t - 1) for t in range(schedule.T - 1, -1, -1)]
    return run_steps(x_T, pairs, step, "DDPM", progress, return_trajectory, trajectory_every)
