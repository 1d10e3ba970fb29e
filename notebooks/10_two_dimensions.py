# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["launch-links"]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/10_two_dimensions.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F10_two_dimensions.ipynb)

# %% [markdown]
# # 10 · Diffusion in two dimensions, where the exact answer is known
#
# On images we can only look at samples and guess what the sampler got wrong. On a mixture of Gaussians in the
# plane, every quantity the earlier notebooks estimated has a closed form: the noised marginal $q(x_t)$, the best
# possible $\hat\varepsilon$, Tweedie's $\hat x_0$, the score, even the true reverse step $q(x_{t-k} \mid x_t)$. The
# samplers of notebooks 06–08 run unchanged on points $[B, 2]$ instead of images, so each of their
# approximations can be measured against the truth.
#
# **What you will learn**
# - how the data's density dissolves into $\mathcal N(0, I)$, drawn as contours of $q(x_t)$;
# - the exact denoiser $\mathbb E[\varepsilon \mid x_t]$ and the score as vector fields, and Tweedie's formula;
# - where a small network finds $\hat\varepsilon$ hard to learn, and why;
# - DDPM and DDIM paths on the plane, and sample moments checked against the mixture's;
# - Euler against Heun for the probability-flow ODE, error against the number of network evaluations;
# - why the reverse process needs many small steps: the true $q(x_{t-k} \mid x_t)$ against its Gaussian stand-in;
# - what classifier-free guidance really samples, against the tilted density it is often said to sample.
#
# [Conventions](../README.md#conventions): 0-based $t \in \{0, \dots, T-1\}$, $\bar\alpha_t = \prod_{s \le t}(1 - \beta_s)$;
# points are `[B, D]` tensors; `guidance_scale` $s$ as in diffusers ($s = 1$ plain conditional), the null label is
# `num_classes`.

# %%
# Colab only: install helpers from the repository. Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step"],
                   check=True)

# %%
# %matplotlib inline
import math
import time

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import LogNorm

from helpers import QUICK, DiffusionSchedule, quick_or_full, report_beta_schedule
from helpers.plotting import show_source
from helpers.sampling import cfg_eps, ddim_sample, ddim_step, ddim_timesteps, ddpm_sample, ode_sample
from helpers.toy import GaussianMixture
from helpers.toy_net import ToyEpsNet, eps_error_by_t, train_toy_model

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The data and its noised marginals
#
# The data are a mixture of $K$ isotropic Gaussians in the plane, with weights $w_k$, means $\mu_k$ and standard
# deviations $s_k$:
#
# $$
# p(x_0) = \sum_k w_k\, \mathcal N\big(x_0;\ \mu_k,\ s_k^2 I\big).
# $$
#
# The forward process $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ scales a point and adds
# independent Gaussian noise. Within component $k$ that gives a Gaussian again, so every marginal is a mixture
# with the same weights:
#
# $$
# q(x_t) = \sum_k w_k\, \mathcal N\big(x_t;\ \sqrt{\bar\alpha_t}\,\mu_k,\ v_k I\big), \qquad
# v_k = \bar\alpha_t s_k^2 + 1 - \bar\alpha_t .
# $$
#
# The schedule is the report's, `DiffusionSchedule(report_beta_schedule(300))`: $T = 300$, $\beta$ from 0.001 to 0.1
# (notebook 01). Three components sit inside $[-1, 1]^2$, like pixel values, with unequal weights and widths.
# $\hat x_0$ clipping is off in every sampler call (`clip_x0=False`): it exists for images, and here we want to see
# each sampler's own behaviour.

# %%
show_source(GaussianMixture._log_joint, GaussianMixture.log_prob)

# %%
# NBVAL_CHECK_OUTPUT
schedule = DiffusionSchedule(report_beta_schedule(300), name="report")
mixture = GaussianMixture(means=[[-0.5, -0.4], [0.5, -0.3], [0.0, 0.55]], stds=[0.1, 0.07, 0.12],
                          weights=[0.5, 0.3, 0.2])
print(schedule)
print(mixture, "mean", [round(v, 3) for v in mixture.mean.tolist()],
      "covariance", [[round(v, 4) for v in row] for row in mixture.covariance.tolist()])
