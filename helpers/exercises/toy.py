"""Outcome-graded checkers for notebook 10: samples against the exact 2-D Gaussian mixture."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._harness import NOT_IMPLEMENTED, generator, keep_rng, passed

REPEATS = 12  # mixture-vs-mixture distances that set the limit
SIGMAS = 6.0  # limit = their mean + SIGMAS × their standard deviation
TRY = ("Try: train longer or with more hidden units, compare your ε̂ with mixture.exact_eps(schedule, x_t, t), "
       "and sample with clip_x0=False (the mixture is not confined to [−1, 1]).")


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ (within-sample terms over distinct pairs): 0 when X ~ Y."""
    a, b = a.double(), b.double()
    n, m = len(a), len(b)
    dist = lambda u, v: torch.cdist(u, v, compute_mode="donot_use_mm_for_euclid_dist")
    return float(2 * dist(a, b).mean() - dist(a, a).sum() / (n * (n - 1)) - dist(b, b).sum() / (m * (m - 1)))


def _as_points(samples, dim: int) -> torch.Tensor:
    if callable(samples) and not isinstance(samples, torch.Tensor):
        raise AssertionError("check_toy_samples takes the samples themselves (a tensor [n, 2]); "
                             "for a model use check_toy_model(model, mixture, schedule)")
    try:
        x = torch.as_tensor(samples)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"samples should be a tensor [n, {dim}], got {type(samples).__name__}") from None
    if x.dim() < 2 or x[0].numel() != dim:
        raise AssertionError(f"samples should have shape [n, {dim}], got {list(x.shape)}")
    x = x.reshape(len(x), dim).double()
    if len(x) < 50:
        raise AssertionError(f"only {len(x)} samples: draw at least a few hundred (2,000 is plenty)")
    if not torch.isfinite(x).all():
        raise AssertionError("samples contain NaN or inf: the sampler diverged (is ε̂ finite at every t? "
                             "is ᾱ_t read at the right index?)")
    return x


def _diagnosis(x: torch.Tensor, ref: torch.Tensor, mixture) -> list[str]:
    """What differs: the share of samples per mode and the spread around the nearest mode."""
    notes = []
    means = getattr(mixture, "means", None)
    if means is None:
        return notes
    means = torch.as_tensor(means, dtype=torch.float64)
    near = lambda p: torch.cdist(p, means).min(dim=1)
    (dx, kx), (dr, kr) = near(x), near(ref)
    share_x = torch.bincount(kx, minlength=len(means)).double() / len(x)
    share_r = torch.bincount(kr, minlength=len(means)).double() / len(ref)
    for k in range(len(means)):
        if share_x[k] < 0.5 * share_r[k] or share_x[k] > 1.5 * share_r[k] + 0.02:
            where = ", ".join(f"{v:.2g}" for v in means[k].tolist())
            notes.append(f"mode {k} at ({where}) gets {share_x[k]:.0%} of the samples, the mixture {share_r[k]:.0%}")
    ratio = float(dx.mean() / dr.mean())
    if ratio > 1.25:
        notes.append(f"samples lie {ratio:.1f}× as far from their nearest mode as the mixture's (too spread out)")
    elif ratio < 0.8:
        notes.append(f"samples lie {ratio:.1f}× as far from their nearest mode as the mixture's (too concentrated)")
    return notes[:4]


@keep_rng
def check_toy_samples(samples, mixture, seed: int = 0) -> None:
    """Pass if ``samples`` [n, D] are as close to ``mixture`` (a ``helpers.toy.GaussianMixture``) as a second sample
    of the mixture would be: the energy distance to n mixture draws stays below the mean + 6 standard deviations
    of that distance between two independent n-samples of the mixture."""
    x = _as_points(samples, int(getattr(mixture, "D", 2)))
    n, gen = len(x), generator(seed)
    ref = mixture.sample(n, generator=gen).double()
    null = torch.tensor([energy_distance(mixture.sample(n, generator=gen), mixture.sample(n, generator=gen))
                         for _ in range(REPEATS)])
    limit = float(null.mean() + SIGMAS * null.std())
    d = energy_distance(x, ref)
    if d <= limit:
        passed("toy samples", f"energy distance {d:.4f} to the mixture, limit {limit:.4f} at n = {n}")
        return
    lines = [f"your {n} samples are too far from the mixture: energy distance {d:.4f}, while two samples of the "
             f"mixture itself are {float(null.mean()):.4f} ± {float(null.std()):.4f} apart (limit {limit:.4f})"]
    lines += _diagnosis(x, ref, mixture)
    raise AssertionError("; ".join(lines) + ". " + TRY)


class _AsImages(nn.Module):
    """A points model ``model(x [n, D], t)`` seen by the image samplers as taking [n, D, 1, 1]."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.num_classes = getattr(model, "num_classes", None)

    def forward(self, x, t, y=None):
        points = x.reshape(len(x), -1)
        eps = self.model(points, t) if y is None else self.model(points, t, y)
        if not isinstance(eps, torch.Tensor) or tuple(eps.shape) != tuple(points.shape):
            got = list(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
            raise AssertionError(f"the model should return ε̂ of shape {list(points.shape)} (like x_t), got {got}")
        return eps.reshape(x.shape)


@keep_rng
def check_toy_model(model, mixture, schedule, n: int = 2000, seed: int = 0, clip_x0: bool = False) -> None:
    """Draw n samples with ``helpers.ddpm_sample`` from ``model(x_t [n, D], t)`` → ε̂ and grade them with
    ``check_toy_samples``. x̂_0 is not clipped by default: the mixture need not lie in [−1, 1]."""
    from .. import ddpm_sample  # lazily: the samplers are not needed to import the checkers

    dim = int(getattr(mixture, "D", 2))
    gen = generator(seed + 1)
    x_T = torch.randn(n, dim, 1, 1, generator=gen)
    try:
        was_training = getattr(model, "training", False)
        if isinstance(model, nn.Module):
            model.eval()
        x0 = ddpm_sample(_AsImages(model), schedule, x_T, clip_x0=clip_x0, generator=gen)
    except NotImplementedError:
        raise AssertionError(NOT_IMPLEMENTED) from None
    except AssertionError:
        raise
    except Exception as err:
        raise AssertionError(f"sampling from the model failed: {type(err).__name__}: {err}") from err
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    if not math.isfinite(float(x0.abs().max())):
        raise AssertionError("the samples contain NaN or inf: the model's ε̂ is not finite at some t")
    check_toy_samples(x0.reshape(n, dim), mixture, seed=seed)
