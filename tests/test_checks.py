"""The shared argument checks: one implementation for batches, timesteps, labels and options."""


import pytest
import torch

from helpers._checks import check_batch, check_index, check_inputs, check_labels, check_timesteps


class Conditional:
    num_classes = 3


class Unconditional:
    num_classes = None


def test_check_inputs_returns_what_was_asked_for():
    x = torch.zeros(3, 2)
    assert check_inputs(x, "x") is None
    t = check_inputs(x, "x", T=10, t=4)
    assert t.dtype == torch.long and t.tolist() == [4, 4, 4]
    t, t_prev = check_inputs(x, "x", T=10, t=torch.tensor([1, 2, 9]), t_prev=-1)
    assert t.tolist() == [1, 2, 9] and t_prev.tolist() == [-1, -1, -1]
    t, y, s = check_inputs(x, "x", t=torch.tensor(5), model=Conditional(), y=2, guidance_scale=3)
    assert t.tolist() == [5, 5, 5] and y.tolist() == [2, 2, 2] and s == 3.0 and isinstance(s, float)
    y, s = check_inputs(x, "x", model=Unconditional())
    assert y is None and s == 1.0


@pytest.mark.parametrize("shape", [(3, 2), (3, 1, 4, 4), (3, 2, 1, 1, 1)])
def test_any_batch_of_two_dims_or_more_passes(shape):
    check_batch(torch.zeros(shape), "x")
    check_batch(torch.zeros(shape, dtype=torch.float64), "x")


@pytest.mark.parametrize("call,pattern", [
    (lambda: check_batch(torch.zeros(3), "x_t"), r"^x_t must be a floating-point tensor of shape \[B, …\]"),
    (lambda: check_batch(torch.zeros(()), "x_t"), r"^x_t\b.*at least 2 dims.*got shape \(\)"),
    (lambda: check_batch(torch.zeros(3, 2, dtype=torch.long), "x0"), r"^x0\b.*got dtype torch.int64"),
    (lambda: check_batch([[0.0]], "x0"), r"^x0\b.*got list"),
    (lambda: check_batch(torch.zeros(3, 1, 4), "x", dims=4), r"^x\b.*\[B, C, H, W\]"),
    (lambda: check_inputs(torch.zeros(3, 2), "x_t", like={"eps": torch.zeros(3, 3)}), r"^eps\b.*\(3, 2\)"),
    (lambda: check_inputs(torch.zeros(3, 2), "x_t", like={"noise": [0.0]}), r"^noise\b"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", choices={"method": ("rk", ("euler", "heun"))}),
     r"^method must be one of 'euler', 'heun'; got 'rk'"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", T=10, t=10), r"^t must be in 0\.\.9 \(T=10\)"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", t=-1), r"^t must be >= 0; got values in \[-1, -1\]"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", T=10, t=1, t_prev=-2), r"^t_prev must be in -1\.\.9"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", T=10, t=1.0), r"^t must be an int or an integer tensor"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", T=10, t=torch.tensor([1, 2])), r"^t\b.*B = 3.*shape \(2,\)"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", model=Conditional(), y=4), r"^y must be in 0\.\.2, or 3 for"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", model=Unconditional(), y=0), "unconditional"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", model=Conditional(), guidance_scale=2.0), r"^guidance_scale\b"),
    (lambda: check_inputs(torch.zeros(3, 2), "x", model=Conditional(), y=1, guidance_scale=float("nan")),
     r"^guidance_scale\b"),
])
def test_bad_arguments_name_themselves(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_index_and_labels_convert_and_keep_the_null_label():
    assert check_index(torch.tensor([0, 1]), "y", 2, 0, 3).dtype == torch.long
    assert check_index(torch.tensor([0, 1], dtype=torch.int32), "y", 2, 0, 3).dtype == torch.long
    assert check_labels(None, 4, 3) is None
    assert check_labels(torch.tensor([3, 0]), 2, 3).tolist() == [3, 0]  # 3 = num_classes is ∅
    assert check_timesteps(torch.tensor([0, 299]), 300).tolist() == [0, 299]
    with pytest.raises(ValueError, match=r"^t must be in 0\.\.299"):
        check_timesteps(300, 300)
    assert check_index(10**6, "t", 2, 0).tolist() == [10**6] * 2  # no upper bound (a network's t): only t >= 0
    with pytest.raises(ValueError, match=r"^t must be >= 0"):
        check_index(-1, "t", 2, 0)
