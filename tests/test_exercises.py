"""helpers.exercises: each checker accepts a correct solution and names each mistake it claims to catch."""

import math

import pytest
import torch
import torch.nn.functional as F
from exercise_cases import (  # tests/ is on sys.path under pytest
    G,
    assert_accepts_images_and_points,
    assert_names,
    names_each_mistake,
    stub,
)

from helpers import DiffusionSchedule, linear_beta_schedule, q_sample
from helpers.exercises import (
    NOT_IMPLEMENTED,
    check_cfg,
    check_ddim_step,
    check_ddpm_step,
    check_diffusion_loss,
    check_posterior,
    check_q_sample,
    check_timestep_embedding,
    check_toy_model,
    check_toy_samples,
    check_training_step,
    energy_distance,
)

# ---------------------------------------------------------------------------------------------- q_sample

def q_ok(s, x0, t, noise):
    a = G(s.alphas_cumprod, t, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def q_with(table=lambda s, t: s.alphas_cumprod[t], c0=lambda a: a.sqrt(), c1=lambda a: (1 - a).sqrt()):
    def fn(s, x0, t, noise):
        a = table(s, t).to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
        return c0(a) * x0 + c1(a) * noise
    return fn


Q_MISTAKES = {
    "variance for std": (q_with(c1=lambda a: 1 - a), "not the variance"),
    "abar for sqrt abar": (q_with(c0=lambda a: a), "x_0 is scaled by √ᾱ_t"),
    "no square roots": (q_with(c0=lambda a: a, c1=lambda a: 1 - a), "square roots missing"),
    "1 - sqrt abar": (q_with(c1=lambda a: 1 - a.sqrt()), r"1 − √ᾱ_t is not"),
    "swapped": (q_with(c0=lambda a: (1 - a).sqrt(), c1=lambda a: a.sqrt()), "swapped"),
    "t + 1": (q_with(table=lambda s, t: s.alphas_cumprod[t + 1]), "one index late"),
    "alphas_cumprod_prev": (q_with(table=lambda s, t: s.alphas_cumprod_prev[t]), r"ᾱ_\{t−1\} used"),
    "t - 1": (q_with(table=lambda s, t: s.alphas_cumprod[t - 1]), r"ᾱ_\{t−1\} used"),
    "alpha for abar": (q_with(table=lambda s, t: s.alphas[t]), "α_t = 1 − β_t used where ᾱ_t belongs"),
    "beta-based": (q_with(table=lambda s, t: 1 - s.betas[t]), "one step q"),
    "beta for 1 - abar": (lambda s, x0, t, n: G(s.sqrt_alphas_cumprod, t, x0) * x0 + G(s.betas, t, x0).sqrt() * n,
                          "β_t used where 1 − ᾱ_t belongs"),
    "no noise": (q_with(c1=lambda a: 0 * a), "noise term"),
    "x0 unscaled": (q_with(c0=lambda a: 1), "x_0 is not scaled"),
    "fresh noise": (lambda s, x0, t, noise: q_ok(s, x0, t, torch.randn_like(x0)), "different results"),
    "in place": (lambda s, x0, t, noise: x0.mul_(G(s.sqrt_alphas_cumprod, t, x0)).add_(
        G(s.sqrt_one_minus_alphas_cumprod, t, x0) * noise), "in place"),
    "uncast float64": (lambda s, x0, t, noise: s.sqrt_alphas_cumprod[t].reshape(-1, 1, 1, 1) * x0
                       + s.sqrt_one_minus_alphas_cumprod[t].reshape(-1, 1, 1, 1) * noise, "keep x's dtype"),
    "float32 coefficients": (lambda s, x0, t, noise: q_ok(s, x0, t, noise).float().to(x0.dtype) + 1e-5 * noise,
                             "wrong values"),
    "no reshape": (lambda s, x0, t, noise: s.alphas_cumprod[t].to(x0.dtype).sqrt() * x0, "don't broadcast"),
    "wrong shape": (lambda s, x0, t, noise: q_ok(s, x0, t, noise).mean(0), "shape"),
    "missing return": (lambda s, x0, t, noise: None, "missing `return`"),
    "numpy": (lambda s, x0, t, noise: q_ok(s, x0, t, noise).numpy(), "torch.Tensor"),
    "nan": (lambda s, x0, t, noise: q_ok(s, x0, t, noise) * (G(s.alphas_cumprod, t, x0) - 1).sqrt(), "NaN"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_q_sample_accepts_correct(capsys):
    check_q_sample(q_ok)
    assert "✓ q_sample" in capsys.readouterr().out


def test_q_sample_accepts_points(capsys):
    check_q_sample(q_ok, shape=(6, 2))
    assert "✓" in capsys.readouterr().out


test_q_sample_names_mistake = names_each_mistake(check_q_sample, Q_MISTAKES)


def test_stub_message_is_exact():
    with pytest.raises(AssertionError) as info:
        check_q_sample(stub)
    assert str(info.value) == "not implemented yet: replace the `raise NotImplementedError` in the exercise cell"


def test_other_errors_are_explained():
    def broken(s, x0, t, noise):
        raise KeyError("oops")
    assert_names(check_q_sample, broken, "raised KeyError")


def test_checkers_leave_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_q_sample(lambda s, x0, t, noise: q_ok(s, x0, t, torch.randn_like(noise)) * 0 + q_ok(s, x0, t, noise))
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------------- posterior

def post_with(prev=lambda s, t: s.alphas_cumprod_prev[t], swap=False, var="tilde", sqrt_alpha=True):
    def fn(s, x0, x_t, t):
        a, ap = G(s.alphas_cumprod, t, x0), prev(s, t).to(x0.dtype).reshape(-1, 1, 1, 1)
        alpha, beta = G(s.alphas, t, x0), G(s.betas, t, x0)
        c1 = beta * ap.sqrt() / (1 - a)
        c2 = (1 - ap) * (alpha.sqrt() if sqrt_alpha else alpha) / (1 - a)
        if swap:
            c1, c2 = c2, c1
        tilde = (1 - ap) / (1 - a) * beta
        variance = {"tilde": tilde, "beta": beta, "std": tilde.sqrt(), "flat": tilde.reshape(-1)}[var]
        return c1 * x0 + c2 * x_t, variance
    return fn


POST_MISTAKES = {
    "swapped coefs": (post_with(swap=True), "coef1 and coef2 swapped"),
    "abar_t for abar_t-1": (post_with(prev=lambda s, t: s.alphas_cumprod[t]), r"ᾱ_t used where ᾱ_\{t−1\} belongs"),
    "wrap at t=0": (post_with(prev=lambda s, t: s.alphas_cumprod[t - 1]), "wraps round"),
    "alpha not sqrt": (post_with(sqrt_alpha=False), "α_t used where √α_t belongs"),
    "beta for beta tilde": (post_with(var="beta"), "forward variance"),
    "std for variance": (post_with(var="std"), "standard deviation"),
    "variance [B]": (post_with(var="flat"), "doesn't broadcast"),
    "order": (lambda s, x0, x_t, t: post_with()(s, x0, x_t, t)[::-1], r"return \(mean, variance\)"),
    "mean only": (lambda s, x0, x_t, t: post_with()(s, x0, x_t, t)[0], "should return a tuple"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_posterior_accepts_correct(capsys):
    check_posterior(post_with())
    check_posterior(lambda s, x0, x_t, t: (G(s.posterior_mean_coef1, t, x0) * x0 + G(s.posterior_mean_coef2, t, x0)
                                           * x_t, G(s.posterior_variance, t, x0).expand_as(x0)))
    assert capsys.readouterr().out.count("✓ posterior") == 2


def test_posterior_accepts_points():
    check_posterior(lambda s, x0, x_t, t: (G(s.posterior_mean_coef1, t, x0) * x0 + G(s.posterior_mean_coef2, t, x0)
                                           * x_t, G(s.posterior_variance, t, x0)), shape=(6, 2))


test_posterior_names_mistake = names_each_mistake(check_posterior, POST_MISTAKES)


# ---------------------------------------------------------------------------------------------- DDPM step

def ddpm_with(variance="tilde", clip=True, noise_at_0=False, scale=lambda var: var.sqrt(), out="x_prev"):
    def fn(s, x_t, t, eps, noise):
        a = G(s.alphas_cumprod, t, x_t)
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        if clip:
            x0 = x0.clamp(-1, 1)
        mean = G(s.posterior_mean_coef1, t, x_t) * x0 + G(s.posterior_mean_coef2, t, x_t) * x_t
        var = {"tilde": G(s.posterior_variance, t, x_t), "beta": G(s.betas, t, x_t),
               "log-clipped": G(s.posterior_log_variance_clipped, t, x_t).exp()}[variance]
        mask = torch.ones_like(var) if noise_at_0 else (t > 0).to(x_t.dtype).reshape(-1, *([1] * (x_t.dim() - 1)))
        return {"x_prev": mean + mask * scale(var) * noise, "mean": mean, "x0": x0}[out]
    return fn


DDPM_MISTAKES = {
    "beta variance": (ddpm_with(variance="beta"), "σ_t² = β_t used"),
    "no clipping": (ddpm_with(clip=False), "x̂_0 not clipped"),
    "noise at t=0": (ddpm_with(variance="log-clipped", noise_at_0=True), "noise added at t = 0"),
    "variance for std": (ddpm_with(scale=lambda var: var), "scaled by the variance"),
    "no noise": (ddpm_with(out="mean"), "no noise added"),
    "returns x0": (ddpm_with(out="x0"), "returned x̂_0"),
    "in place clamp": (lambda s, x_t, t, eps, noise: ddpm_with()(s, x_t, t, eps.clamp_(-3, 3), noise), "in place"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_ddpm_step_accepts_correct(capsys):
    assert_accepts_images_and_points(check_ddpm_step, ddpm_with(), "ddpm_step", capsys)


test_ddpm_step_names_mistake = names_each_mistake(check_ddpm_step, DDPM_MISTAKES)


# ---------------------------------------------------------------------------------------------- DDIM step

def ddim_with(clip=True, recompute=True, prev="one", sigma="right", use_eta=True):
    def fn(s, x_t, t, t_prev, eps, eta, noise):
        eta = eta if use_eta else 0.0
        padded = torch.cat([torch.ones(1, dtype=torch.float64), s.alphas_cumprod])
        index = {"one": t_prev + 1, "wrap": t_prev, "zero": t_prev.clamp(min=0)}[prev]
        table = padded if prev == "one" else s.alphas_cumprod
        a, ap = G(s.alphas_cumprod, t, x_t), G(table, index, x_t)
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        if clip:
            x0 = x0.clamp(-1, 1)
            if recompute:
                eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
        sigma2 = {"right": eta**2 * (1 - ap) / (1 - a) * (1 - a / ap), "no_ratio": eta**2 * (1 - a / ap),
                  "eta": eta * (1 - ap) / (1 - a) * (1 - a / ap)}[sigma if sigma in ("no_ratio", "eta") else "right"]
        direction = (1 - ap).sqrt() if sigma == "full_direction" else (1 - ap - sigma2).clamp(min=0).sqrt()
        scale = sigma2 if sigma == "sigma2" else sigma2.sqrt()
        return ap.sqrt() * x0 + direction * eps + scale * noise
    return fn


DDIM_MISTAKES = {
    "no clipping": (ddim_with(clip=False), "x̂_0 not clipped"),
    "eps not re-derived": (ddim_with(recompute=False), "ε̂ not re-derived"),
    "t_prev=-1 as T-1": (ddim_with(prev="wrap"), r"alphas_cumprod\[−1\]"),
    "t_prev=-1 as 0": (ddim_with(prev="zero"), "read as ᾱ_0"),
    "eta ignored": (ddim_with(use_eta=False), "η ignored"),
    "sigma without ratio": (ddim_with(sigma="no_ratio"), "lacks the factor"),
    "eta not squared": (ddim_with(sigma="eta"), "uses η, not η²"),
    "sigma squared as scale": (ddim_with(sigma="sigma2"), "scaled by σ_t²"),
    "direction without sigma": (ddim_with(sigma="full_direction"), "direction term"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_ddim_step_accepts_correct(capsys):
    assert_accepts_images_and_points(check_ddim_step, ddim_with(), "ddim_step", capsys)


test_ddim_step_names_mistake = names_each_mistake(check_ddim_step, DDIM_MISTAKES)


# ---------------------------------------------------------------------------------------------- CFG

CFG_MISTAKES = {
    "w convention": (lambda u, c, s: (1 + s) * c - s * u, "Ho & Salimans"),
    "swapped": (lambda u, c, s: c + s * (u - c), "swapped"),
    "brackets": (lambda u, c, s: u + s * c - u, "brackets missing"),
    "u + s c": (lambda u, c, s: u + s * c, "the bracket is"),
    "no guidance": (lambda u, c, s: c, "guidance not applied"),
    "in place": (lambda u, c, s: c.sub_(u).mul_(s).add_(u), "in place"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_cfg_accepts_correct(capsys):
    check_cfg(lambda u, c, s: u + s * (c - u))
    check_cfg(lambda u, c, s: s * c + (1 - s) * u, shape=(6, 2))
    assert capsys.readouterr().out.count("✓ cfg") == 2


test_cfg_names_mistake = names_each_mistake(check_cfg, CFG_MISTAKES)


# ---------------------------------------------------------------------------------------------- time embedding

def emb_with(order="cos_sin", denominator=lambda half: half, max_period=10000.0, times=True, dtype=torch.float32):
    def fn(t, dim):
        half = dim // 2
        freqs = max_period ** (-torch.arange(half, dtype=dtype) / denominator(half))
        args = (t.to(dtype)[:, None] if times else torch.ones(len(t), 1, dtype=dtype)) * freqs
        if order == "interleaved":
            return torch.stack([args.cos(), args.sin()], -1).flatten(1)
        return torch.cat([args.sin(), args.cos()] if order == "sin_cos" else [args.cos(), args.sin()], -1)
    return fn


EMB_MISTAKES = {
    "sin first": (emb_with(order="sin_cos"), "sin half first"),
    "interleaved": (emb_with(order="interleaved"), "interleaved"),
    "off by one": (emb_with(denominator=lambda half: half - 1), "off by one"),
    "max period": (emb_with(max_period=1000.0), "wrong max period"),
    "t not multiplied": (emb_with(times=False), "t not multiplied"),
    "float64": (emb_with(dtype=torch.float64), "float64"),
    "half width": (lambda t, dim: emb_with()(t, dim)[:, : dim // 2], "shape"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_timestep_embedding_accepts_correct(capsys):
    check_timestep_embedding(emb_with())
    assert "✓ timestep_embedding" in capsys.readouterr().out


test_timestep_embedding_names_mistake = names_each_mistake(check_timestep_embedding, EMB_MISTAKES)


# ---------------------------------------------------------------------------------------------- loss

def loss_ok(model, s, x0, t, noise):
    return F.mse_loss(model(q_sample(s, x0, t, noise), t), noise)


LOSS_MISTAKES = {
    "target x0": (lambda m, s, x0, t, n: F.mse_loss(m(q_sample(s, x0, t, n), t), x0), "target is the noise"),
    "model on x0": (lambda m, s, x0, t, n: F.mse_loss(m(x0, t), n), "model saw x_0"),
    "sum": (lambda m, s, x0, t, n: ((m(q_sample(s, x0, t, n), t) - n) ** 2).sum(), "summed"),
    "per-image sums": (lambda m, s, x0, t, n: ((m(q_sample(s, x0, t, n), t) - n) ** 2).flatten(1).sum(1).mean(),
                       "per-image sums"),
    "L1": (lambda m, s, x0, t, n: F.l1_loss(m(q_sample(s, x0, t, n), t), n), "absolute error"),
    "variance for std": (lambda m, s, x0, t, n: F.mse_loss(m(G(s.alphas_cumprod, t, x0).sqrt() * x0
                                                             + (1 - G(s.alphas_cumprod, t, x0)) * n, t), n),
                         "x_t built with 1 − ᾱ_t"),
    "item": (lambda m, s, x0, t, n: loss_ok(m, s, x0, t, n).item(), "no .item()"),
    "detached": (lambda m, s, x0, t, n: loss_ok(m, s, x0, t, n).detach(), "no gradient"),
    "detached, then requires_grad_": (lambda m, s, x0, t, n: loss_ok(m, s, x0, t, n).detach().requires_grad_(),
                                      "gradient is not the model's"),
    "model output detached": (lambda m, s, x0, t, n: F.mse_loss(m(q_sample(s, x0, t, n), t).detach(), n)
                              .requires_grad_(), "gradient is not the model's"),
    "not reduced": (lambda m, s, x0, t, n: F.mse_loss(m(q_sample(s, x0, t, n), t), n, reduction="none"),
                    "return a scalar"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_diffusion_loss_accepts_correct(capsys):
    check_diffusion_loss(loss_ok)
    assert "✓ diffusion_loss" in capsys.readouterr().out


test_diffusion_loss_names_mistake = names_each_mistake(check_diffusion_loss, LOSS_MISTAKES)


def test_diffusion_loss_reference_is_the_series_loss():
    """With the t and ε that helpers.training.diffusion_loss draws, the student's signature gives its value."""
    from helpers.exercises.network import TinyEps
    from helpers.training import diffusion_loss
    s, model = DiffusionSchedule(linear_beta_schedule(50)), TinyEps(1, 50)
    x0 = torch.rand(4, 1, 4, 4) * 2 - 1
    expected = diffusion_loss(model, s, x0, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    t = torch.randint(0, s.T, (4,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    assert torch.allclose(loss_ok(model, s, x0, t, noise), expected)


# ---------------------------------------------------------------------------------------------- training step

def step_with(low=0, high=lambda T: T, draw=torch.randn, zero_grad=True, step=True, use_gen=True, order="ok",
              ret="loss", model_input="x_t"):
    def fn(model, optimizer, schedule, x0, generator):
        gen = generator if use_gen else None
        t = torch.randint(low, high(schedule.T), (x0.shape[0],), generator=gen)
        noise = draw(x0.shape, generator=gen)
        x_t = q_sample(schedule, x0, t, noise) if model_input == "x_t" else x0
        loss = F.mse_loss(model(x_t, t), noise)
        if zero_grad and order == "ok":
            optimizer.zero_grad()
        loss.backward()
        if order == "zero_between":
            optimizer.zero_grad()
        if step:
            optimizer.step()
        if ret == "after":
            return F.mse_loss(model(x_t, t), noise).item()
        return {"none": None, "tensor": loss}.get(ret, loss.item())
    return fn


def skewed_t(model, optimizer, schedule, x0, generator):
    t = (torch.rand(x0.shape[0], generator=generator) ** 2 * schedule.T).long()
    noise = torch.randn(x0.shape, generator=generator)
    loss = F.mse_loss(model(q_sample(schedule, x0, t, noise), t), noise)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


STEP_MISTAKES = {
    "no zero_grad": (step_with(zero_grad=False), "accumulate"),
    "t from 1": (step_with(low=1), "never drew 0"),
    "t below T - 1": (step_with(high=lambda T: T - 1), "never drew T − 1"),
    "global rng": (step_with(use_gen=False), "same generator"),
    "uniform noise": (step_with(draw=torch.rand), r"N\(0, I\)"),
    "one noise value per image": (step_with(draw=lambda shape, generator: torch.randn(
        shape[0], 1, 1, 1, generator=generator).expand(shape)), "shared across pixels or channels"),
    "noise shared across channels": (step_with(draw=lambda shape, generator: torch.randn(
        shape[0], 1, *shape[2:], generator=generator).expand(shape)), "shared across pixels or channels"),
    "noise shared across the batch": (step_with(draw=lambda shape, generator: torch.randn(
        1, *shape[1:], generator=generator).expand(shape)), "two images of a batch got the same ε"),
    "half the batch's noise copied": (step_with(draw=lambda shape, generator: torch.randn(
        shape[0] // 2, *shape[1:], generator=generator).repeat(2, 1, 1, 1)), "two images of a batch got the same ε"),
    "loss after step": (step_with(ret="after"), "after optimizer.step"),
    "no step": (step_with(step=False), "unchanged"),
    "zero_grad between": (step_with(order="zero_between"), "unchanged"),
    "returns None": (step_with(ret="none"), "returned None"),
    "model on x0": (step_with(model_input="x0"), "model saw x_0"),
    "skewed t": (skewed_t, "not uniform"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_training_step_accepts_correct(capsys):
    check_training_step(step_with())
    check_training_step(step_with(ret="tensor"))  # a 0-d tensor is fine too
    assert capsys.readouterr().out.count("✓ training_step") == 2


test_training_step_names_mistake = names_each_mistake(check_training_step, STEP_MISTAKES)


# ---------------------------------------------------------------------------------------------- toy (notebook 10)

@pytest.fixture
def mixture():
    toy = pytest.importorskip("helpers.toy")
    angles = torch.arange(4) * math.pi / 2
    return toy.GaussianMixture(torch.stack([2 * angles.cos(), 2 * angles.sin()], 1), [0.2] * 4)


def test_energy_distance_is_zero_only_for_the_same_law():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 2, generator=gen), torch.randn(500, 2, generator=gen)
    assert abs(energy_distance(a, b)) < 0.02
    assert energy_distance(a, b + 1) > 0.5


def test_toy_samples_accepts_mixture_samples(mixture, capsys):
    check_toy_samples(mixture.sample(2000, generator=torch.Generator().manual_seed(42)), mixture)
    assert "✓ toy samples" in capsys.readouterr().out


def test_toy_samples_rejects_a_missing_mode(mixture):
    from helpers.toy import GaussianMixture
    three = GaussianMixture(mixture.means[1:], mixture.stds[1:])
    with pytest.raises(AssertionError, match=r"energy distance .*mode 0 at \(2, 0\) gets 0% .*Try:"):
        check_toy_samples(three.sample(2000, generator=torch.Generator().manual_seed(1)), mixture)


def test_toy_samples_rejects_spread(mixture):
    from helpers.toy import GaussianMixture
    wide = GaussianMixture(mixture.means, mixture.stds * 3)
    with pytest.raises(AssertionError, match="too spread out"):
        check_toy_samples(wide.sample(2000, generator=torch.Generator().manual_seed(1)), mixture)


def test_halo_share_of_the_mixtures_own_draws_is_the_level(mixture):
    from helpers.exercises.toy import HALO_LEVEL, halo_share

    n = 20_000  # binomial s.e. √(0.01 · 0.99 / n) = 0.0007; the level's own estimate from 100,000 draws adds 0.0003
    share = halo_share(mixture.sample(n, generator=torch.Generator().manual_seed(3)), mixture,
                       torch.Generator().manual_seed(4))
    assert abs(share - HALO_LEVEL) < 4 * math.sqrt(HALO_LEVEL * (1 - HALO_LEVEL) / n + 0.0003**2)


def test_toy_samples_rejects_a_halo_the_energy_distance_misses(mixture):
    from helpers.exercises.toy import energy_distance

    gen = torch.Generator().manual_seed(5)
    x = mixture.sample(2000, generator=gen)
    x[:120] = torch.rand(120, 2, generator=gen) * 2 - 1  # 6 % uniform on [−1, 1]², inside the ring of modes
    ref = mixture.sample(2000, generator=gen)
    assert energy_distance(x, ref) < 0.01  # a thin halo moves the energy distance little (its share squared)
    # 6 % placed plus the mixture's own 1 % or so; the energy distance alone would have passed them
    halo = r"^[78]\.[0-9]% of your samples lie where .* a halo off the modes"
    with pytest.raises(AssertionError, match=halo) as info:
        check_toy_samples(x, mixture)
    assert "energy distance" not in str(info.value)


@pytest.mark.parametrize("samples, phrase", [
    (torch.full((100, 2), float("nan")), "NaN"),
    (torch.zeros(100, 3), r"shape \[n, 2\]"),
    (torch.zeros(10, 2), "only 10 samples"),
    (lambda x, t: x, "check_toy_model"),
])
def test_toy_samples_rejects_bad_input(mixture, samples, phrase):
    with pytest.raises(AssertionError, match=phrase):
        check_toy_samples(samples, mixture)


def test_toy_model_grades_sampled_models(mixture, capsys):
    s = DiffusionSchedule(linear_beta_schedule(100, 1e-4, 0.1))
    check_toy_model(mixture.as_model(s), mixture, s, n=1000)
    assert "✓ toy samples" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="too far from the mixture"):
        check_toy_model(lambda x, t: torch.zeros_like(x), mixture, s, n=1000)
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_toy_model(stub, mixture, s, n=1000)
