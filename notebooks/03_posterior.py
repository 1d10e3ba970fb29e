# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["launch-links"]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/03_posterior.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F03_posterior.ipynb)

# %% [markdown]
# # 03 · The posterior $q(x_{t-1} \mid x_t, x_0)$
#
# To generate images we must run the chain backwards. One step back, $q(x_{t-1} \mid x_t)$, is intractable, but
# if we also know $x_0$ it is a plain Gaussian that Bayes' rule gives in closed form. DDPM trains a network
# to predict the noise $\varepsilon$, turns it into a guess $\hat x_0$, and plugs that guess into this posterior.
#
# **What you will learn**
# - the posterior mean $\tilde\mu_t$ (a weighted combination of $x_0$ and $x_t$) and variance $\tilde\beta_t$;
# - how the two weights and $\tilde\beta_t$ against $\beta_t$ behave over $t$;
# - why the log-variance is clipped at $t = 0$;
# - how $\hat x_0$ is computed from a noise prediction, why errors in $\hat\varepsilon$ blow up in $\hat x_0$ at large $t$,
#   and why a single DDPM step barely feels that error;
# - an empirical check: sampling the joint $(x_{t-1}, x_t)$ and recovering the posterior by regression;
# - how the variational bound turns into the plain squared error on $\varepsilon$ that DDPM trains with, and what the
#   best noise predictor is (a posterior mean, a scaled score).
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ with
# $\bar\alpha_{-1} = 1$; $x_0$ is the clean image, so at $t = 0$ "one step back" from the first noisy image is $x_0$
# itself; images are float tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.

# %%
# Colab only: install helpers (the package alone, about 18 MB). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ https://github.com/diffusion-step-by-step/diffusion-step-by-step/archive/refs/heads/main.zip"],
                   check=True)

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch

from helpers import (QUICK, DiffusionSchedule, predict_eps_from_x0, predict_x0_from_eps, q_posterior_mean_variance,
                     q_sample, q_step, quick_or_full, sample_images)
from helpers.viz import plot_curves, plot_histograms, plot_image_table, show_source

schedule = DiffusionSchedule.from_name("report", 300)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. Bayes' rule, in closed form
#
# $$q(x_{t-1} \mid x_t, x_0) \;\propto\; q(x_t \mid x_{t-1})\; q(x_{t-1} \mid x_0)
# = \mathcal{N}(x_t;\ \sqrt{\alpha_t}\,x_{t-1}, \beta_t I)\;\mathcal{N}(x_{t-1};\ \sqrt{\bar\alpha_{t-1}}\,x_0, (1-\bar\alpha_{t-1}) I).$$
#
# As a function of $x_{t-1}$ both factors are Gaussian, so their product is: precisions add
# ($\frac{\alpha_t}{\beta_t} + \frac{1}{1-\bar\alpha_{t-1}} = \frac{1-\bar\alpha_t}{\beta_t(1-\bar\alpha_{t-1})}$) and the
# mean is the precision-weighted average. Written out:
#
# $$q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\!\left(\tilde\mu_t,\ \tilde\beta_t I\right),\qquad
# \tilde\mu_t = \underbrace{\frac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t}}_{\text{coef}_1}\,x_0
#             + \underbrace{\frac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t}}_{\text{coef}_2}\,x_t,\qquad
# \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$
#
# These are Ho et al.'s eqs. 6 and 7, written at this series' index $t$ (their step $t + 1$; our $\bar\alpha_{-1} = 1$ is
# their $\bar\alpha_0 = 1$).
#
# ### Exercise 1: the posterior mean and variance
#
# Write `my_posterior(schedule, x0, x_t, t)`: for clean images `x0` and noisy images `x_t` of shape `[B, C, H, W]` and a
# LongTensor `t` `[B]`, return the pair `(mean, variance)`: $\tilde\mu_t$ of `x_t`'s shape and $\tilde\beta_t$ (shape
# `[B, 1, 1, 1]` or `x_t`'s), in `x_t`'s dtype. `schedule.gather(table, t, x_t)` reads a table at `t` as `[B, 1, 1, 1]`;
# the tables you need are `betas`, `alphas`, `alphas_cumprod` and `alphas_cumprod_prev` ($\bar\alpha_{t-1}$, with
# $\bar\alpha_{-1} = 1$ at $t = 0$). The checker compares it with `q_posterior_mean_variance` and names the usual mistakes
# (coef$_1$ and coef$_2$ swapped, $\bar\alpha_t$ where $\bar\alpha_{t-1}$ belongs, $\beta_t$ returned as the variance).

