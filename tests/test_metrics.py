"""helpers.metrics: where a map's mass lies, stability, faithfulness curves, sanity checks, agreement and cost.

Facts with known answers (curves of additive games in closed form, the Shapley order as the best
insertion order of an additive game, totals kept by segment sums, similarity 1 for identical maps),
the guarantees (the caller's model, tensors and random state untouched) and every error message.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.metrics import REGIONS, digit_regions, edge_alignment, image_edges, region_shares, top_mass_share


def _square_digit():
    x = torch.zeros(1, 1, 12, 12)
    x[..., 4:8, 4:8] = 1.0  # a 4x4 stroke: 4 interior pixels, 12 edge pixels
    return x


def test_regions_partition_every_pixel(mnist_test):
    regions = digit_regions(mnist_test[0][:50])
    assert tuple(regions) == REGIONS
    assert torch.equal(sum(m.int() for m in regions.values()), torch.ones(50, 1, 28, 28, dtype=torch.int))


def test_regions_of_a_square():
    r = digit_regions(_square_digit(), ring_width=1)
    assert int(r["stroke_interior"].sum()) == 4
    assert int(r["stroke_edge"].sum()) == 12
    assert int(r["ring"].sum()) == 6 * 6 - 16
    assert int(r["background"].sum()) == 144 - 36


def test_uniform_map_gives_area_shares(mnist_test):
    x = mnist_test[0][:10]
    shares = region_shares(torch.ones_like(x), x)
    for name in REGIONS:
        assert torch.allclose(shares["mass"][name], shares["area"][name])


def test_shares_sum_to_one_and_a_map_on_the_edge_is_all_edge():
    x = _square_digit()
    regions = digit_regions(x)
    shares = region_shares(regions["stroke_edge"].float(), x)
    assert float(sum(shares["mass"].values())) == pytest.approx(1.0)
    assert float(shares["mass"]["stroke_edge"]) == pytest.approx(1.0)


def test_one_digit_without_batch_dimension():
    x = _square_digit()[0]
    shares = region_shares(torch.ones_like(x), x)
    assert shares["mass"]["background"].shape == (1,)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: region_shares(-torch.ones_like(x), x), ValueError, "saliency must be non-negative"),
        (lambda x: region_shares(torch.zeros_like(x), x), ValueError, "zero everywhere for 1 digit"),
        (lambda x: region_shares(torch.ones(1, 1, 5, 5), x), ValueError, r"same shape; got \(1, 1, 5, 5\) and \(1, 1, 12, 12\)"),
        (lambda x: region_shares(torch.ones(2, 3, 12, 12), x), ValueError, r"saliency must be \[B, 1, H, W\].*got shape \(2, 3, 12, 12\)"),
        (lambda x: digit_regions(x.numpy()), TypeError, "x must be a torch.Tensor; got ndarray"),
        (lambda x: digit_regions(x, threshold=1.5), ValueError, "threshold must be in"),
        (lambda x: digit_regions(x, ring_width=0), ValueError, "ring_width must be a positive int; got 0"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(_square_digit())


def test_top_mass_share_extremes():
    from helpers.metrics import top_mass_share

    even = torch.ones(2, 100)
    assert torch.allclose(top_mass_share(even, 0.05), torch.full((2,), 0.05))
    spike = torch.zeros(1, 100)
    spike[0, 3] = 2.0
    assert float(top_mass_share(spike, 0.01)) == 1.0
    assert float(top_mass_share(even, 1.0)[0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "saliency, fraction, message",
    [
        (torch.ones(10), 0.1, r"must be batched, \[B, \.\.\.\] \(one map per example\); got shape \(10,\)"),
        (torch.ones(2, 10), 0.0, r"fraction must be in \(0, 1\]; got 0.0"),
        (-torch.ones(2, 10), 0.1, "non-negative"),
        (torch.zeros(2, 10), 0.1, "zero everywhere for 2 map"),
    ],
)
def test_top_mass_share_errors(saliency, fraction, message):
    from helpers.metrics import top_mass_share

    with pytest.raises(ValueError, match=message):
        top_mass_share(saliency, fraction)


# --------------------------------------------------------------------------- stability


def _linear_classifier(seed=0):
    import torch.nn as nn

    from helpers.models import LinearClassifier

    torch.manual_seed(seed)
    model = LinearClassifier((1, 28, 28), 10)
    nn.init.normal_(model.linear.weight, std=0.1)
    return model


def _linear_game(coefficients, intercept=0.0):
    from helpers.features import FunctionGame

    coefficients = torch.as_tensor(coefficients, dtype=torch.float64)
    return FunctionGame(lambda Z: intercept + Z.double() @ coefficients, len(coefficients))


def _interaction_game(n_players=6):
    """v(z) = z_0 * z_1 * 3 + z_2: not linear, so no linear fit is exact."""
    from helpers.features import FunctionGame

    return FunctionGame(lambda Z: 3.0 * (Z[:, 0] & Z[:, 1]).double() + Z[:, 2].double(), n_players)


def test_rank_correlation_is_spearmans():
    from scipy.stats import spearmanr

    from helpers.metrics import rank_correlation

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 50, generator=generator), torch.randn(4, 50, generator=generator)
    b[:, :10] = a[:, :10]
    b[0] = b[0].round()  # ties
    ours = rank_correlation(a, b)
    for i in range(4):
        assert abs(float(ours[i]) - spearmanr(a[i].numpy(), b[i].numpy()).statistic) < 1e-12


def test_tied_ranks_are_scipys_average_ranks_when_no_values_are_near():
    from scipy.stats import rankdata

    from helpers.metrics import tied_ranks

    values = np.random.default_rng(1).normal(size=(5, 40)).round(1)  # exact ties, the rest far apart
    np.testing.assert_array_equal(tied_ranks(values), rankdata(values, axis=1))
    np.testing.assert_array_equal(tied_ranks(values, tolerance=0.0), rankdata(values, axis=1))


def _blocky_map(seed):
    """A map of 4 x 4 blocks of equal values (as Grad-CAM's upsampling gives), with exact zeros."""
    blocks = torch.relu(torch.randn(1, 1, 7, 7, generator=torch.Generator().manual_seed(seed)))
    return torch.nn.functional.interpolate(blocks, scale_factor=4, mode="nearest").reshape(1, -1).double()


def test_values_equal_up_to_float32_rounding_rank_alike_on_every_machine():
    from helpers.metrics import rank_correlation, ranking, tied_ranks, topk_overlap

    a, b = _blocky_map(0), _blocky_map(1)
    # another CPU: the same map, each value moved by at most one float32 unit in the last place
    ulps = torch.randint(-1, 2, a.shape, generator=torch.Generator().manual_seed(2)).double()
    moved = a + ulps * a.abs() * 2.0**-23
    assert not torch.equal(moved, a)
    assert float(rank_correlation(moved, b)[0]) == float(rank_correlation(a, b)[0])
    # with exact ties the same two maps rank differently: the failure the tolerance removes
    exact = [np.corrcoef(tied_ranks(m.numpy(), 0.0)[0], tied_ranks(b.numpy(), 0.0)[0])[0, 1] for m in (a, moved)]
    assert exact[0] != exact[1]
    assert torch.equal(ranking(moved[0]), ranking(a[0]))
    assert topk_overlap(moved[0], a[0], 50) == 1.0


def test_ties_within_the_tolerance_are_broken_by_the_lower_index():
    from helpers.metrics import ranking

    assert ranking(torch.tensor([1.0, 2.0, 2.0 + 1e-9, 0.0])).tolist() == [1, 2, 0, 3]
    assert ranking(torch.tensor([1.0, 2.0 + 1e-9, 2.0, 0.0])).tolist() == [1, 2, 0, 3]
    assert ranking(torch.tensor([1.0, 2.0, 2.1, 0.0])).tolist() == [2, 1, 0, 3]  # a real difference


def test_rank_correlation_ignores_monotone_rescaling_and_flags_constant_maps():
    from helpers.metrics import rank_correlation

    generator = torch.Generator().manual_seed(0)
    # distinct values 0.04 apart (values closer than the tie tolerance would be ties, by design)
    a = (torch.stack([torch.randperm(25, generator=generator) for _ in range(3)]).float() / 25).reshape(3, 1, 5, 5)
    assert torch.allclose(rank_correlation(a, torch.exp(3 * a) + 1), torch.ones(3, dtype=torch.float64))
    assert torch.isnan(rank_correlation(torch.zeros(1, 4), torch.rand(1, 4))).all()


def test_topk_overlap_and_pair_rank_correlation_facts():
    from scipy.stats import spearmanr

    from helpers.metrics import pair_rank_correlation, topk_overlap

    a = torch.tensor([4.0, -3.0, 2.0, 1.0, 0.0])
    assert topk_overlap(a, a, 2) == 1.0 and pair_rank_correlation(a, a) == pytest.approx(1.0)
    assert pair_rank_correlation(a, -a) == pytest.approx(-1.0)
    assert topk_overlap(a, -a, 2) == 1.0  # by |weight|
    assert topk_overlap(a, torch.tensor([0.0, 0.0, 5.0, 6.0, 0.0]), 2) == 0.0
    assert pair_rank_correlation(a, torch.ones(5)) == 0.0
    b, c = torch.tensor([1.0, 2.0, 2.0, 3.0, 5.0]), torch.tensor([2.0, 1.0, 4.0, 4.0, 3.0])
    assert pair_rank_correlation(b, c) == pytest.approx(spearmanr(b.numpy(), c.numpy()).statistic, abs=1e-12)


def test_noise_stability_is_one_without_noise_and_for_a_linear_model(trained_cnn, mnist_test):
    from helpers.metrics import noise_stability
    from helpers.saliency import gradient

    x = mnist_test[0][:5]
    assert torch.allclose(noise_stability(gradient, trained_cnn, x, noise_std=0.0), torch.ones(5, dtype=torch.float64))
    rho = noise_stability(gradient, _linear_classifier(), x, noise_std=0.3, clip=(0.0, 1.0))
    assert torch.allclose(rho, torch.ones(5, dtype=torch.float64))


def test_noise_stability_passes_options_and_keeps_the_target(trained_cnn, mnist_test):
    from helpers.metrics import noise_stability
    from helpers.saliency import smoothgrad

    x = mnist_test[0][:3]
    rho = noise_stability(smoothgrad, trained_cnn, x, noise_std=0.02, n_samples=3, seed=1)
    assert rho.shape == (3,) and ((rho > -1) & (rho <= 1)).all()
    seen = []

    def spy(model, inputs, targets):
        seen.append(targets.clone())
        return inputs.clone()

    noise_stability(spy, trained_cnn, x, 7, noise_std=0.5)
    assert all(torch.equal(t, torch.full((3,), 7)) for t in seen) and len(seen) == 2


def test_noise_of_an_example_does_not_depend_on_the_rest_of_the_batch(mnist_test):
    from helpers.metrics import noise_stability, noisy_copies
    from helpers.saliency import gradient

    x = mnist_test[0][:6]
    assert torch.equal(noisy_copies(x, noise_std=0.1, seed=1)[4:], noisy_copies(x[4:], noise_std=0.1, seed=1))
    model = _linear_classifier()
    assert torch.equal(noise_stability(gradient, model, x, noise_std=0.1)[3:5],
                       noise_stability(gradient, model, x[3:5], noise_std=0.1))


def test_clip_keeps_noisy_inputs_in_range_and_leaves_x_alone(mnist_test):
    from helpers.metrics import noisy_copies

    x = mnist_test[0][:4].clone()
    before = x.clone()
    raw = noisy_copies(x, noise_std=0.1, seed=0)
    clipped = noisy_copies(x, noise_std=0.1, seed=0, clip=(0.0, 1.0))
    assert float(raw.min()) < 0 and float(raw.max()) > 1
    assert torch.equal(clipped, raw.clamp(0, 1)) and torch.equal(x, before)
    assert torch.equal(noisy_copies(x, noise_std=0.0), x)


def test_noise_stability_clip_changes_what_the_model_sees(trained_cnn, mnist_test):
    from helpers.metrics import noise_stability

    seen = []

    def spy(model, inputs, targets):
        seen.append(inputs.clone())
        return inputs.clone()

    x = mnist_test[0][:3]
    noise_stability(spy, trained_cnn, x, noise_std=0.2, clip=(0.0, 1.0))
    assert torch.equal(seen[0], x) and float(seen[1].min()) >= 0 and float(seen[1].max()) <= 1


def test_seed_stability_is_the_agreement_of_separate_runs_of_any_seeded_method():
    from helpers.lime import lime
    from helpers.metrics import pair_rank_correlation, seed_stability, topk_overlap
    from helpers.shapley import kernel_shap, permutation_shapley

    game = _interaction_game()
    stability = seed_stability(lambda seed: lime(game, n_samples=200, seed=seed), seeds=[0, 1, 2], k=2)
    runs = [lime(game, n_samples=200, seed=seed) for seed in (0, 1, 2)]
    for row in range(3):
        assert torch.equal(stability.weights[row], runs[row].double())
    pairs = [(0, 1), (0, 2), (1, 2)]
    assert stability.rank_correlation == pytest.approx(np.mean([pair_rank_correlation(runs[i], runs[j]) for i, j in pairs]))
    assert stability.topk_overlap == pytest.approx(np.mean([topk_overlap(runs[i], runs[j], 2) for i, j in pairs]))
    exact = seed_stability(lambda seed: lime(_linear_game([3.0, -2.0, 1.0, 0.5]), n_samples=200, seed=seed, alpha=0.0),
                           seeds=[0, 1], k=2)
    assert exact.topk_overlap == 1.0 and exact.rank_correlation == pytest.approx(1.0)
    # any seeded method: KernelSHAP at the full budget is exact, so every seed agrees
    full = seed_stability(lambda seed: kernel_shap(game, budget=64, seed=seed), seeds=[0, 1, 2], k=2)
    assert full.rank_correlation == pytest.approx(1.0)
    sampled = seed_stability(lambda seed: permutation_shapley(game, n_permutations=1, seed=seed), seeds=range(4))
    assert sampled.weights.shape == (4, 6)


def test_stability_across_inputs_matches_seed_stability_per_input(mnist_test):
    from helpers.features import CoalitionGame, grid_segments
    from helpers.lime import lime
    from helpers.metrics import seed_stability, stability_across_inputs
    from helpers.models import SimpleCNN
    from helpers.seeding import seed_everything

    seed_everything(0)
    model = SimpleCNN()
    X = mnist_test[0][:2]
    segments = grid_segments((28, 28), 7)
    result = stability_across_inputs(model, X, segments, seeds=[0, 1], k=2, n_samples=100)
    for i in range(2):
        game = CoalitionGame(model, X[i], segments, baseline="segment_mean")
        single = seed_stability(lambda seed: lime(game, n_samples=100, seed=seed), [0, 1], k=2,
                                players=~game.dummy_players)
        assert float(result["rank_correlation"][i]) == pytest.approx(single.rank_correlation)
        assert float(result["topk_overlap"][i]) == pytest.approx(single.topk_overlap)
        assert int(result["n_players"][i]) == int((~game.dummy_players).sum()) < 16
        everything = seed_stability(lambda seed: lime(game, n_samples=100, seed=seed), [0, 1], k=2)
        assert float(result["rank_correlation_all"][i]) == pytest.approx(everything.rank_correlation)
    from helpers.shapley import kernel_shap

    other = stability_across_inputs(model, X, segments, method=kernel_shap, seeds=[0, 1], k=2, budget=32)
    assert other["rank_correlation"].shape == (2,)
    with pytest.raises(ValueError, match=r"inputs must be a batch \[N, ...\]"):
        stability_across_inputs(model, X[0, 0, 0], segments)


def test_seed_stability_on_chosen_players():
    from helpers.features import FunctionGame
    from helpers.lime import lime
    from helpers.metrics import seed_stability

    coefficients = torch.tensor([3.0, 2.0, 1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    game = FunctionGame(lambda Z: Z.double() @ coefficients + 0.5 * (Z[:, 0] & Z[:, 1]).double(), 6)
    players = coefficients != 0
    stability = seed_stability(lambda seed: lime(game, n_samples=300, seed=seed), seeds=[0, 1, 2], k=2, players=players)
    everything = seed_stability(lambda seed: lime(game, n_samples=300, seed=seed), seeds=[0, 1, 2], k=2)
    assert torch.equal(stability.weights, everything.weights)
    # the three players that matter keep their order; the dummies' noise drags the full ranking down
    assert stability.rank_correlation == pytest.approx(1.0) and everything.rank_correlation < 1.0


def _stability_error_cases():
    from helpers.metrics import (
        noise_stability,
        noisy_copies,
        pair_rank_correlation,
        rank_correlation,
        seed_stability,
        topk_overlap,
    )
    from helpers.models import SimpleCNN
    from helpers.saliency import gradient

    a, X = torch.ones(4), torch.rand(2, 1, 28, 28)
    return [
        (lambda: topk_overlap(a, a, 5), ValueError, "k must be at most M = 4"),
        (lambda: topk_overlap(a, a, 0), ValueError, "k must be an int >= 1; got 0"),
        (lambda: topk_overlap(a, a, 1.5), TypeError, "k must be an int"),
        (lambda: topk_overlap([1.0, 2.0], a, 1), TypeError, r"a must be a tensor \[M\] of weights; got list"),
        (lambda: pair_rank_correlation(a, torch.ones(3)), ValueError, "same length"),
        (lambda: pair_rank_correlation(a, a.bool()), TypeError, "b must hold real weights"),
        (lambda: rank_correlation(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, "a and b must be batches"),
        (lambda: rank_correlation(np.zeros((2, 3)), torch.zeros(2, 3)), TypeError, "a must be a torch.Tensor; got ndarray"),
        (lambda: seed_stability(lambda seed: torch.rand(6), seeds=[0]), ValueError, "at least two seeds"),
        (lambda: seed_stability(lambda seed: torch.rand(6), k=7), ValueError, "k must be at most M = 6"),
        (lambda: seed_stability(lambda seed: torch.rand(6), players=torch.ones(5, dtype=torch.bool)), ValueError,
         r"players must be a bool tensor \[M\] = \[6\]"),
        (lambda: seed_stability(lambda seed: torch.rand(6), k=3, players=torch.tensor([True, True] + [False] * 4)),
         ValueError, "players must select at least"),
        (lambda: seed_stability(_interaction_game()), TypeError, "explain must be a function of the seed"),
        (lambda: noise_stability("gradient", SimpleCNN(), X, noise_std=0.1), TypeError, "method must be a gradient method"),
        (lambda: noise_stability(gradient, SimpleCNN(), X, noise_std=-1), ValueError, "noise_std must be a finite number >= 0"),
        (lambda: noise_stability(gradient, lambda x: x, X, noise_std=0.1), TypeError, "model must be a torch.nn.Module"),
        (lambda: noise_stability(gradient, SimpleCNN(), X[0, 0, 0], noise_std=0.1), ValueError, "x must be batched"),
        (lambda: noise_stability(gradient, SimpleCNN(), X, noise_std=0.1, clip=(1.0, 0.0)), ValueError,
         "clip must be a pair"),
        (lambda: noisy_copies(X, noise_std=0.1, clip="unit"), TypeError, "clip must be None or a pair"),
        (lambda: noisy_copies(X, noise_std="0.1"), TypeError, "noise_std must be a number"),
        (lambda: noisy_copies(X, noise_std=float("nan")), ValueError, "noise_std must be a finite number"),
    ]


@pytest.mark.parametrize("case", range(21))
def test_stability_errors(case):
    cases = _stability_error_cases()
    assert len(cases) == 21
    call, error, message = cases[case]
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- faithfulness: deletion and insertion curves


def _additive(weights):
    from helpers.features import FunctionGame

    weights = torch.as_tensor(weights, dtype=torch.float64)
    return FunctionGame(lambda Z: Z.double() @ weights, len(weights))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=15), st.integers(1, 6))
def test_curves_of_an_additive_game_are_known_in_closed_form(weights, step):
    from helpers.metrics import curve_area, curve_fractions, deletion_curve, insertion_curve, ranking

    w = torch.tensor(weights, dtype=torch.float64)
    game = _additive(w)
    order = ranking(w)  # highest first, ties (within the tie tolerance) by index: tested on its own above
    counts = (curve_fractions(len(w), step) * len(w)).round().long()
    removed = torch.cat([torch.zeros(1, dtype=torch.float64), w[order].cumsum(0)])[counts]
    deletion, insertion = deletion_curve(game, w, step=step), insertion_curve(game, w, step=step)
    assert torch.allclose(deletion, w.sum() - removed, atol=1e-12)
    assert torch.allclose(insertion, removed, atol=1e-12)
    # areas: the trapezoid rule over the fractions, written out
    f = curve_fractions(len(w), step)
    expected = float(((f[1:] - f[:-1]) * (deletion[1:] + deletion[:-1]) / 2).sum())
    assert float(curve_area(deletion, f)) == pytest.approx(expected, abs=1e-12)


def test_area_of_a_uniform_additive_game():
    from helpers.metrics import curve_area, deletion_curve, insertion_curve

    game = _additive(torch.ones(10))
    # removing one unit per step: the curve falls linearly from 10 to 0, area 5; insertion rises, area 5
    assert float(curve_area(deletion_curve(game, torch.arange(10.0)))) == pytest.approx(5.0)
    assert float(curve_area(insertion_curve(game, torch.arange(10.0)))) == pytest.approx(5.0)
    spike = _additive([0, 0, 8, 0])  # one feature holds everything: the right order drops at once
    assert deletion_curve(spike, torch.tensor([0.0, 0, 1, 0])).tolist() == [8, 0, 0, 0, 0]
    assert float(curve_area(deletion_curve(spike, torch.tensor([0.0, 0, 1, 0])))) == pytest.approx(1.0)
    assert float(curve_area(insertion_curve(spike, torch.tensor([0.0, 0, 1, 0])))) == pytest.approx(7.0)


def test_ties_go_to_the_lower_index_and_one_game_call():
    from helpers.metrics import deletion_curve, insertion_curve, ranking

    game = _additive([1.0, 10.0, 100.0, 1000.0])
    assert ranking(torch.tensor([2.0, 5.0, 2.0, 5.0])).tolist() == [1, 3, 0, 2]
    assert deletion_curve(game, torch.tensor([2.0, 5.0, 2.0, 5.0])).tolist() == [1111, 1101, 101, 100, 0]
    before = game.n_calls
    insertion_curve(game, torch.zeros(4), step=3)
    assert game.n_calls == before + 1 and game.n_evaluations == 5 + 3


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=2, max_size=10), st.integers(0, 1000))
def test_the_shapley_order_is_the_best_insertion_order_of_an_additive_game(weights, seed):
    from helpers.metrics import TIE_TOLERANCE, curve_area, insertion_curve, random_order_curves
    from helpers.shapley import exact_shapley

    game = _additive(weights)
    phi = exact_shapley(game)  # for an additive game, the weights themselves
    best = float(curve_area(insertion_curve(game, phi)))
    random = curve_area(random_order_curves(game, kind="insertion", n_orders=30, seed=seed))
    # best up to the order of values within the tie tolerance, which ranking treats as equal
    slack = 1e-9 + TIE_TOLERANCE * max(abs(w) for w in weights) * len(weights)
    assert bool((random <= best + slack).all())


