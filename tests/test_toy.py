"""helpers.toy: the Gaussian mixture's exact denoiser against Monte Carlo, its score against autograd, the
reverse posterior, the exact model inside the samplers, guidance, argument checks; helpers.toy_net briefly.

Monte Carlo tolerances are 5 standard errors estimated from the same draws: with about a hundred such
comparisons in this file, a correct implementation fails one with probability below 1e-4, while each test
also checks that its standard error is small enough to catch a plausible mistake.
"""

import math

import pytest
import torch

from helpers import DiffusionSchedule, report_beta_schedule
from helpers.toy import ExactDenoiser, GaussianMixture

F64 = torch.float64
Z = 5.0  # standard errors allowed


@pytest.fixture(scope="module")
def schedule():
    """The report's schedule at T=300: ᾱ from 0.999 down to 1.5e-7."""
    return DiffusionSchedule(report_beta_schedule(300))


@pytest.fixture(scope="module")
def mixture():
    """Three well-separated components (gaps of >= 6 standard deviations), unequal weights and stds."""
    return GaussianMixture([[-0.5, -0.4], [0.5, -0.3], [0.0, 0.55]], [0.1, 0.07, 0.12], [0.5, 0.3, 0.2])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def noised(mixture, schedule, n, t, seed=0):
    """(x_0, ε, x_t) with x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, in float64; t an int or LongTensor [n]."""
    g = gen(seed)
    x0 = mixture.sample(n, generator=g).double()
    eps = torch.randn(n, mixture.D, generator=g, dtype=F64)
    abar = schedule.alphas_cumprod[torch.as_tensor(t)].reshape(-1, 1)
    return x0, eps, abar.sqrt() * x0 + (1 - abar).sqrt() * eps


def gaussian_fit_eps(mixture, schedule, x_t, t):
    """A plausible wrong answer: E[ε | x_t] for the Gaussian with the mixture's mean and covariance."""
    abar = schedule.alphas_cumprod[t]
    cov_t = abar * mixture.covariance + (1 - abar) * torch.eye(mixture.D, dtype=F64)
    return (1 - abar).sqrt() * torch.linalg.solve(cov_t, (x_t - abar.sqrt() * mixture.mean).T).T


# ----------------------------------------------------------------------------------------------
# the mixture itself
# ----------------------------------------------------------------------------------------------

def test_sample_has_the_mixture_moments_and_weights(mixture):
    n = 20000
    x, k = mixture.sample(n, generator=gen(1), return_labels=True)
    assert x.dtype == torch.float32 and tuple(x.shape) == (n, 2) and k.dtype == torch.long
    x = x.double()
    se_mean = (torch.diagonal(mixture.covariance) / n).sqrt()
    assert ((x.mean(0) - mixture.mean).abs() < Z * se_mean).all()
    freq = torch.bincount(k, minlength=3).double() / n
    assert ((freq - mixture.weights).abs() < Z * (mixture.weights * (1 - mixture.weights) / n).sqrt()).all()
    for j in range(3):  # each component's own spread: var of x_0 given k is ς_k² per coordinate
        xs = x[k == j]
        var = xs.var(0)
        assert ((var / mixture.stds[j] ** 2 - 1).abs() < Z * math.sqrt(2 / len(xs))).all()
        assert ((xs.mean(0) - mixture.means[j]).abs() < Z * mixture.stds[j] / math.sqrt(len(xs))).all()
    assert torch.equal(mixture.sample(5, generator=gen(3)), mixture.sample(5, generator=gen(3)))


def test_mean_and_covariance_match_a_direct_computation():
    m = GaussianMixture([[1.0, 0.0], [0.0, 2.0]], [0.5, 1.0], [0.25, 0.75])
    assert torch.allclose(m.mean, torch.tensor([0.25, 1.5], dtype=F64))
    # E[x xᵀ] = Σ w (s² I + μμᵀ): diag (0.25·(0.25+1) + 0.75·1, 0.25·0.25 + 0.75·(1+4)), off-diagonal 0
    second = torch.tensor([[0.3125 + 0.75, 0.0], [0.0, 0.0625 + 3.75]], dtype=F64)
    assert torch.allclose(m.covariance, second - torch.outer(m.mean, m.mean))


