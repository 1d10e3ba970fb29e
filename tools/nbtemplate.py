"""The pieces every notebook shares, and reading and writing the jupytext pairs.

Each notebook is a pair: ``notebooks/NN_name.py`` (jupytext py:percent, the source an instructor edits)
and ``notebooks/NN_name.ipynb`` (the same cells with their executed outputs). ``make sync`` runs
``jupytext --sync`` over the pairs; ``python tools/links.py`` rewrites the shared cells in both.

The repository address lives in one place, pyproject.toml's [project.urls] Repository; the Colab
installer cell and the "Open in Colab" / "launch Binder" links are made from it. ``SERIES`` lists the
notebooks in order with the line the README's table shows for each (``python tools/links.py`` writes
that table and the links at the top of every notebook).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def repository_url() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)


BRANCH = "main"

SERIES = [
    ("01_noise_schedules.ipynb", "noise schedules",
     "β, ᾱ and log-SNR for Ho's linear, the report's and the cosine schedule; where ᾱ reaches 0"),
    ("02_forward_noising.ipynb", "forward noising",
     "q(x_t \\| x_0) in closed form against the Markov chain; pixels approaching N(0, 1)"),
    ("03_posterior.ipynb", "the posterior", "q(x_{t−1} \\| x_t, x_0), β̃_t against β_t, x̂_0 from ε"),
    ("04_unet_and_time_embedding.ipynb", "the U-Net and the time embedding",
     "the report's network and ours, traced block by block"),
    ("05_training.ipynb", "training",
     "the loss, ε and ε̂ at several t, a short live run, the shipped checkpoint, what the EMA changes"),
    ("06_ddpm_sampling.ipynb", "DDPM sampling",
     "the reverse step, denoising strips, \"posterior\" vs \"beta\" variance, clipping x̂_0"),
    ("07_ddim.ipynb", "DDIM",
     "the DDIM update, steps and η, the report's step sequence as a pitfall, inversion, interpolation"),
    ("08_classifier_free_guidance.ipynb", "classifier-free guidance",
     "label dropout, the s/w conventions, a class × scale grid, accuracy against FID"),
    ("09_evaluation.ipynb", "evaluation",
     "FID in classifier space and its references, quality against steps and guidance, nearest neighbours"),
    ("10_two_dimensions.ipynb", "diffusion in two dimensions",
     "a Gaussian mixture whose exact denoiser, score and reverse step are known: samplers, the ODE (Euler, Heun), "
     "guidance against the tilted density, a denoiser with a known error through DDPM and DDIM"),
]


def repository_slug() -> str:
    """"owner/name" of the GitHub repository."""
    return re.sub(r"^https://github\.com/|\.git$|/$", "", repository_url())


def colab_url(name: str) -> str:
    return f"https://colab.research.google.com/github/{repository_slug()}/blob/{BRANCH}/notebooks/{name}"


def binder_url(name: str) -> str:
    return f"https://mybinder.org/v2/gh/{repository_slug()}/{BRANCH}?labpath=notebooks%2F{name}"


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
LAUNCH_TAG = "launch-links"


def launch_links(name: str) -> str:
    """The badges at the top of notebook ``name``."""
    return (f"[![Open In Colab]({COLAB_BADGE})]({colab_url(name)}) "
            f"[![launch Binder]({BINDER_BADGE})]({binder_url(name)})")


def launch_cell(name: str):
    cell = new_markdown_cell(launch_links(name))
    cell.metadata["tags"] = [LAUNCH_TAG]
    return cell


def archive_url() -> str:
    """GitHub's archive of the branch: the current tree without history, trimmed to the package by .gitattributes."""
    return f"https://github.com/{repository_slug()}/archive/refs/heads/{BRANCH}.zip"


# Plain Python (no %pip magic), so the paired .py is valid Python that ruff can check.
COLAB = f'''# Colab only: install helpers (the package alone, about 18 MB). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusion-step-by-step @ {archive_url()}"],
                   check=True)'''

PAIR_FORMATS = "ipynb,py:percent"
# the sources' header leaves out the jupytext version, which every jupytext release would otherwise rewrite in
# every source on `make sync`
PAIR_METADATA = {"formats": PAIR_FORMATS,
                 "notebook_metadata_filter": "-jupytext.text_representation.jupytext_version"}


def source_path(name: str) -> Path:
    """notebooks/NN_name.py, the paired source of notebooks/NN_name.ipynb."""
    return NOTEBOOKS / Path(name).with_suffix(".py").name


def read_source(name: str) -> nbformat.NotebookNode:
    """The cells of the paired .py source (no outputs)."""
    import jupytext

    return jupytext.read(source_path(name))


def write_pair(nb: nbformat.NotebookNode, name: str) -> None:
    """Write ``nb`` (with its outputs) to notebooks/``name`` and its cells to the paired .py source."""
    import jupytext

    nb.metadata.setdefault("jupytext", {}).update(PAIR_METADATA)
    nbformat.write(nb, NOTEBOOKS / name)
    jupytext.write(nb, source_path(name), fmt="py:percent")


def cell_signature(nb) -> list:
    """What a pair must agree on: each cell's type, source and tags (outputs live in the .ipynb only)."""
    return [(c.cell_type, c.source.rstrip("\n"), tuple(c.metadata.get("tags", []))) for c in nb.cells]
