"""Tests of helpers.features: segmentations and the coalition game."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.features import (
    CoalitionGame,
    FunctionGame,
    blurred,
    check_coalitions,
    grid_segments,
    occlusion,
    segment_means,
    segment_sums,
    superpixels,
    tabular_segments,
)
from helpers.lime import lime
from helpers.models import MLP, LinearClassifier, SimpleCNN
from helpers.seeding import seed_everything
from helpers.shapley import TableGame, exact_shapley, kernel_shap, permutation_shapley, shap_kernel_explainer


@pytest.fixture
def image_setup():
    seed_everything(0)
    model = SimpleCNN()
    x = torch.rand(1, 28, 28)
    return model, x, grid_segments(x, 7)


@pytest.fixture
def tabular_setup():
    seed_everything(0)
    model = MLP(5, 3, hidden=(8,))
    x = torch.randn(5)
    return model, x, tabular_segments(x)


def _photo(seed=0, size=48):
    """A smooth colour image with four flat quadrants plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    image = torch.zeros(3, size, size)
    half = size // 2
    image[0, :half, :half] = 0.9
    image[1, :half, half:] = 0.8
    image[2, half:, :half] = 0.7
    image[:, half:, half:] = 0.3
    return (image + 0.02 * torch.rand(3, size, size, generator=g)).clamp(0, 1)


# ---------------------------------------------------------------- segmentations


def test_grid_segments_digit_is_a_4x4_grid_of_7x7_patches():
    segments = grid_segments((28, 28), 7)
    assert segments.dtype == torch.int64 and segments.shape == (28, 28)
    assert torch.equal(torch.unique(segments), torch.arange(16))
    assert torch.equal(torch.bincount(segments.flatten()), torch.full((16,), 49))
    # row-major numbering: patch (r, c) has label 4 r + c
    assert int(segments[0, 7]) == 1 and int(segments[7, 0]) == 4 and int(segments[27, 27]) == 15


def test_grid_segments_uneven_and_rectangular():
    segments = grid_segments(torch.zeros(3, 10, 7), (4, 3))
    assert segments.shape == (10, 7)
    assert int(segments.max()) + 1 == 3 * 3  # ceil(10/4) x ceil(7/3)
    assert torch.equal(torch.unique(segments), torch.arange(9))
    assert grid_segments((5, 5), 5).eq(0).all()


@pytest.mark.parametrize("bad", [(28,), (0, 5), "28x28", (2.5, 3)])
def test_grid_segments_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="shape must be"):
        grid_segments(bad, 7)


def test_grid_segments_rejects_bad_patch_size_and_images():
    with pytest.raises(ValueError, match="patch_size"):
        grid_segments((28, 28), 0)
    with pytest.raises(ValueError, match="grid_segments needs an image"):
        grid_segments(torch.zeros(1, 1, 28, 28), 7)


@pytest.mark.parametrize("method", ["slic", "quickshift"])
def test_superpixels_are_consecutive_labels_of_the_image_shape(method):
    photo = _photo()
    segments = superpixels(photo, 4, method=method)
    assert segments.dtype == torch.int64 and segments.shape == (48, 48)
    n = int(segments.max()) + 1
    assert torch.equal(torch.unique(segments), torch.arange(n))


def test_slic_finds_the_four_flat_quadrants():
    segments = superpixels(_photo(), 4)
    # the interior of every quadrant (2 pixels from the edges, which SLIC's smoothing blurs) is one
    # superpixel, and the four differ
    quadrant_labels = [segments[2:22, 2:22], segments[2:22, 26:46], segments[26:46, 2:22], segments[26:46, 26:46]]
    assert all(torch.unique(q).numel() == 1 for q in quadrant_labels)
    assert len({int(q[0, 0]) for q in quadrant_labels}) == 4


