"""DDIM inversion: the deterministic (η = 0) DDIM ODE run forwards, from an image x_0 to its noise x_T."""

from __future__ import annotations

import torch

from .._checks import check_inputs, check_int
from ..forward import q_sample
from ..posterior import predict_x0_from_eps
from ..schedules import DiffusionSchedule
from ._loop import run_steps
from .guidance import cfg_eps
from .timesteps import timestep_pairs


def ddim_invert_step(schedule: DiffusionSchedule, x: torch.Tensor, t_from: int, t: int, eps: torch.Tensor):
    """One step up the DDIM ODE from index t_from to t with the same ε̂; returns (x_t, x̂_0):

    x̂_0 = (x − √(1−ᾱ_from) ε̂)/√ᾱ_from  (at t_from = −1, ᾱ = 1: x̂_0 = x),   x_t = √ᾱ_t x̂_0 + √(1−ᾱ_t) ε̂.
    """
    t_from = check_int(t_from, "t_from", -1, schedule.T - 1)  # −1: x is x̂_0 itself; t is checked by q_sample
    x0_hat = x if t_from < 0 else predict_x0_from_eps(schedule, x, t_from, eps)
    return q_sample(schedule, x0_hat, t, eps), x0_hat


def ddim_invert(model, schedule: DiffusionSchedule, x0: torch.Tensor, steps: int = 50, spacing: str = "trailing",
                y=None, guidance_scale: float = 1.0, final_alpha_one: bool | None = None,
                fixed_point_iters: int = 0, return_trajectory: bool = False, progress: bool = False):
    """DDIM inversion: the η = 0 ODE run forwards, x_0 → x_{τ_1} → … → x_{τ_K} ≈ x_T, no clipping.

    Each step reverses one ``ddim_step`` of ``ddim_sample`` with the same arguments:
    x_τ = √ᾱ_τ x̂_0 + √(1−ᾱ_τ) ε̂,  x̂_0 = (x_s − √(1−ᾱ_s) ε̂)/√ᾱ_s,  s the previous (lower) index
    (−1, ᾱ = 1, at the start). ε̂ = ε_θ(x_s, τ) is taken at the point we stand on but with the target's
    timestep, as diffusers' ``DDIMInverseScheduler`` does: the true ε_θ(x_τ, τ) is unknown until we get there.
    Exact when ε̂ is constant along the path; otherwise the round trip x_0 → x_T → x_0 errs by O(1/steps).

    ``fixed_point_iters=k`` refines each step k times with ε̂ = ε_θ(x_τ, τ) at the current guess of x_τ
    (k more model calls per step): the fixed point is the exact inverse of the sampler's step, so the
    round trip through ``ddim_sample(..., eta=0, clip_x0=False)`` returns x_0 up to the iteration's error.
    ``final_alpha_one`` as in ``ddim_sample``: pass the same value (and steps, spacing) to both.
    x0: any batch [B, …] the model takes. The trajectory's ``"t"`` holds each step's target τ, ``"t_prev"``
    the index it starts from.
    """
    y, scale = check_inputs(x0, "x0", model=model, y=y, guidance_scale=guidance_scale)
    fixed_point_iters = check_int(fixed_point_iters, "fixed_point_iters", 0, 1000)

    def step(x_s, tau, s):
        # 1. ε̂ = ε_θ(x_s, τ): where we stand, with the target's timestep
        eps = cfg_eps(model, x_s, tau, y, scale)
        # 2. x̂_0 = (x_s − √(1−ᾱ_s) ε̂)/√ᾱ_s, then x_τ = √ᾱ_τ x̂_0 + √(1−ᾱ_τ) ε̂ (q_sample with noise ε̂)
        x_tau, x0_hat = ddim_invert_step(schedule, x_s, s, tau, eps)
        # 3. (optional) fixed-point refinement: ε̂ = ε_θ(x_τ, τ) at the current guess of x_τ
        for _ in range(fixed_point_iters):
            x_tau, x0_hat = ddim_invert_step(schedule, x_s, s, tau, cfg_eps(model, x_tau, tau, y, scale))
        return x_tau, x0_hat

    pairs = timestep_pairs(schedule, steps, spacing, final_alpha_one)[::-1]  # (τ_i, τ_{i+1}), lowest first
    return run_steps(x0, pairs, step, "DDIM inversion", progress, return_trajectory)
