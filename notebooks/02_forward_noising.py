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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/02_forward_noising.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F02_forward_noising.ipynb)

# %% [markdown]
# # 02 · Forward noising
#
# Notebook 01 chose how much noise each step adds. Here we add it: to real images, one step at a time and
# in one jump, and check that the two agree.
#
# **What you will learn**
# - the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)$ and why it holds;
# - how to sample it with the reparameterisation $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$;
# - a Monte-Carlo check that the closed form and the step-by-step chain give the same distribution;
# - how the pixel histogram of real images turns into $\mathcal{N}(0, 1)$.
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$; $x_0$ is the clean image and
# the noisy image at index $t$ has had $t + 1$ steps of noise (at $t = 0$ one step: Ho et al.'s $x_1$); images are float
# tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.

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

import torch

from helpers import (QUICK, DiffusionSchedule, q_sample, q_sample_chain, q_step, quick_or_full, sample_images)
from helpers.viz import plot_curves, plot_histograms, plot_image_table, show_images, show_source
from helpers.viz import forward_explorer

schedule = DiffusionSchedule.from_name("report", 300)  # the report's MNIST / Fashion-MNIST schedule
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The chain, one step at a time
#
# $$x_t = \sqrt{1-\beta_t}\;x_{t-1} + \sqrt{\beta_t}\;\varepsilon_t,\qquad \varepsilon_t \sim \mathcal{N}(0, I).$$
#
# ($x_{t-1}$ is the clean image $x_0$ when $t = 0$.) `q_step` is that line; `q_sample_chain` applies it $t+1$ times
# (steps $0, 1, \dots, t$) starting from $x_0$.
#
# ### Exercise 1: one step of the chain
#
# Write `my_q_step(schedule, x_prev, t, noise)`: for a batch `x_prev` $= x_{t-1}$ of shape `[B, C, H, W]` (float32 or
# float64), a LongTensor `t` of shape `[B]` (one index per image) and `noise` $= \varepsilon_t$ of `x_prev`'s shape, return
# $x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\varepsilon_t$ in `x_prev`'s dtype.
# `schedule.gather(schedule.betas, t, x_prev)` gives $\beta_t$ as `[B, 1, 1, 1]` in `x_prev`'s dtype, ready to broadcast.
# The checker compares it with `helpers.q_step` and names the usual mistakes ($\bar\alpha_t$ where $\alpha_t$ belongs,
# $\beta_t$ where $\sqrt{\beta_t}$ belongs, $\beta$ read at index $t-1$).

# %%
import math

import torch


def my_q_step(schedule, x_prev, t, noise):
    """x_t = √(1 − β_t) x_{t−1} + √β_t ε, for a LongTensor t [B]."""
    # BEGIN SOLUTION β_t per image as [B, 1, 1, 1]: schedule.gather(schedule.betas, t, x_prev); then the line above
    beta = schedule.gather(schedule.betas, t, x_prev)
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_q_step

check_q_step(my_q_step)

# %% [markdown]
# The helpers, which the checker compared yours with (`q_sample_chain` draws a fresh $\varepsilon_t$ at every step):

# %%
show_source(q_step, q_sample_chain)