def test_log_prob_of_the_data_is_a_normalised_density(mixture):
    h = 0.01
    g = torch.arange(-1.5, 1.5, h, dtype=F64) + h / 2
    grid = torch.cartesian_prod(g, g)
    assert math.isclose(mixture.log_prob(grid).exp().sum().item() * h * h, 1.0, abs_tol=1e-4)
    one = GaussianMixture([[0.3, -0.2]], [0.5])
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)
    direct = -((x - one.means) ** 2).sum(1) / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    assert torch.allclose(one.log_prob(x), direct)


# ----------------------------------------------------------------------------------------------
# the exact denoiser against Monte Carlo
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [0, 10, 40, 100, 299])
def test_exact_eps_and_x0_match_importance_sampling(mixture, schedule, t):
    """E[ε | x_t] by self-normalised importance sampling: x_0^i from the data, weights N(x_t; √ᾱ x_0^i, (1−ᾱ) I),
    ε^i = (x_t − √ᾱ x_0^i)/√(1−ᾱ); delta-method standard errors from the same weights."""
    abar = schedule.alphas_cumprod[t]
    _, _, queries = noised(mixture, schedule, 4, t, seed=10 + t)  # typical points of q_t
    x0 = mixture.sample(200_000, generator=gen(20 + t)).double()
    exact_eps = mixture.exact_eps(schedule, queries, t)
    exact_x0 = mixture.exact_x0(schedule, queries, t)
    wrong = gaussian_fit_eps(mixture, schedule, queries, t)
    worst_wrong = 0.0
    for q, e_eps, e_x0, w_eps in zip(queries, exact_eps, exact_x0, wrong):
        logw = -((q - abar.sqrt() * x0) ** 2).sum(1) / (2 * (1 - abar))
        w = torch.softmax(logw, 0)
        assert 1 / (w**2).sum() > 500, "too few effective samples for a meaningful check"
        for est_of, exact in (((q - abar.sqrt() * x0) / (1 - abar).sqrt(), e_eps), (x0, e_x0)):
            est = (w[:, None] * est_of).sum(0)
            se = ((w[:, None] ** 2) * (est_of - est) ** 2).sum(0).sqrt()
            assert ((est - exact).abs() < Z * se + 1e-9).all(), (t, est, exact, se)
        est_eps = (w[:, None] * (q - abar.sqrt() * x0) / (1 - abar).sqrt()).sum(0)
        se_eps = ((w[:, None] ** 2) * ((q - abar.sqrt() * x0) / (1 - abar).sqrt() - est_eps) ** 2).sum(0).sqrt()
        worst_wrong = max(worst_wrong, ((w_eps - est_eps).abs() / se_eps).max().item())
    if t < 100:  # where the mixture is still far from Gaussian, the check must reject a Gaussian fit
        assert worst_wrong > 3 * Z


def test_exact_eps_is_the_regression_of_eps_on_x_t(mixture, schedule):
    """E[(ε − ε*(x_t)) g(x_t)] = 0 for any g: the residual is orthogonal to functions of x_t (per-example t)."""
    n = 40_000
    t = torch.randint(0, 150, (n,), generator=gen(5))
    _, eps, x_t = noised(mixture, schedule, n, t, seed=6)
    resid = eps - mixture.exact_eps(schedule, x_t, t)
    r = mixture.class_posterior(schedule, x_t, t)
    tests = torch.stack([torch.ones(n), x_t[:, 0], x_t[:, 1], r[:, 0], r[:, 1], t / 150.0], 1)
    for d in range(2):
        prod = resid[:, d:d + 1] * tests
        assert (prod.mean(0).abs() < Z * prod.std(0) / math.sqrt(n)).all()
    # the Gaussian fit is not the regression: its residual correlates with the responsibilities
    wrong = torch.cat([eps[t == s] - gaussian_fit_eps(mixture, schedule, x_t[t == s], s) for s in range(150)])
    r_sorted = torch.cat([r[t == s] for s in range(150)])
    prod = wrong[:, 0:1] * r_sorted
    assert (prod.mean(0).abs() / (prod.std(0) / math.sqrt(n))).max() > 3 * Z


