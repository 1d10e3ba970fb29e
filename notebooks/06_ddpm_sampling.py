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
# - the reverse step $p_\theta(x_{t-1} \mid x_t)$ and the function `ddpm_step` that takes it (you write it first,
#   and then Ho et al.'s shorter form of its mean);
# - what happens along the way: $x_t$ and the network's running guess $\hat x_0$ across all 300 steps;
# - the two classic variance choices ($\tilde\beta_t$ and $\beta_t$) and clipping $\hat x_0$, compared from the
#   same noise, by eye, with sample-quality scores, and with what a sample of 48 images can and cannot tell;
# - what a DDPM sample costs, and why notebook 07 exists.
#
# [Conventions](../README.md#conventions): timesteps are 0-based ($t = T-1, \dots, 0$; index $t$ is the paper's
# step $t+1$); images are `[B, C, H, W]` in $[-1, 1]$; the step at $t = 0$ adds no noise.

# %%
# Colab only: install helpers (the package alone, about 18 MB). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ https://github.com/diffusion-step-by-step/diffusion-step-by-step/archive/refs/heads/main.zip"],
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
from helpers.pretrained import load_pretrained
from helpers.summary import accuracy_se, reference_images, references
from helpers.viz import plot_curves, plot_image_table, plot_trajectory, show_source, trajectory_explorer

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
# with $\alpha_t = 1 - \beta_t$, $\bar\alpha_{-1} = 1$, and $\sigma_t^2 = \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$
# ("fixed small", the report's choice) or $\sigma_t^2 = \beta_t$ ("fixed large"), and $\sigma_0 = 0$: the last step
# returns the mean. (With $\tilde\beta_t$ this needs no special case: $\bar\alpha_{-1} = 1$ makes $\tilde\beta_0 = 0$.)
#
# ### Exercise 1: one DDPM step
#
# Write `my_ddpm_step(schedule, x_t, t, eps, noise)`: for images `x_t` `[B, C, H, W]`, a LongTensor `t` `[B]`, the
# predicted noise `eps` ($\hat\varepsilon$) and `noise` ($z$), return $x_{t-1} = \tilde\mu_t(\hat x_0, x_t) + \sigma_t z$
# with $\hat x_0$ clipped to $[-1, 1]$ and $\sigma_t^2 = \tilde\beta_t$ (zero at $t = 0$). The tables are float64
# tensors `[T]`: `schedule.betas`, `schedule.alphas_cumprod` ($\bar\alpha_t$), `schedule.alphas_cumprod_prev`
# ($\bar\alpha_{t-1}$, with $\bar\alpha_{-1} = 1$); `schedule.gather(table, t, x_t)` picks `table[t]` as `[B, 1, 1, 1]`
# in `x_t`'s dtype. The checker compares your step with `helpers.ddpm_step` at $t$ from 0 to $T-1$ and names the
# usual mistakes ($\beta_t$ for $\tilde\beta_t$, no clipping, noise at $t = 0$, the variance where the standard
# deviation belongs).

# %%
import torch


