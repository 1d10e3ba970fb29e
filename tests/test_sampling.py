"""Samplers: DDPM and DDIM steps against diffusers, sampling laws with an exact stand-in model, DDIM
inversion, classifier-free guidance, argument checks.

The stand-in models need no training: for Gaussian data x_0 ~ N(μ, s² I) the best ε-predictor is known
in closed form, so every sampler's output law can be computed exactly and compared with samples.
"""

import math

import pytest
import torch
from stand_in_models import GaussianOptimum  # tests/ is on sys.path under pytest
from torch import nn

from helpers.sampling import (
    VARIANCES,
    cfg_eps,
    ddim_invert,
    ddim_invert_step,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    ddpm_sample,
    ddpm_step,
)
from helpers.schedules import DiffusionSchedule

diffusers = pytest.importorskip("diffusers")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: one intra-op thread avoids waiting on a busy second core (10 ms per op)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# stand-in models (and GaussianOptimum, the exact ε̂ for Gaussian data, from stand_in_models)
# ----------------------------------------------------------------------------------------------

class ConstantX0(nn.Module):
    """Predicts ε so that x̂_0 is always the image ``c``: ε = (x_t − √ᾱ_t c)/√(1−ᾱ_t)."""

    num_classes = None

    def __init__(self, schedule, c):
        super().__init__()
        self.alphas_cumprod = schedule.alphas_cumprod
        self.c = c

    def forward(self, x, t):
        a = self.alphas_cumprod[t.cpu()].to(x.dtype).reshape(-1, 1, 1, 1)
        return (x - a.sqrt() * self.c) / (1 - a).sqrt()


class FakeConditional(nn.Module):
    """A tiny class-conditional 'model' whose output depends on x, t and y; records its batch sizes."""

    def __init__(self, num_classes=3, channels=2):
        super().__init__()
        self.num_classes = num_classes
        g = torch.Generator().manual_seed(1)
        self.register_buffer("table", torch.randn(num_classes + 1, channels, generator=g, dtype=F64))
        self.batch_sizes = []

    def forward(self, x, t, y=None):
        self.batch_sizes.append(x.shape[0])
        if y is None:
            y = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        ones = [1] * (x.dim() - 2)  # any batch [B, C, …]: points [B, C] as well as images [B, C, H, W]
        return 0.5 * x * (1 + self.table[y].reshape(*self.table[y].shape, *ones)) + 0.01 * t.to(x.dtype).reshape(
            -1, 1, *ones)


@pytest.fixture(scope="module")
def report300():
    return DiffusionSchedule.from_name("report", 300)