def test_large_t_eps_is_x_t_and_small_t_x0_is_x_t(mixture, schedule):
    _, _, x_t = noised(mixture, schedule, 2000, 299, seed=7)
    # ᾱ ≈ 1.5e-7: q_t ≈ N(0, I), whose E[ε | x_t] is x_t itself
    assert torch.allclose(mixture.exact_eps(schedule, x_t, 299), x_t, atol=2e-3)
    x0, _, x_t = noised(mixture, schedule, 2000, 0, seed=8)
    gap = (mixture.exact_x0(schedule, x_t, 0) - x_t).pow(2).sum(1).mean()
    # x̂_0 − x_t = E[x_0 − x_t | x_t], so by Jensen E‖x̂_0 − x_t‖² ≤ E‖x_0 − x_t‖² ≈ D(1 − ᾱ_0) = 0.002
    assert gap < (x0 - x_t).pow(2).sum(1).mean() < 3 * 2 * (1 - schedule.alphas_cumprod[0])


def test_the_public_formulas_are_what_the_methods_use(mixture, schedule):
    """log_joint, component_eps and noised_variances (ᾱ given directly) agree with the (schedule, t) methods."""
    _, _, x_t = noised(mixture, schedule, 32, 25, seed=8)
    abar = schedule.alphas_cumprod[25].reshape(1, 1).expand(32, 1)
    assert torch.allclose(mixture.noised_variances(abar), abar * mixture.stds**2 + 1 - abar)
    assert torch.allclose(torch.logsumexp(mixture.log_joint(x_t, abar), 1), mixture.log_prob(x_t, schedule, 25))
    eps_k = mixture.component_eps(x_t, abar)
    assert eps_k.shape == (32, 3, 2)
    for k in range(3):
        assert torch.allclose(eps_k[:, k], mixture.exact_eps(schedule, x_t, 25, y=k))

@pytest.mark.parametrize("t", [0, 30, 120])
def test_score_is_the_gradient_of_log_prob_and_x0_is_tweedie(mixture, schedule, t):
    _, _, x_t = noised(mixture, schedule, 64, t, seed=9)
    x = x_t.clone().requires_grad_(True)
    for y in (None, 1):
        (grad,) = torch.autograd.grad(mixture.log_prob(x, schedule, t, y=y).sum(), x)
        assert torch.allclose(mixture.score(schedule, x_t, t, y=y), grad, atol=1e-10, rtol=1e-8)
        abar = schedule.alphas_cumprod[t]
        tweedie = (x_t + (1 - abar) * grad) / abar.sqrt()  # E[x_0 | x_t] = (x_t + (1−ᾱ) ∇log q_t)/√ᾱ
        assert torch.allclose(mixture.exact_x0(schedule, x_t, t, y=y), tweedie, atol=1e-9)


def test_conditionals_add_up_to_the_unconditional(mixture, schedule):
    _, _, x_t = noised(mixture, schedule, 256, 40, seed=11)
    r = mixture.class_posterior(schedule, x_t, 40)
    assert torch.allclose(r.sum(1), torch.ones(256, dtype=F64))
    per_k = torch.stack([mixture.exact_eps(schedule, x_t, 40, y=k) for k in range(3)], 1)
    assert torch.allclose((r[:, :, None] * per_k).sum(1), mixture.exact_eps(schedule, x_t, 40))
    # Bayes: r_k = w_k q_t(x | k) / q_t(x), from log_prob alone
    log_cond = torch.stack([mixture.log_prob(x_t, schedule, 40, y=k) for k in range(3)], 1)
    bayes = mixture.weights * (log_cond - mixture.log_prob(x_t, schedule, 40)[:, None]).exp()
    assert torch.allclose(r, bayes)
    assert torch.allclose(mixture.responsibilities(schedule, x_t, 40), r)
    # a LongTensor y per example equals the int y row by row
    y = torch.tensor([0, 1, 2] * 85 + [0])
    assert torch.allclose(mixture.exact_eps(schedule, x_t, 40, y=y), per_k[torch.arange(256), y])
    assert mixture.exact_eps(schedule, x_t.float(), 40).dtype == torch.float32


