"""What the exercise tests share: a student's table lookup, the unfilled stub, and the tests that a checker names
each mistake it claims to catch and leaves torch's global random state alone. Imported as a top-level module:
tests/ is on sys.path under pytest (as for stand_in_models)."""

import pytest
import torch


def G(table, t, x):
    """table[t] as [B, 1, …] in x's dtype: what a student writes."""
    return table[t].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def stub(*args):
    # YOUR CODE HERE
    raise NotImplementedError("exercise")


def assert_names(check, fn, phrase):
    with pytest.raises(AssertionError, match=phrase):
        check(fn)


def assert_accepts_images_and_points(check, fn, label: str, capsys) -> None:
    """check(fn) passes on images and on points (B, D) = (6, 2), and says so twice."""
    check(fn)
    check(fn, shape=(6, 2))
    assert capsys.readouterr().out.count(f"✓ {label}") == 2


def names_each_mistake(check, mistakes: dict):
    """A test, parametrized over ``mistakes`` (name → (fn, phrase)), that ``check(fn)`` fails saying ``phrase``."""
    @pytest.mark.parametrize("mistake", list(mistakes))
    def test(mistake):
        fn, phrase = mistakes[mistake]
        assert_names(check, fn, phrase)
    return test


def assert_keeps_global_rng(run, seed: int) -> None:
    """run() must leave torch's global random state as it found it."""
    torch.manual_seed(seed)
    expected = torch.rand(3)
    torch.manual_seed(seed)
    run()
    assert torch.equal(torch.rand(3), expected)
