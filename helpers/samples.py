"""The Fashion-MNIST images that ship inside helpers (helpers/assets, with their licence notice).

- ``fashion_mnist_sample.npz``: 500 test images, the first 50 of each class (``test_indices``);
- ``fashion_mnist_train_sample.npz``: 1,000 training images, the first 100 of each class (``train_indices``).

Notebooks 01–04 use the test sample; in quick mode ``load_dataset("fashion-mnist", split)`` falls back to
both when no full copy is on the machine (``packaged_split``).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

SAMPLE_FILE = "fashion_mnist_sample.npz"
TRAIN_SAMPLE_FILE = "fashion_mnist_train_sample.npz"


def _arrays(file: str):
    with resources.files("helpers.assets").joinpath(file).open("rb") as f:
        z = np.load(f)
        return z["images"], z["labels"]


def packaged_split(split: str):
    """(images uint8 [N, 1, 28, 28], labels int64 [N]) of the packaged "train" (1,000) or "test" (500) sample."""
    images, labels = _arrays({"train": TRAIN_SAMPLE_FILE, "test": SAMPLE_FILE}[split])
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def sample_images(n: int | None = None, classes=None, seed: int | None = None, as_uint8: bool = False):
    """Real Fashion-MNIST test images packaged with helpers (500: 50 per class), no download needed.

    Returns ``(x, y)``: x float [n, 1, 28, 28] in [−1, 1] (uint8 with ``as_uint8``), y int64 [n].
    ``classes`` keeps only those labels; ``seed`` picks a random subset, otherwise the first n.
    """
    from .data import to_float

    images, labels = packaged_split("test")
    if classes is not None:
        classes = [classes] if isinstance(classes, int) else list(classes)
        bad = [c for c in classes if isinstance(c, bool) or not (isinstance(c, int) and 0 <= c < 10)]
        if bad:
            raise ValueError(f"classes must be ints in 0..9, got {bad}")
        keep = torch.isin(labels, torch.tensor(classes))
        images, labels = images[keep], labels[keep]
    total = images.shape[0]
    if n is None:
        n = total
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise ValueError(f"n must be an int in 1..{total}, got {n!r}")
    if seed is None:
        idx = torch.arange(n)
    else:
        idx = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]
    x = images[idx]
    return (x if as_uint8 else to_float(x)), labels[idx]
