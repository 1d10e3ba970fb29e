"""Argument checks shared by the public functions (raise ValueError at the boundary)."""

from __future__ import annotations

import torch


def check_timesteps(t, T: int, batch_size: int | None = None, name: str = "t") -> torch.Tensor:
    """Return ``t`` as a LongTensor of shape [B], checking 0 <= t < T.

    ``t`` may be a Python int (broadcast to ``batch_size``) or an integer tensor of shape [B]
    (a 0-d tensor counts as an int).
    """
    if isinstance(t, bool):
        raise ValueError(f"{name} must be an int or an integer tensor of shape [B], got a bool")
    if isinstance(t, int):
        if not 0 <= t < T:
            raise ValueError(f"{name} must satisfy 0 <= {name} < T={T}, got {t}")
        n = 1 if batch_size is None else batch_size
        return torch.full((n,), t, dtype=torch.long)
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be an int or an integer tensor of shape [B], got {type(t).__name__}")
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers (torch.long), got dtype {t.dtype}")
    if t.dim() == 0:
        t = t.reshape(1).expand(1 if batch_size is None else batch_size)
    if t.dim() != 1:
        raise ValueError(f"{name} must have shape [B], got shape {tuple(t.shape)}")
    if batch_size is not None and t.shape[0] != batch_size:
        raise ValueError(f"{name} has {t.shape[0]} entries but the batch has {batch_size} images")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= T):
        raise ValueError(
            f"{name} must satisfy 0 <= {name} < T={T}, got values in [{int(t.min())}, {int(t.max())}]"
        )
    return t.long()


def check_image_batch(x, name: str = "x") -> None:
    """Images are float tensors [B, C, H, W]."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a tensor of shape [B, C, H, W], got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape [B, C, H, W], got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def check_same_shape(a, b, name_a: str, name_b: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name_b} must have the shape of {name_a} {tuple(a.shape)}, got {tuple(b.shape)}")


def check_choice(value, allowed, name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
