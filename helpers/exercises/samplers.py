"""Checkers for the reverse steps (notebooks 06, 07) and classifier-free guidance (notebook 08)."""

from __future__ import annotations

from functools import partial

import torch

from .. import ddim_step, ddpm_step
from ._harness import (
    IMAGES,
    as_images,
    call,
    check_per_timestep,
    coef,
    describe,
    expect,
    generator,
    keep_rng,
    passed,
    randn,
    schedule,
    timesteps,
)


def _ddpm_variants(s, x_t, t, eps, noise):
    shape = x_t.shape
    x, e, z = as_images(x_t), as_images(eps), as_images(noise)
    step = lambda **kw: ddpm_step(s, x, t, e, noise=z, **kw).reshape(shape)
    mean, x0_hat = ddpm_step(s, x, t, e, noise=torch.zeros_like(z), return_x0=True)
    mean, x0_hat, z64 = mean.reshape(shape).double(), x0_hat.reshape(shape), noise.double()
    var = coef(s.posterior_variance, t, z64)
    return [
        ("σ_t² = β_t used; this series uses β̃_t (variance=\"posterior\", the report's choice)", step(variance="beta")),
        ("x̂_0 not clipped to [−1, 1]: compute x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t, clamp it, then μ̃_t(x̂_0, x_t)",
         step(clip_x0=False)),
        ("x̂_0 not clipped to [−1, 1], and σ_t² = β_t where β̃_t belongs", step(clip_x0=False, variance="beta")),
        ("noise added at t = 0: the last step returns the mean μ̃_0 (σ from posterior_log_variance_clipped is "
         "√β̃_1 there, not 0)", mean + (0.5 * coef(s.posterior_log_variance_clipped, t, z64)).exp() * z64),
        ("noise added at t = 0 (and σ_t² = β_t where β̃_t belongs): the last step returns the mean",
         mean + coef(s.betas, t, z64).sqrt() * z64),
        ("the noise is scaled by the variance β̃_t: σ_t = √β̃_t", mean + var * z64),
        ("no noise added: x_{t−1} = μ̃_t + σ_t z for t > 0", mean),
        ("returned x̂_0: return x_{t−1} = μ̃_t + σ_t z", x0_hat),
    ]


