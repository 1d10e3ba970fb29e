"""Argument checks shared by every public function: each raises ValueError naming the argument.

One implementation per kind of argument:

- ``check_batch``: a float tensor [B, …] with at least 2 dims (points [B, D], images [B, C, H, W]),
- ``check_index``: an int or integer tensor [B] in a range, as a LongTensor [B] (timesteps t, t_prev, labels y),
- ``check_labels``/``check_guidance``: class labels against a model's ``num_classes`` (plus the null label),
- ``check_int``, ``check_real``, ``check_choice``: scalar options,

and ``check_inputs``, the one call a maths function opens with: it checks the batch, the tensors that must
share its shape, the timesteps and the labels, and returns the converted timesteps/labels.
"""

from __future__ import annotations

import math
import numbers

import torch

_INDEX = "an int or an integer tensor of shape [B]"


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int with low <= value (<= high)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value > high)):
        bounds = f"{low} <= {name}" + ("" if high is None else f" <= {high}")
        raise ValueError(f"{name} must be an int with {bounds}, got {value!r}")
    return int(value)


def check_real(value, name: str, minimum: float | None = None) -> float:
    """``value`` as a finite float (>= minimum)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return float(value)


def check_choice(value, allowed, name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def check_batch(x, name: str = "x", dims: int | None = None) -> None:
    """A floating-point tensor [B, …] with at least 2 dims, or exactly ``dims`` (4: images [B, C, H, W])."""
    want = ("of shape [B, …] with at least 2 dims (points [B, D], images [B, C, H, W])" if dims is None
            else "of shape [B, C, H, W]" if dims == 4 else f"with {dims} dims [B, …]")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a floating-point tensor {want}, got {type(x).__name__}")
    if x.dim() < 2 if dims is None else x.dim() != dims:
        raise ValueError(f"{name} must be a floating-point tensor {want}, got shape {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor {want}, got dtype {x.dtype}")


def check_same_shape(a, b, name_a: str, name_b: str) -> None:
    if not isinstance(b, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
        got = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
        raise ValueError(f"{name_b} must be a tensor of the shape of {name_a} {tuple(a.shape)}, got {got}")


def check_index(value, name: str, batch_size: int, low: int = 0, high: int | None = None,
                allowed: str | None = None, device=None) -> torch.Tensor:
    """An int (broadcast to the batch) or an integer tensor [B] (or 0-d) with low <= value <= high, returned
    as a LongTensor [B] on ``device``. ``allowed`` words the range in the error (default "in low..high")."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {_INDEX}, got a bool")
    if isinstance(value, numbers.Integral):
        value = torch.tensor(int(value))
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be {_INDEX}, got {type(value).__name__}")
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise ValueError(f"{name} must be {_INDEX}, got dtype {value.dtype}")
    if value.dim() == 0:
        value = value.reshape(1).expand(batch_size)
    if tuple(value.shape) != (batch_size,):
        raise ValueError(f"{name} must be {_INDEX} with B = {batch_size} (the batch), got shape {tuple(value.shape)}")
    if value.numel() and (int(value.min()) < low or (high is not None and int(value.max()) > high)):
        allowed = allowed or (f">= {low}" if high is None else f"in {low}..{high}")
        raise ValueError(f"{name} must be {allowed}; got values in [{int(value.min())}, {int(value.max())}]")
    return value.to(device=device, dtype=torch.long)


def check_labels(y, batch_size: int, num_classes: int | None, device=None) -> torch.Tensor | None:
    """Class labels as a LongTensor [B] in 0..num_classes (``num_classes`` itself is the null label ∅)."""
    if y is None:
        return None
    if num_classes is None:
        raise ValueError("labels y were given, but the model is unconditional (model.num_classes is None); "
                         "pass y=None or use a class-conditional model")
    return check_index(y, "y", batch_size, 0, num_classes, device=device,
                       allowed=f"in 0..{num_classes - 1}, or {num_classes} for the null label")


def check_guidance(model, y, guidance_scale, batch_size: int, device=None):
    """(labels, s) for classifier-free guidance: s = 1 (no guidance) is the only scale allowed without y."""
    s = check_real(guidance_scale, "guidance_scale")
    y = check_labels(y, batch_size, getattr(model, "num_classes", None), device)
    if y is None and s != 1.0:
        raise ValueError(f"guidance_scale={guidance_scale!r} needs class labels y (guidance_scale=1 means "
                         "no guidance); pass y, or guidance_scale=1.0")
    return y, s


def check_inputs(x, name: str, *, dims: int | None = None, like: dict | None = None, choices: dict | None = None,
                 T: int | None = None, t=None, t_prev=None, model=None, y=None, guidance_scale=None):
    """Check a batch and what comes with it; return the converted timesteps and labels.

    - ``x`` (called ``name`` in errors): a float tensor [B, …], at least 2 dims (exactly ``dims`` if given);
    - ``like``: {name: tensor or None}: each tensor given must have x's shape (eps, noise, x0, …);
    - ``choices``: {name: (value, allowed values)};
    - ``t``: int or integer tensor [B] in 0..T−1 (0.. when T is None); ``t_prev``: the same in −1..T−1;
    - ``model``: then ``y`` and ``guidance_scale`` are checked against ``model.num_classes``.

    Returns, in this order, what was asked for: t and t_prev as LongTensors [B] on x's device, and
    ``(y, s)`` when ``model`` is given; one value is returned alone, none as None.
    """
    check_batch(x, name, dims)
    b = x.shape[0]
    for other, value in (like or {}).items():
        if value is not None:
            check_same_shape(x, value, name, other)
    for option, (value, allowed) in (choices or {}).items():
        check_choice(value, allowed, option)
    out = []
    high = None if T is None else T - 1
    if t is not None:
        out.append(check_index(t, "t", b, 0, high, allowed=None if T is None else f"in 0..{high} (T={T})",
                               device=x.device))
    if t_prev is not None:
        out.append(check_index(t_prev, "t_prev", b, -1, high, device=x.device,
                               allowed=f"in -1..{high} (-1: after the last step, ᾱ = 1)"))
    if model is not None:
        out.extend(check_guidance(model, y, 1.0 if guidance_scale is None else guidance_scale, b, x.device))
    return out[0] if len(out) == 1 else tuple(out) if out else None


def check_timesteps(t, T: int, batch_size: int | None = None, name: str = "t") -> torch.Tensor:
    """``check_index`` for timesteps in 0..T−1, B taken from ``t`` when not given (kept for older callers)."""
    if batch_size is None:
        batch_size = len(t) if isinstance(t, torch.Tensor) and t.dim() == 1 else 1
    return check_index(t, name, batch_size, 0, T - 1, allowed=f"in 0..{T - 1} (T={T})")
