"""The cost counter: counts on calls whose cost is known in advance; multiply-adds and timings per row."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.cost import CostCounter, multiply_adds, seconds_per_evaluation
from helpers.features import CoalitionGame, grid_segments
from helpers.saliency import gradient, integrated_gradients, smoothgrad


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


X = torch.rand(5, 1, 4, 4)


def test_one_gradient_is_one_forward_and_one_backward_of_the_batch():
    model = _model()
    with CostCounter(model) as cost:
        gradient(model, X, 1)
    assert cost.counts() == {"forward_rows": 5, "forward_calls": 1, "backward_passes": 1, "backward_rows": 5}
    assert cost.summary() == "5 forward rows in 1 call, 1 backward pass (5 rows)"


def test_chunks_are_counted_one_by_one():
    model = _model()
    with CostCounter(model) as cost:
        gradient(model, X, 1, batch_size=2)
    assert cost.counts() == {"forward_rows": 5, "forward_calls": 3, "backward_passes": 3, "backward_rows": 5}


@pytest.mark.parametrize("target, extra_forward", [(1, 0), (None, 1)])
def test_smoothgrad_costs_n_samples_rows_per_example(target, extra_forward):
    model = _model()
    with CostCounter(model) as cost:
        smoothgrad(model, X, target, n_samples=10, batch_size=16)
    # 50 noisy rows in chunks of 16: 4 passes; target None adds one forward pass on X to find the class
    assert cost.backward_passes == 4 and cost.backward_rows == 50
    assert cost.forward_calls == 4 + extra_forward
    assert cost.forward_rows == 50 + 5 * extra_forward


def test_fixed_step_integrated_gradients_costs_steps_rows_per_example():
    model = _model()
    with CostCounter(model) as cost:
        integrated_gradients(model, X, 2, steps=7, rule="gauss_legendre", batch_size=1000)
    assert cost.counts() == {"forward_rows": 35, "forward_calls": 1, "backward_passes": 1, "backward_rows": 35}


def test_forward_passes_without_gradient_count_rows_but_no_backward():
    model = _model()
    with CostCounter(model) as cost, torch.no_grad():
        model(X)
        model(X[:2])
    assert cost.counts() == {"forward_rows": 7, "forward_calls": 2, "backward_passes": 0, "backward_rows": 0}


def test_a_coalition_game_evaluated_through_the_model_is_counted():
    from helpers.features import CoalitionGame, grid_segments

    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    x = torch.rand(1, 28, 28)
    with CostCounter(model) as cost:
        game = CoalitionGame(model, x, grid_segments(x, 7), baseline=0.0, target=3)
        before = cost.forward_rows
        game(torch.rand(40, game.n_players) > 0.5)
    assert cost.forward_rows - before == 40
    assert cost.backward_passes == 0


def test_wrap_counts_a_function_that_is_not_a_module():
    cost = CostCounter()
    predict = cost.wrap(lambda rows: rows.sum(axis=1))
    predict(np.ones((3, 2)))  # outside the block: not counted
    with cost:
        predict(np.ones((5, 2)))
        predict(np.ones((4, 2)))
    assert (cost.forward_rows, cost.forward_calls) == (9, 2)
    cost.record_forward(6)  # not active: ignored
    with cost:
        cost.record_forward(6, calls=2)
    assert (cost.forward_rows, cost.forward_calls) == (15, 4)


def test_counts_add_up_over_blocks_and_outside_calls_are_not_counted():
    model = _model()
    cost = CostCounter(model)
    with cost:
        gradient(model, X, 0)
    gradient(model, X, 0)
    with cost:
        gradient(model, X[:2], 0)
    assert (cost.forward_rows, cost.backward_passes) == (7, 2)
    assert cost.seconds >= 0 and not cost.active


def test_hooks_are_removed_and_outputs_unchanged_even_after_an_error():
    model = _model()
    expected = model(X)
    with pytest.raises(ZeroDivisionError):
        with CostCounter(model) as cost:
            assert torch.equal(model(X), expected)
            1 / 0
    assert not model._forward_hooks and not model._forward_pre_hooks
    assert cost.forward_rows == 5 and not cost.active


def test_a_backward_pass_after_the_block_is_not_counted():
    model = _model()
    x = X.clone().requires_grad_(True)
    with CostCounter(model) as cost:
        out = model(x)
    out.sum().backward()
    assert cost.backward_passes == 0


def test_nested_counters_both_count():
    model = _model()
    with CostCounter(model) as outer:
        with CostCounter(model) as inner:
            gradient(model, X, 0)
        gradient(model, X, 0)
    assert (inner.forward_rows, outer.forward_rows) == (5, 10)
    assert (inner.backward_passes, outer.backward_passes) == (1, 2)


def test_errors():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        CostCounter(lambda x: x)
    cost = CostCounter(_model())
    with cost:
        with pytest.raises(RuntimeError, match="already active"):
            cost.__enter__()
    with pytest.raises(ValueError, match="rows must be a non-negative int; got -1"):
        cost.record_forward(-1)
    with pytest.raises(TypeError, match="function must be callable"):
        cost.wrap(3)


def test_summary_with_seconds_and_repr():
    cost = CostCounter()
    with cost:
        pass
    assert cost.summary(seconds=True).startswith("0 forward rows in 0 calls, 0 backward passes (0 rows), ")
    assert cost.summary(seconds=True).endswith(" s")
    assert repr(cost).startswith("CostCounter(0 forward rows")


# --------------------------------------------------------------------------- multiply-adds and seconds per row


@pytest.mark.parametrize("layer, x, expected", [
    (nn.Linear(784, 10), torch.zeros(5, 784), 784 * 10),                                   # one per weight
    (nn.Conv2d(1, 16, 3), torch.zeros(2, 1, 28, 28), 16 * 3 * 3 * 26 * 26),                 # per weight, per output pixel
    (nn.Conv2d(8, 8, 3, groups=8), torch.zeros(1, 8, 10, 10), 8 * 3 * 3 * 8 * 8),           # depthwise: 1 input map each
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)),  # layers add up; ReLU is free
     torch.zeros(3, 1, 8, 8), 4 * 9 * 6 * 6 + 4 * 6 * 6 * 3),
])
def test_multiply_adds_are_the_layers_weights_times_their_output_positions_per_row(layer, x, expected):
    assert multiply_adds(layer, x) == expected
    assert multiply_adds(layer, x[:1]) == expected  # per row: the batch size does not matter


def test_multiply_adds_of_the_course_cnn_follow_its_two_layers():
    from helpers.models import SimpleCNN
    assert multiply_adds(SimpleCNN(), torch.zeros(1, 1, 28, 28)) == 16 * 9 * 26 * 26 + 26 * 26 * 16 * 10


def test_multiply_adds_leave_the_model_and_the_input_alone():
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 3)).train()
    model[2].weight.grad = torch.ones_like(model[2].weight)
    x = torch.rand(4, 1, 4, 4, dtype=torch.float64).requires_grad_(True)  # float64 meets a float32 model
    before = x.detach().clone()
    assert multiply_adds(model, x) == 48
    assert model.training and model[1].training
    assert torch.equal(model[2].weight.grad, torch.ones_like(model[2].weight))
    assert torch.equal(x.detach(), before) and x.requires_grad and x.grad is None


def test_multiply_adds_errors_name_the_value():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module.*got function"):
        multiply_adds(lambda x: x, X)
    with pytest.raises(ValueError, match=r"x must be .*\[B, "):
        multiply_adds(_model(), torch.zeros(16))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        multiply_adds(_model(), torch.zeros(5, 1, 4, 4, dtype=torch.long))


def _game():
    return CoalitionGame(_model(), X[0], grid_segments((4, 4), 2), baseline=0.0)


def test_seconds_per_evaluation_is_positive_and_leaves_counts_and_rng_alone():
    game = _game()
    game(torch.ones(2, 4, dtype=torch.bool))
    counts, state = (game.n_evaluations, game.n_calls), torch.get_rng_state()
    seconds = seconds_per_evaluation(game, n_coalitions=8, repeats=3)
    assert isinstance(seconds, float) and 0 < seconds < 1
    assert (game.n_evaluations, game.n_calls) == counts
    assert torch.equal(torch.get_rng_state(), state)


def test_seconds_per_evaluation_times_what_the_game_evaluates():
    calls = []

    def game(Z):
        calls.append(Z.clone())
        return torch.zeros(len(Z))

    game.n_players = 5
    seconds_per_evaluation(game, n_coalitions=6, repeats=4, seed=1)
    assert len(calls) == 4 and all(torch.equal(Z, calls[0]) for Z in calls)  # one batch, timed four times
    assert calls[0].shape == (6, 5) and calls[0].dtype == torch.bool


def test_seconds_per_evaluation_errors_name_the_value():
    with pytest.raises(TypeError, match="game must be a coalition game.*got Sequential"):
        seconds_per_evaluation(_model())
    with pytest.raises(ValueError, match="n_coalitions must be an int >= 1; got 0"):
        seconds_per_evaluation(_game(), n_coalitions=0)
    with pytest.raises(TypeError, match="repeats must be an int"):
        seconds_per_evaluation(_game(), repeats=1.5)
    with pytest.raises(ValueError, match="seed must be in"):
        seconds_per_evaluation(_game(), seed=-1)