def test_superpixels_accepts_numpy_uint8_grey_and_other_ranges():
    photo = _photo()
    reference = superpixels(photo, 4)
    as_uint8 = (photo.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert torch.equal(superpixels(as_uint8, 4), reference)
    # a model input in [-1, 1] is mapped back to [0, 1] for the segmentation
    low, high = float(photo.min()), float(photo.max())
    rescaled = (photo - low) / (high - low) * 2 - 1
    assert torch.equal(superpixels(rescaled, 4), superpixels((photo - low) / (high - low), 4))
    grey = superpixels(photo.mean(0, keepdim=True), 4)
    assert grey.shape == (48, 48) and int(grey.min()) == 0


def test_superpixels_errors():
    with pytest.raises(ValueError, match='method must be "slic" or "quickshift"'):
        superpixels(_photo(), 4, method="felzenszwalb")
    with pytest.raises(ValueError, match="n_segments must be a positive int"):
        superpixels(_photo(), 0)
    with pytest.raises(ValueError, match="image must be grey"):
        superpixels(torch.zeros(2, 8, 8), 4)
    with pytest.raises(TypeError, match="image must be a torch.Tensor"):
        superpixels([[0.0]], 4)
    with pytest.raises(ValueError, match="image must be finite"):
        superpixels(torch.full((1, 8, 8), float("nan")), 4)


def test_tabular_segments():
    assert tabular_segments(4).tolist() == [0, 1, 2, 3]
    assert tabular_segments(torch.zeros(3)).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="n_features must be a positive int"):
        tabular_segments(0)
    with pytest.raises(ValueError, match=r"a table row must be \[F\]"):
        tabular_segments(torch.zeros(2, 3))


def test_segment_means_are_constant_per_segment_and_keep_each_segment_sum():
    x = torch.rand(3, 28, 28)
    segments = grid_segments(x, 7)
    means = segment_means(x, segments)
    assert means.shape == x.shape
    for label in range(16):
        inside = segments == label
        for c in range(3):
            values = means[c][inside]
            assert torch.allclose(values, values[0].expand_as(values))
            assert torch.allclose(values.sum(), x[c][inside].sum(), atol=1e-4)


# ---------------------------------------------------------------- the game


@pytest.mark.parametrize("baseline", [0.0, 0.5, "tensor", "segment_mean"])
@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_batched_game_equals_the_model_on_masked_inputs_one_at_a_time(baseline, kind, image_setup, tabular_setup):
    model, x, segments = image_setup if kind == "image" else tabular_setup
    if baseline == "tensor":
        baseline = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    if kind == "tabular" and baseline == "segment_mean":  # one column per segment is refused: group them
        segments = torch.tensor([0, 1, 0, 2, 1])
    game = CoalitionGame(model, x, segments, baseline=baseline, batch_size=7)
    Z = torch.rand(23, game.n_players, generator=torch.Generator().manual_seed(2)) > 0.5
    values = game(Z)
    if isinstance(baseline, str):
        fill = segment_means(x, segments)
    else:
        fill = torch.broadcast_to(torch.as_tensor(baseline, dtype=x.dtype), x.shape)
    for row, z in enumerate(Z):
        present = z[segments]  # spread over the input's trailing (spatial) dimensions
        masked = x.clone()
        masked[..., ~present] = fill[..., ~present]
        expected = model(masked[None])[0, game.target]
        assert torch.allclose(values[row], expected, atol=1e-5), row


def test_full_and_empty_coalitions_give_the_input_and_the_baseline(image_setup):
    model, x, segments = image_setup
    baseline = torch.rand_like(x)
    game = CoalitionGame(model, x, segments, baseline=baseline, target=3)
    Z = torch.stack([torch.ones(16, dtype=torch.bool), torch.zeros(16, dtype=torch.bool)])
    values = game(Z)
    with torch.no_grad():
        assert torch.allclose(values[0], model(x[None])[0, 3], atol=1e-5)
        assert torch.allclose(values[1], model(baseline[None])[0, 3], atol=1e-5)
    assert game.full_score == pytest.approx(float(values[0]), abs=1e-5)
    assert torch.equal(game.inputs(Z[:1])[0], x) and torch.equal(game.inputs(Z[1:])[0], baseline)


def test_target_none_is_the_predicted_class_and_probability_output(image_setup):
    model, x, segments = image_setup
    with torch.no_grad():
        scores = model(x[None])[0]
    game = CoalitionGame(model, x, segments)
    assert game.target == int(scores.argmax()) and game.n_classes == 10
    prob_game = CoalitionGame(model, x, segments, output="probability")
    full = prob_game(torch.ones(1, 16, dtype=torch.bool))
    assert torch.allclose(full, scores.softmax(0)[game.target], atol=1e-6)
    assert 0 < float(full) <= 1


