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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/06_ddpm_sampling.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F06_ddpm_sampling.ipynb)

# %% [markdown]
# # 06 · DDPM sampling
#
# A trained noise predictor $\varepsilon_\theta$ (notebook 05) turns into an image generator by running the
# forward process of notebook 02 backwards: start from pure noise $x_{T-1} \sim \mathcal N(0, I)$ and take
# $T = 300$ small denoising steps, each one the posterior of notebook 03 with the network's guess of $x_0$
# in place of the unknown $x_0$. This is the ancestral sampler of Ho et al. (2020), the report's sampler.
#
# **What you will learn**
# - the reverse step $p_\theta(x_{t-1} \mid x_t)$ and the function `ddpm_step` that takes it;
# - what happens along the way: $x_t$ and the network's running guess $\hat x_0$ across all 300 steps;
# - the two classic variance choices ($\tilde\beta_t$ and $\beta_t$) and clipping $\hat x_0$, compared from the
#   same noise, by eye and with a metric;
# - what a DDPM sample costs, and why notebook 07 exists.
#
# [Conventions](../README.md#conventions): timesteps are 0-based ($t = T-1, \dots, 0$; index $t$ is the paper's
# step $t+1$); images are `[B, C, H, W]` in $[-1, 1]$; the step at $t = 0$ adds no noise.

# %%
# Colab only: install helpers from the repository. Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step"],
                   check=True)

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import torch

from helpers import QUICK, ddpm_sample, ddpm_step, quick_or_full
from helpers.data import FASHION_MNIST_CLASSES
from helpers.evaluation import sample_quality
from helpers.metrics import QualityEvaluator, laplacian_energy
from helpers.viz import plot_curves, plot_image_table, show_images, show_source
from helpers.pretrained import load_pretrained
from helpers.viz import plot_trajectory, trajectory_explorer

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The reverse step
#
# The forward process adds noise in small Gaussian steps, so for small $\beta_t$ each reverse step is close to
# Gaussian too. Its exact form is known *given* $x_0$: the posterior $q(x_{t-1} \mid x_t, x_0)$ of notebook 03.
# DDPM does not know $x_0$, so it uses the network's estimate, computed from the predicted noise
# $\hat\varepsilon = \varepsilon_\theta(x_t, t)$:
#
# $$
# \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}}
# \quad(\text{clipped to } [-1, 1]),
# \qquad
# \tilde\mu_t(\hat x_0, x_t) = \frac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t}\,\hat x_0
# + \frac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t}\,x_t ,
# $$
#
# $$
# p_\theta(x_{t-1} \mid x_t) = \mathcal N\big(x_{t-1};\ \tilde\mu_t(\hat x_0, x_t),\ \sigma_t^2 I\big),
# \qquad x_{t-1} = \tilde\mu_t + \sigma_t z,\quad z \sim \mathcal N(0, I),
# $$
#
# with $\sigma_t^2 = \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$ ("fixed small", the report's
# choice) or $\sigma_t^2 = \beta_t$ ("fixed large"), and $\sigma_0 = 0$: the last step returns the mean. Without
# clipping, $\tilde\mu_t$ simplifies to Ho et al.'s
# $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon\big)$; with clipping it
# does not, which is why the code goes through $\hat x_0$.

# %%
show_source(ddpm_step)

# %% [markdown]
# The shipped checkpoint was trained with the report's schedule ($T = 300$, $\beta$ from 0.001 to 0.1). The two
# coefficients of $\tilde\mu_t$ and the two noise scales $\sigma_t$ at a few $t$: near $t = T-1$ the mean is mostly
# $x_t$ and a fresh dose of noise; near $t = 0$ it is mostly $\hat x_0$, and the two variances part ways.

# %%
# NBVAL_CHECK_OUTPUT
model, schedule, meta = load_pretrained("fashion-mnist-cfg", return_metadata=True)
print(schedule)
print(f"{'t':>4} {'coef on x̂0':>11} {'coef on x_t':>12} {'σ (β̃_t)':>9} {'σ (β_t)':>8}")
for t in [299, 200, 100, 30, 10, 1, 0]:
    sigma_post = schedule.posterior_variance[t].sqrt().item() if t > 0 else 0.0
    sigma_beta = schedule.betas[t].sqrt().item() if t > 0 else 0.0
    print(f"{t:>4} {schedule.posterior_mean_coef1[t].item():>11.4f} {schedule.posterior_mean_coef2[t].item():>12.4f} "
          f"{sigma_post:>9.4f} {sigma_beta:>8.4f}")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{meta['epochs']} epochs, {meta['parameters']:,} parameters; "
      f"class-conditional, null label = {model.num_classes}")

# %% [markdown]
# ## 2. A full run, watched
#
# `ddpm_sample` is a loop of `ddpm_step` from $t = T-1$ down to 0, one network call per step. The model is
# class-conditional; here it gets one label per image (0, 1, …, 9, 0, …) and no guidance ($s = 1$, notebook 08).
# With `return_trajectory=True` it also hands back every step's input $x_t$ and its guess $\hat x_0$.

