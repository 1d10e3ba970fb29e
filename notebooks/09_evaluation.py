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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/09_evaluation.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F09_evaluation.ipynb)

# %% [markdown]
# # 09 · Evaluation
#
# Samples that look fine to one reader look blurry to another. This notebook turns "looks fine" into numbers
# that anyone can recompute on a laptop, without downloading a network: a Fréchet distance (FID) and a kernel
# distance (KID) in the feature space of a small classifier shipped with `helpers`, class accuracy for
# conditional samples, and a check that the model is not just copying its training set. Every number stands
# beside references computed by the same code at the same sample size, and beside a measure of its uncertainty
# where one is computed (KID's standard error, accuracy's binomial one, the spread over seeds), because on its own
# a Fréchet distance means little.
#
# **What you will learn**
# - FID and KID in classifier space: the formulas, the classifier behind them, and why FID is biased at a
#   finite sample size while KID, for independently drawn images, is not;
# - the references (real images, real + grain, real + blur), why the sample size must match, and how much a
#   score moves from one random draw to the next;
# - quality against the number of sampling steps, for DDIM ($\eta = 0$) and for DDPM's ancestral step ($\eta = 1$);
# - quality and class accuracy against the guidance scale;
# - nearest training neighbours of samples, as a memorisation check;
# - the summary table that the README quotes, and the benchmark that reproduces it.
#
# [Conventions](../README.md#conventions): images are `[B, C, H, W]` in $[-1, 1]$; `guidance_scale` $s$ as in
# diffusers ($s = 1$ plain conditional); DDIM steps use the trailing spacing.

# %%
# Colab only: install helpers (the package alone, about 18 MB). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ https://github.com/diffusion-step-by-step/diffusion-step-by-step/archive/refs/heads/main.zip"],
                   check=True)

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from helpers import QUICK, count_parameters, load_dataset, quick_or_full, to_float
from helpers.data import FASHION_MNIST_CLASSES
from helpers.evaluation import generate, sample_quality
from helpers.metrics import (
    QualityEvaluator,
    classifier_features,
    frechet_distance,
    gaussian_blur,
    mmd2_unbiased,
    nearest_neighbours,
)
from helpers.pretrained import load_pretrained
from helpers.summary import SCALES, STEPS, evaluate, references, summary_table
from helpers.viz import plot_image_table, show_source

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. FID and KID in classifier space
#
# The Fréchet Inception Distance (Heusel et al., 2017) fits a Gaussian to the features of real images and another
# to the features of samples, and measures the distance between the two Gaussians:
#
# $$
# \mathrm{FD} = \|\mu_r - \mu_g\|^2 + \operatorname{Tr}\!\Big(\Sigma_r + \Sigma_g - 2\big(\Sigma_r \Sigma_g\big)^{1/2}\Big).
# $$
#
# with $\mu_r, \Sigma_r$ the mean and covariance of the real images' features and $\mu_g, \Sigma_g$ those of the
# generated samples. The mean term catches samples of the wrong kind; the covariance term catches samples that
# are too alike (lost diversity) or too varied. The usual features come from Inception-v3, trained on ImageNet photographs at
# $299 \times 299$: a 100 MB download that knows nothing of $28 \times 28$ garments. Here the features are the
# penultimate layer of a small CNN trained on Fashion-MNIST itself (`python -m helpers.classifier`), shipped in
# `helpers` at under 1 MB. The numbers are therefore **not** comparable with published FIDs, only with each other
# and with the references below.

# %%
show_source(frechet_distance)