def test_values_do_not_depend_on_batch_size_and_the_game_counts(image_setup):
    model, x, segments = image_setup
    Z = torch.rand(50, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    reference = CoalitionGame(model, x, segments, batch_size=50)(Z)
    game = CoalitionGame(model, x, segments, batch_size=8)
    assert torch.allclose(game(Z), reference, atol=1e-5)
    assert game.n_evaluations == 50 and game.n_calls == 7  # ceil(50 / 8)
    game(Z[:3])
    assert game.n_evaluations == 53 and game.n_calls == 8
    game.reset_counts()
    assert game.n_evaluations == 0 and game.n_calls == 0
    assert game(Z[:0]).shape == (0,) and game.n_calls == 0


def test_integer_coalitions_and_numpy_are_accepted(image_setup):
    model, x, segments = image_setup
    game = CoalitionGame(model, x, segments)
    Z = torch.rand(5, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    assert torch.equal(game(Z), game(Z.long()))
    assert torch.equal(game(Z), game(Z.numpy().astype(np.int64)))


def test_the_game_has_no_side_effects(image_setup):
    model, x, segments = image_setup
    model.train()
    x = x.clone().requires_grad_(True)
    before = x.detach().clone()
    game = CoalitionGame(model, x, segments, baseline="segment_mean")
    values = game(torch.rand(4, 16) > 0.5)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert x.grad is None and x.requires_grad and torch.equal(x.detach(), before)
    assert not values.requires_grad


def test_a_plain_callable_model_works():
    weights = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    game = CoalitionGame(lambda batch: batch @ weights.T, torch.ones(3), tabular_segments(3), baseline=0.0, target=0)
    Z = torch.tensor([[True, False, True], [False, True, False]])
    assert game(Z).tolist() == [4.0, 2.0]


@pytest.mark.parametrize("kind", ["image", "tabular"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_masked_inputs_hold_x_exactly_where_the_segment_is_present(kind, data):
    x = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(2, 6, 6) + 1 if kind == "image" else torch.arange(7.0) + 1
    segments = grid_segments(x, 2) if kind == "image" else tabular_segments(x)
    game = CoalitionGame(lambda b: b.reshape(b.shape[0], -1)[:, :2], x, segments, baseline=-1.0, target=0)
    rows = data.draw(st.lists(st.lists(st.booleans(), min_size=game.n_players, max_size=game.n_players),
                              min_size=1, max_size=5))
    Z = torch.tensor(rows)
    inputs = game.inputs(Z)
    assert inputs.shape == (len(rows), *x.shape)
    present = Z[:, segments]
    if kind == "image":
        present = present[:, None].expand_as(inputs)
    assert torch.equal(inputs[present], x.expand_as(inputs)[present])
    assert (inputs[~present] == -1).all()


# ---------------------------------------------------------------- errors


def test_segments_errors(image_setup):
    model, x, _ = image_setup
    with pytest.raises(ValueError, match="segments must have the spatial shape of x"):
        CoalitionGame(model, x, grid_segments((27, 28), 7))
    with pytest.raises(ValueError, match=r"segments must use every label 0..M-1.*missing \[3\]"):
        segments = grid_segments(x, 7)
        segments[segments == 3] = 2
        CoalitionGame(model, x, segments)
    with pytest.raises(ValueError, match="segments must use every label 0..M-1"):
        CoalitionGame(model, x, grid_segments(x, 7) + 1)
    with pytest.raises(ValueError, match="segments must use every label 0..M-1"):
        CoalitionGame(model, x, grid_segments(x, 7) - 1)
    with pytest.raises(TypeError, match="segments must hold integer labels"):
        CoalitionGame(model, x, grid_segments(x, 7).float())
    with pytest.raises(TypeError, match="segments must be an integer torch.Tensor"):
        CoalitionGame(model, x, [[0]])
    with pytest.raises(ValueError, match=r"17 distinct labels from 0 to 1000000000000, missing \[16, 17"):  # no huge table built
        segments = grid_segments(x, 7)
        segments[0, 0] = 10**12
        CoalitionGame(model, x, segments)


def test_a_table_game_masks_columns_in_any_segment_order():
    """One feature per player in order (the fast path) and a permuted labelling give the same inputs."""
    torch.manual_seed(0)
    model = MLP(5, 1, hidden=(8,))
    x, baseline = torch.randn(5), torch.randn(5)
    order = torch.tensor([3, 0, 4, 1, 2])
    plain = CoalitionGame(model, x, tabular_segments(x), baseline=baseline)
    permuted = CoalitionGame(model, x, order, baseline=baseline)  # feature f is player order[f]
    Z = torch.rand(64, 5, generator=torch.Generator().manual_seed(1)) < 0.5
    expected = torch.where(Z, x, baseline)
    assert torch.equal(plain.inputs(Z), expected)
    Z_players = Z[:, torch.argsort(order)]  # player order[f] holds feature f's column
    assert torch.equal(permuted.inputs(Z_players), expected)
    torch.testing.assert_close(plain(Z), permuted(Z_players), rtol=0, atol=0)
    # the same segments over a 2-D input [C, F] spread each player over the C rows (no table shortcut)
    rows = CoalitionGame(lambda batch: batch.sum(dim=(1, 2))[:, None], torch.stack([x, 2 * x]), tabular_segments(5),
                         baseline=0.0)
    torch.testing.assert_close(rows.inputs(Z), torch.stack([torch.where(Z, x, 0.0), torch.where(Z, 2 * x, 0.0)], dim=1))


@pytest.mark.parametrize(
    "Z, error, match",
    [
        (torch.ones(2, 15, dtype=torch.bool), ValueError, r"Z must have shape \[n, M\] with M = 16"),
        (torch.ones(16, dtype=torch.bool), ValueError, r"add a batch dimension with Z\[None\]"),
        (torch.ones(2, 16), TypeError, "Z must be a bool tensor"),
        (torch.full((2, 16), 2), ValueError, "Z must hold only 0/1"),
        ([[True] * 16], TypeError, "Z must be a bool tensor"),
    ],
)
def test_coalition_errors(Z, error, match, image_setup):
    model, x, segments = image_setup
    game = CoalitionGame(model, x, segments)
    with pytest.raises(error, match=match):
        game(Z)
    assert game.n_evaluations == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"baseline": "mean"}, ValueError, 'baseline must be a number, a tensor shaped like x or "segment_mean"'),
        ({"baseline": torch.zeros(2, 28, 28)}, ValueError, r"baseline must be shaped like x \(1, 28, 28\)"),
        ({"baseline": [0.0]}, TypeError, "baseline must be a number"),
        ({"baseline": True}, TypeError, "baseline must be a number"),
        ({"baseline": float("nan")}, ValueError, "baseline must be finite"),
        ({"baseline": torch.full((1, 28, 28), float("inf"))}, ValueError, "baseline must be finite"),
        # one rule with Integrated Gradients (helpers.scores.check_baseline): an integer tensor is the wrong kind
        ({"baseline": torch.zeros(1, 28, 28, dtype=torch.int64)}, TypeError, "baseline must be a float tensor"),
        ({"target": 10}, ValueError, r"target must be a class index in \[0, 10\); got 10"),
        ({"target": -1}, ValueError, r"target must be a class index in \[0, 10\); got -1"),
        ({"target": 1.0}, TypeError, "target must be an int class index or None"),
        ({"target": True}, TypeError, "target must be an int class index or None"),
        ({"output": "logits"}, ValueError, 'output must be "score" or "probability"'),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int or None"),
    ],
)
def test_constructor_errors(kwargs, error, match, image_setup):
    model, x, segments = image_setup
    with pytest.raises(error, match=match):
        CoalitionGame(model, x, segments, **kwargs)


