"""The probability-flow ODE (Song et al. 2021; Karras et al. 2022), solved with Euler or Heun steps."""

from __future__ import annotations

import torch

from .._checks import check_inputs
from ..posterior import predict_eps_from_x0, predict_x0_from_eps
from ..schedules import DiffusionSchedule
from ._loop import run_steps
from .guidance import cfg_eps
from .timesteps import timestep_pairs

METHODS = ("euler", "heun")


def ode_sample(model, schedule: DiffusionSchedule, x_T: torch.Tensor, steps: int = 50, method: str = "euler",
               spacing: str = "trailing", clip_x0: bool = False, y=None, guidance_scale: float = 1.0,
               generator: torch.Generator | None = None, return_trajectory: bool = False, progress: bool = False,
               trajectory_every: int = 1):
    """Solve the probability-flow ODE in Karras et al.'s (2022) variables from σ_max down to σ = 0:

    σ_t = √((1−ᾱ_t)/ᾱ_t),  z = x/√ᾱ_t,  dz/dσ = ε̂(x, t)      (under q, z = x_0 + σ ε).

    Steps go along τ = ``ddim_timesteps(T, steps, spacing)`` (``"karras"`` spacing: uniform in σ^{1/ρ})
    and, after the last entry, to σ = 0 (t_prev = −1, ᾱ = 1), as ``ddim_sample`` does. From σ = σ_{τ_i}
    to σ' = σ_{τ_{i+1}}:

    - ``"euler"``: z' = z + (σ' − σ) ε̂(x, τ_i). This IS DDIM with η = 0: with ``clip_x0=False`` it equals
      ``ddim_sample(..., eta=0, clip_x0=False)``. One model call per step; error O(1/steps).
    - ``"heun"`` (Karras et al., Algorithm 1 without churn): the Euler z' as a predictor, then
      d' = ε̂(√ᾱ' z', τ_{i+1}) and z' = z + (σ' − σ)(d + d')/2. The last step, into σ' = 0, stays Euler
      (ε̂ has no value at σ = 0). 2·K − 1 model calls for the K entries of τ (2·steps − 1; ``"karras"``
      spacing can hold fewer entries than ``steps``); error O(1/steps²).

    ``clip_x0``: each slope ε̂ is re-derived from the clipped x̂_0 (as ``ddim_step``'s ``recompute_eps``).
    ε̂ comes from ``cfg_eps(model, x, t, y, guidance_scale)``. ``generator`` is unused (the ODE is
    deterministic) and accepted so that the samplers are interchangeable. x_T: any batch [B, …] the model
    takes. Returns x_0, or ``(x_0, trajectory)`` as ``ddpm_sample`` (x̂_0 from each step's first ε̂).
    """
    y, s = check_inputs(x_T, "x_T", model=model, y=y, guidance_scale=guidance_scale,
                        choices={"method": (method, METHODS)})

    def slope(x, t):
        """dz/dσ = ε̂(x, t) and x̂_0; with ``clip_x0``, ε̂ ← (x − √ᾱ_t clip(x̂_0))/√(1−ᾱ_t)."""
        eps = cfg_eps(model, x, t, y, s)
        x0_hat = predict_x0_from_eps(schedule, x, t, eps)
        if clip_x0:
            x0_hat = x0_hat.clamp(-1.0, 1.0)
            eps = predict_eps_from_x0(schedule, x, t, x0_hat)
        return eps, x0_hat

    def step(x, t, t_prev):
        # 1. σ = √((1−ᾱ)/ᾱ) at both ends (σ' = 0 where t_prev = −1, ᾱ = 1), and z = x/√ᾱ_t
        a = schedule.gather(schedule.alphas_cumprod_padded, t, x)
        a_prev = schedule.gather(schedule.alphas_cumprod_padded, t_prev, x)
        sigma, sigma_prev = ((1 - a) / a).sqrt(), ((1 - a_prev) / a_prev).sqrt()
        z = x / a.sqrt()
        # 2. Euler: z' = z + (σ' − σ) d,  d = ε̂(x, t)
        d, x0_hat = slope(x, t)
        z_prev = z + (sigma_prev - sigma) * d
        # 3. Heun, except into σ' = 0: d' = ε̂(√ᾱ' z', t'),  z' = z + (σ' − σ)(d + d')/2
        if method == "heun" and t_prev >= 0:
            d_prev, _ = slope(a_prev.sqrt() * z_prev, t_prev)
            z_prev = z + (sigma_prev - sigma) * (d + d_prev) / 2
        # 4. x' = √ᾱ' z'
        return a_prev.sqrt() * z_prev, x0_hat

    pairs = timestep_pairs(schedule, steps, spacing, final_alpha_one=True)
    return run_steps(x_T, pairs, step, f"ODE ({method})", progress, return_trajectory, trajectory_every)
