"""What the network predicts: the noise ε (Ho et al. 2020) or the velocity v (Salimans & Ho 2022, §4).

    v = √ᾱ_t · ε − √(1 − ᾱ_t) · x_0,   and for x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε:
    ε = √ᾱ_t · v + √(1 − ᾱ_t) · x_t,   x_0 = √ᾱ_t · x_t − √(1 − ᾱ_t) · v.

ε-prediction gives x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, which multiplies ε̂'s error by √(1−ᾱ_t)/√ᾱ_t, about 2,500 at
the report's last index, t = 299; v-prediction gives x̂_0 with v̂'s error times √(1 − ᾱ_t) ≤ 1. A network trained on v is
wrapped in ``EpsilonFromV`` when it is loaded, so every sampler, which takes ε̂, runs it unchanged. The names are
diffusers' ``prediction_type`` values.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_choice, check_inputs
from .schedules import DiffusionSchedule

PREDICTIONS = ("epsilon", "v_prediction")


def check_prediction(prediction) -> str:
    """``prediction`` if it is one of ``PREDICTIONS``, else a ValueError naming it."""
    check_choice(prediction, PREDICTIONS, "prediction")
    return prediction


def v_target(schedule: DiffusionSchedule, x0: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """v = √ᾱ_t · ε − √(1 − ᾱ_t) · x_0   (the training target of a v-prediction network)."""
    t = check_inputs(x0, "x0", T=schedule.T, t=t, like={"eps": eps})
    return (schedule.gather(schedule.sqrt_alphas_cumprod, t, x0) * eps
            - schedule.gather(schedule.sqrt_one_minus_alphas_cumprod, t, x0) * x0)


def predict_eps_from_v(schedule: DiffusionSchedule, x_t: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
    """ε̂ = √ᾱ_t · v̂ + √(1 − ᾱ_t) · x_t."""
    t = check_inputs(x_t, "x_t", T=schedule.T, t=t, like={"v": v})
    return (schedule.gather(schedule.sqrt_alphas_cumprod, t, x_t) * v
            + schedule.gather(schedule.sqrt_one_minus_alphas_cumprod, t, x_t) * x_t)


class EpsilonFromV(nn.Module):
    """A v-prediction network seen as an ε-prediction one: forward(x_t, t[, y]) = √ᾱ_t v̂ + √(1 − ᾱ_t) x_t.

    The samplers then derive x̂_0 from this ε̂; that is √ᾱ_t x_t − √(1 − ᾱ_t) v̂ again in real arithmetic (in
    float32 the round trip moves x̂_0 by about 1e-4 on average and a few 1e-3 at most at the report's t = 299:
    ε̂'s rounding times √(1−ᾱ_t)/√ᾱ_t ≈ 2,500; clipping and the next step's √ᾱ shrink it further). ``net`` is
    the trained network; its ``config``, ``num_classes``, ``in_channels`` and ``depth`` are read through.
    """

    def __init__(self, net: nn.Module, schedule: DiffusionSchedule):
        super().__init__()
        self.net = net
        self.schedule = schedule

    def forward(self, x_t: torch.Tensor, t, y: torch.Tensor | None = None) -> torch.Tensor:
        v = self.net(x_t, t) if y is None else self.net(x_t, t, y)
        return predict_eps_from_v(self.schedule, x_t, t, v)

    def __getattr__(self, name):
        if name in ("config", "num_classes", "in_channels", "depth"):
            return getattr(self.net, name)
        return super().__getattr__(name)


__all__ = ["PREDICTIONS", "check_prediction", "v_target", "predict_eps_from_v", "EpsilonFromV"]