# %%
import math

import torch


def my_posterior(schedule, x0, x_t, t):
    """q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I): returns (μ̃_t, β̃_t)."""
    # BEGIN SOLUTION gather β_t, α_t, ᾱ_t and ᾱ_{t−1} (alphas_cumprod_prev) at t; then coef1, coef2 and β̃_t above
    beta, alpha = schedule.gather(schedule.betas, t, x_t), schedule.gather(schedule.alphas, t, x_t)
    abar = schedule.gather(schedule.alphas_cumprod, t, x_t)
    abar_prev = schedule.gather(schedule.alphas_cumprod_prev, t, x_t)
    coef1 = beta * abar_prev.sqrt() / (1 - abar)
    coef2 = (1 - abar_prev) * alpha.sqrt() / (1 - abar)
    return coef1 * x0 + coef2 * x_t, (1 - abar_prev) / (1 - abar) * beta
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_posterior

check_posterior(my_posterior)

# %% [markdown]
# The helper (it also returns the clipped log-variance of section 3; its coefficient tables are computed once, in
# float64, by `DiffusionSchedule`):

# %%
show_source(q_posterior_mean_variance)

# %% [markdown]
# ## 2. The coefficients over $t$
#
# Only at $t = 0$ is the posterior all $x_0$ (coef$_1 = 1$, coef$_2 = 0$; section 3). Already at $t = 1$ the two
# weights are about equal (0.57 and 0.43 in the table below), by $t = 10$ the weight on $x_t$ is 0.85, and at large
# $t$ coef$_2 \to \sqrt{\alpha_t}$ while coef$_1 \to 0$: one step back from $x_t$ stays close to $x_t$, whatever
# the distant $x_0$ was.
#
# $\tilde\beta_t \le \beta_t$ at every $t$, since $\tilde\beta_t/\beta_t = (1-\bar\alpha_{t-1})/(1-\bar\alpha_t) \le 1$;
# the two meet once $\bar\alpha_{t-1}$ is close to 0. Ho et al. (2020, §3.2) read them as the two extreme choices
# for the variance of the *reverse* step $p_\theta(x_{t-1} \mid x_t)$: $\sigma_t^2 = \beta_t$ is optimal when the data
# is $x_0 \sim \mathcal{N}(0, I)$, $\sigma_t^2 = \tilde\beta_t$ when the data is a single point $x_0$, and both gave
# similar samples. (coef$_2 = \sqrt{\alpha_t}\,\tilde\beta_t/\beta_t$, so those two curves nearly coincide.)
# The $t$ axis is logarithmic beyond $t = 1$: everything interesting happens in the first few steps. On the
# right, $\tilde\beta_0 = 0$ has no place on the logarithmic $y$ axis, so that panel starts at $t = 1$.

# %%
t_all = torch.arange(schedule.T)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
plot_curves(t_all, {r"coef$_1$ (weight on $x_0$)": schedule.posterior_mean_coef1,
                    r"coef$_2$ (weight on $x_t$)": schedule.posterior_mean_coef2,
                    r"$\tilde\beta_t / \beta_t$": schedule.posterior_variance / schedule.betas}, ax=left, logx=True,
            title="Posterior coefficients (report, T = 300)", ylabel="coefficient, or ratio of variances")
