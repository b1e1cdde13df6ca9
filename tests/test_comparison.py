"""helpers.comparison: the explainers on one calling convention, exact SHAP without dummies, the tree model
checked against TreeSHAP, the verdicts at their thresholds, and the exercise checker of notebook 06."""

from __future__ import annotations

import pytest
import torch

from helpers.comparison import (
    Claim,
    PatchForest,
    Rule,
    claim_verdict,
    coalition_explainer,
    fit_patch_forest,
    markdown_table,
    patch_means,
    segment_explainer,
    show_curves,
    show_randomisation,
    threshold_sensitivity,
    tree_shap,
    verdict,
    verdict_table,
)
from helpers.features import CoalitionGame, grid_segments
from helpers.shapley import exact_shapley, exact_shapley_skipping_dummies

PATCHES = grid_segments((28, 28), 7)


@pytest.fixture(scope="module")
def forest():
    from helpers.data import load_mnist

    X, y = load_mnist("train")
    return fit_patch_forest(X[:1500], y[:1500], PATCHES, n_trees=20, max_depth=8, seed=0)


# --------------------------------------------------------------------------- the tree model and TreeSHAP


def test_exact_shap_of_the_tree_model_equals_treeshap(forest, mnist_test):
    for i in (0, 3):
        x = mnist_test[0][i]
        game = CoalitionGame(forest, x, PATCHES, baseline=0.0)
        exact = exact_shapley(game)
        theirs = tree_shap(forest, x, torch.zeros_like(x), game.target)
        assert float((exact.double() - theirs).abs().max()) < 1e-6
        assert abs(float(exact.sum()) - (game.full_score - float(game(torch.zeros(1, 16, dtype=torch.bool))[0]))) < 1e-9
    # another class and a grey baseline: the same game on both sides
    x = mnist_test[0][1]
    game = CoalitionGame(forest, x, PATCHES, baseline=0.3, target=4)
    theirs = tree_shap(forest, x, torch.full_like(x, 0.3), 4)
    assert float((exact_shapley(game).double() - theirs).abs().max()) < 1e-6


def test_gradient_refuses_the_tree_model_with_its_clear_error(forest, mnist_test):
    from helpers.saliency import gradient

    assert isinstance(forest, torch.nn.Module) and not list(forest.parameters())
    with pytest.raises(ValueError, match="does not depend differentiably on x"):
        gradient(forest, mnist_test[0][:2])


