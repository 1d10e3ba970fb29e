"""The pieces every notebook shares, for the scripts that write notebooks (tools/build_nb_*.py).

The repository address lives in one place, pyproject.toml's [project.urls] Repository; the Colab
installer cell is made from it.
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


def write(name: str, cells) -> Path:
    path = NOTEBOOKS / name
    nbformat.write(notebook(cells), path)
    return path
