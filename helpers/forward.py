"""The forward (noising) process q(x_t | x_0) and the Markov chain it shortcuts."""

from __future__ import annotations

import torch

from ._checks import check_image_batch, check_same_shape, check_timesteps
from .schedules import DiffusionSchedule


def q_sample(schedule: DiffusionSchedule, x0: torch.Tensor, t, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,  ε ~ N(0, I)   (closed form of q(x_t | x_0))."""
    check_image_batch(x0, "x0")
    t = check_timesteps(t, schedule.T, x0.shape[0])
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    check_same_shape(x0, noise, "x0", "noise")
    return (schedule.gather(schedule.sqrt_alphas_cumprod, t, x0) * x0
            + schedule.gather(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * noise)


def q_step(schedule: DiffusionSchedule, x_prev: torch.Tensor, t, noise: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of the chain: x_t = √(1 − β_t) · x_{t−1} + √β_t · ε   (q(x_t | x_{t−1}))."""
    check_image_batch(x_prev, "x_prev")
    t = check_timesteps(t, schedule.T, x_prev.shape[0])
    if noise is None:
        noise = torch.randn(x_prev.shape, generator=generator, dtype=x_prev.dtype, device=x_prev.device)
    check_same_shape(x_prev, noise, "x_prev", "noise")
    return (schedule.gather(schedule.alphas.sqrt(), t, x_prev) * x_prev
            + schedule.gather(schedule.betas.sqrt(), t, x_prev) * noise)


def q_sample_chain(schedule: DiffusionSchedule, x0: torch.Tensor, t,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """x_t by applying ``q_step`` t+1 times from x_0 (steps 0, 1, …, t): slow, for comparison."""
    check_image_batch(x0, "x0")
    t = check_timesteps(t, schedule.T, x0.shape[0])
    x = x0.clone()
    out = torch.empty_like(x0)
    for s in range(int(t.max()) + 1):
        x = q_step(schedule, x, s, generator=generator)
        done = t == s
        out[done] = x[done]
    return out
