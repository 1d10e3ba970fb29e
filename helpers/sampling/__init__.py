"""Reverse-process samplers, one concept per module, all re-exported here:

- ``guidance``: classifier-free guidance, ``cfg_eps``;
- ``ddpm``: ancestral sampling, ``ddpm_step``, ``ddpm_sample`` (``VARIANCES``);
- ``timesteps``: the sub-sequences strided samplers visit, ``ddim_timesteps`` (``SPACINGS``), ``timestep_pairs``;
- ``ddim``: the η-family, ``ddim_step``, ``ddim_sample``;
- ``inversion``: ``ddim_invert``, the η = 0 ODE run forwards, one ``ddim_invert_step`` at a time;
- ``ode``: the probability-flow ODE with Euler or Heun steps, ``ode_sample`` (``METHODS``);
- ``_loop``: the machinery they share (model call, loop, progress bar, trajectory).

Notation (see the README's conventions): index t ∈ {0, …, T−1} is the paper's step t+1;
ᾱ_t = ∏_{s≤t}(1 − β_s) and, for the step *after* the last index, ᾱ_{−1} = 1 (written ``t_prev=-1``).
Sampling runs from x_{T−1} (pure noise) down to x_0; the step at t = 0 adds no noise.

Every sampler predicts ε̂ with the model, turns it into x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, clips x̂_0 to
[−1, 1] unless ``clip_x0=False``, and moves to the previous time. Samplers take any batch [B, …] (points
[B, D], images [B, C, H, W]), run under ``torch.inference_mode()``, accept a ``torch.Generator`` for
reproducible noise and, with ``return_trajectory=True``, also return every intermediate x_t and x̂_0
(stored on the CPU).
"""

from .ddim import ddim_sample, ddim_step
from .ddpm import VARIANCES, ddpm_sample, ddpm_step
from .guidance import cfg_eps
from .inversion import ddim_invert, ddim_invert_step
from .ode import METHODS, ode_sample
from .timesteps import SPACINGS, ddim_timesteps, timestep_pairs

__all__ = [
    "cfg_eps", "ddpm_step", "ddpm_sample", "ddim_timesteps", "timestep_pairs", "ddim_step", "ddim_sample",
    "ddim_invert", "ddim_invert_step", "ode_sample", "VARIANCES", "SPACINGS", "METHODS",
]
