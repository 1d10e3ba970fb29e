"""Measuring a trained ε_θ: many samples for a metric (``generate``, ``sample_quality``) and its loss on
held-out images, overall (``heldout_loss``) or per timestep (``loss_per_timestep``).

Every function here is seeded: the same arguments give the same images and numbers, so the notebooks,
``helpers.summary`` and the benchmarks, which all call these, agree at the same n, seed and batch.
No plotting: the figures are in ``helpers.viz``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ._checks import check_choice, check_int
from .data import to_float
from .forward import q_sample
from .loss import diffusion_loss
from .sampling import ddim_sample, ddpm_sample
from .schedules import DiffusionSchedule

SAMPLERS = ("ddim", "ddpm")


def image_shape(model: nn.Module, shape=None) -> tuple:
    """The shape [C, H, W] of one sample of ``model``: ``shape`` if given, else 1 × 28 × 28 for a one-channel
    model (MNIST, Fashion-MNIST) and C × 32 × 32 otherwise (CIFAR-10)."""
    if shape is not None:
        return tuple(shape)
    c = model.in_channels
    return (c, 28, 28) if c == 1 else (c, 32, 32)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """``generate``'s default labels for a conditional model: 0, 1, …, K − 1, 0, 1, … (n of them, K =
    ``num_classes``)."""
    check_int(n, "n", 0)
    check_int(num_classes, "num_classes", 1)
    return torch.arange(n) % num_classes


def balanced_counts(n: int, num_classes: int) -> list[int]:
    """How many of ``balanced_labels(n, K)`` are each class c: n_c = n // K, one more for c < n % K."""
    check_int(n, "n", 0)
    check_int(num_classes, "num_classes", 1)
    return [n // num_classes + (c < n % num_classes) for c in range(num_classes)]


def generate(model, schedule, n: int, steps: int = 50, guidance_scale: float = 1.0, seed: int = 0, batch: int = 500,
             sampler: str = "ddim", labels: torch.Tensor | None = None, shape=None, **sampler_kwargs):
    """``n`` samples from x_T ~ N(0, I) drawn with a generator seeded by ``seed``, ``batch`` at a time.

    A conditional model gets ``labels`` (default: balanced over the classes, 0, 1, …, 9, 0, …);
    returns ``(images, labels)`` with labels None for an unconditional model. ``sampler``: "ddim"
    (``steps`` steps) or "ddpm" (all T steps). ``shape``: one image's [C, H, W] (``image_shape``).
    The network runs on its own device; the images come back on the CPU.
    """
    check_choice(sampler, SAMPLERS, "sampler")
    check_int(n, "n", 1)
    shape = image_shape(model, shape)
    if model.num_classes and labels is None:
        labels = balanced_labels(n, model.num_classes)
    gen = torch.Generator().manual_seed(seed)
    # x_T and the samplers' noise come from this CPU generator on any device (``noise_like``), so a seed gives the
    # same draws on a GPU; only the network's arithmetic runs there
    dev = next(model.parameters(), torch.empty(0)).device  # a network without parameters runs on the CPU
    out = []
    for i in range(0, n, batch):
        x_T = torch.randn(min(batch, n - i), *shape, generator=gen).to(dev)
        y = labels[i:i + batch].to(dev) if labels is not None else None
        s = guidance_scale if y is not None else 1.0
        if sampler == "ddim":
            samples = ddim_sample(model, schedule, x_T, steps=steps, y=y, guidance_scale=s, generator=gen,
                                  **sampler_kwargs)
        else:
            samples = ddpm_sample(model, schedule, x_T, y=y, guidance_scale=s, generator=gen, **sampler_kwargs)
        out.append(samples.cpu())
    return torch.cat(out), labels


def sample_quality(model, schedule, evaluator, n: int, sampler: str = "ddim", steps: int = 50,
                   guidance_scale: float = 1.0, seed: int = 0, batch: int = 500, per_class: bool = False,
                   **sampler_kwargs):
    """Draw ``n`` samples with ``generate`` and score them with ``evaluator`` (a
    ``helpers.metrics.QualityEvaluator``): returns ``(row, images)``, row = {sampler, steps, guidance_scale,
    n, fid, accuracy (conditional models only), seconds, seconds_per_image} plus ``sampler_kwargs``;
    ``per_class``: also correct_per_class (conditional models: how many samples of each label the classifier
    names as it, one count for each of its K classes).

    The notebooks, ``helpers.summary.evaluate`` and the benchmarks all call this, so at the same n, seed
    and batch they give the same numbers. ``steps`` is reported as T for DDPM.
    """
    t0 = time.perf_counter()
    images, labels = generate(model, schedule, n, steps=steps, guidance_scale=guidance_scale, seed=seed, batch=batch,
                              sampler=sampler, **sampler_kwargs)
    seconds = time.perf_counter() - t0
    row = {"sampler": sampler, "steps": schedule.T if sampler == "ddpm" else steps,
           "guidance_scale": guidance_scale if labels is not None else None, **sampler_kwargs, "n": n,
           "fid": evaluator.fid(images)}
    if labels is not None:
        row["accuracy"] = evaluator.accuracy(images, labels)
        if per_class:
            row["correct_per_class"] = evaluator.correct_per_class(images, labels)
    row.update(seconds=seconds, seconds_per_image=seconds / n)
    return row, images


@torch.no_grad()
def heldout_loss(model: nn.Module, schedule: DiffusionSchedule, images: torch.Tensor, labels=None, seed: int = 0,
                 batch_size: int = 500, repeats: int = 1) -> float:
    """``diffusion_loss`` (ε-MSE at random t) averaged over held-out uint8 images, with t and ε drawn from
    ``seed``: the same draws for every model, so two models' numbers compare."""
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    total, n = 0.0, 0
    model.eval()
    for _ in range(repeats):
        for i in range(0, images.shape[0], batch_size):
            x0 = to_float(images[i:i + batch_size]).to(dev)
            y = labels[i:i + batch_size].to(dev) if labels is not None else None
            total += diffusion_loss(model, schedule, x0, y, 0.0, gen).item() * x0.shape[0]
            n += x0.shape[0]
    return total / n


@torch.no_grad()
def loss_per_timestep(model, schedule, images_uint8: torch.Tensor, ts, labels=None, seed: int = 0) -> torch.Tensor:
    """mean ‖ε − ε_θ(x_t, t)‖² over the images, for each t in ``ts`` (the same ε at every t)."""
    x0 = to_float(images_uint8) if images_uint8.dtype == torch.uint8 else images_uint8
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    model.eval()
    out = []
    for t in ts:
        x_t = q_sample(schedule, x0, int(t), noise)
        eps = model(x_t, int(t), labels) if labels is not None else model(x_t, int(t))
        out.append((eps - noise).pow(2).mean())
    return torch.stack(out)


__all__ = ["SAMPLERS", "image_shape", "generate", "sample_quality", "heldout_loss", "loss_per_timestep"]