@pytest.fixture(scope="module")
def linear1000():
    return DiffusionSchedule.from_name("linear", 1000)


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------------------------------
# DDPM step against diffusers
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("variance,variance_type", [("posterior", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("t", [0, 1, 37, 150, 299])
def test_ddpm_step_matches_diffusers(report300, t, variance, variance_type, clip):
    sched = diffusers.DDPMScheduler(num_train_timesteps=300, trained_betas=report300.betas.numpy(),
                                    variance_type=variance_type, clip_sample=clip)
    x_t, eps = 1.5 * randn(4, 1, 6, 6, seed=1), randn(4, 1, 6, 6, seed=2)
    theirs = sched.step(eps, t, x_t, generator=torch.Generator().manual_seed(7))
    ours, x0 = ddpm_step(report300, x_t, t, eps, clip_x0=clip, variance=variance,
                         generator=torch.Generator().manual_seed(7), return_x0=True)
    # x̂_0 at t = T−1 is ~1/√ᾱ ≈ 2600 times eps: compare it relative to its size
    torch.testing.assert_close(x0, theirs.pred_original_sample, rtol=2e-5, atol=1e-5)
    torch.testing.assert_close(ours, theirs.prev_sample, rtol=1e-5, atol=1e-5)
    if t == 0:  # no noise at the last step: the output is the posterior mean, deterministic
        again = ddpm_step(report300, x_t, t, eps, clip_x0=clip, variance=variance,
                          generator=torch.Generator().manual_seed(8))
        assert torch.equal(ours, again)


@pytest.mark.parametrize("variance", ["posterior", "beta"])
def test_ddpm_step_per_example_t(report300, variance):
    x_t, eps, z = randn(4, 1, 3, 3, seed=3, dtype=F64), randn(4, 1, 3, 3, seed=4, dtype=F64), randn(
        4, 1, 3, 3, seed=5, dtype=F64)
    t = torch.tensor([0, 5, 0, 299])
    batch = ddpm_step(report300, x_t, t, eps, noise=z, variance=variance)
    for i in range(4):
        one = ddpm_step(report300, x_t[i:i + 1], int(t[i]), eps[i:i + 1], noise=z[i:i + 1], variance=variance)
        torch.testing.assert_close(batch[i:i + 1], one, rtol=0, atol=1e-12)
    # examples at t = 0 carry no noise (even with σ² = β_0 > 0): changing z leaves them unchanged
    other = ddpm_step(report300, x_t, t, eps, noise=z + 1, variance=variance)
    assert torch.equal(batch[[0, 2]], other[[0, 2]]) and not torch.allclose(batch[[1, 3]], other[[1, 3]])


def test_ddpm_sample_matches_diffusers_loop():
    sch = DiffusionSchedule.from_name("report", 50)
    model = GaussianOptimum(sch, 0.2, 0.5)
    sched = diffusers.DDPMScheduler(num_train_timesteps=50, trained_betas=sch.betas.numpy(), clip_sample=True)
    x_T = randn(8, 1, 4, 4, seed=11)
    g = torch.Generator().manual_seed(3)
    x = x_T
    for t in sched.timesteps:
        x = sched.step(model(x, t.reshape(1)), int(t), x, generator=g).prev_sample
    ours = ddpm_sample(model, sch, x_T, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# DDIM timesteps and step against diffusers
# ----------------------------------------------------------------------------------------------

def diffusers_ddim(schedule, steps, spacing, clip):
    sched = diffusers.DDIMScheduler(num_train_timesteps=schedule.T, trained_betas=schedule.betas.numpy(),
                                    clip_sample=clip, set_alpha_to_one=True, steps_offset=0,
                                    timestep_spacing=spacing)
    sched.set_timesteps(steps)
    return sched


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("T,steps", [(1000, 50), (1000, 10), (1000, 3), (1000, 1000), (300, 9), (300, 64),
                                     (50, 1), (50, 49), (16, 16)])
def test_ddim_timesteps_match_diffusers(T, steps, spacing):
    sch = DiffusionSchedule.from_name("linear", T)
    ours = ddim_timesteps(T, steps, spacing)
    assert ours.dtype == torch.long and ours.shape == (steps,)
    assert (ours.diff() < 0).all() and ours.min() >= 0 and ours.max() <= T - 1
    assert torch.equal(ours, diffusers_ddim(sch, steps, spacing, True).timesteps)
    if spacing == "trailing":
        assert ours[0] == T - 1


def test_ddim_timesteps_trailing_drops_diffusers_spurious_entry():
    # diffusers' float arange overshoots for (300, 7): 8 entries ending in −1; we keep the first 7
    sch = DiffusionSchedule.from_name("report", 300)
    theirs = diffusers_ddim(sch, 7, "trailing", True).timesteps
    ours = ddim_timesteps(300, 7, "trailing")
    assert len(theirs) == 8 and theirs[-1] == -1
    assert torch.equal(ours, theirs[:7])


def test_ddim_timesteps_report_sequence():
    assert ddim_timesteps(300, 10, "report").tolist() == list(range(271, 0, -30))
    assert ddim_timesteps(1000, 4, "report").tolist() == [751, 501, 251, 1]
    # c = 300 // 7 = 42 does not divide 300: the report's range holds 8 entries
    assert ddim_timesteps(300, 7, "report").tolist() == [295, 253, 211, 169, 127, 85, 43, 1]


@pytest.mark.parametrize("recompute", [True, False])
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_ddim_step_matches_diffusers(linear1000, spacing, clip, eta, recompute):
    # our recompute_eps is diffusers' use_clipped_model_output
    steps = 10
    sched = diffusers_ddim(linear1000, steps, spacing, clip)
    seq = ddim_timesteps(1000, steps, spacing)
    for i, t in enumerate(sched.timesteps.tolist()):
        # diffusers steps to t − T//steps; with T divisible by steps that is our next entry (or −1)
        t_prev = t - 1000 // steps
        expected_prev = int(seq[i + 1]) if i + 1 < steps else -1
        assert max(t_prev, -1) == expected_prev
        x_t, eps, z = 2 * randn(3, 2, 4, 4, seed=i), randn(3, 2, 4, 4, seed=100 + i), randn(3, 2, 4, 4, seed=200 + i)
        theirs = sched.step(eps, t, x_t, eta=eta, variance_noise=z, use_clipped_model_output=recompute)
        ours, x0 = ddim_step(linear1000, x_t, t, expected_prev, eps, eta=eta, noise=z, clip_x0=clip,
                             recompute_eps=recompute, return_x0=True)
        torch.testing.assert_close(x0, theirs.pred_original_sample, rtol=2e-5, atol=2e-5)
        torch.testing.assert_close(ours, theirs.prev_sample, rtol=1e-5, atol=2e-5)
    if not clip:  # the last step lands on ᾱ = 1: x_prev is x̂_0 itself, whatever η
        torch.testing.assert_close(ours, x0, rtol=0, atol=1e-6)


def test_ddim_step_default_recomputes_eps_from_clipped_x0(linear1000):
    sched = diffusers_ddim(linear1000, 20, "trailing", True)
    t = int(sched.timesteps[3])
    x_t, eps, z = 3 * randn(2, 1, 5, 5, seed=1), randn(2, 1, 5, 5, seed=2), randn(2, 1, 5, 5, seed=3)
    theirs = sched.step(eps, t, x_t, eta=0.5, variance_noise=z, use_clipped_model_output=True).prev_sample
    theirs_plain = sched.step(eps, t, x_t, eta=0.5, variance_noise=z).prev_sample
    ours = ddim_step(linear1000, x_t, t, t - 50, eps, eta=0.5, noise=z)
    plain = ddim_step(linear1000, x_t, t, t - 50, eps, eta=0.5, noise=z, recompute_eps=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(plain, theirs_plain, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(ours, plain, atol=1e-3)  # the inputs were chosen so that clipping bites
    # the re-derived ε̂ and the clipped x̂_0 reconstruct x_t exactly (the model's ε̂ does not)
    _, x0 = ddim_step(linear1000, x_t, t, t - 50, eps, return_x0=True)
    a = linear1000.alphas_cumprod[t]
    eps_used = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
    at_t = ddim_step(linear1000, x_t, t, t, eps)  # a step to the same time returns √ᾱ x̂_0 + √(1−ᾱ) ε̂_used
    torch.testing.assert_close(at_t, x_t, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(eps_used, eps, atol=1e-3)


@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_ddim_sample_matches_diffusers_loop(linear1000, spacing):
    model = GaussianOptimum(linear1000, -0.1, 0.5)
    sched = diffusers_ddim(linear1000, 20, spacing, True)
    x_T = randn(4, 1, 4, 4, seed=21)
    g = torch.Generator().manual_seed(5)
    x = x_T
    for t in sched.timesteps:
        x = sched.step(model(x, t.reshape(1)), int(t), x, eta=1.0, generator=g,
                       use_clipped_model_output=True).prev_sample
    ours = ddim_sample(model, linear1000, x_T, steps=20, eta=1.0, spacing=spacing,
                       generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# DDIM η = 1 is DDPM; the exact laws of the samplers for Gaussian data
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("t", [0, 1, 20, 299])
def test_ddim_eta1_step_is_ddpm_posterior_step(report300, t, clip):
    x_t, eps, z = 1.3 * randn(3, 1, 4, 4, seed=1, dtype=F64), randn(3, 1, 4, 4, seed=2, dtype=F64), randn(
        3, 1, 4, 4, seed=3, dtype=F64)
    ddpm = ddpm_step(report300, x_t, t, eps, noise=z, clip_x0=clip, variance="posterior")
    # with clipping, DDPM's mean is a mix of the clipped x̂_0 and x_t, i.e. uses the ε̂ implied by the clip
    ddim = ddim_step(report300, x_t, t, t - 1, eps, eta=1.0, noise=z, clip_x0=clip)
    torch.testing.assert_close(ddim, ddpm, rtol=1e-10, atol=1e-10)


MU = torch.tensor([-0.4, 0.1, 0.3, 0.5], dtype=F64).reshape(1, 2, 2)
S = torch.tensor([0.2, 0.3, 0.4, 0.25], dtype=F64).reshape(1, 2, 2)


def chain_law(schedule, pairs, eta, ddpm=False):
    """Exact N(m, v) per pixel of a sampler run from N(0, I) with the Gaussian stand-in: every step is
    x' = A x + B + σ z with scalar coefficients, written from the papers' formulas, not from helpers."""
    ab = schedule.alphas_cumprod
    m, v = torch.zeros_like(MU), torch.ones_like(MU)
    for t, t_prev in pairs:
        a = ab[t]
        k = (1 - a).sqrt() / (a * S**2 + 1 - a)  # ε̂ = k (x − √a μ)
        c1, c0 = (1 - k * (1 - a).sqrt()) / a.sqrt(), k * (1 - a).sqrt() * MU  # x̂_0 = c1 x + c0
        if ddpm:
            a_prev = ab[t - 1] if t > 0 else torch.tensor(1.0, dtype=F64)
            beta = 1 - a / a_prev
            coef1, coef2 = beta * a_prev.sqrt() / (1 - a), (1 - a_prev) * (1 - beta).sqrt() / (1 - a)
            A, B = coef1 * c1 + coef2, coef1 * c0
            var = (1 - a_prev) / (1 - a) * beta if t > 0 else 0.0
        else:
            a_prev = ab[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=F64)
            var = eta**2 * (1 - a_prev) / (1 - a) * (1 - a / a_prev)
            d = (1 - a_prev - var).clamp(min=0).sqrt()
            A, B = a_prev.sqrt() * c1 + d * k, a_prev.sqrt() * c0 - d * k * a.sqrt() * MU
        m, v = A * m + B, A * A * v + var
    return m, v


def check_moments(x, m, v, n_sigma=5.0):
    """Sample mean and variance per pixel within n_sigma standard errors of the law N(m, v)."""
    n = x.shape[0]
    mean, var = x.mean(0), x.var(0)
    assert ((mean - m).abs() < n_sigma * (v / n).sqrt()).all(), (mean, m)
    assert ((var - v).abs() < n_sigma * v * math.sqrt(2 / (n - 1))).all(), (var, v)


def test_ddpm_and_ddim_eta1_sample_the_exact_law():
    sch = DiffusionSchedule.from_name("report", 50)
    model = GaussianOptimum(sch, MU, S)
    x_T = randn(4000, 1, 2, 2, seed=0, dtype=F64)
    ddpm = ddpm_sample(model, sch, x_T, clip_x0=False, generator=torch.Generator().manual_seed(1))
    ddim = ddim_sample(model, sch, x_T, steps=50, eta=1.0, clip_x0=False, generator=torch.Generator().manual_seed(1))
    # same seed, same noise at every step: DDIM η=1 over the full sequence IS the DDPM posterior sampler
    torch.testing.assert_close(ddim, ddpm, rtol=1e-9, atol=1e-9)
    pairs = [(t, t - 1) for t in range(49, -1, -1)]
    m, v = chain_law(sch, pairs, eta=1.0, ddpm=True)
    m_ddim, v_ddim = chain_law(sch, pairs, eta=1.0)
    torch.testing.assert_close((m_ddim, v_ddim), (m, v), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(m, MU, rtol=0, atol=1e-6)  # the mean is μ ...
    assert (v < S**2).all() and (v > 0.5 * S**2).all()  # ... the variance, with 50 steps, falls short of s²
    check_moments(ddpm, m, v)


@pytest.mark.parametrize("variance", ["posterior", "beta"])
def test_ddpm_with_many_steps_samples_the_data_law(linear1000, variance):
    # β̃ ("fixed small") undershoots s² and β ("fixed large") overshoots; with T = 1000 both are within 5 %
    model = GaussianOptimum(linear1000, MU, S)
    x = ddpm_sample(model, linear1000, randn(3000, 1, 2, 2, seed=2, dtype=F64), clip_x0=False,
                    variance=variance, generator=torch.Generator().manual_seed(2))
    n = x.shape[0]
    assert ((x.mean(0) - MU).abs() < 5 * S / math.sqrt(n)).all()
    ratio = x.var(0) / S**2
    assert ((ratio - 1).abs() < 0.05 + 5 * math.sqrt(2 / n)).all(), ratio


@pytest.mark.parametrize("steps,spacing", [(50, "trailing"), (10, "trailing"), (10, "leading")])
def test_ddim_eta0_sample_has_the_exact_law(steps, spacing):
    sch = DiffusionSchedule.from_name("report", 50)
    model = GaussianOptimum(sch, MU, S)
    x = ddim_sample(model, sch, randn(4000, 1, 2, 2, seed=3, dtype=F64), steps=steps, spacing=spacing,
                    clip_x0=False)
    seq = ddim_timesteps(50, steps, spacing).tolist()
    m, v = chain_law(sch, list(zip(seq, seq[1:] + [-1])), eta=0.0)
    check_moments(x, m, v)


# ----------------------------------------------------------------------------------------------
# the last DDIM step, the report's pitfall
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_last_ddim_step_lands_on_alpha_one(report300, eta):
    c = 0.8 * torch.tanh(randn(1, 1, 4, 4, seed=9, dtype=F64))
    model = ConstantX0(report300, c)
    x_T = randn(5, 1, 4, 4, seed=10, dtype=F64)
    out, traj = ddim_sample(model, report300, x_T, steps=10, eta=eta, return_trajectory=True,
                            generator=torch.Generator().manual_seed(0))
    assert traj["t_prev"][-1] == -1
    torch.testing.assert_close(out, c.expand_as(out), rtol=0, atol=1e-9)  # x̂_0, no leftover noise


def test_report_spacing_ends_at_alpha_0_with_leftover_noise(report300):
    c = 0.8 * torch.tanh(randn(1, 1, 4, 4, seed=9, dtype=F64))
    model = ConstantX0(report300, c)
    x_T = randn(5, 1, 4, 4, seed=10, dtype=F64)
    out, traj = ddim_sample(model, report300, x_T, steps=10, spacing="report", return_trajectory=True)
    assert traj["t"].tolist() == list(range(271, 0, -30)) and traj["t_prev"][-1] == 0
    # with x̂_0 ≡ c, η = 0 keeps ε̂ fixed along the path: x lands on √ᾱ_0 c + √(1−ᾱ_0) ε̂ at index 0
    a1, a0 = report300.alphas_cumprod[271], report300.alphas_cumprod[0]
    eps = (x_T - a1.sqrt() * c) / (1 - a1).sqrt()
    torch.testing.assert_close(out, a0.sqrt() * c + (1 - a0).sqrt() * eps, rtol=0, atol=1e-9)
    assert (out - c).std() > 0.5 * (1 - a0).sqrt()
    # final_alpha_one=True repairs it
    fixed = ddim_sample(model, report300, x_T, steps=10, spacing="report", final_alpha_one=True)
    torch.testing.assert_close(fixed, c.expand_as(fixed), rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------------------------
# DDIM inversion
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("per_pixel", [False, True])
@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_ddim_inversion_round_trip(linear1000, per_pixel, spacing):
    mu, s = (MU, S) if per_pixel else (0.2, 0.3)
    model = GaussianOptimum(linear1000, mu, s)  # per pixel: ε̂ linear in x_t with per-pixel coefficients
    x0 = mu + s * randn(16, 1, 2, 2, seed=4, dtype=F64)

    def round_trip(steps, iters=0):
        x_T = ddim_invert(model, linear1000, x0, steps=steps, spacing=spacing, fixed_point_iters=iters)
        assert 0.5 < x_T.std() < 1.5  # it did travel to noise
        back = ddim_sample(model, linear1000, x_T, steps=steps, spacing=spacing, clip_x0=False)
        return (back - x0).abs().max().item()

    # plain inversion uses ε̂(x_s, τ) for ε̂(x_τ, τ): an O(1/steps) error, halving as steps double
    e50, e100 = round_trip(50), round_trip(100)
    assert e50 < 0.15 and 0.35 < e100 / e50 < 0.65, (e50, e100)
    # fixed-point refinement makes each step the exact inverse of the sampler's step
    assert round_trip(50, iters=10) < 1e-6


@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_ddim_invert_matches_diffusers_inverse_scheduler(linear1000, spacing):
    model = GaussianOptimum(linear1000, 0.1, 0.4)
    sched = diffusers.DDIMInverseScheduler(num_train_timesteps=1000, trained_betas=linear1000.betas.numpy(),
                                           clip_sample=False, set_alpha_to_one=True, steps_offset=0,
                                           timestep_spacing=spacing)
    sched.set_timesteps(20)
    x0 = 0.1 + 0.4 * randn(4, 1, 3, 3, seed=8)
    x = x0
    for t in sched.timesteps:  # ascending; ε̂ from the current point at the target's timestep
        x = sched.step(model(x, t.reshape(1)), int(t), x).prev_sample
    ours = ddim_invert(model, linear1000, x0, steps=20, spacing=spacing)
    torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)


def test_ddim_inversion_is_exact_when_eps_is_constant(report300):
    e = randn(1, 1, 3, 3, seed=6, dtype=F64)

    class ConstantEps(nn.Module):
        num_classes = None

        def forward(self, x, t):
            return e.expand_as(x)

    x0 = 0.5 * torch.tanh(randn(4, 1, 3, 3, seed=7, dtype=F64))
    x_T, traj = ddim_invert(ConstantEps(), report300, x0, steps=10, return_trajectory=True)
    # the forward process with one fixed ε: x_τ = √ᾱ_τ x_0 + √(1−ᾱ_τ) ε at the last entry τ = T−1
    a = report300.alphas_cumprod[-1]
    torch.testing.assert_close(x_T, a.sqrt() * x0 + (1 - a).sqrt() * e, rtol=0, atol=1e-12)
    assert traj["t"].tolist() == ddim_timesteps(300, 10).flip(0).tolist() and traj["t_prev"][0] == -1
    back = ddim_sample(ConstantEps(), report300, x_T, steps=10, clip_x0=False)
    torch.testing.assert_close(back, x0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("t_from, t", [(-1, 0), (-1, 120), (40, 120), (120, 299)])
def test_ddim_invert_step_is_undone_by_the_eta_zero_ddim_step_with_the_same_eps(report300, t_from, t):
    """Up with ε̂ then down with ε̂ (η = 0, no clipping) returns x; at t_from = −1 x is x̂_0 itself."""
    x, eps = randn(3, 1, 4, 4, seed=8, dtype=F64), randn(3, 1, 4, 4, seed=9, dtype=F64)
    x_t, x0_hat = ddim_invert_step(report300, x, t_from, t, eps)
    a_t = report300.alphas_cumprod[t]
    torch.testing.assert_close(x_t, a_t.sqrt() * x0_hat + (1 - a_t).sqrt() * eps, rtol=0, atol=1e-12)
    if t_from == -1:
        assert torch.equal(x0_hat, x)
    back = ddim_step(report300, x_t, t, t_from, eps, eta=0.0, clip_x0=False)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-9)


@pytest.mark.parametrize("t_from", [-2, 300, 1.5, True, torch.tensor(3)])
def test_ddim_invert_step_rejects_bad_t_from(report300, t_from):
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="t_from"):
        ddim_invert_step(report300, x, t_from, 10, x)


# ----------------------------------------------------------------------------------------------
# classifier-free guidance
# ----------------------------------------------------------------------------------------------

def test_cfg_eps_scales_and_single_forward_pass():
    model = FakeConditional(num_classes=3)
    x, t, y = randn(4, 2, 3, 3, seed=1, dtype=F64), torch.tensor([0, 5, 9, 2]), torch.tensor([0, 1, 2, 1])
    null = torch.full((4,), 3)
    cond, uncond = model(x, t, y), model(x, t, null)
    assert not torch.allclose(cond, uncond)
    for s, expected in [(1.0, cond), (0.0, uncond), (3.0, uncond + 3.0 * (cond - uncond)),
                        (0.5, uncond + 0.5 * (cond - uncond))]:
        model.batch_sizes.clear()
        torch.testing.assert_close(cfg_eps(model, x, t, y, s), expected, rtol=1e-12, atol=1e-12)
        # s = 1 and s = 0 need one half only; otherwise one forward pass over the doubled batch
        assert model.batch_sizes == ([4] if s in (0.0, 1.0) else [8])
    # Ho & Salimans' form with w = s − 1
    w = 2.0
    torch.testing.assert_close(cfg_eps(model, x, t, y, w + 1), (1 + w) * cond - w * uncond, rtol=1e-12, atol=1e-12)
    # an int label and an int t broadcast over the batch
    torch.testing.assert_close(cfg_eps(model, x, 5, 1, 2.0), cfg_eps(model, x, torch.full((4,), 5),
                                                                        torch.full((4,), 1), 2.0))


def test_samplers_guide_with_one_pass_per_step(report300):
    model = FakeConditional(num_classes=3, channels=1)
    x_T, y = randn(2, 1, 4, 4, seed=2, dtype=F64), torch.tensor([0, 2])
    ddim_sample(model, report300, x_T, steps=7, y=y, guidance_scale=4.0)
    assert model.batch_sizes == [4] * 7
    model.batch_sizes.clear()
    guided = ddpm_sample(model, DiffusionSchedule.from_name("cosine", 20), x_T, y=y, guidance_scale=4.0,
                         generator=torch.Generator().manual_seed(0))
    assert model.batch_sizes == [4] * 20 and torch.isfinite(guided).all()


# ----------------------------------------------------------------------------------------------
# trajectories, reproducibility, argument checks
# ----------------------------------------------------------------------------------------------

def test_trajectories(report300):
    sch = DiffusionSchedule.from_name("cosine", 20)
    model = GaussianOptimum(sch, 0.1, 0.3)
    x_T = randn(3, 1, 4, 4, seed=0)
    out, traj = ddpm_sample(model, sch, x_T, return_trajectory=True, generator=torch.Generator().manual_seed(0))
    assert traj["t"].tolist() == list(range(19, -1, -1)) and traj["t_prev"].tolist() == list(range(18, -2, -1))
    assert traj["x_t"].shape == traj["x0_hat"].shape == (20, 3, 1, 4, 4)
    assert traj["x_t"].device.type == "cpu" and torch.equal(traj["x_t"][0], x_T)
    assert traj["x0_hat"].abs().max() <= 1
    _, every = ddpm_sample(model, sch, x_T, return_trajectory=True, trajectory_every=6)
    assert every["t"].tolist() == [19, 13, 7, 1, 0]
    out, traj = ddim_sample(GaussianOptimum(report300, 0.1, 0.3), report300, x_T, steps=8, return_trajectory=True)
    assert traj["t"].tolist() == ddim_timesteps(300, 8).tolist() and traj["x_t"].shape == (8, 3, 1, 4, 4)
    torch.testing.assert_close(out, traj["x0_hat"][-1])  # the last step returns x̂_0 (ᾱ_prev = 1)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_generator_reproducibility(sampler):
    sch = DiffusionSchedule.from_name("cosine", 30)
    model = GaussianOptimum(sch, 0.0, 0.5)
    x_T = randn(4, 1, 4, 4, seed=0)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        if sampler == "ddpm":
            return ddpm_sample(model, sch, x_T, generator=g)
        return ddim_sample(model, sch, x_T, steps=10, eta=1.0, generator=g)

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert not a.requires_grad and not a.is_inference()
    a.clamp_(-1, 1)  # an ordinary tensor: in-place edits work outside inference mode


def test_bad_arguments_raise(report300):
    unc = GaussianOptimum(report300, 0.0, 0.5)
    cond = FakeConditional(num_classes=3, channels=1)
    x = randn(2, 1, 4, 4)
    cases = [
        (lambda: ddim_timesteps(300, 0), "steps"),
        (lambda: ddim_timesteps(300, 301), "steps"),
        (lambda: ddim_timesteps(300, 2.5), "steps"),
        (lambda: ddim_timesteps(300, 10, "uniform"), "spacing"),
        (lambda: ddim_timesteps(300, 300, "report"), "report"),
        (lambda: ddim_sample(unc, report300, x, steps=0), "steps"),
        (lambda: ddim_sample(unc, report300, x, steps=301), "steps"),
        (lambda: ddim_sample(unc, report300, x, spacing="quadratic"), "spacing"),
        (lambda: ddim_sample(unc, report300, x, eta=-0.1), "eta"),
        (lambda: ddim_step(report300, x, 10, 9, x, eta=-1.0), "eta"),
        (lambda: ddim_step(report300, x, 10, 9, x, eta=3.0), "eta"),
        (lambda: ddim_step(report300, x, 10, -2, x), "t_prev"),
        (lambda: ddim_step(report300, x, 300, 9, x), "t"),
        (lambda: ddpm_step(report300, x, 3, x, variance="learned"), "variance"),
        (lambda: ddpm_sample(unc, report300, x, variance="large"), "variance"),
        (lambda: ddpm_sample(cond, report300, x, guidance_scale=2.0), "guidance_scale"),
        (lambda: ddim_sample(unc, report300, x, y=torch.tensor([0, 1])), "unconditional"),
        (lambda: ddim_sample(cond, report300, x, y=torch.tensor([0, 4])), "y must be in 0..2"),
        (lambda: ddim_sample(cond, report300, x, y=torch.tensor([-1, 0])), "y must be in 0..2"),
        (lambda: ddim_sample(cond, report300, x, y=torch.tensor([0, 1, 2])), "shape"),
        (lambda: ddim_sample(cond, report300, x, y=torch.tensor([0.0, 1.0])), "integer"),
        (lambda: cfg_eps(unc, x, 3, torch.tensor([0, 1]), 2.0), "unconditional"),
        (lambda: cfg_eps(cond, x, 3, None, 2.0), "guidance_scale"),
        (lambda: ddpm_sample(unc, report300, x[:, 0, 0, 0]), "x_T"),  # [B]: a batch needs [B, …], 2 dims or more
        (lambda: ddim_sample(unc, report300, x.long()), "x_T"),
        (lambda: ddim_invert(unc, report300, x, steps=0), "steps"),
    ]
    for fn, needle in cases:
        with pytest.raises(ValueError, match=needle):
            fn()
    # the null label itself is a valid y (the unconditional prediction)
    ddim_sample(cond, report300, x, steps=2, y=torch.tensor([3, 3]))


# ----------------------------------------------------------------------------------------------
# any batch shape [B, …]: points [B, D] are images [B, D, 1, 1] reshaped
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 2), (5, 3, 2)], ids=["points", "3d"])
def test_steps_on_any_batch_shape_equal_the_image_computation(report300, shape):
    x_t, eps, z = 1.5 * randn(*shape, seed=1, dtype=F64), randn(*shape, seed=2, dtype=F64), randn(
        *shape, seed=3, dtype=F64)
    t, t_prev = torch.tensor([0, 1, 37, 150, 299]), torch.tensor([-1, 0, 20, 149, 250])

    def image(v):
        return v.reshape(5, -1, 1, 1)

    for clip in (True, False):  # the clip bites: 1.5·N(0, 1) at t = 299 gives x̂_0 far outside [−1, 1]
        for variance in VARIANCES:
            points = ddpm_step(report300, x_t, t, eps, noise=z, clip_x0=clip, variance=variance)
            images = ddpm_step(report300, image(x_t), t, image(eps), noise=image(z), clip_x0=clip, variance=variance)
            assert points.shape == shape and torch.equal(points, images.reshape(shape))
        for eta in (0.0, 0.5):
            points, x0 = ddim_step(report300, x_t, t, t_prev, eps, eta=eta, noise=z, clip_x0=clip, return_x0=True)
            images, x0_images = ddim_step(report300, image(x_t), t, t_prev, image(eps), eta=eta, noise=image(z),
                                          clip_x0=clip, return_x0=True)
            assert points.shape == x0.shape == shape
            assert torch.equal(points, images.reshape(shape)) and torch.equal(x0, x0_images.reshape(shape))
    # per-example coefficients: row i uses ᾱ at its own t (DDIM η = 0, no clip: √ᾱ_prev x̂_0 + √(1−ᾱ_prev) ε̂)
    a = report300.alphas_cumprod
    a_prev = torch.where(t_prev >= 0, a[t_prev.clamp(min=0)], torch.ones((), dtype=F64))  # ᾱ_{−1} = 1

    def per_row(v):
        return v.reshape(5, *[1] * (len(shape) - 1))

    x0 = (x_t - per_row((1 - a[t]).sqrt()) * eps) / per_row(a[t].sqrt())
    expected = per_row(a_prev.sqrt()) * x0 + per_row((1 - a_prev).sqrt()) * eps
    torch.testing.assert_close(ddim_step(report300, x_t, t, t_prev, eps, clip_x0=False), expected,
                               rtol=1e-12, atol=1e-12)


def test_samplers_on_points_equal_the_image_computation():
    sch = DiffusionSchedule.from_name("report", 50)
    model = GaussianOptimum(sch, torch.tensor([0.2, -0.3], dtype=F64), torch.tensor([0.5, 0.3], dtype=F64))
    image_model = GaussianOptimum(sch, model.mu.reshape(2, 1, 1), model.s.reshape(2, 1, 1))
    x_T = randn(6, 2, seed=12, dtype=F64)
    image = x_T.reshape(6, 2, 1, 1)
    runs = [
        lambda m, x: ddpm_sample(m, sch, x, generator=torch.Generator().manual_seed(0)),
        lambda m, x: ddim_sample(m, sch, x, steps=10, eta=0.5, generator=torch.Generator().manual_seed(0)),
        lambda m, x: ddim_invert(m, sch, x, steps=10),
    ]
    for run in runs:
        points = run(model, x_T)
        assert points.shape == (6, 2)
        torch.testing.assert_close(points, run(image_model, image).reshape(6, 2), rtol=0, atol=0)
    _, traj = ddpm_sample(model, sch, x_T, return_trajectory=True, trajectory_every=10)
    assert traj["x_t"].shape == traj["x0_hat"].shape == (6, 6, 2)


def test_cfg_eps_on_points():
    model = FakeConditional(num_classes=3, channels=2)
    x, t, y = randn(4, 2, seed=1, dtype=F64), torch.tensor([0, 5, 9, 2]), torch.tensor([0, 1, 2, 3])
    guided = cfg_eps(model, x, t, y, 2.5)
    image = cfg_eps(model, x.reshape(4, 2, 1, 1), t, y, 2.5)
    assert guided.shape == (4, 2) and torch.equal(guided, image.reshape(4, 2))
    cond, uncond = model(x, t, y), model(x, t, torch.full((4,), 3))
    torch.testing.assert_close(guided, uncond + 2.5 * (cond - uncond), rtol=1e-12, atol=1e-12)