# %% [markdown]
# **FID is biased at finite $n$.** The formula is fed estimates: $\hat\mu_g, \hat\Sigma_g$ from $n$ samples (and
# $\hat\mu_r, \hat\Sigma_r$ from the $N$ test images). Even for samples drawn from the real distribution itself,
# $\hat\mu_g$ misses $\mu_r$ by a random amount, and a squared error does not average out:
# $\mathbb E\,\|\hat\mu_g - \mu_r\|^2 = \operatorname{Tr}\Sigma / n$. The covariance term, a matrix square root of
# noisy estimates, is pushed up in the same way. So a perfect sampler scores above 0, by an amount that falls like
# $1/n$ (section 2 measures it), and two FIDs compare only at equal $n$.
#
# **KID is not.** The Kernel Inception Distance (Bińkowski et al., 2018) compares the two feature sets through a
# kernel, $k(u, v) = (u^\top v / d + 1)^3$ for $d$-dimensional features, with the unbiased estimate of the squared
# maximum mean discrepancy (for $n_g$ samples $g_i$ and $n_r$ real images $r_j$; `mmd2_unbiased`, below, calls
# them m and n):
#
# $$
# \mathrm{KID} = \frac{1}{n_g(n_g-1)}\sum_{i \ne j} k(g_i, g_j) + \frac{1}{n_r(n_r-1)}\sum_{i \ne j} k(r_i, r_j)
# - \frac{2}{n_g n_r}\sum_{i, j} k(g_i, r_j).
# $$
#
# Leaving out the $i = j$ terms makes each average an unbiased estimate of its expectation, so when samples and
# real images come from one distribution KID averages to 0 at any $n$ (a single draw can come out negative).
# `QualityEvaluator.kid` averages it over 100 random subsets of at most 1,000 images of each set and returns the
# estimate with the standard error over those subsets (`helpers.metrics.kid`). The features are not normalised,
# so KID has no standard scale: here it runs from about −15 to a few hundred.

# %%
show_source(mmd2_unbiased)

# %%
# NBVAL_CHECK_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
classifier = evaluator.classifier
print(f"classifier: {count_parameters(classifier):,} parameters, {evaluator.test_features.shape[1]} features per "
      f"image, accuracy on the real test set {classifier.metadata['test_accuracy']:.2%}")

# %% [markdown]
# ## 2. References: what a score means
#
# Every score gets references computed by the same code at the same $n$:
#
# - **floor**: $n$ real *training* images against the test set: what a perfect sampler scores at this $n$, up
#   to the luck of the draw;
# - **grain**: the same images with $\mathcal N(0, 0.05^2)$ pixel noise (pixels in $[-1, 1]$, so about 6 of 255
#   grey levels), a visible but mild defect;
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

# %% [markdown]
# How large is FID's bias here? For Gaussian features a second-order expansion of the formula (our derivation;
# Chong & Forsyth, 2020, measure the same $1/n$ law for Inception features) gives
#
# $$
# \mathbb E\,\mathrm{FD}_n - \mathrm{FD}_\infty \approx c\Big(\frac1n + \frac1N\Big), \qquad
# c = \underbrace{\operatorname{Tr}\Sigma}_{\text{mean term}}
#   + \underbrace{\tfrac14 \operatorname{Tr}\Sigma + \tfrac12 \textstyle\sum_{i,j} \frac{\lambda_i \lambda_j}{\lambda_i + \lambda_j}}_{\text{covariance term}},
# $$
#
# with $\lambda_i$ the eigenvalues of the feature covariance $\Sigma$ and $N$ the number of test images. It holds
# when samples and real images share one distribution (the floor); for samples from another distribution the
# constant changes with their covariance (Chong & Forsyth: the bias depends on the generator), so even at equal
# $n$ two models' FIDs carry somewhat different biases. The
# constant is set by the covariance, not by the number of features alone: $d$ features of equal variance
# $\lambda$ give $c \approx d \operatorname{Tr}\Sigma / 4 = d^2\lambda / 4$, while a spectrum dominated by a few
# directions gives much less. The cell prints $c$ from the test set's covariance, the floor at five sizes, and
# $n \times$ floor, which should stay near $c(1 + n/N)$ if the floor is all bias; beside it, KID of the same floor
# images.

# %%
# NBVAL_IGNORE_OUTPUT
sizes = quick_or_full((50, 100), (50, 100, 160, 500, 2000))
by_n = {m: evaluator.references(m, blur_sigma=1.0) for m in sizes}
kid_by_n = {m: evaluator.references(m, metric="kid") for m in sizes}
lam = torch.linalg.eigvalsh(torch.cov(evaluator.test_features.double().T)).clamp(min=0)
c = 1.25 * lam.sum() + (lam[:, None] * lam / (2 * (lam[:, None] + lam)).clamp(min=1e-12)).sum()
N = evaluator.test_features.shape[0]
print(f"{lam.numel()} features, Tr Σ = {lam.sum():.0f}, c = {c:.0f}, N = {N} test images")
print("     n   floor   grain    blur   n × floor   c(1 + n/N)   KID of the floor ± s.e.")
for m, r in by_n.items():
    kid_floor, kid_se = kid_by_n[m]["floor"]
    print(f"{m:6d} {r['floor']:7.2f} {r['grain']:7.2f} {r['blur']:7.2f} {m * r['floor']:11.0f} "
          f"{float(c) * (1 + m / N):12.0f}   {kid_floor:8.1f} ± {kid_se:.1f}")

