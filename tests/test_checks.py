"""helpers.checks: one rule for the error type (TypeError: wrong kind; ValueError: bad value), every message tested."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.checks import (
    all_finite,
    check_batch,
    check_batch_size,
    check_bool,
    check_choice,
    check_float,
    check_fraction,
    check_int,
    check_model,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_target,
)

WRONG_KIND = [
    (lambda: check_bool("absolute", "False"), "absolute must be True or False; got 'False' of type str"),
    (lambda: check_bool("absolute", 1), "absolute must be True or False; got 1 of type int"),
    (lambda: check_int("steps", 10.0), "steps must be an int; got 10.0 of type float"),
    (lambda: check_int("steps", True), "steps must be an int; got True of type bool"),
    (lambda: check_positive_int("n_samples", "5"), "n_samples must be an int; got '5' of type str"),
    (lambda: check_batch_size(2.5), "batch_size must be a positive int or None; got 2.5 of type float"),
    (lambda: check_float("noise_level", "high"), "noise_level must be a number; got 'high' of type str"),
    (lambda: check_float("noise_level", True), "noise_level must be a number; got True of type bool"),
    (lambda: check_positive_float("eps", None), "eps must be a number; got None of type NoneType"),
    (lambda: check_fraction("test_fraction", "0.2"), r"test_fraction must be a number in \(0, 1\); got '0.2' of type str"),
    (lambda: check_choice("rule", 3, ("a", "b")), r"rule must be one of \('a', 'b'\); got 3 of type int"),
    (lambda: check_seed(1.5), "seed must be an int; got 1.5 of type float"),
    (lambda: check_model(lambda x: x, purpose="hooks need modules"), r"model must be a torch.nn.Module \(hooks need modules\); got function"),
    (lambda: check_batch([[0.0]]), "x must be a torch.Tensor; got list"),
    (lambda: check_batch(torch.zeros(2, 3, dtype=torch.int64)), "x must be a floating-point tensor"),
    (lambda: check_target(1.0, 2), "target must be None, an int or an int tensor"),
    (lambda: check_target(True, 2), "got a bool"),
    (lambda: check_target(np.array([0.0, 1.0]), 2), "integer class indices; got a NumPy array of dtype float64"),
]

BAD_VALUE = [
    (lambda: check_int("steps", 1, 2), "steps must be an int >= 2; got 1"),
    (lambda: check_int("steps", 9, 2, 8), "steps must be an int <= 8; got 9"),
    (lambda: check_positive_int("n_samples", 0), "n_samples must be an int >= 1; got 0"),
    (lambda: check_batch_size(0), "batch_size must be a positive int or None; got 0"),
    (lambda: check_float("noise_level", -0.1, minimum=0.0), "noise_level must be a finite number >= 0; got -0.1"),
    (lambda: check_float("x", float("nan")), "x must be a finite number; got nan"),
    (lambda: check_positive_float("eps", float("inf")), "eps must be a finite number > 0; got inf"),
    (lambda: check_positive_float("eps", 0), "eps must be a finite number > 0; got 0.0"),
    (lambda: check_fraction("test_fraction", 1.5), r"test_fraction must be in \(0, 1\); got 1.5"),
    (lambda: check_fraction("share", float("nan"), closed=True), r"share must be in \[0, 1\]; got nan"),
    (lambda: check_choice("rule", "simpson", ("a", "b")), r"rule must be one of \('a', 'b'\); got 'simpson'"),
    (lambda: check_seed(-1), r"seed must be in \[0, 2\*\*32\); got -1"),
    (lambda: check_batch(torch.zeros(4)), r"x must be batched, \[B, \.\.\.\]"),
    (lambda: check_batch(torch.zeros(0, 4)), r"at least one example; got shape \(0, 4\)"),
    (lambda: check_batch(torch.tensor([[float("nan"), 1.0]])), r"x must be finite; it holds 1 NaN or Inf value\(s\)"),
    (lambda: check_batch(torch.zeros(2, 4, device="meta")), r"x is on the meta device: it has a shape \(2, 4\) but no values"),
    (lambda: check_target(10**20, 2), r"target must be a class index in \[0, classes\); got 100000000000000000000"),
    (lambda: check_target([0, -(10**30)], 2), "target must be a class index"),
    (lambda: check_target(torch.tensor([0, 1, 2]), 2), r"length B=2 .* got shape \(3,\)"),
]


@pytest.mark.parametrize("call, message", WRONG_KIND, ids=[m[:40] for _, m in WRONG_KIND])
def test_the_wrong_kind_of_object_is_a_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


@pytest.mark.parametrize("call, message", BAD_VALUE, ids=[m[:40] for _, m in BAD_VALUE])
def test_the_right_kind_with_a_bad_value_is_a_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_checks_return_canonical_values():
    assert check_bool("b", np.bool_(True)) is True
    assert check_int("n", np.int64(3), 1) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_float("f", np.float32(0.5)) == 0.5 and check_float("f", 2) == 2.0
    assert check_batch_size(None) is None and check_batch_size(8) == 8
    assert check_fraction("f", 0.0, closed=True) == 0.0
    assert check_target(None, 3) is None
    assert torch.equal(check_target(2, 3), torch.tensor([2, 2, 2]))
    assert torch.equal(check_target([0, 1], 2), torch.tensor([0, 1]))
    assert torch.equal(check_target(np.array([1, 0]), 2), torch.tensor([1, 0]))
    assert torch.equal(check_target(torch.tensor(4), 2), torch.tensor([4, 4]))
    assert check_target(-1, 1).tolist() == [-1]  # out of range for every model: said with the class count later


def test_all_finite_survives_an_overflowing_sum():
    assert all_finite(torch.full((4,), 3e38)) and not all_finite(torch.tensor([3e38, float("inf")]))


def test_check_maps_and_check_explanation():
    from helpers.checks import check_explanation, check_maps

    assert check_maps("a", torch.zeros(2, 3, dtype=torch.int64)).shape == (2, 3)
    with pytest.raises(TypeError, match="a must hold real values"):
        check_maps("a", torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"a must be finite; it holds 1 NaN"):
        check_maps("a", torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="must be batched"):
        check_maps("a", torch.zeros(3))
    assert check_explanation("m", np.ones((2, 4)), 2).dtype == torch.float64
    with pytest.raises(TypeError, match="m must return a torch.Tensor .*; got float"):
        check_explanation("m", 1.0, 2)
