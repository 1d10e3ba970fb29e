"""Checkers for the time embedding (notebook 04), the loss and one training step (notebook 05)."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import DiffusionSchedule, linear_beta_schedule, q_sample, timestep_embedding
from ._harness import call, close, coef, describe, expect, generator, images, keep_rng, passed, randn, schedule

OMEGA = "ω_i = max_period^(−i/(d/2)), i = 0 … d/2 − 1"


def _embedding(t, dim, max_period=10000.0, denominator=None, sign=-1.0, order="cos_sin", times=True):
    half = dim // 2
    i = torch.arange(half, dtype=torch.float64)
    freqs = torch.exp(sign * math.log(max_period) * i / (denominator or half))
    args = (t.double()[:, None] if times else torch.ones(len(t), 1, dtype=torch.float64)) * freqs
    cos, sin = torch.cos(args), torch.sin(args)
    if order == "interleaved":
        return torch.stack([cos, sin], dim=-1).flatten(1)
    return torch.cat([sin, cos] if order == "sin_cos" else [cos, sin], dim=-1)


@keep_rng
def check_timestep_embedding(fn) -> None:
    """Check ``fn(t, dim)`` → [B, dim] float32 against ``helpers.timestep_embedding`` (cos half first,
    max period 10000)."""
    for t, dim in [([0, 1, 17, 150, 299], 32), ([999, 3, 500, 42], 12), ([5, 0, 250], 8)]:
        t = torch.tensor(t)
        out = call(fn, "timestep_embedding", dict(t=t, dim=dim))
        ref = timestep_embedding(t, dim)
        half = dim // 2
        variants = [
            ("sin half first: the series puts cos first, [cos(t ω), sin(t ω)]", _embedding(t, dim, order="sin_cos")),
            ("cos and sin interleaved: concatenate the halves, [cos(t ω_0 …), sin(t ω_0 …)]",
             _embedding(t, dim, order="interleaved")),
            (f"frequencies off by one: divide the exponent by d/2, not d/2 − 1; {OMEGA}",
             _embedding(t, dim, denominator=half - 1) if half > 1 else None),
            (f"exponent divided by d, not d/2: {OMEGA}", _embedding(t, dim, denominator=dim)),
            (f"frequencies increase: the exponent is negative, {OMEGA}", _embedding(t, dim, sign=1.0)),
            ("t not multiplied in: the arguments are t·ω_i", _embedding(t, dim, times=False)),
        ] + [(f"wrong max period {p:g}: use 10000; {OMEGA}", _embedding(t, dim, max_period=p))
             for p in (1000.0, 100000.0, float(dim))]
        # float32 arguments of size ~1000 are exact to ~1e-4 only, so the tolerance is loose here
        expect(out, ref, variants, "timestep_embedding", f"t = {t.tolist()}, dim = {dim}", rtol=2e-3,
               dtype_hint="the network runs in float32 (t.float())")
    passed("timestep_embedding", "cos half first, dims 8, 12, 32, t up to 999")


class TinyEps(nn.Module):
    """ε_θ(x_t, t) = conv3×3(x_t) + e(t): a small, deterministic network that records its inputs."""

    def __init__(self, channels: int, T: int, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
            self.time = nn.Embedding(T, channels)
        gen = generator(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        self.calls = []

    def forward(self, x, t):
        self.calls.append((x.detach().clone(), t.detach().clone() if isinstance(t, torch.Tensor) else t))
        return self.conv(x) + self.time(t)[:, :, None, None]


def _mse_variants(model, s, x0, t, noise, eps_hat):
    a = coef(s.alphas_cumprod, t, x0).float()
    sq = (eps_hat - noise) ** 2
    return [
        ("compared ε̂ with x_0: the target is the noise ε", F.mse_loss(eps_hat, x0)),
        ("the model saw x_0: feed it x_t = q_sample(schedule, x0, t, noise)", F.mse_loss(model(x0, t), noise)),
        ("summed the squared error: L_simple is the mean over every element (F.mse_loss)", sq.sum()),
        ("per-image sums averaged: L_simple is the mean over every element (F.mse_loss)", sq.flatten(1).sum(1).mean()),
        ("that is the mean absolute error: square the difference", (eps_hat - noise).abs().mean()),
        ("square root taken: L_simple is the mean squared error itself", sq.mean().sqrt()),
        ("x_t built with 1 − ᾱ_t where √(1 − ᾱ_t) belongs: use q_sample(schedule, x0, t, noise)",
         F.mse_loss(model(a.sqrt() * x0 + (1 - a) * noise, t), noise)),
        ("x_t built with the coefficients swapped: use q_sample(schedule, x0, t, noise)",
         F.mse_loss(model((1 - a).sqrt() * x0 + a.sqrt() * noise, t), noise)),
    ]


@keep_rng
def check_diffusion_loss(fn) -> None:
    """Check ``fn(model, schedule, x0, t, noise)`` → L_simple = mean ‖ε − ε_θ(x_t, t)‖², x_t = q_sample(x_0, t, ε).

    ``helpers.training.diffusion_loss`` draws t and ε itself; here they are given, so the value is exact."""
    s, gen = schedule(), generator(7)
    model = TinyEps(2, s.T, seed=7)
    for edges in (False, True):
        x0, noise = images((6, 2, 4, 4), torch.float32, gen), randn((6, 2, 4, 4), torch.float32, gen)
        t = torch.randint(0, s.T, (6,), generator=gen)
        if edges:
            t[:2] = torch.tensor([0, s.T - 1])
        out = call(fn, "diffusion_loss", dict(model=model, schedule=s, x0=x0, t=t, noise=noise))
        if isinstance(out, float):
            raise AssertionError("diffusion_loss returned a float: return the loss tensor (no .item()), "
                                 "so that loss.backward() works")
        if isinstance(out, torch.Tensor) and out.dim() > 0:
            raise AssertionError(f"diffusion_loss returned shape {list(out.shape)}: return a scalar, the mean over "
                                 "every element (F.mse_loss(eps_hat, noise))")
        eps_hat = model(q_sample(s, x0, t, noise), t)
        ref = F.mse_loss(eps_hat, noise)
        expect(out, ref, _mse_variants(model, s, x0, t, noise, eps_hat), "diffusion_loss", describe(x0, t=t))
        if not out.requires_grad:
            raise AssertionError("diffusion_loss has no gradient: don't detach it or compute it under torch.no_grad()")
        params = list(model.parameters())
        grads = torch.autograd.grad(out, params, allow_unused=True) if out.grad_fn is not None else [None]
        if any(g is None for g in grads) or not all(close(g, r, rtol=2e-3)
                                                    for g, r in zip(grads, torch.autograd.grad(ref, params))):
            raise AssertionError("diffusion_loss has the right value, but its gradient is not the model's: it must "
                                 "be computed from model(x_t, t) with its graph kept (no .detach(), .item() or "
                                 ".requires_grad_() on the way)")
    passed("diffusion_loss", "the mean ε-MSE, t from 0 to T−1")


LR = 0.05


def _drawn(calls, x0, s, label):
    """(x_t, t, ε) of the step's first model call, with ε solved from x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε."""
    if not calls:
        raise AssertionError(f"{label} never called the model: ε̂ = model(x_t, t)")
    x_t, t = calls[0]
    if not isinstance(t, torch.Tensor) or t.dtype != torch.long or tuple(t.shape) != (x0.shape[0],):
        raise AssertionError(f"{label}: t should be a LongTensor [B] = [{x0.shape[0]}] (torch.randint), got {t!r}")
    if torch.equal(x_t, x0):
        raise AssertionError(f"{label}: the model saw x_0: feed it x_t = q_sample(schedule, x0, t, noise)")
    a = coef(s.alphas_cumprod, t, x0)
    eps = ((x_t.double() - a.sqrt() * x0.double()) / (1 - a).sqrt()).float()
    return x_t, t, eps


