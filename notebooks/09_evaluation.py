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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/09_evaluation.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F09_evaluation.ipynb)

# %% [markdown]
# # 09 · Evaluation
#
# Samples that look fine to one reader look blurry to another. This notebook turns "looks fine" into numbers
# that anyone can recompute on a laptop, without downloading a network: a Fréchet distance in the feature space
# of a small classifier shipped with `helpers`, class accuracy for conditional samples, and a check that the model
# is not just copying its training set. Every number stands beside references computed by the same code at the
# same sample size, because on its own a Fréchet distance means little.
#
# **What you will learn**
# - FID in classifier space: the formula, and the classifier behind it;
# - the references (real images, real + grain, real + blur) and why the sample size must match;
# - quality against the number of sampling steps, for DDIM (η = 0) and for DDPM's ancestral step (η = 1);
# - quality against the guidance scale;
# - nearest training neighbours of samples, as a memorisation check;
# - the summary table that the README quotes, and the benchmark that reproduces it.
#
# [Conventions](../README.md#conventions): images are `[B, C, H, W]` in $[-1, 1]$; `guidance_scale` $s$ as in
# diffusers ($s = 1$ plain conditional); DDIM steps use the trailing spacing.

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
from IPython.display import Markdown, display

from helpers import QUICK, count_parameters, load_dataset, quick_or_full, to_float
from helpers.data import FASHION_MNIST_CLASSES
from helpers.evaluation import generate
from helpers.metrics import (
    QualityEvaluator,
    classifier_features,
    frechet_distance,
    gaussian_blur,
    memorisation_check,
    nearest_neighbours,
)
from helpers.viz import plot_image_table, show_source
from helpers.pretrained import load_pretrained
from helpers.viz import plot_quality_sweep
from helpers.summary import SCALES, STEPS, evaluate, summary_table

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. FID in classifier space
#
# The Fréchet Inception Distance (Heusel et al., 2017) fits a Gaussian to the features of real images and another
# to the features of samples, and measures the distance between the two Gaussians:
#
# $$
# \mathrm{FD} = \|\mu_r - \mu_s\|^2 + \operatorname{Tr}\!\Big(\Sigma_r + \Sigma_s - 2\big(\Sigma_r \Sigma_s\big)^{1/2}\Big).
# $$
#
# The mean term catches samples of the wrong kind; the covariance term catches samples that are too alike (lost
# diversity) or too varied. The usual features come from Inception-v3, trained on ImageNet photographs at
# $299 \times 299$: a 100 MB download that knows nothing of $28 \times 28$ garments. Here the features are the
# penultimate layer of a small CNN trained on Fashion-MNIST itself (`python -m helpers.classifier`), shipped in
# `helpers` at under 1 MB. The numbers are therefore **not** comparable with published FIDs, only with each other
# and with the references below.

# %%
show_source(frechet_distance)

# %%
# NBVAL_CHECK_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
classifier = evaluator.classifier
print(f"classifier: {count_parameters(classifier):,} parameters, {evaluator.test_features.shape[1]} features per "
      f"image, accuracy on the real test set {classifier.metadata['test_accuracy']:.2%}")

# %% [markdown]
# ## 2. References: what a score means
#
# A Fréchet distance is estimated from $n$ samples, and the estimate is biased upwards, by roughly the number of
# feature dimensions over $n$: even real images score above 0. So every score gets references computed by the
# same code at the same $n$:
#
# - **floor**: $n$ real *training* images, drawn at random, against the test set: what a perfect sampler
#   scores at this $n$, up to the luck of the draw. A random draw does not hold every class equally often,
#   and at small $n$ that alone moves the score a lot, so class-balanced samples (the conditional sweeps
#   below draw every class equally often, as the test set holds them) can land below it;
# - **grain**: the same images with $\mathcal N(0, 0.05^2)$ pixel noise, a visible but mild defect;
# - **blur**: the same images blurred with a Gaussian of $\sigma = 1$ pixel.
#
# A model "below grain" makes samples that the classifier finds closer to real images than slightly noisy real
# images are.

