"""Data whose exact denoiser is known: a mixture of isotropic Gaussians in D dimensions.

For x_0 ~ Σ_k w_k N(μ_k, ς_k² I) (ς_k, "varsigma", the standard deviation of component k; ``stds``) and
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, everything a sampler needs is closed-form:

- q(x_t) = Σ_k w_k N(x_t; √ᾱ_t μ_k, v_k I),  v_k = ᾱ_t ς_k² + 1 − ᾱ_t
- r_k(x_t) = p(k | x_t) ∝ w_k N(x_t; √ᾱ_t μ_k, v_k I)                      (responsibilities)
- E[ε | x_t, k] = √(1−ᾱ_t) (x_t − √ᾱ_t μ_k) / v_k,   E[ε | x_t] = Σ_k r_k E[ε | x_t, k]
- Tweedie: E[x_0 | x_t] = (x_t − √(1−ᾱ_t) E[ε | x_t]) / √ᾱ_t;  score ∇ log q(x_t) = −E[ε | x_t] / √(1−ᾱ_t)
- a denoiser with a known error: the responsibilities tempered, r_k^(τ) ∝ r_k^(1/τ), each E[ε | x_t, k] kept exact

E[ε | x_t] is the minimiser of the training loss E‖ε − ε_θ(x_t, t)‖², so it is the network a perfect
training run would return: ``as_model`` wraps it so that every sampler runs on it. The component index k
doubles as a class label y for guidance. Arithmetic is float64; t follows the 0-based convention.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from ._checks import check_timesteps

F64 = torch.float64


def check_temperature(value) -> float:
    """τ of ``tempered_eps``: a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"temperature must be a finite real number > 0 (1: the exact responsibilities), "
                         f"got {value!r}")
    return float(value)


