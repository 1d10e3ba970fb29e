"""Which training indices a strided sampler visits: DDIM's sub-sequences τ and Karras et al.'s σ spacing."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_choice, check_int
from ..schedules import DiffusionSchedule

SPACINGS = ("trailing", "leading", "linspace", "report", "karras")
RHO = 7.0  # Karras et al. (2022), eq. 5


def ddim_timesteps(T: int, steps: int, spacing: str = "trailing", *,
                   alphas_cumprod: torch.Tensor | None = None) -> torch.Tensor:
    """The sub-sequence τ (LongTensor, descending) of the indices 0…T−1 that a strided sampler visits.

    Spacings as in diffusers' ``DDIMScheduler.set_timesteps`` (Lin et al. 2023, Table 2):

    - ``"trailing"``: round(T − k·T/steps) − 1 for k = 0…steps−1; starts at T−1 (recommended).
    - ``"leading"`` (``steps_offset=0``): k·(T // steps), reversed; starts below T−1, ends at 0.
    - ``"linspace"``: round(linspace(0, T−1, steps)), reversed.
    - ``"report"``: the report's own sequence, c = T // steps, τ = (0, c, 2c, …) + 1 reversed
      (so it may hold more than ``steps`` entries when ``steps`` does not divide T). ``ddim_sample`` ends this
      one at index 0 (ᾱ_0 ≠ 1) as the report does: the pitfall notebook 07 shows.
    - ``"karras"`` (needs ``alphas_cumprod``): Karras et al. (2022), eq. 5, in σ_t = √((1−ᾱ_t)/ᾱ_t):
      σ_i = (σ_max^{1/ρ} + i/(steps−1) · (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7, σ_max = σ_{T−1},
      σ_min = σ_0, each mapped to the index whose σ_t is nearest in log σ (what diffusers'
      ``use_karras_sigmas`` rounds to). The steps crowd at small σ, where several σ_i can map to one
      index: duplicates are dropped, so this spacing may return FEWER than ``steps`` entries. It starts
      at T−1 and ends at 0.

    diffusers' trailing formula uses a float ``np.arange`` that, for some (T, steps) such as (300, 7),
    yields an extra entry −1; we keep the first ``steps`` entries, which equal diffusers' everywhere else.
    """
    T = check_int(T, "T", 1, 10**9)
    steps = check_int(steps, "steps", 1, T)
    check_choice(spacing, SPACINGS, "spacing")
    if spacing == "karras":
        return _karras_timesteps(T, steps, alphas_cumprod)
    # numpy on purpose: the same float arithmetic as diffusers, so rounding ties break the same way
    if spacing == "trailing":
        seq = (np.round(np.arange(T, 0, -T / steps)).astype(np.int64) - 1)[:steps]
    elif spacing == "leading":
        seq = (np.arange(0, steps) * (T // steps)).round()[::-1].astype(np.int64)
    elif spacing == "linspace":
        seq = np.linspace(0, T - 1, steps).round()[::-1].astype(np.int64)
    else:
        seq = (np.arange(0, T, T // steps) + 1)[::-1]
        if seq[0] >= T:
            raise ValueError(f"spacing='report' with T={T}, steps={steps} reaches index {seq[0]} >= T "
                             "(the report's +1 shift); choose fewer steps")
    return torch.from_numpy(seq.copy()).long()


def _karras_timesteps(T: int, steps: int, alphas_cumprod) -> torch.Tensor:
    if not isinstance(alphas_cumprod, torch.Tensor) or tuple(alphas_cumprod.shape) != (T,):
        raise ValueError(f"alphas_cumprod (a tensor [T={T}], e.g. schedule.alphas_cumprod) is needed for "
                         f"spacing='karras', got {alphas_cumprod if alphas_cumprod is None else type(alphas_cumprod)}")
    a = alphas_cumprod.to(torch.float64)
    # 1. σ_t = √((1 − ᾱ_t)/ᾱ_t) of every training index: σ_min = σ_0, σ_max = σ_{T−1}
    sigma = ((1 - a) / a).sqrt()
    sigma_min, sigma_max = sigma[0], sigma[-1]
    # 2. σ_i uniform in σ^{1/ρ} from σ_max down to σ_min (eq. 5)
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    targets = (sigma_max ** (1 / RHO) + ramp * (sigma_min ** (1 / RHO) - sigma_max ** (1 / RHO))) ** RHO
    # 3. the training index whose σ_t is nearest in log σ; duplicates dropped, descending
    nearest = (sigma.log()[:, None] - targets.log()[None, :]).abs().argmin(0)
    return nearest.unique().flip(0)


def timestep_pairs(schedule: DiffusionSchedule, steps: int, spacing: str = "trailing",
                   final_alpha_one: bool | None = None):
    """(τ_i, τ_{i+1}) for every step of ``ddim_timesteps``; after the last entry comes −1 (ᾱ = 1), or 0
    (ᾱ_0, the report's) when ``final_alpha_one`` is False (None: True except for ``spacing="report"``)."""
    seq = ddim_timesteps(schedule.T, steps, spacing, alphas_cumprod=schedule.alphas_cumprod)
    if final_alpha_one is None:
        final_alpha_one = spacing != "report"
    last = -1 if final_alpha_one else 0
    return list(zip(seq.tolist(), seq[1:].tolist() + [last]))
