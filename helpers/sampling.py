"""Reverse-process samplers: DDPM (ancestral), DDIM (η-family, strided) and classifier-free guidance.

Notation (see the README's conventions): index t ∈ {0, …, T−1} is the paper's step t+1;
ᾱ_t = ∏_{s≤t}(1 − β_s) and, for the step *after* the last index, ᾱ_{−1} = 1 (written ``t_prev=-1``).
Sampling runs from x_{T−1} (pure noise) down to x_0; the step at t = 0 adds no noise.

Every sampler predicts ε̂ with the model, turns it into x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, clips x̂_0 to
[−1, 1] unless ``clip_x0=False``, and moves to the previous time. Samplers run under
``torch.inference_mode()``, accept a ``torch.Generator`` for reproducible noise and, with
``return_trajectory=True``, also return every intermediate x_t and x̂_0 (stored on the CPU).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ._checks import check_choice, check_image_batch, check_same_shape, check_timesteps
from .posterior import predict_eps_from_x0, predict_x0_from_eps, q_posterior_mean_variance
from .schedules import DiffusionSchedule

VARIANCES = ("posterior", "beta")
SPACINGS = ("trailing", "leading", "linspace", "report")


# ----------------------------------------------------------------------------------------------
# argument checks and small utilities
# ----------------------------------------------------------------------------------------------

def _check_int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an int with {low} <= {name} <= {high}, got {value!r}")
    return int(value)


def _check_real(value, name: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return float(value)


def _check_prev_timesteps(t_prev, T: int, batch_size: int) -> torch.Tensor:
    """Like ``check_timesteps`` but allowing −1, the index whose ᾱ is 1 (the clean image)."""
    if isinstance(t_prev, bool):
        raise ValueError("t_prev must be an int or an integer tensor of shape [B], got a bool")
    if isinstance(t_prev, numbers.Integral):
        if not -1 <= t_prev < T:
            raise ValueError(f"t_prev must satisfy -1 <= t_prev < T={T}, got {t_prev}")
        return torch.full((batch_size,), int(t_prev), dtype=torch.long)
    if isinstance(t_prev, torch.Tensor) and not (t_prev.dtype.is_floating_point or t_prev.dtype.is_complex
                                                  or t_prev.dtype == torch.bool):
        # shift into 0..T so the shared check applies, then shift back
        try:
            return check_timesteps(t_prev + 1, T + 1, batch_size, name="t_prev + 1") - 1
        except ValueError as err:
            raise ValueError(f"t_prev must hold integers in -1..{T - 1} with shape [B]: {err}") from None
    raise ValueError(f"t_prev must be an int or an integer tensor of shape [B], got {t_prev!r}")


def _randn(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """N(0, I) noise in ``like``'s dtype and device. As in diffusers' ``randn_tensor``, a CPU generator
    draws on the CPU and the result is moved, so a seed gives the same numbers on any device."""
    device = like.device if generator is None else generator.device
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=device).to(like.device)


def _gather(table: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """table[t] as [B, 1, 1, 1] in ``like``'s dtype/device (tables are float64 on the CPU)."""
    return table[t.cpu()].to(dtype=like.dtype, device=like.device).reshape(-1, *([1] * (like.dim() - 1)))


def _alphas_cumprod_padded(schedule: DiffusionSchedule) -> torch.Tensor:
    """[ᾱ_{−1}=1, ᾱ_0, …, ᾱ_{T−1}]: index ``t + 1`` reads ᾱ_t, so t = −1 reads 1."""
    return torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod])


