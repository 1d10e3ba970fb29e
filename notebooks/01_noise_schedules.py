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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/01_noise_schedules.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F01_noise_schedules.ipynb)

# %% [markdown]
# # 01 · Noise schedules
#
# A diffusion model destroys an image with a little Gaussian noise at every one of $T$ steps, then learns
# to undo it. How much noise each step adds is the **noise schedule** $\beta_t$. Everything else in the
# forward process follows from it.
#
# This series reproduces, and corrects where needed, **the report**: Cheng Yu (2025), *Understanding Diffusion
# Models via Code Execution*, arXiv:2512.07201, a ~300-line PyTorch implementation of DDPM, DDIM and
# classifier-free guidance trained on MNIST, Fashion-MNIST and CIFAR-10.
#
# **What you will learn**
# - the three schedules used in practice: Ho et al.'s (2020) linear one, the report's linear one (rescaled with the
#   number of steps $T$), and Nichol & Dhariwal's (2021) cosine one;
# - the quantities derived from $\beta_t$: $\alpha_t$, $\bar\alpha_t$, the signal and noise scales
#   $\sqrt{\bar\alpha_t}$ and $\sqrt{1-\bar\alpha_t}$, and the log signal-to-noise ratio;
# - how the number of steps $T$ changes the report's schedule, and what rescaling $\beta$ by $1000/T$ keeps fixed;
# - why $\bar\alpha_{T-1}$ must be close to 0, and what can go wrong at sampling time when it is not.
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ (index $t$ is the
# paper's step $t+1$); images are float tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64. Three
# consequences to keep in mind through the series:
# - $x_0$ is always the clean image, while the noisy image at index $t = 0$ is already one noising step away from it
#   (Ho et al.'s $x_1$); $x_{T-1}$ is the last, almost pure noise. Where a formula at index $t$ needs "the image
#   before step $t$", at $t = 0$ that is the clean image, whose $\bar\alpha$ is $\bar\alpha_{-1} = 1$.
# - The cosine schedule is defined by a function $\bar\alpha(\tau)$ of continuous time $\tau \in [0, T]$ with
#   $\bar\alpha(0) = 1$ at the clean image, so it is one index apart from the product $\bar\alpha_t$ over steps of
#   section 3: $\bar\alpha_t = \bar\alpha(\tau = t + 1)$.
# - One letter, one meaning: $s$ is kept for the guidance scale (notebook 08); the cosine schedule's offset is $c$,
#   and products over steps run over $i$.

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

from helpers import (QUICK, DiffusionSchedule, cosine_beta_schedule, linear_beta_schedule, report_beta_schedule,
                     sample_images)
from helpers.viz import plot_curves, plot_image_table, plot_schedules, show_source
from helpers.viz import schedule_explorer

print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. One step of noise
#
# The forward process is a Markov chain. Step $t$ shrinks the previous image $x_{t-1}$ (the clean image when
# $t = 0$) a little and adds Gaussian noise of variance $\beta_t$ (Ho et al.'s eq. 2):
#
# $$q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\right).$$
#
# The factor $\sqrt{1-\beta_t}$ keeps the variance from growing: if $x_{t-1}$ has unit variance, so does $x_t$.
# A schedule is just the list $\beta_0, \dots, \beta_{T-1}$, each in $(0, 1)$.
#
# ## 2. Three schedules
#
# - **Linear** (Ho et al., 2020): $\beta_t$ evenly spaced from $10^{-4}$ to $0.02$, designed for $T = 1000$.
# - **The report's**: linear from $0.0003\,k$ to $0.03\,k$ with $k = 1000/T$ (the report's `scale`), so
#   $3\times10^{-4} \to 0.03$ at $T = 1000$ (CIFAR-10) and $0.001 \to 0.1$ at $T = 300$ (MNIST, Fashion-MNIST).
#   Its base at $T = 1000$ is not Ho's: $\beta_0$ is 3× Ho's and $\beta_{T-1}$ 1.5×. (Ho's own schedule rescaled the
#   same way, $k \cdot 10^{-4} \to k \cdot 0.02$, is a different one: what Nichol & Dhariwal's code, improved-diffusion
#   and guided-diffusion, calls `"linear"`.)
# - **Cosine** (Nichol & Dhariwal, 2021): defined through $\bar\alpha$ rather than $\beta$, as a function of
#   continuous time $\tau \in [0, T]$,
#   $$\bar\alpha(\tau) = \frac{f(\tau)}{f(0)},\quad f(\tau) = \cos^2\!\left(\frac{\tau/T + c}{1 + c}\cdot\frac{\pi}{2}\right),\quad
#   \beta_t = \min\!\left(1 - \frac{\bar\alpha(t+1)}{\bar\alpha(t)},\ 0.999\right),\quad c = 0.008.$$
#   `cosine_beta_schedule(T, s=0.008)` keeps their name `s` for the argument $c$.

# %%
show_source(linear_beta_schedule, report_beta_schedule, cosine_beta_schedule)

# %%
# NBVAL_CHECK_OUTPUT
schedules = {f"{name} T={T}": DiffusionSchedule.from_name(name, T)
             for T in (300, 1000) for name in ("linear", "report", "cosine")}
for label, sched in schedules.items():
    print(f"{label:16s} beta_0 = {sched.betas[0].item():.3e}   beta_T-1 = {sched.betas[-1].item():.3e}")

# %% [markdown]
# ## 3. What follows from $\beta_t$
#
# Chaining the steps gives the quantities every later notebook uses (the table `DiffusionSchedule` holds):
#
# $$\alpha_t = 1 - \beta_t,\qquad \bar\alpha_t = \prod_{i \le t} \alpha_i,\qquad
# q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\, I\right)\quad\text{(Ho et al.'s eq. 4; notebook 02 derives it)}.$$
#
# So $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$: $\sqrt{\bar\alpha_t}$ is how much of the
# image is left (the signal scale) and $\sqrt{1-\bar\alpha_t}$ how much noise (the noise scale); their squares sum
# to 1. The ratio of their squares, signal variance over noise variance, is the signal-to-noise ratio
# $\mathrm{SNR}_t = \bar\alpha_t/(1-\bar\alpha_t)$ (the ratio of the scales themselves is $\sqrt{\mathrm{SNR}_t}$), best seen on a
# log scale:
#
# $$\log \mathrm{SNR}_t = \log \frac{\bar\alpha_t}{1-\bar\alpha_t}.$$

# %%
show_source(DiffusionSchedule.__init__)

# %% [markdown]
# (`alphas_cumprod_padded` appends a 1 so that index $-1$ reads $\bar\alpha_{-1} = 1$, no noise at all: notebook 07's
# DDIM step uses it for its last step, to the clean image.)

# %% [markdown]
# ### Exercise 1: $\bar\alpha_t$ from $\beta_t$
#
# Write `my_alphas_cumprod(betas)`: for the float64 tensor `betas` $= [\beta_0, \dots, \beta_{T-1}]$, return the float64
# tensor `[T]` of $\bar\alpha_t = \prod_{i \le t}(1 - \beta_i)$, for $t = 0, \dots, T-1$. Mind the index: $\bar\alpha_0$
# already includes the first step, $\bar\alpha_0 = 1 - \beta_0$. The checker compares your function with
# `DiffusionSchedule(betas).alphas_cumprod` on the three schedules and names the usual mistakes (a sum instead of a
# product, the product shifted by one index, $1 - \prod\beta_i$, float32).

# %%
import math

import torch


def my_alphas_cumprod(betas):
    """ᾱ_t = ∏_{i≤t} (1 − β_i) for t = 0 … T−1 (float64 [T])."""
    # BEGIN SOLUTION α_t = 1 − β_t, then the running product over t (torch.cumprod along dim 0)
    alphas = 1 - betas
    return torch.cumprod(alphas, dim=0)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_alphas_cumprod

check_alphas_cumprod(my_alphas_cumprod)

# %% [markdown]
# ### Exercise 2: the log signal-to-noise ratio
#
# Write `my_log_snr(alphas_cumprod)`: from the float64 tensor of $\bar\alpha_t$, return the float64 tensor `[T]` of
# $\log \mathrm{SNR}_t = \log\big(\bar\alpha_t / (1 - \bar\alpha_t)\big)$ (natural log). The checker compares it with
# `DiffusionSchedule.log_snr` and names the usual mistakes (log10, the ratio upside down, the ratio of the scales
# $\sqrt{\bar\alpha_t}/\sqrt{1-\bar\alpha_t}$ instead of the variances).

# %%
import math

import torch


def my_log_snr(alphas_cumprod):
    """log SNR_t = log(ᾱ_t / (1 − ᾱ_t)) (float64 [T])."""
    # BEGIN SOLUTION signal variance ᾱ_t over noise variance 1 − ᾱ_t, natural log (torch.log)
    return torch.log(alphas_cumprod) - torch.log(1 - alphas_cumprod)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_log_snr

check_log_snr(my_log_snr)

# %% [markdown]
# The three schedules at $T = 300$ ($\beta_t$ on a log axis):

# %%
at_300 = {name: schedules[f"{name} T=300"] for name in ("linear", "report", "cosine")}
fig = plot_schedules(at_300, logy=("betas",), title="Three schedules at T = 300")

# %% [markdown]
# The same curves in numbers, $\bar\alpha_t$ and $\log\mathrm{SNR}_t$ at a few $t$ (the $T = 1000$ rows go with the
# next figure):

# %%
# NBVAL_CHECK_OUTPUT
for T, ts in ((300, (50, 100, 150, 200, 250, 290, 299)), (1000, (100, 250, 500, 750, 900, 990, 999))):
    print(f"T = {T:4d}, t = " + "".join(f"{t:>10d}" for t in ts))
    for quantity in ("alphas_cumprod", "log_snr"):
        for name in ("linear", "report", "cosine"):
            values = getattr(schedules[f"{name} T={T}"], quantity)[list(ts)]
            label = f"{'abar' if quantity == 'alphas_cumprod' else 'logSNR'} {name}"
            print(f"  {label:20s}" + "".join(f"{v:#10.3g}" for v in values.tolist()))
lin, cos = schedules["linear T=300"], schedules["cosine T=300"]
print("T = 300, cosine against linear: max |abar difference| for t <= 200 = "
      f"{(cos.alphas_cumprod - lin.alphas_cumprod)[:201].abs().max().item():.3f}, "
      f"max |logSNR difference| for 5 <= t <= 200 = {(cos.log_snr - lin.log_snr)[5:201].abs().max().item():.2f}")

# %% [markdown]
# Why the cosine's $\bar\alpha_t$ plunges at the very end: $f(\tau) = \cos^2(\cdot)$ reaches 0 at $\tau = T$, so
# $\bar\alpha(T) = 0$ and the last $\beta$, $1 - \bar\alpha(T)/\bar\alpha(T-1)$, is exactly 1, a step that erases the image.
# The clip at $0.999$ only stops that; everywhere else the product over steps is the continuous-time curve one index
# on, $\bar\alpha_t = \bar\alpha(\tau = t+1)$:

# %%
# NBVAL_CHECK_OUTPUT
c = 0.008  # the cosine schedule's offset
for T in (300, 1000):
    sched = schedules[f"cosine T={T}"]
    tau = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((tau / T + c) / (1 + c) * math.pi / 2) ** 2
    abar_tau = f / f[0]  # ᾱ(τ) for τ = 0, 1, …, T
    same = bool(((sched.alphas_cumprod[:-1] - abar_tau[1:-1]).abs() < 1e-12).all())
    print(f"T = {T}: abar_t = abar(t+1) for t < T-1: {same};  abar(T) < 1e-30: {abar_tau[-1].item() < 1e-30};  "
          f"unclipped beta_T-1 = {(1 - abar_tau[-1] / abar_tau[-2]).item():.3f}, clipped {sched.betas[-1].item():.3f};  "
          f"abar_T-1 = {sched.alphas_cumprod[-1].item():.2e} = 0.001 * abar(T-1) = {0.001 * abar_tau[-2].item():.2e}")

# %% [markdown]
# Read the plots and the table:
# - the report's $\beta_t$ is 5–10× Ho's at $T = 300$ (it was rescaled for 300 steps; Ho's was made for 1000);
# - the report's $\bar\alpha_t$ falls fastest: $\bar\alpha_{150} = 0.019$, the image is mostly gone by $t \approx 150$;
# - the linear schedule at $T = 300$ **never gets there**: $\bar\alpha_{299} = 0.048$, $\sqrt{\bar\alpha_{299}} \approx 0.22$
#   (table below), so a fifth of the image's scale is left;
# - at $T = 300$ the cosine tracks Ho's linear schedule for two thirds of the way ($\bar\alpha_{100}$ 0.738 against
#   0.707, $\bar\alpha_{200}$ 0.242 against 0.256; at most 0.034 apart up to $t = 200$, log-SNR within 0.16 from
#   $t = 5$ to 200), then parts from it: $\bar\alpha(\tau)$ reaches 0 at
#   $\tau = T$, so $\bar\alpha_t$ drops to 0.063 at $t = 250$, 0.0022 at $t = 290$ and $2.7\times10^{-8}$ at $t = 299$,
#   where the log-SNR plunges to $-17.4$.
#
# Nichol & Dhariwal designed the cosine schedule to destroy information more slowly than Ho's linear one at
# $T = 1000$, and there it does (next figure): its $\bar\alpha_{500} = 0.49$, against 0.078 for Ho's schedule and 0.020
# for the report's. At $T = 1000$ the report's $\beta$ is 1.5–3× Ho's, and both reach $\bar\alpha \approx 0$:

# %%
at_1000 = {name: schedules[f"{name} T=1000"] for name in ("linear", "report", "cosine")}
fig = plot_schedules(at_1000, quantities=("betas", "alphas_cumprod", "log_snr"), logy=("betas",),
                     title="Three schedules at T = 1000")

# %% [markdown]
# The first and last values of each schedule. $\log \mathrm{SNR}$ at the end tells you how much signal is left at
# $t = T-1$: $-3$ means $\bar\alpha/(1-\bar\alpha) \approx e^{-3} \approx 0.05$, $-15$ means $3 \times 10^{-7}$.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'schedule':16s} {'beta_0':>9s} {'beta_T-1':>9s} {'abar_0':>9s} {'abar_T-1':>9s} "
      f"{'sqrt abar_T-1':>13s} {'logSNR_0':>8s} {'logSNR_T-1':>10s}")