# %%
show_source(ddpm_sample)

# %%
# NBVAL_IGNORE_OUTPUT
B = quick_or_full(2, 16)
gen = torch.Generator().manual_seed(0)
x_T = torch.randn(B, 1, 28, 28, generator=gen)
y = torch.arange(B) % 10
start = time.perf_counter()
x0, traj = ddpm_sample(model, schedule, x_T, y=y, generator=gen, return_trajectory=True)
seconds = time.perf_counter() - start
print(f"{B} images, {schedule.T} steps: {seconds:.1f} s, {seconds / B:.2f} s per image")
print({k: tuple(v.shape) for k, v in traj.items()})

# %% [markdown]
# Three of the images along the way, at ten evenly spaced steps. The row $x_t$ is what the sampler holds; the
# row $\hat x_0$ is what the network believes the final image will be, given $x_t$ (clipped to $[-1, 1]$). In the
# first steps the guess is useless: dividing by $\sqrt{\bar\alpha_t} \approx 0.0004$ blows the smallest error of
# $\hat\varepsilon$ up into black-and-white specks. Once $\bar\alpha_t$ is no longer tiny, the guess becomes a
# blurry average of the class and then sharpens; the coarse layout is fixed long before the last steps.

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_trajectory(traj, index=[0, 1, 2][:B], k=10, title="DDPM: x_t and the network's x̂_0 along the run")

# %%
# NBVAL_IGNORE_OUTPUT
fig = show_images(x0, nrow=8, scale=1.2, title=f"{B} DDPM samples, labels 0, 1, …, 9, 0, … (one class per column)")

# %% [markdown]
# How fast is the picture decided? Two numbers per step: the pixel standard deviation of $x_t$ (it starts at 1,
# pure noise) and the root-mean-square distance between the running guess $\hat x_0$ and the final sample.

# %%
# NBVAL_IGNORE_OUTPUT
rms_to_final = (traj["x0_hat"] - x0).pow(2).mean(dim=(1, 2, 3, 4)).sqrt()
fig = plot_curves(traj["t"], {"pixel std of x_t": traj["x_t"].std(dim=(1, 2, 3, 4)),
                              "RMS(x̂_0 − final x_0)": rms_to_final},
                  title="along the run (time flows to the right)", xlabel="t")
fig.axes[0].invert_xaxis()
for t in [299, 200, 100, 50, 10]:
    i = int((traj["t"] == t).nonzero())
    print(f"t = {t:3d}: pixel std of x_t {traj['x_t'][i].std():.3f}, RMS(x̂_0 − x_0) {rms_to_final[i]:.3f}")

# %% [markdown]
# ## 3. Explore the trajectory
#
# The slider walks through the stored run: no sampling happens while it moves. Below it, the same run as a
# static strip (eight of the images, $x_t$ at eight steps), for readers of the rendered notebook where widgets
# do not show.

# %%
# NBVAL_IGNORE_OUTPUT
trajectory_explorer(traj, nrow=8)

# %%
# NBVAL_IGNORE_OUTPUT
cols = [0, 100, 200, 250, 280, 290, 295, 299]  # recorded steps: t = 299, 199, 99, 49, 19, 9, 4, 0
fig = plot_image_table(traj["x_t"][cols, :8], row_labels=[f"t = {int(traj['t'][c])}" for c in cols],
                       col_labels=[FASHION_MNIST_CLASSES[int(c)] for c in y[:8]], cell=0.9,
                       title="x_t through the run (static view of the slider)")

# %% [markdown]
# ## 4. Variance and clipping
#
# Ho et al. found that $\sigma_t^2 = \beta_t$ and $\sigma_t^2 = \tilde\beta_t$ give similar results; they are the
# two extremes for which the reverse process is optimal (data a point, or data $\mathcal N(0, I)$). They differ
# only where $\bar\alpha_{t-1}$ is not small, i.e. in the last steps, where $\tilde\beta_t \ll \beta_t$:

# %%
# NBVAL_IGNORE_OUTPUT
t = torch.arange(1, schedule.T)
fig = plot_curves(t, {r"$\sigma_t = \sqrt{\beta_t}$ (fixed large)": schedule.betas[1:].sqrt(),
                      r"$\sigma_t = \sqrt{\tilde\beta_t}$ (fixed small)": schedule.posterior_variance[1:].sqrt()},
                  logx=True, title="noise added per step", xlabel="t", ylabel="σ_t")

# %% [markdown]
# Clipping $\hat x_0$ to $[-1, 1]$ keeps the guess inside the data range; early on, when $\hat x_0$ is a poor
# extrapolation from a noisy $x_t$, it can stray far outside.
#
# Three samplers from **the same noise** (same $x_T$, same $z$ at every step, one generator seeded with 0): the
# report's (posterior variance, clipped), the fixed-large variance, and no clipping. Each draws $n$ samples,
# balanced over the classes, scored by FID in the feature space of a small Fashion-MNIST classifier against the
# test set and by the classifier's accuracy on the intended labels (notebook 09 explains both). A FID means
# something only beside the references at the **same n**: real training images (the floor) and the same with
# faint $\mathcal N(0, 0.05^2)$ grain.
#
# DDPM needs 300 network passes per image, so $n$ is small here (48 in full mode: about three minutes on two CPU
# cores), and FID in classifier space at so small an $n$ is dominated by its bias: read it against the references,
# and trust the accuracy more. The same code runs in `python -m benchmarks.sampling_quality --ddpm-variants`:
# with `--n 48` it reproduces these numbers, with `--n 500` it gives them with far less noise.