# %% [markdown]
# The floor falls 58-fold from $n = 50$ to $n = 2000$ (231 to 3.97) while $n \times$ floor stays between about
# 7,900 and 11,600: the $1/n$ law. The Gaussian prediction $c(1 + n/N)$, about 7,000 to 8,400, is within about
# 20% of it from $n = 160$ up and too low at $n = 50$ and 100, where we think the terms the expansion drops still
# matter (the features are not Gaussian either). Each size is one random draw, and at $n = 160$ a draw's floor
# moves by about 13 (below), a quarter of its value. At these sizes the floor is bias, not a flaw of the real
# images: **compare only at equal $n$.** KID of the same images falls with $n$ too (35 at $n = 50$, 23 at 160, 0.9
# at 2000), but one draw per size cannot tell a bias from noise: KID's noise shrinks with $n$ too, these five draws
# are nested (the first $n$ images of one permutation) and share their luck, and the s.e. printed beside them is
# too small below $n = 1000$. Ten draws at one $n$, next, separate the two.
#
# ### How much does a score move from one draw to the next?
#
# The gaps between floor, grain and blur do not measure noise: the three are the same $n$ images, damaged or
# not. Noise is measured by drawing again. The cell below draws the floor (and its grain and blur) ten times at
# the $n$ of sections 3 and 4, from ten seeds, in two ways: a random draw of training images, and a
# class-balanced draw with each class equally often. The class-balanced draw is the fair reference for this
# notebook's samples: the conditional model is asked for the labels $0, 1, \dots, 9, 0, \dots$ in turn
# (`generate`), so it asks for every class equally often, as the test set holds them (how often the samples
# look like the class asked for is the accuracy, below). Real images only, so it is cheap.

# %%
# NBVAL_IGNORE_OUTPUT
n = quick_or_full(8, 160)
seeds = range(quick_or_full(3, 10))
draws = {"random": None, "class-balanced": torch.arange(n) % 10}  # generate's labels for a 10-class model
spread = {draw: [references(evaluator, n, seed=k, labels=labels) for k in seeds] for draw, labels in draws.items()}
print(f"n = {n}, {len(seeds)} seeds: mean ± standard deviation over the seeds")
print("draw            reference      FID          KID    (kid's own s.e., mean over seeds)")
for draw, runs in spread.items():
    for ref in ("floor", "grain", "blur"):
        fid = torch.tensor([f[ref] for f, _ in runs])
        kid_est, kid_se = torch.tensor([k[ref] for _, k in runs]).T
        print(f"{draw:15s} {ref:6s} {fid.mean():7.1f} ± {fid.std():4.1f}   {kid_est.mean():6.1f} ± {kid_est.std():4.1f}"
              f"   ({kid_se.mean():.1f})")
for draw, runs in spread.items():
    print(f"floor FID per seed, {draw}: " + " ".join(f"{f['floor']:.1f}" for f, _ in runs))

