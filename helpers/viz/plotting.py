"""Figures for the notebooks: image grids and tables, schedule curves, histograms against a Gaussian density.

Every function takes tensors computed in the notebook and returns a matplotlib ``Figure`` (or, for
``image_grid``, the array it would draw), so the figures can be tested on the agg backend and saved.
Images are float tensors [B, C, H, W] in [−1, 1]; values outside are clipped for display only.
"""

from __future__ import annotations

import inspect
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

# How each DiffusionSchedule attribute is labelled on a plot (LaTeX in the notebook's notation).
SCHEDULE_LABELS = {
    "betas": r"$\beta_t$",
    "alphas": r"$\alpha_t = 1-\beta_t$",
    "alphas_cumprod": r"$\bar\alpha_t$",
    "alphas_cumprod_prev": r"$\bar\alpha_{t-1}$",
    "sqrt_alphas_cumprod": r"$\sqrt{\bar\alpha_t}$ (signal scale)",
    "sqrt_one_minus_alphas_cumprod": r"$\sqrt{1-\bar\alpha_t}$ (noise scale)",
    "log_snr": r"$\log \mathrm{SNR}_t = \log\frac{\bar\alpha_t}{1-\bar\alpha_t}$",
    "posterior_variance": r"$\tilde\beta_t$",
    "posterior_log_variance_clipped": r"$\log\tilde\beta_t$ (clipped)",
    "posterior_mean_coef1": r"coef$_1$ (on $x_0$)",
    "posterior_mean_coef2": r"coef$_2$ (on $x_t$)",
}
SCHEDULE_QUANTITIES = ("betas", "alphas", "alphas_cumprod", "sqrt_alphas_cumprod",
                       "sqrt_one_minus_alphas_cumprod", "log_snr")


# ---------------------------------------------------------------- images
def _to_display(x: torch.Tensor) -> np.ndarray:
    """[B, C, H, W] in [−1, 1] → [B, H, W] (C=1) or [B, H, W, 3] in [0, 1]."""
    x = torch.as_tensor(x).detach().to("cpu", torch.float32)
    if x.dim() == 3:  # a single image [C, H, W]
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"x must have shape [B, C, H, W] with C in (1, 3), got shape {tuple(x.shape)}")
    x = ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def image_grid(x: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile a batch [B, C, H, W] in [−1, 1] into one array in [0, 1], ``nrow`` images per row
    ([H', W'] for one channel, [H', W', 3] for three), separated by ``padding`` pixels of ``pad_value``."""
    imgs = _to_display(x)
    b, h, w = imgs.shape[:3]
    ncol = min(nrow, b)
    nrows = math.ceil(b / ncol)
    shape = (nrows * (h + padding) + padding, ncol * (w + padding) + padding) + imgs.shape[3:]
    grid = np.full(shape, pad_value, dtype=np.float32)
    for i in range(b):
        r, c = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = imgs[i]
    return grid


def _imshow(ax, img: np.ndarray) -> None:
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def show_images(x: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None, scale: float = 0.9):
    """One grid image of a batch [B, C, H, W] in [−1, 1]; ``scale`` inches per image."""
    grid = image_grid(x, nrow=nrow)
    if ax is None:
        b = x.shape[0] if x.dim() == 4 else 1
        ncol, nrows = min(nrow, b), math.ceil(b / min(nrow, b))
        _, ax = plt.subplots(figsize=(max(2.0, scale * ncol), max(2.0, scale * nrows) + (0.3 if title else 0)))
    _imshow(ax, grid)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return ax.figure


def plot_image_table(images, row_labels=None, col_labels=None, title: str | None = None, cell: float = 1.1):
    """A table of images, one axes per cell: ``images`` is [R, K, C, H, W] (or a list of R tensors
    [K, C, H, W]); rows are labelled on the left, columns on top. For x_t at several t, trajectories, …"""
    rows = [torch.as_tensor(r) for r in images]
    n_rows, n_cols = len(rows), max(r.shape[0] for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + (0.8 if row_labels else 0), cell * n_rows + 0.4),
                             squeeze=False)
    for i, row in enumerate(rows):
        disp = _to_display(row)
        for j in range(n_cols):
            ax = axes[i, j]
            if j < disp.shape[0]:
                _imshow(ax, disp[j])
            else:
                ax.axis("off")
            if i == 0 and col_labels is not None:
                ax.set_title(str(col_labels[j]), fontsize=9)
        if row_labels is not None:
            axes[i, 0].set_ylabel(str(row_labels[i]), fontsize=9, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- curves
def _numpy(v) -> np.ndarray:
    return torch.as_tensor(v).detach().to("cpu", torch.float64).numpy()


def plot_curves(t, curves: dict, ax=None, logy: bool = False, logx: bool = False, title: str | None = None,
                xlabel: str = "t", ylabel: str | None = None, **line_kw):
    """One line per entry of ``curves`` (label → values over ``t``); returns the figure.

    ``logx`` uses a symmetric log axis, linear on [−1, 1], so t = 0 stays visible while the first steps spread out.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, values in curves.items():
        ax.plot(_numpy(t), _numpy(values), label=label, **line_kw)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=float(_numpy(t).min()))  # symlog pads into negative t otherwise
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax.figure