print("    t   ᾱ_t      σ_t = √((1−ᾱ_t)/ᾱ_t)")
for t in (0, 5, 20, 50, 100, 299):
    a = schedule.alphas_cumprod[t].item()
    print(f"{t:5d}   {a:.4f}   {math.sqrt((1 - a) / a):8.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
g = torch.linspace(-2.5, 2.5, 201, dtype=torch.float64)
grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)  # [201·201, 2], x varies fastest
gen = torch.Generator().manual_seed(0)
x0 = mixture.sample(600, generator=gen).double()
noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
fig, axes = plt.subplots(1, 5, figsize=(16, 3.9), sharey=True)
for ax, t in zip(axes, (0, 20, 50, 100, 299)):
    a = schedule.alphas_cumprod[t]
    log_q = mixture.log_prob(grid, schedule, t).reshape(len(g), len(g))
    top = log_q.max().item()
    filled = ax.contourf(g, g, log_q, levels=torch.linspace(top - 8, top, 9).tolist(), cmap="Blues", extend="min")
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    ax.scatter(x_t[:, 0], x_t[:, 1], s=2, color="C3", alpha=0.5)
    ax.set(title=f"t = {t}, ᾱ = {a.item():.3f}", xlabel="x_t[0]", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
axes[0].set_ylabel("x_t[1]")
fig.suptitle("the same 600 points noised to index t (red), over log q(x_t) (contours 1 nat apart, down to 8 below "
             "the peak)")
fig.tight_layout()

# %% [markdown]
# By $t = 100$ ($\bar\alpha = 0.17$) the three components have merged into one blob; at $t = 299$ what is left is
# $\mathcal N(0, I)$ to within $\bar\alpha_{299} = 1.5 \cdot 10^{-7}$. With this schedule most of the change happens
# before $t \approx 100$: the report's linear $\beta$ rises to 0.1, so $\bar\alpha$ falls fast.
#
# ## 2. The exact denoiser, Tweedie's formula and the score
#
# The training loss $\mathbb E\,\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2$ is minimised by the conditional mean
# $\varepsilon^*(x_t, t) = \mathbb E[\varepsilon \mid x_t]$, the best any network can do. For the mixture it is closed
# form. Given the component $k$, $x_t$ and $\varepsilon$ are jointly Gaussian with
# $\operatorname{Cov}(\varepsilon, x_t) = \sqrt{1-\bar\alpha_t}\,I$, so
#
# $$
# \mathbb E[\varepsilon \mid x_t, k] = \frac{\sqrt{1-\bar\alpha_t}\,\big(x_t - \sqrt{\bar\alpha_t}\,\mu_k\big)}{v_k},
# \qquad
# \mathbb E[\varepsilon \mid x_t] = \sum_k r_k(x_t)\, \mathbb E[\varepsilon \mid x_t, k],
# \qquad
# r_k(x_t) = \frac{w_k\,\mathcal N(x_t; \sqrt{\bar\alpha_t}\mu_k, v_k I)}{q(x_t)} ,
# $$
#
# where the responsibilities $r_k(x_t) = p(k \mid x_t)$ are computed with log-sum-exp. Its two other faces:
#
# - **Tweedie's formula**, the posterior mean of the clean point:
#   $\hat x_0 = \mathbb E[x_0 \mid x_t] = \big(x_t - \sqrt{1-\bar\alpha_t}\,\mathbb E[\varepsilon \mid x_t]\big)/\sqrt{\bar\alpha_t}$;
# - **the score** $\nabla_{x_t} \log q(x_t) = -\mathbb E[\varepsilon \mid x_t]/\sqrt{1-\bar\alpha_t}$: predicting the noise
#   is estimating the score, up to the factor $1/\sqrt{1-\bar\alpha_t}$, which grows as the noise vanishes (31.6 at
#   $t = 0$ here).

# %%
show_source(GaussianMixture._eps, GaussianMixture.exact_x0, GaussianMixture.score)

# %% [markdown]
# `tests/test_toy.py` checks these formulas against Monte Carlo estimates and the score against autograd. The same
# check, here at three points per $t$: differentiate $\log q(x_t)$ and compare.

# %%
# NBVAL_CHECK_OUTPUT
for t in (0, 50, 200):
    x = (schedule.alphas_cumprod[t].sqrt() * x0[:3] + (1 - schedule.alphas_cumprod[t]).sqrt() * noise[:3])
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mixture.log_prob(x, schedule, t).sum(), x)
    gap = (mixture.score(schedule, x.detach(), t) - grad).abs().max().item()
    print(f"t = {t:3d}: score − ∇ log q(x_t) by autograd, largest |difference| < 1e-10: {gap < 1e-10}")

# %% [markdown]
# The fields themselves, as arrows of equal length (the direction) coloured by their size. Top: $-\varepsilon^*$,
# the direction a sampler moves $x_t$ in. Bottom: the score, the same directions stretched by
# $1/\sqrt{1-\bar\alpha_t}$ (9.6 at $t = 5$, 1.1 at $t = 100$). The grey contours are $\log q(x_t)$.

