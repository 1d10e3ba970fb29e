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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/01_noise_schedules.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F01_noise_schedules.ipynb)

# %% [markdown]
# # 01 · Noise schedules
#
# A diffusion model destroys an image with a little Gaussian noise at every one of $T$ steps, then learns
# to undo it. How much noise each step adds is the **noise schedule** $\beta_t$. Everything else in the
# forward process follows from it.
#
# **What you will learn**
# - the three schedules used in practice: Ho et al.'s linear one, the report's rescaled linear one, and the cosine one;
# - the quantities derived from $\beta_t$: $\alpha_t$, $\bar\alpha_t$, the signal and noise scales
#   $\sqrt{\bar\alpha_t}$ and $\sqrt{1-\bar\alpha_t}$, and the log signal-to-noise ratio;
# - how the number of steps $T$ changes the report's schedule, and why it rescales $\beta$ with $T$;
# - why $\bar\alpha_{T-1}$ must be close to 0, and what goes wrong at sampling time when it is not.
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ (index $t$ is the
# paper's step $t+1$); images are float tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.

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
# The forward process is a Markov chain. Step $t$ shrinks the previous image a little and adds Gaussian noise
# of variance $\beta_t$:
#
# $$q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\right).$$
#
# The factor $\sqrt{1-\beta_t}$ keeps the variance from growing: if $x_{t-1}$ has unit variance, so does $x_t$.
# A schedule is just the list $\beta_0, \dots, \beta_{T-1}$, each in $(0, 1)$.
#
# ## 2. Three schedules
#
# - **Linear** (Ho et al., 2020): $\beta_t$ evenly spaced from $10^{-4}$ to $0.02$, designed for $T = 1000$.
# - **The report's**: linear from $0.0003 \cdot s$ to $0.03 \cdot s$ with $s = 1000/T$, so at $T=300$
#   (MNIST, Fashion-MNIST) $\beta$ runs from $0.001$ to $0.1$.
# - **Cosine** (Nichol & Dhariwal, 2021): defined through $\bar\alpha$ rather than $\beta$,
#   $$\bar\alpha(t) = \frac{f(t)}{f(0)},\quad f(t) = \cos^2\!\left(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\right),\quad
#   \beta_t = \min\!\left(1 - \frac{\bar\alpha(t+1)}{\bar\alpha(t)},\ 0.999\right),\quad s = 0.008.$$

# %%
show_source(linear_beta_schedule, report_beta_schedule, cosine_beta_schedule)

# %%
# NBVAL_CHECK_OUTPUT
schedules = {f"{name} T={T}": DiffusionSchedule.from_name(name, T)
             for T in (300, 1000) for name in ("linear", "report", "cosine")}
for label, s in schedules.items():
    print(f"{label:16s} beta_0 = {s.betas[0].item():.3e}   beta_T-1 = {s.betas[-1].item():.3e}")

# %% [markdown]
# ## 3. What follows from $\beta_t$
#
# Chaining the steps gives the quantities every later notebook uses (the table `DiffusionSchedule` holds):
#
# $$\alpha_t = 1 - \beta_t,\qquad \bar\alpha_t = \prod_{s \le t} \alpha_s,\qquad
# q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\, I\right).$$
#
# So $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$: $\sqrt{\bar\alpha_t}$ is how much of the
# image is left (the signal scale) and $\sqrt{1-\bar\alpha_t}$ how much noise (the noise scale); their squares sum
# to 1. Their ratio is the signal-to-noise ratio, best seen on a log scale:
#
# $$\log \mathrm{SNR}_t = \log \frac{\bar\alpha_t}{1-\bar\alpha_t}.$$

# %%
show_source(DiffusionSchedule.__init__)

# %%
at_300 = {name: schedules[f"{name} T=300"] for name in ("linear", "report", "cosine")}
fig = plot_schedules(at_300, logy=("betas",), title="Three schedules at T = 300")

# %% [markdown]
# Read the plots left to right, top to bottom:
# - the report's $\beta_t$ is 5–10× Ho's at $T = 300$ (it was rescaled for 300 steps; Ho's was made for 1000);
# - the report's $\bar\alpha_t$ falls fastest: the image is mostly gone by $t \approx 150$;
# - the linear schedule at $T = 300$ **never gets there**: $\sqrt{\bar\alpha_{299}} \approx 0.22$, a fifth of the image is left;
# - cosine's $\bar\alpha_t$ falls slowly and almost linearly in the middle, and its log-SNR is nearly a straight line
#   until the very end, where the $0.999$ clip on $\beta$ sends it to (almost) zero.
#
# At $T = 1000$, the schedule Ho's was designed for, the report's $\beta$ is 1.5–3× Ho's and both reach $\bar\alpha \approx 0$:

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
for label, s in schedules.items():
    print(f"{label:16s} {s.betas[0].item():9.2e} {s.betas[-1].item():9.2e} {s.alphas_cumprod[0].item():9.6f} "
          f"{s.alphas_cumprod[-1].item():9.2e} {s.sqrt_alphas_cumprod[-1].item():13.2e} "
          f"{s.log_snr[0].item():8.2f} {s.log_snr[-1].item():10.2f}")

# %% [markdown]
# ## 4. How $T$ changes the report's schedule
#
# The report scales both ends of $\beta$ by $1000/T$. Why? Because what matters is the end point:
#
# $$\log \bar\alpha_{T-1} = \sum_t \log(1 - \beta_t) \approx -\sum_t \beta_t \approx -T\cdot\frac{\beta_0 + \beta_{T-1}}{2}
# = -\frac{0.3 + 30}{2} = -15.15,$$
#
# whatever $T$ is. So every $T$ ends near $\bar\alpha_{T-1} \approx e^{-15.15} \approx 2.6\times10^{-7}$: fewer steps,
# each one bigger. The approximation $\log(1-\beta) \approx -\beta$ is a little off when $\beta$ is large, which is
# why $T = 300$ lands at $1.5\times10^{-7}$ rather than $2.6\times10^{-7}$. The rescaling breaks down below
# $T = 31$: $\beta_{T-1} = 30/T$ reaches 1 and the step would erase the image in one go.

# %%
# NBVAL_CHECK_OUTPUT
print(f"limit for large T: exp(-(0.3 + 30)/2) = {math.exp(-(0.3 + 30) / 2):.2e}")
for T in (50, 100, 300, 1000, 4000):
    s = DiffusionSchedule(report_beta_schedule(T))
    print(f"T = {T:4d}: beta {s.betas[0].item():.2e} -> {s.betas[-1].item():.2e}, "
          f"sum(beta) = {s.betas.sum().item():6.2f}, abar_T-1 = {s.alphas_cumprod[-1].item():.2e}")
try:
    DiffusionSchedule(report_beta_schedule(20))
except ValueError as err:
    print("T =   20:", err)

# %%
report_by_T = {f"T = {T}": DiffusionSchedule(report_beta_schedule(T)) for T in (50, 300, 1000, 4000)}
fig = plot_schedules(report_by_T, quantities=("alphas_cumprod", "log_snr"), normalize_t=True,
                     title="The report's schedule for several T, against t/T")

# %% [markdown]
# Against $t/T$ the curves nearly coincide: changing $T$ changes how finely the same path is cut, not the path.
#
# ## 5. Where $\bar\alpha$ reaches 0, and why it matters
#
# Sampling starts from pure noise, $x_{T-1} \sim \mathcal{N}(0, I)$, and runs the learned reverse steps down to $t = 0$.
# During training, though, the model only ever sees
# $x_{T-1} = \sqrt{\bar\alpha_{T-1}}\,x_0 + \sqrt{1-\bar\alpha_{T-1}}\,\varepsilon$. The two agree only if
# $\bar\alpha_{T-1} \approx 0$. If it is not, training inputs at $t = T-1$ still carry a faint copy of the image
# that the sampler's starting noise never has: the model has learned to rely on signal it will not get.
#
# A way to measure the gap is the KL divergence between $q(x_{T-1} \mid x_0)$ and $\mathcal{N}(0, I)$, summed over pixels
# (this is Ho et al.'s prior term $L_T$):
#
# $$D_{\mathrm{KL}} = \tfrac12 \sum_{\text{pixels}} \left(\bar\alpha_{T-1} x_0^2 + (1-\bar\alpha_{T-1}) - 1 - \log(1-\bar\alpha_{T-1})\right)\ \text{nats}.$$

# %%
# NBVAL_CHECK_OUTPUT
x0, _ = sample_images(1)  # the first packaged image
for label, s in schedules.items():
    a = s.alphas_cumprod[-1].item()
    kl = 0.5 * (a * x0.double() ** 2 + (1 - a) - 1 - math.log1p(-a)).sum().item()
    t_gone = int((s.alphas_cumprod < 1e-3).nonzero()[0]) if (s.alphas_cumprod < 1e-3).any() else None
    where = f"t = {t_gone:4d} ({t_gone / s.T:.0%} of T)" if t_gone is not None else "never"
    print(f"{label:16s} abar < 1e-3 from {where:20s} sqrt(abar_T-1) = {s.sqrt_alphas_cumprod[-1].item():.4f}   "
          f"KL to N(0,I) = {kl:.3g} nats")

# %% [markdown]
# The linear schedule at $T = 300$ leaves a KL of about 14 nats per image; the others leave $10^{-4}$ nats or less.
# You can see the leftover signal: below, $x_{T-1}$ for the same images and the same noise under each schedule,
# and (second row of each pair) the average of $x_{T-1}$ over 64 noise draws, which cancels the noise and keeps
# whatever signal is left.

# %%
x0, _ = sample_images(6, seed=0)
g = torch.Generator().manual_seed(0)
noise = torch.randn((64,) + tuple(x0.shape), generator=g)
rows, labels = [], []
for name, s in at_300.items():
    a = s.alphas_cumprod[-1].item()
    x_last = math.sqrt(a) * x0 + math.sqrt(1 - a) * noise  # x_{T-1} for 64 noise draws
    rows += [x_last[0], x_last.mean(0)]
    labels += [f"{name}\nx_T-1", f"{name}\nmean of 64"]
fig = plot_image_table([x0] + rows, row_labels=["x_0"] + labels, cell=0.9)

# %% [markdown]
# With the linear schedule at $T = 300$ the average of $x_{T-1}$ is still a recognisable garment; with the report's
# and the cosine schedule it is flat grey. A model trained with the first one would be asked, at sampling time,
# to denoise pure noise it has never seen at $t = T-1$.
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
        s = DiffusionSchedule.from_name(name, T)
        axes[0, col].plot(s.alphas_cumprod)
        axes[1, col].plot(s.log_snr, label=rf"{name}: $\bar\alpha_{{T-1}}$ = {s.alphas_cumprod[-1].item():.1e}")
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
# - Compare `cosine_beta_schedule(300, s=0.0)` with the default `s=0.008`: look at $\beta_0$ and $\log\mathrm{SNR}_0$.
# - In the explorer, move $T$ from 50 to 2000: the report's $\bar\alpha_{T-1}$ creeps up towards $2.6\times10^{-7}$ while the cosine's falls. Why does the cosine end point depend on $T$ at all? (Hint: look at $\beta_{T-1}$.)
#
# ## Summary
#
# - A schedule is the list $\beta_t$; everything else follows: $\alpha_t = 1-\beta_t$, $\bar\alpha_t = \prod_{s\le t}\alpha_s$,
#   and $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$.
# - The report rescales Ho's linear schedule by $1000/T$ so that $\bar\alpha_{T-1}$ stays near $10^{-7}$ for any $T > 30$
#   ($\beta$ from 0.001 to 0.1 at $T=300$).
# - $\bar\alpha_{T-1}$ must be close to 0, or the model is trained on inputs the sampler never produces:
#   Ho's linear schedule needs $T \approx 1000$ for that.
#
# **Next:** [02 · Forward noising](02_forward_noising.ipynb): sampling $x_t$ from $x_0$ in one step, and checking it against the chain.