def test_input_and_model_errors(image_setup):
    model, x, segments = image_setup
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a callable"):
        CoalitionGame("model", x, segments)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        CoalitionGame(model, x.numpy(), segments)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        CoalitionGame(model, x.long(), segments)
    with pytest.raises(ValueError, match="x must be finite"):
        CoalitionGame(model, torch.full_like(x, float("nan")), segments)
    with pytest.raises(ValueError, match="x must be one input"):
        CoalitionGame(model, torch.tensor(1.0), segments)
    with pytest.raises(ValueError, match=r"the model must return class scores of shape \[B, classes\]") as caught:
        CoalitionGame(lambda b: b.sum(), x, segments)
    assert "batch dimension" not in str(caught.value)  # a grey digit [1, 28, 28] is one input, not a batch


def test_tensor_target_and_linear_model_broadcast_baseline():
    seed_everything(0)
    model = LinearClassifier((3, 4, 4), 5)
    x = torch.rand(3, 4, 4)
    game = CoalitionGame(model, x, grid_segments(x, 2), baseline=torch.tensor([0.1, 0.2, 0.3])[:, None, None],
                         target=torch.tensor(2))
    assert game.target == 2 and torch.allclose(game.baseline_input[:, 0, 0], torch.tensor([0.1, 0.2, 0.3]))
    # a linear model's game is linear in the coalition: v(z) = v(0) + sum_i z_i (v(e_i) - v(0))
    eye = torch.eye(4, dtype=torch.bool)
    single = game(eye) - game(torch.zeros(1, 4, dtype=torch.bool))
    Z = torch.rand(10, 4, generator=torch.Generator().manual_seed(0)) > 0.5
    predicted = game(torch.zeros(1, 4, dtype=torch.bool)) + Z.float() @ single
    assert torch.allclose(game(Z), predicted, atol=1e-5)


