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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/05_training.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F05_training.ipynb)

# %% [markdown]
# # 05 · Training the noise predictor
#
# The network of notebook 04 learns one thing: given a noisy image $x_t$ and its step $t$, say which noise
# $\varepsilon$ was added. This notebook trains it, looks inside a trained one, and shows what an
# exponential moving average (EMA) of the weights is worth.
#
# **What you will learn**
# - the training objective $L_\text{simple}$ and the label dropout that prepares classifier-free guidance;
# - what the network sees and predicts: $x_t$, the true $\varepsilon$ and $\hat\varepsilon$ at several $t$;
# - where the loss is large, as a function of $t$;
# - a real (short) training run, live, with its loss curve;
# - the shipped checkpoint: its stored training curve and its one-step guesses of $x_0$;
# - what the EMA changes, on samples and on a metric.
#
# [Conventions](../README.md#conventions): timesteps are 0-based; images are `[B, C, H, W]` in $[-1, 1]$; the null label is class index `num_classes`.

# %%
# Colab only: install helpers from the repository. Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step"],
                   check=True)

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch

from helpers import QUICK, load_dataset, q_sample, quick_or_full, sample_images
from helpers.data import FASHION_MNIST_CLASSES
from helpers.evaluation import generate, loss_per_timestep
from helpers.metrics import QualityEvaluator
from helpers.viz import plot_curves, plot_image_table, show_images, show_source
from helpers.posterior import predict_x0_from_eps
from helpers.pretrained import load_pretrained
from helpers.training import TrainConfig, diffusion_loss, drop_labels, train

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The objective
#
# Ho et al. train $\varepsilon_\theta$ by regression onto the noise, at a $t$ drawn uniformly:
#
# $$
# L_\text{simple} = \mathbb{E}_{x_0,\; t \sim \mathcal U\{0,\dots,T-1\},\; \varepsilon \sim \mathcal N(0, I)}
# \Big\| \varepsilon - \varepsilon_\theta\big(\underbrace{\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon}_{x_t},\; t\big) \Big\|^2 .
# $$
#
# For classifier-free guidance (notebook 08) one network learns both $\varepsilon_\theta(x_t, t, y)$ and the
# unconditional $\varepsilon_\theta(x_t, t, \varnothing)$: each label is replaced by the null label
# $\varnothing$ (index `num_classes`) with probability $p_\text{uncond}$. The report's class-conditional
# model never drops labels, so it cannot be guided in this sense.

# %%
show_source(diffusion_loss, drop_labels)

# %% [markdown]
# ## 2. A trained network at work
#
# `load_pretrained` returns the EMA weights of a shipped checkpoint (class-conditional, trained with
# $p_\text{uncond}=0.1$) and the schedule it was trained with. Its metadata tells how it was made.

# %%
# NBVAL_CHECK_OUTPUT
model, schedule, meta = load_pretrained("fashion-mnist-cfg", return_metadata=True)
print(schedule)
print(f"style {model.style!r}, {meta['parameters']:,} parameters, {meta['epochs']} epochs "
      f"({meta['steps']:,} steps of batch {meta['train_config']['batch_size']}), EMA decay {meta['ema_decay']}")
print(f"trained in {meta['train_minutes']:.0f} min on {meta['hardware']}")

# %% [markdown]
# Take six real images, noise them at several $t$, and ask the network for the noise. The rows show $x_t$,
# the noise $\varepsilon$ that was added, the prediction $\hat\varepsilon$, and the error. At small $t$ the
# noise is faint beside the image and hard to separate from it; at large $t$ the image is faint and the
# noise is nearly all there is, so predicting it is easy.

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
x0, y = sample_images(6, seed=1)
ts = [5, 30, 80, 150, 299]
eps = torch.randn(1, *x0.shape[1:]).expand(len(ts), -1, -1, -1)
i = 0  # one image, five noise levels
x_t = q_sample(schedule, x0[i:i + 1].expand(len(ts), -1, -1, -1), torch.tensor(ts), eps)
with torch.no_grad():
    eps_hat = model(x_t, torch.tensor(ts), y[i].expand(len(ts)))
