"""Beta schedules and the table of coefficients in DiffusionSchedule."""

import math

import pytest
import torch

from helpers.schedules import (
    DiffusionSchedule,
    cosine_beta_schedule,
    get_beta_schedule,
    linear_beta_schedule,
    report_beta_schedule,
)

TABLE = ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
         "sqrt_one_minus_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
         "posterior_mean_coef1", "posterior_mean_coef2")


@pytest.mark.parametrize("make", [linear_beta_schedule, report_beta_schedule])
@pytest.mark.parametrize("T", [40, 300, 1000])
def test_linear_betas_in_unit_interval_and_increasing(make, T):
    betas = make(T)
    assert betas.dtype == torch.float64 and betas.shape == (T,)
    assert (betas > 0).all() and (betas < 1).all()
    assert (betas.diff() > 0).all()


def test_linear_endpoints_are_ho_et_al():
    betas = linear_beta_schedule(1000)
    assert betas[0].item() == pytest.approx(1e-4, rel=1e-12)
    assert betas[-1].item() == pytest.approx(0.02, rel=1e-12)


def test_report_schedule_at_T300():
    s = DiffusionSchedule(report_beta_schedule(300))
    assert s.betas[0].item() == pytest.approx(0.001, rel=1e-12)
    assert s.betas[-1].item() == pytest.approx(0.1, rel=1e-12)
    # The report quotes ᾱ_{T−1} ≈ 1.5e-7 (1.545e-7 exactly).
    assert s.alphas_cumprod[-1].item() == pytest.approx(1.5e-7, rel=0.05)


@pytest.mark.parametrize("T", [100, 300, 1000, 4000])
def test_report_schedule_rescales_with_T(T):
    betas = report_beta_schedule(T)
    assert betas[0].item() == pytest.approx(0.3 / T, rel=1e-12)
    assert betas[-1].item() == pytest.approx(30 / T, rel=1e-12)


def test_report_schedule_is_invalid_for_small_T():
    # β_end = 30/T reaches 1 at T=30: the report's rescaling only makes sense for T > 30.
    assert report_beta_schedule(31)[-1].item() == pytest.approx(30 / 31)
    for T in (20, 30):
        with pytest.raises(ValueError, match=r"^timesteps\b"):
            report_beta_schedule(T)
    # and DiffusionSchedule refuses such a table rather than produce NaNs
    with pytest.raises(ValueError, match=r"^betas\b"):
        DiffusionSchedule(linear_beta_schedule(20, 0.01, 1.0))


def _cosine_f(u, s=0.008):
    return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2


@pytest.mark.parametrize("T", [50, 300, 1000])
def test_cosine_matches_its_formula(T):
    s = DiffusionSchedule(cosine_beta_schedule(T))
    # Index t is the paper's step t+1, so ᾱ[t] = f((t+1)/T) / f(0), until β hits the 0.999 clip.
    expected = torch.tensor([_cosine_f((t + 1) / T) / _cosine_f(0) for t in range(T)], dtype=torch.float64)
    unclipped = s.betas < 0.999
    first_clipped = int((~unclipped).nonzero()[0]) if (~unclipped).any() else T
    assert first_clipped >= T - 2  # only the very end is clipped
    torch.testing.assert_close(s.alphas_cumprod[:first_clipped], expected[:first_clipped], rtol=1e-10, atol=0)
    assert (s.betas <= 0.999).all()


@pytest.mark.parametrize("name", ["linear", "report", "cosine"])
@pytest.mark.parametrize("T", [300, 1000])
def test_table_shapes_dtypes_and_invariants(name, T):
    s = DiffusionSchedule.from_name(name, T)
    assert s.T == T
    for attr in TABLE:
        v = getattr(s, attr)
        assert v.dtype == torch.float64, attr
        assert v.shape == (T,), attr
        assert torch.isfinite(v).all(), attr
    assert (s.alphas_cumprod.diff() < 0).all()
    assert s.alphas_cumprod_prev[0].item() == 1.0
    torch.testing.assert_close(s.alphas_cumprod_prev[1:], s.alphas_cumprod[:-1], rtol=0, atol=0)
    torch.testing.assert_close(s.alphas_cumprod, torch.cumprod(1 - s.betas, 0), rtol=1e-14, atol=0)
    torch.testing.assert_close(s.sqrt_alphas_cumprod ** 2 + s.sqrt_one_minus_alphas_cumprod ** 2,
                               torch.ones(T, dtype=torch.float64), rtol=0, atol=1e-14)
    assert s.posterior_variance[0].item() == 0.0
    assert (s.posterior_variance[1:] > 0).all()
    assert (s.posterior_variance <= s.betas).all()
    # log β̃ is clipped at t=0 (β̃_0 = 0) to log β̃_1; elsewhere it is log β̃_t.
    assert s.posterior_log_variance_clipped[0].item() == math.log(s.posterior_variance[1].item())
    torch.testing.assert_close(s.posterior_log_variance_clipped[1:], s.posterior_variance[1:].log(),
                               rtol=0, atol=1e-14)