def _as_f64(value, name: str, what: str) -> torch.Tensor:
    try:
        out = torch.as_tensor(value, dtype=F64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not torch.isfinite(out).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


class GaussianMixture:
    """x_0 ~ Σ_k w_k N(μ_k, ς_k² I): ``means`` μ [K, D], ``stds`` ς [K] (> 0), ``weights`` w [K] (≥ 0, Σ = 1;
    uniform if None). Stored as float64.

    The methods that take ``(schedule, x, t)`` check their arguments and read ᾱ_t; ``log_joint`` and
    ``component_eps`` are the formulas themselves, for points x [n, D] and ᾱ [n, 1] (float64)."""

    def __init__(self, means, stds, weights=None):
        means = _as_f64(means, "means", "a [K, D] array of component means")
        if means.dim() != 2 or 0 in means.shape:
            raise ValueError(f"means must have shape [K, D] with K, D >= 1, got shape {tuple(means.shape)}")
        K, D = means.shape
        stds = _as_f64(stds, "stds", f"a [K]=({K},) array of positive standard deviations")
        if tuple(stds.shape) != (K,):
            raise ValueError(f"stds must have shape [K]=({K},), one per row of means, got shape {tuple(stds.shape)}")
        if (stds <= 0).any():
            raise ValueError(f"stds must all be > 0, got {stds.tolist()}")
        weights = torch.full((K,), 1.0 / K, dtype=F64) if weights is None else _as_f64(
            weights, "weights", f"None or a [K]=({K},) array of probabilities")
        if tuple(weights.shape) != (K,):
            raise ValueError(f"weights must have shape [K]=({K},), one per row of means, got shape "
                             f"{tuple(weights.shape)}")
        if (weights < 0).any() or abs(weights.sum().item() - 1.0) > 1e-6:
            raise ValueError(f"weights must be >= 0 and sum to 1 (within 1e-6), got {weights.tolist()} "
                             f"(sum {weights.sum().item():.8g})")
        self.means, self.stds, self.weights = means, stds, weights
        self.K, self.D = K, D

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.K}, D={self.D}, weights={[round(w, 4) for w in self.weights.tolist()]})"

    @property
    def mean(self) -> torch.Tensor:
        """E[x_0] = Σ_k w_k μ_k  (float64 [D])."""
        return self.weights @ self.means

    @property
    def covariance(self) -> torch.Tensor:
        """Cov[x_0] = Σ_k w_k (ς_k² I + μ_k μ_kᵀ) − E[x_0] E[x_0]ᵀ  (float64 [D, D])."""
        second = (self.weights * self.stds**2).sum() * torch.eye(self.D, dtype=F64)
        second = second + torch.einsum("k,ki,kj->ij", self.weights, self.means, self.means)
        return second - torch.outer(self.mean, self.mean)

    def sample(self, n: int, generator: torch.Generator | None = None, return_labels: bool = False):
        """n draws x_0 [n, D] (float32): k ~ Categorical(w), then x_0 = μ_k + ς_k z, z ~ N(0, I).
        With ``return_labels=True`` also the component indices k (LongTensor [n])."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        k = torch.multinomial(self.weights, int(n), replacement=True, generator=generator) if n else \
            torch.zeros(0, dtype=torch.long)
        z = torch.randn(int(n), self.D, generator=generator, dtype=F64)
        x0 = (self.means[k] + self.stds[k, None] * z).float()
        return (x0, k) if return_labels else x0

    # -- the one validation call of every method below -----------------------------------------
    def checked_inputs(self, schedule, x, t, y=None, name: str = "x_t", need_schedule: bool = True,
                       y_max: int = 0):
        """(x as float64 [n, D], ᾱ_t as float64 [n, 1], y as LongTensor [n] or None), checked.
        ``schedule=None`` (when allowed) means the data themselves: ᾱ = 1. ``y_max``: the largest label
        accepted (default K − 1; ``ExactDenoiser`` passes K, the null label)."""
        if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor of shape [n, D={self.D}], got {x!r}")
        if x.dim() != 2 or x.shape[1] != self.D:
            raise ValueError(f"{name} must have shape [n, D={self.D}] (the mixture's dimension), "
                             f"got shape {tuple(x.shape)}")
        n = x.shape[0]
        if schedule is None:
            if need_schedule or t is not None:
                raise ValueError("schedule must be a DiffusionSchedule when t is given (schedule=None means the "
                                 "data, t=None)")
            abar = torch.ones(n, 1, dtype=F64)
        else:
            abar = schedule.alphas_cumprod[check_timesteps(t, schedule.T, n)].reshape(n, 1)
        if y is not None:
            y_max = y_max or self.K - 1
            if isinstance(y, bool) or not isinstance(y, (numbers.Integral, torch.Tensor)):
                raise ValueError(f"y must be a component index in 0..{y_max} (int or LongTensor [n]), got {y!r}")
            y = torch.as_tensor(y).to(x.device)
            if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool or y.dim() > 1:
                raise ValueError(f"y must be an int or an integer tensor of shape [n], got {y!r}")
            y = y.reshape(-1).expand(n) if y.numel() == 1 else y
            if tuple(y.shape) != (n,) or (n and (int(y.min()) < 0 or int(y.max()) > y_max)):
                raise ValueError(f"y must hold component indices in 0..{y_max} with shape [n]=({n},), got {y!r}")
            y = y.long()
        return x.to(F64), abar.to(x.device), y

    # -- the formulas, for points x [n, D] and ᾱ [n, 1] in float64 ------------------------------
    def noised_variances(self, abar: torch.Tensor) -> torch.Tensor:
        """v_k = ᾱ ς_k² + 1 − ᾱ, the variance per coordinate of x_t given component k  ([n, K])."""
        return abar * self.stds.to(abar.device) ** 2 + (1 - abar)

    def log_joint(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(x; √ᾱ μ_k, v_k I) = log p(x_t = x, k)  ([n, K])."""
        means, weights = self.means.to(x.device), self.weights.to(x.device)
        v = self.noised_variances(abar)  # [n, K]
        squared = (x[:, None, :] - abar.sqrt()[:, :, None] * means).pow(2).sum(-1)  # ‖x − √ᾱ μ_k‖²
        return torch.log(weights) - 0.5 * (squared / v + self.D * torch.log(2 * math.pi * v))

    def component_eps(self, x: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
        """E[ε | x_t = x, k] = √(1−ᾱ) (x − √ᾱ μ_k) / v_k  ([n, K, D])."""
        v = self.noised_variances(abar)[:, :, None]  # [n, K, 1]
        return (1 - abar).sqrt()[:, :, None] * (x[:, None, :] - abar.sqrt()[:, :, None] * self.means.to(x.device)) / v

    # -- densities ------------------------------------------------------------------------------
    def log_prob(self, x, schedule=None, t=None, y=None) -> torch.Tensor:
        """log q_t(x) = log Σ_k w_k N(x; √ᾱ_t μ_k, v_k I), or with ``y`` log q_t(x | y) = log N(x; √ᾱ_t μ_y, v_y I).
        ``schedule=None, t=None``: the data density (ᾱ = 1). Returns [n] in x's dtype (differentiable)."""
        x64, abar, y = self.checked_inputs(schedule, x, t, y, name="x", need_schedule=False)
        log_joint = self.log_joint(x64, abar)  # [n, K]
        if y is not None:  # log p(x, y) − log w_y
            return (log_joint[torch.arange(len(x)), y] - torch.log(self.weights[y])).to(x.dtype)
        return torch.logsumexp(log_joint, dim=1).to(x.dtype)  # log Σ_k p(x, k)

    def class_posterior(self, schedule, x_t, t) -> torch.Tensor:
        """p(y = k | x_t) = r_k(x_t) = w_k N(x_t; √ᾱ_t μ_k, v_k I) / q(x_t)  ([n, K]; schedule=None: the data)."""
        x, abar, _ = self.checked_inputs(schedule, x_t, t, need_schedule=False)
        return torch.softmax(self.log_joint(x, abar), dim=1).to(x_t.dtype)  # normalised by log-sum-exp

    responsibilities = class_posterior

    # -- the exact denoiser and its two other faces -------------------------------------------
    def exact_eps(self, schedule, x_t, t, y=None) -> torch.Tensor:
        """E[ε | x_t] = Σ_k r_k(x_t) √(1−ᾱ_t)(x_t − √ᾱ_t μ_k)/v_k; with ``y``, E[ε | x_t, y] (component y only).
        ``t``, ``y``: ints or LongTensors [n]. Returns [n, D] in x_t's dtype."""
        x, abar, y = self.checked_inputs(schedule, x_t, t, y)
        eps_k = self.component_eps(x, abar)  # E[ε | x_t, k]  [n, K, D]
        if y is not None:
            return eps_k[torch.arange(len(x)), y].to(x_t.dtype)  # E[ε | x_t, y]
        r = torch.softmax(self.log_joint(x, abar), dim=1)  # r_k(x_t), normalised by log-sum-exp  [n, K]
        return (r[:, :, None] * eps_k).sum(1).to(x_t.dtype)  # Σ_k r_k E[ε | x_t, k]

    def tempered_eps(self, schedule, x_t, t, temperature: float) -> torch.Tensor:
        """Σ_k r_k^(τ) E[ε | x_t, k] with r^(τ) = softmax_k(log p(x_t, k) / τ), i.e. r_k^(τ) ∝ r_k^(1/τ): each
        component's own field exact, the responsibilities blurred (τ > 1), so the error lies where the non-zero
        ones are unequal. τ = 1 is ``exact_eps``; τ → ∞ weighs the components equally. Returns [n, D]."""
        tau = check_temperature(temperature)
        x, abar, _ = self.checked_inputs(schedule, x_t, t)
        r = torch.softmax(self.log_joint(x, abar) / tau, dim=1)  # r^(τ), normalised by log-sum-exp  [n, K]
        return (r[:, :, None] * self.component_eps(x, abar)).sum(1).to(x_t.dtype)

    def exact_x0(self, schedule, x_t, t, y=None) -> torch.Tensor:
        """Tweedie: E[x_0 | x_t] = (x_t − √(1−ᾱ_t) E[ε | x_t]) / √ᾱ_t  (with ``y``: E[x_0 | x_t, y])."""
        x, abar, _ = self.checked_inputs(schedule, x_t, t, y)
        eps = self.exact_eps(schedule, x, t, y)
        return ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).to(x_t.dtype)

    def score(self, schedule, x_t, t, y=None) -> torch.Tensor:
        """∇_x log q_t(x_t) = −E[ε | x_t] / √(1−ᾱ_t)  (with ``y``: ∇_x log q_t(x_t | y))."""
        x, abar, _ = self.checked_inputs(schedule, x_t, t, y)
        eps = self.exact_eps(schedule, x, t, y)
        return (-eps / (1 - abar).sqrt()).to(x_t.dtype)

    def reverse_posterior(self, schedule, x_t, t, t_prev) -> GaussianMixture:
        """The true q(x_{t'} | x_t) for ONE point x_t ([1, D]) and −1 ≤ t' < t (t' = −1: x_0): a mixture again,

        Σ_k r_k(x_t) N(m_k, γ_k I),  1/γ_k = 1/v'_k + a²/b²,  m_k = γ_k (√ᾱ_{t'} μ_k / v'_k + a x_t / b²),

        from the prior x_{t'} | k ~ N(√ᾱ_{t'} μ_k, v'_k I), v'_k = ᾱ_{t'} ς_k² + 1 − ᾱ_{t'}, and the forward
        jump x_t | x_{t'} ~ N(a x_{t'}, b² I), a = √(ᾱ_t/ᾱ_{t'}), b² = 1 − ᾱ_t/ᾱ_{t'}.
        """
        x, abar, _ = self.checked_inputs(schedule, x_t, t)
        if len(x) != 1 or isinstance(t_prev, bool) or not isinstance(t_prev, numbers.Integral) \
                or not -1 <= t_prev < int(check_timesteps(t, schedule.T, 1)[0]):
            raise ValueError(f"reverse_posterior needs one point x_t [1, D] and an int t_prev with -1 <= t_prev < t; "
                             f"got x_t of shape {tuple(x_t.shape)}, t={t!r}, t_prev={t_prev!r}")
        abar_prev = torch.ones(1, 1, dtype=F64) if t_prev < 0 else schedule.alphas_cumprod[t_prev].reshape(1, 1)
        a2, b2 = abar / abar_prev, 1 - abar / abar_prev  # x_t = a x_{t'} + b ε'
        v_prev = self.noised_variances(abar_prev)[0]  # prior variance of x_{t'} given k  [K]
        gamma = 1 / (1 / v_prev + a2[0] / b2[0])  # posterior variance given k  [K]
        m = gamma[:, None] * (abar_prev.sqrt() * self.means / v_prev[:, None] + a2.sqrt() * x / b2)
        r = torch.softmax(self.log_joint(x, abar), dim=1)[0]  # r_k(x_t)  [K]
        return GaussianMixture(m, gamma.sqrt(), r)

    def as_model(self, schedule, temperature: float = 1.0) -> ExactDenoiser:
        """The exact ε-predictor as a network for the samplers: ``model(x_t, t, y=None)``; with ``temperature``
        τ ≠ 1 its unconditional output is ``tempered_eps`` instead (a denoiser whose error is known)."""
        return ExactDenoiser(self, schedule, temperature)