for label, sched in schedules.items():
    print(f"{label:16s} {sched.betas[0].item():9.2e} {sched.betas[-1].item():9.2e} "
          f"{sched.alphas_cumprod[0].item():9.6f} {sched.alphas_cumprod[-1].item():9.2e} "
          f"{sched.sqrt_alphas_cumprod[-1].item():13.2e} {sched.log_snr[0].item():8.2f} {sched.log_snr[-1].item():10.2f}")

# %% [markdown]
# ## 4. How $T$ changes the report's schedule
#
# The report multiplies both ends of $\beta$ by $k = 1000/T$. What that keeps fixed is the end point:
#
# $$\log \bar\alpha_{T-1} = \sum_{i=0}^{T-1} \log(1 - \beta_i) \approx -\sum_i \beta_i = -T\cdot\frac{\beta_0 + \beta_{T-1}}{2}
# = -\frac{0.3 + 30}{2} = -15.15,$$
#
# whatever $T$ is. So every $T$ ends near $\bar\alpha_{T-1} \approx e^{-15.15} \approx 2.6\times10^{-7}$: fewer steps,
# each one bigger. Since $\log(1-\beta) < -\beta$, the product always lands below that, the more so the larger the
# $\beta$: $T = 300$ ends at $1.5\times10^{-7}$ and $T = 50$ at $2.7\times10^{-9}$. The rescaling breaks down at
# $T = 30$: $\beta_{T-1} = 30/T$ reaches 1 and the step would erase the image in one go, so `report_beta_schedule`
# refuses $T \le 30$. Ho's endpoints rescaled the same way (improved-diffusion's `"linear"`) keep
# $\sum_i \beta_i = (0.1 + 20)/2 = 10.05$ instead, and end near $e^{-10.05} \approx 4.3\times10^{-5}$ (last column):

