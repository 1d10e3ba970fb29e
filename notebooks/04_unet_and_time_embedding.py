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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/04_unet_and_time_embedding.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F04_unet_and_time_embedding.ipynb)

# %% [markdown]
# # 04 · The U-Net and the time embedding
#
# One network $\varepsilon_\theta(x_t, t)$ predicts the noise at every one of the $T$ noise levels, so it has to be
# told which level it is looking at. It gets $t$ as a vector of sines and cosines, the **sinusoidal time
# embedding**, and it is a **U-Net**: an encoder that halves the resolution, a middle at the lowest resolution,
# and a decoder that doubles it back, with skip connections between the two halves so the output keeps the
# input's detail. This notebook opens both networks in `helpers.unet` and looks inside them.
#
# **What you will learn**
# - the sinusoidal embedding: its formula, its frequencies $\omega_i$, and why nearby timesteps get similar vectors;
# - the report's minimal U-Net (`style="seed"`, 3,281,153 parameters) block by block, traced with forward hooks;
# - the modern style (residual blocks, attention, concatenated skips) and where its parameters go;
# - where $t$ and the class label $y$ enter each network, read from the source and checked by experiment;
# - how the two styles compare when trained for the same time (the benchmark).
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$; images are float
# tensors `[B, C, H, W]` in $[-1, 1]$; the network is called `model(x_t, t)` or `model(x_t, t, y)`.

# %%
# Colab only: install helpers from the repository. Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step"],
                   check=True)

# %%
# %matplotlib inline
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import helpers
import helpers.unet
from helpers.inspect_model import (blocks_changed, format_table, parameter_table, plot_trace, source_lines,
                                   trace_shapes)
from helpers.plotting import show_source
from helpers.unet import UNet, count_parameters, timestep_embedding

torch.manual_seed(0)

# %% [markdown]
# ## 1. The sinusoidal time embedding
#
# The timestep is a single integer between 0 and $T-1$. Fed in as one number, it would be a single input whose
# scale dwarfs everything else, and any function of $t$ the network needs would have to be built from it by the
# first layers. Instead $t$ is spread over $d$ numbers: the cosine and the sine of $t$ at $d/2$ frequencies
# spaced geometrically from 1 radian per step down to about $1/P$ (the Transformer's positional encoding,
# which DDPM borrowed):
#
# $$e(t) = \big[\cos(\omega_0 t), \dots, \cos(\omega_{d/2-1} t),\ \sin(\omega_0 t), \dots, \sin(\omega_{d/2-1} t)\big]
# \in \mathbb{R}^d, \qquad \omega_i = P^{-i/(d/2)},\quad P = 10000 .$$
#
# The cosine half comes first, as in the report. Some code bases put the sine half first: the same
# information in a different order, so the networks learn equally well, but their weights are not
# interchangeable. The seed U-Net uses $d$ = `base_channels` = 128.

# %%
show_source(timestep_embedding)

