"""Checkers for the notebooks' exercises: ``check_<name>(fn)`` runs your function on random and edge-case inputs
against the reference in ``helpers``, prints a ✓ line when it matches, and otherwise raises AssertionError
naming the likely mistake (it compares your output with the output of each common mistake).

Inputs are small and seeded (the report's schedule, T = 300; t a LongTensor [B] including 0 and T − 1;
float32 and float64), so a check is deterministic and never touches torch's global random state.

| checker | you write |
| --- | --- |
| ``check_alphas_cumprod(fn)`` | ``fn(betas)`` → ᾱ [T] |
| ``check_log_snr(fn)`` | ``fn(alphas_cumprod)`` → log SNR [T] |
| ``check_report_schedule(fn)`` | ``fn(T)`` → the report's β [T] |
| ``check_q_step(fn)`` | ``fn(schedule, x_prev, t, noise)`` → x_t, one step of the chain |
| ``check_q_sample(fn)`` | ``fn(schedule, x0, t, noise)`` → x_t |
| ``check_posterior(fn)`` | ``fn(schedule, x0, x_t, t)`` → ``(mean, variance)`` |
| ``check_predict_x0(fn)`` | ``fn(schedule, x_t, t, eps)`` → x̂_0 |
| ``check_ddpm_step(fn)`` | ``fn(schedule, x_t, t, eps, noise)`` → x_{t−1} |
| ``check_ddpm_mean(fn)`` | ``fn(schedule, x_t, t, eps)`` → Ho et al.'s μ_θ = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t |
| ``check_ddim_step(fn)`` | ``fn(schedule, x_t, t, t_prev, eps, eta, noise)`` → x_{t_prev} |
| ``check_ddim_timesteps(fn)`` | ``fn(T, steps)`` → the trailing sequence τ, a descending LongTensor |
| ``check_cfg(fn)`` | ``fn(eps_uncond, eps_cond, s)`` → ε̂ |
| ``check_timestep_embedding(fn)`` | ``fn(t, dim)`` → [B, dim] |
| ``check_diffusion_loss(fn)`` | ``fn(model, schedule, x0, t, noise)`` → scalar L_simple |
| ``check_training_step(fn)`` | ``fn(model, optimizer, schedule, x0, generator)`` → the loss |
| ``check_ema_update(fn)`` | ``fn(ema_params, params, decay)``: θ_EMA ← d·θ_EMA + (1 − d)·θ, in place or returned |
| ``check_toy_samples(samples, mixture)`` | samples [n, 2] of a ``helpers.toy.GaussianMixture`` |
| ``check_toy_model(model, mixture, schedule)`` | ``model(x_t [n, 2], t)`` → ε̂, sampled with ``ddpm_sample`` |
| ``check_mixture_eps(fn)`` | ``fn(x_t, abar, means, stds, weights)`` → E[ε | x_t] of a Gaussian mixture |
| ``check_toy_training(fn)`` | ``fn(mixture, schedule, generator)`` → a trained ε̂ network, graded by its samples |
| ``check_drop_labels(fn)`` | ``fn(y, p_uncond, null_label, generator)`` → y, each label dropped to ∅ w.p. p_uncond |

The element-wise checkers take ``shape=`` (default images [5, 2, 3, 4]; e.g. ``shape=(6, 2)`` for points).
"""

from ._harness import NOT_IMPLEMENTED
from .ddim import check_ddim_timesteps
from .ddpm import check_ddpm_mean
from .forward import check_predict_x0, check_q_step
from .guidance import check_drop_labels
from .network import check_diffusion_loss, check_timestep_embedding, check_training_step
from .processes import check_posterior, check_q_sample
from .samplers import check_cfg, check_ddim_step, check_ddpm_step
from .schedules import check_alphas_cumprod, check_log_snr, check_report_schedule
from .toy import check_mixture_eps, check_toy_model, check_toy_samples, check_toy_training, energy_distance
from .training import check_ema_update

__all__ = [
    "NOT_IMPLEMENTED", "check_q_sample", "check_posterior", "check_ddpm_step", "check_ddim_step", "check_cfg",
    "check_timestep_embedding", "check_diffusion_loss", "check_training_step", "check_toy_samples",
    "check_toy_model", "energy_distance",
]
__all__ += ["check_mixture_eps", "check_toy_training"]
__all__ += ["check_drop_labels"]
__all__ += ["check_alphas_cumprod", "check_log_snr", "check_report_schedule", "check_q_step", "check_predict_x0"]
__all__ += ["check_ema_update"]
__all__ += ["check_ddim_timesteps"]
__all__ += ["check_ddpm_mean"]
