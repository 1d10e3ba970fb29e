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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/08_classifier_free_guidance.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F08_classifier_free_guidance.ipynb)

# %% [markdown]
# # 08 · Classifier-free guidance
#
# A class-conditional network $\varepsilon_\theta(x_t, t, y)$ draws images of class $y$, but only as typical as the
# training data of that class: some blurry, some ambiguous. **Classifier-free guidance** (Ho & Salimans, 2022)
# trades diversity for fidelity with one number, the guidance scale, by pushing each step away from what the
# network would predict without the label. It needs no classifier, only a network that also knows the
# unconditional prediction.
#
# **What you will learn**
# - why a class-conditional model, such as the report's, is not yet guidance;
# - label dropout, which teaches one network both predictions;
# - the guidance formula, its two conventions ($s$ and $w = s - 1$), and `cfg_eps`;
# - what the scale does to samples: a class × scale grid from the same noise;
# - the trade-off in numbers: class accuracy and FID in classifier space against the scale;
# - why a guided DDIM step must re-derive $\hat\varepsilon$ from the clipped $\hat x_0$;
# - a widget to choose class, scale and number of steps.
#
# [Conventions](../README.md#conventions): `guidance_scale` $s$ as in diffusers, $s = 1$ plain conditional,
# $s = 0$ unconditional; the null label $\varnothing$ is class index `num_classes`; images are `[B, C, H, W]` in $[-1, 1]$.

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

from helpers import QUICK, cfg_eps, q_sample, quick_or_full, sample_images
from helpers.data import FASHION_MNIST_CLASSES, load_dataset, to_float
from helpers.evaluation import sample_quality
from helpers.loss import diffusion_loss, drop_labels
from helpers.metrics import QualityEvaluator, class_spread, classifier_features
from helpers.viz import plot_image_table, show_source
from helpers.pretrained import load_pretrained
from helpers.viz import guidance_explorer, guidance_grid, plot_quality_sweep

torch.set_num_threads(2)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. Conditional is not guided
#
# The report's class-conditional network adds a learned class embedding (`Embedding(10, 2C)`) beside the time
# embedding and is trained on $\|\varepsilon - \varepsilon_\theta(x_t, t, y)\|^2$ with the true label, always.
# Sampling passes the wanted label. That is conditional sampling, $s = 1$ below, and nothing more: the network
# never sees an example without a label, so it has no unconditional prediction $\varepsilon_\theta(x_t, t, \varnothing)$,
# and the sampler never mixes two predictions. Its `Embedding(10, …)` does not even have a row for $\varnothing$.
#
# Guidance needs both. In score terms ($\varepsilon_\theta \approx -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t}\log p(x_t)$), Bayes'
# rule splits the conditional score into an unconditional one and an implicit classifier,
#
# $$
# \nabla \log p(x_t \mid y) = \nabla \log p(x_t) + \nabla \log p(y \mid x_t),
# $$
#
# and guidance samples from $p(x_t)\,p(y \mid x_t)^s$, i.e. it multiplies the classifier's term by $s$:
#
# $$
# \nabla \log p(x_t) + s\,\big(\nabla \log p(x_t \mid y) - \nabla \log p(x_t)\big)
# \quad\Longleftrightarrow\quad
# \tilde\varepsilon = \hat\varepsilon_u + s\,(\hat\varepsilon_c - \hat\varepsilon_u) .
# $$
#
# ## 2. Label dropout: one network, two predictions
#
# Training replaces each label by $\varnothing$ with probability $p_\text{uncond}$, independently per example, so
# the same network learns $\hat\varepsilon_c = \varepsilon_\theta(x_t, t, y)$ and $\hat\varepsilon_u = \varepsilon_\theta(x_t, t, \varnothing)$. In
# `helpers`, the class embedding has `num_classes + 1` rows; the last is $\varnothing$.

# %%
show_source(drop_labels, diffusion_loss)

# %%
# NBVAL_CHECK_OUTPUT
labels = torch.arange(20) % 10
print("labels:     ", labels.tolist())
print("p_uncond=0.3", drop_labels(labels, 0.3, null_label=10, generator=torch.Generator().manual_seed(0)).tolist())