def test_random_orders_are_permutations_and_seeded():
    from helpers.metrics import random_order_curves

    game = _additive([1.0, 2.0, 4.0, 8.0, 16.0])
    curves = random_order_curves(game, n_orders=6, seed=3)
    assert curves.shape == (6, 6) and bool((curves[:, 0] == 31).all()) and bool((curves[:, -1] == 0).all())
    steps = -curves.diff(dim=1)  # each step removes one power of two: all five, once each
    assert bool((steps.sort(dim=1).values == torch.tensor([1.0, 2, 4, 8, 16])).all())
    assert torch.equal(curves, random_order_curves(game, n_orders=6, seed=3))
    assert not torch.equal(curves, random_order_curves(game, n_orders=6, seed=4))


def test_curve_fractions_with_a_step_that_does_not_divide():
    from helpers.metrics import curve_area, curve_fractions

    assert curve_fractions(10, 4).tolist() == [0.0, 0.4, 0.8, 1.0]
    assert curve_fractions(784, 28).shape == (29,)
    assert float(curve_area(torch.ones(4), curve_fractions(10, 4))) == pytest.approx(1.0)
    assert curve_area(torch.ones(3, 5)).shape == (3,)


def test_segment_sums_preserve_the_total(mnist_test):
    from helpers.features import grid_segments, segment_sums, superpixels

    maps = torch.randn(5, 1, 28, 28, dtype=torch.float64)
    for segments in (grid_segments((28, 28), 7), grid_segments((28, 28), 1), superpixels(mnist_test[0][0], 12)):
        sums = segment_sums(maps, segments)
        assert sums.shape == (5, int(segments.max()) + 1)
        assert torch.allclose(sums.sum(dim=1), maps.sum(dim=(1, 2, 3)))
    three = torch.randn(2, 3, 8, 8)
    assert torch.allclose(segment_sums(three, grid_segments((8, 8), 4)).sum(1), three.sum(dim=(1, 2, 3)), atol=1e-5)
    assert segment_sums(torch.ones(28, 28), grid_segments((28, 28), 7)).tolist() == [49.0] * 16
    pixels = segment_sums(maps, grid_segments((28, 28), 1))
    assert torch.equal(pixels, maps.flatten(1))  # 1 x 1 patches: the pixels themselves, in order


