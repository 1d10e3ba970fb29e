"""Checkers for the noise schedules (notebook 01): ᾱ_t from β, the log-SNR, and the report's schedule from T."""

from __future__ import annotations

import torch

from .. import DiffusionSchedule, cosine_beta_schedule, linear_beta_schedule, report_beta_schedule
from ._harness import call, expect, keep_rng, passed

FLOAT64 = "schedules are float64: keep the input's dtype (no .float(), no float32 tensors in between)"


def _one_per_step(out, T: int, label: str, where: str):
    """A schedule has one value per index t = 0 … T−1: say so before the generic shape message."""
    if isinstance(out, torch.Tensor) and tuple(out.shape) != (T,):
        raise AssertionError(f"{label} returned shape {list(out.shape)}, expected [{T}] ({where}): one value per "
                             f"index t = 0 … T−1")
    return out


def _schedules():
    """(label, β) pairs: the report's T = 300 first (every mistake shows there), then Ho's and the cosine."""
    return [("the report's schedule, T = 300", report_beta_schedule(300)),
            ("Ho's linear schedule, T = 1000", linear_beta_schedule(1000)),
            ("the cosine schedule, T = 300", cosine_beta_schedule(300)),
            ("the report's schedule, T = 50", report_beta_schedule(50))]


def _cumprod_variants(betas):
    b = betas.double()
    abar = torch.cumprod(1 - b, 0)
    return [
        ("that is ᾱ_{t−1} (alphas_cumprod_prev, starting at 1): ᾱ_t includes step t itself, "
         "ᾱ_t = ∏_{i≤t}(1 − β_i), so ᾱ_0 = 1 − β_0", torch.cat([torch.ones(1, dtype=b.dtype), abar[:-1]])),
        ("torch.cumsum used: ᾱ_t is a running product, torch.cumprod(1 − β, 0)", torch.cumsum(1 - b, 0)),
        ("1 − Σ_{i≤t} β_i is only the first-order approximation of ∏_{i≤t}(1 − β_i): use torch.cumprod",
         1 - torch.cumsum(b, 0)),
        ("exp(−Σ_{i≤t} β_i) is an approximation (log(1 − β) ≈ −β): use torch.cumprod(1 − β, 0)",
         torch.exp(-torch.cumsum(b, 0))),
        ("1 − ∏β_i: the product is over α_i = 1 − β_i, ᾱ_t = ∏_{i≤t}(1 − β_i)", 1 - torch.cumprod(b, 0)),
        ("∏β_i: the product is over α_i = 1 − β_i, not over β_i", torch.cumprod(b, 0)),
        ("that is α_t = 1 − β_t: ᾱ_t is the running product ∏_{i≤t} α_i", 1 - b),
        ("that is √ᾱ_t (the signal scale): return ᾱ_t itself", abar.sqrt()),
        ("the product runs backwards (from the last step): torch.cumprod(1 − β, 0) runs forwards from t = 0",
         torch.cumprod((1 - b).flip(0), 0).flip(0)),
    ]


@keep_rng
def check_alphas_cumprod(fn) -> None:
    """Check ``fn(betas)`` → ᾱ_t = ∏_{i≤t}(1 − β_i), float64 [T], against
    ``DiffusionSchedule(betas).alphas_cumprod``."""
    for where, betas in _schedules():
        out = call(fn, "alphas_cumprod", dict(betas=betas))
        ref = DiffusionSchedule(betas).alphas_cumprod
        _one_per_step(out, len(betas), "alphas_cumprod", f"betas of {where}")
        expect(out, ref, _cumprod_variants(betas), "alphas_cumprod", f"betas of {where}", dtype_hint=FLOAT64)
    passed("alphas_cumprod", "ᾱ_t for the linear, report and cosine schedules")