def test_the_forest_is_a_model_of_images(forest, mnist_test):
    X = mnist_test[0][:50]
    out = forest(X)
    assert out.shape == (50, 10) and torch.allclose(out.sum(1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(patch_means(X, PATCHES).sum(1) * 49, X.double().sum(dim=(1, 2, 3)), atol=1e-4)


# --------------------------------------------------------------------------- explainers and exact SHAP without dummies


def test_exact_shapley_skipping_dummies_equals_exact_shapley(trained_cnn, mnist_test):
    for i in (0, 5):
        game = CoalitionGame(trained_cnn, mnist_test[0][i], PATCHES, baseline=0.0, output="probability")
        assert game.dummy_players.any()
        fast = exact_shapley_skipping_dummies(game)
        evaluated = game.n_evaluations
        full = exact_shapley(game)
        assert evaluated == 2 ** int((~game.dummy_players).sum())
        assert torch.allclose(fast.double(), full.double(), atol=1e-6)
        assert bool((fast[game.dummy_players] == 0).all())


def test_coalition_and_segment_explainers_follow_one_calling_convention(trained_cnn, mnist_test):
    from helpers.lime import lime
    from helpers.metrics import segment_sums
    from helpers.saliency import gradient

    X, targets = mnist_test[0][:3], torch.tensor([1, 2, 3])
    explain = coalition_explainer(lime, PATCHES, n_samples=100, seed=0)
    rows = explain(trained_cnn, X, targets)
    for i in range(3):
        game = CoalitionGame(trained_cnn, X[i], PATCHES, baseline=0.0, target=int(targets[i]))
        assert torch.allclose(rows[i], lime(game, n_samples=100, seed=0).double())
    sums = segment_explainer(gradient, PATCHES)(trained_cnn, X, targets)
    assert torch.allclose(sums, segment_sums(gradient(trained_cnn, X, targets), PATCHES).double())
    with pytest.raises(ValueError, match="targets must hold one class per row"):
        explain(trained_cnn, X, torch.tensor([1, 2]))


def test_lime_goes_through_noise_stability_and_randomisation(trained_cnn, mnist_test):
    from helpers.lime import lime
    from helpers.metrics import cascading_randomisation, noise_stability

    explain = coalition_explainer(lime, PATCHES, n_samples=60, seed=0)
    X = mnist_test[0][:2]
    assert torch.allclose(noise_stability(explain, trained_cnn, X, noise_std=0.0), torch.ones(2, dtype=torch.float64))
    result = cascading_randomisation(trained_cnn, X, explain, similarities=("spearman_abs",))
    assert result.maps[0].shape == (2, 16) and len(result.stages) == 3


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    "value, higher, expected",
    [(0.9, True, "holds"), (0.8999, True, "partly"), (0.5, True, "partly"), (0.4999, True, "does not hold"),
     (0.5, False, "holds"), (0.5001, False, "partly"), (0.9, False, "partly"), (0.9001, False, "does not hold")],
)
def test_verdict_at_its_thresholds(value, higher, expected):
    holds, fails = (0.9, 0.5) if higher else (0.5, 0.9)
    assert verdict(value, holds=holds, fails=fails, higher=higher) == expected


def test_rules_claims_and_the_table():
    cheap = Rule("backward passes", 1, 1, 2, higher=False, fmt=".0f")
    rows = Rule("forward rows", 50, 1, 100, higher=False, fmt=".0f")
    fact = Rule("refuses", 1.0, 1, 1, fixed=True)
    assert cheap.verdict() == "holds" and rows.verdict() == "partly" and fact.verdict(0.1) == "holds"
    assert rows.verdict(0.4) == "does not hold" and rows.verdict(60) == "holds"
    claims = [Claim("Cost", "Saliency", "low", [cheap, rows]), Claim("Cost", "LIME", "medium", [fact]),
              Claim("Scope", "Saliency", "local", [Rule("rho", 0.2, 0.8, 0.5)])]
    assert claim_verdict(claims[0]) == "partly" and claim_verdict(claims[1]) == "holds"
    assert claim_verdict(claims[2]) == "does not hold"
    table = verdict_table(claims)
    assert list(table.index) == ["Cost", "Scope"] and list(table.columns) == ["Saliency", "LIME"]
    assert table.loc["Cost", "Saliency"] == "partly" and table.loc["Scope", "LIME"] == ""
    text = markdown_table(claims)
    assert text.count("\n") == 3 and "**partly**" in text and "forward rows 50 (holds <= 1)" in text and "refuses: yes" in text
    moves = threshold_sensitivity(claims)
    assert list(moves.columns) == ["row", "method", "x0.5", "x1", "x1.5", "moves"]
    assert moves["moves"].tolist() == [False, False, False]
    assert threshold_sensitivity(claims, scales=(0.01, 1.0))["moves"].tolist() == [True, False, True]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: verdict(float("nan"), holds=1, fails=0), ValueError, "value must be a finite number"),
        (lambda: verdict(0.5, holds=0.2, fails=0.8), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=False), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=1), TypeError, "higher must be True or False"),
        (lambda: verdict("high", holds=0.8, fails=0.2), ValueError, "value must be a finite number"),
        (lambda: claim_verdict(Claim("a", "b", "c", [])), ValueError, "at least one Rule"),
        (lambda: verdict_table([]), TypeError, "non-empty sequence of Claim"),
        (lambda: threshold_sensitivity([Claim("a", "b", "c", [Rule("r", 1, 1, 0)])], scales=(0,)), ValueError,
         "scales must be positive"),
        (lambda: coalition_explainer("lime", PATCHES), TypeError, "method must be a coalition method"),
        (lambda: coalition_explainer(len, PATCHES.float()), TypeError, "segments must hold integer labels"),
        (lambda: segment_explainer(None, PATCHES), TypeError, "method must be a gradient method"),
        (lambda: exact_shapley_skipping_dummies(lambda Z: Z), TypeError, "game must have an attribute n_players"),
        (lambda: PatchForest(object(), PATCHES), TypeError, "fitted scikit-learn classifier"),
        (lambda: fit_patch_forest(torch.rand(4, 1, 28, 28), torch.arange(4), PATCHES, n_trees=0), ValueError,
         "n_trees must be a positive int"),
        (lambda: patch_means(torch.rand(28, 28), PATCHES), ValueError, r"x must be a float batch of images"),
        (lambda: tree_shap("forest", torch.rand(1, 28, 28), torch.zeros(1, 28, 28), 0), TypeError, "forest must be a PatchForest"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_plots_return_axes(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation, curve_fractions
    from helpers.saliency import gradient

    ax = show_curves(curve_fractions(4), {"a": torch.rand(3, 5)}, torch.rand(2, 5), title="t")
    assert len(ax.lines) == 2
    result = cascading_randomisation(trained_cnn, mnist_test[0][:2], gradient)
    ax = show_randomisation({"gradient": result}, "ssim")
    assert len(ax.lines) == 2  # the method and the zero line
    with pytest.raises(ValueError, match="measure must be one of"):
        show_randomisation({"gradient": result}, "pearson")


# --------------------------------------------------------------------------- the exercise checker


def test_deletion_curve_checker_accepts_the_reference_and_rejects_slips(capsys):
    from helpers.exercises import check_deletion_curve

    def reference(game, attributions):
        order = torch.sort(-attributions, stable=True).indices
        Z = torch.ones(game.n_players + 1, game.n_players, dtype=torch.bool)
        for k in range(1, game.n_players + 1):
            Z[k:, order[k - 1]] = False
        return game(Z)

    def unstable_ties(game, attributions):
        return reference(game, attributions + 1e-9 * torch.arange(len(attributions)))  # ties to the higher index

    assert check_deletion_curve(reference)
    assert not check_deletion_curve(None)
    assert not check_deletion_curve(lambda game, a: reference(game, a).flip(0))
    assert not check_deletion_curve(lambda game, a: reference(game, -a))
    assert not check_deletion_curve(unstable_ties)
    assert not check_deletion_curve(lambda game, a: 1 / 0)
    out = capsys.readouterr().out
    assert ": correct" in out and "runs backwards" in out and "tied attributions" in out and "ZeroDivisionError" in out


def test_a_figure_below_its_rounding_floor_is_printed_as_a_bound():
    from helpers.comparison import Rule, format_figure

    assert format_figure(3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(-3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(2e-2, ".1e", floor=1e-6) == "2.0e-02"
    assert format_figure(0.123, ".2f") == "0.12"
    rule = Rule("gap", 3.4e-08, 1e-5, 1e-3, higher=False, fmt=".1e", floor=1e-6)
    assert rule.describe() == "gap < 1.0e-06 (holds <= 1.0e-05)"
    assert rule.verdict() == "holds"