# %%
# NBVAL_IGNORE_OUTPUT
model, schedule, meta = load_pretrained("fashion-mnist-cfg", return_metadata=True)
print(f"shipped model: {model.num_classes} classes, class embedding {tuple(model.class_embed.weight.shape)} "
      f"(row {model.num_classes} = ∅), trained with p_uncond = {meta['train_config']['p_uncond']}")

# %% [markdown]
# ## 3. The guidance formula
#
# $$
# \tilde\varepsilon = \hat\varepsilon_u + s\,(\hat\varepsilon_c - \hat\varepsilon_u)
# = (1 + w)\,\hat\varepsilon_c - w\,\hat\varepsilon_u, \qquad w = s - 1 .
# $$
#
# Two conventions are in use. `helpers`, like diffusers, takes the **guidance scale** $s$: $s = 0$ is the
# unconditional model, $s = 1$ the plain conditional one, $s > 1$ guidance. Ho & Salimans write the **guidance
# weight** $w$ with $(1 + w)\hat\varepsilon_c - w\hat\varepsilon_u$, so their $w = 0$ is our $s = 1$, and a paper's
# "$w = 3$" is $s = 4$. The samplers take `guidance_scale` and call `cfg_eps` at every step; for $s \notin \{0, 1\}$
# both predictions come from one network pass on a doubled batch $[x_t; x_t]$ with labels $[y; \varnothing]$, so a
# guided step costs about twice an unguided one.

# %%
show_source(cfg_eps)

# %% [markdown]
# How different are the two predictions? Noise a few real images to several $t$ and compare
# $\hat\varepsilon_c - \hat\varepsilon_u$ to $\hat\varepsilon_u$: the label changes the predicted noise by a few
# percent at most. Guidance amplifies this small difference; at $s = 5$ it moves $\tilde\varepsilon$ by four times
# as much again.

# %%
# NBVAL_IGNORE_OUTPUT
x0, y = sample_images(quick_or_full(20, 100), seed=0)
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    for t in [25, 75, 150, 225, 290]:
        x_t = q_sample(schedule, x0, t, noise)
        eps_c, eps_u = cfg_eps(model, x_t, t, y, 1.0), cfg_eps(model, x_t, t, y, 0.0)
        eps_5 = cfg_eps(model, x_t, t, y, 5.0)
        ratio = (eps_c - eps_u).norm() / eps_u.norm()
        check = (eps_5 - (eps_u + 5 * (eps_c - eps_u))).abs().max()
        print(f"t = {t:3d}: ‖ε̂_c − ε̂_u‖ / ‖ε̂_u‖ = {ratio:.3f};  cfg_eps(s=5) − formula: max |Δ| = {check:.1e}")

# %% [markdown]
# ## 4. What the scale does
#
# One $x_T$ per class (row), the same for every scale (column), 20 DDIM steps as in section 5. At $s = 0$ the label is ignored, so a
# row shows whatever garment its noise leads to. At $s = 1$ the label is obeyed, with the variety of the data.
# Larger $s$ gives cleaner, more typical, higher-contrast images, and eventually over-saturated ones.

# %%
# NBVAL_IGNORE_OUTPUT
scales = [0.0, 1.0, 2.0, 3.0, 5.0, 7.5]
grid = guidance_grid(model, schedule, classes=range(10), scales=scales, steps=quick_or_full(10, 20), seed=0)
fig = plot_image_table(grid, row_labels=FASHION_MNIST_CLASSES,
                       col_labels=[f"s = {s:g}\n(w = {s - 1:g})" for s in scales], cell=1.05,
                       title="class × guidance scale, same x_T along each row")

# %% [markdown]
# ## 5. The trade-off in numbers
#
# For each scale, $n$ samples balanced over the classes from the same seed (20 DDIM steps), scored three ways:
#
# - **class accuracy**: how often a Fashion-MNIST classifier agrees with the label asked for (fidelity);
# - **FID in classifier space** against the test set (notebook 09): lower is closer to the real distribution, so it
#   penalises lost diversity as well as bad images; read it beside the references at the same $n$;
# - **within-class spread**: the mean squared distance of a sample's classifier features to its class mean
#   (diversity), beside the same for real test images.
#
# $n$ is 160 per scale in full mode, to stay within a few minutes on two CPU cores. The numbers come from
# `helpers.evaluation.sample_quality`, as in `python -m benchmarks.sampling_quality`: `--n 160` reproduces them
# exactly (the $s = 1$ row also equals notebook 07's 20-step row), and `--n 2000` draws this plot with far less
# sampling noise.