def _loss_and_grads(model, x_t, t, eps):
    loss = F.mse_loss(model(x_t, t), eps)
    return float(loss.detach()), torch.autograd.grad(loss, list(model.parameters()))


def _moved(before, model):
    """The gradient the optimizer applied: (θ_before − θ_after)/lr (SGD)."""
    return [(b - p.detach()) / LR for b, p in zip(before, model.parameters())]


def _all_close(a, b) -> bool:
    return all(close(x, y, rtol=2e-3) for x, y in zip(a, b))


def _step(fn, model, optimizer, s, x0, seed, label):
    model.calls.clear()
    before = [p.detach().clone() for p in model.parameters()]
    frozen = copy.deepcopy(model)
    loss = call(fn, label, dict(model=model, optimizer=optimizer, schedule=s, x0=x0, generator=generator(seed)))
    if loss is None:
        raise AssertionError(f"{label} returned None: return the loss (loss.item())")
    try:
        loss = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{label} should return the loss as a number or a 0-d tensor, got {loss!r}") from None
    x_t, t, eps = _drawn(model.calls, x0, s, label)
    expected, grads = _loss_and_grads(frozen, x_t, t, eps)
    if not math.isclose(loss, expected, rel_tol=1e-4, abs_tol=1e-6):
        after = F.mse_loss(model(x_t, t), eps).item()
        if math.isclose(loss, after, rel_tol=1e-4, abs_tol=1e-6):
            raise AssertionError(f"{label} returned the loss after optimizer.step(): return the one you backpropagated")
        raise AssertionError(f"{label} returned {loss:.6g}, but mean ‖ε − ε_θ(x_t, t)‖² at the t and ε it drew is "
                             f"{expected:.6g}: L_simple = F.mse_loss(model(x_t, t), noise)")
    return before, grads, t, eps