class ExactDenoiser(nn.Module):
    """``model(x_t, t, y=None)`` = E[ε | x_t] (y None or the null label K) or E[ε | x_t, y] (0 ≤ y < K), in x_t's
    dtype; ``num_classes = K``, so ``cfg_eps`` and every sampler's guidance run on it. It has no parameters.
    ``temperature`` τ ≠ 1 replaces E[ε | x_t] by ``tempered_eps``; E[ε | x_t, y], one component, stays exact."""

    def __init__(self, mixture: GaussianMixture, schedule, temperature: float = 1.0):
        super().__init__()
        self.mixture, self.schedule, self.num_classes = mixture, schedule, mixture.K
        self.temperature = check_temperature(temperature)

    def forward(self, x_t: torch.Tensor, t, y=None) -> torch.Tensor:
        mixture, schedule, null = self.mixture, self.schedule, self.mixture.K
        _, _, y = mixture.checked_inputs(schedule, x_t, t, y, y_max=null)  # y = K allowed: the null label
        eps = mixture.exact_eps(schedule, x_t, t) if self.temperature == 1 else \
            mixture.tempered_eps(schedule, x_t, t, self.temperature)  # E[ε | x_t], or its blurred stand-in
        if y is None or bool((y == null).all()):
            return eps
        eps_y = mixture.exact_eps(schedule, x_t, t, y=y.clamp(max=null - 1))  # E[ε | x_t, y]
        return torch.where((y == null)[:, None], eps, eps_y)  # per example, as in CFG's batch [y; ∅]

    def extra_repr(self) -> str:
        tempered = "" if self.temperature == 1 else f", temperature={self.temperature:g}"
        return f"{self.mixture!r}, T={self.schedule.T}{tempered}"