# %%
# NBVAL_IGNORE_OUTPUT
evaluator = QualityEvaluator("fashion-mnist", test_images=quick_or_full(2000, None))
n = quick_or_full(20, 160)
rows, spread = {}, {}
for s in scales:
    rows[s], images = sample_quality(model, schedule, evaluator, n, steps=20, guidance_scale=s, seed=0, batch=64)
    spread[s] = class_spread(classifier_features(evaluator.classifier, images), torch.arange(n) % 10)
    print(f"s = {s:3.1f}: FID {rows[s]['fid']:7.2f}, accuracy {rows[s]['accuracy']:.2f}, spread {spread[s]:7.1f}, "
          f"{rows[s]['seconds_per_image']:.3f} s per image")
references = evaluator.references(n)
test = load_dataset("fashion-mnist", "test")
real_spread = class_spread(evaluator.test_features, test.labels[:len(evaluator.test_features)])
print(f"references at n = {n}: " + ", ".join(f"{k} {v:.2f}" for k, v in references.items())
      + f"; spread of real test images {real_spread:.1f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_quality_sweep(scales, {"FID in classifier space": [r["fid"] for r in rows.values()],
                                  "class accuracy": [r["accuracy"] for r in rows.values()],
                                  "within-class spread": list(spread.values())},
                         references=references, xlabel="guidance scale s", xticks=scales,
                         lines={"within-class spread": {"real test images": real_spread}},
                         title=f"guidance: fidelity against diversity (20 DDIM steps, n = {n} per scale)")

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(5, 3.6))
fid = [r["fid"] for r in rows.values()]
acc = [r["accuracy"] for r in rows.values()]
ax.plot(acc, fid, marker="o")
for s, a, f in zip(scales, acc, fid):
    ax.annotate(f"s = {s:g}", (a, f), textcoords="offset points", xytext=(5, 4), fontsize=8)
for k, (name, value) in enumerate(references.items()):
    ax.axhline(value, ls="--", lw=1, color=f"C{k + 1}", label=f"reference: {name}")
ax.set(xlabel="class accuracy (fidelity)", ylabel="FID in classifier space", title="the trade-off curve")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# The usual picture: accuracy climbs with $s$ as the samples become unmistakable, and the spread falls. FID first
# improves (unguided samples include off-class and malformed ones) and then worsens, as the samples crowd around
# a few typical images per class. At very large $s$ even accuracy can fall again, when the over-pushed images stop
# looking like any garment. Where the FID minimum sits depends on the model: the better the conditional model,
# the less guidance it needs.
#
# ## 6. Guidance and the clipped $\hat x_0$
#
# Every sampler here clips $\hat x_0$ to $[-1, 1]$ (notebook 06). A DDIM step then builds
# $x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}}\,\hat\varepsilon$ from two pieces that should still
# add up to $x_t$: $x_t = \sqrt{\bar\alpha_t}\,\hat x_0 + \sqrt{1-\bar\alpha_t}\,\hat\varepsilon$. After the clip they only do if
# $\hat\varepsilon$ is re-derived from the clipped $\hat x_0$,
#
# $$
# \hat\varepsilon \leftarrow \frac{x_t - \sqrt{\bar\alpha_t}\,\operatorname{clip}(\hat x_0)}{\sqrt{1-\bar\alpha_t}} ,
# $$
#
# which is what `ddim_step` does by default (`recompute_eps=True`; OpenAI's guided-diffusion does the same, and
# DDPM's clipped posterior mean does it implicitly). diffusers' `DDIMScheduler` keeps the model's $\tilde\varepsilon$
# unless asked (`use_clipped_model_output=True`). Without guidance the difference is small, because
# $\hat x_0$ rarely leaves $[-1, 1]$ by much. Guidance, though, pushes $\hat x_0$ far past the range at every step.
# With the model's $\tilde\varepsilon$ kept, the overshoot that the clip removed from $\hat x_0$ still sits in
# $\tilde\varepsilon$, and the step adds it back as if it were noise: where $\hat x_0$ is pushed below $-1$ (so
# $\tilde\varepsilon$ is too large), every step lifts pixels that should stay dark. The shapes swell, grow stray
# texture and lose their class, and the mean pixel value rises. Same noise, same scales, the two choices side by
# side (compare the mean pixel values with the real images'):

