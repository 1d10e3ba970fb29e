"""Shims that keep helpers working on the oldest torch it declares (2.1), identical on newer torch.

tools/check_floors.sh runs the tests and notebooks with those oldest versions.
"""

from __future__ import annotations

import warnings

import torch


def torch_load(path):
    """``torch.load(path, map_location="cpu", weights_only=True)``: plain data and tensors, no pickled code.

    torch 2.1's weights-only loader warns "TypedStorage is deprecated" on every file, though the
    caller uses no storages (pytorch#113614, fixed in 2.2); that warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)

