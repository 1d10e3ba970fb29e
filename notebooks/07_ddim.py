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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/07_ddim.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F07_ddim.ipynb)

# %% [markdown]
# # 07 · DDIM
#
# DDPM needs all $T = 300$ steps because each of its steps is a small Gaussian one. Song et al. (2021) noticed that
# the training objective only ever sees the marginals $q(x_t \mid x_0)$, and that many reverse processes share
# those marginals. DDIM picks one that can **jump**: from $t$ straight to a much earlier $t'$, with the same
# trained network and no retraining. With $\eta = 0$ it adds no noise at all, so the whole sampler is a
# deterministic map from $x_T$ to $x_0$, one that can be run backwards.
#
# **What you will learn**
# - the DDIM update, its noise scale $\sigma_t(\eta)$, and the function `ddim_step`;
# - which timesteps a 10-step sampler visits, and how the spacings differ;
# - samples at 10, 20, 50 and 100 steps beside DDPM's 300, from the same $x_T$;
# - quality and time against the number of steps;
# - $\eta$ from 0 (deterministic) to 1 (DDPM-like);
# - the report's step sequence, and the noise it leaves in every image;
# - inversion: $x_0 \to x_T \to x_0$, and interpolation between two $x_T$;
# - the same sampler on every shipped checkpoint, Fashion-MNIST and MNIST.
#
# [Conventions](../README.md#conventions): timesteps are 0-based; after the last entry of a DDIM sequence comes
# $t' = -1$ with $\bar\alpha_{-1} = 1$; images are `[B, C, H, W]` in $[-1, 1]$.

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

import torch

from helpers import QUICK, ddim_invert, ddim_sample, ddim_step, ddim_timesteps, ddpm_sample, quick_or_full
from helpers.data import FASHION_MNIST_CLASSES, sample_images
from helpers.evaluation import generate, sample_quality
from helpers.interpolation import slerp
from helpers.metrics import QualityEvaluator, laplacian_energy
from helpers.viz import plot_image_table, show_images, show_source
from helpers.pretrained import available, load_pretrained
from helpers.viz import plot_quality_sweep

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The DDIM update
#
# From $x_t$ and $\hat\varepsilon = \varepsilon_\theta(x_t, t)$, DDIM forms the same guess of $x_0$ as DDPM and then
# re-noises it to the earlier time $t'$, reusing $\hat\varepsilon$ as the noise direction:
#
# $$
# \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}},
# \qquad
# x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma_t^2}\;\hat\varepsilon + \sigma_t z ,
# \qquad z \sim \mathcal N(0, I),
# $$
#
# $$
# \sigma_t(\eta) = \eta\,\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\,\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}} .
# $$
#
# $\eta = 0$ is deterministic (DDIM proper, a discretised ODE). $\eta = 1$ with $t' = t-1$ gives
# $\sigma_t^2 = \tilde\beta_t$, and the step is exactly DDPM's. When $\hat x_0$ is clipped to $[-1, 1]$ (the default),
# `ddim_step` re-derives $\hat\varepsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0)/\sqrt{1-\bar\alpha_t}$ from the clipped
# $\hat x_0$ before it steps, so the pair still adds up to $x_t$ (`recompute_eps=True`; notebook 08 shows why this
# matters under guidance); DDPM's clipped step does the same implicitly, so the equality with DDPM survives clipping. Any $t' < t$ is allowed, so a sampler can visit
# a short sub-sequence $\tau$ of the $T$ indices.

# %%
show_source(ddim_step)

# %% [markdown]
# Check the claim for $\eta = 1$ and $t' = t-1$ on the shipped schedule ($\sigma_t^2$ from the formula, against
# the posterior variance $\tilde\beta_t$ of notebook 03), and see how large $\sigma_t$ gets when a step jumps 15
# indices at once:

# %%
# NBVAL_CHECK_OUTPUT
model, schedule, meta = load_pretrained("fashion-mnist-cfg", return_metadata=True)
abar = torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod])  # abar[t + 1] = ᾱ_t, ᾱ_{-1} = 1


def ddim_sigma(t, t_prev, eta):
    a_t, a_prev = abar[t + 1], abar[t_prev + 1]
    return eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()


for t in [299, 100, 10, 1]:
    print(f"t = {t:3d}: σ_t(η=1)² = {ddim_sigma(t, t - 1, 1.0).item() ** 2:.6f}, "
          f"β̃_t = {schedule.posterior_variance[t].item():.6f}")