# ----------------------------------------------------------------------------------------------
# the reverse posterior q(x_{t'} | x_t)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t,t_prev", [(60, 59), (60, 30), (60, -1)])
def test_reverse_posterior_matches_importance_sampling(mixture, schedule, t, t_prev):
    """Draw (x_0, x_{t'}) from the forward process, weight by q(x_t | x_{t'}), compare mean and variance."""
    _, _, x_t = noised(mixture, schedule, 1, t, seed=12)
    post = mixture.reverse_posterior(schedule, x_t, t, t_prev)
    a_prev = 1.0 if t_prev < 0 else schedule.alphas_cumprod[t_prev]
    x0 = mixture.sample(200_000, generator=gen(13)).double()
    x_prev = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * torch.randn(x0.shape, generator=gen(14), dtype=F64)
    ratio = schedule.alphas_cumprod[t] / a_prev
    w = torch.softmax(-((x_t - ratio.sqrt() * x_prev) ** 2).sum(1) / (2 * (1 - ratio)), 0)
    assert 1 / (w**2).sum() > 500
    for f, exact in ((x_prev, post.mean), (x_prev[:, :1] * x_prev[:, 1:], post.covariance[0, 1] + post.mean.prod()),
                     (x_prev**2, torch.diagonal(post.covariance) + post.mean**2)):
        est = (w[:, None] * f).sum(0)
        se = ((w[:, None] ** 2) * (f - est) ** 2).sum(0).sqrt()
        assert ((est - exact).abs() < Z * se + 1e-12).all(), (f, est, exact, se)
    if t_prev <= 30:  # the check can fail: the Gaussian step's second moment (same mean, variance σ²) is rejected
        a_t = schedule.alphas_cumprod[t]
        sigma2 = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        assert ((est - (sigma2 + post.mean**2)).abs() > 3 * Z * se).all()


def test_reverse_posterior_mean_is_the_ddpm_mean_of_tweedie(mixture, schedule):
    """The posterior mean is linear in x_0, so E[x_{t−1} | x_t] = μ̃_t(E[x_0 | x_t], x_t) exactly."""
    from helpers import q_posterior_mean_variance

    _, _, x_t = noised(mixture, schedule, 1, 80, seed=15)
    post = mixture.reverse_posterior(schedule, x_t, 80, 79)
    mean, var, _ = q_posterior_mean_variance(schedule, mixture.exact_x0(schedule, x_t, 80), x_t, 80)
    assert torch.allclose(post.mean, mean[0])
    assert (post.stds**2 >= var.flatten()[0] * (1 - 1e-9)).all()  # uncertainty about x_0 only adds variance
    assert torch.allclose(mixture.reverse_posterior(schedule, x_t, 80, -1).mean, mixture.exact_x0(schedule, x_t, 80)[0])


# ----------------------------------------------------------------------------------------------
# the exact model inside the samplers
# ----------------------------------------------------------------------------------------------

def test_as_model_behaves_like_a_conditional_network(mixture, schedule):
    model = mixture.as_model(schedule)
    assert isinstance(model, ExactDenoiser) and model.num_classes == 3
    assert model.eval() is model and list(model.parameters()) == []
    _, _, x_t = noised(mixture, schedule, 8, 20, seed=16)
    x = x_t.float()
    t = torch.full((8,), 20, dtype=torch.long)
    out = model(x, t)
    assert out.dtype == torch.float32 and torch.allclose(out.double(), mixture.exact_eps(schedule, x_t, 20), atol=1e-6)
    assert torch.equal(model(x, 20), out)
    y = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])  # 3 = the null label, per example
    mixed = model(x, t, y)
    for i in range(8):
        want = out[i] if y[i] == 3 else mixture.exact_eps(schedule, x_t[i:i + 1], 20, y=int(y[i]))[0].float()
        assert torch.allclose(mixed[i], want, atol=1e-6)
    assert torch.equal(model(x, t, torch.full((8,), 3)), out)
    with pytest.raises(ValueError, match="y"):
        model(x, t, torch.full((8,), 4))


