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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/notebooks/04_unet_and_time_embedding.ipynb) [![launch Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/diffusion-step-by-step/diffusion-step-by-step/main?labpath=notebooks%2F04_unet_and_time_embedding.ipynb)

# %% [markdown]
# # 04 · The U-Net and the time embedding
#
# One network $\varepsilon_\theta(x_t, t)$ predicts the noise at every one of the $T$ noise levels, so it has to be
# told which level it is looking at. It gets $t$ as a vector of cosines and sines, the **sinusoidal time
# embedding**, and it is a **U-Net**: an encoder that halves the resolution, a middle at the lowest resolution,
# and a decoder that doubles it back, with skip connections between the two halves so the output keeps the
# input's detail. This notebook opens both networks in `helpers.unet` and looks inside them.
#
# **What you will learn**
# - the sinusoidal embedding: its formula, its frequencies $\omega_i$, and why nearby timesteps get similar vectors
#   (and you write it yourself, with a checker);
# - the report's minimal U-Net (`SeedUNet`, `style="seed"`, 3,281,153 parameters) block by block, traced with
#   forward hooks, skips included;
# - our modern U-Net (`ModernUNet`, `style="modern"`: residual blocks, attention, concatenated skips) and where its
#   parameters go;
# - where $t$ and the class label $y$ enter each network, read from the source and checked by experiment;
# - what five minutes of training say about the two networks, and what they cannot say.
#
# [Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ (index $t$ is the
# paper's step $t+1$: $x_0$ always means the clean image, while the noised image at index $t = 0$ is one noising
# step from it, the paper's $x_1$); images are float tensors `[B, C, H, W]` in $[-1, 1]$; the network is called
# `model(x_t, t)` or `model(x_t, t, y)`. "The report" is the technical report this series reproduces (Cheng Yu, 2025,
# arXiv:2512.07201; see the [README](../README.md)).

# %%
# Colab only: install helpers (the package alone, about 18 MB). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ https://github.com/diffusion-step-by-step/diffusion-step-by-step/archive/refs/heads/main.zip"],
                   check=True)

# %%
# %matplotlib inline
import json
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import helpers
from helpers.viz.inspect_model import (blocks_changed, embedding_inputs, format_table, parameter_table,
                                       skip_connections, source_lines, trace_shapes)
from helpers.viz.unet_diagram import plot_trace
from helpers.viz import show_source
from helpers.unet import (ModernUNet, ResBlock, SeedUNet, UNet, count_parameters, norm_act,
                          timestep_embedding)

torch.manual_seed(0)

# %% [markdown]
# ## 1. The sinusoidal time embedding
#
# The timestep is a single integer between 0 and $T-1$. Fed in as one number (even rescaled to $t/T$), it would be a
# single input, and any function of $t$ the network needs would have to be built from it by the first layers. Instead $t$ is spread over $d$ numbers: the cosine and the sine of $t$ at $d/2$ frequencies
# spaced geometrically from 1 radian per step down to about $1/P$ (the Transformer's positional encoding,
# which DDPM borrowed):
#
# $$e(t) = \big[\cos(\omega_0 t), \dots, \cos(\omega_{d/2-1} t),\ \sin(\omega_0 t), \dots, \sin(\omega_{d/2-1} t)\big]
# \in \mathbb{R}^d, \qquad \omega_i = P^{-i/(d/2)},\quad i = 0, \dots, d/2 - 1,\quad P = 10000 .$$
#
# The cosine half comes first, as in the report and in OpenAI's guided-diffusion. The Transformer interleaves
# sine and cosine, and DDPM's own code puts the sine half first (and divides the exponent by $d/2 - 1$, so its
# lowest frequency is exactly $1/P$). Swapping the halves is a fixed permutation of the inputs of the first
# Linear layer, whose initial weights are drawn independently of each other, so a network learns equally well
# either way; trained weights are not interchangeable.
# The seed U-Net uses $d$ = `base_channels` = 128.
#
# ### Exercise: the sinusoidal embedding
#
# Write `my_timestep_embedding(t, dim)`: for a LongTensor $t$ of shape `[B]` and an even $d$ = `dim`, return the
# float32 tensor `[B, d]` whose row $b$ is $e(t_b)$ above: the $d/2$ cosines $\cos(\omega_i t_b)$ first, then the
# $d/2$ sines, with $\omega_i = P^{-i/(d/2)}$ and $P = 10000$. The checker compares it with
# `helpers.timestep_embedding` for $d$ = 8, 12 and 32 and $t$ up to 999, and names the usual mistakes (sine half
# first, halves interleaved, exponent divided by $d/2 - 1$ or by $d$).