@keep_rng
def check_training_step(fn) -> None:
    """Check ``fn(model, optimizer, schedule, x0, generator)`` → the loss: t ~ U{0 … T−1} and ε ~ N(0, I) drawn
    with ``generator``, L_simple, zero_grad, backward, step. The loss returned is the one before the step."""
    label, T = "training_step", 20
    s = DiffusionSchedule(linear_beta_schedule(T, 1e-3, 0.2))
    model = TinyEps(2, T, seed=8)  # two channels, so that noise shared across channels shows
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x0 = images((16, 2, 4, 4), torch.float32, generator(8))

    before, grads, _, _ = _step(fn, model, optimizer, s, x0, 1, label)
    moved = _moved(before, model)
    if all(float(m.abs().max()) == 0 for m in moved):
        raise AssertionError(f"{label} left the parameters unchanged: loss.backward(), then optimizer.step() "
                             "(optimizer.zero_grad() goes before backward, not between)")
    if not _all_close(moved, grads):
        raise AssertionError(f"{label}: the parameters moved, but not by one step of the optimizer passed in along "
                             "∇ L_simple at the drawn t and ε")
    before2, grads2, _, _ = _step(fn, model, optimizer, s, x0, 2, label)
    moved2 = _moved(before2, model)
    if _all_close(moved2, [a + b for a, b in zip(grads, grads2)]):
        raise AssertionError(f"{label}: gradients accumulate across calls: call optimizer.zero_grad() before "
                             "loss.backward()")
    if not _all_close(moved2, grads2):
        raise AssertionError(f"{label}: the second step is not one step along ∇ L_simple (stale gradients?)")

    twin = copy.deepcopy(model)
    twin.calls.clear()
    ts, epss = [], []
    for seed in range(10, 50):
        _, _, t, eps = _step(fn, model, optimizer, s, x0, seed, label)
        ts.append(t)
        epss.append(eps)
    call(fn, label, dict(model=twin, optimizer=torch.optim.SGD(twin.parameters(), lr=LR), schedule=s, x0=x0,
                         generator=generator(10)))
    _, t_again, eps_again = _drawn(twin.calls, x0, s, label)
    if not (torch.equal(t_again, ts[0]) and close(eps_again, epss[0])):
        raise AssertionError(f"{label}: the same generator drew a different t or ε: pass generator=generator to "
                             "torch.randint and torch.randn")
    t, eps = torch.cat(ts), torch.cat(epss)
    counts = torch.bincount(t, minlength=T).double()
    if counts[0] == 0:
        raise AssertionError(f"{label}: t never drew 0: t ~ U{{0 … T−1}}, torch.randint(0, T, (B,))")
    if counts[T - 1] == 0:
        raise AssertionError(f"{label}: t never drew T − 1: torch.randint's upper bound is exclusive, pass T")
    expected = len(t) / T
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    if chi2 > T - 1 + 8 * math.sqrt(2 * (T - 1)):
        raise AssertionError(f"{label}: t is not uniform on 0 … T−1 (counts {counts.long().tolist()}): "
                             "torch.randint(0, T, (B,))")
    if abs(float(eps.mean())) > 0.05 or abs(float(eps.std()) - 1) > 0.05:
        raise AssertionError(f"{label}: the ε behind x_t should be N(0, I) (torch.randn); it has mean "
                             f"{float(eps.mean()):.2f}, std {float(eps.std()):.2f}: check the noise and x_t")
    # a fresh ε for every image: 16 independent rows of 32 N(0, 1) lie about √64 = 8 apart, a copy within the
    # float32 error of solving ε from x_t (about 1e-5)
    for step_eps in epss:
        rows = step_eps.flatten(1).double()
        gaps = torch.cdist(rows, rows) + torch.eye(len(rows), dtype=torch.float64) * 1e9
        if float(gaps.min()) < 1e-3:
            raise AssertionError(f"{label}: two images of a batch got the same ε: draw it for the whole batch at "
                                 "once, torch.randn(x0.shape, generator=generator), one number per element")
    # independent elements: over 640 images, the correlation of two of the 32 positions has an s.e. of 0.04
    corr = torch.corrcoef(eps.flatten(1).T.double()) - torch.eye(eps[0].numel(), dtype=torch.float64)
    if float(corr.abs().max()) > 0.5:
        raise AssertionError(f"{label}: the ε behind x_t is shared across pixels or channels (correlation "
                             f"{float(corr.abs().max()):.2f} between two positions over many images): draw one "
                             "number per element, torch.randn(x0.shape, generator=generator)")
    passed(label, "loss before the step, zero_grad, one step, t uniform on 0 … T−1, ε ~ N(0, I)")
