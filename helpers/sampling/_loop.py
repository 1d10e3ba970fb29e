"""The machinery every sampler shares: calling the model, the loop over (t, t_prev) with its progress bar,
and the trajectory it records. No maths here: the steps themselves live in ddpm, ddim and ode."""

from __future__ import annotations

from typing import Callable

import torch

from .._checks import check_int, check_same_shape


def call_model(model, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """ε̂ = model(x_t, t) or model(x_t, t, y), with t a LongTensor [B] on x_t's device; checks ε̂'s shape."""
    t = t.to(device=x_t.device, dtype=torch.long)
    eps = model(x_t, t) if y is None else model(x_t, t, y)
    check_same_shape(x_t, eps, "x_t", "the model's output")
    return eps


class Recorder:
    """Collects (t, t_prev, x_t, x̂_0) per step on the CPU; ``every`` keeps every k-th step (and the last),
    because a full DDPM trajectory of a batch can take gigabytes."""

    def __init__(self, enabled: bool, n_steps: int, every: int):
        self.enabled, self.n_steps = enabled, n_steps
        self.every = check_int(every, "trajectory_every", 1, max(n_steps, 1))
        self.t, self.t_prev, self.x_t, self.x0_hat = [], [], [], []

    def add(self, i: int, t: int, t_prev: int, x_t: torch.Tensor, x0_hat: torch.Tensor) -> None:
        if self.enabled and (i % self.every == 0 or i == self.n_steps - 1):
            self.t.append(t)
            self.t_prev.append(t_prev)
            # no copy here: the samplers never modify x in place, and stack() copies once at the end
            self.x_t.append(x_t.detach().cpu())
            self.x0_hat.append(x0_hat.detach().cpu())

    def result(self) -> dict:
        return {
            "t": torch.tensor(self.t, dtype=torch.long),
            "t_prev": torch.tensor(self.t_prev, dtype=torch.long),
            "x_t": torch.stack(self.x_t),
            "x0_hat": torch.stack(self.x0_hat),
        }


def progress_bar(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm  # imported lazily: only needed for the bar
    return tqdm(iterable, desc=desc)


Step = Callable[[torch.Tensor, int, int], "tuple[torch.Tensor, torch.Tensor]"]


def run_steps(x: torch.Tensor, pairs, step: Step, desc: str, progress: bool = False,
              return_trajectory: bool = False, trajectory_every: int = 1):
    """x ← step(x, t, t_prev) for each (t, t_prev) in ``pairs``, under ``torch.inference_mode()``.

    ``step`` returns (the new x, its x̂_0). Returns the final x, or with ``return_trajectory=True``
    ``(x, trajectory)``: a dict of CPU tensors ``"t"`` [K], ``"t_prev"`` [K], ``"x_t"`` [K, B, …] (each
    recorded step's input) and ``"x0_hat"`` [K, B, …] (its x̂_0), every ``trajectory_every``-th step and the last.
    """
    pairs = [(int(t), int(t_prev)) for t, t_prev in pairs]
    record = Recorder(return_trajectory, len(pairs), trajectory_every)
    with torch.inference_mode():
        for i, (t, t_prev) in enumerate(progress_bar(pairs, progress, desc)):
            x_next, x0_hat = step(x, t, t_prev)
            record.add(i, t, t_prev, x, x0_hat)
            x = x_next
    # clone outside inference mode: an inference tensor refuses in-place edits (x.clamp_()) later on
    x = x.clone()
    return (x, record.result()) if return_trajectory else x