def check_ddpm_step(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x_t, t, eps, noise)`` → x_{t−1} against ``helpers.ddpm_step``: σ_t² = β̃_t,
    x̂_0 clipped to [−1, 1], no noise at t = 0."""
    check_per_timestep(fn, "ddpm_step", 4, dict(x_t=randn, eps=randn, noise=randn),
                       lambda s, x, t, eps, noise: ddpm_step(s, x, t, eps, noise=noise), _ddpm_variants, shape,
                       again=True, detail="β̃_t, clipped x̂_0, float32 and float64, t from 0 to T−1")


def _ddim(s, x_t, t, t_prev, eps, eta, z, clip=True, recompute=True, prev="one", sigma="right"):
    """The DDIM step in float64 with one thing changed (``prev``: how ᾱ at t_prev = −1 is read; ``sigma``)."""
    x, e, z = x_t.double(), eps.double(), z.double()
    ac = s.alphas_cumprod
    a = coef(ac, t, x)
    ap = {"one": coef(torch.cat([torch.ones(1, dtype=ac.dtype), ac]), t_prev + 1, x),
          "wrap": coef(ac, t_prev, x), "zero": coef(ac, t_prev.clamp(min=0), x)}[prev]
    ratio, jump = (1 - ap) / (1 - a), 1 - a / ap
    sig2 = {"no_ratio": eta**2 * jump, "eta": eta * ratio * jump,
            "posterior": eta**2 * coef(s.posterior_variance, t, x)}.get(sigma, eta**2 * ratio * jump)
    x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
    if clip:
        x0 = x0.clamp(-1, 1)
        if recompute:
            e = (x - a.sqrt() * x0) / (1 - a).sqrt()
    direction = (1 - ap).sqrt() if sigma == "full_direction" else (1 - ap - sig2).clamp(min=0).sqrt()
    scale = {"sigma2": sig2, "no_noise": 0 * sig2}.get(sigma, sig2.sqrt())
    return ap.sqrt() * x0 + direction * e + scale * z, x0


def _ddim_variants(s, x_t, t, t_prev, eps, eta, noise):
    v = partial(_ddim, s, x_t, t, t_prev, eps, eta, noise)
    sigma = "σ_t = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)"
    return [
        ("x̂_0 not clipped to [−1, 1]", v(clip=False)[0]),
        ("x̂_0 clipped but ε̂ not re-derived from it: after clipping, ε̂ ← (x_t − √ᾱ_t x̂_0)/√(1 − ᾱ_t)",
         v(recompute=False)[0]),
        ("t_prev = −1 read as alphas_cumprod[−1] = ᾱ_{T−1}: t_prev = −1 means ᾱ = 1 (the clean image)",
         v(prev="wrap")[0]),
        ("t_prev = −1 read as ᾱ_0: t_prev = −1 means ᾱ = 1, so that step returns x̂_0", v(prev="zero")[0]),
        ("η ignored: for η > 0 add σ_t z and shrink the direction to √(1 − ᾱ_prev − σ_t²) ε̂",
         _ddim(s, x_t, t, t_prev, eps, 0.0, noise)[0]),
        (f"σ_t lacks the factor √((1 − ᾱ_prev)/(1 − ᾱ_t)): {sigma}", v(sigma="no_ratio")[0]),
        (f"σ_t² uses η, not η²: {sigma}", v(sigma="eta")[0]),
        (f"σ_t from β̃_t fits only t_prev = t − 1: {sigma}", v(sigma="posterior")[0]),
        ("the noise is scaled by σ_t², not σ_t", v(sigma="sigma2")[0]),
        ("the direction term is √(1 − ᾱ_prev − σ_t²) ε̂, not √(1 − ᾱ_prev) ε̂", v(sigma="full_direction")[0]),
        ("no noise added for η > 0: x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_t²) ε̂ + σ_t z", v(sigma="no_noise")[0]),
        ("returned x̂_0: return x_{t_prev}", v()[1]),
    ]


DDIM_CASES = [(torch.float64, False, 0.0), (torch.float32, False, 0.5), (torch.float32, True, 0.0),
              (torch.float64, True, 1.0)]


@keep_rng
def check_ddim_step(fn, shape=IMAGES) -> None:
    """Check ``fn(schedule, x_t, t, t_prev, eps, eta, noise)`` → x_{t_prev} against ``helpers.ddim_step``:
    x̂_0 clipped, ε̂ re-derived from it, t_prev = −1 meaning ᾱ = 1."""
    s, gen = schedule(), generator(5)
    for dtype, edges, eta in DDIM_CASES:
        x_t, eps, noise = randn(shape, dtype, gen), randn(shape, dtype, gen), randn(shape, dtype, gen)
        t = timesteps(shape[0], s.T, gen, edges)
        if eta == 1.0:
            t_prev = t - 1  # η = 1, one index down: the DDPM step
        else:
            t_prev = (t - torch.randint(1, 40, t.shape, generator=gen)).clamp(min=0 if not edges else -1)
            if edges:
                t_prev[2:] = -1  # the last step of a sampler, from t = 1 and from larger t
        args = dict(schedule=s, x_t=x_t, t=t, t_prev=t_prev, eps=eps, eta=eta, noise=noise)
        out = call(fn, "ddim_step", args)
        ref = ddim_step(s, as_images(x_t), t, t_prev, as_images(eps), eta, noise=as_images(noise)).reshape(shape)
        expect(out, ref, _ddim_variants(s, x_t, t, t_prev, eps, eta, noise), "ddim_step",
               describe(x_t, t=t, t_prev=t_prev, eta=eta), again=partial(call, fn, "ddim_step", args))
    passed("ddim_step", "η = 0, 0.5, 1, clipped x̂_0 with ε̂ re-derived, t_prev = −1")


@keep_rng
def check_cfg(fn, shape=IMAGES) -> None:
    """Check ``fn(eps_uncond, eps_cond, s)`` → ε̂ = ε̂_u + s (ε̂_c − ε̂_u) (s = 1: conditional, s = 0: unconditional)."""
    gen = generator(6)
    for dtype, s in [(torch.float32, 3.0), (torch.float64, 7.5), (torch.float32, 0.0), (torch.float64, 1.0)]:
        u, c = randn(shape, dtype, gen), randn(shape, dtype, gen)
        out = call(fn, "cfg", dict(eps_uncond=u, eps_cond=c, s=s))
        u64, c64 = u.double(), c.double()
        variants = [
            ("that is Ho & Salimans' (1 + w) ε̂_c − w ε̂_u with w = s; here s = w + 1: ε̂ = ε̂_u + s (ε̂_c − ε̂_u)",
             (1 + s) * c64 - s * u64),
            ("ε̂_u and ε̂_c swapped: ε̂ = ε̂_u + s (ε̂_c − ε̂_u), arguments (eps_uncond, eps_cond, s)",
             c64 + s * (u64 - c64)),
            ("brackets missing: ε̂_u + s (ε̂_c − ε̂_u), not ε̂_u + s ε̂_c − ε̂_u", s * c64),
            ("ε̂_u + s ε̂_c: the bracket is (ε̂_c − ε̂_u)", u64 + s * c64),
            ("s (ε̂_c − ε̂_u) alone: add ε̂_u", s * (c64 - u64)),
            ("guidance not applied: returned ε̂_c", c64),
        ]
        expect(out, u + s * (c - u), variants, "cfg", describe(u, s=s))
    passed("cfg", "s = 0, 1, 3, 7.5")