for t, t_prev in [(299, 284), (31, 16), (16, 1), (14, -1)]:
    print(f"jump {t:3d} → {t_prev:3d}: σ_t(η=1) = {ddim_sigma(t, t_prev, 1.0).item():.4f}, "
          f"√(1 − ᾱ_t') = {(1 - abar[t_prev + 1]).sqrt().item():.4f}")

# %% [markdown]
# ## 2. Which timesteps?
#
# `ddim_timesteps(T, steps, spacing)` picks the sub-sequence $\tau$ (descending). The names follow diffusers:
# "trailing" starts at $T-1$, the step that matches $x_T \sim \mathcal N(0, I)$, and is the default here;
# "leading" and "linspace" are the older choices. "report" is the report's own sequence
# $(0, c, 2c, \dots) + 1$ with $c = T / \text{steps}$, which neither starts at $T-1$ nor ends at $\bar\alpha = 1$
# (section 6). Every sampler but "report" finishes with a step to $t' = -1$.

# %%
# NBVAL_CHECK_OUTPUT
for spacing in ["trailing", "leading", "linspace", "report"]:
    print(f"{spacing:>9}: {ddim_timesteps(schedule.T, 10, spacing).tolist()}")

# %% [markdown]
# ## 3. Fewer steps, same $x_T$
#
# The same eight starting noises (one per class, no guidance), through DDIM with 10, 20, 50 and 100 steps
# ($\eta = 0$) and through DDPM's 300. DDIM at different step counts approximates the same ODE, so its images
# agree more and more as the steps grow. DDPM draws fresh noise at every step: from the same $x_T$ it lands
# on a different image of the same class.

# %%
# NBVAL_IGNORE_OUTPUT
B = quick_or_full(4, 8)
gen = torch.Generator().manual_seed(0)
x_T = torch.randn(B, 1, 28, 28, generator=gen)
y = torch.arange(B) % 10
pictures, seconds = {}, {}
for steps in quick_or_full([10, 20], [10, 20, 50, 100]):
    start = time.perf_counter()
    pictures[f"DDIM {steps}"] = ddim_sample(model, schedule, x_T, steps=steps, y=y)
    seconds[f"DDIM {steps}"] = time.perf_counter() - start
start = time.perf_counter()
pictures["DDPM 300"] = ddpm_sample(model, schedule, x_T, y=y, generator=torch.Generator().manual_seed(0))
seconds["DDPM 300"] = time.perf_counter() - start
fig = plot_image_table(torch.stack(list(pictures.values())), row_labels=list(pictures),
                       col_labels=[FASHION_MNIST_CLASSES[int(c)] for c in y], title="same x_T, different samplers")
for name, s in seconds.items():
    print(f"{name:>9}: {s / B:.3f} s per image")

# %% [markdown]
# ## 4. Quality and time against steps
#
# $n$ samples per step count, balanced over the classes, from the same seed, scored by FID in a small
# classifier's feature space and by the classifier's accuracy on the intended labels (notebook 09), beside the
# real-image references at the **same n**. Time grows linearly with the steps. With a well-trained network,
# quality saturates after a few tens of steps (Song et al.: 20–50 DDIM steps come close to 1000 DDPM steps). An
# undertrained one can even get *worse* with more deterministic steps: it then follows its own inaccurate ODE
# more faithfully, while the clipping of $\hat x_0$ at every large step, or the fresh noise of $\eta > 0$ and
# DDPM (section 5), keeps pulling it back. The plot shows which case the shipped weights are in.
#
# $n$ is 160 in full mode to keep this notebook within a few minutes on two CPU cores, so the scores carry
# sampling noise. The numbers come from `helpers.evaluation.sample_quality` (`generate` + `QualityEvaluator`),
# as in `python -m benchmarks.sampling_quality`: `--n 160` reproduces them exactly, and `--n 2000` draws the same
# curves (with DDPM added) with far less noise.

# %%
# NBVAL_IGNORE_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
n = quick_or_full(20, 160)
step_list = quick_or_full([10, 20], [10, 20, 50, 100])
sweep, images = {}, {}
for steps in step_list:
    sweep[steps], images[steps] = sample_quality(model, schedule, evaluator, n, steps=steps, seed=0, batch=64)
    print(f"{steps:4d} steps: FID {sweep[steps]['fid']:7.2f}, accuracy {sweep[steps]['accuracy']:.2f}, "
          f"{sweep[steps]['seconds_per_image']:.3f} s per image")