# %% [markdown]
# What the spread says, at $n = 160$:
#
# - **Class balance matters.** The random draw's floor moves by 13.5 FID (standard deviation over the ten
#   seeds, from 38 to 85), the class-balanced draw's by 4.1, and the balanced floor is 19 lower on average
#   (36.5 against 55.4): at this $n$ the unequal class counts of a random draw move the FID more than any other
#   source of draw-to-draw variation. Class-balanced samples would land below a random floor for that reason alone, so sections 3 and 4 use
#   class-balanced references (`helpers.summary.evaluate` draws them whenever the model is conditional).
# - **Which gaps exceed the noise.** For the class-balanced draws, floor to grain is 31 FID (36.5 to 67.6) and
#   43 KID, 3 to 8 times their standard deviations; grain to blur is hundreds. The references are well
#   separated. A gap of a few FID between two samplers is not: section 3 measures a sampler's own spread.
# - **KID's own s.e. is too small at this $n$.** With $n \le 1000$ every one of `kid`'s subsets holds all $n$
#   images, so its s.e. measures only the choice of test images (2–3 for the floors), while the floors' KID moves by 7
#   to 16 from seed to seed (grain's and blur's by up to 53). Read KID differences against the seed spread, not
#   that s.e. The random floors average 7.7,
#   within 1.5 standard errors of the mean ($16.3/\sqrt{10} = 5.2$) of 0, as an unbiased estimate should. The
#   class-balanced floors average −14.7: "unbiased" assumes images drawn independently. In a draw with exactly
#   16 of each class, an image shares its class with 15 of the 159 others, fewer than the one in ten of
#   independent draws; we think that, since same-class features are alike, this lowers the first sum of KID and
#   pulls it below 0 (the same balance lowers the FID floor). The class-balanced floor is
#   the reference for class-balanced samples, in KID as in FID.
#
# The metric should also grow steadily as real images are damaged. A quick check, at one $n$ (a random draw):

# %%
# NBVAL_IGNORE_OUTPUT
m = quick_or_full(100, 500)
train_images = load_dataset("fashion-mnist", "train").images   # 60,000 in full mode; the packaged 1,000 in quick
pick = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(1))[:m]
clean = to_float(train_images[pick])
noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
stds, sigmas = [0.0, 0.02, 0.05, 0.1, 0.2], [0.0, 0.5, 1.0, 1.5, 2.0]
damaged = {"noise": [(clean + s * noise).clamp(-1, 1) for s in stds],
           "blur": [gaussian_blur(clean, s) if s > 0 else clean for s in sigmas]}
fids = {k: [evaluator.fid(x) for x in xs] for k, xs in damaged.items()}
kids = {k: [evaluator.kid(x, generator=torch.Generator().manual_seed(0)) for x in xs] for k, xs in damaged.items()}
fig, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex="col")
for j, (key, xs, xlabel) in enumerate([("noise", stds, "pixel noise std"), ("blur", sigmas, "blur σ (pixels)")]):
    axes[0, j].plot(xs, fids[key], marker="o", color=f"C{j}")
    axes[1, j].errorbar(xs, [k for k, _ in kids[key]], yerr=[se for _, se in kids[key]], marker="o", capsize=3,
                        color=f"C{j}")
    axes[0, j].set(ylabel="FID in classifier space", title=f"real + noise, n = {m}" if j == 0 else
                   f"real, blurred, n = {m}")
    axes[1, j].set(xlabel=xlabel, ylabel="KID in classifier space (± s.e.)")
for ax in axes.flat:
    ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# Both distances grow steadily with either damage, from the floor at no damage (the first point of each panel).
# The error bars on KID are its reported s.e., at $n = 500$ again the subset error only.
#
# ## 3. Quality against sampling steps
#
# The shipped class-conditional checkpoint, sampled at $s = 1$ (plain conditional) with DDIM at several step
# counts, twice: $\eta = 0$ (deterministic DDIM) and $\eta = 1$, which is DDPM's ancestral step on the shorter
# sequence (over all $T$ steps it *is* the DDPM step, notebook 07). DDPM over all $T = 300$ steps is the reference
# point. `helpers.summary.evaluate` runs every setting from the same seed (the same labels, and the same $x_T$ for
# the first batch; later batches' $x_T$ are shared only among the $\eta = 0$ settings, since DDPM's and
# $\eta = 1$'s noise draws move the generator on) and scores it with `sample_quality` (notebooks 07 and 08) plus
# KID; each setting that two sweeps share is sampled once. Its references are class-balanced, like the samples.
#
# $n$ is 160 per setting in full mode, to keep the notebook within several minutes on two CPU cores: read every
# difference against the seed spread above. `python -m benchmarks.evaluation --n 160` reproduces every number of
# `evaluate` (and the summary table of section 6); `--n 2000` sharpens them.

# %%
show_source(evaluate)

