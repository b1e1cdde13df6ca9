"""Tests of helpers.lime: LIME from scratch, checked against facts and the lime package."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lime.lime_base import LimeBase
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

from helpers.features import CoalitionGame, FunctionGame, grid_segments, tabular_segments
from helpers.lime import (
    cosine_distances,
    exponential_kernel,
    fit_lime,
    lime,
    lime_explanation,
    lime_package_coalitions,
    lime_package_image,
    lime_package_tabular,
    lime_tabular,
    sample_coalitions,
    weighted_ridge,
)
from helpers.models import MLP, SimpleCNN
from helpers.seeding import seed_everything


def linear_game(coefficients, intercept=0.0):
    coefficients = torch.as_tensor(coefficients, dtype=torch.float64)
    return FunctionGame(lambda Z: intercept + Z.double() @ coefficients, len(coefficients))


def interaction_game(n_players=6):
    """v(z) = z_0 * z_1 * 3 + z_2: not linear, so no linear fit is exact."""
    return FunctionGame(lambda Z: 3.0 * (Z[:, 0] & Z[:, 1]).double() + Z[:, 2].double(), n_players)


# ---------------------------------------------------------------- the method


@settings(max_examples=25, deadline=None)
@given(
    coefficients=st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=12),
    intercept=st.floats(-3, 3, allow_nan=False),
    seed=st.integers(0, 2**31),
)
def test_lime_recovers_the_coefficients_of_a_linear_game(coefficients, intercept, seed):
    game = linear_game(coefficients, intercept)
    fit = lime_explanation(game, n_samples=300, seed=seed, alpha=0.0)
    assert torch.allclose(fit.weights, torch.tensor(coefficients, dtype=torch.float64), atol=1e-8)
    assert fit.intercept == pytest.approx(intercept, abs=1e-8)
    assert fit.local_prediction == pytest.approx(intercept + sum(coefficients), abs=1e-8)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9) or np.allclose(coefficients, 0)


@pytest.mark.parametrize("kernel_width", [0.25, 1.0, 5.0])
def test_lime_with_the_default_ridge_is_close_on_a_linear_game(kernel_width):
    coefficients = [2.0, -1.0, 0.5, 0.0, 3.0, -2.5, 1.0, 0.25]
    weights = lime(linear_game(coefficients, 1.0), n_samples=2000, kernel_width=kernel_width, seed=0)
    # ridge shrinks by about alpha / (sum of weighted variances): a few hundredths here
    assert torch.allclose(weights, torch.tensor(coefficients, dtype=torch.float64), atol=0.05)


def test_same_seed_same_weights_different_seeds_differ():
    game = interaction_game()
    a = lime(game, n_samples=200, seed=3)
    b = lime(game, n_samples=200, seed=3)
    c = lime(game, n_samples=200, seed=4)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == (6,) and a.dtype == torch.float64


def test_a_non_linear_game_is_not_fitted_exactly():
    fit = lime_explanation(interaction_game(), n_samples=500, seed=0)
    assert 0 < fit.r2 < 1
    # the dummy players 3, 4, 5 get (nearly) nothing, the interacting pair shares its effect
    assert fit.weights[3:].abs().max() < 0.2
    assert fit.weights[0] > 0.5 and fit.weights[1] > 0.5


def test_lime_evaluates_the_game_once_on_all_samples():
    game = interaction_game()
    fit = lime_explanation(game, n_samples=123, seed=0)
    assert game.n_calls == 1 and game.n_evaluations == 123
    assert fit.design.shape == (123, 6) and fit.values.shape == (123,)
    assert bool(fit.coalitions[0].all())


def test_sampling_facts():
    Z = sample_coalitions(4000, 10, seed=0)
    assert Z.dtype == torch.bool and bool(Z[0].all())
    assert float(Z[1:].double().mean()) == pytest.approx(0.5, abs=0.01)  # each feature present w.p. 1/2
    assert torch.equal(Z, sample_coalitions(4000, 10, seed=0))


def test_cosine_distance_and_kernel_facts():
    Z = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    d = cosine_distances(Z)
    assert torch.allclose(d, torch.tensor([0.0, 0.5, 1 - 0.5**0.5, 1.0], dtype=torch.float64))
    # the same numbers as scikit-learn's cosine distance to the first row, which lime uses
    theirs = pairwise_distances(Z.numpy().astype(int), Z[:1].numpy().astype(int), metric="cosine").ravel()
    assert np.allclose(d.numpy(), theirs, atol=1e-12)
    kernel = exponential_kernel(d, 0.25)
    assert torch.allclose(kernel, torch.sqrt(torch.exp(-(d**2) / 0.25**2)))
    assert float(kernel[0]) == 1.0 and (kernel[1:] < 1).all()


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0, 10.0])
def test_weighted_ridge_equals_sklearn(alpha):
    g = np.random.default_rng(0)
    X, y, w = g.normal(size=(60, 5)), g.normal(size=60), g.uniform(0.1, 2, size=60)
    ours, intercept, r2 = weighted_ridge(torch.tensor(X), torch.tensor(y), torch.tensor(w), alpha=alpha)
    ridge = Ridge(alpha=alpha, fit_intercept=True).fit(X, y, sample_weight=w)
    assert np.allclose(ours.numpy(), ridge.coef_, atol=1e-10)
    assert intercept == pytest.approx(ridge.intercept_, abs=1e-10)
    assert r2 == pytest.approx(ridge.score(X, y, sample_weight=w), abs=1e-10)


def test_weighted_ridge_on_a_constant_target():
    X = torch.tensor([[0.0], [1.0]])
    assert weighted_ridge(X, torch.ones(2), torch.ones(2))[2] == 1.0


def test_refitting_with_a_very_wide_kernel_is_the_unweighted_fit():
    fit = lime_explanation(interaction_game(), n_samples=300, seed=1)
    wide = fit_lime(fit.coalitions, fit.values, kernel_width=1e6)
    plain, _, _ = weighted_ridge(fit.design, fit.values, torch.ones(300))
    assert torch.allclose(wide.weights, plain, atol=1e-8)
    assert not torch.allclose(fit.weights, wide.weights, atol=1e-3)


# ---------------------------------------------------------------- parity with the lime package


@pytest.mark.parametrize("n_players, kernel_width", [(6, 0.25), (16, 0.25), (16, 1.0)])
def test_parity_with_limebase_explain_instance_with_data(n_players, kernel_width):
    g = np.random.default_rng(n_players)
    Z = lime_package_coalitions(400, n_players, 5)
    values = torch.tensor(g.normal(size=400)) + Z.double() @ torch.tensor(g.normal(size=n_players))
    distances = pairwise_distances(Z.numpy().astype(int), np.ones((1, n_players)), metric="cosine").ravel()
    base = LimeBase(lambda d: np.sqrt(np.exp(-(d**2) / kernel_width**2)), random_state=0)
    intercept, pairs, score, local = base.explain_instance_with_data(
        Z.numpy().astype(int), values.numpy()[:, None], distances, 0, n_players, feature_selection="none",
        model_regressor=Ridge(alpha=1, fit_intercept=True, random_state=0),
    )
    theirs = np.zeros(n_players)
    for feature, weight in pairs:
        theirs[feature] = weight
    ours = fit_lime(Z, values, kernel_width=kernel_width)
    assert np.allclose(ours.weights.numpy(), theirs, atol=1e-6)
    assert ours.intercept == pytest.approx(intercept, abs=1e-6)
    assert ours.r2 == pytest.approx(score, abs=1e-6)
    assert ours.local_prediction == pytest.approx(float(np.ravel(local)[0]), abs=1e-6)


def test_lime_package_coalitions_are_lime_image_draws():
    Z = lime_package_coalitions(50, 7, 11)
    data = np.random.RandomState(11).randint(0, 2, 50 * 7).reshape(50, 7)
    data[0] = 1
    assert np.array_equal(Z.numpy().astype(int), data)


@pytest.mark.parametrize("baseline", ["segment_mean", 0.0])
def test_parity_with_lime_image_explainer_on_a_digit(baseline, mnist_test):
    seed_everything(0)
    model = SimpleCNN()
    x = mnist_test[0][0]
    segments = grid_segments(x, 7)
    game = CoalitionGame(model, x, segments, baseline=baseline, output="probability")
    ours = lime_explanation(game, coalitions=lime_package_coalitions(300, 16, 2))
    theirs = lime_package_image(model, x, segments, target=game.target, n_samples=300, seed=2, baseline=baseline)
    assert torch.allclose(ours.weights, theirs.weights, atol=1e-6)
    assert ours.intercept == pytest.approx(theirs.intercept, abs=1e-6)
    assert ours.r2 == pytest.approx(theirs.r2, abs=1e-6)


def test_parity_with_lime_tabular_explainer():
    seed_everything(0)
    model = MLP(4, 3, hidden=(8,))
    X_train = torch.randn(50, 4) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 1
    x = X_train[0]
    ours = lime_tabular(model, x, X_train, n_samples=500, seed=4, target=1)
    theirs = lime_package_tabular(model, x, X_train, target=1, n_samples=500, seed=4)
    assert torch.allclose(ours.weights, theirs.weights, atol=1e-6)
    assert ours.intercept == pytest.approx(theirs.intercept, abs=1e-6)
    assert ours.r2 == pytest.approx(theirs.r2, abs=1e-6)
    assert ours.kernel_width == pytest.approx(0.75 * 2)
    # lime's samples are drawn around the training mean, not around x
    assert torch.allclose(ours.design[1:].mean(0), torch.zeros(4, dtype=torch.float64), atol=0.2)


def test_lime_tabular_defaults_to_the_predicted_class_and_is_deterministic():
    seed_everything(0)
    model = MLP(3, 2, hidden=(4,))
    X_train = torch.randn(30, 3)
    a = lime_tabular(model, X_train[1], X_train, n_samples=200, seed=0)
    b = lime_tabular(model, X_train[1], X_train, n_samples=200, seed=0, target=int(model(X_train[1:2]).argmax()))
    assert torch.equal(a.weights, b.weights)


# ---------------------------------------------------------------- errors


def test_lime_errors():
    game = interaction_game()
    with pytest.raises(TypeError, match="game must have an attribute n_players"):
        lime(lambda Z: Z.sum(1))
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        lime(game, n_samples=1)
    with pytest.raises(ValueError, match="kernel_width must be a finite number > 0"):
        lime(game, kernel_width=0.0)
    with pytest.raises(ValueError, match="kernel_width must be a finite number"):
        lime(game, kernel_width=float("inf"))
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        lime(game, alpha=-1.0)
    with pytest.raises(ValueError, match=r"Z must have shape \[n, M\] with M = 6"):
        lime(game, coalitions=torch.ones(5, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="coalitions must hold at least 2 rows"):
        lime(game, coalitions=torch.ones(1, 6, dtype=torch.bool))
    with pytest.raises(TypeError, match="seed must be an int"):
        lime(game, seed=0.5)
    nan_game = FunctionGame(lambda Z: torch.full((Z.shape[0],), float("nan")), 3)
    with pytest.raises(ValueError, match="one finite value per coalition"):
        lime(nan_game, n_samples=10)
    with pytest.raises(ValueError, match=r"coalitions must be a bool tensor \[n, M\]"):
        cosine_distances(torch.ones(3, dtype=torch.bool))


def test_weighted_ridge_errors():
    X = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="must agree"):
        weighted_ridge(X, torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        weighted_ridge(X, torch.zeros(4), -torch.ones(4))
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        weighted_ridge(X, torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="must be finite"):
        weighted_ridge(X, torch.full((4,), float("nan")), torch.ones(4))
    with pytest.raises(TypeError, match=r"design must be a tensor \[n, M\]"):
        weighted_ridge([[0.0]], torch.zeros(1), torch.ones(1))


def test_tabular_and_package_errors(mnist_test):
    model = MLP(3, 2, hidden=(4,))
    X_train = torch.randn(10, 3)
    with pytest.raises(ValueError, match=r"x must be one row \[F\] and X_train a table \[N, F\]"):
        lime_tabular(model, X_train[0, :2], X_train)
    with pytest.raises(TypeError, match="x and X_train must be tensors"):
        lime_tabular(model, X_train[0].numpy(), X_train)
    with pytest.raises(ValueError, match='output must be "score" or "probability"'):
        lime_tabular(model, X_train[0], X_train, output="logit")
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 2\)"):
        lime_tabular(model, X_train[0], X_train, target=2, n_samples=10)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a callable"):
        lime_tabular(None, X_train[0], X_train)
    x = mnist_test[0][0]
    with pytest.raises(ValueError, match='baseline must be "segment_mean" or a number'):
        lime_package_image(SimpleCNN(), x, grid_segments(x, 7), target=0, baseline=torch.zeros_like(x))
    with pytest.raises(ValueError, match=r"x must be an image \[C, H, W\]"):
        lime_package_image(SimpleCNN(), x[0], grid_segments(x, 7), target=0)


def test_lime_runs_on_a_tabular_coalition_game():
    seed_everything(0)
    model = MLP(5, 2, hidden=(8,))
    x = torch.randn(5)
    game = CoalitionGame(model, x, tabular_segments(x), baseline=0.0)
    weights = lime(game, n_samples=200)
    assert weights.shape == (5,) and torch.isfinite(weights).all()


# ---------------------------------------------------------------- the notebook's exercise checkers


def test_exercise_checkers_accept_right_answers_and_explain_wrong_ones(capsys):
    from helpers import exercises

    def kernel(Z, width):
        d = 1 - torch.sqrt(Z.double().sum(1) / Z.shape[1])
        return torch.exp(-(d**2) / (2 * width**2))

    def wrong_kernel(Z, width):
        d = 1 - torch.sqrt(Z.double().sum(1) / Z.shape[1])
        return torch.exp(-(d**2) / width**2)

    assert exercises.check_lime_kernel(kernel)
    assert not exercises.check_lime_kernel(wrong_kernel)
    assert "square root" in capsys.readouterr().out
    assert not exercises.check_lime_kernel(None)
    assert "not attempted yet" in capsys.readouterr().out
    assert not exercises.check_lime_kernel(lambda Z, w: 1 / 0)

    def least_squares(Z, values, weights, weighted=True):
        design = torch.cat([torch.ones(len(values), 1, dtype=torch.float64), Z.double()], dim=1)
        root = weights.sqrt() if weighted else torch.ones_like(weights)
        return torch.linalg.lstsq(design * root[:, None], (values * root)[:, None]).solution[1:, 0]

    assert exercises.check_weighted_least_squares(least_squares)
    assert not exercises.check_weighted_least_squares(lambda Z, v, w: least_squares(Z, v, w, weighted=False))
    assert "unweighted" in capsys.readouterr().out
    assert not exercises.check_weighted_least_squares(None)


# ---------------------------------------------------------------- pictures of segments and weights


@pytest.mark.parametrize("image", [torch.rand(1, 28, 28), torch.rand(3, 64, 64), np.random.default_rng(0).random((64, 64, 3))])
def test_segment_pictures_draw_and_return_their_axes(image):
    import matplotlib.pyplot as plt

    from helpers.plotting import show_segment_weights, show_segments

    segments = grid_segments(image.shape[-2:] if isinstance(image, torch.Tensor) else image.shape[:2], 7)
    fig, axes = plt.subplots(1, 3)
    assert show_segments(image, segments, axes[0], numbers=True, title="segments") is axes[0]
    weights = torch.linspace(-1, 1, int(segments.max()) + 1)
    assert show_segment_weights(image, segments, weights, axes[1], title="weights") is axes[1]
    assert show_segment_weights(image, segments, weights, axes[2], top_k=2, colorbar=False) is axes[2]
    with pytest.raises(ValueError, match="weights must hold one value per segment"):
        show_segment_weights(image, segments, weights[:-1])


# ---------------------------------------------------------------- reliability (issue 13: items 3 and 9)


@pytest.mark.parametrize("width", [1e-300, 1e300, 1e-160, 1e160])
def test_kernel_widths_float64_cannot_square_are_refused_by_name(width):
    game = interaction_game()
    with pytest.raises(ValueError, match=r"kernel_width must be between .* can be computed in float64.*got 1e"):
        lime(game, kernel_width=width, n_samples=20)
    with pytest.raises(ValueError, match="kernel_width must be between"):
        exponential_kernel(torch.zeros(3), width)
    model = MLP(3, 2, hidden=(4,))
    with pytest.raises(ValueError, match="kernel_width must be between"):
        lime_tabular(model, torch.zeros(3), torch.randn(10, 3), kernel_width=width)


def test_the_widest_and_narrowest_representable_kernels_are_finite():
    from helpers.lime import KERNEL_WIDTH_RANGE

    distances = torch.tensor([0.0, 0.5, 1.0])
    low, high = KERNEL_WIDTH_RANGE
    assert exponential_kernel(distances, high).tolist() == [1.0, 1.0, 1.0]
    assert exponential_kernel(distances, low).tolist() == [1.0, 0.0, 0.0]


def test_a_kernel_that_leaves_fewer_effective_samples_than_features_warns():
    game = linear_game([1.0, -2.0, 0.5, 3.0, 0.0, 1.5])
    with pytest.warns(UserWarning, match=r"kernel_width=0\.001 leaves 3\.0 effective samples .* for 6 features"):
        fit = lime_explanation(game, n_samples=200, kernel_width=1e-3, seed=0)
    # only the samples that are the input itself (all features present) keep a weight: a perfect fit of nothing
    assert int(fit.coalitions.all(dim=1).sum()) == 3 and fit.effective_samples == pytest.approx(3.0)
    assert fit.r2 == pytest.approx(1.0) and float(fit.weights.abs().max()) < 1e-6
    # fit_lime, made to compare widths on the same samples, reports instead of warning
    refit = fit_lime(fit.coalitions, fit.values, kernel_width=1e-3)
    assert refit.effective_samples == pytest.approx(3.0)
    model = MLP(3, 2, hidden=(4,))
    with pytest.warns(UserWarning, match="effective samples"):
        lime_tabular(model, torch.zeros(3), torch.randn(10, 3), kernel_width=1e-3, n_samples=100)


@pytest.mark.parametrize("n_players, width", [(16, 0.25), (39, 0.25), (50, 0.25), (30, None)])
def test_the_defaults_do_not_warn(n_players, width, recwarn):
    """The notebooks' paths: a digit's 16 patches, photographs' 39-50 superpixels, breast cancer's 30 columns."""
    if width is None:
        seed_everything(0)
        model = MLP(n_players, 2, hidden=(8,))
        X_train = torch.randn(100, n_players)
        fit = lime_tabular(model, X_train[0], X_train)
    else:
        fit = lime_explanation(linear_game(torch.linspace(-1, 1, n_players)), n_samples=1000, kernel_width=width)
    assert fit.effective_samples > 5 * n_players
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_lime_tabular_casts_a_row_to_the_models_dtype(dtype):
    seed_everything(0)
    model = MLP(4, 3, hidden=(8,))
    X_train = torch.randn(50, 4)
    x = X_train[3].to(torch.float16).float()  # representable in float16: the same row in every dtype
    reference = lime_tabular(model, x, X_train, n_samples=300, seed=1)
    other = lime_tabular(model, x.to(dtype), X_train, n_samples=300, seed=1)
    assert torch.equal(other.weights, reference.weights) and other.intercept == reference.intercept
    theirs = lime_package_tabular(model, x.to(dtype), X_train, target=reference_target(model, x), n_samples=300, seed=1)
    assert torch.allclose(theirs.weights, reference.weights, atol=1e-6)


def reference_target(model, x):
    with torch.no_grad():
        return int(model(x[None]).argmax())


def test_lime_tabular_wraps_model_errors():
    X_train = torch.randn(20, 4)
    with pytest.raises(ValueError, match=r"the model could not run on the sampled rows of shape \(\d+, 4\)"):
        lime_tabular(MLP(5, 2, hidden=(4,)), X_train[0], X_train, n_samples=20)
    with pytest.raises(ValueError, match=r"the model must return class scores of shape \[B, classes\]"):
        lime_tabular(lambda rows: rows.sum(dim=1), X_train[0], X_train, n_samples=20)



def test_the_wrong_kind_of_option_is_a_type_error_and_a_bad_value_a_value_error():
    """helpers.checks' rule, as everywhere: TypeError for the wrong kind, ValueError for a bad value."""
    game = interaction_game()
    with pytest.raises(TypeError, match="n_samples must be an int"):
        lime(game, n_samples=200.0)
    with pytest.raises(TypeError, match="kernel_width must be a number"):
        lime(game, kernel_width="0.25")
    with pytest.raises(TypeError, match="alpha must be a number"):
        lime(game, alpha=None)
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        lime(game, n_samples=1)