def my_ddpm_step(schedule, x_t, t, eps, noise):
    """x_{t−1} = μ̃_t(x̂_0, x_t) + σ_t z, with x̂_0 clipped to [−1, 1] and σ_t² = β̃_t (0 at t = 0)."""
    # BEGIN SOLUTION x̂_0 from x_t and ε̂, clamped; μ̃_t = coef·x̂_0 + coef·x_t; add √β̃_t z (β̃_0 = 0)
    abar = schedule.gather(schedule.alphas_cumprod, t, x_t)              # ᾱ_t
    abar_prev = schedule.gather(schedule.alphas_cumprod_prev, t, x_t)    # ᾱ_{t−1}
    beta = schedule.gather(schedule.betas, t, x_t)                       # β_t
    x0_hat = ((x_t - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
    mean = (beta * abar_prev.sqrt() * x0_hat + (1 - abar_prev) * (1 - beta).sqrt() * x_t) / (1 - abar)
    variance = (1 - abar_prev) / (1 - abar) * beta                       # β̃_t, exactly 0 at t = 0
    return mean + variance.sqrt() * noise
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_ddpm_step

check_ddpm_step(my_ddpm_step)

# %% [markdown]
# The helper the samplers call, which the checker compared yours with (it also offers $\sigma_t^2 = \beta_t$ and
# switching the clipping off, for section 4):

# %%
show_source(ddpm_step)

# %% [markdown]
# ### Exercise 2: Ho et al.'s form of the mean
#
# Without clipping, put $\hat x_0$ into $\tilde\mu_t$ and the two terms in $x_t$ collect into Ho et al.'s eq. 11,
# which never forms $\hat x_0$:
#
# $$
# \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\hat\varepsilon\Big).
# $$
#
# Write `my_ddpm_mean(schedule, x_t, t, eps)` returning $\mu_\theta(x_t, t)$. The checker compares it with
# `helpers.ddpm_step(schedule, x_t, t, eps, clip_x0=False, noise=0)`, which goes through the unclipped
# $\hat x_0$: the two routes must agree at every $t$, $t = 0$ included (where $\mu_\theta$ is $\hat x_0$ itself).

# %%
import torch


def my_ddpm_mean(schedule, x_t, t, eps):
    """Ho et al.'s μ_θ(x_t, t) = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t, with α_t = 1 − β_t."""
    # BEGIN SOLUTION μ_θ = (x_t − β_t/√(1 − ᾱ_t) · ε̂)/√α_t, with α_t = 1 − β_t
    beta = schedule.gather(schedule.betas, t, x_t)
    abar = schedule.gather(schedule.alphas_cumprod, t, x_t)
    return (x_t - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_ddpm_mean

check_ddpm_mean(my_ddpm_mean)

# %% [markdown]
# The form has no $\hat x_0$ in it to clip. With clipping, $\tilde\mu_t$ has to be computed from the clipped
# $\hat x_0$, and the two forms part wherever the clip bites: that is why `ddpm_step` goes through $\hat x_0$.
#
# The shipped checkpoint was trained with the report's schedule ($T = 300$, $\beta$ from 0.001 to 0.1). The two
# coefficients of $\tilde\mu_t$, the two noise scales $\sigma_t$ and their ratio at a few $t$:

# %%
# NBVAL_CHECK_OUTPUT
model, schedule, meta = load_pretrained("fashion-mnist-cfg", return_metadata=True)
print(schedule)
print(f"{'t':>4} {'ᾱ_{t−1}':>8} {'coef on x̂0':>11} {'coef on x_t':>12} {'σ (β̃_t)':>9} {'σ (β_t)':>8} {'β̃_t/β_t':>9}")
for t in [299, 200, 100, 50, 30, 10, 3, 1, 0]:
    sigma_post = schedule.posterior_variance[t].sqrt().item()
    sigma_beta = schedule.betas[t].sqrt().item() if t > 0 else 0.0  # σ_0 = 0 for both: the last step adds no noise
    ratio = (schedule.posterior_variance[t] / schedule.betas[t]).item()
    print(f"{t:>4} {schedule.alphas_cumprod_prev[t].item():>8.4f} {schedule.posterior_mean_coef1[t].item():>11.4f} "
          f"{schedule.posterior_mean_coef2[t].item():>12.4f} {sigma_post:>9.4f} {sigma_beta:>8.4f} {ratio:>9.3f}")

# %% [markdown]
# Near $t = T-1$ the mean is almost all $x_t$ (its coefficient is $\sqrt{\alpha_t}$ there, because
# $\bar\alpha_{t-1} \approx 0$) plus a fresh dose of noise; the weight on $\hat x_0$ stays below 0.04 until $t = 50$, is
# 0.15 at $t = 10$ and 0.57 at $t = 1$, and the step at $t = 0$ returns $\hat x_0$ itself. The two noise scales
# agree to better than 1% in variance above $t = 100$ and part only in the last steps (section 4).

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{meta['epochs']} epochs, {meta['parameters']:,} parameters; "
      f"class-conditional, null label = {model.num_classes}")

# %% [markdown]
# ## 2. A full run, watched
#
# `ddpm_sample` calls `ddpm_step` once for each $t$ from $T-1$ down to 0, one network call per step (the loop
# itself, shared with the other samplers, also records the trajectory). It starts from
# `x_T`, which in this series means the starting noise $x_{T-1} \sim \mathcal N(0, I)$ (the README's conventions:
# $t$ counts from 0). The model is class-conditional; here it gets one label per image (0, 1, …, 9, 0, …) and no guidance ($s = 1$, notebook 08).
# With `return_trajectory=True` it also hands back every step's input $x_t$ and its guess $\hat x_0$.

# %%
show_source(ddpm_sample)

# %%
# NBVAL_IGNORE_OUTPUT
B = quick_or_full(2, 20)
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
# $\hat\varepsilon$ up into black-and-white specks. A blurry average of the class appears while $\bar\alpha_t$ is
# still small (about $10^{-4}$ to $10^{-3}$ around $t = 230$–200; the table above prints $\bar\alpha_{t-1} = 0.0010$ in
# its $t = 200$ row). We think the label, not the image, supplies it: with almost no signal in $x_t$, the best guess
# given the label is the class's average image, and it shows once the division by $\sqrt{\bar\alpha_t}$ no longer
# swamps it ($\hat\varepsilon$'s error is multiplied by $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$: about 2,500 at $t = 299$,
# 100 at $t = 230$ and 32 at $t = 200$). The particular image's shape comes later; the guess then sharpens, and the
# coarse layout is fixed long before the last steps.

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_trajectory(traj, index=[0, 1, 2][:B], k=10, title="DDPM: x_t and the network's x̂_0 along the run")

# %% [markdown]
# All the final samples, one class per column, above real training images of the same classes:

# %%
# NBVAL_IGNORE_OUTPUT
real = reference_images("fashion-mnist", 10, labels=torch.arange(10))["floor"]
rows = [x0[i:i + 10] for i in range(0, B, 10)] + [real]
fig = plot_image_table(rows, row_labels=[f"DDPM, row {i + 1}" for i in range(len(rows) - 1)] + ["real (training)"],
                       col_labels=FASHION_MNIST_CLASSES, cell=0.95,
                       title=f"{B} DDPM samples (labels 0–9 along each row) and real images")

# %% [markdown]
# Every sample is recognisably the class asked for, centred on a black background like the real images, with no
# leftover noise to the eye. Beside the real ones they are plainer: none has the print of the real pullover or the
# texture of the real coat. Section 4 measures pixel-scale detail per image, but does not test whether the samples
# have less of it than real images (an unpaired comparison of 48 images with 48, without an error bar). Twenty images show what the sampler typically makes, not how often it fails; the scores in
# section 4 look at more.
#
# How fast is the picture decided? Two numbers per step: the pixel standard deviation of $x_t$ (it starts at 1,
# pure noise) and the root-mean-square distance between the running guess $\hat x_0$ and the final sample.

# %%
# NBVAL_IGNORE_OUTPUT
rms_to_final = (traj["x0_hat"] - x0).pow(2).mean(dim=(1, 2, 3, 4)).sqrt()
fig = plot_curves(traj["t"], {"pixel std of x_t": traj["x_t"].std(dim=(1, 2, 3, 4)),
                              "RMS(x̂_0 − final x_0)": rms_to_final},
                  title="along the run (time flows to the right)", xlabel="t (step index)",
                  ylabel="pixel units (images in [−1, 1])")
fig.axes[0].invert_xaxis()
for t in [299, 200, 100, 50, 10]:
    i = int((traj["t"] == t).nonzero())
    print(f"t = {t:3d}: pixel std of x_t {traj['x_t'][i].std():.3f}, RMS(x̂_0 − x_0) {rms_to_final[i]:.3f}")

# %% [markdown]
# The guess settles long before $x_t$ looks like anything: at $t = 100$, where $x_t$ still has a pixel standard
# deviation of 0.964 and looks mostly like noise in the figures, $\hat x_0$ is within 0.251 (RMS, on the $[-1, 1]$
# pixel scale) of the final image; at $t = 50$ within 0.144, and the last ten steps move it by 0.053. The pixel standard
# deviation of $x_t$ falls mostly in the last hundred steps (0.964 at $t = 100$, 0.714 at $t = 10$).
#
# ## 3. Explore the trajectory
#
# The slider walks through the stored run: no sampling happens while it moves; left $x_t$, right $\hat x_0$.
# Below it, the same run as a static figure for readers of the rendered notebook, where widgets do not show:
# five of the images, $x_t$ and $\hat x_0$ side by side, at eight steps.

# %%
# NBVAL_IGNORE_OUTPUT
trajectory_explorer(traj, nrow=10, max_images=20)

# %%
# NBVAL_IGNORE_OUTPUT
cols = [0, 100, 200, 250, 280, 290, 295, 299]  # recorded steps: t = 299, 199, 99, 49, 19, 9, 4, 0
shown = list(range(min(B, 5)))
table = [torch.stack([traj[key][c, i] for i in shown for key in ("x_t", "x0_hat")]) for c in cols]
fig = plot_image_table(table, row_labels=[f"t = {int(traj['t'][c])}" for c in cols],
                       col_labels=[f"{FASHION_MNIST_CLASSES[int(y[i])]}\n{part}" for i in shown
                                   for part in ("x_t", "x̂_0")], cell=0.85,
                       title="x_t and x̂_0 through the run (static view of the slider)")

# %% [markdown]
# ## 4. Variance and clipping
#
# Ho et al. (2020, §3.2) found that $\sigma_t^2 = \beta_t$ and $\sigma_t^2 = \tilde\beta_t$ give similar results.
# $\sigma_t^2 = \beta_t$ is optimal when the data are $x_0 \sim \mathcal N(0, I)$; $\sigma_t^2 = \tilde\beta_t$ is optimal
# when $x_0$ is deterministically one point. They are the two extremes: the upper and lower bounds on the reverse
# process entropy for data with coordinatewise unit variance. Their ratio is
# $\tilde\beta_t/\beta_t = (1-\bar\alpha_{t-1})/(1-\bar\alpha_t)$, which is close to 1 unless $\bar\alpha_{t-1}$ is close to
# 1, i.e. in the last steps. The table in section 1 prints it: 0.993 at $t = 100$, 0.946 at $t = 30$, 0.854 at
# $t = 10$, 0.429 at $t = 1$ (and 0 at $t = 0$, where neither adds noise).

# %%
# NBVAL_IGNORE_OUTPUT
t = torch.arange(1, schedule.T)
fig = plot_curves(t, {r"$\sigma_t = \sqrt{\beta_t}$ (fixed large)": schedule.betas[1:].sqrt(),
                      r"$\sigma_t = \sqrt{\tilde\beta_t}$ (fixed small)": schedule.posterior_variance[1:].sqrt()},
                  logx=True, title="noise added per step", xlabel="t (step index, log scale)",
                  ylabel="σ_t (pixel units)")

# %% [markdown]
# Clipping $\hat x_0$ to $[-1, 1]$ keeps the guess inside the data range; early on, when $\hat x_0$ is a poor
# extrapolation from a noisy $x_t$, it can stray far outside. Without clipping the step is exactly Ho et al.'s
# equation 11 and Algorithm 2 (Exercise 2), which have no clip; their released sampler clips $\hat x_0$ by default
# and takes $\tilde\mu_t$ from the clipped value, as `ddpm_step` does with `clip_x0=True`.
#
# Three samplers from **the same noise** (the same $x_T$ and the same $z$ at every step, one generator seeded with
# 0): the
# report's (posterior variance, clipped), the fixed-large variance, and no clipping. Each draws $n$ samples,
# balanced over the classes, scored in the feature space of a small Fashion-MNIST classifier against its test set
# (notebook 09 explains both scores), and by the classifier's accuracy on the intended labels:
#
# - **FID** (Fréchet distance between Gaussians fitted to the features) is *biased*: two samples of the same
#   distribution score above 0, by an amount that falls like $1/n$. At small $n$ most of the number is that bias,
#   so a FID means something only beside references at the **same $n$**: $n$ real training images (the floor)
#   and the same with faint $\mathcal N(0, 0.05^2)$ grain, here drawn with the samples' class balance
#   (`helpers.summary.references`).
# - **KID** (Bińkowski et al., 2018) is unbiased (0 on average for two independent samples of one distribution, at
#   any $n$) and comes with a standard error. That s.e. counts only the random test-set subsets KID averages over: with
#   $n$ below the subset size every subset holds all $n$ samples, so the draw of the $n$ samples themselves, a
#   larger source of noise, is not in it. The spread of the floor over several draws of real images measures that.
# - **accuracy** ± its binomial standard error $\sqrt{p(1-p)/n}$.
#
# DDPM needs 300 network passes per image, so $n$ is small here (48 in full mode; section 5 prints what each image
# cost). First the ruler: how large is FID's bias at this $n$, and how far does a score move between two draws of
# real images?

# %%
# NBVAL_IGNORE_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
n = quick_or_full(4, 48)
labels = torch.arange(n) % 10  # the samples' labels (generate's), so the references hold the same classes
draws = [references(evaluator, n, seed=k, labels=labels) for k in range(quick_or_full(3, 10))]
ref_fid, ref_kid = draws[0]  # seed 0: the references printed beside the samples below
spread = {"FID": {ref: torch.tensor([f[ref] for f, _ in draws]) for ref in ("floor", "grain")},
          "KID": {ref: torch.tensor([k[ref][0] for _, k in draws]) for ref in ("floor", "grain")}}
kid_se = torch.tensor([k["floor"][1] for _, k in draws]).mean()
print(f"{len(draws)} draws of n = {n} real training images (seeds 0–{len(draws) - 1}): mean ± sd over the draws")
for ref in ("floor", "grain"):
    print(f"  {ref}: FID {spread['FID'][ref].mean():6.1f} ± {spread['FID'][ref].std():4.1f},   "
          f"KID {spread['KID'][ref].mean():6.1f} ± {spread['KID'][ref].std():4.1f}")
print(f"  (KID's own s.e. of the floor, mean over the draws: {kid_se:.1f})")
print(f"\n{'n':>5} {'floor FID':>10} {'n × FID':>8} {'floor KID ± s.e.':>18}   (one draw each)")
for m in quick_or_full((4, 16), (n, 4 * n, 16 * n)):
    f, k = references(evaluator, m, labels=torch.arange(m) % 10)
    print(f"{m:>5} {f['floor']:>10.1f} {m * f['floor']:>8.0f} {k['floor'][0]:>10.1f} ± {k['floor'][1]:.1f}")

# %% [markdown]
# What the ruler says, at $n = 48$:
#
# - **FID is mostly bias here.** The floor's FID (class-balanced real training images against the test set) falls
#   from 153.3 at $n = 48$ to 30.3 at $n = 192$ and 9.3 at $n = 768$: $n \times$ FID stays between about 5,800 and
#   7,400, so it falls like $1/n$ (notebook 09 works out the constant). At $n = 48$ nearly all of the 153 is the
#   bias of the estimate, not a difference between training and test images. KID of the same images, one draw
#   at each $n$, prints $-11.9 \pm 7.3$, $-5.4 \pm 1.8$ and $-0.4 \pm 0.6$; but this seed-0 draw happens to sit
#   near 0: over ten draws at $n = 48$ the class-balanced floor's KID averages $-50.4$ (next bullet).
# - **A second draw moves the scores a lot.** Over ten draws of 48 real images, the floor's FID moves by ±21.7 and
#   its KID by ±35.1 (standard deviations), about five times KID's own s.e. of 7.3: that s.e. leaves out which 48
#   images were drawn, so read differences against the spread, not against it. Even clean and grainy real images
#   (floor and grain) are only about two standard deviations apart in KID (−50.4 and 18.1 on average), and their FID
#   ranges overlap. (The class-balanced floor's KID averages below 0, by about 4.5 standard errors of the ten-draw
#   mean. The estimate is unbiased for independent draws; we think a draw balanced by class, which has fewer
#   same-class pairs than an independent draw, lowers the within-sample kernel term that KID adds. That is not
#   measured here, and notebook 09 offers it the same way. The samples are class-balanced the same way.)
#
# We take the real images' spread as the yardstick for the samples' own; measuring that directly would take ten
# times as many DDPM samples per setting. It is a yardstick for independent draws: the three samplers below share
# their $x_T$ and their noise $z$, so the differences between them are probably less noisy than that, by an amount
# not measured here. Now the three samplers, each from the same seed:

# %%
# NBVAL_IGNORE_OUTPUT
settings = {
    "posterior, clip (report)": dict(variance="posterior", clip_x0=True),
    "beta, clip": dict(variance="beta", clip_x0=True),
    "posterior, no clip": dict(variance="posterior", clip_x0=False),
}
rows, samples = {}, {}
for name, kwargs in settings.items():
    rows[name], samples[name] = sample_quality(model, schedule, evaluator, n, sampler="ddpm", seed=0, batch=64,
                                               **kwargs)
    rows[name]["kid"] = evaluator.kid(samples[name], generator=torch.Generator().manual_seed(0))
    rows[name]["accuracy_se"] = accuracy_se(rows[name]["accuracy"], n)
print(f"n = {n} samples each{' (quick mode: the scores mean nothing)' if QUICK else ''}")
print(f"{'':>26} {'FID':>7} {'KID ± s.e.':>14} {'accuracy ± s.e.':>16}")
for name, row in rows.items():
    print(f"{name:>26} {row['fid']:7.1f} {row['kid'][0]:7.1f} ± {row['kid'][1]:4.1f} "
          f"{row['accuracy']:9.3f} ± {row['accuracy_se']:.3f}")
for name in ("floor", "grain"):
    print(f"{'reference: ' + name:>26} {ref_fid[name]:7.1f} {ref_kid[name][0]:7.1f} ± {ref_kid[name][1]:4.1f}")
print(f"{'real floor, sd over draws':>26} {spread['FID']['floor'].std():7.1f} {spread['KID']['floor'].std():7.1f}")
print(f"classifier's accuracy on the real test set: {evaluator.classifier.metadata['test_accuracy']:.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), sharey=True)
names, ypos = list(rows), list(range(len(rows)))
for ax, metric in zip(axes, ("FID", "KID")):
    for k, ref in enumerate(("floor", "grain")):
        v = spread[metric][ref]
        ax.axvspan(v.mean() - v.std(), v.mean() + v.std(), color=f"C{k + 1}", alpha=0.25,
                   label=f"real {ref}: mean ± sd over {len(draws)} draws")
        ax.axvline(v[0], color=f"C{k + 1}", ls="--", lw=1, label=f"real {ref}: seed 0 (the table's reference)")
    values = [rows[m][metric.lower()] for m in names] if metric == "FID" else [rows[m]["kid"][0] for m in names]
    errors = None if metric == "FID" else [rows[m]["kid"][1] for m in names]
    ax.errorbar(values, ypos, xerr=errors, fmt="o", color="C0", capsize=3,
                label="samples (FID: no s.e.; KID: ± its own s.e.)")
    ax.set_xlabel(f"{metric} in classifier space (n = {n})")
axes[1].axvline(0, color="0.5", lw=0.8)
axes[2].errorbar([rows[m]["accuracy"] for m in names], ypos, xerr=[rows[m]["accuracy_se"] for m in names], fmt="s",
                 color="C0", capsize=3)
axes[2].axvline(evaluator.classifier.metadata["test_accuracy"], ls=":", color="0.3",
                label="classifier on the real test set")
axes[2].set(xlabel=f"class accuracy ± binomial s.e. (n = {n})", xlim=(0.5, 1.0))
axes[0].set(yticks=ypos, yticklabels=names, ylim=(len(names) - 0.5, -0.5))
handles, labels_ = axes[1].get_legend_handles_labels()
more = axes[2].get_legend_handles_labels()
fig.legend(handles + more[0], labels_ + more[1], loc="lower center", ncol=4, fontsize=8)
fig.suptitle("DDPM variants from the same noise, beside real images at the same n")
fig.tight_layout(rect=(0, 0.1, 1, 1))

# %% [markdown]
# **At $n = 48$ these scores do not show the three samplers apart.** Their FIDs (160.9, 144.9, 159.4) and KIDs
# ($-14.5$, $-10.7$, $-18.6$) differ by less than one draw-to-draw standard deviation of the real floor (21.7 and
# 35.1). That yardstick is for independent draws and these share their noise, so a real difference of that size
# is not ruled out either: the scores neither separate the samplers nor show them equal. In the figure the FIDs lie
# within about one standard deviation of the floor's ten-draw mean (137.6 ± 21.7; the report's 160.9 and the
# no-clip 159.4 at or just past its upper edge, 159.3), and the KIDs at the low end of the grain's band, where it
# overlaps the floor's (−18.6 inside both; −14.5 and −10.7 just above the floor's band). The fixed-large sampler's FID of 144.9 is
# below this seed's floor of 153.3 and above the floor's mean: noise on top of a bias that both share, not samples
# better than real images. The accuracies (0.938, 0.917, 0.938, ± 0.035–0.040) differ
# by one image in 48 and match the classifier's accuracy on the real test set, 0.918. Whether these samplers differ
# in these scores at all needs a larger $n$: `python -m benchmarks.sampling_quality --ddpm-variants --steps --scales
# --n 48` draws the same samples and prints the same FIDs and accuracies (`--steps` and `--scales` with no values
# skip its DDIM and guidance sweeps), and with a larger `--n` it measures them with less noise. Its references are
# drawn as here, class-balanced from seed 0, so at `--n 48` they are this notebook's seed-0 references.
#
# The samples themselves, from the same $x_T$ and the same $z$ (one column per class):

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_image_table(torch.stack([s[:10] for s in samples.values()]), row_labels=list(samples),
                       col_labels=[FASHION_MNIST_CLASSES[c] for c in range(min(n, 10))], cell=1.0,
                       title="same x_T, same noise z, three samplers")

# %% [markdown]
# What differs, measured per image. Because all three samplers start from the same noise, image $i$ of one can be
# compared with image $i$ of another, which removes most of the sampling noise: the cell prints each measure's
# mean over the $n$ images and its difference from the report's sampler, ± the standard error of that paired
# difference. The **Laplacian energy** $E$ is the mean over interior pixels of $(\Delta x)^2$, the squared discrete
# Laplacian $\Delta x = x_\uparrow + x_\downarrow + x_\leftarrow + x_\rightarrow - 4x$ (`laplacian_energy`, notebook
# 07 uses it too): it measures pixel-scale texture. White noise of standard deviation $\sigma$ adds $20\sigma^2$ to
# it, so a difference $d$ is what noise of $\sigma = \sqrt{d/20}$ would add. Real images (the floor) are measured
# the same way.

# %%
# NBVAL_IGNORE_OUTPUT
images = {**samples, "real (floor)": reference_images("fashion-mnist", n, labels=labels)["floor"]}
report = samples["posterior, clip (report)"]
base = laplacian_energy(report)
print(f"{'':>26} {'energy E':>9} {'E − report ± s.e.':>19} {'as noise σ':>10} {'RMS to report':>13} "
      f"{'|x| > 1':>8} {'|x| > 1.05':>10}")
for name, x in images.items():
    g = laplacian_energy(x)
    line = f"{name:>26} {g.mean():9.4f}"
    if name in samples and name != "posterior, clip (report)":
        d = g - base  # image i against image i: same x_T, same z
        line += (f" {d.mean():+10.4f} ± {d.std() / n ** 0.5:.4f} {d.mean().clamp(min=0).div(20).sqrt():10.3f}"
                 f" {(x - report).pow(2).mean().sqrt():13.4f}")
    else:
        line += " " * 44
    print(line + f" {(x.abs() > 1).float().mean():8.2%} {(x.abs() > 1.05).float().mean():10.2%}")
x = samples["posterior, no clip"]
print(f"without clipping: largest |x| {x.abs().max():.3f}; pixels below −1 {(x < -1).float().mean():.2%}, above 1 "
      f"{(x > 1).float().mean():.2%}; mean overshoot of those outside {(x.abs() - 1)[x.abs() > 1].mean():.4f}")

# %% [markdown]
# What the differences are:
#
# - **Fixed large ($\sigma_t^2 = \beta_t$) leaves grain.** Its samples are speckled where the report's are smooth
#   (the T-shirt, dress, coat, shirt and bag in the figure); image for image, their energy $E$ is higher by
#   $0.0531 \pm 0.0050$, as much as white noise of $\sigma \approx 0.05$ would add, and they are 0.031 RMS from the
#   report's images. Real images have pixel-scale energy of the same order (0.688 for this draw of 48, against the
#   report's 0.623: an unpaired comparison of 48 images with 48, without an error bar, which we do not read as a
#   difference), so a higher $E$ is not by itself worse; the figure shows it as speckle, not as texture. We think the cause is
#   the last steps: there $\sqrt{\beta_t}$ adds up to 1.5 times the noise of $\sqrt{\tilde\beta_t}$ (0.0365 against
#   0.0239 at $t = 1$), more than the posterior says is left to remove, while the network, told $t$, removes the
#   amount it expects at $t$, and the step at $t = 0$ returns $\hat x_0$ without correcting the excess.
# - **Without clipping, the background ends just below $-1$.** 29.55% of the pixels end outside $[-1, 1]$, nearly
#   all of them below $-1$ (29.42%), by 0.0052 on average; only 0.03% are beyond 1.05, and the largest $|x|$ is
#   1.198. The data's background is exactly $-1$, the edge of the range, so an estimate that is not clipped
#   scatters to both sides of it; with clipping no pixel leaves $[-1, 1]$. Otherwise the two samplers' images
#   are nearly the same: 0.0069 RMS apart, $E$ higher by $0.0028 \pm 0.0005$. For this network clipping changes almost nothing
#   in the final image; we have not measured how much it matters for other checkpoints.
#
# ## 5. What a sample costs

# %%
# NBVAL_IGNORE_OUTPUT
for name, row in rows.items():
    print(f"{name:>26}: {row['seconds_per_image']:.2f} s per image "
          f"({1000 * row['seconds_per_image'] / schedule.T:.1f} ms per network pass per image)")

# %% [markdown]
# Every sample costs $T = 300$ sequential network passes; batching spreads them over many images but cannot
# shorten the chain. `python -m benchmarks.sampling_speed` measures it on your machine. Notebook 07 shows DDIM,
# which samples in 20–50 steps, and measures what that does to the samples.
#
# ## Try it
#
# - Sample the same `x_T` twice with different generator seeds for $z$: how different are the two final images?
#   Which features survive?
# - Change `my_ddpm_step` to the fixed-large variance ($\sigma_t^2 = \beta_t$, still 0 at $t = 0$) and compare it with
#   `ddpm_step(schedule, x_t, t, eps, noise=z, variance="beta")`.
# - Move the slider to the first step where you can name the class of each image. Is it the same $t$ for all?
# - Try `variance="beta", clip_x0=False` (the fourth combination), or raise $n$ and see which differences survive.
#
# ## Summary
#
# - A DDPM step is the posterior of notebook 03 with the network's $\hat x_0$ plugged in, plus fresh noise
#   $\sigma_t z$; the last step adds none. Without clipping its mean is Ho et al.'s
#   $\frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon\big)$.
# - The guess $\hat x_0$ settles the coarse image early; the last steps only refine detail.
# - $\tilde\beta_t/\beta_t = (1-\bar\alpha_{t-1})/(1-\bar\alpha_t)$: the two variances differ only where
#   $\bar\alpha_{t-1}$ is close to 1, the last steps; clipping $\hat x_0$ keeps early guesses in range.
# - Scores are compared only at equal $n$, beside real-image references at that $n$ and with their uncertainty;
#   at $n = 48$ FID is mostly bias, and differences smaller than the draw-to-draw spread are not read.
# - 300 network passes per sample is the price, and the motivation for DDIM.
#
# Next: [07 · DDIM](07_ddim.ipynb).
