"""Sample quality without downloading a network: FID and KID in a small classifier's feature space,
and class accuracy of labelled samples.

    FD(a, b) = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})        (Fréchet distance of Gaussians)
    KID(a, b) = MMD²_u(a, b) with k(u, v) = (uᵀv / d + 1)³              (Bińkowski et al. 2018)

FID is biased: two samples of n points of one distribution score above zero, about (2d + d(d+1)/2)/n for
standard Gaussian features in d dimensions, so FIDs are only comparable at equal n. KID's estimator is
unbiased at every n (its expected value is 0 for one distribution).

Any score is read beside references computed by the same code at the same sample size: real
training images against the test set (the floor) and real images with N(0, 0.05²) pixel noise
(visible grain); notebook 09 adds blur.

Two gauges for the sampling notebooks: ``laplacian_energy`` (pixel-scale energy, e.g. leftover noise) and
``class_spread`` (diversity within classes in a feature space). For an unconditional model, whose samples have
no intended class, ``chi2_homogeneity`` tests whether their predicted classes come in the test set's proportions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_choice, check_int
from .classifier import Classifier, load_classifier, predict
from .data import load_dataset, to_float


@torch.no_grad()
def classifier_features(model: Classifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Penultimate features [N, D] (float64) of float images in [−1, 1]."""
    dev = next(model.parameters()).device
    return torch.cat([model.features(images[i:i + batch_size].to(dev)).double().cpu()
                      for i in range(0, images.shape[0], batch_size)])


def check_symmetric(m, name: str) -> None:
    """``m`` a float square matrix [D, D] equal to its transpose up to rounding, else ValueError naming it."""
    if not isinstance(m, torch.Tensor) or m.dim() != 2 or m.shape[0] != m.shape[1] or not m.dtype.is_floating_point:
        got = f"shape {tuple(m.shape)}, dtype {m.dtype}" if isinstance(m, torch.Tensor) else type(m).__name__
        raise ValueError(f"{name} must be a float square matrix [D, D], got {got}")
    # eigh reads only one triangle, so an asymmetric m would give a wrong root without a word
    if m.numel() and (m - m.T).abs().max() > 1e-6 * m.abs().max():
        raise ValueError(f"{name} must be symmetric (a covariance), but differs from its transpose")


def sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    """M^{1/2} = V diag(√λ) Vᵀ of a symmetric PSD matrix M = V diag(λ) Vᵀ; rounding's λ < 0 are taken as 0."""
    check_symmetric(m, "m")
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """FD between Gaussians fitted to two feature sets [N, D].

    Tr((Σ_a Σ_b)^{1/2}) is computed as Tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}), a symmetric PSD root.
    """
    a, b = check_feature_sets(features_a, features_b, "features_a", "features_b")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = sqrtm_psd(cov_a)
    inner = root_a @ cov_b @ root_a
    # symmetric in exact arithmetic, not after rounding: where the supports of a and b are orthogonal, inner is
    # 0 plus rounding and all asymmetry; its symmetric part is the same matrix up to that rounding
    cross = sqrtm_psd((inner + inner.T) / 2)
    fd = (mu_a - mu_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * torch.trace(cross)
    return float(fd.clamp(min=0))


def check_feature_sets(a, b, name_a: str, name_b: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float feature sets [N, D] with the same D and at least 2 rows each, returned as float64."""
    for x, name in ((a, name_a), (b, name_b)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.dtype.is_floating_point:
            got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a float tensor of features [N, D], got {got}")
        if x.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 rows (feature vectors), got {x.shape[0]}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_b} must have the feature dimension of {name_a} ({a.shape[1]}), got {b.shape[1]}")
    return a.double(), b.double()


def _check_kid_arguments(features_x, features_y, num_subsets, subset_size) -> tuple[torch.Tensor, torch.Tensor]:
    for value, name in ((num_subsets, "num_subsets"), (subset_size, "subset_size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return check_feature_sets(features_x, features_y, "features_x", "features_y")


def polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """k(a_i, b_j) = (a_iᵀ b_j / d + 1)³ for every pair of rows: [N, D] × [M, D] → [N, M]."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def mmd2_unbiased(features_x: torch.Tensor, features_y: torch.Tensor) -> torch.Tensor:
    """The unbiased estimator of MMD² with the cubic kernel k, for x of m rows and y of n rows:

        MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (n(n−1)) − 2 Σ_{i,j} k(x_i, y_j) / (mn)

    The diagonals k(x_i, x_i) are left out (they would bias it upwards), so the estimate can be negative.
    Returns a 0-d float64 tensor.
    """
    x, y = check_feature_sets(features_x, features_y, "features_x", "features_y")
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_x = (k_xx.sum() - k_xx.trace()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.trace()) / (n * (n - 1))
    return within_x + within_y - 2 * polynomial_kernel(x, y).mean()


def kid(features_x: torch.Tensor, features_y: torch.Tensor, num_subsets: int = 100, subset_size: int = 1000,
        generator: torch.Generator | None = None) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018), here in the classifier's feature space (as the FID):
    ``mmd2_unbiased`` averaged over ``num_subsets`` random subsets. Returns ``(estimate, standard_error)``.

    Each subset takes s = min(subset_size, N_x, N_y) rows of each set, without replacement within the
    subset (``torch.randperm`` with ``generator``). The estimate is the mean over subsets; the standard
    error is their std / √num_subsets (torchmetrics reports the std itself). Different subsets overlap, so
    this s.e. is an approximation: it measures the error of averaging over subsets and matches the
    estimator's sampling error only when overlaps are rare (num_subsets · s² ≪ N², roughly); when s = N_x
    = N_y every subset is the whole set and it is 0. With one subset it is nan. Computed in float64.

    In particular, when N_x ≤ subset_size (a notebook's few hundred samples against the 10,000 test images)
    every subset holds all of ``features_x``: the s.e. then covers only the choice of the test images, not
    the draw of the N_x samples, and understates the spread between independent draws several-fold
    (notebook 06 measured 35 against a mean s.e. of 7 at N_x = 48). Compare such numbers with the spread
    over repeated draws, or at N_x of several hundred and more.
    """
    x, y = _check_kid_arguments(features_x, features_y, num_subsets, subset_size)
    s = min(subset_size, x.shape[0], y.shape[0])
    estimates = torch.stack([
        mmd2_unbiased(x[torch.randperm(x.shape[0], generator=generator)[:s]],
                      y[torch.randperm(y.shape[0], generator=generator)[:s]])
        for _ in range(num_subsets)])
    se = estimates.std() / num_subsets ** 0.5 if num_subsets > 1 else torch.tensor(float("nan"))
    return float(estimates.mean()), float(se)


def class_accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images that the classifier assigns to their intended label."""
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"images and labels differ in length: {images.shape[0]} and {labels.shape[0]}")
    return float((predict(model, images) == labels.cpu()).float().mean())


def correct_per_class(model: Classifier, images: torch.Tensor, labels: torch.Tensor) -> list[int]:
    """How many images of each intended label the classifier assigns to that label, [K] counts (K: the
    classifier's classes); their sum over ``len(labels)`` is ``class_accuracy``."""
    num_classes = model.config["num_classes"]
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"images and labels differ in length: {images.shape[0]} and {labels.shape[0]}")
    labels = labels.cpu()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (the classifier's classes), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    right = predict(model, images) == labels
    return torch.bincount(labels[right], minlength=num_classes).tolist()


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Blur each channel with a Gaussian kernel of std ``sigma`` pixels (the "blur" reference)."""
    radius = max(1, int(3 * sigma))
    k = torch.exp(-torch.arange(-radius, radius + 1, dtype=x.dtype) ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).to(x.device)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
                    groups=c)


def reference_indices(train_labels: torch.Tensor, n: int, generator: torch.Generator,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
    """Which n training images a reference holds: the first n of a random permutation (drawn with
    ``generator``), or with ``labels`` [n] image i of class ``labels[i]``, each class's images taken in the
    order of the same permutation."""
    check_int(n, "n", 1, len(train_labels))  # more would silently give fewer images than asked for
    perm = torch.randperm(len(train_labels), generator=generator)
    if labels is None:
        return perm[:n]
    if not isinstance(labels, torch.Tensor) or labels.shape != (n,):
        raise ValueError(f"labels must be a tensor of shape [{n}] (one class per reference image), got "
                         f"{tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    idx = torch.empty(n, dtype=torch.long)
    for c in labels.unique():
        want = (labels == c).nonzero().flatten()
        have = perm[train_labels[perm] == c]
        if len(have) < len(want):
            raise ValueError(f"labels: class {int(c)} asked for {len(want)} images, the training set holds {len(have)}")
        idx[want] = have[:len(want)]
    return idx


class QualityEvaluator:
    """FID and KID in classifier space against a dataset's real test set, with the references beside them.

    >>> ev = QualityEvaluator("fashion-mnist")
    >>> ev.fid(samples); ev.references(n=2000)
    >>> ev.kid(samples); ev.references(n=2000, metric="kid")
    """

    def __init__(self, dataset: str = "fashion-mnist", device="cpu", test_images: int | None = None):
        self.dataset = dataset
        self.classifier = load_classifier(dataset, device)
        test = load_dataset(dataset, "test")
        images = test.images if test_images is None else test.images[:test_images]
        self.test_images_uint8 = images  # as stored: a float copy would hold 4× the memory for a rare use
        self.test_features = classifier_features(self.classifier, to_float(images))
        self.test_source = test.source

    def fid(self, images: torch.Tensor) -> float:
        """FID in classifier space of float images in [−1, 1] against the test set."""
        return frechet_distance(classifier_features(self.classifier, images), self.test_features)

    def kid(self, images: torch.Tensor, num_subsets: int = 100, subset_size: int = 1000,
            generator: torch.Generator | None = None) -> tuple[float, float]:
        """KID in classifier space of float images in [−1, 1] against the test set: ``(estimate, s.e.)``
        (see ``kid``)."""
        return kid(classifier_features(self.classifier, images), self.test_features, num_subsets, subset_size,
                   generator)

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        return class_accuracy(self.classifier, images, labels)

    def correct_per_class(self, images: torch.Tensor, labels: torch.Tensor) -> list[int]:
        return correct_per_class(self.classifier, images, labels)

    def class_counts(self, images: torch.Tensor | None = None) -> torch.Tensor:
        """How many of ``images`` (default: the real test set) the classifier assigns to each class, [K]."""
        images = to_float(self.test_images_uint8) if images is None else images
        return torch.bincount(predict(self.classifier, images), minlength=self.classifier.config["num_classes"])

    def references(self, n: int, seed: int = 0, noise_std: float = 0.05, blur_sigma: float | None = None,
                   metric: str = "fid", labels: torch.Tensor | None = None, **kid_options) -> dict:
        """Scores of real images at sample size ``n``: "floor" (n training images), "grain" (the same
        with N(0, noise_std²) added, clamped to [−1, 1]) and, if ``blur_sigma``, "blur".

        ``labels``: None draws the images at random (for an unconditional model's samples); a conditional
        model's samples are drawn for labels (``generate``: 0, 1, …, 9, 0, …), and ``labels`` [n] gives the
        references the same classes (``reference_indices``), since unequal class counts alone move a score.
        ``metric``: "fid" (each value a float) or "kid" (each value ``(estimate, s.e.)``, subsets drawn
        with a generator seeded by ``seed``; ``kid_options``: ``num_subsets``, ``subset_size``).
        """
        check_choice(metric, ("fid", "kid"), "metric")
        train = load_dataset(self.dataset, "train")
        gen = torch.Generator().manual_seed(seed)
        real = to_float(train.images[reference_indices(train.labels, n, gen, labels)])
        images = {"floor": real, "grain": (real + noise_std * torch.randn(real.shape, generator=gen)).clamp(-1, 1)}
        if blur_sigma:
            images["blur"] = gaussian_blur(real, blur_sigma)
        if metric == "fid":
            return {name: self.fid(x) for name, x in images.items()}
        return {name: self.kid(x, generator=torch.Generator().manual_seed(seed), **kid_options)
                for name, x in images.items()}


@torch.no_grad()
def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, k: int = 1, batch_size: int = 256,
                       chunk_size: int = 8192):
    """The ``k`` nearest images of ``reference`` to each query in pixel space (Euclidean distance).

    Both are images [N, C, H, W]: floats in [−1, 1], or uint8 (converted with ``to_float``, a chunk at a
    time, so that 60,000 training images cost tens of MB, not hundreds). Returns ``(distances [Nq, k],
    indices [Nq, k])``, nearest first. A memorisation check: a sample much closer to its nearest training
    image than real test images are to theirs is a copy.
    """
    if queries.dim() != 4 or reference.dim() != 4 or queries.shape[1:] != reference.shape[1:]:
        raise ValueError(f"queries and reference must be [N, C, H, W] with the same C, H, W, got "
                         f"{tuple(queries.shape)} and {tuple(reference.shape)}")
    if not 1 <= k <= reference.shape[0]:
        raise ValueError(f"k must be in 1 … {reference.shape[0]} (the number of reference images), got {k}")
    if queries.dtype == torch.uint8:
        queries = to_float(queries)
    dists, idxs = [], []
    for i in range(0, queries.shape[0], batch_size):
        q = queries[i:i + batch_size].flatten(1).double()
        q_sq = q.pow(2).sum(1, keepdim=True)
        best_d, best_j = [], []
        for j in range(0, reference.shape[0], chunk_size):
            r = reference[j:j + chunk_size]
            r = (to_float(r) if r.dtype == torch.uint8 else r).flatten(1).double()
            # ‖q − r‖² = ‖q‖² − 2 q·r + ‖r‖², in float64 so that an exact copy gives 0
            d2 = (q_sq - 2 * q @ r.T + r.pow(2).sum(1)).clamp(min=0)
            d, jj = d2.topk(min(k, r.shape[0]), dim=1, largest=False)
            best_d.append(d)
            best_j.append(jj + j)
        d, pick = torch.cat(best_d, 1).topk(k, dim=1, largest=False)
        dists.append(d.sqrt())
        idxs.append(torch.cat(best_j, 1).gather(1, pick))
    return torch.cat(dists).float(), torch.cat(idxs)


def memorisation_check(samples: torch.Tensor, train_images: torch.Tensor, test_images: torch.Tensor) -> dict:
    """Median distance from samples to their nearest training image, beside the same for real test images
    (which the model never saw): ``ratio`` = samples / test. A ratio well below 1 means copying."""
    d_samples = nearest_neighbours(samples, train_images)[0][:, 0]
    d_test = nearest_neighbours(test_images, train_images)[0][:, 0]
    return {"sample_to_train": float(d_samples.median()), "test_to_train": float(d_test.median()),
            "ratio": float(d_samples.median() / d_test.median()), "n": int(samples.shape[0])}


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean squared discrete Laplacian per image, [B]:  E = mean_{pixels} (Δx)²,  Δx = x_↑ + x_↓ + x_← + x_→ − 4x.

    Computed on the interior only (no padding), so a constant or linear ramp gives 0 and white noise of
    standard deviation σ gives 20 σ² on average (4² + 4·1² times σ²): a gauge of pixel-scale noise.
    """
    if x.dim() != 4:
        raise ValueError(f"x must have shape [B, C, H, W], got shape {tuple(x.shape)}")
    c = x.shape[1]
    k = _LAPLACIAN.to(dtype=x.dtype, device=x.device).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c).pow(2).mean(dim=(1, 2, 3))


def chi2_homogeneity(counts_a: torch.Tensor, counts_b: torch.Tensor) -> tuple[float, int, float]:
    """Pearson's test that two sets of class counts [K] come from the same class proportions:
    χ² = Σ_{g, c} (O_gc − E_gc)² / E_gc  with  E_gc = n_g m_c / N  (n_g: set g's total, m_c: class c's, N: all),
    on df = (classes seen − 1) degrees of freedom; returns ``(χ², df, p)``, p = P(χ²_df ≥ χ²) = Q(df / 2, χ² / 2),
    the χ² approximation of the statistic's law, good when every E_gc is about 5 or more."""
    if counts_a.dim() != 1 or counts_a.shape != counts_b.shape:
        raise ValueError(f"counts_a and counts_b must be [K] of one length, got {tuple(counts_a.shape)} and "
                         f"{tuple(counts_b.shape)}")
    observed = torch.stack([counts_a, counts_b]).double()
    if (observed < 0).any() or (observed.sum(1) == 0).any():
        raise ValueError("counts_a and counts_b must be non-negative, each with a positive total")
    observed = observed[:, observed.sum(0) > 0]  # a class neither set has adds nothing and no degree of freedom
    expected = observed.sum(1, keepdim=True) * observed.sum(0, keepdim=True) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    df = observed.shape[1] - 1
    p = torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64), chi2 / 2) if df > 0 else torch.tensor(1.0)
    return float(chi2), df, float(p)


def class_spread(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Diversity within classes: the mean over classes c of  Σ_{i: y_i = c} ‖f_i − μ_c‖² / (N_c − 1), the trace of
    each class's (unbiased) feature covariance, for features [N, D] and labels [N]. Unbiased so that it reads the
    same at any n; classes with fewer than two members are left out."""
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features must be [N, D] and labels [N], got {tuple(features.shape)} and "
                         f"{tuple(labels.shape)}")
    features = features.double()
    spreads = []
    for c in labels.unique():
        f = features[labels == c]
        if len(f) > 1:
            spreads.append((f - f.mean(0)).pow(2).sum() / (len(f) - 1))
    if not spreads:
        raise ValueError("class_spread needs a class with at least two members")
    return float(torch.stack(spreads).mean())