def _check_labels(model, y, batch_size: int, device) -> torch.Tensor | None:
    """Labels as a LongTensor [B] on ``device``; the null label ``num_classes`` is allowed."""
    if y is None:
        return None
    num_classes = getattr(model, "num_classes", None)
    if num_classes is None:
        raise ValueError("labels y were given, but the model is unconditional (model.num_classes is None); "
                         "pass y=None or use a class-conditional model")
    if isinstance(y, bool):
        raise ValueError("y must be an int or an integer tensor of shape [B], got a bool")
    if isinstance(y, numbers.Integral):
        y = torch.full((batch_size,), int(y), dtype=torch.long)
    if not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"y must be an int or an integer tensor of shape [B], got {y!r}")
    if y.dim() == 0:
        y = y.reshape(1).expand(batch_size)
    if tuple(y.shape) != (batch_size,):
        raise ValueError(f"y must have shape [B]=({batch_size},), got shape {tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) > num_classes):
        raise ValueError(f"y must be in 0..{num_classes - 1}, or {num_classes} for the null label; "
                         f"got values in [{int(y.min())}, {int(y.max())}]")
    return y.to(device=device, dtype=torch.long)


def _check_guidance(model, y, guidance_scale, batch_size: int, device):
    s = _check_real(guidance_scale, "guidance_scale")
    y = _check_labels(model, y, batch_size, device)
    if y is None and s != 1.0:
        raise ValueError(f"guidance_scale={guidance_scale!r} needs class labels y (guidance_scale=1 means "
                         "no guidance); pass y, or guidance_scale=1.0")
    return y, s


def _call_model(model, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """ε̂ = model(x_t, t) or model(x_t, t, y), with t a LongTensor [B] on the images' device."""
    t = t.to(device=x_t.device, dtype=torch.long)
    eps = model(x_t, t) if y is None else model(x_t, t, y)
    check_same_shape(x_t, eps, "x_t", "the model's output")
    return eps


def _as_batch_t(t, batch_size: int, device) -> torch.Tensor:
    if isinstance(t, bool):
        raise ValueError("t must be an int or an integer tensor of shape [B], got a bool")
    if isinstance(t, numbers.Integral):
        t = torch.full((batch_size,), int(t), dtype=torch.long)
    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise ValueError(f"t must be an int or an integer tensor of shape [B], got {t!r}")
    if t.dim() == 0:
        t = t.reshape(1).expand(batch_size)
    if tuple(t.shape) != (batch_size,):
        raise ValueError(f"t must have shape [B]=({batch_size},), got shape {tuple(t.shape)}")
    return t.to(device=device, dtype=torch.long)


class _Recorder:
    """Collects (t, x_t, x̂_0) per step on the CPU; ``every`` keeps every k-th step (and the last),
    because a full DDPM trajectory of a batch can take gigabytes."""

    def __init__(self, enabled: bool, n_steps: int, every: int):
        self.enabled, self.n_steps, self.every = enabled, n_steps, every
        self.t, self.t_prev, self.x_t, self.x0_hat = [], [], [], []

    def add(self, i: int, t: int, t_prev: int, x_t: torch.Tensor, x0_hat: torch.Tensor) -> None:
        if self.enabled and (i % self.every == 0 or i == self.n_steps - 1):
            self.t.append(t)
            self.t_prev.append(t_prev)
            # no copy here: the samplers never modify x in place, and stack() copies once at the end
            self.x_t.append(x_t.detach().cpu())
            self.x0_hat.append(x0_hat.detach().cpu())

    def result(self) -> dict:
        return {
            "t": torch.tensor(self.t, dtype=torch.long),
            "t_prev": torch.tensor(self.t_prev, dtype=torch.long),
            "x_t": torch.stack(self.x_t),
            "x0_hat": torch.stack(self.x0_hat),
        }


def _finish(x: torch.Tensor, record: _Recorder, return_trajectory: bool):
    # clone outside inference mode: an inference tensor refuses in-place edits (x.clamp_()) later on
    x = x.clone()
    return (x, record.result()) if return_trajectory else x


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm  # imported lazily: only needed for the bar
    return tqdm(iterable, desc=desc)


# ----------------------------------------------------------------------------------------------
# classifier-free guidance
# ----------------------------------------------------------------------------------------------

def cfg_eps(model, x_t: torch.Tensor, t, y, guidance_scale: float, null_label: int | None = None) -> torch.Tensor:
    """Classifier-free guidance: ε̂ = ε̂_u + s · (ε̂_c − ε̂_u),  ε̂_c = ε_θ(x_t, t, y),  ε̂_u = ε_θ(x_t, t, ∅).

    ``guidance_scale`` s follows diffusers: s = 1 is the plain conditional prediction (one forward pass),
    s = 0 the unconditional one (one pass, with the null label), s > 1 pushes away from ∅. Ho & Salimans
    (2022) write ε̂ = (1 + w) ε̂_c − w ε̂_u, i.e. w = s − 1. For any other s both predictions come from ONE
    forward pass on the concatenated batch [x_t; x_t] with labels [y; ∅].

    The null label ∅ is the extra class index ``model.num_classes`` unless ``null_label`` is given.
    ``y=None`` is allowed only with s = 1 (then the model is called as ``model(x_t, t)``).
    """
    check_image_batch(x_t, "x_t")
    b = x_t.shape[0]
    t = _as_batch_t(t, b, x_t.device)
    y, s = _check_guidance(model, y, guidance_scale, b, x_t.device)
    if y is None:
        return _call_model(model, x_t, t)
    if null_label is None:
        null_label = model.num_classes
    null = torch.full_like(y, null_label)
    if s == 1.0:
        return _call_model(model, x_t, t, y)
    if s == 0.0:
        return _call_model(model, x_t, t, null)
    # one batched pass instead of two: half the launches; equal results as the model treats examples independently
    eps = _call_model(model, torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, null]))
    eps_c, eps_u = eps.chunk(2)
    return eps_u + s * (eps_c - eps_u)