# %%
# NBVAL_IGNORE_OUTPUT
name = "fashion-mnist-cfg"
model, schedule, metadata = load_pretrained(name, return_metadata=True)
settings = quick_or_full(dict(steps=(2, 5), scales=(0.0, 1.0, 3.0)), dict(steps=STEPS, scales=SCALES))
results = evaluate(model, schedule, evaluator, n, seed=0, batch=64, **settings)
ref_fid, ref_kid = results["references"], results["references_kid"]
print(f"references at n = {n} ({'class-balanced' if results['references_balanced'] else 'random'}): "
      + ", ".join(f"{k} FID {v:.2f}, KID {ref_kid[k][0]:.1f} ± {ref_kid[k][1]:.1f}" for k, v in ref_fid.items()))

# %% [markdown]
# The seed spread of section 2 measured real images. Samples have noise of their own: the next cell draws one
# setting, DDIM 20 steps with $\eta = 0$, from four more seeds (new $x_T$; about a minute and a half).

# %%
# NBVAL_IGNORE_OUTPUT
base = next(r for r in results["steps_rows"] if r["steps"] == settings["steps"][1] and r["eta"] == 0.0)
again = [base]
for k in range(1, quick_or_full(3, 5)):
    row, images = sample_quality(model, schedule, evaluator, n, steps=base["steps"], seed=k, batch=64, eta=0.0,
                                 spacing="trailing")
    row["kid"], _ = evaluator.kid(images, generator=torch.Generator().manual_seed(k))
    again.append(row)
for key in ("fid", "kid", "accuracy"):
    v = torch.tensor([r[key] for r in again])
    print(f"DDIM {base['steps']} steps, η = 0, seeds 0–{len(again) - 1}: {key:8s} " + " ".join(f"{x:.3g}" for x in v)
          + f"   mean {v.mean():.3g} ± sd {v.std():.2g}")

# %% [markdown]
# The figure: FID, KID and class accuracy against the steps, with the cost. KID carries its s.e. (over test
# subsets; the seed spread above is larger), accuracy its binomial s.e. $\sqrt{p(1-p)/n}$. In each of the three
# score panels a pale bar just left of the 20-step $\eta = 0$ point spans the values of the five seeds drawn above. The dashed lines are the
# class-balanced floor and grain; the blur reference is far above the plotted range and is printed in the title.

# %%
# NBVAL_IGNORE_OUTPUT
def plot_rows(ax, x, rows, key, **style):
    """``key`` of each row against x: FID as points, KID ± its s.e., accuracy ± its binomial s.e."""
    err = {"fid": None, "kid": "kid_se", "accuracy": "accuracy_se"}[key]
    ax.errorbar(x, [r[key] for r in rows], yerr=None if err is None else [r[err] for r in rows], capsize=3,
                **{"marker": "o", **style})


def plot_references(ax, key):
    """The class-balanced floor and grain as dashed lines (FID or KID); blur goes in the title."""
    for k, ref in enumerate(("floor", "grain")):
        value = ref_fid[ref] if key == "fid" else ref_kid[ref][0]
        ax.axhline(value, ls="--", lw=1, color=f"C{k + 4}", label=f"reference: {ref}")


ddpm = [r for r in results["steps_rows"] if r["sampler"] == "ddpm"]
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
for key, ax in zip(("fid", "kid", "accuracy"), axes.flat):
    for eta, color, shift in [(0.0, "C0", 0.96), (1.0, "C1", 1.04)]:
        rows = [r for r in results["steps_rows"] if r.get("eta") == eta]
        label = "DDIM, η = 0" if eta == 0 else "η = 1 (DDPM step, fewer steps)"
        plot_rows(ax, [r["steps"] * shift for r in rows], rows, key, color=color, label=label)
    plot_rows(ax, [r["steps"] for r in ddpm], ddpm, key, marker="*", markersize=12, ls="none", color="C3",
              label="DDPM, all T steps")
    if key != "accuracy":
        plot_references(ax, key)
    # the spread of one setting over the seeds drawn above: how far a single point may move
    spread = [r[key] for r in again]
    ax.plot([base["steps"] * 0.9] * 2, [min(spread), max(spread)], color="C0", lw=7, alpha=0.3,
            solid_capstyle="butt", label=f"DDIM, η = 0, {base['steps']} steps: range over {len(again)} seeds")
axes[1, 0].axhline(results["classifier_test_accuracy"], ls=":", color="k", lw=1,
                   label="classifier on real test images")
