"""The forward (noising) process q(x_t | x_0) and the Markov chain it shortcuts.

x is any batch [B, …] (points [B, D], images [B, C, H, W]); the coefficients at t are one number per
example, broadcast over the other dims.
"""

from __future__ import annotations

import torch

from ._checks import check_inputs
from .schedules import DiffusionSchedule


def noise_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """ε ~ N(0, I) of x's shape, dtype and device. As diffusers' ``randn_tensor``, a CPU generator draws on
    the CPU and the result is moved, so a seed gives the same numbers on any device."""
    device = x.device if generator is None else generator.device
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)


def q_sample(schedule: DiffusionSchedule, x0: torch.Tensor, t, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,  ε ~ N(0, I)   (closed form of q(x_t | x_0))."""
    t = check_inputs(x0, "x0", T=schedule.T, t=t, like={"noise": noise})
    eps = noise_like(x0, generator) if noise is None else noise
    return (schedule.gather(schedule.sqrt_alphas_cumprod, t, x0) * x0
            + schedule.gather(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * eps)


def q_step(schedule: DiffusionSchedule, x_prev: torch.Tensor, t, noise: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of the chain: x_t = √(1 − β_t) · x_{t−1} + √β_t · ε   (q(x_t | x_{t−1}))."""
    t = check_inputs(x_prev, "x_prev", T=schedule.T, t=t, like={"noise": noise})
    eps = noise_like(x_prev, generator) if noise is None else noise
    return (schedule.gather(schedule.alphas.sqrt(), t, x_prev) * x_prev
            + schedule.gather(schedule.betas.sqrt(), t, x_prev) * eps)


def q_sample_chain(schedule: DiffusionSchedule, x0: torch.Tensor, t,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """x_t by applying ``q_step`` t+1 times from x_0 (steps 0, 1, …, t): slow, for comparison."""
    t = check_inputs(x0, "x0", T=schedule.T, t=t)
    x = x0.clone()
    out = torch.empty_like(x0)
    for i in range(int(t.max()) + 1):
        x = q_step(schedule, x, i, generator=generator)
        done = t == i
        out[done] = x[done]
    return out
