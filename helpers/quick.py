"""Quick mode: ``DIFFUSION_QUICK=1`` (set by ``make test`` and CI) shrinks training steps and sample
counts; everything else runs as in full mode."""

import os

QUICK = os.environ.get("DIFFUSION_QUICK", "0") == "1"


def quick_or_full(quick, full):
    """``quick`` in quick mode, ``full`` otherwise."""
    return quick if QUICK else full