# %%
# NBVAL_CHECK_OUTPUT
print(f"limit for large T: exp(-(0.3 + 30)/2) = {math.exp(-(0.3 + 30) / 2):.2e};  "
      f"Ho's rescaled: exp(-(0.1 + 20)/2) = {math.exp(-(0.1 + 20) / 2):.2e}")
for T in (50, 100, 300, 1000, 4000):
    sched = DiffusionSchedule(report_beta_schedule(T))
    ho_rescaled = DiffusionSchedule(linear_beta_schedule(T, 1e-4 * 1000 / T, 0.02 * 1000 / T))
    print(f"T = {T:4d}: beta {sched.betas[0].item():.2e} -> {sched.betas[-1].item():.2e}, "
          f"sum(beta) = {sched.betas.sum().item():6.2f}, abar_T-1 = {sched.alphas_cumprod[-1].item():.2e}   "
          f"| Ho's rescaled: sum(beta) = {ho_rescaled.betas.sum().item():6.2f}, "
          f"abar_T-1 = {ho_rescaled.alphas_cumprod[-1].item():.2e}")
try:
    DiffusionSchedule(report_beta_schedule(20))
except ValueError as err:
    print("T =   20:", err)

# %% [markdown]
# ### Exercise 3: the report's schedule for any $T$
#
# Write `my_report_schedule(T)`: the float64 tensor `[T]` of $\beta_t$ evenly spaced from $3\times10^{-4}\cdot k$ to
# $0.03\cdot k$, both ends included, with $k = 1000/T$. The checker compares it with `report_beta_schedule` for
# $T$ = 300, 50, 1000 and 4000, and names the usual mistakes (no rescaling, Ho's endpoints, $k$ the wrong way
# round, `1000 // T`, float32).

