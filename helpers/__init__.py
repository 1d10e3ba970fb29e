"""helpers: the small, tested functions behind the notebooks of "diffusion models, step by step".

The maths core imported here needs neither matplotlib nor ipywidgets; the figures and widgets are in
``helpers.viz``. Its plotting names (``show_images``, ``show_source``, …) and the submodules ``viz``, ``toy``,
``exercises`` and ``metrics`` are loaded on first use (``helpers.show_source``), not at ``import helpers``.
"""

import importlib

from .data import load_dataset, sample_images, to_float, to_uint8
from .forward import q_sample, q_sample_chain, q_step
from .posterior import predict_eps_from_x0, predict_x0_from_eps, q_posterior_mean_variance
from .pretrained import load_pretrained
from .quick import QUICK, quick_or_full
from .sampling import cfg_eps, ddim_invert, ddim_sample, ddim_step, ddim_timesteps, ddpm_sample, ddpm_step, ode_sample
from .schedules import (
    DiffusionSchedule,
    cosine_beta_schedule,
    get_beta_schedule,
    linear_beta_schedule,
    report_beta_schedule,
)
from .unet import ModernUNet, SeedUNet, UNet, count_parameters, timestep_embedding

__all__ = [
    "DiffusionSchedule", "cosine_beta_schedule", "get_beta_schedule", "linear_beta_schedule",
    "report_beta_schedule", "q_sample", "q_sample_chain", "q_step", "q_posterior_mean_variance",
    "predict_x0_from_eps", "predict_eps_from_x0", "load_dataset", "sample_images", "to_float", "to_uint8",
    "QUICK", "quick_or_full", "cfg_eps", "ddim_invert", "ddim_sample", "ddim_step",
    "ddim_timesteps", "ddpm_sample", "ddpm_step", "ode_sample", "UNet", "SeedUNet", "ModernUNet", "count_parameters",
    "timestep_embedding",
    "load_pretrained",
]

_VIZ_NAMES = ("image_grid", "show_images", "plot_image_table", "plot_curves", "plot_schedules", "plot_histograms",
              "gaussian_pdf", "show_source")
_SUBMODULES = ("viz", "toy", "exercises", "metrics")


def __getattr__(name):
    # lazy, so that `import helpers` loads no plotting library
    if name in _VIZ_NAMES:
        return getattr(importlib.import_module(".viz", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