for eta, color in [(0.0, "C0"), (1.0, "C1")]:
    rows = [r for r in results["steps_rows"] if r.get("eta") == eta]
    axes[1, 1].plot([r["steps"] for r in rows], [r["seconds_per_image"] for r in rows], marker="o", color=color)
axes[1, 1].plot([r["steps"] for r in ddpm], [r["seconds_per_image"] for r in ddpm], marker="*", markersize=12,
                ls="none", color="C3")
axes[0, 0].set(ylabel="FID in classifier space", title=f"FID, n = {n} (blur reference: {ref_fid['blur']:.0f})")
axes[0, 1].set(ylabel="KID in classifier space (± s.e.)",
               title=f"KID, n = {n} (blur reference: {ref_kid['blur'][0]:.0f})")
axes[1, 0].set(ylabel="class accuracy (± binomial s.e.)", title="accuracy of the asked-for class",
               ylim=(min(0.7, axes[1, 0].get_ylim()[0]), 1.01))
axes[1, 1].set(yscale="log", ylabel="seconds per image", title="cost (this CPU)")
ticks = sorted({r["steps"] for r in results["steps_rows"]})
for ax in axes.flat:
    ax.set_xscale("log")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
for ax in axes[1]:
    ax.set_xlabel("sampling steps")
axes[0, 0].legend(fontsize=7)
axes[1, 0].legend(fontsize=7, loc="lower right")
fig.tight_layout()

# %% [markdown]
# The five seeds of one setting spread by 6.6 FID and 5.1 KID (standard deviations), more than the class-balanced
# floor's 4.1 FID (its KID spread was 7.4), and their accuracy runs from 82.5% to 92.5% (s.d. 4.1 points, more
# than the binomial 2.6). Two independent draws then differ with an s.d. of about $\sqrt 2$ times a draw's, so in
# what follows a difference between two settings counts only if it exceeds about twice that, taking the larger
# spread: $2\sqrt2 \cdot 6.6 \approx 19$ FID and $2\sqrt2 \cdot 7.4 \approx 21$ KID; against a reference,
# $2\sqrt{6.6^2 + 4.1^2} \approx 16$ FID and $2\sqrt{5.1^2 + 7.4^2} \approx 18$ KID. The rule is rough both ways:
# the $\eta = 0$ settings share all their $x_T$, which probably makes their differences less noisy (not
# measured), while $\eta = 0$, $\eta = 1$ and DDPM share only the first batch's (64 of 160), and the spread was
# measured on one setting only; others may spread more.
#
# What the figure shows, read that way:
#
# - **Cost** grows about in proportion to the steps; DDPM's 300 steps cost most.
# - **Steps.** With $\eta = 1$, FID falls from 123 to 84, 68 and 53: the first fall, 39, exceeds the noise, each
#   later one (17, 14) does not by itself, though the four fall steadily; KID falls beyond the noise up to 50
#   steps (73.5, 26.4, 1.5). With $\eta = 0$, FID falls by 19 from 10 to 20 steps (80 to 61), at the rule's edge,
#   and KID by 18, within it; after that neither moves by more than the noise (FID 61 to 51 to 48).
# - **$\eta = 0$ against $\eta = 1$.** At 10 and 20 steps $\eta = 0$ has the lower FID by 43 and 23, the
#   textbook picture (Song et al., 2021, Table 1); we think each ancestral step adds fresh noise that a short
#   sequence has too few steps to remove. From 50 steps on the differences (FID 51 against 68 at 50 steps, KID
#   11.4 against −6.5 at 100) are within the noise: at $n = 160$ neither sampler wins there. At $n = 1{,}000$
#   (notebook 07, section 10: the same checkpoint, seed and class balance) $\eta = 0$ at 50 steps scores well
#   ahead of $\eta = 1$ by both, FID 22.5 against 42.1 and KID 12.9 against 24.3, where this seed's KID at
#   $n = 160$ had $\eta = 1$ ahead (1.5 against 12.5).
# - **DDPM over all 300 steps** (FID 62, KID 28.5) is within the noise of DDIM with 100 steps and $\eta = 0$ by both
#   metrics (FID 47.8, KID 11.4), and above $\eta = 1$ at 100 steps by 35 KID, beyond the rule. At $n = 1{,}000$
#   (where $\eta = 1$ was run at 50 steps only) DDPM-300 is 17 KID *below* $\eta = 1$ at 50 steps (7.0 against 24.3;
#   here it is 27 above, 28.5 against 1.5), and level with $\eta = 0$ at 100 steps (KID 8.2, FID 18.4 against 20.0);
#   real images' KID ranges over about 4 from draw to draw at that $n$ (notebook 07). KID's expected value does not
#   depend on $n$ for independently drawn images; a class-balanced draw lowers it by an amount that we think
#   shrinks like $1/(n-1)$ (section 2's balanced floor averages −14.7 at $n = 160$). Allowing for that, DDPM's 28.5
#   at this seed was a high draw: even a difference that passes the rule can be noise at $n = 160$.
# - **The references.** No setting reaches the class-balanced floor by FID (30.7; the best, 48, is 17 above it,
#   just beyond the rule); by KID, $\eta = 1$ at 50 and 100 steps (1.5, −6.5) are within the noise of the floor
#   (−8.9). By KID every setting but the two 10-step ones is below the grain reference (49.0) by more than the
#   noise; by FID (grain 66.7) only $\eta = 0$ at 100 steps (by 19) and, at the rule's edge, at 50 steps (by 16)
#   are.
# - **Accuracy** tells another story. At this seed $\eta = 0$ scores 82.5–83.7% at every step count, below
#   $\eta = 1$ (88.7–93.1%), DDPM (91.9%) and the classifier on real test images (91.8%): 5 to 9 points under
#   $\eta = 1$. But every step count starts from the same $x_T$, and this seed is a low one: the five seeds of the
#   20-step setting above average 88.0%. Larger samples show a smaller gap: at $n = 1{,}000$ (notebook 07,
#   section 10) $\eta = 0$ at 50 steps scores 87.4 ± 1.0%, against 91.2 ± 0.9% for $\eta = 1$ and 91.3 ± 0.9% for
#   DDPM; over 29 seeds of $n = 2{,}000$ (the README's quality table) it scores 88.7% against DDPM's 91.2%, a gap of
#   2.5 ± 0.2 points, where this seed's is 8.2.
#
# FID and KID summarise the whole distribution of features, accuracy one property of each image; they need not
# agree, and one number is not enough.
#
# ## 4. Quality against guidance
#
# The same $n$, 20 DDIM steps with $\eta = 0$, the guidance scale $s$ from 0 (unconditional) to 7.5 (notebook 08
# explains the formula). Accuracy is the classifier's agreement with the label asked for; the dotted line is the
# classifier's accuracy on real test images, for comparison (it is no ceiling: see below).