references = evaluator.references(n)
print(f"references at n = {n}: " + ", ".join(f"{k} {v:.2f}" for k, v in references.items()))

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_quality_sweep(
    step_list,
    {"FID in classifier space": [r["fid"] for r in sweep.values()],
     "class accuracy": [r["accuracy"] for r in sweep.values()],
     "seconds per image": [r["seconds_per_image"] for r in sweep.values()]},
    references=references, xlabel="DDIM steps", logx=True, xticks=step_list + [300],
    points={"DDPM, 300 steps (section 3)": {"seconds per image": (300, seconds["DDPM 300"] / B)}},
    title=f"DDIM, η = 0, trailing, n = {n}")

# %% [markdown]
# ## 5. From $\eta = 0$ to $\eta = 1$
#
# $\eta$ interpolates between the deterministic sampler and the DDPM-like one. Song et al. (Table 1) found that at
# few steps a large $\eta$ hurts: its fresh noise $\sigma_t z$, large when a step jumps far (section 1), has too few
# later steps to be removed. Where $\eta = 1$ wins instead, the network's deterministic path is the weak point
# (section 4), and fresh noise lets later steps correct earlier mistakes. Same $x_T$, same $z$, 20 steps:

# %%
# NBVAL_IGNORE_OUTPUT
etas = [0.0, 0.25, 0.5, 1.0]
rows = [ddim_sample(model, schedule, x_T, steps=20, eta=eta, y=y, generator=torch.Generator().manual_seed(1))
        for eta in etas]
fig = plot_image_table(torch.stack(rows), row_labels=[f"η = {eta:g}" for eta in etas],
                       col_labels=[FASHION_MNIST_CLASSES[int(c)] for c in y], title="20 DDIM steps, same x_T and z")

# %%
# NBVAL_IGNORE_OUTPUT
eta_rows = {0.0: sweep[20]}
for eta in [0.5, 1.0]:
    eta_rows[eta], _ = sample_quality(model, schedule, evaluator, n, steps=20, eta=eta, seed=0, batch=64)
for eta, row in eta_rows.items():
    print(f"η = {eta:3.1f}: FID {row['fid']:7.2f}, accuracy {row['accuracy']:.2f}   (20 steps, n = {n})")
fig = plot_quality_sweep(list(eta_rows), {"FID in classifier space": [r["fid"] for r in eta_rows.values()],
                                          "class accuracy": [r["accuracy"] for r in eta_rows.values()]},
                         references=references, xlabel="η", title=f"20 DDIM steps, n = {n}")

# %% [markdown]
# ## 6. The report's step sequence
#
# The report samples with $\tau = (0, c, 2c, \dots) + 1$, reversed, and its last step lands on index 0. Two things
# are off. It starts below $T - 1$, treating pure noise as a slightly less noisy $x_t$ (harmless here, as
# $\bar\alpha_t$ is tiny there). And it stops at $\bar\alpha_0 = 1 - \beta_0 = 0.999$ instead of 1, so every
# image keeps $\sqrt{1-\bar\alpha_0}\,\hat\varepsilon \approx 0.03\,\hat\varepsilon$ of noise. The trailing
# sequence ends with a step to $\bar\alpha_{-1} = 1$ (`ddim_sample`'s default for every other spacing).

# %%
# NBVAL_CHECK_OUTPUT
for spacing in ["report", "trailing"]:
    for steps in [10, 20, 50]:
        seq = ddim_timesteps(schedule.T, steps, spacing)
        first, end = int(seq[0]), (0 if spacing == "report" else -1)
        print(f"{spacing:>8}, {steps:2d} steps: {len(seq)} entries, starts at t = {first} "
              f"(ᾱ = {abar[first + 1].item():.2e}), ends at t' = {end:2d} (ᾱ = {abar[end + 1].item():.4f}, "
              f"leftover noise scale √(1 − ᾱ) = {(1 - abar[end + 1]).sqrt().item():.4f})")

# %% [markdown]
# A 0.03 noise scale is hard to see on a black background clipped at −1, but it is plain in the images'
# pixel-scale energy (the mean squared Laplacian: white noise of standard deviation $\sigma$ adds $20\sigma^2$),
# and in a zoom of the difference between the two samplers from the same $x_T$:

# %%
# NBVAL_IGNORE_OUTPUT
report_row, report_images = sample_quality(model, schedule, evaluator, n, steps=20, spacing="report", seed=0,
                                           batch=64)
real, _ = sample_images(quick_or_full(100, 500))
energy = {"real test images": laplacian_energy(real).mean().item(),
          "trailing, 20 steps": laplacian_energy(images[20]).mean().item(),
          "report, 20 steps": laplacian_energy(report_images).mean().item()}
