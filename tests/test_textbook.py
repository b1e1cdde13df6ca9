"""The textbook versions (helpers.textbook) give the same answers as the full helpers.

Each textbook function is tied to the helper the notebooks call next: on the same
inputs, with the same seed where there is randomness, the two agree to float
rounding. Where a textbook estimator has no full-helper twin drawing the same
samples (KernelSHAP, permutation sampling), it is tied to the exact values: exact
at full enumeration, efficient at every budget, and closer as the budget grows.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import helpers.textbook as textbook
from helpers import features, saliency, shapley
from helpers import lime as full_lime
from helpers.models import MLP, SimpleCNN
from helpers.source import source_of


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return SimpleCNN().eval()


@pytest.fixture(scope="module")
def mlp():
    torch.manual_seed(1)
    return MLP(8, 3, hidden=(16, 16)).eval()


@pytest.fixture(scope="module")
def digits(mnist_test):
    return mnist_test[0][:4]


@pytest.fixture(scope="module")
def rows():
    return torch.randn(5, 8, generator=torch.Generator().manual_seed(2))


# --------------------------------------------------------------------------- gradient methods

GRADIENT_METHODS = {
    "gradient": (textbook.gradient, saliency.gradient, {}),
    "signed gradient": (textbook.gradient, saliency.gradient, {"absolute": False}),
    "gradient_x_input": (textbook.gradient_x_input, saliency.gradient_x_input, {}),
    # both draw copy k's noise as helpers.seeding.indexed_normal(seed, [k], one input's shape), shared by the
    # batch and scaled by each example's sigma: the same noise, so the maps agree to summation order
    "smoothgrad": (textbook.smoothgrad, saliency.smoothgrad, {"n_samples": 6, "noise_level": 0.2, "seed": 3}),
    "signed smoothgrad": (textbook.smoothgrad, saliency.smoothgrad, {"n_samples": 4, "seed": 1, "absolute": False}),
}


@pytest.mark.parametrize("target", [None, 2, "per row"])
@pytest.mark.parametrize("method", list(GRADIENT_METHODS))
@pytest.mark.parametrize("data", ["digits", "rows"])
def test_gradient_methods_equal_the_helpers(method, target, data, request):
    model = request.getfixturevalue("cnn" if data == "digits" else "mlp")
    x = request.getfixturevalue(data)
    if target == "per row":
        target = torch.arange(x.shape[0]) % 3
    ours, full, options = GRADIENT_METHODS[method]
    expected = full(model, x, target, **options)
    assert not torch.equal(expected, torch.zeros_like(expected))
    torch.testing.assert_close(ours(model, x, target, **options), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("steps", [2, 3, 16])
@pytest.mark.parametrize("baseline", [None, "tensor"])
@pytest.mark.parametrize("data", ["digits", "rows"])
def test_integrated_gradients_equals_the_trapezoid_helper(steps, baseline, data, request):
    model = request.getfixturevalue("cnn" if data == "digits" else "mlp")
    x = request.getfixturevalue(data)
    if baseline == "tensor":
        baseline = torch.rand(x.shape[1:], generator=torch.Generator().manual_seed(5))
    expected = saliency.integrated_gradients(model, x, baseline=baseline, steps=steps, rule="trapezoid")
    ours = textbook.integrated_gradients(model, x, baseline=baseline, steps=steps)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-7)


def test_integrated_gradients_completeness_gap_shrinks_with_steps(rows):
    """On a smooth network the trapezoid rule's gap falls like 1/n^2: 4x the intervals, about 16x less gap."""
    torch.manual_seed(3)
    model = MLP(8, 3, hidden=(16,), activation="tanh").eval()
    x = 2 * rows
    difference = textbook.class_scores(model, x, 1) - textbook.class_scores(model, torch.zeros_like(x), 1)
    gaps = []
    for steps in (3, 9, 33):  # 2, 8, 32 intervals
        attributions = textbook.integrated_gradients(model, x, 1, steps=steps)
        gaps.append(float((attributions.sum(dim=1) - difference).abs().max().detach()))
    assert gaps[0] > 1e-3
    assert gaps[1] < gaps[0] / 8 and gaps[2] < gaps[1] / 8, gaps


