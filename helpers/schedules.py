"""Noise schedules β_t and the table of coefficients derived from them.

Index convention: t ∈ {0, …, T−1}; index t is the paper's step t+1, and
ᾱ_t = ∏_{s≤t} (1 − β_s).
"""

from __future__ import annotations

import math

import torch

from ._checks import check_choice, check_int


def linear_beta_schedule(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. (2020): β_t evenly spaced from ``beta_start`` to ``beta_end`` (float64, [T])."""
    check_int(timesteps, "timesteps", 1)
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def report_beta_schedule(timesteps: int) -> torch.Tensor:
    """The report's linear schedule, rescaled with T: β from 3e-4·(1000/T) to 0.03·(1000/T).

    At T=300 this is 0.001 → 0.1; at T=1000, 3e-4 → 0.03. β_end = 30/T reaches 1 at T=30, so T > 30.
    """
    check_int(timesteps, "timesteps", 1)
    if timesteps <= 30:
        raise ValueError(f"timesteps must be > 30 for the report's schedule (beta_end = 30/T), got {timesteps}")
    scale = 1000 / timesteps
    return linear_beta_schedule(timesteps, 3e-4 * scale, 0.03 * scale)


def cosine_beta_schedule(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal (2021): ᾱ(τ) = f(τ)/f(0), f(τ) = cos²(((τ/T + c)/(1 + c))·π/2) for continuous τ ∈ [0, T],
    β_t = min(1 − ᾱ(t+1)/ᾱ(t), max_beta), so index t's ᾱ_t is ᾱ(τ = t+1) until the clip binds.

    The offset c is their s (the argument keeps their name); the notebooks write c, since s is the guidance scale.
    """
    check_int(timesteps, "timesteps", 1)
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    return betas.clamp(max=max_beta)


SCHEDULES = {
    "linear": linear_beta_schedule,
    "report": report_beta_schedule,
    "cosine": cosine_beta_schedule,
}


def get_beta_schedule(name: str, timesteps: int) -> torch.Tensor:
    """β for one of the named schedules: ``"linear"``, ``"report"`` or ``"cosine"``."""
    check_choice(name, tuple(SCHEDULES), "name")
    return SCHEDULES[name](timesteps)


class DiffusionSchedule:
    """Every coefficient the forward process, the posterior and the samplers need (float64, [T]).

    - α_t = 1 − β_t,  ᾱ_t = ∏_{s≤t} α_s,  ᾱ_{t−1} with ᾱ_{−1} = 1
    - β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)                     (posterior variance)
    - μ̃_t = coef1 · x_0 + coef2 · x_t, coef1 = β_t √ᾱ_{t−1} / (1 − ᾱ_t),
      coef2 = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)
    - log β̃ clipped: β̃_0 = 0, so index 0 takes log β̃_1 (Ho et al.'s convention)
    - ``alphas_cumprod_padded`` = [ᾱ_0, …, ᾱ_{T−1}, 1], [T+1]: its last entry is ᾱ_{−1} = 1, read by t = −1
      (the step after the last index, the clean image), so ``gather`` serves ``t_prev = -1`` too
    """

    def __init__(self, betas, name: str | None = None):
        betas = torch.as_tensor(betas)
        if betas.dim() != 1 or betas.numel() == 0:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}")
        if not betas.dtype.is_floating_point:
            raise ValueError(f"betas must be floating point, got dtype {betas.dtype}")
        betas = betas.to(torch.float64)
        if not torch.isfinite(betas).all() or (betas <= 0).any() or (betas >= 1).any():
            raise ValueError(
                f"betas must satisfy 0 < beta < 1, got values in [{betas.min().item():.3g}, {betas.max().item():.3g}]"
            )
        self.name = name
        self.T = betas.numel()
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_padded = torch.cat([self.alphas_cumprod, torch.ones(1, dtype=torch.float64)])
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self.sqrt_recip_alphas_cumprod = (1.0 / self.alphas_cumprod).sqrt()
        self.sqrt_recipm1_alphas_cumprod = (1.0 / self.alphas_cumprod - 1).sqrt()
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        first = self.posterior_variance[1:2] if self.T > 1 else self.betas[:1]
        self.posterior_log_variance_clipped = torch.log(torch.cat([first, self.posterior_variance[1:]]))
        self.posterior_mean_coef1 = betas * self.alphas_cumprod_prev.sqrt() / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * self.alphas.sqrt() / (1.0 - self.alphas_cumprod)
        # log SNR(t) = log(ᾱ_t / (1 − ᾱ_t))
        self.log_snr = torch.log(self.alphas_cumprod) - torch.log1p(-self.alphas_cumprod)

    @classmethod
    def from_name(cls, name: str, timesteps: int) -> DiffusionSchedule:
        """``DiffusionSchedule.from_name("report", 300)``."""
        return cls(get_beta_schedule(name, timesteps), name=name)

    def gather(self, coef: torch.Tensor, t, like: torch.Tensor) -> torch.Tensor:
        """coef[t] as [B, 1, …, 1] (one value per example, broadcast over ``like``'s other dims) in ``like``'s
        dtype and device. ``t``: an int or a LongTensor [B].

        t = −1 reads the last entry of a padded table of T+1 entries (``alphas_cumprod_padded``, whose
        last entry is ᾱ_{−1} = 1); a table of T entries refuses it rather than wrap around to index T−1.
        """
        t = torch.as_tensor(t).cpu()
        if coef.shape[0] == self.T and bool((t < 0).any()):
            raise ValueError("t = -1 (ᾱ = 1) can only be gathered from a padded table of T+1 entries such as "
                             "alphas_cumprod_padded")
        out = coef[t].to(dtype=like.dtype, device=like.device)
        return out.reshape(-1, *([1] * (like.dim() - 1)))

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"DiffusionSchedule({label}T={self.T}, beta {self.betas[0].item():.4g}→{self.betas[-1].item():.4g}, "
            f"alphas_cumprod[T-1]={self.alphas_cumprod[-1].item():.3g})"
        )