for name, value in energy.items():
    print(f"{name:>20}: mean squared Laplacian {value:.4f}")
print(f"extra energy of the report's samples: {energy['report, 20 steps'] - energy['trailing, 20 steps']:.4f} "
      f"(20 × 0.0316² = {20 * 0.001:.4f} for white noise)")
print(f"FID: trailing {sweep[20]['fid']:.2f}, report {report_row['fid']:.2f} (n = {n}); "
      f"pixel std of (report − trailing) = {(report_images - images[20]).std():.4f}")

# %%
# NBVAL_IGNORE_OUTPUT
k = 6
crop = (slice(None), slice(None), slice(6, 22), slice(6, 22))  # the central 16 × 16 pixels
diff = (report_images[:k] - images[20][:k]) * 10
fig = plot_image_table(torch.stack([images[20][:k][crop], report_images[:k][crop], diff[crop]]),
                       row_labels=["trailing", "report", "10 × (report − trailing)"],
                       col_labels=[FASHION_MNIST_CLASSES[c] for c in range(k)], cell=1.3,
                       title="same x_T, 20 steps, zoom on the centre")

# %% [markdown]
# ## 7. Inversion: $x_0 \to x_T \to x_0$
#
# With $\eta = 0$ each step is a deterministic map, and `ddim_invert` runs it the other way: from a real image
# $x_0$ up to an $x_T$ that the sampler turns back into (nearly) the same image. Each inverse step uses
# $\hat\varepsilon$ at the point it stands on rather than the unknown one at the point it goes to; fixed-point
# iterations (`fixed_point_iters`) correct that at the price of more network passes.

# %%
show_source(ddim_invert)

# %%
# NBVAL_IGNORE_OUTPUT
x0, labels = sample_images(quick_or_full(4, 8), seed=0)
x_inv = ddim_invert(model, schedule, x0, steps=50, y=labels)
recon = ddim_sample(model, schedule, x_inv, steps=50, y=labels, clip_x0=False)
x_inv_fp = ddim_invert(model, schedule, x0, steps=50, y=labels, fixed_point_iters=2)
recon_fp = ddim_sample(model, schedule, x_inv_fp, steps=50, y=labels, clip_x0=False)
fig = plot_image_table(torch.stack([x0, x_inv / 3, recon, recon_fp, (recon - x0) * 5]),
                       row_labels=["real x_0", "inverted x_T (÷3)", "reconstruction", "recon., 2 fixed-pt iters",
                                   "5 × (recon. − x_0)"],
                       col_labels=[FASHION_MNIST_CLASSES[int(c)] for c in labels], title="DDIM inversion, 50 steps")


def rms(a, b):
    return (a - b).pow(2).mean().sqrt().item()


print(f"pixel std of the inverted x_T: {x_inv.std():.3f} (N(0, I) has 1)")
print(f"RMS error of the round trip: {rms(recon, x0):.4f}; with 2 fixed-point iterations: {rms(recon_fp, x0):.4f}")
print(f"for scale, RMS between two real images of the set: {rms(x0[0], x0[1]):.3f}")

# %% [markdown]
# ## 8. Interpolation between two $x_T$
#
# Since DDIM is a deterministic map, a path between two noises $x_T^{(a)}$ and $x_T^{(b)}$ gives a path between two
# images. Not a straight one: a draw of $\mathcal N(0, I)$ in $d = 784$ dimensions has norm $\approx \sqrt d$, and the
# midpoint of a straight line between two such (nearly orthogonal) draws has norm $\approx \sqrt{d/2}$, a noise
# level the network never saw. Spherical interpolation keeps the norm (Song et al., section 5.3):
#
# $$
# \theta = \arccos\frac{\langle x_a, x_b\rangle}{\|x_a\|\,\|x_b\|},\qquad
# \operatorname{slerp}(x_a, x_b, \alpha) = \frac{\sin((1-\alpha)\theta)}{\sin\theta}\,x_a + \frac{\sin(\alpha\theta)}{\sin\theta}\,x_b .
# $$

# %%
show_source(slerp)

# %%
# NBVAL_CHECK_OUTPUT
x_a = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(10))
x_b = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(11))
alphas = torch.linspace(0, 1, 9)
spherical = slerp(x_a, x_b, alphas)
straight = torch.stack([(1 - a) * x_a + a * x_b for a in alphas])
print("α:                ", " ".join(f"{a:5.2f}" for a in alphas.tolist()))
print("‖slerp‖ / √d:     ", " ".join(f"{v:5.2f}" for v in (spherical.flatten(1).norm(dim=1) / 28).tolist()))
print("‖straight‖ / √d:  ", " ".join(f"{v:5.2f}" for v in (straight.flatten(1).norm(dim=1) / 28).tolist()))

