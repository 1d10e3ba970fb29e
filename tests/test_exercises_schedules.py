"""helpers.exercises.schedules (notebook 01): check_alphas_cumprod, check_log_snr and check_report_schedule accept
the reference and name each mistake they claim to catch."""

import math

import pytest
import torch
from exercise_cases import names_each_mistake, stub  # tests/ is on sys.path under pytest

from helpers.exercises import NOT_IMPLEMENTED, check_alphas_cumprod, check_log_snr, check_report_schedule

# ---------------------------------------------------------------------------------------------- ᾱ_t

def cumprod_ok(betas):
    return torch.cumprod(1 - betas, dim=0)


CUMPROD_MISTAKES = {
    "shifted (abar_{t-1})": (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)[:-1]]),
                             r"that is ᾱ_\{t−1\}"),
    "cumsum": (lambda b: torch.cumsum(1 - b, 0), "torch.cumsum used"),
    "1 - sum beta": (lambda b: 1 - torch.cumsum(b, 0), "first-order approximation"),
    "exp(-sum beta)": (lambda b: torch.exp(-torch.cumsum(b, 0)), r"exp\(−Σ"),
    "1 - cumprod(beta)": (lambda b: 1 - torch.cumprod(b, 0), "1 − ∏β_i"),
    "cumprod(beta)": (lambda b: torch.cumprod(b, 0), "∏β_i: the product is over α_i"),
    "alpha": (lambda b: 1 - b, "that is α_t = 1 − β_t"),
    "sqrt": (lambda b: torch.cumprod(1 - b, 0).sqrt(), "that is √ᾱ_t"),
    "backwards": (lambda b: torch.cumprod((1 - b).flip(0), 0).flip(0), "runs backwards"),
    "float32": (lambda b: torch.cumprod(1 - b.float(), 0), "float64"),
    "float32, cast back": (lambda b: torch.cumprod(1 - b.float(), 0).double(), "Close but not exact.*float32"),
    "whole product": (lambda b: torch.prod(1 - b), r"shape \[\], expected \[300\].*one value per index"),
    "in place": (lambda b: torch.cumprod(b.mul_(-1).add_(1), 0), "in place"),
    "missing return": (lambda b: None, "missing `return`"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_alphas_cumprod_accepts_correct(capsys):
    check_alphas_cumprod(cumprod_ok)
    assert "✓ alphas_cumprod is correct" in capsys.readouterr().out


def test_alphas_cumprod_accepts_another_float64_order():
    check_alphas_cumprod(lambda b: torch.exp(torch.cumsum(torch.log1p(-b), 0)))  # float64 rounding only


def test_alphas_cumprod_accepts_a_loop():
    def loop(betas):
        out, running = torch.empty_like(betas), 1.0
        for i, beta in enumerate(betas):
            running = running * (1 - beta)
            out[i] = running
        return out
    check_alphas_cumprod(loop)


test_alphas_cumprod_names_mistake = names_each_mistake(check_alphas_cumprod, CUMPROD_MISTAKES)


# ---------------------------------------------------------------------------------------------- log SNR

def log_snr_ok(abar):
    return torch.log(abar / (1 - abar))


LOG_SNR_MISTAKES = {
    "log10": (lambda a: torch.log10(a / (1 - a)), "log10 used"),
    "no log": (lambda a: a / (1 - a), "the SNR itself"),
    "inverted": (lambda a: torch.log((1 - a) / a), "upside down"),
    "scales, not variances": (lambda a: torch.log(a.sqrt() / (1 - a).sqrt()), "half the log-SNR"),
    "log abar": (lambda a: torch.log(a), "noise variance is missing"),
    "plus": (lambda a: torch.log(a) + torch.log(1 - a), "the noise variance divides"),
    "1 - sqrt": (lambda a: torch.log(a / (1 - a.sqrt())), r"1 − √ᾱ_t is not"),
    "float32": (lambda a: torch.log(a.float() / (1 - a.float())), "float64"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_log_snr_accepts_correct(capsys):
    check_log_snr(log_snr_ok)
    check_log_snr(lambda a: torch.log(a) - torch.log1p(-a))
    assert "✓ log_snr is correct" in capsys.readouterr().out


test_log_snr_names_mistake = names_each_mistake(check_log_snr, LOG_SNR_MISTAKES)


# ---------------------------------------------------------------------------------------------- the report's β

def report_with(start=3e-4, end=0.03, scale=lambda T: 1000 / T, dtype=torch.float64):
    def fn(T):
        return torch.linspace(start * scale(T), end * scale(T), T, dtype=dtype)
    return fn


REPORT_MISTAKES = {
    "not rescaled": (report_with(scale=lambda T: 1), "not rescaled"),
    "Ho rescaled": (report_with(1e-4, 0.02), "improved-diffusion"),
    "Ho": (report_with(1e-4, 0.02, scale=lambda T: 1), "that is Ho et al.'s schedule"),
    "wrong way": (report_with(scale=lambda T: T / 1000), "the wrong way"),
    "integer division": (report_with(scale=lambda T: 1000 // T), "integer division"),
    "end missing": (lambda T: 3e-4 * 1000 / T + (0.03 - 3e-4) * 1000 / T * torch.arange(T, dtype=torch.float64) / T,
                    "the last β is missing"),
    "reversed": (lambda T: report_with()(T).flip(0), "reversed"),
    "float32": (report_with(dtype=torch.float32), r"torch.linspace\(…, dtype=torch.float64\)"),
    "float32, cast back": (lambda T: report_with(dtype=torch.float32)(T).double(), "Close but not exact.*float32"),
    "T + 1 values": (lambda T: torch.linspace(0.3 / T, 30 / T, T + 1, dtype=torch.float64), "one value per index"),
    "stub": (stub, NOT_IMPLEMENTED),
}


def test_report_schedule_accepts_correct(capsys):
    check_report_schedule(report_with())
    check_report_schedule(lambda T: torch.linspace(0.3 / T, 30 / T, T, dtype=torch.float64))
    assert "✓ report schedule is correct" in capsys.readouterr().out


test_report_schedule_names_mistake = names_each_mistake(check_report_schedule, REPORT_MISTAKES)


def test_report_schedule_is_diagnosed_where_the_mistakes_differ():
    # at T = 1000 "not rescaled" is right; the checker must still catch it (it starts at T = 300)
    with pytest.raises(AssertionError, match=r"T = 300"):
        check_report_schedule(report_with(scale=lambda T: 1))
    assert math.isclose(1000 / 300 * 0.03, 0.1)
