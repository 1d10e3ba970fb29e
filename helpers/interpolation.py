"""Interpolating between two Gaussian noises x_T, for DDIM's deterministic map from noise to images (notebook 07).

The straight line (1−α)x0 + αx1 between two draws of N(0, I) shrinks the norm by up to √2 midway, to a
noise the sampler never saw in training; the great circle (``slerp``) keeps it.
"""

from __future__ import annotations

import torch


def slerp(x0: torch.Tensor, x1: torch.Tensor, alpha) -> torch.Tensor:
    """Spherical interpolation between two tensors of the same shape, each taken as one vector:

    θ = arccos(⟨x0, x1⟩ / (‖x0‖ ‖x1‖)),   slerp(x0, x1, α) = sin((1−α)θ)/sin θ · x0 + sin(αθ)/sin θ · x1.

    Between two draws of N(0, I) in many dimensions (‖x‖ ≈ √d, θ ≈ 90°) it keeps the norm that the
    sampler expects of x_T, where the straight line (1−α)x0 + αx1 shrinks it by up to √2 midway
    (Song et al. 2021, DDIM, section 5.3). ``alpha``: a number (returns x0's shape) or a 1-D sequence
    of K numbers (returns [K, *x0.shape]). Falls back to the straight line when x0 ∥ x1 (θ ≈ 0).
    """
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    scalar = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if a.dim() > 1 or not torch.isfinite(a).all():
        raise ValueError(f"alpha must be a finite number or a 1-D sequence of numbers, got {alpha!r}")
    a = a.reshape(-1)
    v0, v1 = x0.reshape(-1).double(), x1.reshape(-1).double()
    cos = torch.dot(v0, v1) / (v0.norm() * v1.norm()).clamp(min=1e-300)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(theta.sin()) < 1e-6:
        w0, w1 = 1 - a, a
    else:
        w0, w1 = torch.sin((1 - a) * theta) / theta.sin(), torch.sin(a * theta) / theta.sin()
    out = w0[:, None] * v0[None] + w1[:, None] * v1[None]
    out = out.reshape(len(a), *x0.shape).to(x0.dtype)
    return out[0] if scalar else out