# %% [markdown]
# ## 2. The shortcut: the closed form
#
# Two steps of the chain are a scaled copy of $x_{t-2}$ plus two independent Gaussians:
#
# $$x_t = \sqrt{\alpha_t\alpha_{t-1}}\,x_{t-2} + \sqrt{\alpha_t\beta_{t-1}}\,\varepsilon_{t-1} + \sqrt{\beta_t}\,\varepsilon_t .$$
#
# A sum of independent Gaussians is Gaussian, with the variances added:
# $\alpha_t\beta_{t-1} + \beta_t = \alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$.
# Repeating down to $x_0$:
#
# $$q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\,I\right)
# \quad\Longleftrightarrow\quad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$$
#
# (Ho et al.'s eq. 4, with $\bar\alpha_t = \prod_{i \le t}\alpha_i$).
#
# Training needs $x_t$ at a random $t$ for every image in every batch; this makes it one multiply-add instead of $t+1$ steps.
#
# ### Exercise 2: the closed form
#
# Write `my_q_sample(schedule, x0, t, noise)`: for clean images `x0` `[B, C, H, W]`, a LongTensor `t` `[B]` and `noise`
# $= \varepsilon$ of `x0`'s shape, return $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ in `x0`'s dtype
# ($\bar\alpha_t$ is `schedule.alphas_cumprod[t]`; gather it as in exercise 1). The checker compares it with
# `helpers.q_sample` and names the usual mistakes (variances for standard deviations, the two coefficients swapped,
# $\bar\alpha$ read one index off, $\alpha_t$ where $\bar\alpha_t$ belongs).

# %%
import math

import torch


