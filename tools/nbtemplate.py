"""The pieces every notebook shares, for the scripts that write notebooks (tools/build_nb_*.py).

The repository address lives in one place, pyproject.toml's [project.urls] Repository; the Colab
installer cell and the "Open in Colab" / "launch Binder" links are made from it. ``SERIES`` lists the
notebooks in order with the line the README's table shows for each (``python tools/links.py`` writes
that table and the links at the top of every notebook).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

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


COLAB = f'''# Colab only: install helpers from the repository. Elsewhere this cell does nothing.
import sys
if "google.colab" in sys.modules:
    %pip install -q "diffusion-step-by-step @ git+{repository_url()}"'''


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def _code_sources(nb) -> list:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def write(name: str, cells) -> Path:
    """Write notebook ``name`` from its builder's cells. When every code cell is unchanged (only prose was
    edited), the stored outputs and metadata are kept, since running the same code again would only
    reproduce them; any change to a code cell drops all outputs, and `make notebooks` must run it."""
    path = NOTEBOOKS / name
    nb = notebook([launch_cell(name), *cells])
    if path.exists():
        old = nbformat.read(path, as_version=4)
        _keep_ids(old, nb)
        if _code_sources(old) == _code_sources(nb):
            old_code = [c for c in old.cells if c.cell_type == "code"]
            for cell, stored in zip((c for c in nb.cells if c.cell_type == "code"), old_code):
                cell.outputs, cell.execution_count = stored.outputs, stored.execution_count
                cell.metadata = stored.metadata
            nb.metadata = old.metadata
    nbformat.write(nb, path)
    return path


def _keep_ids(old, nb) -> None:
    """Give rebuilt cells their stored ids, so a rebuild's diff shows only what changed: first each
    cell whose type and source are unchanged, then, where the cell types line up one to one, the
    edited cell at the same position. Other cells keep their new random ids."""
    unused = {}
    for cell in old.cells:
        unused.setdefault((cell.cell_type, cell.source), []).append(cell.id)
    taken = set()
    for cell in nb.cells:
        ids = unused.get((cell.cell_type, cell.source))
        if ids:
            cell.id = ids.pop(0)
            taken.add(cell.id)
    if [c.cell_type for c in old.cells] == [c.cell_type for c in nb.cells]:
        for cell, stored in zip(nb.cells, old.cells):
            if cell.id not in taken and stored.id not in taken:
                cell.id = stored.id
                taken.add(stored.id)
