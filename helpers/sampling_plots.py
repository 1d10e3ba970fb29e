"""Pictures, widgets and small measurements for the sampling notebooks (06 DDPM, 07 DDIM, 08 guidance).

- ``plot_trajectory`` and ``trajectory_explorer``: a stored sampler trajectory (``return_trajectory=True``)
  as a static strip of x_t and x̂_0, or as a slider over its recorded steps;
- ``guidance_grid``, ``guidance_explorer``: samples per class and guidance scale from the same x_T;
- ``sample_quality``: samples → FID in classifier space (and class accuracy), the one code path the
  notebooks and ``benchmarks/sampling_quality.py`` share; ``plot_quality_sweep`` draws such scores;
- ``slerp``: spherical interpolation between two Gaussian noises; ``laplacian_energy``: how much
  pixel-scale (high-frequency) energy an image holds, e.g. leftover noise; ``class_spread``: diversity
  within classes in a feature space.

Widgets follow ``helpers.widgets``: PNG bytes in a ``widgets.Image``, only widgets common to
ipywidgets 7.6+ and 8, and they can be built without a running kernel.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from .evaluation import generate
from .plotting import image_grid, plot_image_table
from .sampling import ddim_sample
from .widgets import array_png

# ---------------------------------------------------------------- interpolation and measurements


def slerp(x0: torch.Tensor, x1: torch.Tensor, alpha) -> torch.Tensor:
    """Spherical interpolation between two tensors of the same shape, each taken as one vector:

    θ = arccos(⟨x0, x1⟩ / (‖x0‖ ‖x1‖)),   slerp(x0, x1, α) = sin((1−α)θ)/sin θ · x0 + sin(αθ)/sin θ · x1.

    Between two draws of N(0, I) in many dimensions (‖x‖ ≈ √d, θ ≈ 90°) it keeps the norm that the
    sampler expects of x_T, where the straight line (1−α)x0 + αx1 shrinks it by up to √2 midway
    (Song et al. 2021, DDIM, section 5.3). ``alpha``: a number (returns x0's shape) or a 1-D sequence
    of K numbers (returns [K, *x0.shape]). Falls back to the straight line when x0 ∥ x1 (θ ≈ 0).
    """
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    scalar = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if a.dim() > 1 or not torch.isfinite(a).all():
        raise ValueError(f"alpha must be a finite number or a 1-D sequence of numbers, got {alpha!r}")
    a = a.reshape(-1)
    v0, v1 = x0.reshape(-1).double(), x1.reshape(-1).double()
    cos = torch.dot(v0, v1) / (v0.norm() * v1.norm()).clamp(min=1e-300)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(theta.sin()) < 1e-6:
        w0, w1 = 1 - a, a
    else:
        w0, w1 = torch.sin((1 - a) * theta) / theta.sin(), torch.sin(a * theta) / theta.sin()
    out = w0[:, None] * v0[None] + w1[:, None] * v1[None]
    out = out.reshape(len(a), *x0.shape).to(x0.dtype)
    return out[0] if scalar else out


_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean squared discrete Laplacian per image, [B]:  E = mean_{pixels} (Δx)²,  Δx = x_↑ + x_↓ + x_← + x_→ − 4x.

    Computed on the interior only (no padding), so a constant or linear ramp gives 0 and white noise of
    standard deviation σ gives 20 σ² on average (4² + 4·1² times σ²): a gauge of pixel-scale noise.
    """
    if x.dim() != 4:
        raise ValueError(f"x must have shape [B, C, H, W], got shape {tuple(x.shape)}")
    c = x.shape[1]
    k = _LAPLACIAN.to(dtype=x.dtype, device=x.device).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c).pow(2).mean(dim=(1, 2, 3))