# %%
import math

import torch


def my_report_schedule(T):
    """β_t linear from 3e-4·(1000/T) to 0.03·(1000/T), both ends included (float64 [T])."""
    # BEGIN SOLUTION k = 1000 / T; torch.linspace from 3e-4·k to 0.03·k, T values, dtype=torch.float64
    k = 1000 / T
    return torch.linspace(3e-4 * k, 0.03 * k, T, dtype=torch.float64)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_report_schedule

check_report_schedule(my_report_schedule)

# %% [markdown]
# The report's schedule for four $T$, drawn against $t/T$:

# %%
report_by_T = {f"T = {T}": DiffusionSchedule(report_beta_schedule(T)) for T in (50, 300, 1000, 4000)}
fig = plot_schedules(report_by_T, quantities=("alphas_cumprod", "log_snr"), normalize_t=True,
                     title="The report's schedule for several T, against t/T")

# %% [markdown]
# Against $t/T$ the curves for $T$ = 300, 1000 and 4000 coincide except at the two ends: changing $T$ changes how
# finely the same path is cut, not the path. At the start, index $t$ holds $t + 1$ steps of noise, so at $t/T = 0$ a
# finer cut starts closer to the clean image, with one step of $\beta_0 = 0.3/T$ and
# $\log\mathrm{SNR}_0 \approx \log(T/0.3)$ (6.91 at $T = 300$, 8.11 at $T = 1000$ in the table of section 3). At the end,
# $\log(1-\beta) \approx -\beta$ is further off for the larger $\beta$ of a coarser cut: $T = 300$ ends at a log-SNR
# about 0.5 below $T = 4000$'s. $T = 50$ sits visibly lower, for both reasons: in the $\bar\alpha$ panel
# ($t/T \approx 0.1$–0.4) mostly the one-index shift (one index is 0.02 of the axis at $T = 50$, on a steep part of the
# curve), and in the log-SNR panel from about $t/T = 0.5$ on mostly that approximation: its $\beta$ reach 0.6, where it
# is furthest off (it ends at $\bar\alpha_{T-1} = 2.7\times10^{-9}$ in the table above, about 100 times
# below $T = 4000$'s).
#
# ## 5. Where $\bar\alpha$ reaches 0, and why it matters
#
# Sampling starts from pure noise, $x_{T-1} \sim \mathcal{N}(0, I)$, and runs the learned reverse steps down to $t = 0$.
# During training, though, the model only ever sees
# $x_{T-1} = \sqrt{\bar\alpha_{T-1}}\,x_0 + \sqrt{1-\bar\alpha_{T-1}}\,\varepsilon$. The two agree only if
# $\bar\alpha_{T-1} \approx 0$. If it is not, training inputs at $t = T-1$ still carry a faint copy of the image
# that the sampler's starting noise never has, and the model may learn to rely on signal it will not get (Lin et al.,
# 2024, "Common diffusion noise schedules and sample steps are flawed", make this case for Stable Diffusion's
# schedule, which also ends short of 0).
#
# A way to measure the gap is the KL divergence between $q(x_{T-1} \mid x_0)$ and $\mathcal{N}(0, I)$, summed over pixels
# (this is Ho et al.'s prior term $L_T$):
#
# $$D_{\mathrm{KL}} = \tfrac12 \sum_{\text{pixels}} \left(\bar\alpha_{T-1} x_0^2 + (1-\bar\alpha_{T-1}) - 1 - \log(1-\bar\alpha_{T-1})\right)\ \text{nats}.$$

