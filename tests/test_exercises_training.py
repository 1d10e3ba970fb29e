"""helpers.exercises.training's notebook-05 checker check_ema_update: accepts the EMA update in place or returned,
rejects each named mistake with a message that names it."""

import pytest
import torch
from exercise_cases import assert_keeps_global_rng, names_each_mistake, stub

from helpers.exercises import NOT_IMPLEMENTED, check_ema_update


def in_place(ema_params, params, decay):
    with torch.no_grad():
        for e, p in zip(ema_params, params):
            e.mul_(decay).add_(p, alpha=1 - decay)


def by_lerp(ema_params, params, decay):  # as helpers.training.EMA does it
    with torch.no_grad():
        for e, p in zip(ema_params, params):
            e.lerp_(p, 1 - decay)


def returned(ema_params, params, decay):
    return [decay * e + (1 - decay) * p.detach() for e, p in zip(ema_params, params)]


@pytest.mark.parametrize("fn", [in_place, by_lerp, returned, lambda e, p, d: tuple(returned(e, p, d))])
def test_ema_update_accepts_correct(fn, capsys):
    check_ema_update(fn)
    assert "✓ ema_update is correct" in capsys.readouterr().out


def with_weights(a, b):
    """θ_EMA ← a(d)·θ_EMA + b(d)·θ, returned."""
    return lambda ema_params, params, d: [a(d) * e + b(d) * p.detach() for e, p in zip(ema_params, params)]


def rebinds(ema_params, params, decay):
    for e, p in zip(ema_params, params):
        e = decay * e + (1 - decay) * p.detach()  # noqa: F841 (the mistake: rebinds the name only)


def no_grad_missing(ema_params, params, decay):
    for e, p in zip(ema_params, params):
        e.mul_(decay).add_(p, alpha=1 - decay)


def moves_theta(ema_params, params, decay):
    for e, p in zip(ema_params, params):
        p.mul_(decay).add_(e, alpha=1 - decay)


def moves_theta_no_grad(ema_params, params, decay):
    with torch.no_grad():
        for e, p in zip(ema_params, params):
            p.mul_(decay).add_(e, alpha=1 - decay)


def returns_theta_at_zero(ema_params, params, decay):
    return list(params) if decay == 0 else returned(ema_params, params, decay)


MISTAKES = {
    "swapped": (with_weights(lambda d: 1 - d, lambda d: d), "decay and 1 − decay swapped"),
    "no 1 - d": (with_weights(lambda d: d, lambda d: 1.0), "not scaled by 1 − d"),
    "theta missing": (with_weights(lambda d: d, lambda d: 0.0), "new weights θ are missing"),
    "theta itself": (with_weights(lambda d: 0.0, lambda d: 1.0), "that is θ itself"),
    "unchanged": (lambda e, p, d: [x.clone() for x in e], "old EMA unchanged"),
    "rebinds": (rebinds, "neither returned anything nor changed ema_params"),
    "no no_grad": (no_grad_missing, "tracks gradients"),
    "theta in place": (moves_theta, "modified the model's weights θ"),
    "theta in place, no_grad": (moves_theta_no_grad, "modified the model's weights θ"),
    "aliases theta": (returns_theta_at_zero, "θ's own tensors"),
    "one tensor": (lambda e, p, d: returned(e, p, d)[0], "return a list of 3 tensors"),
    "float64": (lambda e, p, d: [x.double() for x in returned(e, p, d)], "dtype"),
    "stub": (stub, NOT_IMPLEMENTED),
}


test_ema_update_names_mistake = names_each_mistake(check_ema_update, MISTAKES)


def test_ema_update_leaves_the_global_random_state_alone():
    assert_keeps_global_rng(lambda: check_ema_update(in_place), seed=5)