@pytest.mark.parametrize("target", [None, 7])
def test_grad_cam_equals_the_helper(cnn, digits, target):
    expected = saliency.grad_cam(cnn, digits, target, layer=cnn.conv1)
    assert expected.amax() > 0
    torch.testing.assert_close(textbook.grad_cam(cnn, digits, target, layer=cnn.conv1), expected,
                               rtol=1e-5, atol=1e-7)


def test_gradient_leaves_the_callers_tensor_alone(cnn, digits):
    x = digits.clone()
    textbook.gradient(cnn, x)
    textbook.integrated_gradients(cnn, x, steps=3)
    assert not x.requires_grad and x.grad is None and torch.equal(x, digits)
    assert all(p.grad is None for p in cnn.parameters())


def test_smoothgrad_same_seed_same_map_other_seed_other_map(cnn, digits):
    a = textbook.smoothgrad(cnn, digits, n_samples=3, seed=4)
    assert torch.equal(a, textbook.smoothgrad(cnn, digits, n_samples=3, seed=4))
    assert not torch.allclose(a, textbook.smoothgrad(cnn, digits, n_samples=3, seed=5))


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
@pytest.mark.parametrize("target", [None, 1])
def test_deeplift_and_deep_shap_equal_the_helpers(activation, target, rows):
    torch.manual_seed(4)
    model = MLP(8, 3, hidden=(16, 16), activation=activation).double().eval()
    x, background = rows.double(), torch.randn(6, 8, generator=torch.Generator().manual_seed(5)).double()
    baseline = background[:1]
    torch.testing.assert_close(textbook.deeplift(model.net, x, target, baseline=baseline),
                               saliency.deeplift(model, x, target, baseline=baseline), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(textbook.deep_shap(model.net, x, target, background=background),
                               saliency.deep_shap(model, x, target, background=background), atol=1e-6, rtol=1e-6)


def test_epsilon_lrp_is_gradient_x_input_on_a_relu_network_and_agrees_with_captum(rows):
    """Ancona et al. 2018: on a ReLU network (biases included) epsilon-LRP tends to Gradient x Input."""
    from captum.attr import LRP

    torch.manual_seed(6)
    model = MLP(8, 3, hidden=(16, 16)).double().eval()
    x = rows.double()
    ours = textbook.epsilon_lrp(model.net, x, 2)
    torch.testing.assert_close(ours, saliency.gradient_x_input(model, x, 2), atol=1e-7, rtol=1e-6)
    torch.testing.assert_close(ours, LRP(model.net).attribute(x, target=2).detach(), atol=1e-7, rtol=1e-6)
    smooth = MLP(8, 3, hidden=(16,), activation="tanh").double().eval()  # not a ReLU network: no equality
    assert float((textbook.epsilon_lrp(smooth.net, x, 2) - saliency.gradient_x_input(smooth, x, 2)).abs().max()) > 1e-3


# --------------------------------------------------------------------------- the coalition game


def _image_game(cnn, digits, *, patch, baseline=0.0, target=None, full=False):
    x = digits[1]
    segments = features.grid_segments(x, patch)
    cls = features.CoalitionGame if full else textbook.CoalitionGame
    return cls(cnn, x, segments, baseline=baseline, target=target)


def _table_game(mlp, rows, *, baseline=0.0, target=None, full=False):
    cls = features.CoalitionGame if full else textbook.CoalitionGame
    return cls(mlp, rows[0], features.tabular_segments(8), baseline=baseline, target=target)


GAMES = ["digit 7x7 patches", "digit 14x14 patches", "table", "table, mean baseline, class 2"]


def _games(name, cnn, mlp, digits, rows):
    """The same game, built by the textbook and by helpers.features."""
    if name.startswith("digit"):
        patch = 7 if "7x7" in name else 14
        baseline = digits.mean(dim=0)  # a tensor baseline shaped like x
        return [_image_game(cnn, digits, patch=patch, baseline=baseline, full=full) for full in (False, True)]
    if name == "table":
        return [_table_game(mlp, rows, full=full) for full in (False, True)]
    return [_table_game(mlp, rows, baseline=rows[1:].mean(dim=0), target=2, full=full) for full in (False, True)]


@pytest.mark.parametrize("name", GAMES)
def test_game_equals_the_coalition_game(name, cnn, mlp, digits, rows):
    ours, full = _games(name, cnn, mlp, digits, rows)
    assert ours.n_players == full.n_players and ours.target == full.target
    Z = full_lime.sample_coalitions(40, full.n_players, seed=6)
    Z[1] = False
    expected = full(Z)
    assert expected.std() > 0
    torch.testing.assert_close(ours(Z), expected, rtol=0, atol=1e-6)


def test_occlusion_is_one_player_removed_at_a_time(cnn, mlp, digits, rows):
    for name in GAMES:
        ours, full = _games(name, cnn, mlp, digits, rows)
        everyone = torch.ones(1, full.n_players, dtype=torch.bool)
        expected = torch.stack([full(everyone)[0] - full(everyone & ~torch.eye(full.n_players, dtype=torch.bool)[i])[0]
                                for i in range(full.n_players)])
        torch.testing.assert_close(textbook.occlusion(ours), expected, rtol=0, atol=1e-6)


def test_occlusion_equals_the_helper(cnn, mlp, digits, rows):
    for name in GAMES:
        ours, full = _games(name, cnn, mlp, digits, rows)
        torch.testing.assert_close(textbook.occlusion(ours).to(torch.float64),
                                   features.occlusion(full).to(torch.float64), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- LIME


class _Recorder:
    """A game that remembers the coalitions it was asked for."""

    def __init__(self, game):
        self.game, self.n_players, self.seen = game, game.n_players, []

    def __call__(self, Z):
        self.seen.append(Z.clone())
        return self.game(Z)


@pytest.mark.parametrize("kernel_width, alpha", [(0.25, 1.0), (1.0, 0.0), (0.5, 10.0)])
@pytest.mark.parametrize("name", ["digit 7x7 patches", "table"])
def test_lime_equals_fit_lime_on_the_same_samples(name, kernel_width, alpha, cnn, mlp, digits, rows):
    ours, full = _games(name, cnn, mlp, digits, rows)
    recorder = _Recorder(ours)
    weights = textbook.lime(recorder, n_samples=200, kernel_width=kernel_width, alpha=alpha, seed=7)
    (Z,) = recorder.seen
    assert torch.equal(Z, full_lime.sample_coalitions(200, full.n_players, seed=7))  # lime's sampling, seed for seed
    expected = full_lime.fit_lime(Z, full(Z), kernel_width=kernel_width, alpha=alpha).weights
    torch.testing.assert_close(weights, expected, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(weights, full_lime.lime(full, n_samples=200, kernel_width=kernel_width, alpha=alpha,
                                                       seed=7), rtol=1e-6, atol=1e-9)


def _every_coalition(n_players):
    return ((torch.arange(2**n_players)[:, None] >> torch.arange(n_players)) & 1).bool()


@pytest.mark.parametrize("name", ["table", "table, mean baseline, class 2"])
def test_lime_on_given_coalitions_with_a_given_kernel_equals_fit_lime(name, cnn, mlp, digits, rows):
    ours, full = _games(name, cnn, mlp, digits, rows)
    Z = full_lime.sample_coalitions(300, full.n_players, seed=3)
    same = textbook.lime(ours, coalitions=Z, kernel_width=0.5, alpha=0.1, n_samples=5, seed=99)  # n_samples, seed unused
    torch.testing.assert_close(same, full_lime.lime(full, coalitions=Z, kernel_width=0.5, alpha=0.1), rtol=1e-6, atol=1e-9)
    lime_kernel = lambda Z: full_lime.exponential_kernel(full_lime.cosine_distances(Z), 0.5)  # noqa: E731
    torch.testing.assert_close(textbook.lime(ours, coalitions=Z, kernel=lime_kernel, alpha=0.1), same,
                               rtol=1e-6, atol=1e-9)


def test_shapley_kernel_is_the_formula_and_large_at_the_two_ends():
    Z = _every_coalition(6)
    pi = textbook.shapley_kernel(Z, end_weight=1e5)
    sizes = Z.sum(dim=1)
    for size in range(1, 6):
        expected = 5 / (math.comb(6, size) * size * (6 - size))
        torch.testing.assert_close(pi[sizes == size], torch.full((math.comb(6, size),), expected, dtype=torch.float64))
    assert pi[sizes == 0].tolist() == [1e5] and pi[sizes == 6].tolist() == [1e5]


@pytest.mark.parametrize("name", ["table", "table, mean baseline, class 2", "digit 14x14 patches"])
def test_lime_with_the_shapley_kernel_no_penalty_and_every_coalition_is_kernel_shap(name, cnn, mlp, digits, rows):
    """Lundberg and Lee (2017), Theorem 2: LIME's fit with the Shapley kernel gives the Shapley values."""
    ours, full = _games(name, cnn, mlp, digits, rows)
    exact = shapley.exact_shapley(full).to(torch.float64)
    Z = _every_coalition(full.n_players)
    as_lime = textbook.lime(ours, coalitions=Z, kernel=textbook.shapley_kernel, alpha=0.0)
    torch.testing.assert_close(as_lime, exact, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(textbook.lime(ours, coalitions=Z, alpha=0.0), exact, atol=1e-3), "LIME's kernel is not it"


def _correlated_pair(correlation):
    covariance = torch.tensor([[1.0, correlation, 0.0], [correlation, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    model = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0, 0.0, 1.0]]))  # uses feature 0, ignores feature 1
        model.bias.zero_()
    return model, covariance


def test_gaussian_game_interventional_is_the_coalition_game_with_the_draws_as_background(mlp, rows):
    x, mean = rows[0], rows[1:].mean(dim=0)
    covariance = torch.cov(torch.randn(50, 8, generator=torch.Generator().manual_seed(4)).T) + 0.5 * torch.ones(8, 8)
    game = textbook.GaussianGame(mlp, x, mean, covariance, conditional=False, n_samples=64, target=1)
    full = features.CoalitionGame(mlp, x, features.tabular_segments(8), background=game.draws.to(x.dtype), target=1)
    Z = full_lime.sample_coalitions(40, 8, seed=5)
    torch.testing.assert_close(game(Z), full(Z), rtol=0, atol=1e-6)
    torch.testing.assert_close(game.draws.mean(dim=0), mean.double(), rtol=0, atol=0.5)


def test_gaussian_game_conditional_draws_follow_the_conditional_law():
    """For a linear model, v(S) = w . E[X | X_S = x_S]: the conditional mean mu_T + Sigma_TS Sigma_SS^-1 (x_S - mu_S)."""
    model, covariance = _correlated_pair(0.8)
    x, mean = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64), torch.tensor([0.2, 0.1, -0.3], dtype=torch.float64)
    game = textbook.GaussianGame(model, x, mean, covariance, conditional=True, n_samples=20000)
    only_second = torch.tensor([[False, True, False]])
    expected_first = mean[0] + 0.8 * (x[1] - mean[1])  # E[X_0 | X_1 = x_1]
    torch.testing.assert_close(game(only_second), (2 * expected_first + mean[2])[None], rtol=0, atol=0.05)
    Z = _every_coalition(3)
    ends = game(Z[[0, 7]])
    torch.testing.assert_close(ends[1], model(x[None])[0, 0].detach())
    independent = textbook.GaussianGame(model, x, mean, torch.eye(3, dtype=torch.float64), conditional=True)
    torch.testing.assert_close(independent(Z), textbook.GaussianGame(model, x, mean, torch.eye(3, dtype=torch.float64),
                                                                     conditional=False)(Z))


def test_conditional_shapley_values_credit_a_correlated_feature_the_model_ignores():
    """Interventional: the ignored feature is a dummy (0). Conditional: it shares the credit of its correlated twin."""
    model, covariance = _correlated_pair(0.9)
    x, mean = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    values = {conditional: textbook.exact_shapley(textbook.GaussianGame(model, x, mean, covariance,
                                                                       conditional=conditional, n_samples=4000))
              for conditional in (False, True)}
    assert abs(float(values[False][1])) < 1e-12
    assert float(values[True][1]) > 0.5 and float(values[True][0]) < float(values[False][0]) - 0.5
    for phi in values.values():  # both efficient: v(N) - v(empty) shared out
        game = textbook.GaussianGame(model, x, mean, covariance, conditional=True, n_samples=4000)
        ends = game(_every_coalition(3)[[0, 7]])
        torch.testing.assert_close(phi.sum(), ends[1] - ends[0], rtol=0, atol=0.05)


# --------------------------------------------------------------------------- Shapley values


def _random_table_game(n_players, seed):
    worths = torch.randn(2**n_players, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    table = {tuple(i for i in range(n_players) if code >> i & 1): float(worths[code]) for code in range(2**n_players)}
    return shapley.TableGame(table, n_players=n_players)


@pytest.mark.parametrize("name", ["digit 14x14 patches", "table", "table, mean baseline, class 2",
                                  "random table, 1 player", "random table, 5 players"])
def test_exact_shapley_equals_the_helper(name, cnn, mlp, digits, rows):
    if name.startswith("random"):
        ours = full = _random_table_game(int(name.split(", ")[1][0]), seed=8)
    else:
        ours, full = _games(name, cnn, mlp, digits, rows)
    torch.testing.assert_close(textbook.exact_shapley(ours), shapley.exact_shapley(full).to(torch.float64),
                               rtol=1e-5, atol=1e-6)


def _all_proper_coalitions(n_players):
    Z = torch.tensor(list(itertools.product([False, True], repeat=n_players)))
    return Z[(Z.sum(dim=1) > 0) & (Z.sum(dim=1) < n_players)]


@pytest.mark.parametrize("n_players", [2, 3, 6, 9])
def test_kernel_shap_regression_at_full_enumeration_is_exact(n_players):
    """All 2^M - 2 proper coalitions with the Shapley kernel's weights give the exact values (Lundberg and Lee)."""
    game = _random_table_game(n_players, seed=n_players)
    Z = _all_proper_coalitions(n_players)
    size = Z.sum(dim=1)
    kernel = (n_players - 1) / (torch.tensor([math.comb(n_players, int(s)) for s in size]) * size * (n_players - size))
    ends = game(torch.tensor([[False] * n_players, [True] * n_players]))
    phi = textbook.constrained_least_squares(Z, game(Z), kernel.double(), ends[0], ends[1])
    torch.testing.assert_close(phi, shapley.exact_shapley(game).double(), rtol=1e-6, atol=1e-7)  # float32 worths


def _mlp_game(seed):
    """A seeded game: a random smooth MLP on a random table row of 8 features, baseline 0."""
    torch.manual_seed(seed)
    model = MLP(8, 1, hidden=(16,), activation="tanh").eval()
    x = torch.randn(8, generator=torch.Generator().manual_seed(seed))
    return features.CoalitionGame(model, 2 * x, features.tabular_segments(8), target=0)


def _total(game):
    """v(N) - v(empty) of a game, in float64."""
    ends = game(torch.tensor([[False] * game.n_players, [True] * game.n_players])).double()
    return float(ends[1] - ends[0])


@pytest.fixture(scope="module")
def mlp_games():
    games = [_mlp_game(seed) for seed in range(3)]
    return [(game, shapley.exact_shapley(game).double()) for game in games]


def test_kernel_shap_is_efficient_and_its_error_falls_with_the_budget(mlp_games):
    """Mean squared relative error over 3 games x 8 seeds, at budgets 24, 96, 384 and 1536.

    The sampling variance falls like 1/budget (measured: 2.6e-2, 6.5e-3, 1.3e-3, 4.0e-4):
    every 4x the budget must at least halve the mean error, and the largest budget
    must be within 1e-3 of the exact values.
    """
    means = []
    for budget in (24, 96, 384, 1536):
        errors = []
        for game, exact in mlp_games:
            total = _total(game)
            for seed in range(8):
                phi = textbook.kernel_shap(game, budget=budget, seed=seed)
                assert abs(float(phi.sum()) - total) < 1e-9  # efficiency, exactly
                errors.append(shapley.relative_error(phi, exact))
        means.append(float(torch.tensor(errors).mean()))
    assert all(later < earlier / 2 for earlier, later in zip(means, means[1:])), means
    assert means[-1] < 1e-3, means


def test_kernel_shap_same_seed_same_values(mlp_games):
    game, _ = mlp_games[0]
    a = textbook.kernel_shap(game, budget=40, seed=1)
    assert torch.equal(a, textbook.kernel_shap(game, budget=40, seed=1))
    assert not torch.allclose(a, textbook.kernel_shap(game, budget=40, seed=2))


def test_permutation_shapley_is_efficient_and_converges(mlp_games):
    """Efficient along every order; the mean error over 3 games x 8 seeds at least halves per 4x orders.

    Measured: 6.9e-2, 2.0e-2, 6.7e-3 at 1, 4 and 16 orders.
    """
    means = []
    for n_permutations in (1, 4, 16):
        errors = []
        for game, exact in mlp_games:
            total = _total(game)
            for seed in range(8):
                phi = textbook.permutation_shapley(game, n_permutations=n_permutations, seed=seed)
                # the contributions telescope to v(N) - v(empty); the float32 model gives v(N) to ~1e-8
                # depending on the batch it is evaluated in
                assert abs(float(phi.sum()) - total) < 1e-6
                errors.append(shapley.relative_error(phi, exact))
        means.append(float(torch.tensor(errors).mean()))
    assert all(later < earlier / 2 for earlier, later in zip(means, means[1:])), means
    game, _ = mlp_games[0]
    a = textbook.permutation_shapley(game, n_permutations=3, seed=5)
    assert torch.equal(a, textbook.permutation_shapley(game, n_permutations=3, seed=5))
    assert not torch.allclose(a, textbook.permutation_shapley(game, n_permutations=3, seed=6))


def test_permutation_shapley_is_exact_on_an_additive_game():
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    game = features.FunctionGame(lambda Z: Z.double() @ weights, 4)
    torch.testing.assert_close(textbook.permutation_shapley(game, n_permutations=1), weights)


# --------------------------------------------------------------------------- short enough to read


@pytest.mark.parametrize("name", textbook.__all__)
def test_each_textbook_version_is_short_and_cites_its_source(name):
    """What a notebook prints with show_source: at most 20 lines of code (30 for the game class), a docstring."""
    obj = getattr(textbook, name)
    code = [line for line in source_of(obj).splitlines() if line.strip()]
    assert len(code) <= (30 if isinstance(obj, type) else 20), f"{name}: {len(code)} lines"
    assert obj.__doc__ and (name == "class_scores" or any(year in obj.__doc__ for year in ("19", "20")))
