"""The posterior q(x_{t−1} | x_t, x_0) against Bayes' rule, the x̂_0 ↔ ε inverses, and diffusers' DDPM step."""

import math

import pytest
import torch

from helpers.forward import q_sample
from helpers.posterior import predict_eps_from_x0, predict_x0_from_eps, q_posterior_mean_variance
from helpers.schedules import DiffusionSchedule


def _alpha_bar(betas, t):
    """ᾱ_t = ∏_{s≤t}(1 − β_s) by a plain loop, so the reference shares no code with DiffusionSchedule."""
    return math.prod(1.0 - b for b in betas.tolist()[:t + 1])


def _bayes_product(betas, t, x0, x_t):
    """Posterior of x_{t−1} from prior q(x_{t−1}|x_0) = N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}) times the likelihood
    q(x_t|x_{t−1}) = N(x_t; √α_t x_{t−1}, β_t), which as a function of x_{t−1} has precision α_t/β_t
    and centre x_t/√α_t. Product of Gaussians: precisions add, means are precision-weighted."""
    a_prev, beta = _alpha_bar(betas, t - 1), float(betas[t])
    alpha = 1.0 - beta
    prec = 1.0 / (1.0 - a_prev) + alpha / beta
    mean = (a_prev ** 0.5 * x0 / (1.0 - a_prev) + alpha ** 0.5 * x_t / beta) / prec
    return mean, 1.0 / prec


def _bayes_grid(betas, t, x0, x_t, lo=-6.0, hi=6.0, n=400_001):
    """Mean and variance of p(u) ∝ q(x_t | x_{t−1}=u) q(x_{t−1}=u | x_0), integrated on a uniform grid."""
    a_prev, beta = _alpha_bar(betas, t - 1), float(betas[t])
    u = torch.linspace(lo, hi, n, dtype=torch.float64)
    log_p = (-(u - a_prev ** 0.5 * x0) ** 2 / (2 * (1 - a_prev))
             - (x_t - (1 - beta) ** 0.5 * u) ** 2 / (2 * beta))
    w = (log_p - log_p.max()).exp()
    w = w / w.sum()
    mean = (w * u).sum()
    return mean.item(), (w * (u - mean) ** 2).sum().item()


SCHEDULES = [("report", 300), ("linear", 1000), ("cosine", 1000)]