# %%
# NBVAL_IGNORE_OUTPUT
rows = results["guidance_rows"]
scales = [r["guidance_scale"] for r in rows]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for key, ax in zip(("fid", "kid", "accuracy"), axes):
    plot_rows(ax, scales, rows, key, color="C0", label="samples")
    if key != "accuracy":
        plot_references(ax, key)
axes[2].axhline(results["classifier_test_accuracy"], ls=":", color="k", lw=1, label="classifier on real test images")
axes[0].set(ylabel="FID in classifier space", title=f"FID (blur reference: {ref_fid['blur']:.0f})")
axes[1].set(ylabel="KID in classifier space (± s.e.)", title=f"KID (blur reference: {ref_kid['blur'][0]:.0f})")
axes[2].set(ylabel="class accuracy (± binomial s.e.)", title="accuracy of the asked-for class")
for ax in axes:
    ax.set_xticks(scales, [f"{s:g}" for s in scales])
    ax.set_xlabel("guidance scale s")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
fig.suptitle(f"guidance, 20 DDIM steps, η = 0, n = {n} per scale")
fig.tight_layout()

# %% [markdown]
# - **FID and KID** are lowest at $s = 1$ (61.0 and 19.8). Unguided ($s = 0$) is worse by both (107.9, 84.7).
#   Part of that may be class proportions rather than images: the unguided samples ignore the label, so their
#   classes are not balanced, while the references are (section 2: balance alone moved the floor by 19 FID). At $s = 2$ FID is worse by 23, beyond
#   the noise, while KID (28.0 against 19.8) is within it. From $s = 3$ on both climb far above the grain
#   reference (FID 129 to 219, KID 110 to 254): guidance trades the spread of each class for agreement with the
#   label (notebook 08 measures the within-class spread shrinking).
# - **Accuracy** climbs from chance at $s = 0$ (10.0%: the unconditional sampler ignores the label, so it matches
#   one time in ten) to 82.5 ± 3.0% at $s = 1$, 97.5 ± 1.2% at $s = 2$ and 160 of 160 at $s = 3$, 5 and 7.5.
#   The classifier's 91.8% on real test images is **no ceiling**: guided samples beat it. Guidance pushes each
#   sample towards what the label looks like most (notebook 08), so we read this as samples more prototypical,
#   and easier to classify, than real test images. At 160 of 160 the binomial s.e. $\sqrt{p(1-p)/n}$ is 0 and
#   says nothing; the count itself bounds the accuracy below by about 98% at 95% confidence ($1 - 3/n$, the
#   "rule of three"), and the table shows the count.
#
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
                       title="DDIM 50 steps, η = 0: samples and their nearest training images (pixel space)")
