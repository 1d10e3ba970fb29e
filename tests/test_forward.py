"""The forward process: closed-form q_sample against the Markov chain it shortcuts, and against diffusers."""

import math

import pytest
import torch

from helpers.forward import q_sample, q_sample_chain, q_step
from helpers.schedules import DiffusionSchedule

N = 20_000                                      # Monte-Carlo draws per (t, pixel)
TS = (0, 1, 10, 100, 299)                       # include both ends: off-by-one errors show at t=0, 1
X0 = torch.tensor([-1.0, -0.3, 0.4, 1.0], dtype=torch.float64).reshape(1, 1, 1, 4)
Z = 5.0                                         # tolerance in standard errors


def _batch(ts=TS, n=N):
    """x0 repeated n times for each t: x [len(ts)·n, 1, 1, 4], t [len(ts)·n]."""
    t = torch.tensor(ts).repeat_interleave(n)
    return X0.expand(t.numel(), -1, -1, -1).clone(), t


def _stats(x, ts=TS, n=N):
    """Per-(t, pixel) sample mean and unbiased variance, each [len(ts), 4]."""
    x = x.reshape(len(ts), n, 4)
    return x.mean(1), x.var(1)


def _assert_moments(mean, var, true_mean, true_var, n):
    """|m − μ| ≤ Z·√(σ²/n) and |s² − σ²| ≤ Z·σ²·√(2/(n−1)) (the Gaussian standard errors)."""
    se_mean = (true_var / n).sqrt()
    se_var = true_var * math.sqrt(2 / (n - 1))
    assert ((mean - true_mean).abs() <= Z * se_mean).all(), (mean - true_mean) / se_mean
    assert ((var - true_var).abs() <= Z * se_var).all(), (var - true_var) / se_var


@pytest.fixture(scope="module")
def schedule():
    return DiffusionSchedule.from_name("report", 300)


@pytest.fixture(scope="module")
def closed_and_chain(schedule):
    x0, t = _batch()
    g = torch.Generator().manual_seed(1)
    closed = q_sample(schedule, x0, t, generator=g)
    # One chain per t: the chain runs every image to max(t), so mixing t=299 with t=0 would cost 5×.
    # ~400 small steps: one thread avoids thread hand-off costs that dominate on a busy 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        chain = torch.cat([q_sample_chain(schedule, X0.expand(N, -1, -1, -1), s, generator=g) for s in TS])
    finally:
        torch.set_num_threads(threads)
    return _stats(closed), _stats(chain)


def _analytic(schedule):
    """√ᾱ_t x_0 and 1 − ᾱ_t for each (t, pixel): [len(TS), 4]."""
    a = schedule.alphas_cumprod[list(TS)].unsqueeze(1)
    return a.sqrt() * X0.reshape(1, 4), (1 - a).expand(-1, 4)


def test_closed_form_has_analytic_moments(schedule, closed_and_chain):
    (mean, var), _ = closed_and_chain
    _assert_moments(mean, var, *_analytic(schedule), N)


def test_chain_has_analytic_moments(schedule, closed_and_chain):
    _, (mean, var) = closed_and_chain
    _assert_moments(mean, var, *_analytic(schedule), N)


def test_closed_form_matches_chain(schedule, closed_and_chain):
    # Two independent estimates: the standard error of their difference is √2 times one estimate's.
    (m1, v1), (m2, v2) = closed_and_chain
    _, true_var = _analytic(schedule)
    assert ((m1 - m2).abs() <= Z * (2 * true_var / N).sqrt()).all()
    assert ((v1 - v2).abs() <= Z * true_var * math.sqrt(4 / (N - 1))).all()


def test_chain_off_by_one_would_be_caught(schedule):
    # The moment test must be able to fail: the chain stopped one step early (t steps, not t+1)
    # gives variance 1−ᾱ_{t−1} at t=1, many standard errors from 1−ᾱ_1.
    x0, _ = _batch(ts=(0,), n=N)
    x = q_step(schedule, x0, 0, generator=torch.Generator().manual_seed(2))  # x_0 of the chain = one step
    _, var = _stats(x, ts=(0,))
    true_var = (1 - schedule.alphas_cumprod[1]).expand(4)
    assert ((var - true_var).abs() > Z * true_var * math.sqrt(2 / (N - 1))).all()


def test_q_sample_is_the_formula_exactly(schedule, gen):
    x0 = torch.rand(3, 1, 5, 5, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 150, 299])
    a = schedule.alphas_cumprod[t].reshape(3, 1, 1, 1)
    torch.testing.assert_close(q_sample(schedule, x0, t, noise), a.sqrt() * x0 + (1 - a).sqrt() * noise,
                               rtol=1e-15, atol=1e-15)