# %%
# NBVAL_CHECK_OUTPUT
T, d = 300, 128               # the report's T for (Fashion-)MNIST; the seed U-Net embeds t in d = base_channels
t = torch.arange(T)
emb = timestep_embedding(t, d)                                         # [T, d]
omega = 10000.0 ** (-torch.arange(d // 2, dtype=torch.float64) / (d // 2))
period = 2 * math.pi / omega                                           # in steps

print("emb:", tuple(emb.shape), emb.dtype)
print("e(0) = [1, …, 1, 0, …, 0]:", bool((emb[0, : d // 2] == 1).all() and (emb[0, d // 2 :] == 0).all()))
norm_ok = torch.allclose(emb.norm(dim=1), torch.full((T,), math.sqrt(d / 2)))
print(f"‖e(t)‖ = √(d/2) = {math.sqrt(d / 2):.3f} for every t:", norm_ok)
print(f"ω_0  = {omega[0]:.3f} rad/step, period {period[0]:.2f} steps")
print(f"ω_{d // 2 - 1} = {omega[-1]:.2e} rad/step, period {period[-1]:,.0f} steps")
print(f"frequencies that complete a period within T = {T} steps: {int((period < T).sum())} of {d // 2}")

# %% [markdown]
# Every row of the heat map below is one $e(t)$. The left columns of each half turn fast, so they tell
# neighbouring timesteps apart; the right columns turn slowly and say roughly where on the chain $t$ is. Past
# about $i = 27$ a dimension does not complete a period within $T = 300$ steps: there $\cos(\omega_i t) \approx 1$
# and $\sin(\omega_i t) \approx \omega_i t$, a nearly linear code of $t$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1.25, 1, 1]})
im = axes[0].imshow(emb, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
axes[0].axvline(d / 2 - 0.5, color="k", lw=1)
axes[0].set(xlabel="dimension (cos half | sin half)", ylabel="t", title=f"e(t) for t = 0 … {T - 1}, d = {d}")
fig.colorbar(im, ax=axes[0], fraction=0.05)

axes[1].semilogy(omega, ".-", label="ω_i")
axes[1].axhline(2 * math.pi / T, color="C3", ls="--", label=f"one period per T = {T} steps")
axes[1].set(xlabel="i", ylabel="ω_i (radians per step)", title="frequencies ω_i = 10000^(−i/(d/2))")
axes[1].legend()

for i in (10, 20, 30, 45, 63):
    axes[2].plot(t, emb[:, i], label=f"i = {i} ({period[i]:,.0f} steps)")
axes[2].set(xlabel="t", ylabel="cos(ω_i t)", title="single dimensions over t (label: period)", ylim=(-1.1, 1.9),
            yticks=[-1, -0.5, 0, 0.5, 1])
axes[2].legend(fontsize=8, loc="upper center", ncol=2)
fig.tight_layout()

# %% [markdown]
# ## 2. Nearby timesteps look alike
#
# Each (cos, sin) pair is a point on the unit circle, so $\lVert e(t)\rVert^2 = d/2$ for every $t$, and since
# $\cos a \cos b + \sin a \sin b = \cos(a - b)$,
#
# $$\cos\angle\big(e(t), e(s)\big) = \frac{e(t)\cdot e(s)}{\lVert e(t)\rVert\,\lVert e(s)\rVert}
# = \frac{2}{d}\sum_{i=0}^{d/2-1} \cos\big(\omega_i\,(t-s)\big).$$
#
# The similarity depends only on the gap $t - s$, not on where on the chain the two timesteps are: the $T \times T$
# matrix is constant along its diagonals. A network that learns what to do at $t$ gets a head start at $t \pm 1$.

# %%
# NBVAL_CHECK_OUTPUT
unit = emb / emb.norm(dim=1, keepdim=True)
sim = unit @ unit.T                                                    # [T, T] cosine similarities
gap = (t[:, None] - t[None, :]).double()
formula = torch.cos(gap[..., None] * omega).mean(-1)                   # (2/d) Σ_i cos(ω_i (t − s))
print("max |similarity − formula| < 1e-5:", bool((sim.double() - formula).abs().max() < 1e-5))
for g in (1, 5, 20, 100, 250):
    diag = sim.diagonal(g)
    print(f"gap {g:3d}: similarity {diag.mean():.3f}, the same all along the diagonal: {bool(diag.std() < 1e-5)}")

# %%
gaps = torch.arange(T, dtype=torch.float64)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.2]})
im = axes[0].imshow(sim, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
axes[0].set(xlabel="s", ylabel="t", title=f"cos∠(e(t), e(s)), d = {d}")
fig.colorbar(im, ax=axes[0], fraction=0.046)
for dim in (128, 32):                                                  # seed at C = 128, modern at C = 32
    w = 10000.0 ** (-torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    axes[1].plot(gaps, torch.cos(gaps[:, None] * w).mean(-1), label=f"d = {dim}")
axes[1].set(xlabel="gap |t − s| (steps)", ylabel="cosine similarity", ylim=(0, 1.02),
            title="similarity against the gap")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# Similarity falls fast over the first few steps of gap, then slowly. With $d = 32$ (the modern style at
# `base_channels=32`) there are only 16 frequencies, spaced further apart, so the average over them swings more:
# some timesteps 100 or 200 steps apart look as alike as neighbours 30 steps apart. The modern style puts a
# learned MLP on top of the embedding (section 4), which can reshape these similarities during training.
#
# ## 3. The report's U-Net: `style="seed"`
#
# The report's network, at `base_channels` $C = 128$ and one input channel:
#
# | level | encoder | decoder |
# | --- | --- | --- |
# | 28 × 28 | conv 3×3, 1 → $C$ | conv 3×3, $C$ → 1 (no norm, no activation) |
# | 28 → 14 | stride-2 conv, $C$ → $C$ | nearest ×2 upsample + conv, $C$ → $C$ |
# | 14 × 14 | conv, $C$ → $2C$ | conv, $2C$ → $C$ |
# | 14 → 7 | stride-2 conv, $2C$ → $2C$ | nearest ×2 upsample + conv, $2C$ → $2C$ |
# | 7 × 7 | residual block (two convs), then $+$ time and class embedding | |
#
# Every layer but the last is followed by ReLU(GroupNorm(32 groups, no learned scale)), so normalisation adds
# no parameters. Each encoder output is a skip connection, **added** (not concatenated) to the decoder input at
# the same resolution, so channel counts never grow. The report's CIFAR-10 variant adds a third level
# ($C$, $2C$, $4C$ = 128, 256, 512 channels; `depth=3`).

# %%
show_source(UNet._build_seed, UNet._forward_seed)

# %% [markdown]
# `trace_shapes` registers a forward hook on every block (a direct child of the model, with `nn.ModuleList`
# entries listed one by one), runs one forward pass, and records each block's input and output shapes
# in the order the blocks run; the hooks are removed afterwards.

# %%
show_source(trace_shapes)

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
seed_grey = UNet(in_channels=1, base_channels=128, style="seed").eval()
seed_colour = UNet(in_channels=3, base_channels=128, style="seed", depth=3).eval()   # the CIFAR-10 variant
traces = {}
for name, model, x in [("seed, 28×28 grey", seed_grey, torch.zeros(1, 1, 28, 28)),
                       ("seed, 32×32 colour, depth 3", seed_colour, torch.zeros(1, 3, 32, 32))]:
    traces[name] = trace_shapes(model, x, 0)
    print(f"{name}: {count_parameters(model):,} parameters")
    print(format_table(traces[name], ["step", "block", "type", "in_shape", "out_shape"]), end="\n\n")

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.2))
for ax, (name, calls) in zip(axes, traces.items()):
    plot_trace(calls, ax=ax, title=name)

# %% [markdown]
# The blocks run down the "U" and back up; the time embedding (the red triangle, a vector of $2C$ numbers) is
# computed just before the middle block, where it is added. Where do the parameters sit? A 3×3 convolution from
# $c_\text{in}$ to $c_\text{out}$ channels has $9\,c_\text{in} c_\text{out} + c_\text{out}$ of them, so the blocks
# at $2C$ channels dominate: the middle residual block alone holds over a third.

# %%
# NBVAL_CHECK_OUTPUT
print("seed, 28×28 grey, C = 128 (blocks in the order they run)")
print(format_table(parameter_table(seed_grey, order=traces["seed, 28×28 grey"])), end="\n\n")
print("seed, 32×32 colour, depth 3, C = 128")
print(format_table(parameter_table(seed_colour, order=traces["seed, 32×32 colour, depth 3"])))

# %% [markdown]
# ## 4. The modern style: `style="modern"`
#
# `helpers` also offers the now-common design (DDPM's own network, in miniature): every resolution has
# **residual blocks** that are each told $t$; the middle has a self-attention layer between two residual blocks;
# skips are **concatenated**, so the decoder's blocks take more channels in than they put out; GroupNorm has a
# learned scale and shift; the activation is SiLU; and the output convolution starts at zero, so the untrained
# network predicts $\hat\varepsilon = 0$ and the first loss is $E[\varepsilon^2] = 1$. The time embedding goes
# through an MLP ($C \to 4C \to 4C$) and every residual block adds its own linear projection of it:
#
# $$h = \mathrm{conv}_1\big(\mathrm{SiLU}(\mathrm{GN}(x))\big) + W_\text{emb}\,\mathrm{emb}(t, y),\qquad
# \text{out} = x' + \mathrm{conv}_2\big(\mathrm{dropout}(\mathrm{SiLU}(\mathrm{GN}(h)))\big)$$
#
# where $x'$ is $x$, or a 1×1 convolution of it when the channel count changes. This project trains it at
# `base_channels=32` (the training default) with its default channel multipliers (1, 2, 2): 32 channels at
# 28 × 28, 64 at 14 × 14 and at 7 × 7.

# %%
show_source(helpers.unet._ResBlock, UNet._forward_modern)

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
modern_grey = UNet(in_channels=1, base_channels=32, style="modern").eval()
modern_colour = UNet(in_channels=3, base_channels=32, style="modern").eval()
for name, model, x in [("modern, 28×28 grey", modern_grey, torch.zeros(1, 1, 28, 28)),
                       ("modern, 32×32 colour", modern_colour, torch.zeros(1, 3, 32, 32))]:
    traces[name] = trace_shapes(model, x, 0)
    print(f"{name}: {count_parameters(model):,} parameters")
    print(format_table(traces[name], ["step", "block", "type", "in_shape", "out_shape"]), end="\n\n")

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 4.2))
for ax, name in zip(axes, ["modern, 28×28 grey", "modern, 32×32 colour"]):
    plot_trace(traces[name], ax=ax, title=name)

# %% [markdown]
# Look at the decoder's `in_shape` column above: `up.0` takes 128 channels in (64 from below, 64 from the skip)
# and puts 64 out. Concatenation costs parameters, which is where most of them sit:

# %%
# NBVAL_CHECK_OUTPUT
print("modern, 28×28 grey, C = 32")
print(format_table(parameter_table(modern_grey, order=traces["modern, 28×28 grey"])))

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, (name, model, calls) in zip(axes, [("seed, C = 128", seed_grey, traces["seed, 28×28 grey"]),
                                           ("modern, C = 32", modern_grey, traces["modern, 28×28 grey"])]):
    rows = parameter_table(model, order=calls)[:-1]
    embeds = ("time_embed", "time_mlp", "class_embed")                 # the blocks that embed t and y
    ax.barh([r["block"] for r in rows][::-1], [r["params"] / 1e3 for r in rows][::-1],
            color=["C3" if r["block"] in embeds else "C0" for r in rows][::-1])
    ax.set(xlabel="parameters (thousands)", title=f"{name}: {count_parameters(model):,} parameters")
    ax.tick_params(axis="y", labelsize=8)
fig.tight_layout()

# %% [markdown]
# ## 5. Where $t$ and $y$ enter
#
# The lines of `helpers/unet.py` that build and use the embeddings (line numbers in the file):

# %%
for fn in (UNet._build_seed, UNet._forward_seed, UNet._build_modern, UNet._forward_modern,
           helpers.unet._ResBlock.forward):
    print(f"{fn.__qualname__}:")
    for n, text in source_lines(fn, r"\bemb\b|embed|time_mlp"):
        print(f"    unet.py:{n:<4d} {text}")

# %% [markdown]
# - **Seed style.** `_forward_seed` turns $t$ into $e(t)$ with $d = C$, then `time_embed` (Linear $C \to 2C$) and
#   a ReLU; a conditional model adds `class_embed(y)`, an `nn.Embedding(num_classes + 1, 2C)` (the extra row,
#   index `num_classes`, is the null label that classifier-free guidance needs: `model(x, t)` on a conditional
#   model uses it). The sum is added **once**, broadcast over the 7 × 7 pixels, to the middle block's output.
#   The encoder and the middle block never see $t$ or $y$.
# - **Modern style.** `_forward_modern` passes $e(t)$ through `time_mlp`, adds `class_embed(y)`
#   (`Embedding(num_classes + 1, 4C)`), and hands the result to **every** residual block, each of which adds its
#   own projection `self.emb(emb)` after its first convolution.
#
# An experiment confirms it: run each (conditional) network twice, changing only $t$ (0 against 299) or only
# $y$ (class 3 against the null label), and ask which blocks' outputs change. `blocks_changed` does this with
# the same forward hooks: a block that never sees $t$ gives bit-identical outputs.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
for style, C in [("seed", 128), ("modern", 32)]:
    model = UNet(in_channels=1, base_channels=C, num_classes=10, style=style).eval()
    x = torch.randn(1, 1, 28, 28)
    by_t = blocks_changed(model, (x, 0, 3), (x, 299, 3))       # only t differs
    by_y = blocks_changed(model, (x, 150, 3), (x, 150, 10))    # only y differs (10 = the null label)
    rows = [{"block": a["block"], "out_shape": a["out_shape"], "t changes it": "yes" if a["changed"] else "-",
             "y changes it": "yes" if b["changed"] else "-"} for a, b in zip(by_t, by_y)]
    print(f"style = {style!r}, C = {C}, conditional")
    print(format_table(rows), end="\n\n")

# %% [markdown]
# In the seed style the whole encoder and the middle block are blind to $t$ and $y$: every decision that depends
# on the noise level or the class is made in the decoder, from one vector added at 7 × 7. In the modern style
# everything after `conv_in` depends on both, except the very last row: `conv_out` is zero at initialisation, so
# the untrained network outputs $\hat\varepsilon = 0$ whatever $t$ and $y$ are. One training step moves it off
# zero (a test in `tests/test_unet.py` checks exactly that).
#
# ## 6. Seed against modern at equal training time
#
# More parameters are not automatically better when compute is fixed: a network three times smaller takes
# more optimiser steps in the same minutes. `benchmarks/compare_styles.py` trains each candidate on the
# Fashion-MNIST training set for the same number of minutes (same optimiser, batch size 128, EMA of the
# weights), then measures the EMA weights' $\varepsilon$-prediction error on held-out test images, with the same
# $t$ and $\varepsilon$ for every model. Lower is better.

# %%
# NBVAL_IGNORE_OUTPUT
bench = Path(helpers.__file__).resolve().parent.parent / "benchmarks" / "results" / "compare_styles.json"
if bench.exists():
    report = json.loads(bench.read_text())
    rows = [{"candidate": name, "style": r["model"]["style"], "C": r["model"]["base_channels"],
             "parameters": r["parameters"], "minutes": r["minutes"], "steps": r["steps"],
             "images seen": r["images_seen"], "held-out ε-MSE (EMA)": r["heldout_eps_mse_ema"]}
            for name, r in report["results"].items()]
    print("command: ", report["command"])
    print("hardware:", report["hardware"], end="\n\n")
    print(format_table(rows, floatfmt={"minutes": ".1f", "held-out ε-MSE (EMA)": ".4f"}))
    best = min(rows, key=lambda r: r["held-out ε-MSE (EMA)"])
    print(f"\nlowest held-out error: {best['candidate']} ({best['parameters']:,} parameters, {best['steps']:,} steps)")

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    names = [r["candidate"] for r in rows]
    bars = axes[0].bar(names, [r["held-out ε-MSE (EMA)"] for r in rows], color=[f"C{i}" for i in range(len(rows))])
    axes[0].bar_label(bars, labels=[f"{r['held-out ε-MSE (EMA)']:.4f}\n{r['parameters'] / 1e6:.2f} M params"
                                    for r in rows], fontsize=8)
    axes[0].set(ylabel="held-out ε-MSE (EMA weights)", title="lower is better")
    axes[0].margins(y=0.25)
    bars = axes[1].bar(names, [r["steps"] / r["minutes"] for r in rows], color=[f"C{i}" for i in range(len(rows))])
    axes[1].bar_label(bars, fmt="%.0f", fontsize=8)
    axes[1].set(ylabel="optimiser steps per minute", title="throughput on this hardware")
    axes[1].margins(y=0.15)
    minutes = ", ".join(f"{r['minutes']:.1f}" for r in rows)
    fig.suptitle(f"equal training time ({minutes} minutes)")
    fig.tight_layout()
else:
    print(f"No benchmark results yet ({bench} is missing). From the repository root, run\n"
          "    python benchmarks/compare_styles.py --minutes 6\n"
          "(about 6 minutes per candidate on a CPU), then re-run this cell.")

# %% [markdown]
# Read the error together with the throughput: at equal minutes, a network that is cheaper per step takes more
# steps, and early in training more steps usually matter more than more parameters. The held-out error uses the
# same images, $t$ and $\varepsilon$ for every model, so the comparison is fair between these trained weights; but
# each candidate was trained once, for minutes rather than the report's 200 epochs, so close results could swap
# with another seed or a longer budget. Sample quality is measured in notebook 09.
#
# ## Try it
#
# - Set `d = 32` in section 1 and re-run sections 1–2: how many frequencies complete a period within $T$ now?
# - Call `timestep_embedding(t, 128, max_period=100)`: what happens to the similarity between $t = 0$ and $t = 250$,
#   and why might that be a problem?
# - Print `parameter_table(UNet(style="seed", base_channels=64))`: by what factor do the parameters shrink when $C$
#   halves, and why (hint: $9\,c_\text{in} c_\text{out}$)?
# - Trace `UNet(style="modern", base_channels=32, attention=False, num_res_blocks=2)`: which rows appear and
#   which disappear?
# - In section 5, give the modern network's output layer random weights
#   (`torch.nn.init.normal_(model.conv_out.weight, std=0.05)`) before the experiment: which rows change?
# - Call `seed_grey(torch.zeros(1, 1, 30, 30), 0)` and read the error: why must the size be a multiple of 4?
#
# ## Summary
#
# - The sinusoidal embedding writes $t$ as $d/2$ (cos, sin) pairs at frequencies $\omega_i = 10000^{-i/(d/2)}$, cos
#   half first; every $e(t)$ has norm $\sqrt{d/2}$, and the cosine similarity of two embeddings depends only on
#   the gap $t - s$.
# - The report's U-Net (`style="seed"`, 3,281,153 parameters at $C = 128$) is convolutions only, with added skips
#   and parameter-free GroupNorm; $t$ and $y$ enter once, after the middle block, so the encoder is blind
#   to them.
# - The modern style tells every residual block about $t$ and $y$, concatenates skips, uses attention at the lowest
#   resolution and starts from $\hat\varepsilon = 0$; at $C = 32$ it has a third of the seed's parameters.
# - Class conditioning is `nn.Embedding(num_classes + 1, ·)`: the extra row is the null label, and a conditional
#   model called without $y$ uses it.
# - Forward hooks (`trace_shapes`) show any network's anatomy without editing its code.
#
# **Next:** [05 · Training](05_training.ipynb): teaching the network to predict $\varepsilon$.