# %%
# NBVAL_CHECK_OUTPUT
x0, _ = sample_images(1)  # the first packaged image
for label, sched in schedules.items():
    a = sched.alphas_cumprod[-1].item()
    kl = 0.5 * (a * x0.double() ** 2 + (1 - a) - 1 - math.log1p(-a)).sum().item()
    gone = sched.alphas_cumprod < 1e-3
    t_gone = int(gone.nonzero()[0]) if gone.any() else None
    where = f"t = {t_gone:4d} ({t_gone / sched.T:.0%} of T)" if t_gone is not None else "never"
    print(f"{label:16s} abar < 1e-3 from {where:20s} sqrt(abar_T-1) = {sched.sqrt_alphas_cumprod[-1].item():.4f}   "
          f"KL to N(0,I) = {kl:.3g} nats")

# %% [markdown]
# For this image the linear schedule leaves a KL of 14.3 nats at $T = 300$ and 0.0116 nats at $T = 1000$; the report's and
# the cosine schedule leave less than $10^{-4}$ nats at both $T$.
# You can see the leftover signal: below, $x_{T-1}$ for the same images and the same noise under each schedule,
# and (second row of each pair) the average of $x_{T-1}$ over 64 noise draws, which cancels the noise and keeps
# whatever signal is left.