def test_dummy_players_are_segments_that_already_hold_the_baseline(image_setup):
    model, _, segments = image_setup
    x = torch.zeros(1, 28, 28)
    x[0, 8:20, 8:20] = 1.0  # ink in the middle patches only
    game = CoalitionGame(model, x, segments, baseline=0.0)
    expected = torch.ones(16, dtype=torch.bool)
    expected[[5, 6, 9, 10]] = False
    assert torch.equal(game.dummy_players, expected)
    # a dummy player changes nothing: adding it to any coalition keeps the value
    Z = torch.rand(8, 16, generator=torch.Generator().manual_seed(0)) > 0.5
    with_dummy, without_dummy = Z.clone(), Z.clone()
    with_dummy[:, 0], without_dummy[:, 0] = True, False
    assert torch.equal(game(with_dummy), game(without_dummy))
    assert not CoalitionGame(model, x, segments, baseline=0.5).dummy_players.any()


# ---------------------------------------------------------------- FunctionGame


def test_function_game_counts_and_checks():
    coefficients = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    game = FunctionGame(lambda Z: Z.double() @ coefficients, 3)
    assert game.n_players == 3
    values = game(torch.tensor([[True, True, False], [False, False, True]]))
    assert values.tolist() == [-1.0, 0.5]
    assert game.n_evaluations == 2 and game.n_calls == 1
    with pytest.raises(ValueError, match="M = 3"):
        game(torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="must return one value per coalition"):
        FunctionGame(lambda Z: Z.double(), 3)(torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="function must be callable"):
        FunctionGame(3, 3)
    with pytest.raises(ValueError, match="n_players must be a positive int"):
        FunctionGame(lambda Z: Z.sum(1), 0)
    game.reset_counts()
    assert game.n_evaluations == 0


def test_check_coalitions_moves_to_a_device():
    Z = check_coalitions(torch.ones(2, 3, dtype=torch.bool), 3, "cpu")
    assert Z.dtype == torch.bool and Z.device.type == "cpu"


def test_the_games_evaluation_context_nests_and_restores():
    torch.manual_seed(0)
    model = MLP(4, 2, hidden=(8,)).train()
    model.net[0].eval()  # a submodule with its own mode
    game = CoalitionGame(model, torch.randn(4), tabular_segments(4))
    modes = [m.training for m in model.modules()]
    with game._running():
        with game._running():  # entered again while open: nothing changes
            assert not torch.is_grad_enabled() and not any(m.training for m in model.modules())
        assert not torch.is_grad_enabled() and not any(m.training for m in model.modules())
    assert torch.is_grad_enabled() and [m.training for m in model.modules()] == modes
    with pytest.raises(RuntimeError, match="boom"):
        with game._running():
            raise RuntimeError("boom")
    assert torch.is_grad_enabled() and [m.training for m in model.modules()] == modes
    game(torch.ones(3, 4, dtype=torch.bool))  # and a call after all that still works
    assert [m.training for m in model.modules()] == modes


# ---------------------------------------------------------------- occlusion


def test_occlusion_of_an_additive_game_is_its_weights_in_one_call():
    weights = torch.tensor([0.5, -2.0, 0.0, 3.0], dtype=torch.float64)
    game = FunctionGame(lambda Z: 7.0 + Z.double() @ weights, 4)
    values = occlusion(game)
    assert torch.allclose(values, weights, atol=1e-12) and values.dtype == torch.float64
    assert game.n_calls == 1 and game.n_evaluations == 5


def test_occlusion_of_a_model_is_the_drop_when_one_patch_is_masked(image_setup):
    model, x, segments = image_setup
    before = x.clone()
    model.train()
    game = CoalitionGame(model, x, segments, baseline=0.0, target=3)
    values = occlusion(game)
    assert values.shape == (16,) and model.training and torch.equal(x, before)
    for i in (0, 5, 15):
        masked = x.clone()
        masked[:, segments == i] = 0.0
        with torch.no_grad():
            drop = model.eval()(x[None])[0, 3] - model(masked[None])[0, 3]
        assert float(values[i]) == pytest.approx(float(drop), abs=1e-5)


