"""ipywidgets explorers for the notebooks. Each function builds and returns a widget.

The pictures are PNG bytes in a ``widgets.Image`` (not a matplotlib Output area), computed by plain
functions from tensors: this works the same under ipywidgets 7.6+ and 8, in JupyterLab, Notebook,
Colab and VS Code, and the widgets can be built (and tested) without a running kernel.
Only widgets common to ipywidgets 7 and 8 are used.

Each explorer is an :class:`Explorer`: a VBox whose plain-text form, all that GitHub, nbviewer or Colab
(before running) show of a widget output, says what it shows instead of ``VBox(children=(…))``.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..forward import q_sample
from ..schedules import SCHEDULES, DiffusionSchedule
from .plotting import image_grid, plot_schedules

_SCHEDULE_WORDS = {"alphas_cumprod": "ᾱ_t", "log_snr": "log SNR_t", "betas": "β_t", "alphas": "α_t",
                  "sqrt_alphas_cumprod": "√ᾱ_t", "sqrt_one_minus_alphas_cumprod": "√(1 − ᾱ_t)",
                  "posterior_variance": "β̃_t"}


class Explorer(widgets.VBox):
    """A VBox of an interactive view whose text/plain form says what the view shows.

    Where no kernel runs (GitHub, nbviewer, Colab before running) a widget output shows only its
    text/plain fallback; for a plain VBox that is ``VBox(children=(…))``. An Explorer's reads
    "Interactive explorer (run the notebook to use it): <shows>. A static figure of the same view is next
    to it." (each notebook puts one beside its explorer). Otherwise it is an ordinary VBox of ``children``.
    """

    def __init__(self, children, shows: str, **kwargs):
        super().__init__(children, **kwargs)
        self.shows = shows

    def __repr__(self) -> str:
        return (f"Interactive explorer (run the notebook to use it): {self.shows}. "
                "A static figure of the same view is next to it.")

    # ipywidgets cuts the text/plain fallback at 110 characters; these two keep all of it.
    def _repr_mimebundle_(self, **kwargs):  # ipywidgets 8
        data = super()._repr_mimebundle_(**kwargs)
        if data and "text/plain" in data:
            data["text/plain"] = repr(self)
        return data

    if hasattr(widgets.Widget, "_ipython_display_"):  # ipywidgets 7 displays through this instead
        def _ipython_display_(self, **kwargs):
            from IPython.display import display

            data = {"text/plain": repr(self)}
            if self._view_name is not None:
                data["application/vnd.jupyter.widget-view+json"] = {"version_major": 2, "version_minor": 0,
                                                                     "model_id": self._model_id}
            display(data, raw=True)
            if self._view_name is not None:
                self._handle_displayed(**kwargs)


def array_png(img: np.ndarray, zoom: int = 3) -> bytes:
    """PNG bytes of an image array in [0, 1] ([H, W] grey or [H, W, 3]), enlarged ``zoom``× by pixel repetition
    so small images stay sharp at any browser zoom."""
    img = np.repeat(np.repeat(np.clip(img, 0, 1), zoom, axis=0), zoom, axis=1)
    buf = io.BytesIO()
    matplotlib.image.imsave(buf, img, cmap="gray", vmin=0, vmax=1, format="png")
    return buf.getvalue()


def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure, which is then closed (so Jupyter does not also show it inline)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def forward_explorer(x0: torch.Tensor, T: int = 300, schedules=tuple(SCHEDULES), t: int = 0, schedule: str = "report",
                     seed: int = 0, nrow: int = 8, zoom: int = 3):
    """A slider over t and a schedule menu showing x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for a batch x_0.

    ε is drawn once (``seed``), so moving the slider shows the same noise taking over the same images.
    """
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed), dtype=x0.dtype)
    tables = {name: DiffusionSchedule.from_name(name, T) for name in schedules}
    menu = widgets.Dropdown(options=list(tables), value=schedule if schedule in tables else next(iter(tables)),
                            description="schedule")
    slider = widgets.IntSlider(value=t, min=0, max=T - 1, step=1, description="t", continuous_update=True)
    info = widgets.HTML()
    picture = widgets.Image(format="png")

    def update(_=None):
        s, step = tables[menu.value], slider.value
        x_t = q_sample(s, x0, step, noise)
        a = s.alphas_cumprod[step].item()
        picture.value = array_png(image_grid(x_t, nrow=nrow), zoom)
        info.value = (f"<code>t = {step}</code>: ᾱ<sub>t</sub> = {a:.3g}, signal √ᾱ<sub>t</sub> = {a ** 0.5:.3f}, "
                      f"noise √(1−ᾱ<sub>t</sub>) = {(1 - a) ** 0.5:.3f}, pixel std of x<sub>t</sub> = "
                      f"{x_t.std().item():.3f}")

    menu.observe(update, names="value")
    slider.observe(update, names="value")
    update()
    return Explorer([widgets.HBox([menu, slider]), info, picture],
                    shows=f"x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for {len(x0)} images, one noise ε, with a slider over "
                          f"t (0 to {T - 1}) and a menu of schedules ({', '.join(tables)})")


def schedule_explorer(T: int = 300, schedules=tuple(SCHEDULES), quantities=("alphas_cumprod", "log_snr"),
                      T_min: int = 50, T_max: int = 2000):
    """A slider over T: the chosen quantities of each named schedule, and ᾱ_{T−1} for each.

    ``T_min`` defaults to 50 because the report's schedule reaches β = 1 at T = 30.
    """
    slider = widgets.IntSlider(value=T, min=T_min, max=T_max, step=10, description="T", continuous_update=False)
    info = widgets.HTML()
    picture = widgets.Image(format="png")

    def update(_=None):
        tables = {name: DiffusionSchedule.from_name(name, slider.value) for name in schedules}
        picture.value = figure_png(plot_schedules(tables, quantities, ncols=len(quantities)))
        cells = "".join(f"<td>{html.escape(n)}: ᾱ<sub>T−1</sub> = {s.alphas_cumprod[-1].item():.2e}</td>"
                        for n, s in tables.items())
        info.value = f"<table><tr>{cells}</tr></table>"

    slider.observe(update, names="value")
    update()
    what = " and ".join(_SCHEDULE_WORDS.get(q, q) for q in quantities)
    return Explorer([slider, info, picture],
                    shows=f"{what} against t for the schedules {', '.join(schedules)}, with a slider over the "
                          f"number of steps T ({T_min} to {T_max})")
