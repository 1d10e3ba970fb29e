"""Checkers for DDIM's timestep sequences (notebook 07)."""

from __future__ import annotations

import torch

from .. import ddim_timesteps
from ._harness import keep_rng, passed, student_code

# (T, steps): T/steps whole (300/10, 300/50), fractional (300/7, 300/13, 1000/30), one step, and exact ties
# (300/8: 262.5, 187.5, …), which torch.round, np.round and Python's round break to even, as diffusers does. Where
# np.arange's float error moves a tie (300/56: 262.50…01), the formula computed directly disagrees with diffusers,
# so those are left out.
TIMESTEP_CASES = [(300, 10), (300, 7), (300, 50), (1000, 30), (300, 13), (300, 1), (300, 8)]
TRAILING = "trailing: τ_k = round(T − k·T/steps) − 1 for k = 0 … steps − 1"


def _as_list(seq) -> list[int]:
    return [int(v) for v in seq]


def _timestep_variants(T: int, steps: int) -> list[tuple[str, list[int]]]:
    """(hint, sequence) for each named mistake, as plain lists of ints."""
    ref = _as_list(ddim_timesteps(T, steps, "trailing"))
    k = torch.arange(steps, dtype=torch.float64)
    no_shift = _as_list(torch.round(T - k * T / steps).long())
    floor = _as_list(torch.floor(T - k * T / steps).long() - 1)
    half_up = _as_list(torch.floor(T - k * T / steps + 0.5).long() - 1)
    return [
        ("ascending: the sampler runs from noise to image, so the sequence starts at T − 1 and descends",
         ref[::-1]),
        (f"the −1 is missing: index T does not exist (t runs 0 … T − 1), so {TRAILING}", no_shift),
        (f"that is the 'leading' spacing, k·(T // steps) reversed, which starts below T − 1; {TRAILING}",
         _as_list(ddim_timesteps(T, steps, "leading"))),
        (f"that is the 'linspace' spacing, round(linspace(0, T − 1, steps)) reversed; {TRAILING}",
         _as_list(ddim_timesteps(T, steps, "linspace"))),
        (f"rounded down (floor) where diffusers rounds to the nearest integer; {TRAILING}", floor),
        ("ties rounded up (floor(x + 0.5)): torch.round, np.round and diffusers round a tie such as 262.5 to the "
         f"even neighbour, 262; {TRAILING}", half_up),
        (f"the −1 is missing, and the sequence ascends; {TRAILING}", no_shift[::-1]),
        ("an extra entry −1 at the end: the step after the last entry goes to t' = −1 by itself (ᾱ = 1), so "
         "the sequence holds exactly `steps` entries (a float arange(T, 0, −T/steps) can overshoot by one value: "
         f"keep the first `steps`; {TRAILING})", ref + [-1]),
    ]


@keep_rng
def check_ddim_timesteps(fn) -> None:
    """Check ``fn(T, steps)`` → the trailing sub-sequence τ (a descending LongTensor of ``steps`` indices in
    0 … T − 1) against ``helpers.ddim_timesteps(T, steps, "trailing")``."""
    for T, steps in TIMESTEP_CASES:
        where = f"T = {T}, steps = {steps}"
        with student_code(f"ddim_timesteps ({where}) raised"):
            out = fn(T, steps)
        if not isinstance(out, torch.Tensor):
            hint = " (missing `return`?)" if out is None else ""
            raise AssertionError(f"ddim_timesteps should return a torch.Tensor, got {type(out).__name__}{hint}")
        if out.dim() != 1:
            raise AssertionError(f"ddim_timesteps should return a 1-D tensor of indices, got shape "
                                 f"{list(out.shape)} ({where})")
        ref = _as_list(ddim_timesteps(T, steps, "trailing"))
        got = _as_list(out.round() if out.dtype.is_floating_point else out)
        if got == ref:
            if out.dtype != torch.long:
                raise AssertionError(f"ddim_timesteps returned dtype {out.dtype}: the entries index the schedule's "
                                     "tables, so return a LongTensor (.long())")
            continue
        for hint, variant in _timestep_variants(T, steps):
            if got == variant and variant != ref:
                raise AssertionError(f"ddim_timesteps: {hint} ({where}; got {_short(got)})")
        raise AssertionError(f"ddim_timesteps: wrong sequence ({where}): got {_short(got)}, expected {_short(ref)}; "
                             f"{TRAILING}")
    passed("ddim_timesteps", "trailing, T/steps whole and fractional, steps = 1")


def _short(seq: list[int], k: int = 6) -> str:
    """The list, or its first k and last 2 entries and its length when it is long."""
    if len(seq) <= 2 * k:
        return str(seq)
    return f"[{', '.join(map(str, seq[:k]))}, …, {', '.join(map(str, seq[-2:]))}] ({len(seq)} entries)"