rows = torch.stack([x_t.clamp(-1, 1), eps / 3, eps_hat / 3, (eps_hat - eps)])
fig = plot_image_table(rows, row_labels=["x_t", "ε (÷3)", "ε̂ (÷3)", "ε̂ − ε"], col_labels=[f"t = {t}" for t in ts],
                       title=f"one {FASHION_MNIST_CLASSES[int(y[i])]}: noise and predicted noise")
for t, e, eh in zip(ts, eps, eps_hat):
    print(f"t = {t:3d}: mean (ε̂ − ε)² = {(eh - e).pow(2).mean():.4f}")

# %% [markdown]
# The same error over every $t$, averaged over the packaged images, is the loss the training minimises,
# resolved by $t$. Training draws $t$ uniformly, so each point of this curve weighs the same in $L_\text{simple}$.

# %%
# NBVAL_IGNORE_OUTPUT
images, labels = sample_images(quick_or_full(20, 200), as_uint8=True)
t_grid = torch.linspace(0, schedule.T - 1, quick_or_full(4, 40)).long()
per_t = loss_per_timestep(model, schedule, images, t_grid, labels=labels, seed=0)
fig = plot_curves(t_grid, {"ε-MSE of the shipped model": per_t}, logy=True, title="loss by timestep",
                  xlabel="t", ylabel="mean (ε̂ − ε)²")

# %% [markdown]
# ## 3. A short training run, live
#
# `train` is the loop behind every shipped checkpoint: AdamW with a linear warm-up, gradient clipping, an
# EMA of the weights, a checkpoint written after every epoch (atomically) and exact `resume`. Here a small
# network trains for a few minutes (a few steps in quick mode) on the Fashion-MNIST training set.

# %%
show_source(train)

# %%
# NBVAL_IGNORE_OUTPUT
import tempfile
from pathlib import Path

data = load_dataset("fashion-mnist", "train")
steps = quick_or_full(10, 600)
config = TrainConfig(epochs=1, batch_size=64, lr=2e-3, warmup_steps=quick_or_full(2, 100), ema_decay=0.99,
                     max_steps_per_epoch=steps, model={"style": "modern", "base_channels": 16, "attention": False})
run = train(config, Path(tempfile.mkdtemp()) / "short.pt", data=data)
losses = torch.tensor(run["state"]["losses"])
smooth = torch.nn.functional.avg_pool1d(losses[None, None], 25, 1).flatten() if len(losses) > 25 else losses
fig = plot_curves(torch.arange(len(losses)), {"loss per step": losses}, title=f"{steps} steps of a small U-Net",
                  xlabel="step", ylabel="L_simple")