def _log_snr_variants(abar):
    a = abar.double()
    snr = a / (1 - a)
    return [
        ("log10 used: the log-SNR uses the natural log (torch.log)", torch.log10(snr)),
        ("that is the SNR itself: take its log", snr),
        ("upside down: SNR_t = ᾱ_t/(1 − ᾱ_t) is signal variance over noise variance", torch.log((1 - a) / a)),
        ("that is half the log-SNR: the SNR is a ratio of variances, ᾱ_t/(1 − ᾱ_t), not of the scales "
         "√ᾱ_t/√(1 − ᾱ_t)", 0.5 * torch.log(snr)),
        ("the noise variance is missing: log SNR_t = log ᾱ_t − log(1 − ᾱ_t)", torch.log(a)),
        ("log ᾱ_t + log(1 − ᾱ_t): the noise variance divides, log SNR_t = log ᾱ_t − log(1 − ᾱ_t)",
         torch.log(a) + torch.log(1 - a)),
        ("1 − √ᾱ_t is not the noise variance: SNR_t = ᾱ_t/(1 − ᾱ_t)", torch.log(a / (1 - a.sqrt()))),
    ]


@keep_rng
def check_log_snr(fn) -> None:
    """Check ``fn(alphas_cumprod)`` → log SNR_t = log(ᾱ_t/(1 − ᾱ_t)), float64 [T], against
    ``DiffusionSchedule.log_snr``."""
    for where, betas in _schedules():
        s = DiffusionSchedule(betas)
        out = _one_per_step(call(fn, "log_snr", dict(alphas_cumprod=s.alphas_cumprod)), s.T, "log_snr", f"ᾱ of {where}")
        expect(out, s.log_snr, _log_snr_variants(s.alphas_cumprod), "log_snr", f"ᾱ of {where}", dtype_hint=FLOAT64)
    passed("log_snr", "log(ᾱ_t/(1 − ᾱ_t)) for the linear, report and cosine schedules")


def _report_variants(T):
    k = 1000 / T
    lin = lambda start, end: torch.linspace(start, end, T, dtype=torch.float64)
    start, end = 3e-4 * k, 0.03 * k
    return [
        ("not rescaled: multiply both ends by 1000/T (3e−4 → 0.03 is the schedule at T = 1000 only)",
         lin(3e-4, 0.03)),
        ("that is Ho's schedule rescaled by 1000/T (improved-diffusion's \"linear\", 1e−4 → 0.02 at T = 1000); "
         "the report's runs from 3e−4·1000/T to 0.03·1000/T", lin(1e-4 * k, 0.02 * k)),
        ("that is Ho et al.'s schedule, 1e−4 → 0.02 for every T: the report's runs from 3e−4·1000/T to "
         "0.03·1000/T", lin(1e-4, 0.02)),
        ("rescaled the wrong way: multiply by 1000/T (fewer steps, bigger steps), not by T/1000",
         lin(3e-4 * T / 1000, 0.03 * T / 1000)),
        ("1000 // T is integer division (3 at T = 300, 0 at T = 4000): write 1000 / T",
         lin(3e-4 * (1000 // T), 0.03 * (1000 // T))),
        ("the last β is missing: β_{T−1} = 0.03·1000/T exactly, and torch.linspace includes both ends",
         start + (end - start) * torch.arange(T, dtype=torch.float64) / T),
        ("reversed: β grows with t, from 3e−4·1000/T up to 0.03·1000/T", lin(end, start)),
    ]


@keep_rng
def check_report_schedule(fn) -> None:
    """Check ``fn(T)`` → the report's β, linear from 3e−4·1000/T to 0.03·1000/T, float64 [T], against
    ``helpers.report_beta_schedule`` for T = 300, 50, 1000 and 4000."""
    for T in (300, 50, 1000, 4000):
        out = _one_per_step(call(fn, "report schedule", dict(T=T)), T, "report schedule", f"T = {T}")
        expect(out, report_beta_schedule(T), _report_variants(T), "report schedule", f"T = {T}",
               dtype_hint="schedules are float64: torch.linspace(…, dtype=torch.float64)")
    passed("report schedule", "T = 50, 300, 1000 and 4000")