def plot_schedules(schedules: dict, quantities=SCHEDULE_QUANTITIES, normalize_t: bool = False, logy=(),
                   ncols: int = 3, title: str | None = None):
    """One panel per quantity (a ``DiffusionSchedule`` attribute), one line per schedule (label → schedule).

    ``normalize_t`` puts t/T on the x-axis so schedules with different T line up; quantities in ``logy``
    get a log y-axis.
    """
    quantities = list(quantities)
    ncols = min(ncols, len(quantities))
    nrows = math.ceil(len(quantities) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax, q in zip(axes.flat, quantities):
        for label, s in schedules.items():
            t = torch.arange(s.T, dtype=torch.float64)
            ax.plot(_numpy(t / s.T if normalize_t else t), _numpy(getattr(s, q)), label=label)
        ax.set_title(SCHEDULE_LABELS.get(q, q), fontsize=10)
        ax.set_xlabel("t / T" if normalize_t else "t")
        if q in logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(quantities):]:
        ax.remove()
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- distributions
def gaussian_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """N(x; μ, σ²) = exp(−(x − μ)²/2σ²) / (σ√(2π))."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def plot_histograms(samples: dict, mean=0.0, std=1.0, bins: int = 80, value_range=(-4.0, 4.0), ncols: int = 4,
                    density_label: str = r"$\mathcal{N}(0, 1)$"):
    """One panel per entry (label → tensor of values): a density histogram with the Gaussian N(mean, std²)
    drawn over it. ``mean``/``std`` are numbers or dicts with one per label."""
    labels = list(samples)
    ncols = min(ncols, len(labels))
    nrows = math.ceil(len(labels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows), squeeze=False)
    grid = np.linspace(*value_range, 400)
    for ax, label in zip(axes.flat, labels):
        m = mean[label] if isinstance(mean, dict) else mean
        sd = std[label] if isinstance(std, dict) else std
        ax.hist(_numpy(samples[label]).ravel(), bins=bins, range=value_range, density=True, color="C0", alpha=0.6)
        ax.plot(grid, gaussian_pdf(grid, m, sd), color="C3", lw=1.5, label=density_label)
        ax.set_title(str(label), fontsize=10)
        ax.set_xlim(*value_range)
    for ax in list(axes.flat)[len(labels):]:
        ax.remove()
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- source code
def show_source(*objs):
    """The source of functions/classes as one Markdown code block (rendered in Jupyter, readable on GitHub)."""
    from IPython.display import Markdown

    code = "\n\n".join(textwrap.dedent(inspect.getsource(o)).rstrip() for o in objs)
    return Markdown(f"```python\n{code}\n```")