# %%
# NBVAL_IGNORE_OUTPUT
pair_scales = [3.0, 5.0]
columns, names = [], []
for s in pair_scales:
    for recompute in (True, False):
        columns.append(guidance_grid(model, schedule, range(10), [s], steps=20, seed=0, recompute_eps=recompute)[:, 0])
        names.append(f"s = {s:g}\n{'ε̂ re-derived' if recompute else 'model ε̂ kept'}")
fig = plot_image_table(torch.stack(columns, dim=1), row_labels=FASHION_MNIST_CLASSES, col_labels=names, cell=1.05,
                       title="20 DDIM steps, clipped x̂_0: ε̂ re-derived (default) or kept (diffusers' default)")

# %%
# NBVAL_IGNORE_OUTPUT
for s in pair_scales:
    for recompute in (True, False):
        row, images = sample_quality(model, schedule, evaluator, n, steps=20, guidance_scale=s, seed=0, batch=64,
                                     recompute_eps=recompute)
        print(f"s = {s:g}, {'ε̂ re-derived' if recompute else 'model ε̂ kept'}: FID {row['fid']:7.2f}, "
              f"accuracy {row['accuracy']:.2f}, mean pixel {images.mean():+.3f}")
print(f"real test images: mean pixel {to_float(test.images[:n]).mean():+.3f}")

# %% [markdown]
# The re-derived $\hat\varepsilon$ is the default everywhere in `helpers`, including section 5 above; pass
# `recompute_eps=False` to any DDIM sampler to reproduce diffusers' default. (`python -m benchmarks.quality
# --keep-model-eps` measures it at 2,000 samples.)
#
# ## 7. Choose class, scale and steps
#
# The widget samples eight images of the chosen class from the same eight noises, so only the setting changes
# them; each setting is sampled once and cached (a guided 20-step batch takes a few seconds on a CPU). Below it,
# a static grid of one noise for readers of the rendered notebook: steps against scale, for the widget's class.

# %%
# NBVAL_IGNORE_OUTPUT
steps_options = quick_or_full((10, 20), (10, 20, 50))
guidance_explorer(model, schedule, FASHION_MNIST_CLASSES, scales=scales, steps_options=steps_options, n=8, seed=0,
                  value=(7, 3.0, 20))

# %%
# NBVAL_IGNORE_OUTPUT
cls = 7
table = torch.stack([guidance_grid(model, schedule, [cls], scales, steps=st, seed=0)[0] for st in steps_options])
fig = plot_image_table(table, row_labels=[f"{st} steps" for st in steps_options],
                       col_labels=[f"s = {s:g}" for s in scales],
                       title=f"{FASHION_MNIST_CLASSES[cls]}: steps × scale, one x_T")

# %% [markdown]
# ## Try it
#
# - Ask for $s = 15$: what breaks first, the shapes or the pixel values? Try it with and without `clip_x0`.
# - Pick the scale with the lowest FID above and compare it to $s = 1$ at 50 steps.
# - Use a negative scale, $s = -1$: the sampler now pushes *away* from the class. What comes out?
# - Train a small model without label dropout (`TrainConfig(p_uncond=0.0)`, notebook 05) and guide it: what does
#   the untrained $\varnothing$ row do to $\hat\varepsilon_u$?
#
# ## Summary
#
# - A class-conditional model samples with $s = 1$; guidance needs the unconditional prediction too, which label
#   dropout ($p_\text{uncond}$, null label `num_classes`) teaches the same network.
# - $\tilde\varepsilon = \hat\varepsilon_u + s(\hat\varepsilon_c - \hat\varepsilon_u)$; Ho & Salimans' $w$ is $s - 1$.
# - The label changes $\hat\varepsilon$ only slightly; guidance amplifies that change.
# - Larger $s$: higher class accuracy, less diversity; FID has a minimum in between. Guided steps cost two
#   network passes.
# - With $\hat x_0$ clipped, the step must use the $\hat\varepsilon$ re-derived from it (`recompute_eps=True`, the
#   default); keeping the guided $\tilde\varepsilon$ washes the samples out.
#
# Next: [09 · Evaluation](09_evaluation.ipynb).