def my_q_sample(schedule, x0, t, noise):
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, for a LongTensor t [B]."""
    # BEGIN SOLUTION ᾱ_t per image as [B, 1, 1, 1]: schedule.gather(schedule.alphas_cumprod, t, x0); then the formula
    abar = schedule.gather(schedule.alphas_cumprod, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_q_sample

check_q_sample(my_q_sample)

# %% [markdown]
# The helper the rest of the series calls:

# %%
show_source(q_sample)

# %% [markdown]
# ## 3. Noising real images
#
# Eight packaged Fashion-MNIST images, then $x_t$ for six of them at several $t$. Each row uses one fixed $\varepsilon$,
# so you watch the same noise take over the same image.

# %%
x0, y = sample_images(8, seed=0)
fig = show_images(x0, title="x_0: eight packaged Fashion-MNIST images")

# %%
ts = [0, 10, 25, 50, 75, 100, 150, 299]
eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
rows = [torch.cat([q_sample(schedule, x0[i:i + 1], t, eps[i:i + 1]) for t in ts]) for i in range(6)]
labels = [f"t={t}\n√ᾱ={schedule.sqrt_alphas_cumprod[t].item():.2f}" for t in ts]
fig = plot_image_table(rows, col_labels=labels, title="x_t under the report's schedule (T = 300)")

# %% [markdown]
# By $t = 100$ (a third of the way) only a shadow is left, in line with $\sqrt{\bar\alpha_{100}} \approx 0.41$;
# at $t = 299$ there is nothing to see.
#
# ## 4. Closed form against the chain
#
# Take four pixel values $x_0 \in \{-1, -0.3, 0.4, 1\}$, draw many $x_t$ both ways, and compare sample means and
# variances with $\sqrt{\bar\alpha_t}\,x_0$ and $1-\bar\alpha_t$. With $n$ draws the standard error of a mean is
# $\sigma/\sqrt n$ and of a variance $\sigma^2\sqrt{2/(n-1)}$; we accept a difference within 5 standard errors.

# %%
n = quick_or_full(2_000, 20_000)
pixels = torch.tensor([-1.0, -0.3, 0.4, 1.0], dtype=torch.float64).reshape(1, 1, 1, 4)
ts_check = (0, 10, 50, 100, 200, 299)
g = torch.Generator().manual_seed(0)
closed = {t: q_sample(schedule, pixels.expand(n, -1, -1, -1), t, generator=g).reshape(n, 4) for t in ts_check}
chain = {t: q_sample_chain(schedule, pixels.expand(n, -1, -1, -1), t, generator=g).reshape(n, 4) for t in ts_check}

# %%
# NBVAL_IGNORE_OUTPUT
print(f"n = {n} draws per t; estimates for x_0 = 1.0 (random: they change with n)")
print(f"{'t':>4s} {'mean closed':>12s} {'mean chain':>11s} {'var closed':>11s} {'var chain':>10s}")
for t in ts_check:
    one_jump, steps = closed[t][:, 3], chain[t][:, 3]
    print(f"{t:4d} {one_jump.mean().item():12.4f} {steps.mean().item():11.4f} {one_jump.var().item():11.5f} "
          f"{steps.var().item():10.5f}")


# %%
# NBVAL_CHECK_OUTPUT
def within(estimate, truth, se):
    return bool(((estimate - truth).abs() <= 5 * se).all())


print(f"{'t':>4s} {'sqrt(abar)':>10s} {'1-abar':>8s}   closed: mean var   chain: mean var")
for t in ts_check:
    a = schedule.alphas_cumprod[t]
    mean, var = a.sqrt() * pixels.flatten(), 1 - a
    se_mean, se_var = (var / n).sqrt(), var * math.sqrt(2 / (n - 1))
    ok = [within(d[t].mean(0), mean, se_mean) for d in (closed, chain)]
    ok_var = [within(d[t].var(0), var, se_var) for d in (closed, chain)]
    print(f"{t:4d} {a.sqrt().item():10.4f} {var.item():8.4f}   {ok[0]!s:>11s} {ok_var[0]!s:>4s} "
          f"{ok[1]!s:>12s} {ok_var[1]!s:>4s}")

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt

# each estimate's distance from the closed form in standard errors: N(0, 1) if the two agree
fig, ax = plt.subplots(figsize=(9, 3.6))
z_all = []
for k, (name, draws, color) in enumerate((("q_sample (closed form)", closed, "C0"), ("q_sample_chain", chain, "C1"))):
    for i, t in enumerate(ts_check):
        a = schedule.alphas_cumprod[t]
        mean, var = a.sqrt() * pixels.flatten(), 1 - a
        z_mean = (draws[t].mean(0) - mean) / (var / n).sqrt()
        z_var = (draws[t].var(0) - var) / (var * math.sqrt(2 / (n - 1)))
        z_all += [z_mean, z_var]
        x = i + (k - 0.5) * 0.3
        ax.plot([x] * 4, z_mean, "o", color=color, ms=5, label=f"{name}: mean, 4 pixels" if i == 0 else None)
        ax.plot([x] * 4, z_var, "s", mfc="none", color=color, ms=6, label=f"{name}: variance" if i == 0 else None)
for level, style in ((2, ":"), (5, "--")):
    ax.axhline(level, color="gray", ls=style, lw=1)
    ax.axhline(-level, color="gray", ls=style, lw=1)
ax.set_xticks(range(len(ts_check)), [str(t) for t in ts_check])
ax.set_xlabel("timestep index t")
ax.set_ylabel("(estimate − exact) / s.e.")
ax.set_ylim(-6, 6)
ax.set_title(f"Sample mean and variance of x_t against √ᾱ_t x_0 and 1 − ᾱ_t, n = {n} draws (dotted ±2, dashed ±5 s.e.)",
             fontsize=10)
ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
fig.tight_layout()
z_all = torch.cat(z_all)
print(f"{len(z_all)} estimates: largest |z| = {z_all.abs().max().item():.1f} s.e.; outside ±2 s.e.: "
      f"{int((z_all.abs() > 2).sum())} ({(z_all.abs() > 2).double().mean().item():.0%}; N(0, 1) gives 4.6%)")

# %% [markdown]
# Every estimate, from the chain as from `q_sample`, lies within a few standard errors of its exact value, at every $t$
# (the line printed above the figure gives the largest distance, and how many fall outside ±2 standard errors
# against the 4.6% that $\mathcal{N}(0, 1)$ predicts; a few more or fewer than 4.6% is what chance gives with about a
# hundred estimates): the one-jump formula and $t+1$ small steps are the same distribution (both are
# Gaussian, so equal means and variances settle it). (The test
# suite, `tests/test_forward.py`, repeats this check with 20,000 draws at $t$ = 0, 1, 10, 100 and 299, compares the two sets of estimates with each other, and
# compares `q_sample` with diffusers' `DDPMScheduler.add_noise`.)
#
# ## 5. The pixel histogram turns into $\mathcal{N}(0, 1)$
#
# All 500 packaged images: at $t = 0$ the pixel values pile up at $-1$ (the black background) and spread over the
# garments; as $t$ grows the histogram slides towards the standard normal density (red). The mean and variance of
# $x_t$ over the data follow from those of $x_0$:
# $\mathbb{E}[x_t] = \sqrt{\bar\alpha_t}\,\mathbb{E}[x_0]$, $\mathrm{Var}[x_t] = \bar\alpha_t \mathrm{Var}[x_0] + 1-\bar\alpha_t$.

# %%
x_all, _ = sample_images()
g = torch.Generator().manual_seed(2)
ts_hist = (0, 10, 30, 60, 100, 299)
x_ts = {t: q_sample(schedule, x_all, t, generator=g) for t in ts_hist}
fig = plot_histograms({f"t = {t}": x_ts[t] for t in ts_hist}, ncols=3)
for ax in fig.axes[-3:]:
    ax.set_xlabel("pixel value of $x_t$")
for ax in fig.axes[::3]:
    ax.set_ylabel("density")

# %%
# NBVAL_CHECK_OUTPUT
m0, v0 = x_all.double().mean().item(), x_all.double().var().item()
print(f"x_0: mean {m0:.3f}, variance {v0:.3f}")
for t in ts_hist:
    a = schedule.alphas_cumprod[t].item()
    x = x_ts[t].double()
    mean, predicted = round(x.mean().item(), 2) + 0.0, round(math.sqrt(a) * m0, 2) + 0.0  # + 0.0: no "-0.00"
    print(f"t = {t:3d}: mean {mean:+.2f} (predicted {predicted:+.2f}), "
          f"variance {x.var().item():.2f} (predicted {a * v0 + 1 - a:.2f})")

# %% [markdown]
# By $t = 100$ the histogram is already near $\mathcal{N}(0,1)$ even though a shadow of the images is still visible:
# a histogram of pixels cannot see structure *between* pixels, which is exactly what the model has to learn.
#
# ## 6. Explore
#
# Move the slider over $t$ and switch schedules. The noise $\varepsilon$ is fixed, so only $t$ changes.

# %%
# NBVAL_IGNORE_OUTPUT
forward_explorer(x0, T=300, schedule="report")

# %% [markdown]
# Without a running kernel the explorer above shows only a line of text saying what it shows; here is the same view
# for one image, one row per schedule:

# %%
tables = {name: DiffusionSchedule.from_name(name, 300) for name in ("linear", "report", "cosine")}
ts_static = [0, 25, 50, 100, 150, 200, 250, 299]
rows = [torch.cat([q_sample(sched, x0[:1], t, eps[:1]) for t in ts_static]) for sched in tables.values()]
fig = plot_image_table(rows, row_labels=list(tables), col_labels=[f"t={t}" for t in ts_static],
                       title="One image, one ε, three schedules (T = 300)")

# %% [markdown]
# ## Try it
#
# - Change `ts` in section 3 to `[0, 1, 2, 3, 4, 5, 6, 7]`: how many steps until you notice the noise?
# - In section 4 set `n = 200`: the standard errors grow, and the check still passes; set the tolerance to 1 standard error instead of 5 and see how often it fails.
# - Replace `schedule` by `DiffusionSchedule.from_name("linear", 300)` and re-run section 5: what does the histogram at $t = 299$ look like?
# - In the explorer, pick `linear` and move to $t = 299$: can you still make out the garments?
#
# ## Summary
#
# - $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t)I)$: $x_t$ in one multiply-add, no loop over steps.
# - The closed form and the step-by-step chain give the same means and variances, within Monte-Carlo error.
# - The pixel distribution of $x_t$ moves to $\mathcal{N}(0, 1)$, with mean and variance predicted by $\bar\alpha_t$.
#
# **Next:** [03 · The posterior](03_posterior.ipynb): going one step back, from $x_t$ to $x_{t-1}$, when $x_0$ is known.