# %%
# NBVAL_IGNORE_OUTPUT
label = torch.full((len(alphas),), 7)  # sneakers
rows = [ddim_sample(model, schedule, path, steps=50, y=label) for path in (spherical, straight)]
fig = plot_image_table(torch.stack(rows), row_labels=["slerp", "straight line"],
                       col_labels=[f"α = {a:.2f}" for a in alphas.tolist()],
                       title="from x_a to x_b, 50 DDIM steps, class Sneaker")
rms_rows = (rows[0] - rows[1]).flatten(1).pow(2).mean(1).sqrt()
print("RMS(slerp image − straight image):", " ".join(f"{v:.2f}" for v in rms_rows))
print("pixel std, slerp:                 ", " ".join(f"{v:.2f}" for v in rows[0].flatten(1).std(1)))
print("pixel std, straight line:         ", " ".join(f"{v:.2f}" for v in rows[1].flatten(1).std(1)))

# %% [markdown]
# Whether the straight path visibly hurts depends on the network and the sampler: some models turn the shrunken
# midpoint into a faded or smoothed image, others (clipping $\hat x_0$ at every step) largely recover. The printed
# differences show what this one does; the slerp path is the safe choice either way.
#
# ## 9. The same sampler on every shipped checkpoint
#
# The sampler asks nothing of the network but $\hat\varepsilon_\theta(x_t, t[, y])$, so the same 50 steps from the
# same seed run on each shipped checkpoint: two Fashion-MNIST and two MNIST networks of the same architecture, trained
# by the commands in the README ([Shipped checkpoints](../README.md#shipped-checkpoints)). The conditional ones get
# the labels $0, 1, \dots, 9$ along each row, so each column is one class.

# %%
# NBVAL_CHECK_OUTPUT
checkpoints = {name: load_pretrained(name, return_metadata=True) for name in available()}
for name, (net, _, meta) in checkpoints.items():
    kind = "class-conditional" if net.num_classes else "unconditional"
    print(f"{name:18s} {meta['dataset']:14s} {kind:18s} {meta['epochs']:3d} epochs  {meta['parameters']:,} parameters")

# %%
# NBVAL_IGNORE_OUTPUT
n_show = quick_or_full(10, 30)
for name, (net, sched, meta) in checkpoints.items():
    images, _ = generate(net, sched, n_show, steps=50, seed=0)
    show_images(images, nrow=10, title=f"{name} ({meta['epochs']} epochs): DDIM, 50 steps, η = 0")

# %% [markdown]
# Each network trained for the epochs printed above, some on a CPU and some partly on a GPU; the README's quality
# table ([Shipped checkpoints](../README.md#shipped-checkpoints)) scores each one's samples against its own data set's
# test set, beside the same two references as in section 4.
#
# ## Try it
#
# - Run section 3 with `spacing="leading"` or `"linspace"`: which one suffers most at 10 steps, and why (look at
#   the first entry of each sequence in section 2)?
# - Sample with `spacing="report", final_alpha_one=True`: does the leftover noise go away?
# - Invert with `steps=10` or `steps=200`: how does the round-trip error scale?
# - Interpolate between the inverted $x_T$ of two real images (section 7) instead of two random ones.
# - Reproduce section 4 at a larger $n$: `python -m benchmarks.sampling_quality --n 2000`.
#
# ## Summary
#
# - DDIM re-noises the guess $\hat x_0$ with the predicted noise itself; with $\eta = 0$ the sampler is deterministic
#   and can skip most of the $T$ steps, with the network unchanged.
# - Time is linear in the steps; with a well-trained network 20–50 DDIM steps give most of DDPM's quality in 300.
#   Measure it for your network, as in section 4: an undertrained one can behave otherwise.
# - $\eta > 0$ adds fresh noise that few steps cannot remove.
# - Sequences matter: the report's stops at $\bar\alpha_0 \ne 1$ and leaves a $0.03\,\hat\varepsilon$ noise in
#   every image; ending with a step to $\bar\alpha = 1$ removes it.
# - The deterministic map runs backwards (inversion) and turns paths between noises into paths between
#   images, if the path keeps the noise's norm (slerp).
#
# Next: [08 · Classifier-free guidance](08_classifier_free_guidance.ipynb).
