"""Checkers for the notebooks' exercises: ``check_<name>(fn)`` runs your function on random and edge-case inputs
against the reference in ``helpers``, prints a ✓ line when it matches, and otherwise raises AssertionError
naming the likely mistake (it compares your output with the output of each common mistake).

Inputs are small and seeded (the report's schedule, T = 300; t a LongTensor [B] including 0 and T − 1;
float32 and float64), so a check is deterministic and never touches torch's global random state.

| checker | you write |
| --- | --- |
| ``check_q_sample(fn)`` | ``fn(schedule, x0, t, noise)`` → x_t |
| ``check_posterior(fn)`` | ``fn(schedule, x0, x_t, t)`` → ``(mean, variance)`` |
| ``check_ddpm_step(fn)`` | ``fn(schedule, x_t, t, eps, noise)`` → x_{t−1} |
| ``check_ddim_step(fn)`` | ``fn(schedule, x_t, t, t_prev, eps, eta, noise)`` → x_{t_prev} |
| ``check_cfg(fn)`` | ``fn(eps_uncond, eps_cond, s)`` → ε̂ |
| ``check_timestep_embedding(fn)`` | ``fn(t, dim)`` → [B, dim] |
| ``check_diffusion_loss(fn)`` | ``fn(model, schedule, x0, t, noise)`` → scalar L_simple |
| ``check_training_step(fn)`` | ``fn(model, optimizer, schedule, x0, generator)`` → the loss |
| ``check_toy_samples(samples, mixture)`` | samples [n, 2] of a ``helpers.toy.GaussianMixture`` |
| ``check_toy_model(model, mixture, schedule)`` | ``model(x_t [n, 2], t)`` → ε̂, sampled with ``ddpm_sample`` |

The element-wise checkers take ``shape=`` (default images [5, 2, 3, 4]; e.g. ``shape=(6, 2)`` for points).
"""

from ._harness import NOT_IMPLEMENTED
from .network import check_diffusion_loss, check_timestep_embedding, check_training_step
from .processes import check_posterior, check_q_sample
from .samplers import check_cfg, check_ddim_step, check_ddpm_step
from .toy import check_toy_model, check_toy_samples, energy_distance

__all__ = [
    "NOT_IMPLEMENTED", "check_q_sample", "check_posterior", "check_ddpm_step", "check_ddim_step", "check_cfg",
    "check_timestep_embedding", "check_diffusion_loss", "check_training_step", "check_toy_samples",
    "check_toy_model", "energy_distance",
]
