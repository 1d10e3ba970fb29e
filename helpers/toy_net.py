"""A small ε-predictor for 2-D toy data: an MLP on (x_t, sinusoidal embedding of t), trained with the
same loss as the U-Net, L = E‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖² (``helpers.training.diffusion_loss``).

With a ``GaussianMixture`` the loss has a known floor: the minimiser is E[ε | x_t], so
E‖ε − ε_θ‖² = E‖ε − E[ε | x_t]‖² (what no network can predict) + E‖E[ε | x_t] − ε_θ‖² (what this one missed);
``eps_error_by_t`` measures both terms at each t.
"""

from __future__ import annotations

import torch
from torch import nn

from .toy import GaussianMixture
from .training import diffusion_loss
from .unet import timestep_embedding


class ToyEpsNet(nn.Module):
    """ε_θ(x_t, t[, y]) = MLP([x_t, e(t) (+ e(y))]): ``depth`` hidden layers of ``hidden`` SiLU units.

    e(t) is ``timestep_embedding`` (the U-Net's, cos half first) of dimension ``t_dim``. With ``num_classes``
    K, a learned class embedding of K + 1 rows (the last is the null label, for classifier-free guidance)
    is added to e(t).
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, t_dim: int = 32,
                 num_classes: int | None = None):
        super().__init__()
        for name, value in (("dim", dim), ("hidden", hidden), ("depth", depth), ("t_dim", t_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.dim, self.t_dim, self.num_classes = dim, t_dim, num_classes
        self.label_emb = None if num_classes is None else nn.Embedding(num_classes + 1, t_dim)
        layers, width = [], dim + t_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, dim))

    def forward(self, x_t: torch.Tensor, t, y=None) -> torch.Tensor:
        if x_t.dim() != 2 or x_t.shape[1] != self.dim:
            raise ValueError(f"x_t must have shape [B, {self.dim}], got shape {tuple(x_t.shape)}")
        t = torch.as_tensor(t, device=x_t.device).reshape(-1).expand(x_t.shape[0])
        emb = timestep_embedding(t, self.t_dim).to(x_t.dtype)
        if y is not None:
            if self.label_emb is None:
                raise ValueError("labels y were given, but the model is unconditional (num_classes=None)")
            emb = emb + self.label_emb(torch.as_tensor(y, device=x_t.device).reshape(-1).expand(x_t.shape[0]))
        return self.net(torch.cat([x_t, emb], dim=1))


def train_toy_model(model: nn.Module, mixture: GaussianMixture, schedule, steps: int = 2000, batch: int = 512,
                    lr: float = 2e-3, p_uncond: float = 0.0, generator: torch.Generator | None = None) -> list:
    """Adam on ``diffusion_loss`` with fresh x_0 ~ ``mixture`` every step (no dataset to overfit); the learning
    rate decays as a cosine to 0. With a class-conditional model, the component index is the label, dropped
    to the null label with probability ``p_uncond``. Returns the loss of every step."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    model.train()
    losses = []
    for _ in range(steps):
        x0, k = mixture.sample(batch, generator=generator, return_labels=True)
        y = k if getattr(model, "num_classes", None) is not None else None
        loss = diffusion_loss(model, schedule, x0, y, p_uncond=p_uncond if y is not None else 0.0,
                              generator=generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        decay.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def eps_error_by_t(model: nn.Module, mixture: GaussianMixture, schedule, ts, n: int = 2000,
                   generator: torch.Generator | None = None) -> dict:
    """For each t in ``ts``, with x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε on n fresh draws (mean per coordinate):

    - ``"bayes"``: E‖ε − ε*‖²/D, ε* = E[ε | x_t]: the loss of the exact denoiser, the floor;
    - ``"model"``: E‖ε_θ − ε*‖²/D: how far the network is from the exact denoiser;
    - ``"loss"``:  E‖ε − ε_θ‖²/D, the training loss at t (= bayes + model, up to sampling noise).
    """
    model.eval()
    out = {"t": torch.as_tensor(list(ts), dtype=torch.long), "bayes": [], "model": [], "loss": []}
    for t in out["t"].tolist():
        x0 = mixture.sample(n, generator=generator).double()
        eps = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        abar = schedule.alphas_cumprod[t]
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        exact = mixture.exact_eps(schedule, x_t, t)
        pred = model(x_t.float(), torch.full((n,), t, dtype=torch.long)).double()
        out["bayes"].append((eps - exact).pow(2).mean().item())
        out["model"].append((pred - exact).pow(2).mean().item())
        out["loss"].append((eps - pred).pow(2).mean().item())
    return {k: torch.as_tensor(v) if k != "t" else v for k, v in out.items()}