def class_spread(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Diversity within classes: the mean over classes c of  Σ_{i: y_i = c} ‖f_i − μ_c‖² / (N_c − 1), the trace of
    each class's (unbiased) feature covariance, for features [N, D] and labels [N]. Unbiased so that it reads the
    same at any n; classes with fewer than two members are left out."""
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features must be [N, D] and labels [N], got {tuple(features.shape)} and "
                         f"{tuple(labels.shape)}")
    features = features.double()
    spreads = []
    for c in labels.unique():
        f = features[labels == c]
        if len(f) > 1:
            spreads.append((f - f.mean(0)).pow(2).sum() / (len(f) - 1))
    if not spreads:
        raise ValueError("class_spread needs a class with at least two members")
    return float(torch.stack(spreads).mean())


def sample_quality(model, schedule, evaluator, n: int, sampler: str = "ddim", steps: int = 50,
                   guidance_scale: float = 1.0, seed: int = 0, batch: int = 500, **sampler_kwargs):
    """Draw ``n`` samples with ``helpers.evaluation.generate`` and score them with ``evaluator``
    (a ``QualityEvaluator``): returns ``(row, images)``, row = {sampler, steps, guidance_scale, n,
    fid, accuracy (conditional models only), seconds, seconds_per_image} plus ``sampler_kwargs``.

    The notebooks and ``benchmarks/sampling_quality.py`` both call this, so at the same n, seed and
    batch they give the same numbers. ``steps`` is reported as T for DDPM.
    """
    t0 = time.perf_counter()
    images, labels = generate(model, schedule, n, steps=steps, guidance_scale=guidance_scale, seed=seed, batch=batch,
                              sampler=sampler, **sampler_kwargs)
    seconds = time.perf_counter() - t0
    row = {"sampler": sampler, "steps": schedule.T if sampler == "ddpm" else steps,
           "guidance_scale": guidance_scale if labels is not None else None, **sampler_kwargs, "n": n,
           "fid": evaluator.fid(images)}
    if labels is not None:
        row["accuracy"] = evaluator.accuracy(images, labels)
    row.update(seconds=seconds, seconds_per_image=seconds / n)
    return row, images


# ---------------------------------------------------------------- trajectories


def _pick_steps(num_recorded: int, k: int) -> list:
    """``k`` indices spread evenly over 0 … num_recorded − 1, first and last included."""
    k = max(1, min(k, num_recorded))
    return sorted({int(round(i)) for i in np.linspace(0, num_recorded - 1, k)})


def _check_trajectory(trajectory) -> None:
    if not isinstance(trajectory, dict) or not {"t", "x_t", "x0_hat"} <= set(trajectory):
        raise ValueError("trajectory must be the dict a sampler returns with return_trajectory=True "
                         "(keys 't', 'x_t', 'x0_hat')")


def plot_trajectory(trajectory: dict, index=0, k: int = 8, title: str | None = None, cell: float = 1.0):
    """A strip of x_t (the input of each step) and x̂_0 (its prediction of x_0) at ``k`` recorded steps.

    ``trajectory``: the dict of ``ddpm_sample``/``ddim_sample(..., return_trajectory=True)``; ``index``:
    one image of the batch, or a list of them (two rows per image). Columns are labelled by t.
    """
    _check_trajectory(trajectory)
    indices = [index] if isinstance(index, int) else list(index)
    cols = _pick_steps(len(trajectory["t"]), k)
    rows, labels = [], []
    for i in indices:
        rows += [trajectory["x_t"][cols, i], trajectory["x0_hat"][cols, i]]
        labels += ["$x_t$", r"$\hat x_0$"] if len(indices) == 1 else [f"$x_t$ #{i}", rf"$\hat x_0$ #{i}"]
    return plot_image_table(torch.stack(rows), row_labels=labels,
                            col_labels=[f"t = {int(trajectory['t'][c])}" for c in cols], title=title, cell=cell)


def trajectory_explorer(trajectory: dict, nrow: int = 8, zoom: int = 3, max_images: int = 16):
    """A slider over the recorded steps of a stored trajectory: the batch's x_t and x̂_0 side by side.

    Nothing is sampled while the slider moves: every frame is already in ``trajectory``.
    """
    _check_trajectory(trajectory)
    ts = trajectory["t"]
    slider = widgets.IntSlider(value=0, min=0, max=len(ts) - 1, step=1, description="step",
                               continuous_update=True)
    info = widgets.HTML()
    left, right = widgets.Image(format="png"), widgets.Image(format="png")

    def update(_=None):
        i = slider.value
        x_t = trajectory["x_t"][i, :max_images]
        x0 = trajectory["x0_hat"][i, :max_images]
        left.value = array_png(image_grid(x_t, nrow=nrow), zoom)
        right.value = array_png(image_grid(x0, nrow=nrow), zoom)
        info.value = (f"step {i + 1} of {len(ts)}: <code>t = {int(ts[i])}</code> → t_prev = "
                      f"{int(trajectory['t_prev'][i]) if 't_prev' in trajectory else int(ts[i]) - 1}; "
                      f"pixel std of x<sub>t</sub> = {x_t.std().item():.3f}. "
                      "Left: x<sub>t</sub>; right: x̂<sub>0</sub>.")

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, info, widgets.HBox([left, right])])


# ---------------------------------------------------------------- guidance


def _shape(model, shape):
    if shape is not None:
        return tuple(shape)
    return (model.in_channels, 28, 28) if model.in_channels == 1 else (model.in_channels, 32, 32)


def guidance_grid(model, schedule, classes, scales, steps: int = 50, seed: int = 0, shape=None,
                  **sampler_kwargs) -> torch.Tensor:
    """Samples [len(classes), len(scales), C, H, W]: row i is class ``classes[i]``, column j guidance
    scale ``scales[j]``, and every image of a row starts from the same x_T (drawn with ``seed``), so a
    row shows what the scale alone changes. DDIM with ``steps`` steps (one batch per scale)."""
    classes = torch.as_tensor(list(classes), dtype=torch.long)
    x_T = torch.randn(len(classes), *_shape(model, shape), generator=torch.Generator().manual_seed(seed))
    cols = [ddim_sample(model, schedule, x_T, steps=steps, y=classes, guidance_scale=float(s), **sampler_kwargs)
            for s in scales]
    return torch.stack(cols, dim=1)


def guidance_explorer(model, schedule, class_names, scales=(0.0, 1.0, 2.0, 3.0, 5.0, 7.5), steps_options=(10, 20, 50),
                      n: int = 8, seed: int = 0, value=(0, 3.0, 20), nrow: int = 8, zoom: int = 3, shape=None):
    """Menus for the class and the number of DDIM steps and a slider over the guidance scale s; shows ``n``
    samples of that class, always from the same x_T (``seed``), so only the chosen setting changes them.

    Each setting is sampled once, when first chosen, and cached. ``value`` = (class, scale, steps) at start.
    """
    cls0, s0, st0 = value
    if s0 not in scales or st0 not in steps_options:
        raise ValueError(f"value={value!r}: the scale must be one of {tuple(scales)} and the steps one of "
                         f"{tuple(steps_options)}")
    x_T = torch.randn(n, *_shape(model, shape), generator=torch.Generator().manual_seed(seed))
    menu = widgets.Dropdown(options=[(f"{i}: {name}", i) for i, name in enumerate(class_names)], value=cls0,
                            description="class")
    scale = widgets.SelectionSlider(options=[(f"{s:g}", float(s)) for s in scales], value=float(s0),
                                    description="scale s", continuous_update=False)
    steps = widgets.Dropdown(options=list(steps_options), value=st0, description="steps")
    info = widgets.HTML()
    picture = widgets.Image(format="png")
    cache = {}

    def update(_=None):
        key = (menu.value, scale.value, steps.value)
        t0 = time.perf_counter()
        if key not in cache:
            cache[key] = ddim_sample(model, schedule, x_T, steps=key[2], y=key[0], guidance_scale=key[1])
        seconds = time.perf_counter() - t0
        picture.value = array_png(image_grid(cache[key], nrow=nrow), zoom)
        passes = 1 if key[1] in (0.0, 1.0) else 2
        info.value = (f"{html.escape(str(class_names[key[0]]))}, s = {key[1]:g} (w = s − 1 = {key[1] - 1:g}), "
                      f"{key[2]} DDIM steps, {passes} network pass{'es' if passes > 1 else ''} per step"
                      + (f"; sampled in {seconds:.1f} s" if seconds > 0.05 else ""))

    for w in (menu, scale, steps):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([menu, steps]), scale, info, picture])


# ---------------------------------------------------------------- scores


def plot_quality_sweep(x, panels: dict, references: dict | None = None, xlabel: str = "", logx: bool = False,
                       points: dict | None = None, title: str | None = None, xticks=None, lines: dict | None = None):
    """One panel per entry of ``panels`` (y-label → values over ``x``), side by side.

    ``references`` (label → value) are drawn as dashed horizontal lines on the first panel, e.g.
    ``QualityEvaluator.references(n)`` at the same n as the scores. ``points`` adds single labelled
    markers: label → {y-label: (x, y)}, e.g. DDPM's 300 steps beside a DDIM sweep. ``lines`` adds dashed
    horizontal lines to any panel: y-label → {label: value}.
    """
    names = list(panels)
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.4), squeeze=False)
    x = np.asarray(x, dtype=float)
    for j, (ax, name) in enumerate(zip(axes[0], names)):
        ys = np.asarray(panels[name], dtype=float)
        ax.plot(x, ys, marker="o", color="C0", label="samples")
        xs_all, ys_all = list(x), list(ys)
        for k, (label, pts) in enumerate((points or {}).items()):
            if name in pts:
                ax.plot(*pts[name], marker="*", markersize=12, ls="none", color=f"C{3 + k}", label=label)
                xs_all.append(pts[name][0])
                ys_all.append(pts[name][1])
        hlines = {f"reference: {k}": v for k, v in (references or {}).items()} if j == 0 else {}
        hlines.update((lines or {}).get(name, {}))
        for k, (label, v) in enumerate(hlines.items()):
            ax.axhline(v, ls="--", lw=1, color=f"C{k + 1}", label=label)
            ys_all.append(v)
        lo, hi = float(np.nanmin(ys_all)), float(np.nanmax(ys_all))
        pad = 0.08 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1e-3)
        ax.set_ylim(lo - pad, hi + pad)  # every reference line stays in view
        if logx:
            ax.set_xscale("log")
        if xticks is not None:
            ticks = [v for v in xticks if min(xs_all) <= v <= max(xs_all)]
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{v:g}" for v in ticks])
            ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if hlines or (points and any(name in p for p in points.values())):
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