def test_cfg_eps_on_the_exact_model_is_the_tilted_score(mixture, schedule):
    """ε̂_u + s(ε̂_c − ε̂_u) = −√(1−ᾱ) ∇ log[q_t(x) p_t(y | x)^s]: checked against autograd."""
    from helpers.sampling import cfg_eps

    model = mixture.as_model(schedule)
    _, _, x_t = noised(mixture, schedule, 16, 50, seed=17)
    x = x_t.clone().requires_grad_(True)
    log_tilted = mixture.log_prob(x, schedule, 50) + 3.0 * torch.log(mixture.class_posterior(schedule, x, 50)[:, 1])
    (grad,) = torch.autograd.grad(log_tilted.sum(), x)
    eps = cfg_eps(model, x_t, 50, torch.full((16,), 1), 3.0)
    assert torch.allclose(eps, -(1 - schedule.alphas_cumprod[50]).sqrt() * grad, atol=1e-9)


def denoised_law(mixture, schedule, t):
    """The law of x̂_0 = E[x_0 | x_t], x_t ~ q_t, for components that do not overlap (r_k ∈ {0, 1}): per component
    x̂_0 = μ_k + √ᾱ ς_k² (x_t − √ᾱ μ_k)/v_k, so N(μ_k, ᾱ ς_k⁴/v_k I). Every sampler here ends with this step (from
    index 0 at the latest, ᾱ_0 = 0.999), so it is their target: each std shrinks by √(ᾱ ς_k²/v_k) (0.95 for ς = 0.1)."""
    abar = schedule.alphas_cumprod[t]
    v = abar * mixture.stds**2 + 1 - abar
    return GaussianMixture(mixture.means, mixture.stds**2 * abar.sqrt() / v.sqrt(), mixture.weights)


def assert_moments(x, target, variances=True):
    """Mean, covariance, component frequencies, and each component's mean and variance within Z standard errors."""
    x = x.double()
    n = len(x)
    mean, cov = target.mean, target.covariance
    assert ((x.mean(0) - mean).abs() < Z * (torch.diagonal(cov) / n).sqrt()).all(), (x.mean(0), mean)
    c = x - x.mean(0)
    prods = c[:, :, None] * c[:, None, :]
    se = prods.reshape(n, -1).std(0).reshape(2, 2) / math.sqrt(n)
    assert ((prods.mean(0) - cov).abs() < Z * se).all(), (prods.mean(0), cov, se)
    k = target.class_posterior(None, x, None).argmax(1)  # well separated: misassigned mass < 1e-4
    freq = torch.bincount(k, minlength=target.K).double() / n
    w = target.weights
    assert ((freq - w).abs() <= Z * (w * (1 - w) / n).sqrt()).all(), (freq, w)
    for j in range(target.K):
        xs, s = x[k == j], target.stds[j]
        assert ((xs.mean(0) - target.means[j]).abs() < Z * s / math.sqrt(len(xs))).all(), (j, xs.mean(0))
        if variances:
            assert ((xs.var(0) / s**2 - 1).abs() < Z * math.sqrt(2 / (len(xs) - 1))).all(), (j, xs.var(0), s**2)


def test_denoised_law_is_the_law_of_tweedie_at_t0(mixture, schedule):
    _, _, x_t = noised(mixture, schedule, 20000, 0, seed=25)
    law = denoised_law(mixture, schedule, 0)
    assert_moments(mixture.exact_x0(schedule, x_t, 0), law)
    with pytest.raises(AssertionError):  # the undenoised mixture is rejected at this n
        assert_moments(mixture.exact_x0(schedule, x_t, 0), mixture)


def variance_ratios(x, target):
    """Each component's sample variance per coordinate over the target's ς_k², pooled: (mean ratio, its SE)."""
    k = target.class_posterior(None, x, None).argmax(1)
    ratios = torch.cat([x[k == j].double().var(0) / target.stds[j] ** 2 for j in range(target.K)])
    se = math.sqrt(sum(2 / ((k == j).sum().item() - 1) for j in range(target.K) for _ in range(target.D)))
    return ratios.mean().item(), se / len(ratios)


