"""The packaged Fashion-MNIST sample and the uint8 ↔ [−1, 1] transforms."""

import pytest
import torch

from helpers.data import sample_images, to_float, to_uint8


def test_all_images_shape_range_and_labels():
    x, y = sample_images()
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (500,) and y.dtype == torch.int64
    assert x.min() >= -1 and x.max() <= 1
    assert x.min() == -1 and x.max() == 1  # real images use the whole range
    assert torch.bincount(y, minlength=10).tolist() == [50] * 10


def test_uint8_round_trip():
    u, _ = sample_images(as_uint8=True)
    assert u.dtype == torch.uint8 and u.shape == (500, 1, 28, 28)
    x, _ = sample_images()
    assert torch.equal(to_float(u), x)
    assert torch.equal(to_uint8(x), u)


def test_to_uint8_clamps_and_rounds():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 2.5, 1 / 127.5 - 1 + 0.4 / 127.5]).reshape(1, 1, 1, 6)
    assert to_uint8(x).flatten().tolist() == [0, 0, 128, 255, 255, 1]


def test_first_n_without_seed():
    x, y = sample_images(8)
    x_all, y_all = sample_images()
    assert torch.equal(x, x_all[:8]) and torch.equal(y, y_all[:8])


@pytest.mark.parametrize("classes", [3, [0, 9], (2, 5, 7)])
def test_classes_filter(classes):
    wanted = {classes} if isinstance(classes, int) else set(classes)
    x, y = sample_images(classes=classes)
    assert set(y.tolist()) == wanted
    assert x.shape[0] == 50 * len(wanted)
    x_few, y_few = sample_images(10, classes=classes, seed=0)
    assert x_few.shape == (10, 1, 28, 28) and set(y_few.tolist()) <= wanted


def test_seed_reproducible_and_distinct():
    a, ya = sample_images(16, seed=3)
    b, yb = sample_images(16, seed=3)
    c, _ = sample_images(16, seed=4)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)
    assert not torch.equal(a, sample_images(16)[0])  # a seed picks a random subset, not the first n


def test_seeded_full_draw_is_a_permutation():
    x, y = sample_images(500, seed=1)
    x_all, _ = sample_images()
    assert torch.bincount(y, minlength=10).tolist() == [50] * 10
    # Same multiset of images: sort rows lexicographically via a stable key (the bytes of each image).
    key = lambda imgs: sorted(bytes(to_uint8(im).flatten().tolist()) for im in imgs)
    assert key(x) == key(x_all)


@pytest.mark.parametrize("n", [0, -1, 501, 1.5, "8", True])
def test_bad_n_raises(n):
    with pytest.raises(ValueError, match=r"^n\b"):
        sample_images(n)


def test_n_larger_than_filtered_classes_raises():
    with pytest.raises(ValueError, match=r"^n\b"):
        sample_images(51, classes=4)


@pytest.mark.parametrize("classes", [10, -1, [0, 11], ["3"], [1.0]])
def test_bad_classes_raise(classes):
    with pytest.raises(ValueError, match=r"^classes\b"):
        sample_images(classes=classes)


def test_to_float_refuses_float_input():
    with pytest.raises(ValueError, match=r"^images\b"):
        to_float(torch.zeros(1, 1, 2, 2))
