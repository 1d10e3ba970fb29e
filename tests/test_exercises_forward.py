"""helpers.exercises.forward: check_q_step (notebook 02) and check_predict_x0 (notebook 03) accept the reference
and name each mistake they claim to catch."""

import torch
from exercise_cases import G, names_each_mistake, stub  # tests/ is on sys.path under pytest

from helpers.exercises import NOT_IMPLEMENTED, check_predict_x0, check_q_step

# ---------------------------------------------------------------------------------------------- one step

def step_with(c0=lambda s, t: s.alphas[t].sqrt(), c1=lambda s, t: s.betas[t].sqrt()):
    def fn(s, x_prev, t, noise):
        shape = (-1, *([1] * (x_prev.dim() - 1)))
        return c0(s, t).to(x_prev.dtype).reshape(shape) * x_prev + c1(s, t).to(x_prev.dtype).reshape(shape) * noise
    return fn


STEP_MISTAKES = {
    "abar for alpha": (step_with(lambda s, t: s.sqrt_alphas_cumprod[t],
                                 lambda s, t: s.sqrt_one_minus_alphas_cumprod[t]), "ᾱ_t used where α_t belongs"),
    "beta for sqrt beta": (step_with(c1=lambda s, t: s.betas[t]), "β_t used where √β_t belongs"),
    "alpha for sqrt alpha": (step_with(c0=lambda s, t: s.alphas[t]), r"1 − β_t used where √\(1 − β_t\) belongs"),
    "no square roots": (step_with(lambda s, t: s.alphas[t], lambda s, t: s.betas[t]), "square roots missing"),
    "swapped": (step_with(lambda s, t: s.betas[t].sqrt(), lambda s, t: s.alphas[t].sqrt()), "swapped"),
    "index t - 1": (step_with(lambda s, t: s.alphas[t - 1].sqrt(), lambda s, t: s.betas[t - 1].sqrt()),
                    "one index early"),
    "index t + 1": (step_with(lambda s, t: s.alphas[(t + 1).clamp(max=s.T - 1)].sqrt(),
                              lambda s, t: s.betas[(t + 1).clamp(max=s.T - 1)].sqrt()), "one index late"),
    "no shrink": (step_with(c0=lambda s, t: torch.ones_like(s.betas[t])), "not scaled"),
    "1 - sqrt beta": (step_with(c0=lambda s, t: 1 - s.betas[t].sqrt()), r"1 − √β_t is not"),
    "no noise": (step_with(c1=lambda s, t: 0 * s.betas[t]), "noise term"),
    "fresh noise": (lambda s, x, t, noise: step_with()(s, x, t, torch.randn_like(x)), "different results"),
    "in place": (lambda s, x, t, noise: x.mul_(G(s.alphas.sqrt(), t, x)).add_(G(s.betas.sqrt(), t, x) * noise),
                 "in place"),
    "uncast float64": (lambda s, x, t, noise: s.alphas[t].sqrt().reshape(-1, 1, 1, 1) * x
                       + s.betas[t].sqrt().reshape(-1, 1, 1, 1) * noise, "keep x's dtype"),
    "no reshape": (lambda s, x, t, noise: s.alphas[t].sqrt().to(x.dtype) * x, "don't broadcast"),
    "missing return": (lambda s, x, t, noise: None, "missing `return`"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_q_step_accepts_correct(capsys):
    check_q_step(step_with())
    check_q_step(lambda s, x, t, noise: (1 - G(s.betas, t, x)).sqrt() * x + G(s.betas, t, x).sqrt() * noise)
    assert "✓ q_step is correct" in capsys.readouterr().out


def test_q_step_accepts_points(capsys):
    check_q_step(step_with(), shape=(6, 2))
    assert "✓" in capsys.readouterr().out


test_q_step_names_mistake = names_each_mistake(check_q_step, STEP_MISTAKES)


# ---------------------------------------------------------------------------------------------- x̂_0

def x0_with(table=lambda s, t: s.alphas_cumprod[t], c_e=lambda a: (1 - a).sqrt(), div=lambda a: a.sqrt(), sign=1):
    def fn(s, x_t, t, eps):
        a = G(table(s, torch.arange(s.T)), t, x_t)
        return (x_t - sign * c_e(a) * eps) / div(a)
    return fn


X0_MISTAKES = {
    "swapped": (lambda s, x, t, e: (x - G(s.sqrt_alphas_cumprod, t, x) * e) / G(s.sqrt_one_minus_alphas_cumprod, t, x),
                "swapped"),
    "abar without sqrt": (x0_with(div=lambda a: a), "divided by ᾱ_t"),
    "no square roots": (x0_with(c_e=lambda a: 1 - a, div=lambda a: a), "square roots missing"),
    "variance for std": (x0_with(c_e=lambda a: 1 - a), r"1 − ᾱ_t used where √\(1 − ᾱ_t\) belongs"),
    "alpha for abar": (x0_with(table=lambda s, i: s.alphas), "α_t = 1 − β_t used where ᾱ_t belongs"),
    "abar_{t-1}": (x0_with(table=lambda s, i: s.alphas_cumprod_prev), r"ᾱ_\{t−1\} used"),
    "sign": (x0_with(sign=-1), "sign of the noise term"),
    "precedence": (lambda s, x, t, e: x - G(s.sqrt_one_minus_alphas_cumprod, t, x) * e / G(s.sqrt_alphas_cumprod, t, x),
                   "only the noise term"),
    "multiplied": (lambda s, x, t, e: G(s.sqrt_alphas_cumprod, t, x)
                   * (x - G(s.sqrt_one_minus_alphas_cumprod, t, x) * e), "multiplied by √ᾱ_t"),
    "forward formula": (lambda s, x, t, e: G(s.sqrt_alphas_cumprod, t, x) * x + G(s.sqrt_one_minus_alphas_cumprod, t, x)
                        * e, "the forward formula"),
    "uncast float64": (lambda s, x, t, e: (x - s.sqrt_one_minus_alphas_cumprod[t].reshape(-1, 1, 1, 1) * e)
                       / s.sqrt_alphas_cumprod[t].reshape(-1, 1, 1, 1), "keep x's dtype"),
    "wrong shape": (lambda s, x, t, e: x0_with()(s, x, t, e).mean(0), "shape"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_predict_x0_accepts_correct(capsys):
    check_predict_x0(x0_with())
    check_predict_x0(lambda s, x, t, e: G(s.sqrt_recip_alphas_cumprod, t, x) * x
                     - G(s.sqrt_recipm1_alphas_cumprod, t, x) * e)
    assert "✓ predict_x0 is correct" in capsys.readouterr().out


def test_predict_x0_accepts_points(capsys):
    check_predict_x0(x0_with(), shape=(6, 2))
    assert "✓" in capsys.readouterr().out


test_predict_x0_names_mistake = names_each_mistake(check_predict_x0, X0_MISTAKES)