def test_ddpm_on_the_exact_model_samples_the_mixture(mixture, schedule):
    """Mean, covariance and weights are right; each component's spread is not quite: the Gaussian reverse step
    with a fixed variance is only an approximation of q(x_{t−1} | x_t), whose variance lies between β̃_t and β_t.
    At T = 300 the report's β̃ ("posterior") makes components narrower, β ("beta") wider, both by > Z SE."""
    from helpers.sampling import ddpm_sample

    model, target = mixture.as_model(schedule), denoised_law(mixture, schedule, 0)
    x_T = torch.randn(8000, 2, generator=gen(18), dtype=F64)
    x = ddpm_sample(model, schedule, x_T, clip_x0=False, generator=gen(19))
    assert tuple(x.shape) == (8000, 2)
    assert_moments(x, target, variances=False)
    ratio, se = variance_ratios(x, target)
    assert ratio < 1 - Z * se, (ratio, se)
    x = ddpm_sample(model, schedule, x_T, clip_x0=False, variance="beta", generator=gen(19))
    assert_moments(x, target, variances=False)
    ratio, se = variance_ratios(x, target)
    assert ratio > 1 + Z * se, (ratio, se)


def test_ddim_and_the_ode_on_the_exact_model_sample_the_mixture(mixture, schedule):
    from helpers.sampling import ddim_sample, ode_sample

    model = mixture.as_model(schedule)
    x_T = torch.randn(4000, 2, generator=gen(20), dtype=F64)
    target = denoised_law(mixture, schedule, 0)  # both end with x̂_0 from index 0
    x = ddim_sample(model, schedule, x_T, steps=schedule.T, eta=0.0, clip_x0=False)
    assert_moments(x, target)
    assert_moments(ode_sample(model, schedule, x_T, steps=100, method="heun", spacing="karras"), target)
    # Euler is DDIM η = 0 without clipping
    assert torch.allclose(ode_sample(model, schedule, x_T[:50], steps=schedule.T, method="euler"), x[:50], atol=1e-8)


def test_few_euler_steps_are_visibly_wrong(mixture, schedule):
    """The check above can fail: 20 trailing DDIM steps end with a jump from index 14 (σ = 0.13 > ς_k), whose
    x̂_0 is far too narrow."""
    from helpers.sampling import ddim_sample

    x = ddim_sample(mixture.as_model(schedule), schedule, torch.randn(4000, 2, generator=gen(20), dtype=F64),
                    steps=20, clip_x0=False)
    with pytest.raises(AssertionError):
        assert_moments(x, denoised_law(mixture, schedule, 0))


def test_guidance_scale_one_samples_the_chosen_component(mixture, schedule):
    from helpers.sampling import ddim_sample

    model = mixture.as_model(schedule)
    target = denoised_law(mixture, schedule, 0)
    y = torch.tensor([0, 1, 2] * 500)
    x = ddim_sample(model, schedule, torch.randn(1500, 2, generator=gen(21), dtype=F64), steps=schedule.T, y=y,
                    guidance_scale=1.0, clip_x0=False).double()
    k = mixture.class_posterior(None, x, None).argmax(1)
    assert (k == y).double().mean() > 0.999
    for j in range(3):
        assert_moments(x[y == j], GaussianMixture(target.means[j:j + 1], target.stds[j:j + 1]))
    # s = 0 with labels is unconditional: the null label goes to every example
    x0 = ddim_sample(model, schedule, torch.randn(3000, 2, generator=gen(22), dtype=F64), steps=schedule.T,
                     y=y.repeat(2), guidance_scale=0.0, clip_x0=False)
    assert_moments(x0, target)


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------

GOOD = dict(means=[[0.0, 0.0], [1.0, 1.0]], stds=[0.1, 0.2], weights=[0.4, 0.6])


