"""Shared fixtures: a few schedules and a seeded generator. Tests run on CPU, in float64 where exactness matters."""

import matplotlib
import pytest
import torch

matplotlib.use("agg")  # headless everywhere: tests draw figures but never show them
# The tests' tensors are small: one thread avoids torch's inter-thread waits, which dominate on a
# busy 2-core machine (milliseconds per tiny op with 2 threads against microseconds with 1).
torch.set_num_threads(1)

from helpers.schedules import DiffusionSchedule  # noqa: E402
from helpers.unet import UNet  # noqa: E402

# A small modern U-Net for the code paths that need a network but not a trained one.
TINY_UNET = {"style": "modern", "base_channels": 16, "channel_mult": (1, 2), "depth": 1, "attention": False}


@pytest.fixture
def report_schedule():
    """The report's MNIST schedule: T=300, β 0.001 → 0.1."""
    return DiffusionSchedule.from_name("report", 300)


@pytest.fixture(params=[("report", 300), ("linear", 1000), ("cosine", 1000)], ids=lambda p: f"{p[0]}-{p[1]}")
def any_schedule(request):
    """Each named schedule once, at the T it is used with."""
    return DiffusionSchedule.from_name(*request.param)


@pytest.fixture(scope="module")
def tiny_cond_unet():
    """An untrained class-conditional ``TINY_UNET`` (10 classes) whose output depends on its input."""
    torch.manual_seed(0)
    m = UNet(num_classes=10, **TINY_UNET).eval()
    torch.nn.init.normal_(m.conv_out.weight, std=0.05)  # the zero-initialised output layer would ignore x_t
    return m


@pytest.fixture
def gen():
    """A fresh CPU generator with a fixed seed, so every test sees the same draws."""
    return torch.Generator().manual_seed(0)


# Timesteps that every function taking t must refuse, for a batch of B=3 and T=300.
BAD_T = {
    "negative": -1,
    "equal-T": 300,
    "above-T": 10_000,
    "python-float": 1.5,
    "float-tensor": torch.tensor([1.0, 2.0, 3.0]),
    "bool": True,
    "wrong-batch-length": torch.tensor([1, 2]),
    "shape-B1": torch.tensor([[1], [2], [3]]),
    "tensor-out-of-range": torch.tensor([0, 5, 300]),
    "tensor-negative": torch.tensor([0, -1, 2]),
    "list": [1, 2, 3],
}


@pytest.fixture(params=list(BAD_T.values()), ids=list(BAD_T))
def bad_t(request):
    """One invalid ``t`` for a batch of 3 images under a T=300 schedule."""
    return request.param
