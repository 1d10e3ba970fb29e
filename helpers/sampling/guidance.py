"""Classifier-free guidance (Ho & Salimans 2022): one guided ε̂ from a conditional and an unconditional one."""

from __future__ import annotations

import torch

from .._checks import check_inputs
from ._loop import call_model


def cfg_eps(model, x_t: torch.Tensor, t, y, guidance_scale: float, null_label: int | None = None) -> torch.Tensor:
    """Classifier-free guidance: ε̂ = ε̂_u + s · (ε̂_c − ε̂_u),  ε̂_c = ε_θ(x_t, t, y),  ε̂_u = ε_θ(x_t, t, ∅).

    ``guidance_scale`` s follows diffusers: s = 1 is the plain conditional prediction (one forward pass),
    s = 0 the unconditional one (one pass, with the null label), s > 1 pushes away from ∅. Ho & Salimans
    (2022) write ε̂ = (1 + w) ε̂_c − w ε̂_u, i.e. w = s − 1. For any other s both predictions come from ONE
    forward pass on the concatenated batch [x_t; x_t] with labels [y; ∅].

    The null label ∅ is the extra class index ``model.num_classes`` unless ``null_label`` is given.
    ``y=None`` is allowed only with s = 1 (then the model is called as ``model(x_t, t)``).
    x_t: any batch [B, …] the model takes; t, y: ints or LongTensors [B].
    """
    t, y, s = check_inputs(x_t, "x_t", t=t, model=model, y=y, guidance_scale=guidance_scale)
    if y is None or s == 1.0:
        return call_model(model, x_t, t, y)  # ε̂_c (or the unconditional model's ε̂)
    null = torch.full_like(y, model.num_classes if null_label is None else null_label)
    if s == 0.0:
        return call_model(model, x_t, t, null)  # ε̂_u
    # 1. ε̂_c and ε̂_u from one forward pass over [x_t; x_t] with labels [y; ∅]
    eps_c, eps_u = call_model(model, torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, null])).chunk(2)
    # 2. ε̂ = ε̂_u + s (ε̂_c − ε̂_u)
    return eps_u + s * (eps_c - eps_u)