def test_occlusion_misses_what_two_redundant_features_do_together():
    game = FunctionGame(lambda Z: (Z[:, 0] | Z[:, 1]).double(), 2)  # either one is enough
    assert occlusion(game).tolist() == [0.0, 0.0]


def test_occlusion_errors():
    with pytest.raises(TypeError, match="game must be callable"):
        occlusion("not a game")
    with pytest.raises(ValueError, match="one finite value per coalition"):
        occlusion(FunctionGame(lambda Z: torch.full((Z.shape[0],), float("nan")), 3))


# ---------------------------------------------------------------- baselines: blur and a background


def test_blurred_keeps_constants_and_totals_smooths_and_has_no_side_effects():
    x = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    smooth = blurred(x, 2.0)
    assert smooth.shape == x.shape and smooth.dtype == x.dtype and torch.equal(x, before)
    assert torch.allclose(smooth.sum(dim=(1, 2)), x.sum(dim=(1, 2)), rtol=1e-5)  # mirrored edges keep the total
    assert float(smooth.std()) < 0.5 * float(x.std())
    assert torch.allclose(blurred(torch.full((1, 9, 9), 0.3), 3.0), torch.full((1, 9, 9), 0.3), atol=1e-6)
    # channels are blurred apart: a channel of zeros stays zeros
    two = torch.stack([x[0], torch.zeros(20, 24)])
    assert torch.equal(blurred(two, 1.5)[1], torch.zeros(20, 24))


def test_blurred_errors():
    with pytest.raises(ValueError, match="a table row has no neighbours"):
        blurred(torch.rand(5), 1.0)
    with pytest.raises(ValueError, match="sigma must be a positive, finite"):
        blurred(torch.rand(1, 8, 8), 0.0)
    with pytest.raises(ValueError, match="sigma must be a positive, finite"):
        blurred(torch.rand(1, 8, 8), float("inf"))
    with pytest.raises(TypeError, match="sigma must be a number"):
        blurred(torch.rand(1, 8, 8), "2")
    with pytest.raises(TypeError, match="floating-point"):
        blurred(torch.zeros(1, 8, 8, dtype=torch.int64), 1.0)


def test_a_blurred_baseline_is_a_tensor_baseline(image_setup):
    model, x, segments = image_setup
    game = CoalitionGame(model, x, segments, baseline=blurred(x, 3.0), target=1)
    empty = game(torch.zeros(1, 16, dtype=torch.bool))
    with torch.no_grad():
        assert torch.allclose(empty, model(blurred(x, 3.0)[None])[:, 1], atol=1e-5)


@pytest.fixture
def background_setup():
    seed_everything(0)
    model = MLP(4, 3, hidden=(8,)).double()
    x = torch.randn(4, dtype=torch.float64)
    background = torch.randn(6, 4, dtype=torch.float64)
    return model, x, background


def test_a_background_game_is_the_mean_over_its_rows(background_setup):
    model, x, background = background_setup
    game = CoalitionGame(model, x, tabular_segments(4), background=background, target=1, batch_size=4)
    Z = torch.rand(9, 4, generator=torch.Generator().manual_seed(3)) > 0.5
    values = game(Z)
    with torch.no_grad():
        for row, z in enumerate(Z):
            rows = torch.where(z, x, background)
            assert float(values[row]) == pytest.approx(float(model(rows)[:, 1].mean()), abs=1e-12)
        assert float(game(torch.zeros(1, 4, dtype=torch.bool))) == pytest.approx(float(model(background)[:, 1].mean()))
    assert game.n_evaluations == 10 and game.n_calls == 10  # 4 rows a pass: one coalition (6 rows) a pass
    assert game.baseline_input.shape == (6, 4) and "background=6 rows" in repr(game)


def test_exact_shapley_on_a_background_is_efficient_and_equals_shaps_kernel_explainer(background_setup):
    import shap

    from helpers.shapley import exact_shapley

    model, x, background = background_setup
    game = CoalitionGame(model, x, tabular_segments(4), background=background, target=1)
    phi = exact_shapley(game)
    with torch.no_grad():
        expected = model(background)[:, 1].mean()
    assert float(phi.sum()) == pytest.approx(game.full_score - float(expected), abs=1e-12)

    def f(rows):
        with torch.no_grad():
            return model(torch.from_numpy(rows))[:, 1].numpy()

    explainer = shap.KernelExplainer(f, background.numpy())  # every coalition of 4 features: exact
    theirs = explainer.shap_values(x.numpy()[None], nsamples=100, silent=True)
    assert explainer.expected_value == pytest.approx(float(expected), abs=1e-12)
    assert np.allclose(phi.numpy(), np.asarray(theirs).reshape(4), atol=1e-10)