@pytest.mark.parametrize("kwargs,name", [
    (dict(GOOD, means=[0.0, 1.0]), "means"),
    (dict(GOOD, means=[[[0.0]]]), "means"),
    (dict(GOOD, means=[["a", 0.0]]), "means"),
    (dict(GOOD, means=[[0.0, float("nan")], [1.0, 1.0]]), "means"),
    (dict(GOOD, stds=[0.1, -0.2]), "stds"),
    (dict(GOOD, stds=[0.1, 0.0]), "stds"),
    (dict(GOOD, stds=[0.1]), "stds"),
    (dict(GOOD, stds=[[0.1, 0.2]]), "stds"),
    (dict(GOOD, weights=[0.5, 0.6]), "weights"),
    (dict(GOOD, weights=[1.2, -0.2]), "weights"),
    (dict(GOOD, weights=[0.3, 0.3, 0.4]), "weights"),
])
def test_bad_mixture_arguments_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize("call,name", [
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 3), 5), "x_t"),
    (lambda m, s: m.exact_eps(s, torch.zeros(2), 5), "x_t"),
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 2, dtype=torch.long), 5), "x_t"),
    (lambda m, s: m.exact_x0(s, torch.zeros(4, 2), 300), "t"),
    (lambda m, s: m.score(s, torch.zeros(4, 2), torch.tensor([1, 2])), "t"),
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 2), 5, y=3), "y"),
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 2), 5, y=-1), "y"),
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 2), 5, y=torch.tensor([0, 1])), "y"),
    (lambda m, s: m.exact_eps(s, torch.zeros(4, 2), 5, y=1.0), "y"),
    (lambda m, s: m.exact_eps(None, torch.zeros(4, 2), 5), "schedule"),
    (lambda m, s: m.log_prob(torch.zeros(4, 5)), "x"),
    (lambda m, s: m.log_prob(torch.zeros(4, 2), None, 3), "schedule"),
    (lambda m, s: m.reverse_posterior(s, torch.zeros(1, 2), 10, 10), "t_prev"),
    (lambda m, s: m.reverse_posterior(s, torch.zeros(2, 2), 10, 5), "x_t"),
    (lambda m, s: m.sample(-1), "n"),
    (lambda m, s: m.as_model(s)(torch.zeros(4, 2), 5, torch.full((4,), 4)), "y"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 2), 5, 0.0), "temperature"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 2), 5, -1.0), "temperature"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 2), 5, float("nan")), "temperature"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 2), 5, float("inf")), "temperature"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 2), 5, True), "temperature"),
    (lambda m, s: m.tempered_eps(s, torch.zeros(4, 3), 5, 2.0), "x_t"),
    (lambda m, s: m.as_model(s, temperature="2"), "temperature"),
])
def test_bad_call_arguments_are_refused(mixture, schedule, call, name):
    with pytest.raises(ValueError, match=name):
        call(mixture, schedule)


# ----------------------------------------------------------------------------------------------
# a denoiser with a known error: tempered responsibilities
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [5, 30, 150])
def test_tempered_eps_weighs_the_components_by_powers_of_the_responsibilities(mixture, schedule, t):
    """r^(τ) ∝ r^(1/τ), here from class_posterior; τ = 1 is exact_eps and τ → ∞ the plain average over k."""
    _, _, x_t = noised(mixture, schedule, 64, t, seed=30 + t)
    eps_k = mixture.component_eps(x_t, schedule.alphas_cumprod[t].expand(64, 1))  # [n, K, D]
    r = mixture.class_posterior(schedule, x_t, t)
    assert torch.equal(mixture.tempered_eps(schedule, x_t, t, 1.0), mixture.exact_eps(schedule, x_t, t))
    for tau in (0.5, 2.0, 3.0):
        powered = r ** (1 / tau) / (r ** (1 / tau)).sum(1, keepdim=True)
        assert torch.allclose(mixture.tempered_eps(schedule, x_t, t, tau), (powered[:, :, None] * eps_k).sum(1),
                              rtol=0, atol=1e-10)
    assert torch.allclose(mixture.tempered_eps(schedule, x_t, t, 1e12), eps_k.mean(1), rtol=0, atol=1e-6)


def test_tempering_changes_eps_only_where_the_responsibilities_are_unsure(mixture, schedule):
    _, _, x_t = noised(mixture, schedule, 4000, 7, seed=40)
    top = mixture.class_posterior(schedule, x_t, 7).max(1).values
    moved = (mixture.tempered_eps(schedule, x_t, 7, 2.0) - mixture.exact_eps(schedule, x_t, 7)).norm(dim=1)
    sure, unsure = top > 1 - 1e-10, top < 0.9
    assert sure.sum() > 100 and unsure.sum() > 10
    assert moved[sure].max() < 1e-3 and moved[unsure].mean() > 0.1