# --------------------------------------------------------------------------- sanity checks


def _state(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_cascading_randomisation_leaves_the_model_and_the_random_state_alone(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation
    from helpers.saliency import gradient

    model = trained_cnn
    model.train()
    model.fc1.eval()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    before, rng = _state(model), torch.random.get_rng_state()
    x = mnist_test[0][:4]
    x_before = x.clone()
    result = cascading_randomisation(model, x, gradient)
    assert result.stages == ["original", "fc1", "conv1"]
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # bit-identical
    assert model.training and not model.fc1.training and model.conv1.training
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.equal(x, x_before)
    for p in model.parameters():
        p.grad = None
    model.eval()


def test_randomisation_changes_the_gradient_and_the_first_row_is_one(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation
    from helpers.saliency import gradient

    result = cascading_randomisation(trained_cnn, mnist_test[0][:6], gradient, seed=1)
    for measure in ("spearman_abs", "ssim"):
        sim = result.similarity[measure]
        assert sim.shape == (3, 6) and torch.allclose(sim[0], torch.ones(6, dtype=torch.float64))
        assert float(sim[-1].median()) < 0.5  # the plain gradient passes the check on the SimpleCNN
    again = cascading_randomisation(trained_cnn, mnist_test[0][:6], gradient, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(result.maps, again.maps))  # same seed, same result
    only = cascading_randomisation(trained_cnn, mnist_test[0][:2], gradient, layers=["conv1"], similarities={"r": lambda a, b: torch.zeros(2)})
    assert only.stages == ["original", "conv1"] and list(only.similarity) == ["r"]


def test_identical_maps_have_similarity_one():
    from helpers.metrics import abs_rank_correlation, structural_similarity

    maps = torch.rand(3, 1, 28, 28)
    assert torch.allclose(abs_rank_correlation(maps, maps), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(abs_rank_correlation(maps, -maps), torch.ones(3, dtype=torch.float64))  # |map|
    assert structural_similarity(maps, maps).tolist() == [1.0, 1.0, 1.0]
    assert structural_similarity(torch.zeros(1, 784), torch.zeros(1, 784)).tolist() == [1.0]
    other = torch.rand(3, 1, 28, 28)
    assert bool((structural_similarity(maps, other) < 0.5).all())


def test_ssim_is_skimages_on_the_squeezed_map():
    from skimage.metrics import structural_similarity as skimage_ssim

    from helpers.metrics import structural_similarity

    a, b = torch.rand(2, 1, 28, 28, dtype=torch.float64), torch.rand(2, 1, 28, 28, dtype=torch.float64)
    for i in range(2):
        aa, bb = a[i, 0].numpy(), b[i, 0].numpy()
        data_range = max(aa.max(), bb.max()) - min(aa.min(), bb.min())
        assert float(structural_similarity(a, b)[i]) == pytest.approx(skimage_ssim(aa, bb, data_range=data_range), abs=1e-12)


def test_permuted_labels_keep_the_counts():
    from helpers.metrics import permuted_labels

    y = torch.arange(100) % 10
    shuffled = permuted_labels(y, seed=0)
    assert torch.equal(torch.bincount(shuffled), torch.bincount(y)) and not torch.equal(shuffled, y)
    assert torch.equal(shuffled, permuted_labels(y, seed=0))


def test_agreement_and_budget_to_reach():
    from helpers.metrics import agreement, budget_to_reach

    a = torch.rand(5, 16)
    names, matrix = agreement({"a": a, "same order": 3 * a + 1, "reversed": -a})
    assert names == ["a", "same order", "reversed"]
    assert torch.allclose(matrix, torch.tensor([[1.0, 1, -1], [1, 1, -1], [-1, -1, 1]], dtype=torch.float64))
    errors = np.array([[0.5, 0.4, 0.3], [0.02, 0.2, 0.009], [0.001, 0.002, 0.003]])
    assert budget_to_reach(errors, [10, 20, 40], 0.1) == 20
    assert budget_to_reach(errors, [10, 20, 40], 0.1, statistic="max") == 40
    assert budget_to_reach(errors, [10, 20, 40], 1e-4) is None


def _faithfulness_error_cases():
    from helpers.features import FunctionGame, segment_sums
    from helpers.metrics import (
        agreement,
        budget_to_reach,
        cascading_randomisation,
        curve_area,
        curve_fractions,
        deletion_curve,
        insertion_curve,
        permuted_labels,
        random_order_curves,
        structural_similarity,
    )
    from helpers.models import SimpleCNN
    from helpers.saliency import gradient

    game = FunctionGame(lambda Z: Z.double().sum(1), 4)
    a = torch.ones(4)
    X = torch.rand(2, 1, 28, 28)
    return [
        (lambda: deletion_curve(game, torch.ones(5)), ValueError, r"attributions must be a tensor \[M\] = \[4\].*got shape \(5,\)"),
        (lambda: deletion_curve(game, torch.ones(1, 4)), ValueError, r"got shape \(1, 4\)"),
        (lambda: insertion_curve(game, [1.0, 2.0, 3.0, 4.0]), TypeError, "attributions must be a tensor"),
        (lambda: deletion_curve(game, torch.tensor([1.0, float("nan"), 0, 0])), ValueError, "attributions must be finite; they hold 1 NaN"),
        (lambda: deletion_curve(game, a.bool()), TypeError, "attributions must hold real scores"),
        (lambda: deletion_curve(game, a, step=0), ValueError, r"step \(features removed per point\) must be an int >= 1; got 0"),
        (lambda: deletion_curve(game, a, step=1.5), TypeError, r"step \(features removed per point\) must be an int; got 1.5"),
        (lambda: insertion_curve(game, a, step=True), TypeError, r"step \(features removed per point\) must be an int"),
        (lambda: deletion_curve(lambda Z: Z, a), TypeError, "game must have an attribute n_players"),
        (lambda: random_order_curves(game, kind="both"), ValueError, 'kind must be "deletion" or "insertion"'),
        (lambda: random_order_curves(game, n_orders=0), ValueError, "n_orders must be an int >= 1"),
        (lambda: curve_area(torch.ones(1)), ValueError, "at least two points"),
        (lambda: curve_area(torch.tensor([1.0, float("nan")])), ValueError, "values must be finite"),
        (lambda: curve_area(torch.ones(3), torch.tensor([0.0, 0.7, 0.5])), ValueError, "fractions must increase from 0 to 1"),
        (lambda: curve_area(torch.ones(3), torch.tensor([0.0, 1.0])), ValueError, r"fractions must be a tensor \[K \+ 1\] = \[3\]"),
        (lambda: curve_area("curve"), TypeError, "values must be a real tensor"),
        (lambda: curve_fractions(0, 1), ValueError, "n_players must be an int >= 1"),
        (lambda: segment_sums(torch.ones(2, 1, 5, 5), torch.zeros(28, 28, dtype=torch.int64)), ValueError, "segments must have the spatial shape"),
        (lambda: segment_sums(torch.ones(2, 28, 28), torch.zeros(28, 28)), TypeError, "segments must hold integer labels"),
        (lambda: segment_sums(torch.ones(28), torch.zeros(28, 28, dtype=torch.int64)), ValueError, "saliency must be"),
        (lambda: segment_sums(np.ones((28, 28)), torch.zeros(28, 28, dtype=torch.int64)), TypeError, "saliency must be a torch.Tensor"),
        (lambda: cascading_randomisation(lambda x: x, X, gradient), TypeError, "model must be a torch.nn.Module"),
        (lambda: cascading_randomisation(SimpleCNN(), X, "gradient"), TypeError, "explain must be a callable"),
        (lambda: cascading_randomisation(SimpleCNN(), X, gradient, layers=["fc2"]), ValueError, r"layers must name layers.*\['fc2'\]"),
        (lambda: cascading_randomisation(SimpleCNN(), X, gradient, similarities=("pearson",)), ValueError, "similarities must name measures"),
        (lambda: cascading_randomisation(SimpleCNN(), X[0, 0, 0], gradient), ValueError, "x must be batched"),
        (lambda: cascading_randomisation(SimpleCNN(), X, gradient, seed=-1), ValueError, "seed must be in"),
        (lambda: structural_similarity(torch.ones(2, 3), torch.ones(2, 4)), ValueError, "same shape"),
        (lambda: permuted_labels(torch.rand(4)), TypeError, r"y must be an int tensor \[N\]"),
        (lambda: agreement({"a": torch.ones(2, 3)}), ValueError, "at least two"),
        (lambda: agreement({"a": torch.ones(2, 3), "b": torch.ones(2, 4)}), ValueError, "same shape"),
        (lambda: budget_to_reach(np.ones((2, 3)), [1, 2, 3], 0.1), ValueError, r"errors must be \[len\(budgets\), seeds\]"),
        (lambda: budget_to_reach(np.ones((2, 3)), [1, 2], 0), ValueError, "target must be a finite number > 0"),
    ]


_N_FAITHFULNESS_ERRORS = 33


@pytest.mark.parametrize("case", range(_N_FAITHFULNESS_ERRORS))
def test_faithfulness_and_sanity_errors(case):
    cases = _faithfulness_error_cases()
    assert len(cases) == _N_FAITHFULNESS_ERRORS
    call, error, message = cases[case]
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- localisation: the image's own edges


def _square(size: int = 12) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[..., 3:9, 3:9] = 1.0
    return x


def test_edges_of_a_square_lie_on_its_boundary():
    x = _square()
    edges = image_edges(x)[0, 0]
    assert edges.shape == (12, 12)
    assert float(edges[5:7, 5:7].abs().max()) == 0.0, "flat ink has no edge"
    assert float(edges[0, 0]) == 0.0, "flat background has no edge"
    assert float(edges[3, 5]) == pytest.approx(float(edges[2, 5])) == pytest.approx(4.0), "a step of 1: |Sobel| = 4"
    # the same edge along both axes
    assert torch.allclose(edges, edges.T)


def test_a_map_that_is_the_edges_correlates_fully_with_edges_and_less_with_ink():
    x = _square()
    result = edge_alignment(image_edges(x), x)
    assert float(result["edges"][0]) == pytest.approx(1.0)
    assert float(result["ink"][0]) < 0.5
    result = edge_alignment(x.clone(), x)  # a map that is the ink itself
    assert float(result["ink"][0]) == pytest.approx(1.0) and float(result["edges"][0]) < 1.0


def test_the_sign_of_a_map_does_not_matter_and_nothing_is_changed():
    x = _square().repeat(3, 1, 1, 1) * torch.tensor([1.0, 0.5, 2.0])[:, None, None, None]
    saliency = torch.randn(3, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    before = saliency.clone()
    a, b = edge_alignment(saliency, x), edge_alignment(-saliency, x)
    assert torch.equal(a["edges"], b["edges"]) and torch.equal(a["ink"], b["ink"])
    assert torch.equal(saliency, before) and a["edges"].shape == (3,)


def test_shapes_must_match():
    with pytest.raises(ValueError, match=r"saliency and x must have the same shape \(one map per image\); got \(2, 1, 12, 12\) and \(1, 1, 12, 12\)"):
        edge_alignment(torch.rand(2, 1, 12, 12), _square())
    with pytest.raises(ValueError, match=r"x must be \[B, 1, H, W\]"):
        image_edges(torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="saliency must be a torch.Tensor"):
        edge_alignment([[0.0]], _square())


def test_nan_weights_and_fractions_are_refused_not_ranked():
    from helpers.metrics import curve_area, pair_rank_correlation, topk_overlap

    with pytest.raises(ValueError, match=r"a must be finite; it holds 1 NaN or Inf"):
        pair_rank_correlation(torch.tensor([1.0, float("nan"), 3.0]), torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"b must be finite"):
        topk_overlap(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([float("nan")] * 3), 2)
    with pytest.raises(ValueError, match="fractions must be finite"):
        curve_area(torch.tensor([1.0, 0.5, 0.0]), torch.tensor([0.0, float("nan"), 1.0]))


def test_budget_to_reach_is_the_smallest_budget_in_any_order():
    from helpers.metrics import budget_to_reach

    errors = np.array([[0.05, 0.05], [0.5, 0.4], [0.02, 0.01]])  # budgets 40, 10, 20
    assert budget_to_reach(errors, [40, 10, 20], 0.1) == 20
    assert budget_to_reach(errors, [40, 10, 20], np.float32(0.1)) == 20
    with pytest.raises(ValueError, match="errors must be finite"):
        budget_to_reach(np.array([[np.nan, 0.1], [0.01, 0.02]]), [10, 20], 0.1)
    with pytest.raises(TypeError, match="target must be a number"):
        budget_to_reach(errors, [40, 10, 20], "0.1")


def test_a_curve_of_a_game_with_the_wrong_shape_or_nan_is_refused():
    from helpers.metrics import deletion_curve, random_order_curves

    class Game:  # any callable with n_players is a game: its worths are checked where they are read
        n_players = 3

        def __init__(self, worths):
            self.worths = worths

        def __call__(self, Z):
            return self.worths(Z)

    two_columns = Game(lambda Z: torch.stack([Z.sum(1), Z.sum(1)], dim=1).double())
    with pytest.raises(ValueError, match=r"game\(Z\) must return one finite value per coalition, shape \(4,\); got shape \(4, 2\)"):
        deletion_curve(two_columns, torch.tensor([3.0, 2.0, 1.0]))
    nan = Game(lambda Z: torch.full((Z.shape[0],), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="with NaN or Inf"):
        deletion_curve(nan, torch.tensor([3.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="with NaN or Inf"):
        random_order_curves(nan, n_orders=2)
    one_more = Game(lambda Z: torch.zeros(Z.shape[0] + 1, dtype=torch.float64))  # the wrong count of worths
    with pytest.raises(ValueError, match=r"one finite value per coalition, shape \(8,\); got shape \(9,\)"):
        random_order_curves(one_more, n_orders=2)


def test_a_map_with_nan_gets_an_error_not_nan_shares(mnist_test):
    x = mnist_test[0][:1]
    bad = torch.rand_like(x)
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="saliency must be finite"):
        region_shares(bad, x)
    with pytest.raises(ValueError, match="saliency must be finite"):
        top_mass_share(bad)


def test_ssim_refuses_maps_it_cannot_window_before_any_layer_is_randomised(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation, structural_similarity

    for shape in ((2, 3, 28, 28), (2, 5), (2, 1), (2, 16)):
        with pytest.raises(ValueError, match="structural_similarity compares grey maps"):
            structural_similarity(torch.rand(shape), torch.rand(shape)) if shape != (2, 16) else \
                structural_similarity(torch.rand(2, 4, 4), torch.rand(2, 4, 4))
    stages_run = []

    def coalition_like(model, x, targets):  # a [B, 16] map, as a coalition method gives
        stages_run.append(1)
        return torch.rand(x.shape[0], 4, 4)

    with pytest.raises(ValueError, match="structural_similarity compares grey maps"):
        cascading_randomisation(trained_cnn, mnist_test[0][:2], coalition_like, similarities=("ssim",))
    assert len(stages_run) == 1  # only the original map was computed


# --------------------------------------------------------------------------- degenerate batches (issue 18, 23)


@pytest.mark.parametrize("call", [
    lambda maps: __import__("helpers.metrics", fromlist=["x"]).rank_correlation(maps, maps),
    lambda maps: __import__("helpers.metrics", fromlist=["x"]).agreement({"a": maps, "b": maps}),
    lambda maps: top_mass_share(maps, 0.25),
])
def test_empty_and_meta_batches_of_maps_are_named(call):
    with pytest.raises(ValueError, match=r"must hold at least one example; got shape \(0, 16\)"):
        call(torch.zeros(0, 16))
    with pytest.raises(ValueError, match="on the meta device"):
        call(torch.zeros(2, 16, device="meta"))


def test_gradient_methods_may_return_numpy_and_must_return_one_map_per_input(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation, noise_stability
    from helpers.saliency import gradient

    x = mnist_test[0][:2]
    as_numpy = lambda model, x, targets: gradient(model, x, targets).numpy()  # noqa: E731
    expected = noise_stability(gradient, trained_cnn, x, noise_std=0.1)
    assert torch.equal(noise_stability(as_numpy, trained_cnn, x, noise_std=0.1), expected)
    assert cascading_randomisation(trained_cnn, x, as_numpy, layers=["fc1"], similarities=("spearman_abs",)).stages == [
        "original", "fc1"]
    with pytest.raises(TypeError, match="method must return a torch.Tensor .* got list"):
        noise_stability(lambda model, x, targets: [0.0], trained_cnn, x, noise_std=0.1)
    with pytest.raises(ValueError, match=r"explain must return one map per input, \[2, \.\.\.\]; got shape \(1, 784\)"):
        cascading_randomisation(trained_cnn, x, lambda model, x, targets: torch.zeros(1, 784))


def test_rank_correlation_on_chosen_players_leaves_the_others_out():
    from helpers.metrics import rank_correlation

    a = torch.tensor([[3.0, 2.0, 1.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 0.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 0.0, 0.0, 0.0]])
    live = torch.tensor([True, True, True, False, False, False])
    assert rank_correlation(a, b, players=live).tolist() == [-1.0, 1.0]
    assert float(rank_correlation(a, b)[0]) > -1.0  # the three tied zeros count as agreement
    per_row = torch.tensor([[True, True, False, False, False, False], [True] * 6])
    rho = rank_correlation(a, b, players=per_row)
    assert rho[0] == -1.0 and rho[1] == float(rank_correlation(a[1:], b[1:])[0])
    assert torch.isnan(rank_correlation(a, b, players=torch.tensor([True] + [False] * 5))).all()
    with pytest.raises(ValueError, match=r"players must be \[M\] = \[6\] or \[B, M\] = \[2, 6\]; got \[3\]"):
        rank_correlation(a, b, players=torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="players must be a bool tensor"):
        rank_correlation(a, b, players=live.long())


def test_curve_area_of_a_kind_rescales_between_the_empty_and_full_coalitions():
    from helpers.metrics import curve_area

    logits = torch.tensor([[7.0, 3.0, -1.0], [4.0, 2.5, 1.0]])  # deletion: v(N) first, v(empty) last
    assert curve_area(logits, kind="deletion").tolist() == pytest.approx([0.5, 0.5])
    assert float(curve_area(torch.tensor([-1.0, -1.0, 7.0]), kind="insertion")) == pytest.approx(0.25)
    assert float(curve_area(torch.tensor([0.2, 0.9]), kind="insertion")) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same value cannot be rescaled; 1 such curve"):
        curve_area(torch.tensor([[1.0, 0.0, 1.0]]), kind="deletion")
    with pytest.raises(ValueError, match="kind must be one of"):
        curve_area(logits, kind="both")


def test_remove_top_segments_and_remove_and_retrain():
    from helpers.metrics import remove_and_retrain, remove_top_segments
    from helpers.models import LinearClassifier, train_classifier

    segments = torch.tensor([[0, 0, 1, 1], [2, 2, 3, 3]])
    X = torch.arange(16.0).reshape(2, 1, 2, 4)
    scores = torch.tensor([[0.0, 3.0, 1.0, 2.0], [5.0, 5.0, 0.0, 1.0]])  # row 1: a tie, the lower index first
    fill = torch.full((1, 2, 4), -1.0)
    before = X.clone()
    out = remove_top_segments(X, scores, segments, fraction=0.5, fill=fill)
    assert torch.equal(X, before)
    assert out[0, 0].tolist() == [[0.0, 1.0, -1.0, -1.0], [4.0, 5.0, -1.0, -1.0]]
    assert out[1, 0].tolist() == [[-1.0, -1.0, -1.0, -1.0], [12.0, 13.0, 14.0, 15.0]]
    with pytest.raises(ValueError, match="fraction must be in"):
        remove_top_segments(X, scores, segments, fraction=0.0, fill=fill)
    with pytest.raises(ValueError, match="one row per image"):
        remove_top_segments(X, scores[:1], segments, fraction=0.5, fill=fill)

    # a class told apart by one pixel's segment: removing it by a method that ranks it first destroys the information
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (200,), generator=generator)
    images = torch.rand(200, 1, 2, 4, generator=generator) * 0.1
    images[:, 0, 0, 0] += y.float()
    informed = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(200, 1)  # ranks the informative segment first
    uninformed = torch.tensor([[0.0, 0.0, 0.0, 1.0]]).repeat(200, 1)
    train = lambda model, X, y: train_classifier(model, X, y, epochs=20, seed=0, lr=0.05, progress=False)  # noqa: E731
    make = lambda: LinearClassifier((1, 2, 4), 2)  # noqa: E731
    data = (images[:150], y[:150], images[150:], y[150:])
    kept = remove_and_retrain(make, train, data, (uninformed[:150], uninformed[150:]), segments, fraction=0.25,
                              fill=torch.zeros(1, 2, 4))
    removed = remove_and_retrain(make, train, data, (informed[:150], informed[150:]), segments, fraction=0.25,
                                 fill=torch.zeros(1, 2, 4))
    assert kept > 0.9 and removed < 0.75