# %%
# NBVAL_IGNORE_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
n = quick_or_full(4, 48)
settings = {
    "posterior, clip (report)": dict(variance="posterior", clip_x0=True),
    "beta, clip": dict(variance="beta", clip_x0=True),
    "posterior, no clip": dict(variance="posterior", clip_x0=False),
}
rows, samples = {}, {}
for name, kwargs in settings.items():
    rows[name], samples[name] = sample_quality(model, schedule, evaluator, n, sampler="ddpm", seed=0, batch=64,
                                               **kwargs)
references = evaluator.references(n)
print(f"n = {n} samples each{' (quick mode: the scores mean nothing)' if QUICK else ''}")
print(f"{'':>26} {'FID':>7} {'accuracy':>9} {'|x| > 1':>8} {'grain (Δ²)':>11}")
for name, row in rows.items():
    outside = (samples[name].abs() > 1).float().mean().item()
    grain = laplacian_energy(samples[name]).mean().item()
    print(f"{name:>26} {row['fid']:7.2f} {row['accuracy']:9.2f} {outside:8.2%} {grain:11.4f}")
for name, value in references.items():
    print(f"{'reference: ' + name:>26} {value:7.2f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_image_table(torch.stack([s[:10] for s in samples.values()]), row_labels=list(samples),
                       col_labels=[FASHION_MNIST_CLASSES[c] for c in range(min(n, 10))], cell=1.0,
                       title="same x_T, same noise z, three samplers")

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(6.5, 2.8))
bars = ax.barh(list(rows), [r["fid"] for r in rows.values()], color="C0")
ax.bar_label(bars, fmt="%.0f", padding=3, fontsize=8)
for k, (name, value) in enumerate(references.items()):
    ax.axvline(value, ls="--", color=f"C{k + 1}", label=f"reference: {name}")
ax.invert_yaxis()
ax.set_xscale("log")
ax.xaxis.set_major_locator(plt.LogLocator(subs=(1.0, 2.0, 5.0)))  # ticks at 100, 200, 500, 1000, …
ax.xaxis.set_major_formatter(plt.ScalarFormatter())
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set(xlabel=f"FID in classifier space (n = {n}, log scale)", title="DDPM variants")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# What to look for. The fixed-large variance adds more noise in the last steps ($\sqrt{\beta_t}$ against
# $\sqrt{\tilde\beta_t}$ above) with fewer steps left to remove it, so its samples tend to come out grainier: the
# column "grain (Δ²)", the mean squared Laplacian of the pixels, measures that. Without clipping nothing keeps
# $\hat x_0$ in range: an early overshoot feeds into every later step, and pixels can end outside $[-1, 1]$
# (column "|x| > 1"). How much each choice matters depends on the network: a well-trained one corrects more of
# it in later steps than a young one.
#
# ## 5. What a sample costs

# %%
# NBVAL_IGNORE_OUTPUT
for name, row in rows.items():
    print(f"{name:>26}: {row['seconds_per_image']:.2f} s per image "
          f"({1000 * row['seconds_per_image'] / schedule.T:.1f} ms per network pass per image)")

# %% [markdown]
# Every sample costs $T = 300$ sequential network passes; batching spreads them over many images but cannot
# shorten the chain. `python -m benchmarks.sampling_speed` measures it on your machine. Notebook 07 shows how
# DDIM reaches a comparable quality in 20–50 steps.
#
# ## Try it
#
# - Sample the same `x_T` twice with different generator seeds for $z$: how different are the two final images?
#   Which features survive?
# - Write Ho et al.'s mean $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon\big)$
#   in a cell and check that it equals `ddpm_step(schedule, x_t, t, eps, clip_x0=False, noise=torch.zeros_like(x_t))`.
# - Move the slider to the first step where you can name the class of each image. Is it the same $t$ for all?
# - Try `variance="beta", clip_x0=False` (the fourth combination) or a larger $n$.
#
# ## Summary
#
# - A DDPM step is the posterior of notebook 03 with the network's $\hat x_0$ plugged in, plus fresh noise
#   $\sigma_t z$; the last step adds none.
# - The guess $\hat x_0$ settles the coarse image early; the last steps only refine detail.
# - $\tilde\beta_t$ and $\beta_t$ differ only near $t = 0$; clipping $\hat x_0$ keeps early guesses in range.
# - Scores are compared only at equal $n$, beside real-image references computed at that $n$.
# - 300 network passes per sample is the price, and the motivation for DDIM.
#
# Next: [07 · DDIM](07_ddim.ipynb).
