"""What every checker shares: run the student's function safely, compare with the reference, name the mistake."""

from __future__ import annotations

import contextlib
import functools
import math

import torch

from .. import DiffusionSchedule, report_beta_schedule

NOT_IMPLEMENTED = "not implemented yet: replace the `raise NotImplementedError` in the exercise cell"
BROADCAST = "reshape per-example coefficients to [B, 1, 1, 1] so they broadcast over x (schedule.gather(coef, t, x))"
INDEX = ("t is 0-based, 0 … T−1: index the tables with t itself (alphas_cumprod[t], not [t + 1]); "
         "draw t with torch.randint(0, T, …)")
IMAGES = (5, 2, 3, 4)  # B differs from C, H, W: a [B] coefficient cannot broadcast by accident


def schedule() -> DiffusionSchedule:
    """The report's MNIST schedule, T = 300 (β 0.001 → 0.1)."""
    return DiffusionSchedule(report_beta_schedule(300))


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def keep_rng(fn):
    """Run a checker without touching torch's global random state (the notebook's seeds stay valid)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return fn(*args, **kwargs)
    return wrapper


def timesteps(batch: int, T: int, gen: torch.Generator, edges: bool) -> torch.Tensor:
    """t [B] (long): interior values, or with ``edges`` starting 0, T−1, 1, T−2."""
    t = torch.randint(2, T - 2, (batch,), generator=gen)
    if edges:
        t[: min(batch, 4)] = torch.tensor([0, T - 1, 1, T - 2])[: min(batch, 4)]
    return t


# (dtype, edges): interior t first, so a mistake is diagnosed where every variant differs; then t = 0 and T − 1
CASES = [(torch.float64, False), (torch.float32, False), (torch.float32, True), (torch.float64, True)]


def images(shape, dtype, gen) -> torch.Tensor:
    """Uniform in [−1, 1], like the series' images."""
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)


def randn(shape, dtype, gen) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)


def as_images(x: torch.Tensor) -> torch.Tensor:
    """[B, …] as [B, N, 1, 1], so the image-only references accept points [B, D] too."""
    return x if x.dim() == 4 else x.reshape(x.shape[0], -1, 1, 1)


