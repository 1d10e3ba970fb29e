"""check_drop_labels (notebook 08): accepts the reference and other correct answers, rejects each named mistake
with a message that names it."""

import pytest
import torch
from exercise_cases import assert_keeps_global_rng  # tests/ is on sys.path under pytest

from helpers.exercises import check_drop_labels
from helpers.loss import drop_labels


def _bernoulli(y, p_uncond, null_label, generator):  # correct, with other draws than the reference
    drop = torch.bernoulli(torch.full(y.shape, float(p_uncond)), generator=generator).bool()
    return torch.where(drop, torch.full_like(y, null_label), y)


def _keep_probability(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) >= p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def _whole_batch(y, p_uncond, null_label, generator):
    return torch.full_like(y, null_label) if torch.rand((), generator=generator) < p_uncond else y


def _last_real_class(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label - 1), y)


def _fixed_ten(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, 10), y)


def _minus_one(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, -1), y)


def _in_place(y, p_uncond, null_label, generator):
    y[torch.rand(y.shape, generator=generator) < p_uncond] = null_label
    return y


def _global_rng(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def _first_fraction(y, p_uncond, null_label, generator):
    drop = torch.arange(len(y)) < round(p_uncond * len(y))
    return torch.where(drop, torch.full_like(y, null_label), y)


def _float_labels(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.tensor(float(null_label)), y.float())


def _nothing(y, p_uncond, null_label, generator):
    return y.clone()


def _half_rate(y, p_uncond, null_label, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond / 2
    return torch.where(drop, torch.full_like(y, null_label), y)


def _by_class(y, p_uncond, null_label, generator):  # the right overall rate, but only even classes dropped
    drop = (torch.rand(y.shape, generator=generator) < 2 * p_uncond) & (y % 2 == 0) if p_uncond <= 0.5 else \
        torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def _max_plus_one(y, p_uncond, null_label, generator):  # right whenever y holds every class
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, int(y.max()) + 1), y)


def _fixed_count(y, p_uncond, null_label, generator):  # exactly round(p·B) dropped, at random places
    out = y.clone()
    out[torch.randperm(len(y), generator=generator)[:round(p_uncond * len(y))]] = null_label
    return out


def _stub(y, p_uncond, null_label, generator):
    raise NotImplementedError("exercise")


@pytest.mark.parametrize("fn", [drop_labels, _bernoulli])
def test_accepts_correct_answers(fn, capsys):
    check_drop_labels(fn)
    assert "✓ drop_labels is correct" in capsys.readouterr().out


def test_the_reference_is_recognised_draw_for_draw(capsys):
    check_drop_labels(drop_labels)
    assert "draw for draw" in capsys.readouterr().out


@pytest.mark.parametrize("fn, words", [
    (_keep_probability, "not of keeping it"),
    (_whole_batch, "whole batch"),
    (_last_real_class, "num_classes − 1"),
    (_fixed_ten, "null label passed in"),
    (_minus_one, "null label passed in"),
    (_in_place, "in place"),
    (_global_rng, "`generator` argument"),
    (_first_fraction, "whatever the generator"),
    (_float_labels, "keep them integers"),
    (_nothing, "no label was dropped"),
    (_half_rate, "expected p_uncond = 0.1"),
    (_by_class, "depends on the class"),
    (_max_plus_one, r"became \[7\] with null_label = 10"),
    (_fixed_count, "not a fixed number of them"),
    (_stub, "not implemented yet"),
])
def test_rejects_each_named_mistake(fn, words):
    with pytest.raises(AssertionError, match=words):
        check_drop_labels(fn)


def test_leaves_the_global_random_state_alone():
    assert_keeps_global_rng(lambda: check_drop_labels(drop_labels), 123)
