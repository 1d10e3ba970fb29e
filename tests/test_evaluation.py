"""generate() and loss_per_timestep(), the code paths behind the notebooks' metrics and benchmarks."""

import pytest
import torch
from conftest import TINY_UNET as TINY

from helpers.data import sample_images, to_float
from helpers.evaluation import balanced_counts, balanced_labels, generate, loss_per_timestep
from helpers.forward import q_sample
from helpers.schedules import DiffusionSchedule
from helpers.unet import UNet


@pytest.fixture(scope="module")
def schedule():
    return DiffusionSchedule.from_name("report", 100)


def test_generate_balances_labels_and_is_seeded(tiny_cond_unet, schedule):
    x, y = generate(tiny_cond_unet, schedule, 12, steps=3, seed=1, batch=5)
    assert x.shape == (12, 1, 28, 28) and torch.equal(y, torch.arange(12) % 10)
    x2, _ = generate(tiny_cond_unet, schedule, 12, steps=3, seed=1, batch=5)
    x3, _ = generate(tiny_cond_unet, schedule, 12, steps=3, seed=2, batch=5)
    assert torch.equal(x, x2) and not torch.equal(x, x3)
    assert x.min() >= -1 - 1e-6 and x.max() <= 1 + 1e-6


def test_balanced_labels_and_their_counts():
    assert balanced_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert balanced_counts(7, 3) == [3, 2, 2] and balanced_counts(2000, 10) == [200] * 10
    assert balanced_counts(2, 5) == [1, 1, 0, 0, 0] and balanced_counts(0, 4) == [0] * 4
    for n in range(0, 40):  # the counts are the labels' own, class by class, absent classes 0
        for k in range(1, 12):
            assert balanced_counts(n, k) == torch.bincount(balanced_labels(n, k), minlength=k).tolist()


@pytest.mark.parametrize("n, k, name", [(-1, 3, "n"), (3, 0, "num_classes"), (2.0, 3, "n"), (3, True, "num_classes")])
def test_balanced_labels_refuse_bad_sizes(n, k, name):
    for fn in (balanced_labels, balanced_counts):
        with pytest.raises(ValueError, match=f"{name} must be an int"):
            fn(n, k)


def test_generate_unconditional_and_ddpm(schedule):
    torch.manual_seed(0)
    m = UNet(**TINY).eval()
    x, y = generate(m, schedule, 3, sampler="ddpm", seed=0)
    assert y is None and x.shape == (3, 1, 28, 28)


def test_generate_rejects_bad_arguments(tiny_cond_unet, schedule):
    with pytest.raises(ValueError, match="sampler"):
        generate(tiny_cond_unet, schedule, 2, sampler="euler")
    with pytest.raises(ValueError, match="n must be"):
        generate(tiny_cond_unet, schedule, 0)


def test_loss_per_timestep_matches_its_definition(tiny_cond_unet, schedule):
    images, labels = sample_images(4, as_uint8=True)
    ts = [0, 50, 99]
    got = loss_per_timestep(tiny_cond_unet, schedule, images, ts, labels=labels, seed=3)
    x0 = to_float(images)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))
    for t, value in zip(ts, got):
        with torch.no_grad():
            eps = tiny_cond_unet(q_sample(schedule, x0, t, noise), t, labels)
        assert value.item() == pytest.approx((eps - noise).pow(2).mean().item(), rel=1e-5)


def test_image_shape_default_and_given(tiny_cond_unet, schedule):
    from helpers.evaluation import image_shape

    assert image_shape(tiny_cond_unet) == (1, 28, 28)
    assert image_shape(UNet(in_channels=3, **TINY)) == (3, 32, 32)
    assert image_shape(tiny_cond_unet, [1, 8, 8]) == (1, 8, 8)
    x, _ = generate(tiny_cond_unet, schedule, 2, steps=2, shape=(1, 8, 8))
    assert x.shape == (2, 1, 8, 8)


def test_heldout_loss_is_the_seeded_mean_of_the_training_loss(tiny_cond_unet, schedule):
    from helpers.evaluation import heldout_loss
    from helpers.loss import diffusion_loss

    images, labels = sample_images(6, as_uint8=True)
    got = heldout_loss(tiny_cond_unet, schedule, images, labels, seed=5, batch_size=4)
    assert got == heldout_loss(tiny_cond_unet, schedule, images, labels, seed=5, batch_size=4)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        parts = [diffusion_loss(tiny_cond_unet, schedule, to_float(images[i:i + 4]), labels[i:i + 4],
                                generator=gen).item() for i in (0, 4)]
    assert got == pytest.approx((parts[0] * 4 + parts[1] * 2) / 6, rel=1e-6)