print("distance to the nearest training image:", [f"{d:.2f}" for d in dist[:, 0].tolist()])

# %% [markdown]
# Six of the eight samples are clean garments of the asked-for class. The pullover and the shirt are covered in a
# black-and-white speckled texture where real garments have smooth fabric: the artefacts of DDIM with $\eta = 0$
# that notebook 07, section 10 diagnoses. They are also the two samples furthest from any training image (13.41
# and 11.32). None is a copy: each differs visibly from its nearest training image.

# %%
# NBVAL_IGNORE_OUTPUT
mem = results["memorisation"]
print(f"median distance to the nearest training image, n = {mem['n']}: samples {mem['sample_to_train']:.2f}, "
      f"real test images {mem['test_to_train']:.2f}; ratio {mem['ratio']:.2f}")

# %% [markdown]
# A ratio near 1 says the samples are about as far from the training set as new real images are: no sign of
# copying. We have not measured how much this ratio moves from one draw to the next, so we read nothing into how
# far above 1 it is. A median also cannot see a few copies: a model that copied a small share of its samples would
# leave it near 1, so the eight nearest neighbours above are part of the check. (Pixel distance is a blunt
# instrument: a copy shifted by one pixel would escape it.)
#
# ## 6. The summary
#
# One table for the checkpoint: the three class-balanced references, every sampler setting above, the guided
# scales, and the memorisation ratio, all at the same $n$, each FID beside KID ± its s.e. and each accuracy beside
# its binomial s.e. The README's evaluation table is this table, generated from
# `benchmarks/results/evaluation.json`, which `python -m benchmarks.evaluation --n 160` writes by calling the same
# `evaluate` with the same seed and batch; a test checks that this notebook's stored table and that file agree.
# Remember when reading it that KID's s.e. here is smaller than its seed spread (section 2).

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{name}: {metadata['epochs']} epochs, {metadata['parameters']:,} parameters")
display(Markdown(summary_table(results)))

# %% [markdown]
# ## Try it
#
# - Re-run sections 3 and 4 with `n = 500`: which differences between settings survive, and how far do the
#   references move?
# - Score a checkpoint of your own (`load_checkpoint(path)` from notebook 05's training run): where does it sit
#   between the floor and the grain references, and is the gap larger than the seed spread?
# - Replace pixel distance in section 5 with distance in classifier features (`classifier_features`): do the
#   nearest neighbours change?
#
# ## Summary
#
# - FID in classifier space needs no download: a Fréchet distance between Gaussians fitted to a small
#   classifier's features of samples and of the real test set. It is biased at finite $n$, by about $c(1/n + 1/N)$
#   with a constant set by the feature covariance; KID, a kernel distance with an unbiased estimate, is not, for
#   independently drawn images (a class-balanced draw pulls it below 0 at small $n$).
# - Read every score beside the floor, grain and blur references at the same $n$, class-balanced when the samples
#   are, and against the seed-to-seed spread: at $n = 160$ that spread is several FID, and larger than KID's
#   reported s.e.; accuracies carry a binomial s.e.
# - Quality against steps and against guidance, DDIM against DDPM, and a nearest-neighbour check fit in one
#   table, reproduced by `python -m benchmarks.evaluation`.
#
# Next: [10 · Diffusion in two dimensions](10_two_dimensions.ipynb).