# %%
# NBVAL_IGNORE_OUTPUT
real = to_float(load_dataset("fashion-mnist", "train").images[:8])
grain = (real + 0.05 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
fig = plot_image_table([real, grain, gaussian_blur(real, 1.0)], row_labels=["real", "grain", "blur"],
                       title="the three references, on the same eight training images")

# %%
# NBVAL_IGNORE_OUTPUT
sizes = quick_or_full((50, 100), (50, 100, 160, 500, 2000))
by_n = {m: evaluator.references(m, blur_sigma=1.0) for m in sizes}
print("     n   floor   grain    blur")
for m, r in by_n.items():
    print(f"{m:6d} {r['floor']:7.2f} {r['grain']:7.2f} {r['blur']:7.2f}")

# %% [markdown]
# The floor falls as $n$ grows: at small $n$ the estimate is dominated by its bias, not by the images. **Compare
# only at equal $n$.** The order floor < grain < blur holds at every $n$ here, so the references also tell how much
# sampling noise a difference between two models has to beat.
#
# The metric should grow steadily as real images are damaged. A quick check, at one $n$:

# %%
# NBVAL_IGNORE_OUTPUT
m = quick_or_full(100, 500)
pick = torch.randperm(60000, generator=torch.Generator().manual_seed(1))[:m]
clean = to_float(load_dataset("fashion-mnist", "train").images[pick])
noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
stds, sigmas = [0.0, 0.02, 0.05, 0.1, 0.2], [0.5, 1.0, 1.5, 2.0]
fid_noise = [evaluator.fid((clean + s * noise).clamp(-1, 1)) for s in stds]
fid_blur = [evaluator.fid(gaussian_blur(clean, s)) for s in sigmas]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].plot(stds, fid_noise, marker="o")
axes[0].set(xlabel="pixel noise std", ylabel="FID in classifier space", title=f"real + noise, n = {m}")
axes[1].plot(sigmas, fid_blur, marker="o", color="C1")
axes[1].set(xlabel="blur σ (pixels)", title=f"real, blurred, n = {m}")
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# ## 3. Quality against sampling steps
#
# The shipped class-conditional checkpoint, sampled at $s = 1$ (plain conditional) with DDIM at several step
# counts, twice: $\eta = 0$ (deterministic DDIM) and $\eta = 1$, which is DDPM's ancestral step on the shorter
# sequence (over all $T$ steps it *is* the DDPM step, notebook 07). DDPM over all $T = 300$ steps is the reference
# point. `helpers.summary.evaluate` runs every setting from the same seed and scores it with `sample_quality`
# (notebooks 07 and 08); each setting that two sweeps share is sampled once.
#
# $n$ is 160 per setting in full mode, to keep the notebook within several minutes on two CPU cores: FIDs at
# $n = 160$ have a floor near 50, so read differences against the references printed below.
# `python -m benchmarks.evaluation --n 160` reproduces every number; `--n 2000` sharpens them.

# %%
show_source(evaluate)

# %%
# NBVAL_IGNORE_OUTPUT
name = "fashion-mnist-cfg"
model, schedule, metadata = load_pretrained(name, return_metadata=True)
n = quick_or_full(8, 160)
settings = quick_or_full(dict(steps=(2, 5), scales=(0.0, 1.0, 3.0)), dict(steps=STEPS, scales=SCALES))
results = evaluate(model, schedule, evaluator, n, seed=0, batch=64, **settings)
references = results["references"]
print(f"references at n = {n}: " + ", ".join(f"{k} {v:.2f}" for k, v in references.items()))

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
ddpm = [r for r in results["steps_rows"] if r["sampler"] == "ddpm"][0]
for eta, color in [(0.0, "C0"), (1.0, "C1")]:
    rows = [r for r in results["steps_rows"] if r.get("eta") == eta]
    label = "DDIM, η = 0" if eta == 0 else "η = 1 (DDPM step, fewer steps)"
    axes[0].plot([r["steps"] for r in rows], [r["fid"] for r in rows], marker="o", color=color, label=label)
    axes[1].plot([r["steps"] for r in rows], [r["seconds_per_image"] for r in rows], marker="o", color=color,
                 label=label)
axes[0].plot(ddpm["steps"], ddpm["fid"], marker="*", markersize=12, ls="none", color="C3", label="DDPM, all T steps")
axes[1].plot(ddpm["steps"], ddpm["seconds_per_image"], marker="*", markersize=12, ls="none", color="C3")
for k, (ref_name, value) in enumerate(references.items()):
    axes[0].axhline(value, ls="--", lw=1, color=f"C{k + 4}", label=f"reference: {ref_name}")
