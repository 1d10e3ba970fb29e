"""The training objective of ε_θ (Ho et al. 2020, "simple"), and the label dropout of classifier-free guidance.

    L_simple = E_{x_0, t, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²,   t ~ U{0, …, T−1},  ε ~ N(0, I).

With ``prediction="v_prediction"`` the network learns v = √ᾱ_t ε − √(1 − ᾱ_t) x_0 instead (Salimans & Ho 2022,
``helpers.prediction``): the same x_t, the target v.

For classifier-free guidance (Ho & Salimans 2022) one network learns ε_θ(x_t, t, y) and ε_θ(x_t, t, ∅): each
label is replaced by the null label ∅ (index ``num_classes``) with probability ``p_uncond``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_inputs, check_real
from .forward import q_sample
from .prediction import check_prediction, v_target
from .schedules import DiffusionSchedule


def check_p_uncond(p_uncond) -> float:
    """``p_uncond`` as a float in [0, 1] (a probability), else ValueError naming it."""
    p = check_real(p_uncond, "p_uncond")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_uncond must be a probability in [0, 1], got {p_uncond!r}")
    return p


def drop_labels(y: torch.Tensor, p_uncond: float, null_label: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """y_i ← ∅ (``null_label``) independently for each i with probability ``p_uncond``, else y_i."""
    if check_p_uncond(p_uncond) == 0.0:
        return y
    drop = torch.rand(y.shape, generator=generator, device="cpu").to(y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def check_loss_inputs(model: nn.Module, x0, y, p_uncond) -> torch.Tensor | None:
    """x0 a float batch; y (if given) labels in 0..num_classes of a conditional model; p_uncond > 0 only with y."""
    y, _ = check_inputs(x0, "x0", model=model, y=y)
    if check_p_uncond(p_uncond) > 0.0 and y is None:
        raise ValueError(f"p_uncond={p_uncond!r} drops labels, so it needs labels y (or p_uncond=0.0)")
    return y


def diffusion_loss(model: nn.Module, schedule: DiffusionSchedule, x0: torch.Tensor, y: torch.Tensor | None = None,
                   p_uncond: float = 0.0, generator: torch.Generator | None = None,
                   prediction: str = "epsilon") -> torch.Tensor:
    """L_simple on one batch: mean ‖ε − ε_θ(x_t, t[, y])‖² with a fresh t and ε per image; with
    ``prediction="v_prediction"``, mean ‖v − v_θ(x_t, t[, y])‖².

    ``y``: class labels of a conditional model, each dropped to ∅ with probability ``p_uncond``.
    ``generator`` (a CPU generator) draws t, ε and the label dropout, so a run can be replayed exactly.
    """
    y = check_loss_inputs(model, x0, y, p_uncond)
    check_prediction(prediction)
    # 1. t ~ U{0..T−1}, ε ~ N(0, I)
    t = torch.randint(0, schedule.T, (x0.shape[0],), generator=generator).to(x0.device)
    eps = torch.randn(x0.shape, generator=generator).to(device=x0.device, dtype=x0.dtype)
    # 2. x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (q_sample)
    x_t = q_sample(schedule, x0, t, eps)
    # 3. L_simple = ‖ε − ε_θ(x_t, t)‖²   (with labels: ε_θ(x_t, t, y), y dropped to ∅ with probability p_uncond)
    #    or, for v-prediction, ‖v − v_θ(x_t, t)‖² with v = √ᾱ_t ε − √(1−ᾱ_t) x_0
    if y is None:
        out = model(x_t, t)
    else:
        out = model(x_t, t, drop_labels(y, p_uncond, model.num_classes, generator))
    target = eps if prediction == "epsilon" else v_target(schedule, x0, t, eps)
    return F.mse_loss(out.float(), target.float())


__all__ = ["diffusion_loss", "drop_labels", "check_p_uncond", "check_loss_inputs"]