plot_curves(t_all[1:], {r"$\beta_t$ (forward step variance)": schedule.betas[1:],
                        r"$\tilde\beta_t$ (posterior variance)": schedule.posterior_variance[1:]}, ax=right,
            logx=True, logy=True, ylabel="variance per pixel (images in [−1, 1])",
            title=r"$\tilde\beta_t \leq \beta_t$ from $t = 1$ ($\tilde\beta_0 = 0$ is off the log axis)")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'t':>4s} {'beta_t':>9s} {'beta~_t':>9s} {'ratio':>6s} {'coef1':>7s} {'coef2':>7s} {'sqrt(alpha_t)':>13s}")
for t in (0, 1, 2, 10, 50, 100, 200, 299):
    print(f"{t:4d} {schedule.betas[t].item():9.2e} {schedule.posterior_variance[t].item():9.2e} "
          f"{(schedule.posterior_variance[t] / schedule.betas[t]).item():6.3f} {schedule.posterior_mean_coef1[t].item():7.4f} "
          f"{schedule.posterior_mean_coef2[t].item():7.4f} {schedule.alphas[t].sqrt().item():13.4f}")

# %% [markdown]
# ## 3. $t = 0$: a variance of zero, and the clipped log
#
# At $t = 0$ the "previous" image is $x_0$ itself ($\bar\alpha_{-1} = 1$), so the posterior is a point mass:
# coef$_1 = 1$, coef$_2 = 0$, $\tilde\beta_0 = 0$. So with $\sigma_t^2 = \tilde\beta_t$ the last sampling step adds no noise and
# returns $\hat x_0$ by itself; samplers also set the noise to 0 there by convention (Ho et al.'s Algorithm 2 sets
# $z = 0$ at the last step, whatever the variance).
# Its log would be $-\infty$; code that works with $\log\tilde\beta$ (the likelihood, learned variances) uses the
# clipped value $\log\tilde\beta_1$ at $t=0$, as Ho et al. do (the report clamps $\tilde\beta$ at $10^{-20}$ instead).

# %%
# NBVAL_CHECK_OUTPUT
print("beta~_0, beta~_1, beta~_2           :", [f"{v:.3e}" for v in schedule.posterior_variance[:3].tolist()])
print("log-variance clipped, t = 0, 1, 2   :", [f"{v:.4f}" for v in schedule.posterior_log_variance_clipped[:3].tolist()])
print("log beta~_1                         :", f"{math.log(schedule.posterior_variance[1].item()):.4f}")
print("coef1, coef2 at t = 0               :",
      f"{schedule.posterior_mean_coef1[0].item():.4f}, {schedule.posterior_mean_coef2[0].item():.4f}")

# %% [markdown]
# ## 4. $\hat x_0$ from a noise prediction
#
# The network predicts $\varepsilon$, not $x_0$. Solving $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ for $x_0$:
#
# $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}}
# = \sqrt{1/\bar\alpha_t}\;x_t - \sqrt{1/\bar\alpha_t - 1}\;\hat\varepsilon,$$
#
# and back, $\hat\varepsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0)/\sqrt{1-\bar\alpha_t}$. With the true $\varepsilon$ this
# recovers $x_0$ exactly (up to float64 rounding).
#
# ### Exercise 2: $\hat x_0$ from a noise prediction
#
# Write `my_predict_x0(schedule, x_t, t, eps)`: for noisy images `x_t` `[B, C, H, W]`, a LongTensor `t` `[B]` and a noise
# prediction `eps` $= \hat\varepsilon$ of `x_t`'s shape, return $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$
# in `x_t`'s dtype. The checker compares it with `predict_x0_from_eps` for arbitrary $\hat\varepsilon$ (not only the noise
# that made `x_t`) and names the usual mistakes ($\sqrt{1-\bar\alpha_t}$ and $\sqrt{\bar\alpha_t}$ swapped, $\bar\alpha_t$
# without its square root, $\alpha_t$ where $\bar\alpha_t$ belongs).

