"""helpers.viz: everything the notebooks draw — image grids and curves (``plotting``), sampler trajectories and
quality sweeps (``sampling_plots``), ipywidgets explorers (``widgets``) and the networks traced block by block
(``inspect_model``). The maths they draw lives in the core modules, which import neither matplotlib nor
ipywidgets; ``show_source`` shows those functions beside their equations."""

from .plotting import (
    gaussian_pdf,
    image_grid,
    plot_curves,
    plot_histograms,
    plot_image_table,
    plot_schedules,
    show_images,
    show_source,
)
from .sampling_plots import guidance_explorer, guidance_grid, plot_quality_sweep, plot_trajectory, trajectory_explorer
from .widgets import Explorer, forward_explorer, schedule_explorer

__all__ = [
    "gaussian_pdf", "image_grid", "plot_curves", "plot_histograms", "plot_image_table", "plot_schedules",
    "show_images", "show_source", "guidance_explorer", "guidance_grid", "plot_quality_sweep", "plot_trajectory",
    "trajectory_explorer", "Explorer", "forward_explorer", "schedule_explorer",
]