def test_a_tempered_model_blurs_only_its_unconditional_branch(mixture, schedule):
    model = mixture.as_model(schedule, temperature=2.0)
    _, _, x_t = noised(mixture, schedule, 6, 20, seed=41)
    blurred = mixture.tempered_eps(schedule, x_t, 20, 2.0)
    assert torch.equal(model(x_t, 20), blurred) and not torch.allclose(blurred, mixture.exact_eps(schedule, x_t, 20))
    y = torch.tensor([0, 1, 2, 3, 0, 3])  # 3 = the null label
    out = model(x_t, 20, y)
    for i in range(6):
        want = blurred[i] if y[i] == 3 else mixture.exact_eps(schedule, x_t[i:i + 1], 20, y=int(y[i]))[0]
        assert torch.allclose(out[i], want, rtol=0, atol=1e-12)
    assert "temperature=2" in repr(model) and "temperature" not in repr(mixture.as_model(schedule))


def test_on_a_blurred_denoiser_ddpm_leaves_fewer_points_off_the_data_than_ddim(mixture, schedule):
    """Notebook 10, section 9: with the exact denoiser DDPM and DDIM η = 0 over the same 300 indices leave a share
    of points where the data have almost no mass (log p < −3) not above the data's by 5 SE; with τ = 3 DDIM
    leaves more than DDPM from the same x_T by more than 5 SE (unpaired, so conservative)."""
    from helpers.sampling import ddim_sample, ddpm_sample

    n = 4000
    x_T = torch.randn(n, 2, generator=gen(42), dtype=F64)
    data = mixture.sample(200_000, generator=gen(43)).double()
    share = (mixture.log_prob(data) < -3).double().mean().item()  # about 0.009
    off = {}
    for tau in (1.0, 3.0):
        model = mixture.as_model(schedule, temperature=tau)
        for name, x0 in (("ddpm", ddpm_sample(model, schedule, x_T, clip_x0=False, generator=gen(44))),
                         ("ddim", ddim_sample(model, schedule, x_T, steps=300, clip_x0=False))):
            off[name, tau] = (mixture.log_prob(x0) < -3).double().mean().item()
    for name in ("ddpm", "ddim"):
        assert off[name, 1.0] < share + Z * math.sqrt(share * (1 - share) / n)
    p, q = off["ddpm", 3.0], off["ddim", 3.0]
    assert q - p > Z * math.sqrt((p * (1 - p) + q * (1 - q)) / n)


# ----------------------------------------------------------------------------------------------
# helpers.toy_net: a short run learns towards the exact denoiser
# ----------------------------------------------------------------------------------------------

def test_toy_net_training_approaches_the_exact_denoiser(mixture, schedule):
    from helpers.toy_net import ToyEpsNet, eps_error_by_t, train_toy_model

    torch.manual_seed(0)
    net = ToyEpsNet(hidden=64, depth=2)
    ts = [40, 150]  # at small t the field is sharp near the data: 300 steps are not enough there
    before = eps_error_by_t(net, mixture, schedule, ts, n=2000, generator=gen(23))
    losses = train_toy_model(net, mixture, schedule, steps=300, batch=256, generator=gen(24))
    after = eps_error_by_t(net, mixture, schedule, ts, n=2000, generator=gen(23))
    assert len(losses) == 300 and net(torch.zeros(3, 2), torch.tensor([0, 1, 2])).shape == (3, 2)
    assert torch.equal(before["bayes"], after["bayes"])  # the same draws: the floor does not depend on the net
    assert (after["model"] < 0.5 * before["model"]).all()
    # the loss decomposes: E‖ε − ε_θ‖² = E‖ε − ε*‖² + E‖ε* − ε_θ‖² (cross term zero in expectation)
    assert torch.allclose(after["loss"], after["bayes"] + after["model"], atol=0.05)
    with pytest.raises(ValueError, match="x_t"):
        net(torch.zeros(3, 5), 0)