# %%
import math

import torch


def my_predict_x0(schedule, x_t, t, eps):
    """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, for a LongTensor t [B]."""
    # BEGIN SOLUTION ᾱ_t per image: schedule.gather(schedule.alphas_cumprod, t, x_t); then solve x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε̂
    abar = schedule.gather(schedule.alphas_cumprod, t, x_t)
    return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_predict_x0

check_predict_x0(my_predict_x0)

# %% [markdown]
# The helpers (they read $\sqrt{1/\bar\alpha_t}$ and $\sqrt{1/\bar\alpha_t - 1}$ from the schedule's float64 tables):

# %%
show_source(predict_x0_from_eps, predict_eps_from_x0)

# %%
# NBVAL_CHECK_OUTPUT
x0, _ = sample_images(8, seed=0)
x0 = x0.double()
t = torch.arange(0, 300, 300 // 8)[:8]
eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
x_t = q_sample(schedule, x0, t, eps)
err_x0 = (predict_x0_from_eps(schedule, x_t, t, eps) - x0).abs().max().item()
err_eps = (predict_eps_from_x0(schedule, x_t, t, x0) - eps).abs().max().item()
print("t =", t.tolist())
print("round trip x_0 -> x_t -> x_0 exact to 1e-10:", err_x0 < 1e-10)
print("round trip eps -> x_t -> eps exact to 1e-10:", err_eps < 1e-10)
print("factor sqrt(1/abar_t - 1) on eps at t = 0, 100, 200, 299:",
      [f"{v:.3g}" for v in schedule.sqrt_recipm1_alphas_cumprod[[0, 100, 200, 299]].tolist()])

# %% [markdown]
# The last line is the catch: an error $\delta$ in $\hat\varepsilon$ becomes an error $\sqrt{1/\bar\alpha_t - 1}\,\delta$ in
# $\hat x_0$, and at $t = 299$ that factor is about 2,500. Below, $\hat x_0$ from the true $\varepsilon$ and from
# $\varepsilon$ with 10% error added: at large $t$ the guess leaves $[-1, 1]$ by far. Samplers clip $\hat x_0$ to
# $[-1, 1]$ for the places where that matters, below; a DDPM step at large $t$ is not one of them.
#
# The amplification matters wherever $\hat x_0$ is used as it is: pictures of $\hat x_0$ along a trajectory, and
# few-step DDIM, which jumps from $t$ to a much earlier $t'$ through $\sqrt{\bar\alpha_{t'}}\,\hat x_0$, so the error in
# $\hat x_0$ arrives multiplied by $\sqrt{\bar\alpha_{t'}}$, which is close to 1 when $t'$ is small. It does **not** reach one
# DDPM step the same way: the posterior mean multiplies $\hat x_0$ by coef$_1$, which is tiny exactly where the factor
# is huge. The error $\delta$ moves $\tilde\mu_t$ by coef$_1\sqrt{1/\bar\alpha_t-1}\,\delta = \beta_t/\sqrt{\alpha_t(1-\bar\alpha_t)}\;\delta$,
# about $0.1\,\delta$ at $t = 299$, well below the step's own noise $\sqrt{\tilde\beta_{299}} \approx 0.32$ (the cell after the
# figure prints both: 0.0106 for the 10% error, a $\delta$ of standard deviation 0.1, against 0.316).

# %%
ts = [10, 50, 100, 150, 200, 299]
img = x0[:1].expand(len(ts), -1, -1, -1)
t = torch.tensor(ts)
eps = torch.randn(img.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
x_t = q_sample(schedule, img, t, eps)
noisy_eps = eps + 0.1 * torch.randn(img.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
x0_exact = predict_x0_from_eps(schedule, x_t, t, eps)
x0_noisy = predict_x0_from_eps(schedule, x_t, t, noisy_eps)
rows = [x_t, x0_exact, x0_noisy.clamp(-1, 1)]
fig = plot_image_table(rows, row_labels=["x_t", "x̂_0, true ε", "x̂_0, ε + 10%\n(clipped)"],
                       col_labels=[f"t={t}" for t in ts])

# %%
# NBVAL_CHECK_OUTPUT
# the same ε error through one DDPM step: the posterior mean from x̂_0 (unclipped), true ε against ε + 10%
mean_exact, var, _ = q_posterior_mean_variance(schedule, x0_exact, x_t, t)
mean_noisy, _, _ = q_posterior_mean_variance(schedule, x0_noisy, x_t, t)
for i, (tt, x) in enumerate(zip(ts, x0_noisy)):
    shift = (mean_noisy[i] - mean_exact[i]).std().item()
    print(f"t = {tt:3d}: x̂_0 from ε + 10% error spans [{x.min().item():8.1f}, {x.max().item():7.1f}];"
          f" the DDPM mean moves by {shift:.4f} (std), the step's noise is {var[i].sqrt().item():.3f}")

# %% [markdown]
# ## 5. An empirical check of the posterior
#
# The formulas above came from algebra; here is a check from samples alone. Fix a pixel value $x_0$, draw
# $x_{t-1} \sim q(x_{t-1} \mid x_0)$ with `q_sample`, then $x_t \sim q(x_t \mid x_{t-1})$ with one `q_step`.
# That gives samples of the joint $(x_{t-1}, x_t)$ given $x_0$. Conditioning on an exact value of $x_t$ is impossible
# with samples, but for jointly Gaussian variables the conditional mean is linear in $x_t$ and the conditional
# variance is constant, so a least-squares line of $x_{t-1}$ on $x_t$ estimates both:
#
# - slope $\to$ coef$_2$, intercept $\to$ coef$_1 \cdot x_0$, residual variance $\to \tilde\beta_t$.
#
# Nothing in this check uses the posterior formulas; they only provide the values we compare with.

# %%
n = quick_or_full(20_000, 200_000)
x0_value = 0.6
ts_check = (1, 10, 100, 299)
g = torch.Generator().manual_seed(0)
fits = {}
for t in ts_check:
    x0_t = torch.full((n, 1, 1, 1), x0_value, dtype=torch.float64)
    x_prev = q_sample(schedule, x0_t, t - 1, generator=g).flatten()
    x_t = q_step(schedule, x_prev.reshape(n, 1, 1, 1), t, generator=g).flatten()
    design = torch.stack([torch.ones_like(x_t), x_t], dim=1)
    intercept, slope = torch.linalg.lstsq(design, x_prev.unsqueeze(1)).solution.flatten()
    resid = x_prev - intercept - slope * x_t
    fits[t] = dict(x_prev=x_prev, x_t=x_t, intercept=intercept.item(), slope=slope.item(),
                   resid_var=resid.var().item(), sd_x_t=x_t.std().item(), mean_x_t=x_t.mean().item())

# %%
# NBVAL_IGNORE_OUTPUT
print(f"n = {n} samples per t (random: the estimates change with n)")
print(f"{'t':>4s} {'slope':>8s} {'coef2':>8s} {'intercept':>10s} {'coef1*x0':>9s} {'resid var':>10s} {'beta~_t':>9s}")
for t, f in fits.items():
    print(f"{t:4d} {f['slope']:8.4f} {schedule.posterior_mean_coef2[t].item():8.4f} {f['intercept']:10.4f} "
          f"{schedule.posterior_mean_coef1[t].item() * x0_value:9.4f} {f['resid_var']:10.3e} "
          f"{schedule.posterior_variance[t].item():9.3e}")

# %% [markdown]
# Whether each estimate is within 5 standard errors of the formula (standard errors of a least-squares line:
# slope $\sigma/(\sqrt n\,\mathrm{sd}(x_t))$, intercept $\sigma\sqrt{(1 + \bar x_t^2/\mathrm{sd}(x_t)^2)/n}$,
# residual variance $\sigma^2\sqrt{2/n}$):

# %%
# NBVAL_CHECK_OUTPUT
for t, f in fits.items():
    var = schedule.posterior_variance[t].item()
    sigma = math.sqrt(var)
    se_slope = sigma / (math.sqrt(n) * f["sd_x_t"])
    se_icpt = sigma * math.sqrt((1 + f["mean_x_t"] ** 2 / f["sd_x_t"] ** 2) / n)
    ok_slope = abs(f["slope"] - schedule.posterior_mean_coef2[t].item()) <= 5 * se_slope
    ok_icpt = abs(f["intercept"] - schedule.posterior_mean_coef1[t].item() * x0_value) <= 5 * se_icpt
    ok_var = abs(f["resid_var"] - var) <= 5 * var * math.sqrt(2 / n)
    print(f"t = {t:3d}: slope ok {ok_slope}, intercept ok {ok_icpt}, residual variance ok {ok_var}")

# %% [markdown]
# The same thing as a picture, at $t = 10$: the cloud of $(x_t, x_{t-1})$ samples, the posterior mean
# $\tilde\mu_t(x_t)$ as a line and $\pm 2\sqrt{\tilde\beta_t}$ around it; and the histogram of $x_{t-1}$ for the samples
# whose $x_t$ falls in a thin slice around $x_t = 0.8$, against $\mathcal{N}(\tilde\mu_t, \tilde\beta_t)$.

# %%
t, x_slice = 10, 0.8
f = fits[t]
line_x = torch.linspace(f["x_t"].min().item(), f["x_t"].max().item(), 50, dtype=torch.float64)
mu = schedule.posterior_mean_coef1[t] * x0_value + schedule.posterior_mean_coef2[t] * line_x
band = 2 * schedule.posterior_variance[t].sqrt()
fig = plot_curves(line_x, {r"$\tilde\mu_t(x_t)$": mu, r"$\tilde\mu_t \pm 2\sqrt{\tilde\beta_t}$": mu + band},
                  xlabel="$x_t$", ylabel="$x_{t-1}$",
                  title=f"Samples of $(x_t, x_{{t-1}})$ given $x_0$ = {x0_value}, t = {t}")
ax = fig.axes[0]
ax.plot(line_x, mu - band, color="C1")
ax.scatter(f["x_t"][:3000], f["x_prev"][:3000], s=2, alpha=0.3, color="gray")
_ = ax.axvspan(x_slice - 0.01, x_slice + 0.01, color="C2", alpha=0.3)

# %%
in_slice = (f["x_t"] - x_slice).abs() < 0.01
mu_slice = (schedule.posterior_mean_coef1[t] * x0_value + schedule.posterior_mean_coef2[t] * x_slice).item()
sd = schedule.posterior_variance[t].sqrt().item()
label = f"$x_{{t-1}}$ given $x_t$ ≈ {x_slice} ({int(in_slice.sum())} samples)"
fig = plot_histograms({label: f["x_prev"][in_slice]},
                      mean=mu_slice, std=sd, bins=30, value_range=(mu_slice - 4 * sd, mu_slice + 4 * sd),
                      density_label=r"$\mathcal{N}(\tilde\mu_t, \tilde\beta_t)$")
_ = fig.axes[0].set(xlabel="$x_{t-1}$", ylabel="density")

# %% [markdown]
# ## 6. From the posterior to the training loss
#
# Why does a network that predicts $\varepsilon$ with a plain squared error (notebook 05) fit into this? In this
# section only we use Ho et al.'s (2020) 1-based steps: $x_0$ is the clean image, $x_1, \dots, x_T$ the noised
# ones, and their step $t$ is this series' index $t-1$. The negative log-likelihood is bounded by (their eq. 5)
#
# $$-\log p_\theta(x_0) \le \mathbb{E}_q\Big[\underbrace{D_{\mathrm{KL}}\big(q(x_T \mid x_0)\,\|\,p(x_T)\big)}_{L_T}
#   + \sum_{t>1} \underbrace{D_{\mathrm{KL}}\big(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1} \mid x_t)\big)}_{L_{t-1}}
#   \underbrace{-\,\log p_\theta(x_0 \mid x_1)}_{L_0}\Big].$$
#
# Each $L_{t-1}$ compares the posterior of this notebook with the model's reverse step. With
# $p_\theta(x_{t-1} \mid x_t) = \mathcal{N}(\mu_\theta(x_t, t), \sigma_t^2 I)$ and a fixed $\sigma_t^2$, the KL between
# $\mathcal{N}(\tilde\mu_t, \tilde\beta_t I)$ and $\mathcal{N}(\mu_\theta, \sigma_t^2 I)$ is the squared distance of the means over
# $2\sigma_t^2$ plus terms in $\tilde\beta_t$ and $\sigma_t^2$ alone, a constant $C$ that no parameter of the network changes
# (their eq. 8):
# $L_{t-1} = \mathbb{E}_q\big[\tfrac{1}{2\sigma_t^2}\|\tilde\mu_t(x_t, x_0) - \mu_\theta(x_t, t)\|^2\big] + C$.
#
# Plugging $\hat x_0$ from $\varepsilon_\theta$ into $\tilde\mu_t$ gives their eq. 11,
#
# $$\mu_\theta(x_t, t) = \tilde\mu_t\big(x_t, \hat x_0(x_t, \varepsilon_\theta)\big)
#   = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon_\theta(x_t, t)\Big),$$
#
# and then $L_{t-1} - C$ is a weighted $\varepsilon$ error (their eq. 12):
#
# $$L_{t-1} - C = \mathbb{E}_{x_0, \varepsilon}\Big[\frac{\beta_t^2}{2\sigma_t^2\,\alpha_t\,(1-\bar\alpha_t)}
#   \big\|\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t)\big\|^2\Big].$$
#
# Ho et al. drop the weight and draw $t$ uniformly: $L_{\text{simple}} = \mathbb{E}_{t, x_0, \varepsilon}\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2$
# (their eq. 14), the loss of notebook 05. Relative to the bound this down-weights the terms at the smallest $t$,
# whose weights are the largest (printed below: 0.67 at index 1 against 0.02–0.09 further on), and Ho et al. found
# it gives better samples.
#
# Two facts about the *best possible* $\varepsilon_\theta$ follow. A squared error is minimised by the conditional mean,
# so $\varepsilon^*(x_t, t) = \mathbb{E}[\varepsilon \mid x_t]$, and since $x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon)/\sqrt{\bar\alpha_t}$
# exactly, by linearity $\hat x_0(x_t, \varepsilon^*) = \mathbb{E}[x_0 \mid x_t]$: $\hat x_0$ is a posterior *mean*, an average
# over every clean image that could have produced $x_t$. And since
# $\nabla_{x_t}\log q(x_t) = \mathbb{E}\big[\nabla_{x_t}\log q(x_t \mid x_0) \mid x_t\big] = -\mathbb{E}[\varepsilon \mid x_t]/\sqrt{1-\bar\alpha_t}$,
# the noise predictor is a scaled score, $\varepsilon^* = -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t}\log q(x_t)$. Together they give
# Tweedie's formula, $\mathbb{E}[x_0 \mid x_t] = \big(x_t + (1-\bar\alpha_t)\,\nabla_{x_t}\log q(x_t)\big)/\sqrt{\bar\alpha_t}$
# (Robbins, 1956, who credits it to Tweedie; Efron, 2011: for $z \sim \mathcal{N}(\mu, \sigma^2)$,
# $\mathbb{E}[\mu \mid z] = z + \sigma^2 \nabla_z \log p(z)$, here with $z = x_t$, $\mu = \sqrt{\bar\alpha_t}\,x_0$, $\sigma^2 = 1-\bar\alpha_t$).
# Notebook 10 computes the posterior mean and the score exactly for 2-D data.
#
# A check of eq. 11 in this series' notation (index $t$, $\bar\alpha_{-1} = 1$), and the weights that $L_{\text{simple}}$ drops,
# with $\sigma_t^2 = \tilde\beta_t$:

# %%
# NBVAL_CHECK_OUTPUT
x0_c, _ = sample_images(4, seed=1)
x0_c, t_c = x0_c.double(), torch.tensor([1, 10, 100, 299])
eps_c = torch.randn(x0_c.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
x_t_c = q_sample(schedule, x0_c, t_c, eps_c)
eps_hat = eps_c + 0.1 * torch.randn(x0_c.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
mean_post, _, _ = q_posterior_mean_variance(schedule, predict_x0_from_eps(schedule, x_t_c, t_c, eps_hat), x_t_c, t_c)
a, b, ab = (schedule.alphas[t_c], schedule.betas[t_c], schedule.alphas_cumprod[t_c])
mean_eq11 = (x_t_c - (b / (1 - ab).sqrt()).view(-1, 1, 1, 1) * eps_hat) / a.sqrt().view(-1, 1, 1, 1)
print("eq. 11 equals the posterior mean at x̂_0 to 1e-10:", (mean_post - mean_eq11).abs().max().item() < 1e-10)
weight = schedule.betas ** 2 / (2 * schedule.posterior_variance * schedule.alphas * (1 - schedule.alphas_cumprod))
print("weight of the ε error in eq. 12 at index t = 1, 10, 100, 299 (Ho et al.'s L_t):",
      [f"{weight[i].item():.3g}" for i in (1, 10, 100, 299)])

# %% [markdown]
# ## Try it
#
# - Change `x0_value` to `-1.0` (a background pixel) and re-run section 5: which fitted number changes, and which do not?
# - Replace `0.1 *` by `0.01 *` in the $\hat x_0$ cell: from which $t$ on is $\hat x_0$ still unusable without clipping?
# - Re-run the coefficient table with `DiffusionSchedule.from_name("cosine", 300)`: where does $\tilde\beta_t/\beta_t$ get close to 1?
# - Use `t = 299` in the scatter plot (it is in `fits`): the slope is nearly $\sqrt{\alpha_t}$ and $\tilde\beta_t \approx \beta_t$. Why does $x_0$ hardly matter there?
#
# ## Summary
#
# - Given $x_0$, one step back is Gaussian: $\tilde\mu_t = \text{coef}_1\,x_0 + \text{coef}_2\,x_t$ and $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t \le \beta_t$.
# - At $t = 0$ the posterior is $x_0$ itself: variance 0, so the log-variance is clipped to $\log\tilde\beta_1$ and the last sampling step adds no noise.
# - $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$ inverts the forward process exactly, but multiplies errors in $\hat\varepsilon$ by up to $\sqrt{1/\bar\alpha_t - 1}$, hence clipping.
# - Samples of the joint $(x_{t-1}, x_t)$ reproduce the posterior's mean and variance.
# - The bound's terms $L_{t-1}$ are KLs to this posterior; with eq. 11 they become weighted $\varepsilon$ errors, and $L_{\text{simple}}$ drops the weights. The best $\varepsilon_\theta$ is $\mathbb{E}[\varepsilon \mid x_t]$: its $\hat x_0$ is $\mathbb{E}[x_0 \mid x_t]$ and it is $-\sqrt{1-\bar\alpha_t}$ times the score (together: Tweedie's formula).
#
# **Next:** [04 · The U-Net and the time embedding](04_unet_and_time_embedding.ipynb): the network that predicts $\varepsilon$.