# ----------------------------------------------------------------------------------------------
# DDPM
# ----------------------------------------------------------------------------------------------

def ddpm_step(schedule: DiffusionSchedule, x_t: torch.Tensor, t, eps: torch.Tensor, noise: torch.Tensor | None = None,
              clip_x0: bool = True, variance: str = "posterior", generator: torch.Generator | None = None,
              return_x0: bool = False):
    """One ancestral step x_t → x_{t−1} ~ N(μ̃_t(x̂_0, x_t), σ_t² I):

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t  (clipped to [−1, 1] if ``clip_x0``),
    μ̃_t = β_t √ᾱ_{t−1}/(1−ᾱ_t) · x̂_0 + (1−ᾱ_{t−1}) √α_t/(1−ᾱ_t) · x_t,
    x_{t−1} = μ̃_t + σ_t z,  z ~ N(0, I),  σ_t² = β̃_t (``variance="posterior"``, "fixed small", the
    report's) or β_t (``"beta"``, "fixed large"); σ = 0 where t = 0, so the last step returns μ̃_0.

    ``t`` is an int or a LongTensor [B] (per example). ``noise`` (z) is drawn with ``generator`` if not
    given. With ``return_x0=True`` returns ``(x_{t−1}, x̂_0)``.
    """
    check_image_batch(x_t, "x_t")
    check_choice(variance, VARIANCES, "variance")
    t = check_timesteps(t, schedule.T, x_t.shape[0])
    x0_hat = predict_x0_from_eps(schedule, x_t, t, eps)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    mean, _, _ = q_posterior_mean_variance(schedule, x0_hat, x_t, t)
    table = schedule.posterior_variance if variance == "posterior" else schedule.betas
    # no noise where t == 0: the last step returns the mean, x_0 itself
    sigma = _gather(table.sqrt(), t, x_t) * (t > 0).to(x_t.device, x_t.dtype).reshape(-1, 1, 1, 1)
    if bool((t > 0).any()):
        # drawn only when some example needs it, as diffusers does, so seeded runs consume the same numbers
        if noise is None:
            noise = _randn(x_t.shape, x_t, generator)
        check_same_shape(x_t, noise, "x_t", "noise")
        x_prev = mean + sigma * noise
    else:
        x_prev = mean
    return (x_prev, x0_hat) if return_x0 else x_prev


def ddpm_sample(model, schedule: DiffusionSchedule, x_T: torch.Tensor, y=None, guidance_scale: float = 1.0,
                clip_x0: bool = True, variance: str = "posterior", generator: torch.Generator | None = None,
                return_trajectory: bool = False, progress: bool = False, trajectory_every: int = 1):
    """Ancestral sampling: x_{T−1} = ``x_T`` ~ N(0, I), then ``ddpm_step`` for t = T−1, …, 0 (T model calls).

    ε̂ comes from ``cfg_eps(model, x_t, t, y, guidance_scale)``. Returns x_0, or with
    ``return_trajectory=True`` ``(x_0, trajectory)``: a dict of CPU tensors ``"t"`` [K] (the index of
    each recorded step), ``"t_prev"`` [K] (t − 1), ``"x_t"`` [K, B, C, H, W] (the step's input) and
    ``"x0_hat"`` [K, B, C, H, W] (its clipped prediction of x_0). ``trajectory_every=k`` keeps every
    k-th step and the last (K = T when k = 1).
    """
    check_image_batch(x_T, "x_T")
    check_choice(variance, VARIANCES, "variance")
    trajectory_every = _check_int(trajectory_every, "trajectory_every", 1, max(schedule.T, 1))
    b = x_T.shape[0]
    y, s = _check_guidance(model, y, guidance_scale, b, x_T.device)
    record = _Recorder(return_trajectory, schedule.T, trajectory_every)
    with torch.inference_mode():
        x = x_T
        for i, t in enumerate(_progress(range(schedule.T - 1, -1, -1), progress, "DDPM")):
            tt = torch.full((b,), t, dtype=torch.long, device=x.device)
            eps = cfg_eps(model, x, tt, y, s)
            x_prev, x0_hat = ddpm_step(schedule, x, tt, eps, clip_x0=clip_x0, variance=variance,
                                       generator=generator, return_x0=True)
            record.add(i, t, t - 1, x, x0_hat)
            x = x_prev
    return _finish(x, record, return_trajectory)