def test_a_background_on_images_and_its_dummies(image_setup):
    model, x, segments = image_setup
    background = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    background[:, :, :7, :7] = x[:, :7, :7]  # every row agrees with x on patch 0
    game = CoalitionGame(model, x, segments, background=background, target=2)
    assert game.dummy_players.tolist() == [True] + [False] * 15
    Z = torch.rand(5, 16, generator=torch.Generator().manual_seed(1)) > 0.5
    means = torch.stack([CoalitionGame(model, x, segments, baseline=b, target=2)(Z) for b in background]).mean(dim=0)
    assert torch.allclose(game(Z), means, atol=1e-5)
    # one row, broadcast over the channels, is accepted as [K, ...] too
    assert CoalitionGame(model, x, segments, background=torch.zeros(2, 1, 1, 1), target=2).baseline_input.shape \
        == (2, 1, 28, 28)


def test_background_errors(background_setup):
    model, x, background = background_setup
    segments = tabular_segments(4)
    with pytest.raises(ValueError, match="either baseline .* or background"):
        CoalitionGame(model, x, segments, baseline=0.0, background=background)
    with pytest.raises(ValueError, match=r"K >= 1 rows shaped like x.*pass baseline= instead"):
        CoalitionGame(model, x, segments, background=background[0])
    with pytest.raises(ValueError, match="background must be"):
        CoalitionGame(model, x, segments, background=torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="background must be a float tensor"):
        CoalitionGame(model, x, segments, background=torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="background must be finite"):
        CoalitionGame(model, x, segments, background=torch.full((2, 4), float("nan"), dtype=torch.float64))


# ---------------------------------------------------------------- reliability (issue 13: items 2, 9, 11)


class _WritesIntoItsInput(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, z):
        z.mul_(2)  # a careless model: changes its input in place
        return self.linear(z)


def test_a_model_that_writes_into_its_input_cannot_corrupt_the_game():
    seed_everything(0)
    model = _WritesIntoItsInput()
    x = torch.randn(4)
    before = x.clone()
    game = CoalitionGame(model, x, tabular_segments(4), baseline=0.5, target=0)
    assert torch.equal(game.x, before) and torch.equal(x, before)
    Z = torch.tensor([[True] * 4, [False] * 4, [True, False, True, False]])
    first = game(Z)
    assert float(first[0]) == game.full_score  # the full coalition is still x: f(2x) both times
    assert torch.equal(game(Z), first) and torch.equal(game.x, before)
    assert torch.equal(game.baseline_input, torch.full((4,), 0.5))
    with torch.no_grad():
        assert float(first[0]) == pytest.approx(float(model.linear(2 * before)[0]), abs=1e-6)


def test_a_float64_input_is_cast_to_a_float32_models_dtype(tabular_setup):
    model, x, segments = tabular_setup
    game64 = CoalitionGame(model, x.double(), segments, baseline=x.double().mean())
    game32 = CoalitionGame(model, x, segments, baseline=x.mean())
    assert game64.x.dtype == torch.float32
    Z = torch.rand(6, 5, generator=torch.Generator().manual_seed(0)) > 0.5
    assert torch.equal(game64(Z), game32(Z))


def test_an_input_with_a_batch_dimension_gets_a_clear_error(image_setup):
    model, x, segments = image_setup
    with pytest.raises(ValueError, match=r"ONE input without a batch dimension.*pass X\[0\] rather than X\[:1\]"):
        CoalitionGame(model, x[None], grid_segments((28, 28), 7))
    linear = torch.nn.Linear(5, 3)  # a linear layer runs on [1, 1, 5] but returns [1, 1, 3]
    with pytest.raises(ValueError, match=r"\[B, classes\].*pass X\[0\]"):
        CoalitionGame(linear, torch.rand(1, 5), tabular_segments(5))


def test_segment_mean_on_one_value_per_segment_is_refused(tabular_setup):
    model, x, segments = tabular_setup
    with pytest.raises(ValueError, match='baseline="segment_mean" makes every feature equal to its baseline'):
        CoalitionGame(model, x, segments, baseline="segment_mean")