def coef(table: torch.Tensor, idx: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """table[idx] as [B, 1, …], kept in float64: the mistaken variants are computed and compared in float64."""
    return table[idx].reshape(-1, *([1] * (like.dim() - 1)))


def describe(x: torch.Tensor, **named) -> str:
    parts = [f"{str(x.dtype).replace('torch.', '')} {list(x.shape)}"]
    for name, value in named.items():
        parts.append(f"{name} = {value.tolist() if isinstance(value, torch.Tensor) else value}")
    return ", ".join(parts)


def call(fn, label: str, args: dict):
    """fn(*args.values()), turning its failures into AssertionErrors that say what to fix."""
    saved = {k: v.clone() for k, v in args.items() if isinstance(v, torch.Tensor)}
    with student_code(f"{label} raised", functools.partial(_explain, label)):
        out = fn(*args.values())
    for name, before in saved.items():
        if not torch.equal(args[name], before) and not (before.isnan() & args[name].isnan()).all():
            raise AssertionError(f"{label} modified its input `{name}` in place: write x = x * a, not x *= a "
                                 "or x.clamp_(…), so the caller's tensors stay unchanged")
    return out


def _explain(label: str, err: Exception):
    """call's hint for an IndexError or a broadcasting RuntimeError; None for the generic message."""
    if isinstance(err, IndexError):
        return f"{label} raised IndexError ({err}): {INDEX}"
    if isinstance(err, RuntimeError) and "must match the size" in str(err):
        return f"{label}: shapes don't broadcast ({err}); {BROADCAST}"
    return None


def close(a: torch.Tensor, b: torch.Tensor, rtol=None) -> bool:
    low = torch.float32 in (a.dtype, b.dtype) or torch.float16 in (a.dtype, b.dtype)
    # float64 rounds at about 1e-16, so any order of float64 operations agrees far within 1e-9, while one float32
    # step in between leaves errors of 1e-8 to 1e-4: with the former 1e-6 such answers passed (an audit, 2026-12-06)
    rtol = rtol if rtol is not None else (2e-4 if low else 1e-9)
    scale = max(1.0, float(b.detach().abs().max())) if b.numel() else 1.0
    return torch.allclose(a.detach().double(), b.detach().double(), rtol=rtol, atol=rtol * 0.1 * scale)


def check_tensor(out, shape, label: str, where: str, *, broadcast: bool = False) -> torch.Tensor:
    """out must be a floating tensor of ``shape`` (or, with ``broadcast``, one that broadcasts to it)."""
    if not isinstance(out, torch.Tensor):
        hint = " (missing `return`?)" if out is None else ""
        raise AssertionError(f"{label} should return a torch.Tensor, got {type(out).__name__}{hint}")
    if broadcast:
        try:
            ok = torch.broadcast_shapes(out.shape, shape) == torch.Size(shape)
        except RuntimeError:
            ok = False
        if not ok:
            raise AssertionError(f"{label} has shape {list(out.shape)}, which doesn't broadcast to x's "
                                 f"{list(shape)} ({where}); {BROADCAST}")
        out = out.expand(shape)
    elif tuple(out.shape) != tuple(shape):
        hint = f"; {BROADCAST}" if out.numel() > math.prod(shape) else ""
        raise AssertionError(f"{label} returned shape {list(out.shape)}, expected {list(shape)} ({where}){hint}")
    if not out.dtype.is_floating_point:
        raise AssertionError(f"{label} returned dtype {out.dtype}, expected a floating-point tensor")
    if torch.isnan(out).any():
        raise AssertionError(f"{label} returned NaN ({where}): a square root of a negative number, or 0/0?")
    return out


def expect(out, ref: torch.Tensor, variants, label: str, where: str, *, again=None, broadcast=False,
           rtol: float | None = None, dtype_hint: str | None = None) -> None:
    """Pass if ``out`` matches ``ref``; else raise naming the first variant (hint, tensor) it matches."""
    out = check_tensor(out, ref.shape, label, where, broadcast=broadcast)
    if close(out, ref, rtol):
        if out.dtype != ref.dtype:
            raise AssertionError(f"{label} returned {out.dtype}, expected {ref.dtype}: " + (dtype_hint or (
                "keep x's dtype (cast the float64 schedule tables with .to(x.dtype); schedule.gather does it)")))
        return
    for hint, variant in variants:
        if variant is not None and close(out, variant, rtol) and not close(variant, ref, rtol):
            raise AssertionError(f"{label}: {hint} ({where})")
    if again is not None and not torch.equal(check_tensor(again(), ref.shape, label, where, broadcast=broadcast), out):
        raise AssertionError(f"{label} gives different results for the same inputs: use the `noise` argument "
                             "instead of drawing new noise")
    err = float((out.double() - ref.double()).abs().max())
    msg = f"{label}: wrong values ({where}); largest error {err:.3g}"
    if ref.dtype == torch.float64 and err < 1e-3 * max(1.0, float(ref.abs().max())):
        msg += ". Close but not exact: is something computed in float32? Keep x's dtype"
    raise AssertionError(msg)


def passed(name: str, detail: str) -> None:
    print(f"✓ {name} is correct ({detail})")


@contextlib.contextmanager
def student_code(what: str, explain=None):
    """Turn a failure of the student's code inside the block into an AssertionError that says what to fix:
    the stub's NotImplementedError as NOT_IMPLEMENTED, an AssertionError as it is, anything else as
    ``explain(err)`` or, where that gives None, "{what} {ErrorType}: {err}"."""
    try:
        yield
    except NotImplementedError:
        raise AssertionError(NOT_IMPLEMENTED) from None
    except AssertionError:
        raise
    except Exception as err:
        message = explain(err) if explain is not None else None
        raise AssertionError(message or f"{what} {type(err).__name__}: {err}") from err


@keep_rng
def check_per_timestep(fn, label: str, seed: int, draws: dict, reference, variants, shape=IMAGES, *,
                       again: bool = False, detail: str = "float32 and float64, t from 0 to T−1") -> None:
    """The checker of an exercise ``fn(schedule, x, t, *rest)`` on the report's schedule, over CASES.

    ``draws``: name → ``images`` or ``randn`` for x and the rest, in the argument order (t goes second);
    ``reference(s, x, t, *rest)`` gets them as images [B, N, 1, 1] and returns the answer; ``variants(s, x, t,
    *rest)`` the (hint, mistaken answer) pairs; ``again``: fn must give the same result for the same inputs."""
    s, gen = schedule(), generator(seed)
    for dtype, edges in CASES:
        drawn = {name: draw(shape, dtype, gen) for name, draw in draws.items()}
        t = timesteps(shape[0], s.T, gen, edges)
        (first, x), *rest = drawn.items()
        args = {"schedule": s, first: x, "t": t, **dict(rest)}
        tensors = list(args.values())[1:]
        out = call(fn, label, args)
        ref = reference(s, *(v if v is t else as_images(v) for v in tensors)).reshape(shape)
        expect(out, ref, variants(s, *tensors), label, describe(x, t=t),
               again=functools.partial(call, fn, label, args) if again else None)
    passed(label, detail)