@pytest.mark.parametrize("name,T", SCHEDULES)
def test_posterior_equals_product_of_gaussians(name, T, gen):
    s = DiffusionSchedule.from_name(name, T)
    t = torch.arange(1, T)
    x0 = torch.rand(T - 1, 1, 1, 1, generator=gen, dtype=torch.float64) * 2 - 1
    x_t = torch.randn(T - 1, 1, 1, 1, generator=gen, dtype=torch.float64) * 1.5
    mean, var, log_var = q_posterior_mean_variance(s, x0, x_t, t)
    ref = torch.tensor([_bayes_product(s.betas, i, x0[i - 1].item(), x_t[i - 1].item()) for i in range(1, T)],
                       dtype=torch.float64)
    torch.testing.assert_close(mean.flatten(), ref[:, 0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(var.flatten(), ref[:, 1], rtol=1e-9, atol=0)
    torch.testing.assert_close(log_var.flatten(), ref[:, 1].log(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,T", SCHEDULES)
@pytest.mark.parametrize("frac", [0.0, 0.01, 0.5, 1.0])
@pytest.mark.parametrize("x0,x_t", [(0.7, -0.4), (-1.0, 1.8)])
def test_posterior_equals_bayes_on_a_grid(name, T, frac, x0, x_t):
    s = DiffusionSchedule.from_name(name, T)
    t = max(1, round(frac * (T - 1)))
    mean, var, _ = q_posterior_mean_variance(s, torch.full((1, 1, 1, 1), x0, dtype=torch.float64),
                                             torch.full((1, 1, 1, 1), x_t, dtype=torch.float64), t)
    ref_mean, ref_var = _bayes_grid(s.betas, t, x0, x_t)
    assert mean.item() == pytest.approx(ref_mean, rel=1e-6, abs=1e-9)
    assert var.item() == pytest.approx(ref_var, rel=1e-5)


def test_posterior_at_t0_is_x0_with_clipped_log_variance(report_schedule, gen):
    # ᾱ_{−1} = 1, so q(x_{−1}|x_0) is a point mass at x_0: the "posterior" at t=0 is x_0 itself, variance 0,
    # and the log-variance (which would be −∞) is clipped to log β̃_1.
    s = report_schedule
    x0 = torch.rand(2, 1, 3, 3, generator=gen, dtype=torch.float64) * 2 - 1
    x_t = torch.randn(2, 1, 3, 3, generator=gen, dtype=torch.float64)
    mean, var, log_var = q_posterior_mean_variance(s, x0, x_t, 0)
    torch.testing.assert_close(mean, x0, rtol=0, atol=1e-12)
    assert (var == 0).all()
    assert torch.allclose(log_var, s.posterior_variance[1].log().expand_as(log_var), rtol=0, atol=0)
    assert var.shape == log_var.shape == (2, 1, 1, 1)


def test_posterior_keeps_float32(report_schedule, gen):
    x = torch.randn(2, 3, 4, 4, generator=gen)
    mean, var, log_var = q_posterior_mean_variance(report_schedule, x, x, 5)
    assert mean.dtype == var.dtype == log_var.dtype == torch.float32


def test_predict_x0_inverts_q_sample(any_schedule, gen):
    s = any_schedule
    t = torch.arange(s.T)
    x0 = torch.rand(s.T, 1, 2, 2, generator=gen, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    x_t = q_sample(s, x0, t, eps)
    # Exact up to float64 rounding amplified by 1/√ᾱ_{T−1} (≤ 2e4 for cosine at T=1000).
    torch.testing.assert_close(predict_x0_from_eps(s, x_t, t, eps), x0, rtol=0, atol=1e-10)
    torch.testing.assert_close(predict_eps_from_x0(s, x_t, t, x0), eps, rtol=0, atol=1e-10)


def test_predict_eps_inverts_predict_x0(report_schedule, gen):
    s = report_schedule
    x_t = torch.randn(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    eps = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 1, 150, 299])
    torch.testing.assert_close(predict_eps_from_x0(s, x_t, t, predict_x0_from_eps(s, x_t, t, eps)), eps,
                               rtol=0, atol=1e-10)


# ---------------------------------------------------------------- diffusers' DDPMScheduler.step
def _ddpm_step(s, x_t, t, eps, noise, variance):
    """x̂_0 from ε clipped to [−1, 1], then μ̃_t(x̂_0, x_t) + σ_t·z with σ²_t = β̃_t ("posterior") or β_t
    ("beta"); no noise at t=0."""
    x0_hat = predict_x0_from_eps(s, x_t, t, eps).clamp(-1, 1)
    mean, var, _ = q_posterior_mean_variance(s, x0_hat, x_t, t)
    if variance == "beta":
        var = s.betas[t].to(x_t.dtype)
    return (mean + var ** 0.5 * noise if t > 0 else mean), x0_hat


def _diffusers_ddpm(T, betas, variance_type, dtype):
    """diffusers' DDPMScheduler with our β. It keeps its tables in float32; for dtype=float64 we swap in our
    float64 tables so the comparison tests the algorithm alone, free of float32 rounding."""
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDPMScheduler(num_train_timesteps=T, trained_betas=betas.numpy(),
                                  variance_type=variance_type, clip_sample=True)
    if dtype == torch.float64:
        ref.betas = betas.clone()
        ref.alphas = 1.0 - ref.betas
        ref.alphas_cumprod = torch.cumprod(ref.alphas, 0)
        ref.one = torch.tensor(1.0, dtype=torch.float64)
    return ref


def _float32_tolerance(s, t, x_t):
    """diffusers forms 1 − ᾱ in float32, where ᾱ ≈ 1 carries an absolute error of up to ~(t+1)·u
    (u = 2⁻²⁴, one rounding per factor of the cumprod). The posterior coefficients divide by 1 − ᾱ_{t−1} and
    1 − ᾱ_t, so their relative error is ≲ 2(t+1)u/(1 − ᾱ_{t−1}), times |x_t| + |x̂_0| ≤ max|x_t| + 1.
    (Linear schedule, t=1: 1 − ᾱ_0 = 1e-4, so ~5e-3 allowed; the observed gap there is ~5e-5.)"""
    u = 2.0 ** -24
    one_minus = 1.0 - s.alphas_cumprod_prev[t].item()
    return 1e-5 if t == 0 else 1e-5 + 2 * (t + 1) * u / one_minus * (x_t.abs().max().item() + 1)


# diffusers' "fixed_large" uses σ² = β_t at every t ≥ 1 (recomputed as 1 − ᾱ_t/ᾱ_{t−1}); Ho et al.'s code put
# β̃_1 at t=0 instead, but sampling adds no noise at t=0, so for sampling the two conventions agree everywhere.
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("variance_type,variance", [("fixed_small", "posterior"), ("fixed_large", "beta")])
@pytest.mark.parametrize("name,T", [("report", 300), ("linear", 1000)])
def test_ddpm_step_matches_diffusers(variance_type, variance, name, T, dtype, gen):
    s = DiffusionSchedule.from_name(name, T)
    ref = _diffusers_ddpm(T, s.betas, variance_type, dtype)
    for t in (0, 1, 2, T // 2, T - 2, T - 1):
        x0 = torch.rand(4, 1, 8, 8, generator=gen, dtype=dtype) * 2 - 1
        x0[:, :, 0], x0[:, :, 1] = 1.0, -1.0  # saturated rows, so that x̂_0 leaves [−1, 1] even at small t
        noise_fwd = torch.randn(x0.shape, generator=gen, dtype=dtype)
        x_t = q_sample(s, x0, t, noise_fwd)
        eps = noise_fwd + 0.5 * torch.randn(x0.shape, generator=gen, dtype=dtype)  # imperfect: x̂_0 gets clipped
        # diffusers draws its noise with randn_tensor(shape, generator, dtype): the same stream as torch.randn.
        out = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(100 + t))
        z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(100 + t), dtype=dtype)
        ours, x0_hat = _ddpm_step(s, x_t, t, eps, z, variance)
        assert out.prev_sample.dtype == dtype
        if t > 0:
            assert (predict_x0_from_eps(s, x_t, t, eps).abs() > 1).any()  # the clipping path is exercised
            assert not torch.allclose(ours, _ddpm_step(s, x_t, t, eps, 0 * z, variance)[0])  # noise was added
        if dtype == torch.float64:
            tol_x0 = tol = 1e-10
        else:
            # x̂_0 divides by √ᾱ_t (≈4e-4 at the report's t=T−1) before clipping: allow 1e-4.
            tol_x0, tol = 1e-4, _float32_tolerance(s, t, x_t)
        torch.testing.assert_close(x0_hat, out.pred_original_sample, rtol=tol_x0, atol=tol_x0, msg=f"x0 at t={t}")
        torch.testing.assert_close(ours, out.prev_sample, rtol=1e-5, atol=tol, msg=f"x_(t-1) at t={t}")


def test_fixed_small_and_large_differ_only_in_noise_scale(report_schedule, gen):
    s, t = report_schedule, 3
    x_t = torch.randn(2, 1, 4, 4, generator=gen, dtype=torch.float64)
    eps = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    z = torch.randn(x_t.shape, generator=gen, dtype=torch.float64)
    small, _ = _ddpm_step(s, x_t, t, eps, z, "posterior")
    large, _ = _ddpm_step(s, x_t, t, eps, z, "beta")
    mean, _ = _ddpm_step(s, x_t, t, eps, torch.zeros_like(z), "posterior")
    torch.testing.assert_close((large - mean) / (small - mean),
                               (s.betas[t] / s.posterior_variance[t]).sqrt().expand_as(z))


# ---------------------------------------------------------------- any batch shape [B, …]
@pytest.mark.parametrize("shape", [(4, 2), (4, 3, 2)], ids=["points", "3d"])
def test_any_batch_shape_is_the_image_computation_reshaped(report_schedule, gen, shape):
    s = report_schedule
    x0, x_t, eps = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3))
    t = torch.tensor([0, 1, 150, 299])  # one t per row

    def image(v):
        return v.reshape(4, -1, 1, 1)

    mean, var, log_var = q_posterior_mean_variance(s, x0, x_t, t)
    mean_i, var_i, log_var_i = q_posterior_mean_variance(s, image(x0), image(x_t), t)
    assert mean.shape == shape and var.shape == log_var.shape == (4,) + (1,) * (len(shape) - 1)
    assert torch.equal(mean, mean_i.reshape(shape)) and torch.equal(var.flatten(), var_i.flatten())
    assert torch.equal(log_var.flatten(), log_var_i.flatten())
    for fn, other in ((predict_x0_from_eps, eps), (predict_eps_from_x0, x0)):
        out = fn(s, x_t, t, other)
        assert out.shape == shape and torch.equal(out, fn(s, image(x_t), t, image(other)).reshape(shape))
    a = s.alphas_cumprod[t].reshape(4, *[1] * (len(shape) - 1))
    torch.testing.assert_close(predict_x0_from_eps(s, x_t, t, eps), (x_t - (1 - a).sqrt() * eps) / a.sqrt(),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- bad inputs: ValueError naming the argument
def _x(*shape):
    return torch.zeros(*shape)


@pytest.mark.parametrize("fn", [lambda s, t: q_posterior_mean_variance(s, _x(3, 1, 4, 4), _x(3, 1, 4, 4), t),
                                lambda s, t: predict_x0_from_eps(s, _x(3, 1, 4, 4), t, _x(3, 1, 4, 4)),
                                lambda s, t: predict_eps_from_x0(s, _x(3, 1, 4, 4), t, _x(3, 1, 4, 4))],
                         ids=["posterior", "x0_from_eps", "eps_from_x0"])
def test_bad_t_raises(fn, report_schedule, bad_t):
    with pytest.raises(ValueError, match=r"^t\b"):
        fn(report_schedule, bad_t)


@pytest.mark.parametrize("call,arg", [
    (lambda s: q_posterior_mean_variance(s, _x(3, 1, 4, 4), _x(3), 1), "x_t"),
    (lambda s: q_posterior_mean_variance(s, _x(3, 1, 4, 5), _x(3, 1, 4, 4), 1), "x0"),
    (lambda s: q_posterior_mean_variance(s, _x(2, 1, 4, 4), _x(3, 1, 4, 4), 1), "x0"),
    (lambda s: predict_x0_from_eps(s, _x(3), 1, _x(3)), "x_t"),
    (lambda s: predict_x0_from_eps(s, _x(3, 1, 4, 4), 1, _x(3, 1, 4, 5)), "eps"),
    (lambda s: predict_x0_from_eps(s, torch.zeros(3, 1, 4, 4, dtype=torch.long), 1, _x(3, 1, 4, 4)), "x_t"),
    (lambda s: predict_eps_from_x0(s, _x(4), 1, _x(4)), "x_t"),
    (lambda s: predict_eps_from_x0(s, _x(3, 1, 4, 4), 1, _x(1, 1, 4, 4)), "x0"),
], ids=["post-x_t-1d", "post-x0-shape", "post-x0-batch", "x0eps-x_t-1d", "x0eps-eps-shape", "x0eps-x_t-int",
        "epsx0-x_t-1d", "epsx0-x0-shape"])
def test_bad_tensors_raise(call, arg, report_schedule):
    with pytest.raises(ValueError, match=rf"^{arg}\b"):
        call(report_schedule)