# %%
x0, _ = sample_images(6, seed=0)
g = torch.Generator().manual_seed(0)
noise = torch.randn((64,) + tuple(x0.shape), generator=g)
rows, labels = [], []
for name, sched in at_300.items():
    a = sched.alphas_cumprod[-1].item()
    x_last = math.sqrt(a) * x0 + math.sqrt(1 - a) * noise  # x_{T-1} for 64 noise draws
    rows += [x_last[0], x_last.mean(0)]
    labels += [f"{name}\nx_T-1", f"{name}\nmean of 64"]
fig = plot_image_table([x0] + rows, row_labels=["x_0"] + labels, cell=0.9)

# %% [markdown]
# With the linear schedule at $T = 300$ the average of $x_{T-1}$ is still a recognisable garment; with the report's
# and the cosine schedule it is uniform grey noise (the average of 64 draws keeps noise of standard deviation
# $1/8$) with no trace of the garment. A model trained with the first one would be asked, at sampling time,
# to denoise pure noise at $t = T-1$, where every training input it saw still held a fifth of an image.
#
# ## 6. Explore
#
# The explorer below draws $\bar\alpha_t$ and $\log\mathrm{SNR}_t$ of the three schedules for any $T$ from 50 to 2000;
# first, the same view at four values of $T$ (the legends give $\bar\alpha_{T-1}$, like the explorer's table):

