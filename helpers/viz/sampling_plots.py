"""Pictures and widgets for the sampling notebooks (06 DDPM, 07 DDIM, 08 guidance).

- ``plot_trajectory`` and ``trajectory_explorer``: a stored sampler trajectory (``return_trajectory=True``)
  as a static strip of x_t and x̂_0, or as a slider over its recorded steps;
- ``guidance_grid``, ``guidance_explorer``: samples per class and guidance scale from the same x_T;
- ``plot_quality_sweep``: scores of ``helpers.evaluation.sample_quality`` against a sampler setting.

The measurements these pictures show live with the maths: ``sample_quality`` (``helpers.evaluation``),
``laplacian_energy`` and ``class_spread`` (``helpers.metrics``), ``slerp`` (``helpers.interpolation``).

Widgets follow ``helpers.viz.widgets``: PNG bytes in a ``widgets.Image``, only widgets common to
ipywidgets 7.6+ and 8, and they can be built without a running kernel.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..evaluation import image_shape
from ..sampling import ddim_sample
from .plotting import image_grid, plot_image_table
from .widgets import Explorer, array_png

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
    n = min(trajectory["x_t"].shape[1], max_images)
    return Explorer([slider, info, widgets.HBox([left, right])],
                    shows=f"x_t (left) and the prediction x̂_0 (right) for {n} images at each of the {len(ts)} "
                          f"recorded steps of a sampling run, with a slider over the steps")


# ---------------------------------------------------------------- guidance


def guidance_grid(model, schedule, classes, scales, steps: int = 50, seed: int = 0, shape=None,
                  **sampler_kwargs) -> torch.Tensor:
    """Samples [len(classes), len(scales), C, H, W]: row i is class ``classes[i]``, column j guidance
    scale ``scales[j]``, and every image of a row starts from the same x_T (drawn with ``seed``), so a
    row shows what the scale alone changes. DDIM with ``steps`` steps (one batch per scale)."""
    classes = torch.as_tensor(list(classes), dtype=torch.long)
    x_T = torch.randn(len(classes), *image_shape(model, shape), generator=torch.Generator().manual_seed(seed))
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
    x_T = torch.randn(n, *image_shape(model, shape), generator=torch.Generator().manual_seed(seed))
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
    scale_list, steps_list = ", ".join(f"{x:g}" for x in scales), ", ".join(str(x) for x in steps_options)
    return Explorer([widgets.HBox([menu, steps]), scale, info, picture],
                    shows=f"{n} samples of a chosen class under classifier-free guidance, all from the same x_T, "
                          f"with a class menu, a slider over the guidance scale s ({scale_list}) and a menu of DDIM "
                          f"steps ({steps_list})")


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