def test_q_sample_int_t_broadcasts_and_keeps_dtype(schedule, gen):
    x0 = torch.rand(4, 3, 8, 8, generator=gen) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen)
    out = q_sample(schedule, x0, 42, noise)
    assert out.dtype == torch.float32 and out.shape == x0.shape
    torch.testing.assert_close(out, q_sample(schedule, x0, torch.full((4,), 42), noise))
    torch.testing.assert_close(out, q_sample(schedule, x0, torch.tensor(42), noise))


def test_q_sample_generator_is_reproducible(schedule):
    x0 = torch.zeros(2, 1, 4, 4)
    a = q_sample(schedule, x0, 10, generator=torch.Generator().manual_seed(7))
    b = q_sample(schedule, x0, 10, generator=torch.Generator().manual_seed(7))
    c = q_sample(schedule, x0, 10, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name,T", [("report", 300), ("linear", 1000), ("cosine", 1000)])
def test_q_sample_matches_diffusers_add_noise(name, T, gen):
    diffusers = pytest.importorskip("diffusers")
    s = DiffusionSchedule.from_name(name, T)
    # diffusers stores trained_betas as float32 and does its cumprod in float32: compare at float32 precision.
    # Its 1 − ᾱ loses digits when ᾱ ≈ 1 (linear t=0: 1 − ᾱ = 1e-4 known to ~1e-7 absolute), which shows up
    # as a few 1e-6 in √(1 − ᾱ)·ε; hence atol=1e-5 (an off-by-one t would be off by ~1e-2).
    ref = diffusers.DDPMScheduler(num_train_timesteps=T, trained_betas=s.betas.numpy())
    x0 = torch.rand(6, 3, 8, 8, generator=gen) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.tensor([0, 1, T // 3, T // 2, T - 2, T - 1])
    torch.testing.assert_close(q_sample(s, x0, t, noise), ref.add_noise(x0, noise, t), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- any batch shape [B, …]
@pytest.mark.parametrize("fn", [q_sample, q_step], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(5, 2), (5, 3, 2), (5, 2, 1, 3, 2)], ids=["points", "3d", "5d"])
def test_any_batch_shape_is_the_image_computation_reshaped(fn, shape, schedule, gen):
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 1, 10, 150, 299])  # one t per row: the coefficients must follow the batch dim
    out = fn(schedule, x, t, noise)
    images = fn(schedule, x.reshape(5, -1, 1, 1), t, noise.reshape(5, -1, 1, 1))
    assert out.shape == shape and torch.equal(out, images.reshape(shape))
    if fn is q_sample:
        a = schedule.alphas_cumprod[t].reshape(5, *[1] * (len(shape) - 1))
        torch.testing.assert_close(out, a.sqrt() * x + (1 - a).sqrt() * noise, rtol=1e-15, atol=1e-15)


def test_chain_on_points(schedule):
    x0 = X0.reshape(1, 4).expand(3, 4).clone()
    t = torch.tensor([0, 5, 40])
    a = q_sample_chain(schedule, x0, t, generator=torch.Generator().manual_seed(3))
    b = q_sample_chain(schedule, x0.reshape(3, 4, 1, 1), t, generator=torch.Generator().manual_seed(3))
    assert a.shape == (3, 4) and torch.equal(a, b.reshape(3, 4))


# ---------------------------------------------------------------- bad inputs: ValueError naming the argument
@pytest.mark.parametrize("fn", [q_sample, q_step, q_sample_chain], ids=lambda f: f.__name__)
def test_bad_t_raises(fn, schedule, bad_t):
    with pytest.raises(ValueError, match=r"^t\b"):
        fn(schedule, torch.zeros(3, 1, 4, 4), bad_t)


@pytest.mark.parametrize("fn,arg", [(q_sample, "x0"), (q_step, "x_prev"), (q_sample_chain, "x0")])
@pytest.mark.parametrize("x", [torch.zeros(3), torch.zeros(()),
                               torch.zeros(3, 1, 4, 4, dtype=torch.long), [[0.0]]],
                         ids=["1d", "0d", "integer", "list"])
def test_bad_x_raises(fn, arg, x, schedule):
    with pytest.raises(ValueError, match=rf"^{arg}\b"):
        fn(schedule, x, 0)


@pytest.mark.parametrize("fn", [q_sample, q_step], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(3, 1, 4, 5), (1, 1, 4, 4), (3, 4, 4)])
def test_noise_of_wrong_shape_raises(fn, shape, schedule):
    with pytest.raises(ValueError, match=r"^noise\b"):
        fn(schedule, torch.zeros(3, 1, 4, 4), 5, torch.zeros(shape))
