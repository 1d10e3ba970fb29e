"""Weights on disk: one atomic save, float16 packing of a state dict (half the size), and a safe load.

Every file helpers writes (training checkpoints, shipped checkpoints, the classifiers) goes through
``atomic_save``, and every file it ships stores its weights through ``pack_weights``; all are read back
with ``torch_load`` (``weights_only=True``: no pickled code runs).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch


def atomic_save(obj, path) -> None:
    """``torch.save`` to ``<path>.tmp``, then rename over ``path``: a crash mid-write never leaves a torn
    file, only the previous one. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def torch_load(path):
    """``torch.load(path, map_location="cpu", weights_only=True)``: plain data and tensors, no pickled code.

    torch 2.1's weights-only loader warns "TypedStorage is deprecated" on every file, though the
    caller uses no storages (pytorch#113614, fixed in 2.2); that warning is silenced here, so that the
    oldest torch the project declares (tools/check_floors.sh) loads as quietly as a new one.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def pack_weights(state: dict, half: bool = True) -> dict:
    """A state dict for a file: floating-point tensors as float16 (when ``half``), all on the CPU, contiguous."""
    return {k: (v.half() if half and v.is_floating_point() else v).cpu().contiguous() for k, v in state.items()}


def unpack_weights(state: dict) -> dict:
    """The inverse of ``pack_weights`` for loading: floating-point tensors back to float32."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
