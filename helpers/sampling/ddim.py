"""DDIM (Song et al. 2021): the η-family of samplers on a sub-sequence τ of the training indices."""

from __future__ import annotations

import torch

from .._checks import check_inputs, check_real
from ..forward import noise_like
from ..posterior import predict_eps_from_x0, predict_x0_from_eps
from ..schedules import DiffusionSchedule
from ._loop import run_steps
from .guidance import cfg_eps
from .timesteps import timestep_pairs


def check_ddim_step_inputs(schedule: DiffusionSchedule, x_t, t, t_prev, eps, eta, noise):
    """The checks of ``ddim_step``, returning (t, t_prev, eta): shapes and indices as ``check_inputs`` (t_prev may be
    −1), η ≥ 0, and for η > 0 a denoising step (t_prev ≤ t) whose σ_t² ≤ 1 − ᾱ_prev (true for 0 ≤ η ≤ 1)."""
    t, t_prev = check_inputs(x_t, "x_t", T=schedule.T, t=t, t_prev=t_prev, like={"eps": eps, "noise": noise})
    eta = check_real(eta, "eta", minimum=0.0)
    if eta > 0:
        if bool((t_prev > t).any()):
            raise ValueError("eta > 0 needs t_prev <= t (a noising step has no σ_t); use eta=0 to step forwards")
        f64 = torch.empty(0, dtype=torch.float64)
        a_t, a_prev = (schedule.gather(schedule.alphas_cumprod_padded, i, f64) for i in (t, t_prev))
        if bool((1 - a_prev - eta**2 * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev) < -1e-12).any()):
            raise ValueError(f"eta={eta} is too large for this step: 1 − ᾱ_prev − σ_t² < 0; use 0 <= eta <= 1")
    return t, t_prev, eta


def ddim_step(schedule: DiffusionSchedule, x_t: torch.Tensor, t, t_prev, eps: torch.Tensor, eta: float = 0.0,
              noise: torch.Tensor | None = None, clip_x0: bool = True, generator: torch.Generator | None = None,
              recompute_eps: bool = True, return_x0: bool = False):
    """One DDIM step x_t → x_{t_prev} (Song et al. 2021, eq. 12) with t_prev < t; ``t_prev=-1`` means ᾱ = 1:

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t  (clipped to [−1, 1] if ``clip_x0``),
    σ_t = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev),
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_t²) ε̂ + σ_t z,  z ~ N(0, I).

    η = 0 is the deterministic DDIM (an ODE step); η = 1 with t_prev = t − 1 is exactly the DDPM step with
    the posterior variance β̃_t. With η = 0, t_prev > t is allowed too: the ODE run forwards, one step of
    ``ddim_invert``. x_t: any batch [B, …]; ``t``, ``t_prev``: ints or LongTensors [B]. ``noise`` (z) is
    drawn with ``generator`` only when η > 0. With ``return_x0=True`` returns ``(x_prev, x̂_0)``.

    With ``clip_x0``, the direction term uses ε̂ re-derived from the clipped x̂_0,
    ε̂ ← (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t), so that x̂_0 and ε̂ still add up to x_t (``recompute_eps=True``, the
    default; OpenAI's guided-diffusion/GLIDE, diffusers' ``use_clipped_model_output=True``). This is also
    what DDPM's clipped posterior mean does, so η = 1 over all T stays the DDPM step. ``recompute_eps=False``
    keeps the model's ε̂ (diffusers' default): under guidance the unclipped ε̂ pushes pixels past the
    clip at every step and samples wash out (README: Conventions, "x̂_0 clipping"; notebook 08, section 6).
    """
    t, t_prev, eta = check_ddim_step_inputs(schedule, x_t, t, t_prev, eps, eta, noise)
    # 1. x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, the "predicted x_0" of eq. 12; clipped, then ε̂ re-derived from it
    x0_hat = predict_x0_from_eps(schedule, x_t, t, eps)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        if recompute_eps:
            eps = predict_eps_from_x0(schedule, x_t, t, x0_hat)
    # 2. σ_t² = η² (1−ᾱ_prev)/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ_prev)   (eq. 16); ᾱ_prev = 1 at t_prev = −1
    a_t = schedule.gather(schedule.alphas_cumprod_padded, t, x_t)
    a_prev = schedule.gather(schedule.alphas_cumprod_padded, t_prev, x_t)
    sigma2 = eta**2 * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    # 3. x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_t²) ε̂ + σ_t z   (eq. 12; the clamp only absorbs rounding)
    x_prev = a_prev.sqrt() * x0_hat + (1 - a_prev - sigma2).clamp(min=0).sqrt() * eps
    if eta > 0:
        x_prev = x_prev + sigma2.sqrt() * (noise_like(x_t, generator) if noise is None else noise)
    return (x_prev, x0_hat) if return_x0 else x_prev


def ddim_sample(model, schedule: DiffusionSchedule, x_T: torch.Tensor, steps: int = 50, eta: float = 0.0,
                spacing: str = "trailing", y=None, guidance_scale: float = 1.0, clip_x0: bool = True,
                generator: torch.Generator | None = None, return_trajectory: bool = False, progress: bool = False,
                final_alpha_one: bool | None = None, recompute_eps: bool = True, trajectory_every: int = 1):
    """DDIM sampling along τ = ``ddim_timesteps(T, steps, spacing)``: ``ddim_step`` from each τ_i to τ_{i+1}.

    After the last entry the step goes to t_prev = −1 (ᾱ = 1), so x_0 = x̂_0 carries no leftover
    noise (diffusers' ``set_alpha_to_one=True``). ``spacing="report"`` reproduces the report instead:
    its last step lands on index 0, ᾱ_0 < 1, leaving √(1−ᾱ_0) ε̂ of noise in the image.
    ``final_alpha_one`` overrides this (None: True except for ``"report"``; False: end at index 0, as
    diffusers' ``set_alpha_to_one=False``).

    η = 0 is deterministic given x_T; η = 1 with steps = T is DDPM with the posterior variance.
    x_T: any batch [B, …] the model takes. ε̂ comes from ``cfg_eps``; ``clip_x0``/``recompute_eps`` as in
    ``ddim_step``. ``return_trajectory``/``trajectory_every`` as in ``ddpm_sample`` (K = number of steps).
    """
    y, s = check_inputs(x_T, "x_T", model=model, y=y, guidance_scale=guidance_scale)
    eta = check_real(eta, "eta", minimum=0.0)

    def step(x_t, t, t_prev):
        eps = cfg_eps(model, x_t, t, y, s)  # 1. ε̂ = ε_θ(x_t, τ_i, y), guided
        return ddim_step(schedule, x_t, t, t_prev, eps, eta=eta, clip_x0=clip_x0,  # 2. x_{τ_{i+1}}, eq. 12
                         generator=generator, recompute_eps=recompute_eps, return_x0=True)

    pairs = timestep_pairs(schedule, steps, spacing, final_alpha_one)
    return run_steps(x_T, pairs, step, "DDIM", progress, return_trajectory, trajectory_every)