# %%
Ts = (50, 300, 1000, 2000)
fig, axes = plt.subplots(2, len(Ts), figsize=(3.3 * len(Ts), 5.6), sharey="row")
for col, T in enumerate(Ts):
    for name in ("linear", "report", "cosine"):
        sched = DiffusionSchedule.from_name(name, T)
        axes[0, col].plot(sched.alphas_cumprod)
        axes[1, col].plot(sched.log_snr, label=rf"{name}: $\bar\alpha_{{T-1}}$ = {sched.alphas_cumprod[-1].item():.1e}")
    axes[0, col].set_title(f"T = {T}")
    axes[1, col].legend(fontsize=8, loc="lower left")
    axes[1, col].set_xlabel("t")
    for ax in axes[:, col]:
        ax.grid(alpha=0.3)
axes[0, 0].set_ylabel(r"$\bar\alpha_t$")
axes[1, 0].set_ylabel(r"$\log \mathrm{SNR}_t$")
fig.tight_layout()

# %% [markdown]
# Move the slider to change $T$ (the figure redraws when you release it).

# %%
# NBVAL_IGNORE_OUTPUT
schedule_explorer(T=300)

# %% [markdown]
# ## Try it
#
# - Change `(50, 100, 300, 1000, 4000)` in section 4 to include `31`: what is $\beta_{T-1}$, and what does one step do to the image?
# - Build `DiffusionSchedule(linear_beta_schedule(300, beta_end=0.06))`: how large must `beta_end` be for $\bar\alpha_{T-1} < 10^{-4}$?
# - Set the cosine's offset $c$ to 0, `cosine_beta_schedule(300, s=0.0)` (the argument keeps Nichol & Dhariwal's name), and compare with the default $c = 0.008$: look at $\beta_0$ and $\log\mathrm{SNR}_0$.
# - In the explorer, move $T$ from 50 to 2000: the report's $\bar\alpha_{T-1}$ creeps up towards $2.6\times10^{-7}$ while the cosine's falls. Why does the cosine end point depend on $T$ at all? (Hint: $\beta_{T-1}$ is clipped to 0.999 at every $T$; what is $\bar\alpha(\tau = T-1)$?)
#
# ## Summary
#
# - A schedule is the list $\beta_t$; everything else follows: $\alpha_t = 1-\beta_t$, $\bar\alpha_t = \prod_{i\le t}\alpha_i$,
#   and $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$.
# - The report's schedule is linear from $3\times10^{-4}$ to $0.03$ at $T = 1000$ (3× and 1.5× Ho's $10^{-4}$ and $0.02$),
#   rescaled by $1000/T$ for other $T$ ($0.001 \to 0.1$ at $T = 300$). The rescaling keeps $\sum_i \beta_i = 15.15$ for
#   every $T > 30$, so $\bar\alpha_{T-1}$ stays below $e^{-15.15} \approx 2.6\times10^{-7}$ ($1.5\times10^{-7}$ at $T = 300$).
# - The cosine schedule's $\bar\alpha_t$ is the continuous $\bar\alpha(\tau)$ one index on, $\bar\alpha(\tau = t+1)$; it falls
#   to 0 at $\tau = T$, and the clip at 0.999 only keeps the last step from erasing the image. It falls much more slowly
#   than Ho's linear schedule at $T = 1000$, but tracks it up to $t = 200$ at $T = 300$.
# - $\bar\alpha_{T-1}$ must be close to 0, or the model is trained on inputs the sampler never produces:
#   Ho's linear schedule needs $T \approx 1000$ for that.
#
# **Next:** [02 · Forward noising](02_forward_noising.ipynb): sampling $x_t$ from $x_0$ in one step, and checking it against the chain.