fig.axes[0].plot(torch.arange(len(smooth)) + (len(losses) - len(smooth)) // 2, smooth, label="running mean")
fig.axes[0].legend()
print(f"first 20 steps: {losses[:20].mean():.3f}, last 20 steps: {losses[-20:].mean():.3f}")

# %% [markdown]
# The loss falls fast at first: predicting $\hat\varepsilon = x_t/\sqrt{1-\bar\alpha_t}$-like guesses is easy
# at large $t$, and that alone halves it. What makes samples good happens later, in small improvements at
# small $t$ that the curve barely shows, which is why the shipped model trained for many epochs.
#
# ## 4. The shipped checkpoint's training curve
#
# Every shipped file stores its loss curve (mean of every 100 steps) and the mean loss of each epoch.

# %%
curve = torch.tensor(meta["loss_curve"]["mean_loss"])
every = meta["loss_curve"]["every"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].plot(torch.arange(len(curve)) * every, curve)
axes[0].set(yscale="log", xlabel="step", ylabel="loss (mean of 100 steps)", title="training loss")
axes[1].plot(torch.arange(1, len(meta["epoch_losses"]) + 1), meta["epoch_losses"], marker="o")
axes[1].set(xlabel="epoch", ylabel="mean loss", title="per epoch")
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# ## 5. One step from $x_t$ to a guess of $x_0$
#
# Solving $x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon$ for $x_0$ with $\hat\varepsilon$ in place of
# $\varepsilon$ gives the network's one-step guess $\hat x_0$ (notebook 03). At small $t$ it is nearly the image;
# at large $t$ it is a blurry average of everything the class could be: the samplers of notebooks 06–07 refine
# it step by step.

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
ts = [10, 50, 100, 150, 200, 250, 299]
x0, y = sample_images(4, seed=3)
rows = []
for i in range(len(x0)):
    xi = x0[i:i + 1].expand(len(ts), -1, -1, -1)
    x_t = q_sample(schedule, xi, torch.tensor(ts), torch.randn_like(xi))
    with torch.no_grad():
        eps_hat = model(x_t, torch.tensor(ts), y[i].expand(len(ts)))
        x0_hat = predict_x0_from_eps(schedule, x_t, torch.tensor(ts), eps_hat)
    rows += [x_t.clamp(-1, 1), x0_hat.clamp(-1, 1)]
fig = plot_image_table(torch.stack(rows), row_labels=[f"{k} {i}" for i in range(len(x0)) for k in ("x_t", "x̂_0")],
                       col_labels=[f"t = {t}" for t in ts], title="x_t and the network's one-step x̂_0")

# %% [markdown]
# ## 6. What the EMA changes
#
# The weights after the last optimiser step jitter with the last few mini-batches. Their exponential moving
# average, $\theta_\text{EMA} \leftarrow d\,\theta_\text{EMA} + (1-d)\,\theta$ with $d = 0.999$, averages the
# last few thousand steps; samplers use it. The shipped file keeps both, so we can sample each from the same
# $x_T$ (DDIM, 50 steps, notebook 07) and score them with FID in a small classifier's feature space
# (notebook 09), beside two references at the same sample size (quick mode uses 20 samples of 10 steps:
# its numbers only show that the code runs): real training images (the floor) and real
# images with faint $\mathcal N(0, 0.05^2)$ grain.

# %%
# NBVAL_IGNORE_OUTPUT
raw_model, _ = load_pretrained("fashion-mnist-cfg", weights="raw")
n, steps = quick_or_full(20, 500), quick_or_full(10, 50)
samples = {}
for name, m in [("EMA weights", model), ("raw weights", raw_model)]:
    samples[name], labels = generate(m, schedule, n, steps=steps, guidance_scale=1.0, seed=0)
fig = plot_image_table(torch.stack([s[:10] for s in samples.values()]), row_labels=list(samples),
                       col_labels=[FASHION_MNIST_CLASSES[int(c)] for c in labels[:10]], title="same x_T, same labels")

# %%
# NBVAL_IGNORE_OUTPUT
evaluator = QualityEvaluator("fashion-mnist")
scores = {name: evaluator.fid(s) for name, s in samples.items()}
scores.update({f"reference: {k}": v for k, v in evaluator.references(n).items()})
for name, v in scores.items():
    print(f"{name:>20}: FID in classifier space {v:8.3f}   (n = {n})")

# %% [markdown]
# ## Try it
#
# - Change `ts` in section 2 to small values (1, 2, 5): how does the error of $\hat\varepsilon$ behave?
# - Train the short run for longer (`steps = 3000`) or with the report's network
#   (`model={"style": "seed", "base_channels": 64}`) and compare the loss curves.
# - Set `ema_decay=0.9` in the short run's `TrainConfig`, then sample from `run["ema"]` and from `run["model"]`.
# - The full training command of the shipped checkpoints is in the README: resume it for a few more epochs.
#
# ## Summary
#
# - The network is trained by plain regression onto the noise, at uniformly drawn $t$; label dropout to a
#   null class makes one network both conditional and unconditional.
# - The loss is largest at small $t$, where the noise is faint beside the image.
# - A training loop worth trusting checkpoints atomically every epoch, resumes exactly, and keeps an EMA.
# - The EMA weights sample better than the raw ones: the metric shows how much.
#
# Next: [06 · DDPM sampling](06_ddpm_sampling.ipynb).