def test_a_baseline_equal_to_x_everywhere_warns(tabular_setup):
    model, x, segments = tabular_setup
    with pytest.warns(UserWarning, match="x equals its baseline everywhere"):
        game = CoalitionGame(model, x, segments, baseline=x.clone())
    assert bool(game.dummy_players.all())


# --------------------------------------------------------------------------- careless or hostile calls of the games and their estimators


pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:shap")


def two_player_table():
    return TableGame({(): 0, (0,): 1, (1,): 2, (0, 1): 5}, n_players=2)


@pytest.mark.parametrize(
    "Z, error, match",
    [
        ([[0.5, 0]], TypeError, "Z must be a bool tensor"),
        (torch.tensor([[0.5, 0.0]]), TypeError, "Z must be a bool tensor"),
        (torch.tensor([[2, 0]]), ValueError, "Z must hold only 0/1"),
        (torch.tensor([[-1, 0]]), ValueError, "Z must hold only 0/1"),
        (torch.tensor([[True, False, True]]), ValueError, r"Z must have shape \[n, M\] with M = 2"),
        (torch.tensor([True, False]), ValueError, r"add a batch dimension with Z\[None\]"),
    ],
)
def test_a_table_game_rejects_what_is_not_a_coalition(Z, error, match):
    game = two_player_table()
    with pytest.raises(error, match=match):
        game(Z)
    assert game.n_evaluations == 0 and game.n_calls == 0


def test_a_table_game_accepts_bool_and_0_1_integers_and_counts_like_every_game():
    game = two_player_table()
    Z = torch.tensor([[True, False], [True, True]])
    assert game(Z).tolist() == [1.0, 5.0] == game(Z.long()).tolist() == game(Z.numpy()).tolist()
    assert game.n_evaluations == 6 and game.n_calls == 3
    game.reset_counts()
    assert (game.n_evaluations, game.n_calls) == (0, 0)
    both = game + 2 * game
    assert both(Z).tolist() == [3.0, 15.0] and both.n_calls == 1


@pytest.mark.parametrize("level", [logging.NOTSET, logging.DEBUG, logging.ERROR])
def test_shap_kernel_explainer_leaves_the_shap_logger_as_it_found_it(level):
    logger = logging.getLogger("shap")
    saved = logger.level
    try:
        logger.setLevel(level)
        values = shap_kernel_explainer(two_player_table(), budget=4)
        assert logger.level == level
        assert torch.allclose(values, torch.tensor([2.0, 3.0], dtype=torch.float64))
    finally:
        logger.setLevel(saved)


def test_the_shap_logger_is_restored_when_shap_fails():
    logger = logging.getLogger("shap")
    saved = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        broken = FunctionGame(lambda Z: torch.full((Z.shape[0],), float("nan")), 3)
        with pytest.raises(ValueError, match="NaN or Inf"):
            shap_kernel_explainer(broken, budget=8)
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(saved)


METHODS = {
    "lime": lambda game: lime(game, n_samples=200, seed=4),
    "kernel_shap": lambda game: kernel_shap(game, budget=20, seed=4),
    "kernel_shap, sampled": lambda game: kernel_shap(game, budget=40, seed=4, design=False),
    "permutation_shapley": lambda game: permutation_shapley(game, n_permutations=4, seed=4),
    "exact_shapley": exact_shapley,
    "occlusion": occlusion,
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_an_inputs_explanation_does_not_depend_on_the_other_inputs_explained(name):
    seed_everything(0)
    model = MLP(6, 3, hidden=(8,))
    X = torch.randn(4, 6)
    method = METHODS[name]

    def explain(x):
        return method(CoalitionGame(model, x, tabular_segments(6), baseline=X.mean(dim=0)))

    alone = explain(X[2])
    for x in X:  # the other rows first, with the same seed
        explain(x)
    torch.manual_seed(123)  # and whatever the global generator holds
    assert torch.equal(explain(X[2]), alone)


def test_segment_sums_names_an_empty_or_meta_batch():
    segments = grid_segments((28, 28), 7)
    with pytest.raises(ValueError, match=r"saliency must hold at least one example; got shape \(0, 1, 28, 28\)"):
        segment_sums(torch.zeros(0, 1, 28, 28), segments)
    with pytest.raises(ValueError, match="saliency is on the meta device"):
        segment_sums(torch.zeros(2, 28, 28, device="meta"), segments)