# %%
# NBVAL_IGNORE_OUTPUT
q = torch.linspace(-1.4, 1.4, 17, dtype=torch.float64)
points = torch.stack(torch.meshgrid(q, q, indexing="xy"), -1).reshape(-1, 2)
fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), sharex=True, sharey=True, layout="constrained")
norms = {"eps": LogNorm(0.01, 10), "score": LogNorm(0.01, 100)}
for j, t in enumerate((5, 30, 100)):
    log_q = mixture.log_prob(grid, schedule, t).reshape(len(g), len(g))
    fields = {"eps": -mixture.exact_eps(schedule, points, t), "score": mixture.score(schedule, points, t)}
    for i, (name, field) in enumerate(fields.items()):
        ax = axes[i, j]
        ax.contour(g, g, log_q, levels=torch.linspace(log_q.max() - 6, log_q.max(), 7).tolist(), colors="0.6",
                   linewidths=0.6, linestyles="solid")
        size = field.norm(dim=1)
        unit = field / size[:, None]
        arrows = ax.quiver(points[:, 0], points[:, 1], unit[:, 0], unit[:, 1], size.clamp(min=0.01), norm=norms[name],
                           cmap="viridis", angles="xy", scale_units="xy", scale=7, width=0.006)
        label = "−ε*(x_t, t)" if name == "eps" else "score ∇log q(x_t)"
        ax.set(title=f"{label}, t = {t}", xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal")
        if j == 2:
            fig.colorbar(arrows, ax=axes[i, :], shrink=0.9, label="|ε*|" if name == "eps" else "|score|")
for ax in axes[1]:
    ax.set_xlabel("x_t[0]")
for ax in axes[:, 0]:
    ax.set_ylabel("x_t[1]")

# %% [markdown]
# At $t = 100$ the field is nearly linear, $\varepsilon^* \approx x_t$ (the $\mathcal N(0, I)$ answer, exact as
# $\bar\alpha_t \to 0$). At $t = 5$ it points into the nearest component, is near 0 at the components' centres and
# large between them, and turns abruptly where the responsibilities switch from one component to the next.
#
# ## 3. A small network learns $\hat\varepsilon$
#
# `ToyEpsNet` is an MLP on $[x_t, e(t)]$, with $e(t)$ the U-Net's sinusoidal time embedding, trained with the same
# loss as the U-Net (`diffusion_loss`), on fresh draws from the mixture at every step. Because $\varepsilon^*$ is the
# minimiser, the loss at each $t$ splits into a part no network can remove and the network's own error:
#
# $$
# \mathbb E\,\|\varepsilon - \varepsilon_\theta\|^2 =
# \underbrace{\mathbb E\,\|\varepsilon - \varepsilon^*\|^2}_{\text{floor}} +
# \underbrace{\mathbb E\,\|\varepsilon^* - \varepsilon_\theta\|^2}_{\text{the network's error}}
# $$
#
# (the cross term vanishes because $\varepsilon - \varepsilon^*$ has mean zero given $x_t$). On images we only see the
# sum; here `eps_error_by_t` measures both terms.

# %%
show_source(ToyEpsNet.forward, train_toy_model)

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
net = ToyEpsNet(hidden=128, depth=3)
steps = quick_or_full(300, 4000)
start = time.perf_counter()
losses = train_toy_model(net, mixture, schedule, steps=steps, batch=256, generator=torch.Generator().manual_seed(1))
print(f"{steps} steps of batch 256 in {time.perf_counter() - start:.1f} s; "
      f"{sum(p.numel() for p in net.parameters()):,} parameters; mean loss of the last 100 steps "
      f"{sum(losses[-100:]) / 100:.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
ts = [0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200, 299]
errors = eps_error_by_t(net, mixture, schedule, ts, n=quick_or_full(1000, 4000),
                        generator=torch.Generator().manual_seed(2))
with torch.no_grad():
    net_samples = ddpm_sample(net, schedule, torch.randn(2000, 2, generator=torch.Generator().manual_seed(3)),
                              clip_x0=False, generator=torch.Generator().manual_seed(4))
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
window = max(1, steps // 50)
smooth = torch.tensor(losses).unfold(0, window, window).mean(1)
axes[0].plot(torch.arange(len(smooth)) * window, smooth)
axes[0].set(xlabel="training step", ylabel="loss (mean of each window)", yscale="log", title="training loss")
axes[1].plot(errors["t"], errors["bayes"], marker="o", label="floor E‖ε − ε*‖²/D (no network can do better)")
axes[1].plot(errors["t"], errors["model"], marker="o", label="network's error E‖ε_θ − ε*‖²/D")
axes[1].set(xscale="symlog", yscale="log", xlabel="t", ylabel="mean squared error per coordinate",
            title="where the network is wrong")
axes[1].legend(fontsize=8)
axes[2].scatter(net_samples[:, 0], net_samples[:, 1], s=2, color="C3", alpha=0.5, label="2,000 samples")
axes[2].contour(g, g, mixture.log_prob(grid).reshape(len(g), len(g)), levels=[-3.0, -1.0], colors="C0",
                linewidths=1)
axes[2].set(xlim=(-1.2, 1.2), ylim=(-1.0, 1.2), aspect="equal", xlabel="x[0]", ylabel="x[1]",
            title="DDPM samples of the trained network\n(blue: contours of log p(x_0) at −3 and −1)")
axes[2].legend(loc="upper right", fontsize=8)
for ax in axes[:2]:
    ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# The network's error is small from $t \approx 40$ on, where $\varepsilon^*$ is close to the linear map
# $x_t \mapsto x_t$, and largest for $t$ around 5–10. (At $t = 299$ the floor is nearly 0: $x_t$ is almost pure
# noise, so $\varepsilon \approx x_t$ is predictable; at small $t$ most of the noise hides in the data's own spread and
# the floor approaches 1.) Why small $t$ is hard: inside component $k$ the exact field is linear,
# $\varepsilon^* = \sqrt{1-\bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\mu_k)/v_k$, with slope $\sqrt{1-\bar\alpha_t}/v_k$.
# That slope is largest, about $1/(2 s_k)$, when the noise matches the component's width
# ($1 - \bar\alpha_t = \bar\alpha_t s_k^2$, i.e. $\sigma_t = s_k$), which for $s_k$ from 0.07 to 0.12 is $t \approx 2$–$7$
# (the table prints it). As the noise grows, more of $q(x_t)$'s mass also lies between components, where
# $\varepsilon^*$ switches from one component's field to another's. And uniform sampling of $t$ spends only a few
# percent of the training batches on $t < 10$. The samples show the result: the right three modes, with a halo
# of points between them, where the data have almost no mass.

# %%
# NBVAL_CHECK_OUTPUT
print("slope √(1−ᾱ_t)/v_k of ε* inside each component (s_k = 0.1, 0.07, 0.12)")
for t in (0, 2, 5, 10, 30, 100, 299):
    a = schedule.alphas_cumprod[t]
    slopes = (1 - a).sqrt() / (a * mixture.stds**2 + 1 - a)
    print(f"t = {t:3d}  σ_t = {((1 - a) / a).sqrt().item():7.3f}   " + "  ".join(f"{v:5.2f}" for v in slopes.tolist()))

# %% [markdown]
# ## 4. DDPM and DDIM paths on the plane
#
# The exact denoiser, wrapped as a network by `mixture.as_model(schedule)`, goes into the samplers of notebooks 06
# and 07 unchanged: `model(x_t, t, y=None)` returns $\mathbb E[\varepsilon \mid x_t]$, and with a label $y = k$ the
# conditional $\mathbb E[\varepsilon \mid x_t, k]$, so the component index doubles as a class for guidance (the
# null label is $K$). Eight points, from the same $x_T$, by DDPM (300 stochastic steps, every third one drawn) and
# DDIM ($\eta = 0$, 50 deterministic steps):

# %%
show_source(GaussianMixture.as_model)

# %%
# NBVAL_IGNORE_OUTPUT
model = mixture.as_model(schedule)
x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
paths = {
    "DDPM, 300 steps": ddpm_sample(model, schedule, x_T, clip_x0=False, generator=torch.Generator().manual_seed(6),
                                   return_trajectory=True, trajectory_every=3),
    "DDIM η = 0, 50 steps": ddim_sample(model, schedule, x_T, steps=50, clip_x0=False, return_trajectory=True),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
log_p = mixture.log_prob(grid).reshape(len(g), len(g))
for ax, (title, (x_end, trajectory)) in zip(axes, paths.items()):
    ax.contourf(g, g, log_p, levels=[-3.0, -1.0, 1.0, 3.0], cmap="Blues", alpha=0.7)
    path = torch.cat([trajectory["x_t"], x_end[None]])  # [recorded steps + 1, 8, 2]
    for i in range(path.shape[1]):
        ax.plot(path[:, i, 0], path[:, i, 1], lw=0.9, color=f"C{i}", alpha=0.8)
    ax.scatter(path[0, :, 0], path[0, :, 1], marker="o", facecolor="none", edgecolor="k", label="x_T")
    ax.scatter(path[-1, :, 0], path[-1, :, 1], marker="*", color="k", s=60, label="x_0")
    ax.set(title=f"{title} (blue: the data, log p(x_0) > −3)", xlabel="x_t[0]", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5),
           aspect="equal")
    ax.legend(loc="upper right")
axes[0].set_ylabel("x_t[1]")
fig.tight_layout()

# %% [markdown]
# DDPM's paths wander (each step adds fresh noise) and still end on the data; DDIM's are smooth curves, the
# probability-flow ODE that section 6 solves more carefully. DDIM's end point is a function of $x_T$; DDPM's is
# random, so from the same $x_T$ the two can end in different components.
#
# ## 5. Sample moments against the mixture
#
# With the exact model, any deviation of the samples from the mixture is the sampler's own doing. 4,000 DDPM
# samples, tested at 5 standard errors (SE): $\mathrm{SE}$ of a mean is $\sqrt{\Sigma_{ii}/n}$, of a covariance entry
# the standard deviation of the products $(x_i - \bar x_i)(x_j - \bar x_j)$ over $\sqrt n$, of a weight
# $\sqrt{w(1-w)/n}$ (each sample assigned to its most likely component; the components are at least 8 standard
# deviations apart).

# %%
# NBVAL_IGNORE_OUTPUT
n = 4000
x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
ddpm = {variance: ddpm_sample(model, schedule, x_T, clip_x0=False, variance=variance,
                              generator=torch.Generator().manual_seed(8)) for variance in ("posterior", "beta")}
x = ddpm["posterior"]
centred = x - x.mean(0)
products = centred[:, :, None] * centred[:, None, :]
component = mixture.class_posterior(None, x, None).argmax(1)
checks = {
    "mean": (x.mean(0), mixture.mean, (torch.diagonal(mixture.covariance) / n).sqrt()),
    "covariance": (products.mean(0), mixture.covariance, products.std(0) / math.sqrt(n)),
    "weights": (torch.bincount(component, minlength=3) / n, mixture.weights,
                (mixture.weights * (1 - mixture.weights) / n).sqrt()),
}
for name, (sample, exact, se) in checks.items():
    print(f"{name:10s} samples {[round(v, 4) for v in sample.flatten().tolist()]}\n{'':10s} mixture "
          f"{[round(v, 4) for v in exact.flatten().tolist()]}  (SE {[round(v, 4) for v in se.flatten().tolist()]})")

# %%
# NBVAL_CHECK_OUTPUT
print(f"DDPM ({n} samples, exact model) within 5 standard errors of the mixture:")
for name, (sample, exact, se) in checks.items():
    print(f"  {name}: {bool(((sample - exact).abs() < 5 * se).all())}")

# %% [markdown]
# Mean, covariance and weights pass. A sharper test looks inside each component. Two effects are exactly
# computable here:
#
# 1. **The last step averages.** DDPM's last step, at $t = 0$, adds no noise and returns
#    $\hat x_0 = \mathbb E[x_0 \mid x_{t=0}]$ (so does DDIM's when its sequence ends at index 0), and index 0 still
#    holds noise of standard deviation $\sqrt{1-\bar\alpha_0} = 0.032$. Averaging over it narrows component $k$ from
#    $s_k$ to $s_k \sqrt{\bar\alpha_0 s_k^2 / v_k}$ (Tweedie's formula within one component: $\hat x_0 - \mu_k =
#    \sqrt{\bar\alpha_0}\, s_k^2\, (x_{t=0} - \sqrt{\bar\alpha_0}\mu_k)/v_k$). That is the target below.
# 2. **The Gaussian step is an approximation.** DDPM draws $x_{t-1} \sim \mathcal N(\tilde\mu_t(\hat x_0, x_t),
#    \sigma_t^2 I)$, while the true $q(x_{t-1} \mid x_t)$ has variance $\tilde\beta_t + c_t^2 \operatorname{Var}[x_0
#    \mid x_t]$ per coordinate ($c_t$ the coefficient of $x_0$ in $\tilde\mu_t$; law of total variance). The report's
#    $\sigma_t^2 = \tilde\beta_t$ ("posterior") leaves out the second term; $\sigma_t^2 = \beta_t$ ("beta") is exact
#    for $x_0 \sim \mathcal N(0, I)$ (Ho et al., 2020; Bao et al., 2022 derive the optimal value).

# %%
# NBVAL_IGNORE_OUTPUT
a0 = schedule.alphas_cumprod[0]
target = mixture.stds * (a0 * mixture.stds**2 / (a0 * mixture.stds**2 + 1 - a0)).sqrt()
print("component   s_k     target   DDPM σ²=β̃ (posterior)   DDPM σ²=β (beta)")
spread, counts = {}, {}
for variance, xs in ddpm.items():
    k = mixture.class_posterior(None, xs, None).argmax(1)
    spread[variance] = torch.stack([xs[k == j].std(0).mean() for j in range(3)])
    counts[variance] = torch.bincount(k, minlength=3).tolist()
for j in range(3):
    print(f"{j:9d}   {mixture.stds[j]:.3f}   {target[j]:.4f}   {spread['posterior'][j]:.4f}{'':17s}"
          f"{spread['beta'][j]:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
# SE of a sample variance over its target is √(2/(n_k − 1)); pooled over 3 components × 2 coordinates
ratio = {v: (spread[v] ** 2 / target**2).mean().item() for v in spread}
se = {v: math.sqrt(sum(2 / (c - 1) for c in counts[v] for _ in range(2))) / 6 for v in spread}
narrower, wider = ratio["posterior"] < 1 - 5 * se["posterior"], ratio["beta"] > 1 + 5 * se["beta"]
print(f"DDPM with σ² = β̃ narrower than the target by more than 5 SE: {narrower}")
print(f"DDPM with σ² = β  wider than the target by more than 5 SE:  {wider}")

# %% [markdown]
# At $T = 300$ each choice of fixed variance misses the spread of the components by several percent, in opposite
# directions. The gap shrinks as the steps get smaller (larger $T$); section 7 shows why.
#
# ## 6. Euler against Heun: solving the probability-flow ODE
#
# DDIM with $\eta = 0$ is Euler's method for an ordinary differential equation. In Karras et al.'s (2022)
# variables, $\sigma_t = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$ and $z = x_t/\sqrt{\bar\alpha_t}$ (so that $z = x_0 +
# \sigma_t\,\varepsilon$ under $q$), it reads
#
# $$
# \frac{dz}{d\sigma} = \hat\varepsilon\big(\sqrt{\bar\alpha}\,z,\ t(\sigma)\big).
# $$
#
# Euler: $z' = z + (\sigma' - \sigma)\,\hat\varepsilon(z, \sigma)$, one network evaluation (NFE) per step, error
# $O(1/\text{steps})$. Heun (their Algorithm 1) takes the Euler point as a predictor, evaluates the slope there, and
# steps with the average of the two slopes: 2 NFE per step, error $O(1/\text{steps}^2)$ when the slope is smooth. The
# last step, into $\sigma = 0$, is Euler in both, and it *is* $\hat x_0$. Step sequences: `"trailing"` (evenly spaced
# indices, starting at $T - 1$) and `"karras"` (evenly spaced in $\sigma^{1/7}$, crowded at small $\sigma$, ending at
# index 0). The reference is Heun over all 300 indices (599 NFE); the error is the root mean square distance of
# 1,000 end points to it, from the same $x_T$.

# %%
show_source(ode_sample)

# %%
# NBVAL_IGNORE_OUTPUT
x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
start = time.perf_counter()
reference = ode_sample(model, schedule, x_T, steps=schedule.T, method="heun")
budgets = (9, 19, 49, 99, 199)  # NFE: Euler with N steps, Heun with (N + 1)/2 steps (2·steps − 1 evaluations)
results = {}
for spacing in ("trailing", "karras"):
    for method in ("euler", "heun"):
        for budget in budgets:
            steps_ = budget if method == "euler" else (budget + 1) // 2
            entries = len(ddim_timesteps(schedule.T, steps_, spacing, alphas_cumprod=schedule.alphas_cumprod))
            nfe = entries if method == "euler" else 2 * entries - 1  # karras may drop duplicate indices
            x0_ode = ode_sample(model, schedule, x_T, steps=steps_, method=method, spacing=spacing)
            results[method, spacing, budget] = (nfe, (x0_ode - reference).norm(dim=1).pow(2).mean().sqrt().item())
print(f"{len(results)} runs in {time.perf_counter() - start:.1f} s")
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for (method, spacing), style in {("euler", "trailing"): "C0o-", ("euler", "karras"): "C0s--",
                                 ("heun", "trailing"): "C1o-", ("heun", "karras"): "C1s--"}.items():
    nfes, errs = zip(*[results[method, spacing, b] for b in budgets])
    ax.plot(nfes, errs, style, label=f"{method}, {spacing}")
ax.set(xscale="log", yscale="log", xlabel="network evaluations (NFE)", ylabel="RMS distance to the reference",
       title="probability-flow ODE on the exact model")
ax.grid(alpha=0.3, which="both")
ax.legend()
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
print("RMS error against Heun over all 300 indices, by NFE budget")
print(" NFE   euler/trailing  euler/karras  heun/trailing  heun/karras")
columns = [("euler", "trailing"), ("euler", "karras"), ("heun", "trailing"), ("heun", "karras")]
for b in budgets:
    print(f"{b:4d}   " + "  ".join(f"{results[m, sp, b][1]:12.1e}" for m, sp in columns))

# %% [markdown]
# Three lessons. With trailing spacing both methods converge only at first order, and Heun is no better than Euler
# at equal NFE: the sequence ends at index $T/\text{steps} - 1$, and the final jump from there to $\sigma = 0$ is a
# single $\hat x_0$, an average over all the noise left, while the reference's last jump starts at index 0. Karras
# spacing ends at index 0 ($\sigma_0 = 0.032$), and there Heun shows its second order: doubling the NFE divides the
# error by four to five. With very few steps Heun is far *worse* than Euler: its corrector trusts the slope at the
# far end of a long step, and near the data that is the steep field of section 3, nothing like the slope over the
# rest of the step.
#
# ## 7. Why many small steps: the true reverse step
#
# A sampler replaces $q(x_{t'} \mid x_t)$, $t' < t$, by a Gaussian. For the mixture the truth is known. Given
# component $k$, $x_{t'}$ has the prior $\mathcal N(\sqrt{\bar\alpha_{t'}}\mu_k, v'_k I)$ with
# $v'_k = \bar\alpha_{t'} s_k^2 + 1 - \bar\alpha_{t'}$, and the forward jump is $x_t = a\,x_{t'} + b\,\varepsilon'$ with
# $a = \sqrt{\bar\alpha_t/\bar\alpha_{t'}}$, $b^2 = 1 - \bar\alpha_t/\bar\alpha_{t'}$. Bayes' rule for Gaussians within
# each component, weighted by the responsibilities $r_k(x_t)$ of section 2:
#
# $$
# q(x_{t'} \mid x_t) = \sum_k r_k(x_t)\, \mathcal N\big(m_k,\ c_k I\big), \qquad
# \frac{1}{c_k} = \frac{1}{v'_k} + \frac{a^2}{b^2}, \qquad
# m_k = c_k \Big(\frac{\sqrt{\bar\alpha_{t'}}\,\mu_k}{v'_k} + \frac{a\,x_t}{b^2}\Big).
# $$
#
# The Gaussian stand-in is DDIM's step with $\eta = 1$ (for $t' = t - 1$, DDPM's step with $\sigma^2 = \tilde\beta_t$):
# mean $\tilde\mu$ from $\hat x_0$, variance $\sigma^2 = \frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}\big(1 - \frac{\bar\alpha_t}{\bar\alpha_{t'}}\big)$.
# Its mean is exactly right: $\tilde\mu$ is linear in $x_0$, so averaging over $x_0 \mid x_t$ gives $\tilde\mu(\hat x_0)$.
# Only its shape is wrong, and that is what the total-variation distance
# $\mathrm{TV} = \tfrac12 \int |q - \mathcal N|\,dx$ (0: equal, 1: disjoint) measures, on a grid.

# %%
show_source(GaussianMixture.reverse_posterior)

# %%
# NBVAL_IGNORE_OUTPUT
t = 60
x_t = schedule.alphas_cumprod[t].sqrt() * torch.tensor([[0.0, -0.35]], dtype=torch.float64)  # between two components
h = 0.01
gg = torch.arange(-2.0, 2.0, h, dtype=torch.float64) + h / 2
fine = torch.stack(torch.meshgrid(gg, gg, indexing="xy"), -1).reshape(-1, 2)
eps = mixture.exact_eps(schedule, x_t, t)
tv = {}
fig, axes = plt.subplots(1, 4, figsize=(16, 4.3), sharey=True)
for ax, t_prev in zip(axes, (59, 50, 30, 0)):
    true = mixture.reverse_posterior(schedule, x_t, t, t_prev).log_prob(fine).exp()
    a_t, a_prev = schedule.alphas_cumprod[t], schedule.alphas_cumprod[t_prev]
    var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    mean = ddim_step(schedule, x_t, t, t_prev, eps, eta=1.0, noise=torch.zeros_like(x_t), clip_x0=False)
    gauss = torch.exp(-(fine - mean).pow(2).sum(1) / (2 * var)) / (2 * math.pi * var)
    tv[t_prev] = 0.5 * (true - gauss).abs().sum().item() * h * h
    ax.contourf(gg, gg, true.reshape(len(gg), len(gg)), levels=10, cmap="Blues")
    rings = (gauss.max() * torch.exp(-0.5 * torch.tensor([2.0, 1.5, 1.0, 0.5]) ** 2)).tolist()  # 0.5 … 2 σ
    ax.contour(gg, gg, gauss.reshape(len(gg), len(gg)), levels=rings, colors="C3", linewidths=0.8)
    ax.scatter(x_t[:, 0], x_t[:, 1], marker="x", color="k", label="x_t")
    ax.set(title=f"t' = {t_prev} (k = {t - t_prev} steps): TV = {tv[t_prev]:.2f}", xlabel="x_t'[0]",
           xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), aspect="equal")
axes[0].set_ylabel("x_t'[1]")
axes[0].legend(loc="upper left")
fig.suptitle(f"q(x_t' | x_t) at t = {t} (blue, exact) against the Gaussian step (red: 0.5, 1, 1.5, 2 σ)")
fig.tight_layout(rect=(0, 0, 1, 0.94))

# %%
# NBVAL_CHECK_OUTPUT
print(f"t = {t}, x_t = {[round(v, 3) for v in x_t[0].tolist()]}, responsibilities r_k(x_t) = "
      f"{[round(v, 3) for v in mixture.class_posterior(schedule, x_t, t)[0].tolist()]}")
for t_prev, d in tv.items():
    print(f"t' = {t_prev:2d} ({t - t_prev:2d} steps at once): total variation {d:.2f}")
post = mixture.reverse_posterior(schedule, x_t, t, t - 1)
print(f"one step: true variance per coordinate {post.covariance.diagonal().mean():.5f}, "
      f"β̃_t = {schedule.posterior_variance[t]:.5f}, β_t = {schedule.betas[t]:.5f}")

# %% [markdown]
# One step at a time the true reverse step is almost exactly Gaussian (TV 0.00 to two decimals): the forward step
# pins $x_{t-1}$ to within about $\sqrt{\beta_t} = 0.14$ of $x_t/\sqrt{\alpha_t}$, and over so short a range
# $q(x_{t-1})$, whose components have standard deviation $\sqrt{v_k} \approx 0.7$ at this $t$, hardly changes. Jumping
# further, the posterior feels the data's modes: at $t' = 30$ it is lopsided, stretched towards the components, and
# straight to $t' = 0$ it is the three-component mixture itself, while the Gaussian, with the right mean, sits in the
# gap between the modes (TV 1.00). A Gaussian step models the reverse process only when the step is small. DDIM
# with $\eta = 0$ takes large steps without this problem because it does not sample a Gaussian: it follows the ODE,
# which section 6 showed needs a good solver instead.
#
# "Small" is relative to the noise already there, and at the start of the report's schedule even one step is not
# small: at $t = 1$, $\beta_1 = 0.0013$ against $1 - \bar\alpha_1 = 0.0023$. For a point at the centre of component 0,
# one step at a time:

# %%
# NBVAL_CHECK_OUTPUT
print("   t   true variance   β̃_t (posterior)   β_t (beta)   TV(one step)")
for t_one in (1, 3, 5, 10, 20, 60):
    x_one = schedule.alphas_cumprod[t_one].sqrt() * mixture.means[:1]  # √ᾱ_t μ_0
    post = mixture.reverse_posterior(schedule, x_one, t_one, t_one - 1)
    var_true = post.covariance.diagonal().mean().item()
    var_gauss = schedule.posterior_variance[t_one].item()  # DDPM's σ² = β̃_t
    centre = ddim_step(schedule, x_one, t_one, t_one - 1, mixture.exact_eps(schedule, x_one, t_one), eta=1.0,
                       noise=torch.zeros_like(x_one), clip_x0=False)
    half = 6 * math.sqrt(max(var_true, var_gauss))
    side = torch.linspace(-half, half, 301, dtype=torch.float64)
    local = centre + torch.stack(torch.meshgrid(side, side, indexing="xy"), -1).reshape(-1, 2)
    gauss = torch.exp(-(local - centre).pow(2).sum(1) / (2 * var_gauss)) / (2 * math.pi * var_gauss)
    one_step_tv = 0.5 * (post.log_prob(local).exp() - gauss).abs().sum().item() * (side[1] - side[0]).item() ** 2
    print(f"{t_one:4d}   {var_true:.6f}        {var_gauss:.6f}          {schedule.betas[t_one].item():.6f}     "
          f"{one_step_tv:.2f}")

# %% [markdown]
# At $t = 1$ the Gaussian step's $\tilde\beta_1$ is half the true variance, and the one-step TV is far from 0. There
# the data (standard deviation 0.1) are much wider than the noise left ($\sqrt{1 - \bar\alpha_1} = 0.048$), so they
# look locally like a broad Gaussian, the case in which $\beta_t$ is exact: the true variance is close to $\beta_t$.
# This is the narrowing that DDPM with $\tilde\beta_t$ showed in section 5, made in the last few steps.
#
# ## 8. What classifier-free guidance samples
#
# With a label $y$, the component index, guidance combines the two exact predictions:
# $\tilde\varepsilon = \hat\varepsilon_u + s(\hat\varepsilon_c - \hat\varepsilon_u)$. Since $\hat\varepsilon =
# -\sqrt{1-\bar\alpha_t}\,\nabla \log q_t$ and $\nabla \log q_t(x \mid y) - \nabla \log q_t(x) = \nabla \log q_t(y \mid x)$,
#
# $$
# \tilde\varepsilon = -\sqrt{1-\bar\alpha_t}\;\nabla_x \log\big[q_t(x)\, q_t(y \mid x)^s\big]
# $$
#
# (`tests/test_toy.py` checks this identity against autograd).
#
# It is tempting to conclude that guidance samples the **tilted density** $p(x)\,p(y \mid x)^s \propto p(x \mid y)^s
# p(x)^{1-s}$ at $t = 0$. It does not: each step follows the score of $q_t(x)\,q_t(y \mid x)^s$ at its own $t$, but
# these tilted marginals are not the noised versions of one distribution (noising does not commute with raising to
# a power), so no single diffusion has them as its marginals. Bradley & Nakkiran (2024) show that DDPM and DDIM
# react differently to the guided $\tilde\varepsilon$ and that neither samples the tilted density; Chidambaram et al.
# (2024) prove, for mixtures of compactly supported distributions and of Gaussians, that as $s$ grows the samples
# concentrate towards the boundary of the class's support, away from the other classes. Here it is, on two
# overlapping classes: samples of class $y = 1$ at $s = 1$ and $s = 3$, against the tilted density computed on a grid
# and normalised numerically.

# %%
show_source(cfg_eps)

# %%
# NBVAL_IGNORE_OUTPUT
pair = GaussianMixture(means=[[-0.5, 0.0], [0.5, 0.0]], stds=[0.3, 0.3])
pair_model = pair.as_model(schedule)
h2 = 0.02
g2 = torch.arange(-2.5, 2.5, h2, dtype=torch.float64) + h2 / 2
grid2 = torch.stack(torch.meshgrid(g2, g2, indexing="xy"), -1).reshape(-1, 2)
n_cfg = 4000
x_T = torch.randn(n_cfg, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
labels = torch.ones(n_cfg, dtype=torch.long)
tilted, guided = {}, {}
for s in (1.0, 3.0):
    log_tilted = pair.log_prob(grid2) + s * pair.class_posterior(None, grid2, None)[:, 1].log()
    tilted[s] = torch.softmax(log_tilted, 0).reshape(len(g2), len(g2)) / h2**2  # a density on the grid
    guided[s] = {
        "DDPM": ddpm_sample(pair_model, schedule, x_T, y=labels, guidance_scale=s, clip_x0=False,
                            generator=torch.Generator().manual_seed(11)),
        "DDIM (300 steps)": ddim_sample(pair_model, schedule, x_T, steps=schedule.T, y=labels, guidance_scale=s,
                                        clip_x0=False),
    }
fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
for ax, s in zip(axes[:2], (1.0, 3.0)):
    ax.plot(g2, tilted[s].sum(0) * h2, color="k", lw=2, label="tilted density p(x)p(y|x)^s")
    ax.plot(g2, pair.log_prob(grid2, y=1).exp().reshape(len(g2), len(g2)).sum(0) * h2, color="k", ls=":",
            label="class density p(x|y)")
    for name, xs in guided[s].items():
        ax.hist(xs[:, 0].numpy(), bins=60, range=(-1.5, 2.5), density=True, histtype="step", lw=1.5,
                label=f"CFG, {name}")
    ax.set(title=f"guidance scale s = {s:g}: marginal of x[0]", xlabel="x[0]", ylabel="density", xlim=(-1.5, 2.5))
    ax.legend(fontsize=7)
axes[2].scatter(guided[3.0]["DDPM"][:600, 0], guided[3.0]["DDPM"][:600, 1], s=3, color="C0", label="CFG, DDPM")
axes[2].scatter(guided[3.0]["DDIM (300 steps)"][:600, 0], guided[3.0]["DDIM (300 steps)"][:600, 1], s=3, color="C1",
                label="CFG, DDIM")
peak = tilted[3.0].max()
axes[2].contour(g2, g2, tilted[3.0], levels=(peak * torch.exp(-0.5 * torch.tensor([2.0, 1.0]) ** 2)).tolist(),
                colors="k", linewidths=1.2)
axes[2].set(title="s = 3: 600 guided samples each\n(black: tilted density at e^−0.5 and e^−2 of its peak)",
            xlabel="x[0]", ylabel="x[1]", xlim=(-1.0, 2.0), ylim=(-1.2, 1.2), aspect="equal")
axes[2].legend(fontsize=7, loc="upper left")
fig.tight_layout()
for s in (1.0, 3.0):
    for name, xs in guided[s].items():
        print(f"s = {s:g}, {name:16s}: x[0] mean {xs[:, 0].mean():.3f}, std {xs[:, 0].std():.3f}")

# %%
# NBVAL_CHECK_OUTPUT
for s in (1.0, 3.0):
    marginal = tilted[s].sum(0) * h2 * h2  # probabilities of the x[0] bins
    mean_t = (marginal * g2).sum()
    std_t = ((marginal * (g2 - mean_t) ** 2).sum()).sqrt()
    print(f"s = {s:g}: tilted density, x[0] mean {mean_t:.3f}, std {std_t:.3f}")
    for name, xs in guided[s].items():
        far = (xs[:, 0].mean() - mean_t).abs() > 5 * std_t / math.sqrt(n_cfg)
        print(f"        CFG with {name}: mean more than 5 SE from the tilted mean: {bool(far)}")

# %% [markdown]
# At $s = 1$ the guided $\tilde\varepsilon$ is just the conditional one, the tilted density is $p(x \mid y)$, and both
# samplers match it. At $s = 3$ the tilted density moves only a little, to a mean near 0.56, while the guided
# samplers overshoot it, and differently: DDPM to about 0.67, DDIM to about 0.81, with narrower spreads. Only $x[0]$
# changes: the classes differ along that axis, so $q_t(y \mid x)$ depends on $x[0]$ alone. Guidance does what it is
# used for, fewer ambiguous samples, but "sampling $p(x)p(y \mid x)^s$" is not an accurate description of it.
#
# ## Try it
#
# - Train `ToyEpsNet` with `steps=1000` and with `steps=10000`: at which $t$ does its error fall first? Sample with
#   `ddim_sample(net, …)` and compare with section 4.
# - Narrow one component to `stds=[0.1, 0.02, 0.12]`. Where does the network's error peak now, and what happens to
#   section 5's spread check (compare $\sqrt{1 - \bar\alpha_0}$ with the new width)?
# - Replace the schedule by `DiffusionSchedule(cosine_beta_schedule(300))` (`from helpers import
#   cosine_beta_schedule`) and re-run section 6: which spacing wins now?
# - Re-run section 8 with $s = 0$ (unconditional) and $s = 6$. How far does DDIM push the mean?
#
# ## Summary
#
# - For a Gaussian mixture, $q(x_t)$, $\mathbb E[\varepsilon \mid x_t]$, Tweedie's $\hat x_0$, the score and even
#   $q(x_{t'} \mid x_t)$ are closed form (`helpers.toy.GaussianMixture`); `as_model` turns the exact denoiser into a
#   network that every sampler accepts, with the component index as the class.
# - A small MLP learns $\hat\varepsilon$ easily where the noise is large (the field is nearly linear) and with
#   difficulty where the noise level matches the width of the data's components (the field is steep there).
# - With the exact model, DDPM reproduces the mixture's mean, covariance and weights; inside a component, its
#   fixed Gaussian step shows: $\tilde\beta_t$ narrows, $\beta_t$ widens. And the last step returns $\hat x_0$, an
#   average over the noise left.
# - The true reverse step is nearly Gaussian for one step and becomes the multimodal data distribution for large
#   jumps: the reason for many small stochastic steps, or an ODE solver (Heun with Karras spacing converges at
#   second order).
# - Classifier-free guidance does not sample $p(x)\,p(y \mid x)^s$; DDPM and DDIM overshoot it, by different amounts.
#
# This is the last notebook. Back to [the list of notebooks](../README.md#the-notebooks).