axes[0].set(xscale="log", xlabel="sampling steps", ylabel="FID in classifier space", title=f"quality, n = {n}")
axes[1].set(xscale="log", yscale="log", xlabel="sampling steps", ylabel="seconds per image", title="cost (this CPU)")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# What to look for: the cost grows linearly with the steps; quality should improve with steps and then level off.
# The deterministic update ($\eta = 0$) usually wins at few steps, because each ancestral step ($\eta = 1$) adds fresh
# noise that a short sequence has too few steps to remove; with many steps the two meet DDPM. A young model may
# not follow the textbook picture: its errors accumulate over a long sequence, and more steps can then score worse.
#
# ## 4. Quality against guidance
#
# The same $n$, 20 DDIM steps, the guidance scale $s$ from 0 (unconditional) to 7.5 (notebook 08 explains the
# formula). Accuracy is the classifier's agreement with the label asked for; the dashed line in the right panel is
# the classifier's own accuracy on real test images, the most a sample can be expected to reach.

# %%
# NBVAL_IGNORE_OUTPUT
scales = [r["guidance_scale"] for r in results["guidance_rows"]]
fig = plot_quality_sweep(scales, {"FID in classifier space": [r["fid"] for r in results["guidance_rows"]],
                                  "class accuracy": [r["accuracy"] for r in results["guidance_rows"]]},
                         references=references, xlabel="guidance scale s", xticks=scales,
                         lines={"class accuracy": {"classifier on real test": classifier.metadata["test_accuracy"]}},
                         title=f"guidance, 20 DDIM steps, n = {n} per scale")

# %% [markdown]
# ## 5. Is it copying? Nearest training neighbours
#
# A model that memorised its training set would score well on every metric above. The check: for each sample,
# find the closest of the 60,000 training images in pixel space, and compare that distance with the same distance
# for real *test* images, which the model never saw. If samples sit much closer to the training set than fresh
# real images do (a ratio well below 1), they are copies.

# %%
show_source(nearest_neighbours)

# %%
# NBVAL_IGNORE_OUTPUT
train = load_dataset("fashion-mnist", "train")
samples, labels = generate(model, schedule, 8, steps=50, seed=1)
dist, idx = nearest_neighbours(samples, train.images, k=3)
table = [torch.cat([s[None], to_float(train.images[i])]) for s, i in zip(samples, idx)]
fig = plot_image_table(table, row_labels=[FASHION_MNIST_CLASSES[int(y)] for y in labels],
                       col_labels=["sample", "nearest", "2nd", "3rd"], cell=0.9,
                       title="samples and their nearest training images (pixel space)")
print("distance to the nearest training image:", [f"{d:.2f}" for d in dist[:, 0].tolist()])

# %%
# NBVAL_IGNORE_OUTPUT
mem = results["memorisation"]
print(f"median distance to the nearest training image, n = {mem['n']}: samples {mem['sample_to_train']:.2f}, "
      f"real test images {mem['test_to_train']:.2f}; ratio {mem['ratio']:.2f}")

# %% [markdown]
# A ratio near 1 says the samples are as far from the training set as new real images are: the model generalises
# rather than recalls. (A ratio above 1 is common for an imperfect model: its samples are a little off the data
# manifold altogether. Pixel distance is a blunt instrument; a copy shifted by one pixel would escape it.)
#
# ## 6. The summary
#
# One table for the checkpoint: the three references, every sampler setting above, the guided scales, and the
# memorisation ratio, all at the same $n$. The README's evaluation table is this table, generated from
# `benchmarks/results/evaluation.json`, which `python -m benchmarks.evaluation --n 160` writes by calling the same
# `evaluate` with the same seed and batch; a test checks that this notebook's stored table and that file agree.

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{name}: {metadata['epochs']} epochs, {metadata['parameters']:,} parameters")
display(Markdown(summary_table(results)))

# %% [markdown]
# ## Try it
#
# - Re-run section 3 with `n = 500`: which differences between settings survive, and how far do the references move?
# - Score a checkpoint of your own (`load_checkpoint(path)` from notebook 05's training run): where does it sit
#   between the blur and the grain references?
# - Replace pixel distance in section 5 with distance in classifier features (`classifier_features`): do the
#   nearest neighbours change?
#
# ## Summary
#
# - FID in classifier space needs no download: a Fréchet distance between Gaussians fitted to a small
#   classifier's features of samples and of the real test set.
# - It is biased by the sample size: read every score beside the floor, grain and blur references at the same $n$.
# - Quality against steps and against guidance, DDIM against DDPM, and a nearest-neighbour check fit in one
#   table, reproduced by `python -m benchmarks.evaluation`.
#
# This is the last notebook. Back to [the list of notebooks](../README.md#the-notebooks).
