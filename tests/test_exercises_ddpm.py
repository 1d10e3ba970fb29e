"""helpers.exercises.ddpm: check_ddpm_mean accepts Ho et al.'s ε-form of the DDPM mean (and the same mean computed
through the unclipped x̂_0), and names each mistake it claims to catch."""

import torch
from exercise_cases import G, assert_keeps_global_rng, names_each_mistake, stub  # tests/ is on sys.path under pytest

from helpers.exercises import NOT_IMPLEMENTED, check_ddpm_mean


def mean_with(outer="inv_sqrt_alpha", root=True, noise="beta", sign=-1.0, out="mean"):
    """A student's μ_θ(x_t, t) = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t, right or with one mistake."""
    def fn(s, x_t, t, eps):
        beta, abar = G(s.betas, t, x_t), G(s.alphas_cumprod, t, x_t)
        if out == "x0":
            return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
        c = {"beta": beta, "sqrt_beta": beta.sqrt(), "sqrt_one_minus_abar": (1 - abar).sqrt()}[noise]
        c = c / ((1 - abar).sqrt() if root else 1 - abar) if noise != "sqrt_one_minus_abar" else c
        o = {"inv_sqrt_alpha": 1 / (1 - beta).sqrt(), "inv_sqrt_abar": 1 / abar.sqrt(), "sqrt_alpha": (1 - beta).sqrt(),
             "none": torch.ones_like(beta)}[outer]
        return o * (x_t + sign * c * eps)
    return fn


def via_x0(s, x_t, t, eps):
    """The same mean the other way: x̂_0 unclipped, then μ̃_t = coef1·x̂_0 + coef2·x_t."""
    abar = G(s.alphas_cumprod, t, x_t)
    x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
    return G(s.posterior_mean_coef1, t, x_t) * x0 + G(s.posterior_mean_coef2, t, x_t) * x_t


MISTAKES = {
    "abar for alpha": (mean_with(outer="inv_sqrt_abar"), "divided by √ᾱ_t where √α_t belongs"),
    "times sqrt alpha": (mean_with(outer="sqrt_alpha"), "multiplied by √α_t"),
    "no outer factor": (mean_with(outer="none"), "factor 1/√α_t is missing"),
    "variance for std": (mean_with(root=False), "1 − ᾱ_t used where √"),
    "sqrt beta": (mean_with(noise="sqrt_beta"), "√β_t used where β_t belongs"),
    "x0 numerator": (mean_with(noise="sqrt_one_minus_abar"), "x̂_0's numerator"),
    "plus eps": (mean_with(sign=1.0), "ε̂ added"),
    "returns x0": (mean_with(out="x0"), "returned x̂_0"),
    "uncast float64": (lambda s, x_t, t, eps: mean_with()(s, x_t.double(), t, eps.double()), "keep x's dtype"),
    "in place": (lambda s, x_t, t, eps: mean_with()(s, x_t, t, eps.mul_(2.0)), "in place"),
    "missing return": (lambda s, x_t, t, eps: None, "missing `return`"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_ddpm_mean_accepts_the_eps_form_and_the_x0_route(capsys):
    check_ddpm_mean(mean_with())
    check_ddpm_mean(via_x0)
    check_ddpm_mean(mean_with(), shape=(6, 2))
    assert capsys.readouterr().out.count("✓ ddpm_mean") == 3


test_ddpm_mean_names_mistake = names_each_mistake(check_ddpm_mean, MISTAKES)


def test_ddpm_mean_check_leaves_global_rng_alone():
    assert_keeps_global_rng(lambda: check_ddpm_mean(mean_with()), 5)
