"""helpers.exercises.ddim: check_ddim_timesteps accepts the trailing sequence and names each mistake it lists."""

import numpy as np
import torch
from exercise_cases import assert_keeps_global_rng, assert_names, names_each_mistake, stub  # tests/ is on sys.path

from helpers.exercises import NOT_IMPLEMENTED, check_ddim_timesteps


def trailing(T, steps):
    k = torch.arange(steps, dtype=torch.float64)
    return torch.round(T - k * T / steps).long() - 1


def test_accepts_the_trailing_sequence(capsys):
    check_ddim_timesteps(trailing)
    assert "✓ ddim_timesteps is correct" in capsys.readouterr().out


def test_accepts_the_diffusers_formula_cut_to_steps_entries(capsys):
    check_ddim_timesteps(lambda T, steps: torch.from_numpy(
        (np.round(np.arange(T, 0, -T / steps)).astype(np.int64) - 1)[:steps].copy()))
    assert "✓" in capsys.readouterr().out


def test_accepts_pythons_round_which_also_breaks_ties_to_even(capsys):
    check_ddim_timesteps(lambda T, steps: torch.tensor([round(T - k * T / steps) - 1 for k in range(steps)]))
    assert "✓" in capsys.readouterr().out


def leading(T, steps):
    return (torch.arange(steps) * (T // steps)).flip(0)


def linspace(T, steps):
    return torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().flip(0)


def no_shift(T, steps):
    return trailing(T, steps) + 1


def floor(T, steps):
    k = torch.arange(steps, dtype=torch.float64)
    return torch.floor(T - k * T / steps).long() - 1


def half_up(T, steps):
    k = torch.arange(steps, dtype=torch.float64)
    return torch.floor(T - k * T / steps + 0.5).long() - 1


def float_arange(T, steps):
    return torch.round(torch.arange(T, 0, -T / steps, dtype=torch.float64)).long() - 1


MISTAKES = {
    "ascending": (lambda T, steps: trailing(T, steps).flip(0), "ascending"),
    "no -1": (no_shift, "the −1 is missing: index T does not exist"),
    "no -1, ascending": (lambda T, steps: no_shift(T, steps).flip(0), "the −1 is missing, and the sequence ascends"),
    "leading": (leading, "'leading' spacing"),
    "linspace": (linspace, "'linspace' spacing"),
    "floor": (floor, r"rounded down \(floor\)"),
    "ties rounded up": (half_up, r"T = 300, steps = 8.*ties rounded up|ties rounded up.*T = 300, steps = 8"),
    "-1 appended": (lambda T, steps: torch.cat([trailing(T, steps), torch.tensor([-1])]), "goes to t' = −1 by itself"),
    "float arange": (float_arange, r"extra entry −1 at the end.*float arange\(T, 0, −T/steps\) can overshoot"),
    "float dtype": (lambda T, steps: trailing(T, steps).double(), "return a LongTensor"),
    "list": (lambda T, steps: trailing(T, steps).tolist(), "should return a torch.Tensor, got list"),
    "no return": (lambda T, steps: None, "missing `return`"),
    "2-D": (lambda T, steps: trailing(T, steps)[None], "1-D tensor"),
    "off by one": (lambda T, steps: trailing(T, steps) - 1, "wrong sequence"),
}
test_names_the_mistake = names_each_mistake(check_ddim_timesteps, MISTAKES)


def test_stub_says_not_implemented():
    assert_names(check_ddim_timesteps, stub, NOT_IMPLEMENTED.split(":")[0])


def test_other_errors_become_assertion_errors_naming_the_case():
    assert_names(check_ddim_timesteps, lambda T, steps: 1 / 0, r"\(T = 300, steps = 10\) raised ZeroDivisionError")


def test_keeps_the_global_random_state():
    assert_keeps_global_rng(lambda: check_ddim_timesteps(trailing), seed=7)