def test_posterior_coefficients_at_t0_return_x0():
    # At t=0, μ̃ = x_0 exactly: coef1 = β_0/(1−ᾱ_0) = 1 and coef2 = 0.
    s = DiffusionSchedule.from_name("report", 300)
    assert s.posterior_mean_coef1[0].item() == pytest.approx(1.0, abs=1e-12)
    assert s.posterior_mean_coef2[0].item() == 0.0


def test_get_beta_schedule_dispatches_by_name():
    torch.testing.assert_close(get_beta_schedule("report", 300), report_beta_schedule(300), rtol=0, atol=0)
    torch.testing.assert_close(get_beta_schedule("cosine", 64), cosine_beta_schedule(64), rtol=0, atol=0)
    torch.testing.assert_close(get_beta_schedule("linear", 64), linear_beta_schedule(64), rtol=0, atol=0)


def test_float32_betas_become_float64():
    s = DiffusionSchedule(torch.linspace(1e-4, 0.02, 100, dtype=torch.float32))
    assert s.betas.dtype == torch.float64 and s.alphas_cumprod.dtype == torch.float64


# ---------------------------------------------------------------- bad inputs: ValueError naming the argument
@pytest.mark.parametrize("betas", [
    torch.full((2, 5), 0.01, dtype=torch.float64),          # 2-D
    torch.empty(0, dtype=torch.float64),                     # empty
    torch.tensor([0.01, 0.0, 0.02], dtype=torch.float64),    # β = 0
    torch.tensor([0.01, -0.1, 0.02], dtype=torch.float64),   # β < 0
    torch.tensor([0.01, 1.0], dtype=torch.float64),          # β = 1
    torch.tensor([0.01, 1.5], dtype=torch.float64),          # β > 1
    torch.tensor([0.01, float("nan")], dtype=torch.float64),
    torch.tensor([1, 2, 3]),                                 # integer
], ids=["2d", "empty", "zero", "negative", "one", "above-one", "nan", "integer"])
def test_bad_betas_raise(betas):
    with pytest.raises(ValueError, match=r"^betas\b"):
        DiffusionSchedule(betas)


@pytest.mark.parametrize("make", [linear_beta_schedule, report_beta_schedule, cosine_beta_schedule])
@pytest.mark.parametrize("T", [0, -5, 2.5, True, "300"])
def test_bad_timesteps_raise(make, T):
    with pytest.raises(ValueError, match=r"^timesteps\b"):
        make(T)


def test_unknown_schedule_name_raises():
    with pytest.raises(ValueError, match=r"^name\b.*'quadratic'"):
        get_beta_schedule("quadratic", 100)
    with pytest.raises(ValueError, match=r"^name\b"):
        DiffusionSchedule.from_name("Linear", 100)


# ---------------------------------------------------------------- gather: the one way to read a coefficient at t
def test_gather_broadcasts_over_any_batch_shape():
    s = DiffusionSchedule.from_name("report", 300)
    t = torch.tensor([0, 7, 299])
    for shape in [(3, 2), (3, 1, 4, 4), (3, 2, 2, 2, 2)]:
        like = torch.zeros(shape, dtype=torch.float32)
        out = s.gather(s.betas, t, like)
        assert out.shape == (3,) + (1,) * (len(shape) - 1) and out.dtype == torch.float32
        torch.testing.assert_close(out.flatten(), s.betas[t].float(), rtol=0, atol=0)
    assert s.gather(s.betas, 7, torch.zeros(3, 2)).flatten().tolist() == [s.betas[7].float().item()]


def test_gather_reads_alpha_bar_one_at_t_minus_one_from_the_padded_table_only():
    s = DiffusionSchedule.from_name("linear", 100)
    assert s.alphas_cumprod_padded.shape == (101,) and s.alphas_cumprod_padded.dtype == torch.float64
    torch.testing.assert_close(s.alphas_cumprod_padded[:100], s.alphas_cumprod, rtol=0, atol=0)
    like = torch.zeros(4, 2, dtype=torch.float64)
    out = s.gather(s.alphas_cumprod_padded, torch.tensor([-1, 0, 50, 99]), like).flatten()
    assert out.tolist() == [1.0] + s.alphas_cumprod[[0, 50, 99]].tolist()
    # a table of T entries would wrap t = −1 around to ᾱ_{T−1}: it refuses instead
    with pytest.raises(ValueError, match="padded"):
        s.gather(s.alphas_cumprod, torch.tensor([-1, 0, 5, 9]), like)
