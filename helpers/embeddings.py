"""How a network is told t and y: the sinusoidal time embedding, the class table with its null row,
and the one check of ``(x, t, y)`` that both U-Nets (``SeedUNet``, ``ModernUNet``) open their forward pass with.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_index, check_labels


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding, cos half first:  e(t) = [cos(t·ω_0), …, cos(t·ω_{d/2−1}), sin(t·ω_0), …],
    ω_i = max_period^(−i/(d/2)).  Returns float32 [B, dim]."""
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2, got {dim}")
    t = torch.as_tensor(t)
    if t.dim() == 0:
        t = t.reshape(1)
    if t.dim() != 1:
        raise ValueError(f"t must have shape [B], got shape {tuple(t.shape)}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def class_embedding(num_classes: int | None, dim: int) -> nn.Embedding | None:
    """``nn.Embedding(num_classes + 1, dim)``, or None for an unconditional network (``num_classes=None``).

    The extra row, index ``num_classes``, is the null label: classifier-free guidance's "no class".
    """
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be None or a positive int, got {num_classes!r}")
    return nn.Embedding(num_classes + 1, dim)


def check_network_inputs(model: nn.Module, x, t, y=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check ``model(x, t, y)``'s arguments against the model; return ``(t, y)`` as LongTensors [B] on x's device.

    x: float [B, C, H, W] with C = ``model.in_channels`` and H, W multiples of 2**``model.depth`` (each
    level halves them). t: an int or an integer tensor [B], t >= 0 (a network has no T of its own, so no
    upper bound). y: only for a conditional model; an int or an integer tensor [B] in 0 … num_classes,
    where ``num_classes`` is the null label; None on a conditional model means the null label.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.dtype.is_floating_point:
        got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape [B, C, H, W] (a float tensor), got {got}")
    b = x.shape[0]
    if x.shape[1] != model.in_channels:
        raise ValueError(f"x has {x.shape[1]} channels but the model takes in_channels={model.in_channels}")
    factor = 2 ** model.depth
    if x.shape[2] % factor or x.shape[3] % factor:
        raise ValueError(f"x's height and width must be multiples of 2**depth = {factor}, got {tuple(x.shape[2:])}")
    t = check_index(t, "t", b, 0, device=x.device)   # a network has no T of its own: only t >= 0
    if model.num_classes is not None and y is None:
        y = model.num_classes                           # a conditional model called without y: the null label
    return t, check_labels(y, b, model.num_classes, x.device)