# %%
import math

import torch


def my_timestep_embedding(t, dim):
    """e(t) = [cos(ω_0 t), …, cos(ω_{d/2−1} t), sin(ω_0 t), …, sin(ω_{d/2−1} t)] with ω_i = 10000^(−i/(d/2))."""
    # BEGIN SOLUTION ω_i = 10000^(−i/(d/2)) for i = 0 … d/2 − 1; the d/2 cosines of ω_i t first, then the sines
    half = dim // 2
    omega = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * omega[None, :]                       # [B, d/2]: ω_i t_b
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    # END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
from helpers.exercises import check_timestep_embedding

check_timestep_embedding(my_timestep_embedding)

# %% [markdown]
# The helper the networks call, which the checker compared yours with:

# %%
show_source(timestep_embedding)

# %%
# NBVAL_CHECK_OUTPUT
T, d = 300, 128               # the report's T for (Fashion-)MNIST; the seed U-Net embeds t in d = base_channels
t = torch.arange(T)
emb = timestep_embedding(t, d)                                         # [T, d]
omega = 10000.0 ** (-torch.arange(d // 2, dtype=torch.float64) / (d // 2))
period = 2 * math.pi / omega                                           # in steps
angle = omega * (T - 1)                                                # radians dimension i turns over the chain

print("emb:", tuple(emb.shape), emb.dtype)
print("e(0) = [1, …, 1, 0, …, 0]:", bool((emb[0, : d // 2] == 1).all() and (emb[0, d // 2 :] == 0).all()))
norm_ok = torch.allclose(emb.norm(dim=1), torch.full((T,), math.sqrt(d / 2)))
print(f"‖e(t)‖ = √(d/2) = {math.sqrt(d / 2):.3f} for every t:", norm_ok)
print(f"ω_0  = {omega[0]:.3f} rad/step, period {period[0]:.2f} steps")
print(f"ω_{d // 2 - 1} = {omega[-1]:.2e} rad/step, period {period[-1]:,.0f} steps")
turns = int((angle >= 2 * math.pi).sum())
small = int(torch.nonzero(angle <= 0.5)[0])                            # first i with ω_i (T − 1) ≤ 0.5
monotone = int(torch.nonzero(angle <= math.pi)[0])                     # first i whose cosine never turns back
print(f"i = 0 … {turns - 1}: ω_i (T − 1) ≥ 2π, at least one full period within T = {T} steps ({turns} of {d // 2})")
example = 30 if turns <= 30 < small else (turns + small) // 2          # i = 30 at d = 128
print(f"i = {turns} … {small - 1}: less than one period, but ω_i (T − 1) > 0.5 ({small - turns} of {d // 2}); "
      f"e.g. cos(ω_{example} · {T - 1}) = {math.cos(angle[example]):.2f}")
print(f"    from i = {monotone} on, ω_i (T − 1) ≤ π: cos(ω_i t) falls monotonically over the whole chain")
print(f"i = {small} … {d // 2 - 1}: ω_i (T − 1) ≤ 0.5 (ω_{small - 1} · {T - 1} = {angle[small - 1]:.3f}, "
      f"ω_{small} · {T - 1} = {angle[small]:.3f}), the small-angle regime ({d // 2 - small} of {d // 2})")
tt = torch.arange(1, T, dtype=torch.float64)
rel = (1 - torch.sin(omega[small:, None] * tt) / (omega[small:, None] * tt)).max()
print(f"    there cos(ω_i t) ≥ {torch.cos(angle[small:]).min():.3f} and sin(ω_i t) is within {100 * rel:.1f} % of ω_i t")

# %% [markdown]
# Every row of the heat map below is one $e(t)$. The left columns of each half turn fast, so they tell
# neighbouring timesteps apart; the right columns turn slowly and say roughly where on the chain $t$ is. Over the
# $T = 300$ steps of the chain, the 64 frequencies fall into three regimes (the middle panel marks them):
#
# - $i \le 26$: at least one full period, so a dimension alone repeats itself along the chain;
# - $27 \le i \le 44$: less than one period, but more than 0.5 radian: the cosine moves well away from 1 at the
#   low end of this band ($\cos(\omega_{30} \cdot 299) = -0.66$, the green curve on the right) and less and less
#   towards its high end; from $i = 32$ on it falls monotonically over the whole chain;
# - $i \ge 45$: $\omega_i (T-1) \le 0.5$, the small-angle regime: $\cos(\omega_i t) \ge 0.896$ stays near 1 and
#   $\sin(\omega_i t)$ is within 3.5 % of $\omega_i t$, a nearly linear code of $t$.
#
# The 0.5-radian boundary is our choice, not a sharp change: the frequencies fall smoothly, and $i = 44$
# ($\omega_{44} \cdot 299 = 0.532$) differs little from $i = 45$ ($0.460$).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1.25, 1, 1]})
im = axes[0].imshow(emb, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
axes[0].axvline(d / 2 - 0.5, color="k", lw=1)
axes[0].set(xlabel="dimension (cos half | sin half)", ylabel="t", title=f"e(t) for t = 0 … {T - 1}, d = {d}")
fig.colorbar(im, ax=axes[0], fraction=0.05, label="value of e(t)_i")

axes[1].semilogy(omega, ".-", label="ω_i")
axes[1].axhline(2 * math.pi / (T - 1), color="C3", ls="--", label="one period in T − 1 steps")
axes[1].axhline(0.5 / (T - 1), color="C2", ls=":", label="ω_i (T − 1) = 0.5")
for edge in (turns - 0.5, small - 0.5):
    axes[1].axvline(edge, color="0.6", lw=0.8)
for x, text in [((turns - 1) / 2, "≥ 1 period"), ((turns + small - 1) / 2, "< 1 period"),
                ((small + d // 2 - 1) / 2, "small\nangle")]:
    axes[1].text(x, 1.5, text, ha="center", va="top", fontsize=9)
axes[1].set(xlabel="i", ylabel="ω_i (radians per step)", title="frequencies ω_i = 10000^(−i/(d/2))",
            ylim=(5e-5, 2))
axes[1].legend(fontsize=8, loc="lower left")

for f in (0.16, 0.32, 0.48, 0.71, 1.0):                               # i = 10, 20, 30, 45, 63 at d = 128
    i = round(f * (d // 2 - 1))
    axes[2].plot(t, emb[:, i], label=f"i = {i} ({period[i]:,.0f} steps)")
axes[2].set(xlabel="t", ylabel="cos(ω_i t), dimension i of e(t)", title="single dimensions over t (label: period)",
            ylim=(-1.1, 1.9), yticks=[-1, -0.5, 0, 0.5, 1])
axes[2].legend(fontsize=8, loc="upper center", ncol=2)
fig.tight_layout()

# %% [markdown]
# ## 2. Nearby timesteps look alike
#
# Each (cos, sin) pair is a point on the unit circle, so $\lVert e(t)\rVert^2 = d/2$ for every $t$, and since
# $\cos a \cos b + \sin a \sin b = \cos(a - b)$, for two timesteps $t$ and $t'$
#
# $$\cos\angle\big(e(t), e(t')\big) = \frac{e(t)\cdot e(t')}{\lVert e(t)\rVert\,\lVert e(t')\rVert}
# = \frac{2}{d}\sum_{i=0}^{d/2-1} \cos\big(\omega_i\,(t-t')\big).$$
#
# The similarity depends only on the gap $t - t'$, not on where on the chain the two timesteps are: the
# $T \times T$ matrix is constant along its diagonals. The first layer that reads $e(t)$ is linear, so at
# initialisation it answers similarly for timesteps whose embeddings are similar.

# %%
# NBVAL_CHECK_OUTPUT
unit = emb / emb.norm(dim=1, keepdim=True)
sim = unit @ unit.T                                                    # [T, T] cosine similarities
gap = (t[:, None] - t[None, :]).double()
formula = torch.cos(gap[..., None] * omega).mean(-1)                   # (2/d) Σ_i cos(ω_i (t − t′))
print("max |similarity − formula| < 1e-5:", bool((sim.double() - formula).abs().max() < 1e-5))
for g in (1, 5, 20, 100, 250):
    diag = sim.diagonal(g)
    print(f"gap {g:3d}: similarity {diag.mean():.3f}, the same all along the diagonal: {bool(diag.std() < 1e-5)}")

gaps = torch.arange(T, dtype=torch.float64)
similarity = {}
for dim in (128, 32):                                                  # seed at C = 128, modern at C = 32
    w = 10000.0 ** (-torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    similarity[dim] = torch.cos(gaps[:, None] * w).mean(-1)
print("\nsimilarity at gap:  " + "  ".join(f"{g:5d}" for g in (10, 20, 30, 100, 200)))
for dim, curve in similarity.items():
    print(f"  d = {dim:3d}:         " + "  ".join(f"{curve[g]:5.3f}" for g in (10, 20, 30, 100, 200)))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.2]})
im = axes[0].imshow(sim, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
axes[0].set(xlabel="t′", ylabel="t", title=f"cos∠(e(t), e(t′)), d = {d}")
fig.colorbar(im, ax=axes[0], fraction=0.046, label="cosine similarity")
for dim, curve in similarity.items():
    axes[1].plot(gaps, curve, label=f"d = {dim}")
axes[1].set(xlabel="gap |t − t′| (steps)", ylabel="cosine similarity", ylim=(0, 1.02),
            title="similarity against the gap")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# At $d = 128$ similarity falls fast over the first few steps of gap (0.970 at gap 1, 0.737 at gap 5), then
# slowly (0.608 at 20, 0.477 at 100). With $d = 32$ (the modern network at `base_channels=32`) there are only 16
# frequencies, spaced further apart, so the average over them swings: timesteps 100 or 200 steps apart look more
# alike (0.583, 0.509) than neighbours 30 steps apart (0.476). Both networks put learned layers on top of the
# embedding (a Linear in the seed network, an MLP in the modern one, section 4), which can reshape these
# similarities during training.
#
# ## 3. The report's U-Net: `SeedUNet`
#
# The report's network, `UNet(style="seed")`, at `base_channels` $C = 128$ and one input channel:
#
# | level | encoder | decoder |
# | --- | --- | --- |
# | 28 × 28 | conv 3×3, 1 → $C$ | conv 3×3, $C$ → 1 (no norm, no activation) |
# | 28 → 14 | stride-2 conv, $C$ → $C$ | nearest ×2 upsample + conv, $C$ → $C$ |
# | 14 × 14 | conv, $C$ → $2C$ | conv, $2C$ → $C$ |
# | 14 → 7 | stride-2 conv, $2C$ → $2C$ | nearest ×2 upsample + conv, $2C$ → $2C$ |
# | 7 × 7 | residual block (two convs), then $+$ time and class embedding | |
#
# Every convolution but the last is followed by `norm_act`, ReLU(GroupNorm(32 groups, no learned scale or shift)), so
# normalisation adds no parameters. Each encoder output is a skip connection, **added** (not concatenated) to the
# decoder's path at the same resolution, so channel counts never grow. The report's CIFAR-10 variant adds a
# third level ($C$, $2C$, $4C$ = 128, 256, 512 channels; `depth=3`).

# %%
show_source(norm_act, SeedUNet)

# %% [markdown]
# `trace_shapes` registers a forward hook on every block (a direct child of the model, with `nn.ModuleList`
# entries listed one by one), runs one forward pass, and records each block's input and output shapes in the
# order the blocks run; the hooks are removed afterwards. While the pass runs, `DataFlow` watches the torch
# operations that run *between* the blocks and records, for each block, which earlier blocks its inputs come
# from and whether they were merged by addition or concatenation. `skip_connections` reads the skips off that
# record and `embedding_inputs` the places where an embedding enters: nothing about either network is written
# into them.

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
print("seed, 28×28 grey: skips and embedding inputs, read off the data flow")
print(format_table(skip_connections(traces["seed, 28×28 grey"])))
print(format_table(embedding_inputs(traces["seed, 28×28 grey"])))

# %%
fig, axes = plt.subplots(2, 1, figsize=(11, 9.5))
for ax, (name, calls) in zip(axes, traces.items()):
    plot_trace(calls, ax=ax, title=name)

# %% [markdown]
# The blocks run down the "U" and back up. The green arcs are the skips: each encoder output is added to the
# decoder's path where it comes back to the same resolution (the arrowhead sits on the segment leading into the
# block that receives the sum). The time embedding (the red triangle, a vector of $2C$ numbers at depth 2, $4C$ at depth
# 3) is computed just
# before the middle block and added to the middle block's output, together with the lowest skip, on the way into
# `up_samples.0` (the red arrow): the only place where $t$ enters.
#
# Where do the parameters sit? A 3×3 convolution from $c_\text{in}$ to $c_\text{out}$ channels has
# $9\,c_\text{in} c_\text{out} + c_\text{out}$ of them, so the blocks at the most channels dominate: the middle
# residual block alone holds over a third (0.360 at depth 2, 0.339 at depth 3).

# %%
# NBVAL_CHECK_OUTPUT
print("seed, 28×28 grey, C = 128 (blocks in the order they run)")
print(format_table(parameter_table(seed_grey, order=traces["seed, 28×28 grey"])), end="\n\n")
print("seed, 32×32 colour, depth 3, C = 128")
print(format_table(parameter_table(seed_colour, order=traces["seed, 32×32 colour, depth 3"])))

# %% [markdown]
# ## 4. The modern network: `ModernUNet`
#
# `UNet(style="modern")` is the now-common design (DDPM's own network, in miniature): every resolution has
# **residual blocks** that are each told $t$; the middle has a self-attention layer between two residual blocks;
# skips are **concatenated**, so the decoder's blocks take more channels in than they put out; GroupNorm has a
# learned scale and shift; the activation is SiLU; and the output convolution starts at zero, so the untrained
# network predicts $\hat\varepsilon = 0$ and the first loss is $E[\varepsilon^2] = 1$. The time embedding goes
# through an MLP ($C \to 4C \to 4C$), a conditional model adds its class embedding, and every residual block adds
# its own linear projection of the result:
#
# $$\mathrm{emb} = W_2\,\mathrm{SiLU}\big(W_1\,e(t) + b_1\big) + b_2\ \big[+\ \mathrm{class\_embed}(y)\big],$$
# $$h = \mathrm{conv}_1\big(\mathrm{SiLU}(\mathrm{GN}(x))\big) + W_\text{blk}\,\mathrm{emb} + b_\text{blk},\qquad
# \text{out} = x' + \mathrm{conv}_2\big(\mathrm{dropout}(\mathrm{SiLU}(\mathrm{GN}(h)))\big)$$
#
# where $x'$ is $x$, or a 1×1 convolution of it when the channel count changes.
#
# One difference from DDPM and guided-diffusion: their blocks apply SiLU (swish) to the embedding before each
# block's Linear, $W_\text{blk}\,\mathrm{SiLU}(\mathrm{emb})$; ours applies its Linear straight to `time_mlp`'s final
# Linear output (`self.emb(emb)` in `ResBlock.forward` below). It still works, because two Linears compose to one:
# $W_\text{blk}\,\mathrm{emb} = (W_\text{blk} W_2)\,\mathrm{SiLU}(W_1 e(t) + b_1) + W_\text{blk} b_2$ (+ the class term),
# so each block reads its own linear function of the MLP's $4C$ hidden SiLU features, which are a learned
# nonlinear function of $t$. The per-block projection adds no nonlinearity of its own, and $t$ and $y$ reach a
# block as a plain sum, a function of $t$ plus a function of $y$ (in guided-diffusion the SiLU mixes them). We
# have not measured whether adding the SiLU would train better here; the shipped checkpoints are this network.
#
# A second difference, from guided-diffusion only: Dhariwal & Nichol (2021, §3) inject the embedding by
# **adaptive group normalisation** (AdaGN, guided-diffusion's `use_scale_shift_norm=True`): each block's Linear
# puts out $2c_\text{out}$ numbers, a scale $y_s$ and a shift $y_b$ (their names; here $y$ is not the class label),
# applied after the block's second GroupNorm, $\mathrm{GN}(h)\,(1 + y_s) + y_b$ in guided-diffusion's code
# ($y_s\,\mathrm{GroupNorm}(h) + y_b$ in the paper), so the embedding multiplies the features as well as shifting them; their
# ablation (their Table 3) found it lowers FID. DDPM adds the projection after the first convolution, as ours
# does (its code; Ho et al. 2020, Appendix B, says only that the embedding is added into each residual block).
#
# This project trains it at `base_channels=32` (the training default) with its default channel multipliers
# (1, 2, 2): 32 channels at 28 × 28, 64 at 14 × 14 and at 7 × 7.
#
# Both forwards cast the float32 embedding to `x`'s dtype (`.to(x.dtype)`), so a network converted with `.double()`
# runs in float64 too (the tests check in float64 that a batch's rows do not affect each other).

# %%
show_source(ResBlock, ModernUNet.forward)

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
modern_grey = UNet(in_channels=1, base_channels=32, style="modern").eval()
modern_colour = UNet(in_channels=3, base_channels=32, style="modern").eval()
# the same trace loop as for the report's network above, on purpose: each section stands on its own
for name, model, x in [("modern, 28×28 grey", modern_grey, torch.zeros(1, 1, 28, 28)),
                       ("modern, 32×32 colour", modern_colour, torch.zeros(1, 3, 32, 32))]:
    traces[name] = trace_shapes(model, x, 0)
    print(f"{name}: {count_parameters(model):,} parameters")
    print(format_table(traces[name], ["step", "block", "type", "in_shape", "out_shape"]), end="\n\n")
print("modern, 28×28 grey: skips, read off the data flow")
print(format_table(skip_connections(traces["modern, 28×28 grey"])))
told = [e["to"] for e in embedding_inputs(traces["modern, 28×28 grey"])]
print(f"\nblocks that take the embedding as an argument ({len(told)}): {', '.join(told)}")

# %%
fig, axes = plt.subplots(2, 1, figsize=(12, 9.5))
for ax, name in zip(axes, ["modern, 28×28 grey", "modern, 32×32 colour"]):
    plot_trace(traces[name], ax=ax, title=name)

# %% [markdown]
# The dashed arcs are the concatenated skips: `conv_in` and each of the five encoder blocks (the stride-2
# convolutions included) hand their output to one decoder residual block, 6 skips in all; the upsampling blocks
# take none. The red rings mark the 11 residual blocks that take the embedding as an argument.
#
# Look at the decoder's `in_shape` column above: `up.0` takes 128 channels in (64 from below, 64 from the skip)
# and puts 64 out. Wider inputs cost parameters: `up.0` has 127,616 where `mid1`, at the same 64 channels out, has
# 82,368 (its first convolution reads twice the channels, and it needs a 1×1 convolution on its residual path).
# With one more residual block per level than the encoder (to take the extra skip), the decoder holds most of
# the parameters:

# %%
# NBVAL_CHECK_OUTPUT
print("modern, 28×28 grey, C = 32")
rows = parameter_table(modern_grey, order=traces["modern, 28×28 grey"])
print(format_table(rows))
decoder = sum(r["params"] for r in rows if r["block"].startswith("up."))
print(f"\ndecoder (up.0 … up.7): {decoder:,} parameters, {decoder / count_parameters(modern_grey):.1%} of the total")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, (name, model, calls) in zip(axes, [("seed, C = 128", seed_grey, traces["seed, 28×28 grey"]),
                                           ("modern, C = 32", modern_grey, traces["modern, 28×28 grey"])]):
    rows = parameter_table(model, order=calls)[:-1]
    embeds = ("time_embed", "time_mlp", "class_embed")                 # the blocks that embed t and y
    ax.barh([r["block"] for r in rows][::-1], [r["params"] / 1e3 for r in rows][::-1],
            color=["C3" if r["block"] in embeds else "C0" for r in rows][::-1])
    ax.set(xlabel="parameters (thousands)", ylabel="block, in the order the blocks run (top first)",
           title=f"{name}: {count_parameters(model):,} parameters")
    ax.tick_params(axis="y", labelsize=8)
fig.tight_layout()

# %% [markdown]
# ## 5. Where $t$ and $y$ enter
#
# The lines of the networks' source that build and use the embeddings (file name and line number):

# %%
for fn in (SeedUNet.__init__, SeedUNet.forward, ModernUNet.__init__, ModernUNet.forward, ResBlock.forward):
    file = Path(fn.__code__.co_filename).name
    print(f"{fn.__qualname__}:")
    for n, text in source_lines(fn, r"\bemb\b|embed|time_mlp"):
        print(f"    {file}:{n:<4d} {text}")

# %% [markdown]
# - **Seed network.** `SeedUNet.forward` turns $t$ into $e(t)$ with $d = C$, then `time_embed` (Linear
#   $C \to 2C$) and a ReLU; a conditional model adds `class_embed(y)`, an `nn.Embedding(num_classes + 1, 2C)`
#   (the extra row, index `num_classes`, is the null label that classifier-free guidance needs: `model(x, t)` on
#   a conditional model uses it). That row is ours: the report's table is `Embedding(10, 2C)`, with no null label,
#   because its training never drops labels; the unconditional network (3,281,153 parameters) has no table.
#   The sum is added **once**, broadcast over the 7 × 7 pixels, to the middle block's output. The encoder and the middle block never see $t$ or $y$.
# - **Modern network.** `ModernUNet.forward` passes $e(t)$ through `time_mlp`, adds `class_embed(y)`
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
# In the seed network the whole encoder and the middle block are blind to $t$ and $y$: every decision that
# depends on the noise level or the class is made in the decoder, from one vector added at 7 × 7. In the modern
# network everything after `conv_in` depends on both, except the very last row: `conv_out` is zero at
# initialisation, so the untrained network outputs $\hat\varepsilon = 0$ whatever $t$ and $y$ are. One training
# step moves it off zero (a test in `tests/test_unet.py` checks exactly that).
#
# ## 6. Seed against modern after five minutes of training
#
# `benchmarks/compare_styles.py` trains each network on the Fashion-MNIST training set for the same wall-clock
# minutes on the same CPU at two torch threads, with the same optimiser (AdamW, learning rate $10^{-3}$ reached by a linear
# warm-up over the first 200 steps, batch 128) and an EMA of the weights (decay 0.995). It then measures the EMA
# weights' $\varepsilon$-prediction error on 2,000 held-out test images, with the same $t$ and $\varepsilon$ for
# every network, and (`--fid 500`) the FID of 500 DDIM samples (50 steps) in the feature space of the series'
# small classifier (notebook 09), beside the same FID for real images. Lower is better for both. The numbers come
# from `benchmarks/results/compare_styles.json`, the file behind the README's results table "The report's network
# against ours, at equal training time" (`python -m benchmarks.compare_styles --minutes 5 --only seed-128
# modern-32`); this notebook reads it and does not re-run it.

# %%
# NBVAL_IGNORE_OUTPUT
WARMUP = 200        # learning-rate warm-up steps in benchmarks/compare_styles.py
bench = Path(helpers.__file__).resolve().parent.parent / "benchmarks" / "results" / "compare_styles.json"
if bench.exists():
    report = json.loads(bench.read_text())
    refs = report.get("fid_references", {})
    rows = [{"network": name, "parameters": r["parameters"], "minutes": r["minutes"], "steps": r["steps"],
             "share of warm-up": r["steps"] / WARMUP, "held-out ε-MSE (EMA)": r["heldout_eps_mse_ema"],
             "FID": r.get("fid", float("nan")), "FID n": r.get("fid_n", 0)}
            for name, r in report["results"].items()]
    print("command: ", report["command"])
    print("FID:     ", report.get("fid_command", "-"))
    print("hardware:", report["hardware"], end="\n\n")
    print(format_table(rows, floatfmt={"minutes": ".1f", "share of warm-up": ".0%", "held-out ε-MSE (EMA)": ".4f",
                                       "FID": ".0f"}))
    print(f"\nFID references at the same n: real training images {refs.get('floor', float('nan')):.2f} (the floor), "
          f"real + N(0, 0.05²) grain {refs.get('grain', float('nan')):.2f}")
    print("still inside the warm-up at the end:", all(r["steps"] < WARMUP for r in rows))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    names, colours = [r["network"] for r in rows], [f"C{i}" for i in range(len(rows))]
    bars = axes[0].bar(names, [r["held-out ε-MSE (EMA)"] for r in rows], color=colours)
    axes[0].bar_label(bars, labels=[f"{r['held-out ε-MSE (EMA)']:.4f}\n{r['parameters'] / 1e6:.2f} M params"
                                    for r in rows], fontsize=8)
    axes[0].set(ylabel="held-out ε-MSE (EMA weights)", title="held-out error (lower is better)")
    axes[0].margins(y=0.25)
    bars = axes[1].bar(names, [r["steps"] for r in rows], color=colours)
    axes[1].bar_label(bars, fmt="%d", fontsize=8)
    axes[1].axhline(WARMUP, color="k", ls="--", lw=1, label=f"end of the learning-rate warm-up ({WARMUP} steps)")
    axes[1].set(ylabel="optimiser steps (batch 128)", title="steps taken", ylim=(0, WARMUP * 1.3))
    axes[1].legend(fontsize=8, loc="upper left")
    bars = axes[2].bar(names, [r["FID"] for r in rows], color=colours)
    axes[2].bar_label(bars, fmt="%.0f", fontsize=8)
    for key, ls, text in [("floor", "-", "real training images"), ("grain", ":", "real + N(0, 0.05²) grain")]:
        if key in refs:
            axes[2].axhline(refs[key], color="C3", ls=ls, lw=1.5, label=f"{text}: {refs[key]:.0f}")
    axes[2].set(ylabel=f"FID in classifier space (n = {rows[0]['FID n']})", title="sample quality (lower is better)")
    axes[2].margins(y=0.15)
    axes[2].legend(fontsize=8, loc="upper right")
    minutes = ", ".join(f"{r['minutes']:.1f}" for r in rows)
    fig.suptitle(f"after equal training time ({minutes} minutes): an early-training comparison")
    fig.tight_layout()
else:
    print(f"No benchmark results yet ({bench} is missing). From the repository root, run\n"
          "    python -m benchmarks.compare_styles --minutes 5 --only seed-128 modern-32\n"
          "    python -m benchmarks.compare_styles --fid 500 --only seed-128 modern-32\n"
          "(about 5 minutes per network on a CPU for the first), then re-run this cell.")

# %% [markdown]
# This is an **early-training comparison**, and only that. Five minutes bought the seed network 106 optimiser
# steps and the modern one 176 (each of its steps took less time): both runs
# stopped inside the 200-step warm-up, so neither ever trained at its full learning rate. The modern network's
# held-out error is lower (0.0489 against 0.0957), but the FIDs say that **neither network is trained**: 1410
# and 1089, against 17.09 for real training images and 46.42 for real images with visible grain (all at n = 500).
#
# What the comparison does not say is which architecture is better after full training: the report trains for
# 200 epochs (about 190,000 steps at batch 64), 1,000 to 1,800 times the steps of either run here. The gap mixes
# two effects that this benchmark cannot separate: more steps in the same minutes, and what each step achieves
# in each design (a zero-initialised output, $t$ in every block). Each network was trained once, so we do not
# know how much of the gap another seed would keep. Sample quality of the trained checkpoints is measured in
# notebook 09.
#
# ## Try it
#
# - Set `d = 32` in section 1 and re-run sections 1–2: how many frequencies complete a period within $T$ now,
#   and which are in the small-angle regime?
# - Call `timestep_embedding(t, 128, max_period=100)`: what happens to the similarity between $t = 0$ and $t = 250$,
#   and why might that be a problem?
# - Print `parameter_table(UNet(style="seed", base_channels=64))`: by what factor do the parameters shrink when $C$
#   halves, and why (hint: $9\,c_\text{in} c_\text{out}$)?
# - Trace `UNet(style="modern", base_channels=32, attention=False, num_res_blocks=2)` and draw it with
#   `plot_trace`: which rows appear, which disappear, and how many skips are there now?
# - In section 5, give the modern network's output layer random weights
#   (`torch.nn.init.normal_(model.conv_out.weight, std=0.05)`) before the experiment: which rows change?
# - Call `seed_grey(torch.zeros(1, 1, 30, 30), 0)` and read the error: why must the size be a multiple of 4?
#
# ## Summary
#
# - The sinusoidal embedding writes $t$ as $d/2$ (cos, sin) pairs at frequencies $\omega_i = 10000^{-i/(d/2)}$, cos
#   half first; every $e(t)$ has norm $\sqrt{d/2}$, and the cosine similarity of two embeddings depends only on
#   the gap $t - t'$. At $d = 128$ and $T = 300$, 27 frequencies turn through a full period, 18 turn less than one
#   but more than 0.5 radian, and 19 ($i \ge 45$) stay in the small-angle regime, a nearly linear code of $t$.
# - The report's U-Net (`SeedUNet`, 3,281,153 parameters at $C = 128$) is convolutions only, with added skips
#   and parameter-free GroupNorm; $t$ and $y$ enter once, after the middle block, so the encoder is blind
#   to them.
# - The modern network (`ModernUNet`) tells every residual block about $t$ and $y$ (a Linear of the time MLP's
#   output, with no SiLU between them), concatenates skips, uses attention at the lowest resolution and starts
#   from $\hat\varepsilon = 0$; at $C = 32$ it has a third of the seed's parameters.
# - Class conditioning is `nn.Embedding(num_classes + 1, ·)`: the extra row is the null label, and a conditional
#   model called without $y$ uses it.
# - Forward hooks (`trace_shapes`) show any network's anatomy, skips and embedding inputs included, without
#   editing its code.
# - Five minutes of training (still inside the learning-rate warm-up) leave both networks untrained (FID 1410 and
#   1089); the comparison shows which gets further first, not which is better after full training.
#
# **Next:** [05 · Training](05_training.ipynb): teaching the network to predict $\varepsilon$.
