"""Plotting and widgets: they run headless (agg, set in conftest) and build the expected figures and widgets."""

import io

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.schedules import DiffusionSchedule
from helpers.viz import plotting, widgets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(b=5, c=1, h=6, w=4):
    return torch.linspace(-1.5, 1.5, b * c * h * w).reshape(b, c, h, w)


def test_image_grid_layout_and_range():
    x = _images(b=5)
    grid = plotting.image_grid(x, nrow=3, padding=1, pad_value=0.5)
    assert grid.shape == (2 * (6 + 1) + 1, 3 * (4 + 1) + 1)
    assert grid.min() >= 0 and grid.max() <= 1
    # image 0 sits at the top left, values mapped by (x + 1)/2 and clipped
    expected = ((x[0, 0].clamp(-1, 1) + 1) / 2).numpy()
    np.testing.assert_allclose(grid[1:7, 1:5], expected, rtol=0, atol=1e-6)
    assert grid[0, 0] == 0.5 and (grid[8:14, 11:15] == 0.5).all()  # padding and the empty sixth cell


def test_image_grid_rgb():
    assert plotting.image_grid(_images(b=2, c=3), nrow=2, padding=0).shape == (6, 8, 3)


@pytest.mark.parametrize("shape", [(2, 2, 4, 4), (4, 4), (1, 1, 1, 4, 4)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"^x\b"):
        plotting.image_grid(torch.zeros(shape))


def test_show_images_one_axes_one_image():
    fig = plotting.show_images(_images(b=10), nrow=5, title="x0")
    assert len(fig.axes) == 1 and len(fig.axes[0].images) == 1
    assert fig.axes[0].get_title() == "x0"


def test_plot_image_table_cells_and_labels():
    rows = torch.stack([_images(b=4) for _ in range(3)])  # [R=3, K=4, C, H, W]
    fig = plotting.plot_image_table(rows, row_labels=list("abc"), col_labels=[0, 1, 2, 3])
    assert len(fig.axes) == 12
    assert sum(len(ax.images) for ax in fig.axes) == 12
    assert [ax.get_title() for ax in fig.axes[:4]] == ["0", "1", "2", "3"]
    assert fig.axes[4].get_ylabel() == "b"


def test_plot_image_table_ragged_rows():
    fig = plotting.plot_image_table([_images(b=3), _images(b=1)])
    assert len(fig.axes) == 6 and sum(len(ax.images) for ax in fig.axes) == 4


def test_plot_schedules_panels_and_lines():
    tables = {n: DiffusionSchedule.from_name(n, 100) for n in ("linear", "report", "cosine")}
    fig = plotting.plot_schedules(tables, quantities=("betas", "alphas_cumprod", "log_snr", "posterior_variance"),
                                  logy=("betas",), normalize_t=True)
    assert len(fig.axes) == 4
    assert all(len(ax.lines) == 3 for ax in fig.axes)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_yscale() == "linear"
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), tables["report"].alphas_cumprod.numpy())
    assert fig.axes[0].lines[0].get_xdata()[-1] == pytest.approx(0.99)


def test_plot_curves():
    t = torch.arange(10)
    fig = plotting.plot_curves(t, {"a": t ** 2, "b": t + 1.0}, logy=True, title="c")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_yscale() == "log" and ax.get_legend() is not None


def test_gaussian_pdf_integrates_to_one():
    x = np.linspace(-10, 12, 100_001)
    p = plotting.gaussian_pdf(x, mean=1.0, std=1.5)
    assert p.sum() * (x[1] - x[0]) == pytest.approx(1.0, abs=1e-6)
    assert x[p.argmax()] == pytest.approx(1.0, abs=1e-3)


def test_plot_histograms_panels_with_density():
    g = torch.Generator().manual_seed(0)
    samples = {f"t={t}": torch.randn(1000, generator=g) for t in range(5)}
    fig = plotting.plot_histograms(samples, ncols=3, std={k: 1.0 for k in samples})
    assert len(fig.axes) == 5
    for ax in fig.axes:
        assert len(ax.patches) == 80 and len(ax.lines) == 1  # histogram bars and the N(0,1) curve


def test_show_source_is_a_markdown_code_block():
    from helpers.forward import q_sample

    md = plotting.show_source(q_sample)
    assert md.data.startswith("```python\ndef q_sample(") and md.data.endswith("```")


def _is_png(data):
    return bytes(data).startswith(PNG_MAGIC)  # ipywidgets 8 hands back a memoryview, 7 the bytes


def test_forward_explorer_builds_and_updates():
    x0 = _images(b=4, h=8, w=8).clamp(-1, 1)
    box = widgets.forward_explorer(x0, T=50, schedule="cosine", seed=1)
    assert isinstance(box, ipywidgets.VBox)
    (menu, slider), info, picture = box.children[0].children, box.children[1], box.children[2]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.max == 49
    assert menu.value == "cosine" and _is_png(picture.value)
    before = bytes(picture.value)
    slider.value = 49
    assert bytes(picture.value) != before and "t = 49" in info.value
    menu.value = "linear"
    assert "t = 49" in info.value


def test_schedule_explorer_builds_and_updates():
    box = widgets.schedule_explorer(T=100)
    slider, info, picture = box.children
    assert _is_png(picture.value) and "report" in info.value
    before = info.value
    slider.value = 1000
    assert info.value != before
    assert not plt.get_fignums()  # figures rendered to PNG are closed, so Jupyter does not show them twice


def test_array_png_zoom():
    from PIL import Image

    png = widgets.array_png(np.zeros((3, 5)), zoom=4)
    assert Image.open(io.BytesIO(png)).size == (20, 12)