# ----------------------------------------------------------------------------------------------
# DDIM
# ----------------------------------------------------------------------------------------------

def ddim_timesteps(T: int, steps: int, spacing: str = "trailing") -> torch.Tensor:
    """The DDIM sub-sequence τ (LongTensor [steps], descending) of the indices 0…T−1.

    Spacings as in diffusers' ``DDIMScheduler.set_timesteps`` (Lin et al. 2023, Table 2):

    - ``"trailing"``: round(T − k·T/steps) − 1 for k = 0…steps−1; starts at T−1 (recommended).
    - ``"leading"`` (``steps_offset=0``): k·(T // steps), reversed; starts below T−1, ends at 0.
    - ``"linspace"``: round(linspace(0, T−1, steps)), reversed.
    - ``"report"``: the report's own sequence, c = T // steps, τ = (0, c, 2c, …) + 1 reversed
      (so it may hold more than ``steps`` entries when c does not divide T). ``ddim_sample`` ends this
      one at index 0 (ᾱ_0 ≠ 1) as the report does: the pitfall notebook 07 shows.

    diffusers' trailing formula uses a float ``np.arange`` that, for some (T, steps) such as (300, 7),
    yields an extra entry −1; we keep the first ``steps`` entries, which equal diffusers' everywhere else.
    """
    T = _check_int(T, "T", 1, 10**9)
    steps = _check_int(steps, "steps", 1, T)
    check_choice(spacing, SPACINGS, "spacing")
    # numpy on purpose: the same float arithmetic as diffusers, so rounding ties break the same way
    if spacing == "trailing":
        seq = (np.round(np.arange(T, 0, -T / steps)).astype(np.int64) - 1)[:steps]
    elif spacing == "leading":
        seq = (np.arange(0, steps) * (T // steps)).round()[::-1].astype(np.int64)
    elif spacing == "linspace":
        seq = np.linspace(0, T - 1, steps).round()[::-1].astype(np.int64)
    else:
        seq = (np.arange(0, T, T // steps) + 1)[::-1]
        if seq[0] >= T:
            raise ValueError(f"spacing='report' with T={T}, steps={steps} reaches index {seq[0]} >= T "
                             "(the report's +1 shift); choose fewer steps")
    return torch.from_numpy(seq.copy()).long()


def ddim_step(schedule: DiffusionSchedule, x_t: torch.Tensor, t, t_prev, eps: torch.Tensor, eta: float = 0.0,
              noise: torch.Tensor | None = None, clip_x0: bool = True, generator: torch.Generator | None = None,
              recompute_eps: bool = True, return_x0: bool = False):
    """One DDIM step x_t → x_{t_prev} (Song et al. 2021, eq. 12) with t_prev < t; ``t_prev=-1`` means ᾱ = 1:

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t  (clipped to [−1, 1] if ``clip_x0``),
    σ_t = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev),
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ_t²) ε̂ + σ_t z,  z ~ N(0, I).

    η = 0 is the deterministic DDIM (an ODE step); η = 1 with t_prev = t − 1 is exactly the DDPM step with
    the posterior variance β̃_t. With η = 0, t_prev > t is allowed too: the ODE run forwards, one step of
    ``ddim_invert``. ``t``, ``t_prev``: ints or LongTensors [B]. ``noise`` (z) is drawn
    with ``generator`` only when η > 0. With ``return_x0=True`` returns ``(x_prev, x̂_0)``.

    With ``clip_x0``, the direction term uses ε̂ re-derived from the clipped x̂_0,
    ε̂ ← (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t), so that x̂_0 and ε̂ still add up to x_t (``recompute_eps=True``, the
    default; OpenAI's guided-diffusion/GLIDE, diffusers' ``use_clipped_model_output=True``). This is also
    what DDPM's clipped posterior mean does, so η = 1 over all T stays the DDPM step. ``recompute_eps=False``
    keeps the model's ε̂ (diffusers' default): under guidance the unclipped ε̂ pushes pixels past the
    clip at every step and samples wash out (README: Conventions, "x̂_0 clipping"; notebook 08, section 6).
    """
    check_image_batch(x_t, "x_t")
    check_same_shape(x_t, eps, "x_t", "eps")
    eta = _check_real(eta, "eta", minimum=0.0)
    b = x_t.shape[0]
    t = check_timesteps(t, schedule.T, b)
    t_prev = _check_prev_timesteps(t_prev, schedule.T, b)
    padded = _alphas_cumprod_padded(schedule)
    a_t, a_prev = padded[t + 1], padded[t_prev + 1]  # float64 [B]
    if eta > 0 and bool((t_prev > t).any()):
        raise ValueError("eta > 0 needs t_prev <= t (a noising step has no σ_t); use eta=0 to step forwards")
    sigma2 = eta**2 * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    direction2 = 1 - a_prev - sigma2
    if bool((direction2 < -1e-12).any()):
        raise ValueError(f"eta={eta} is too large for this step: 1 − ᾱ_prev − σ_t² < 0; use 0 <= eta <= 1")
    # clamp the rounding-size negatives (η = 1, t_prev = −1 gives 0 − 0)
    direction = direction2.clamp(min=0).sqrt()

    x0_hat = predict_x0_from_eps(schedule, x_t, t, eps)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        if recompute_eps:
            eps = predict_eps_from_x0(schedule, x_t, t, x0_hat)
    shape = (-1,) + (1,) * (x_t.dim() - 1)
    to = dict(dtype=x_t.dtype, device=x_t.device)
    x_prev = a_prev.sqrt().to(**to).reshape(shape) * x0_hat + direction.to(**to).reshape(shape) * eps
    if eta > 0:
        if noise is None:
            noise = _randn(x_t.shape, x_t, generator)
        check_same_shape(x_t, noise, "x_t", "noise")
        x_prev = x_prev + sigma2.sqrt().to(**to).reshape(shape) * noise
    return (x_prev, x0_hat) if return_x0 else x_prev


def _ddim_pairs(T: int, steps: int, spacing: str, final_alpha_one: bool | None):
    """(τ_i, τ_{i+1}) for every step; after the last entry comes −1 (ᾱ = 1) or 0 (ᾱ_0, the report's)."""
    seq = ddim_timesteps(T, steps, spacing)
    if final_alpha_one is None:
        final_alpha_one = spacing != "report"
    last = torch.tensor([-1 if final_alpha_one else 0], dtype=torch.long)
    return seq, torch.cat([seq[1:], last])


def ddim_sample(model, schedule: DiffusionSchedule, x_T: torch.Tensor, steps: int = 50, eta: float = 0.0,
                spacing: str = "trailing", y=None, guidance_scale: float = 1.0, clip_x0: bool = True,
                generator: torch.Generator | None = None, return_trajectory: bool = False, progress: bool = False,
                final_alpha_one: bool | None = None, recompute_eps: bool = True, trajectory_every: int = 1):
    """DDIM sampling along τ = ``ddim_timesteps(T, steps, spacing)``: ``ddim_step`` from each τ_i to τ_{i+1}.

    After the last entry the step goes to t_prev = −1 (ᾱ = 1), so x_0 = x̂_0 carries no leftover
    noise (diffusers' ``set_alpha_to_one=True``). ``spacing="report"`` reproduces the report instead:
    its last step lands on index 0, ᾱ_0 < 1, leaving √(1−ᾱ_0) ε̂ of noise in the image.
    ``final_alpha_one`` overrides this (None: True except for ``"report"``; False: end at index 0, as
    diffusers' ``set_alpha_to_one=False``).

    η = 0 is deterministic given x_T; η = 1 with steps = T is DDPM with the posterior variance.
    ε̂ comes from ``cfg_eps``; ``clip_x0``/``recompute_eps`` as in ``ddim_step``.
    ``return_trajectory``/``trajectory_every`` as in ``ddpm_sample``
    (K = number of steps).
    """
    check_image_batch(x_T, "x_T")
    eta = _check_real(eta, "eta", minimum=0.0)
    seq, prev = _ddim_pairs(schedule.T, steps, spacing, final_alpha_one)
    trajectory_every = _check_int(trajectory_every, "trajectory_every", 1, max(len(seq), 1))
    b = x_T.shape[0]
    y, s = _check_guidance(model, y, guidance_scale, b, x_T.device)
    record = _Recorder(return_trajectory, len(seq), trajectory_every)
    with torch.inference_mode():
        x = x_T
        for i in _progress(range(len(seq)), progress, "DDIM"):
            t, t_prev = int(seq[i]), int(prev[i])
            tt = torch.full((b,), t, dtype=torch.long, device=x.device)
            eps = cfg_eps(model, x, tt, y, s)
            x_prev, x0_hat = ddim_step(schedule, x, tt, t_prev, eps, eta=eta, clip_x0=clip_x0, generator=generator,
                                       recompute_eps=recompute_eps, return_x0=True)
            record.add(i, t, t_prev, x, x0_hat)
            x = x_prev
    return _finish(x, record, return_trajectory)


def _ddim_up(schedule: DiffusionSchedule, x: torch.Tensor, t_from: int, t: int, eps: torch.Tensor):
    """x̂_0 from (x, ε̂) at index t_from (−1: x is x̂_0), re-noised to index t with the same ε̂ (η = 0)."""
    x0_hat = x if t_from < 0 else predict_x0_from_eps(schedule, x, t_from, eps)
    tt = torch.full((x.shape[0],), t, dtype=torch.long)
    x_t = (schedule.gather(schedule.sqrt_alphas_cumprod, tt, x) * x0_hat
           + schedule.gather(schedule.sqrt_one_minus_alphas_cumprod, tt, x) * eps)
    return x_t, x0_hat


def ddim_invert(model, schedule: DiffusionSchedule, x0: torch.Tensor, steps: int = 50, spacing: str = "trailing",
                y=None, guidance_scale: float = 1.0, final_alpha_one: bool | None = None,
                fixed_point_iters: int = 0, return_trajectory: bool = False, progress: bool = False):
    """DDIM inversion: the η = 0 ODE run forwards, x_0 → x_{τ_1} → … → x_{τ_K} ≈ x_T, no clipping.

    Each step reverses one ``ddim_step`` of ``ddim_sample`` with the same arguments:
    x_τ = √ᾱ_τ x̂_0 + √(1−ᾱ_τ) ε̂,  x̂_0 = (x_s − √(1−ᾱ_s) ε̂)/√ᾱ_s,  s the previous (lower) index
    (−1, ᾱ = 1, at the start). ε̂ = ε_θ(x_s, τ) is taken at the point we stand on but with the target's
    timestep, as diffusers' ``DDIMInverseScheduler`` does: the true ε_θ(x_τ, τ) is unknown until we get there.
    Exact when ε̂ is constant along the path; otherwise the round trip x_0 → x_T → x_0 errs by O(1/steps).

    ``fixed_point_iters=k`` refines each step k times with ε̂ = ε_θ(x_τ, τ) at the current guess of x_τ
    (k more model calls per step): the fixed point is the exact inverse of the sampler's step, so the
    round trip through ``ddim_sample(..., eta=0, clip_x0=False)`` returns x_0 up to the iteration's error.
    ``final_alpha_one`` as in ``ddim_sample``: pass the same value (and steps, spacing) to both.
    """
    check_image_batch(x0, "x0")
    fixed_point_iters = _check_int(fixed_point_iters, "fixed_point_iters", 0, 1000)
    seq, prev = _ddim_pairs(schedule.T, steps, spacing, final_alpha_one)
    seq, prev = seq.flip(0), prev.flip(0)  # ascending: from prev[i] up to seq[i]
    b = x0.shape[0]
    y, s = _check_guidance(model, y, guidance_scale, b, x0.device)
    record = _Recorder(return_trajectory, len(seq), 1)
    with torch.inference_mode():
        x = x0
        for i in _progress(range(len(seq)), progress, "DDIM inversion"):
            t, t_from = int(seq[i]), int(prev[i])
            tt = torch.full((b,), t, dtype=torch.long, device=x.device)
            x_next, x0_hat = _ddim_up(schedule, x, t_from, t, cfg_eps(model, x, tt, y, s))
            for _ in range(fixed_point_iters):
                x_next, x0_hat = _ddim_up(schedule, x, t_from, t, cfg_eps(model, x_next, tt, y, s))
            record.add(i, t, t_from, x, x0_hat)
            x = x_next
    return _finish(x, record, return_trajectory)
