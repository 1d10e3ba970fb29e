"""Making many samples for a metric, and the per-t loss of a trained network."""

from __future__ import annotations

import torch

from .data import to_float
from .forward import q_sample
from .sampling import ddim_sample, ddpm_sample


def generate(model, schedule, n: int, steps: int = 50, guidance_scale: float = 1.0, seed: int = 0, batch: int = 500,
             sampler: str = "ddim", labels: torch.Tensor | None = None, shape=None, **sampler_kwargs):
    """``n`` samples from x_T ~ N(0, I) drawn with a generator seeded by ``seed``.

    A conditional model gets ``labels`` (default: balanced over the classes, 0, 1, …, 9, 0, …);
    returns ``(images, labels)`` with labels None for an unconditional model. ``sampler``: "ddim"
    (``steps`` steps) or "ddpm" (all T steps).
    """
    if sampler not in ("ddim", "ddpm"):
        raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if shape is None:
        shape = (model.in_channels, 28, 28) if model.in_channels == 1 else (model.in_channels, 32, 32)
    if model.num_classes and labels is None:
        labels = torch.arange(n) % model.num_classes
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, n, batch):
        x_T = torch.randn(min(batch, n - i), *shape, generator=gen)
        y = labels[i:i + batch] if labels is not None else None
        s = guidance_scale if y is not None else 1.0
        if sampler == "ddim":
            out.append(ddim_sample(model, schedule, x_T, steps=steps, y=y, guidance_scale=s, generator=gen,
                                   **sampler_kwargs))
        else:
            out.append(ddpm_sample(model, schedule, x_T, y=y, guidance_scale=s, generator=gen, **sampler_kwargs))
    return torch.cat(out), labels


@torch.no_grad()
def loss_per_timestep(model, schedule, images_uint8: torch.Tensor, ts, labels=None, seed: int = 0) -> torch.Tensor:
    """mean ‖ε − ε_θ(x_t, t)‖² over the images, for each t in ``ts`` (same ε at every t)."""
    x0 = to_float(images_uint8) if images_uint8.dtype == torch.uint8 else images_uint8
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    model.eval()
    out = []
    for t in ts:
        x_t = q_sample(schedule, x0, int(t), noise)
        eps = model(x_t, int(t), labels) if labels is not None else model(x_t, int(t))
        out.append((eps - noise).pow(2).mean())
    return torch.stack(out)
