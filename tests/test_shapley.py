"""Tests of helpers.shapley: exact Shapley values, KernelSHAP, permutation sampling.

The games have known values: additive games (phi_i = a_i), games with pairwise
interactions (phi_i = a_i + sum_j B_ij / 2), weighted voting games (the
Shapley-Shubik index, counted over all orders of arrival), and random tables.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.features import CoalitionGame, FunctionGame, grid_segments, tabular_segments
from helpers.data import load_tabular
from helpers.models import MLP, train_regressor
from helpers.kernelshap import (_paired_design, _uses_design, cubic_leakage, kernel_shap_coalitions, kernel_shap_min_budget,
                                optimised_design)
from helpers.seeding import seed_everything
from helpers.shapley import (
    EXACT_MAX_PLAYERS,
    TableGame,
    axiom_gaps,
    budget_errors,
    budget_methods,
    exact_shapley,
    kernel_shap,
    marginal_contributions,
    permutation_shapley,
    relative_error,
    shap_kernel_explainer,
    shap_tree_explainer,
    exact_shapley_skipping_dummies,
    shapley_weight,
    weighted_voting_game,
)

# importing shap sets up its colormaps with calls that matplotlib has deprecated
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:shap")

# ---------------------------------------------------------------- games with known values


def additive_game(weights, constant=0.0):
    weights = torch.as_tensor(weights, dtype=torch.float64)
    return FunctionGame(lambda Z: Z.double() @ weights + constant, len(weights))


def pairwise_game(linear, interactions):
    """v(z) = a.z + sum_{i<j} B_ij z_i z_j with B symmetric, zero diagonal."""
    a = torch.as_tensor(linear, dtype=torch.float64)
    B = torch.as_tensor(interactions, dtype=torch.float64)
    B = torch.triu(B, diagonal=1)
    return FunctionGame(lambda Z: Z.double() @ a + ((Z.double() @ B) * Z.double()).sum(dim=1), len(a))


def pairwise_values(linear, interactions):
    B = torch.triu(torch.as_tensor(interactions, dtype=torch.float64), diagonal=1)
    return torch.as_tensor(linear, dtype=torch.float64) + (B + B.T).sum(dim=1) / 2


def voting_game(weights, quota):
    """1 if the coalition's votes reach the quota, else 0."""
    weights = torch.as_tensor(weights, dtype=torch.float64)
    return FunctionGame(lambda Z: (Z.double() @ weights >= quota).double(), len(weights))


def random_table(n_players, seed):
    g = torch.Generator().manual_seed(seed)
    return TableGame._from_table(torch.randn(2**n_players, generator=g, dtype=torch.float64),
                                 [str(i) for i in range(n_players)])


def nonlinear_game(n_players=8, seed=0):
    """A smooth game with interactions of every order (what a network looks like)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n_players, generator=g, dtype=torch.float64)
    b = torch.randn(n_players, generator=g, dtype=torch.float64)
    return FunctionGame(lambda Z: torch.tanh(Z.double() @ a) + 0.5 * torch.sin(Z.double() @ b) * (Z.double() @ a), n_players)


def worth_of(game, members):
    Z = torch.zeros(1, game.n_players, dtype=torch.bool)
    Z[0, list(members)] = True
    return float(game(Z)[0])


def shapley_by_orders(game):
    """The definition: mean marginal contribution over all M! orders of arrival."""
    M = game.n_players
    phi = np.zeros(M)
    orders = list(itertools.permutations(range(M)))
    for order in orders:
        present = []
        before = worth_of(game, present)
        for player in order:
            present.append(player)
            after = worth_of(game, present)
            phi[player] += after - before
            before = after
    return torch.tensor(phi / len(orders))


def shapley_by_subsets(game):
    """The subset formula, one player at a time (independent of exact_shapley's rearrangement)."""
    M = game.n_players
    phi = np.zeros(M)
    for i in range(M):
        others = [j for j in range(M) if j != i]
        for size in range(M):
            weight = math.factorial(size) * math.factorial(M - size - 1) / math.factorial(M)
            for S in itertools.combinations(others, size):
                phi[i] += weight * (worth_of(game, list(S) + [i]) - worth_of(game, S))
    return torch.tensor(phi)


GAMES = {
    "additive": lambda: additive_game([1.0, -2.0, 0.5, 3.0, 0.0], constant=7.0),
    "pairwise": lambda: pairwise_game([1.0, 0.0, -1.0, 2.0], torch.arange(16.0).reshape(4, 4) / 10 - 0.5),
    "voting": lambda: voting_game([4, 3, 2, 1, 1], quota=6),
    "random_table": lambda: random_table(5, seed=3),
    "nonlinear": lambda: nonlinear_game(6),
}


# ---------------------------------------------------------------- exact Shapley values


@pytest.mark.parametrize("name", GAMES)
def test_exact_shapley_equals_the_definition_over_all_orders(name):
    game = GAMES[name]()
    expected = shapley_by_orders(game)
    torch.testing.assert_close(exact_shapley(game), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(shapley_by_subsets(game), expected, rtol=0, atol=1e-12)


def test_exact_shapley_closed_forms():
    a = [1.0, -2.0, 0.5, 3.0]
    torch.testing.assert_close(exact_shapley(additive_game(a, constant=5.0)), torch.tensor(a, dtype=torch.float64))
    B = torch.tensor([[0, 1, 2, 0], [1, 0, -1, 4], [2, -1, 0, 0], [0, 4, 0, 0]], dtype=torch.float64)
    torch.testing.assert_close(exact_shapley(pairwise_game(a, B)), pairwise_values(a, B))
    # a classic voting game: 50, 49 and 1 votes, 51 needed: the big player is pivotal in 4 of 6 orders
    torch.testing.assert_close(exact_shapley(voting_game([50, 49, 1], quota=51)),
                               torch.tensor([4 / 6, 1 / 6, 1 / 6], dtype=torch.float64))


def test_exact_shapley_batch_size_does_not_change_values():
    game = nonlinear_game(7)
    torch.testing.assert_close(exact_shapley(game, batch_size=3), exact_shapley(game), rtol=0, atol=1e-12)


def test_exact_shapley_keeps_the_games_dtype():
    game = FunctionGame(lambda Z: Z.float() @ torch.tensor([1.0, 2.0, 3.0]), 3)
    assert exact_shapley(game).dtype == torch.float32
    assert kernel_shap(game, budget=8).dtype == torch.float32
    assert permutation_shapley(game, n_permutations=2).dtype == torch.float32


# ---------------------------------------------------------------- the axioms


@settings(max_examples=25, deadline=None)
@given(n_players=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_axioms_hold_for_exact_values_of_any_game(n_players, seed):
    game = random_table(n_players, seed)
    phi = exact_shapley(game)
    gaps = axiom_gaps(game, phi)
    assert gaps["efficiency_gap"] < 1e-10
    # linearity: the values of a + 2.5 b are those of a plus 2.5 those of b
    other = random_table(n_players, seed + 1)
    torch.testing.assert_close(exact_shapley(game + 2.5 * other), phi + 2.5 * exact_shapley(other),
                               rtol=0, atol=1e-10)


def test_symmetry_and_dummy_on_a_voting_game():
    # players 1 and 2 carry the same votes; player 4 has no vote at all (a dummy)
    game = voting_game([4, 3, 3, 1, 0], quota=7)
    phi = exact_shapley(game)
    gaps = axiom_gaps(game, phi)
    assert (1, 2) in gaps["symmetric_pairs"] and 4 in gaps["dummies"]
    assert gaps["symmetry_gap"] < 1e-12 and gaps["dummy_gap"] < 1e-12 and gaps["efficiency_gap"] < 1e-12
    assert abs(float(phi[4])) < 1e-12


def test_axiom_gaps_detect_values_that_break_the_axioms():
    game = voting_game([4, 3, 3, 1, 0], quota=7)
    wrong = torch.tensor([0.5, 0.3, 0.1, 0.0, 0.1], dtype=torch.float64)
    gaps = axiom_gaps(game, wrong)
    assert gaps["symmetry_gap"] == pytest.approx(0.2)
    assert gaps["dummy_gap"] == pytest.approx(0.1)
    assert gaps["efficiency_gap"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- estimators: shared facts

ESTIMATORS = {
    "kernel_shap": lambda game, seed: kernel_shap(game, budget=4 * game.n_players + 6, seed=seed),
    "kernel_shap_plain": lambda game, seed: kernel_shap(game, budget=4 * game.n_players + 6, seed=seed, surrogate=False),
    "kernel_shap_min": lambda game, seed: kernel_shap(game, budget=kernel_shap_min_budget(game.n_players), seed=seed),
    "permutation_shapley": lambda game, seed: permutation_shapley(game, n_permutations=3, seed=seed),
    "exact_shapley": lambda game, seed: exact_shapley(game),
}


@pytest.mark.parametrize("method", ESTIMATORS)
@settings(max_examples=10, deadline=None)
@given(n_players=st.integers(1, 9), seed=st.integers(0, 1000))
def test_efficiency_is_exact_for_every_estimator(method, n_players, seed):
    game = random_table(n_players, seed)
    phi = ESTIMATORS[method](game, seed)
    assert phi.shape == (n_players,)
    assert abs(float(phi.sum()) - (worth_of(game, range(n_players)) - worth_of(game, []))) < 1e-9


@pytest.mark.parametrize("method", [m for m in ESTIMATORS if m != "exact_shapley"])
def test_same_seed_same_values_other_seed_other_values(method):
    game = nonlinear_game(9)
    first, again, other = (ESTIMATORS[method](game, seed) for seed in (4, 4, 5))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("method", [m for m in ESTIMATORS if m != "exact_shapley"])
def test_estimators_are_exact_for_additive_games(method):
    game = additive_game([1.0, -2.0, 0.5, 3.0, 0.0, 1.5, -0.5], constant=2.0)
    torch.testing.assert_close(ESTIMATORS[method](game, 0), exact_shapley(game), rtol=0, atol=1e-10)


def test_paired_kernel_shap_is_exact_for_pairwise_interactions():
    """Pairs cancel the even part of a game, and pairwise interactions leave only a linear odd part."""
    g = torch.Generator().manual_seed(0)
    a, B = torch.randn(9, generator=g), torch.randn(9, 9, generator=g)
    game = pairwise_game(a, B)
    for budget in (20, 30, 64):
        torch.testing.assert_close(kernel_shap(game, budget=budget, seed=1, surrogate=False),
                                   pairwise_values(a, B), rtol=0, atol=1e-9)


# ---------------------------------------------------------------- KernelSHAP


@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("surrogate", [True, False])
def test_kernel_shap_is_exact_at_full_budget(name, surrogate):
    game = GAMES[name]()
    exact = exact_shapley(game)
    for budget in (2**game.n_players, 2**game.n_players + 7):
        torch.testing.assert_close(kernel_shap(game, budget=budget, seed=2, surrogate=surrogate), exact,
                                   rtol=0, atol=1e-10)


@pytest.mark.parametrize("surrogate", [True, False])
def test_kernel_shap_error_falls_as_the_budget_grows(surrogate):
    game = nonlinear_game(10, seed=1)
    exact = exact_shapley(game)
    budgets = [20, 40, 80, 160, 320]
    medians = [np.median([relative_error(kernel_shap(game, budget=b, seed=s, surrogate=surrogate), exact)
                          for s in range(10)]) for b in budgets]
    assert all(later < earlier for earlier, later in zip(medians, medians[1:])), medians
    assert medians[-1] < medians[0] / 20


def test_kernel_shap_surrogate_helps_on_a_network_like_game():
    game = nonlinear_game(10, seed=1)
    exact = exact_shapley(game)
    errors = {s: np.median([relative_error(kernel_shap(game, budget=320, seed=k, surrogate=s), exact)
                            for k in range(12)]) for s in (True, False)}
    assert errors[True] < errors[False] / 2


class Recorder:
    """A game that remembers every coalition it was asked about."""

    def __init__(self, game):
        self.game, self.n_players, self.rows = game, game.n_players, []

    def __call__(self, Z):
        self.rows.append(Z.clone())
        return self.game(Z)

    @property
    def coalitions(self):
        return torch.cat(self.rows)


@pytest.mark.parametrize("n_players,budget", [(10, 20), (10, 21), (10, 40), (10, 320), (9, 100), (12, 1000), (6, 64), (6, 100)])
def test_kernel_shap_evaluates_distinct_complementary_pairs_within_budget(n_players, budget):
    game = Recorder(nonlinear_game(n_players))
    kernel_shap(game, budget=budget, seed=7)
    Z = game.coalitions
    expected = 2 + 2 * ((min(budget, 2**n_players) - 2) // 2)
    assert Z.shape == (expected, n_players)
    codes = (Z.long() << torch.arange(n_players)).sum(dim=1)
    assert torch.unique(codes).numel() == expected  # no coalition twice
    assert set(codes.tolist()) == {2**n_players - 1 - c for c in codes.tolist()}  # closed under complement
    if _uses_design(n_players, (expected - 2) // 2):
        return  # an optimised design: its sizes are chosen by the search
    sizes = Z.sum(dim=1)
    # leverage scores are equal across sizes: the per-size counts differ only where a size is exhausted
    counts = torch.bincount(sizes, minlength=n_players + 1)[1:n_players]
    full = torch.tensor([math.comb(n_players, s) for s in range(1, n_players)])
    open_counts = counts[counts < full]
    if open_counts.numel():
        assert int(open_counts.max() - open_counts.min()) <= 2 * max(1, n_players % 2 == 0)
        assert bool((counts[counts == full] <= open_counts.max()).all())


def test_kernel_shap_small_sizes_are_enumerated_whole_once_the_budget_allows():
    game = Recorder(nonlinear_game(10))
    kernel_shap(game, budget=200, seed=0)
    counts = torch.bincount(game.coalitions.sum(dim=1), minlength=11)
    assert counts[1] == 10 and counts[9] == 10  # all singletons and all their complements


def test_kernel_shap_deals_players_evenly_within_a_size():
    game = Recorder(nonlinear_game(10))
    kernel_shap(game, budget=400, seed=3)
    Z = game.coalitions
    for size in (3, 4):
        appearances = Z[Z.sum(dim=1) == size].sum(dim=0)
        assert int(appearances.max() - appearances.min()) <= 2, (size, appearances.tolist())


def test_optimised_design_is_deterministic_distinct_and_determines_phi():
    first = optimised_design(10, 19)
    assert not first.flags.writeable
    optimised_design.cache_clear()
    again = optimised_design(10, 19)
    assert first is not again and np.array_equal(first, again)  # searched again, same result
    assert len(set(map(bytes, np.packbits(again, axis=1)))) == 19  # distinct pairs
    sizes = again.sum(axis=1)
    assert bool(((sizes >= 1) & (2 * sizes <= 10)).all())  # folded: each pair by its smaller coalition
    signs = 2.0 * again - 1.0
    assert np.linalg.matrix_rank(signs - signs.mean(axis=1, keepdims=True)) == 9


def chain_design(n_players, order):
    """The prefixes of one order (the antithetic permutation estimate's coalitions), folded."""
    rows = np.zeros((n_players - 1, n_players), dtype=bool)
    for length in range(1, n_players):
        rows[length - 1, order[:length]] = True
    size = rows.sum(axis=1)
    flip = (2 * size > n_players) | ((2 * size == n_players) & ~rows[:, 0])
    rows[flip] = ~rows[flip]
    return rows


def test_optimised_designs_leak_less_than_the_permutation_chain():
    chain = cubic_leakage(chain_design(10, np.arange(10)))
    assert chain == pytest.approx(32 / 3)  # the same for every order, by symmetry
    assert cubic_leakage(optimised_design(10, 9)) < 0.6 * chain
    assert cubic_leakage(optimised_design(10, 19)) < cubic_leakage(_paired_design(10, 19, np.random.default_rng(0)))


def test_cubic_leakage_is_kernel_shaps_error_on_three_player_interactions():
    """The criterion, checked end to end: kernel_shap on every game u_T(S) = prod s_i over T, |T| = 3."""
    n_players, budget = 7, 16
    reps = kernel_shap_coalitions(n_players, budget=budget, seed=2)[2:9]
    errors = []
    for triple in itertools.combinations(range(n_players), 3):
        game = FunctionGame(lambda Z, t=list(triple): (2.0 * Z[:, t].double() - 1).prod(dim=1), n_players)
        exact = torch.zeros(n_players, dtype=torch.float64)
        exact[list(triple)] = 2 / 3
        torch.testing.assert_close(exact_shapley(game), exact)
        errors.append(float(((kernel_shap(game, budget=budget, seed=2, surrogate=False) - exact) ** 2).sum()))
    assert cubic_leakage(reps) == pytest.approx(np.mean(errors), rel=1e-9)


def test_two_whole_sizes_with_the_right_weights_leak_nothing():
    """All pairs of sizes 2 and 3 (of 10 players), weighted 0.6 : 0.4, get every third-order game right."""
    rows = [np.isin(np.arange(10), c) for k in (2, 3) for c in itertools.combinations(range(10), k)]
    weights = np.array([0.6 / 45] * 45 + [0.4 / 120] * 120)
    assert cubic_leakage(np.array(rows), weights) < 1e-20
    assert cubic_leakage(np.array(rows)) > 0.1  # equal weights do not


def test_design_helpers_reject_bad_input():
    with pytest.raises(ValueError, match=r"reps must be a bool array \[n_pairs, M\] with M >= 3; got int64 \(4, 5\)"):
        cubic_leakage(np.ones((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="weights must be 4 positive numbers"):
        cubic_leakage(np.eye(5, dtype=bool)[:4], np.array([1.0, 1.0, 0.0, 1.0]))
    assert cubic_leakage(np.eye(5, dtype=bool)[:2]) == float("inf")  # two pairs cannot determine 4 directions
    with pytest.raises(ValueError, match="n_pairs must be an int >= 9; got 8"):
        optimised_design(10, 8)
    with pytest.raises(ValueError, match=r"n_pairs must be at most 2\*\*\(M-2\) = 8 for M = 5; got 9"):
        optimised_design(5, 9)


def test_kernel_shap_relabels_the_optimised_design_by_seed():
    designs = []
    for seed in (0, 1):
        reps = kernel_shap_coalitions(10, budget=40, seed=seed)[2:21].numpy()
        assert cubic_leakage(reps) == pytest.approx(cubic_leakage(optimised_design(10, 19)))
        designs.append(set(map(bytes, np.packbits(reps, axis=1))))
    assert designs[0] != designs[1]


def test_kernel_shap_at_half_budget_beats_shap_at_full_budget_on_the_diabetes_mlp():
    """The benchmark's goal, at test scale: 3 rows x 10 seeds, medians of the relative error."""
    seed_everything(0)
    data = load_tabular("diabetes")
    model = MLP(10, 1, hidden=(32, 32))
    train_regressor(model, data.X_train, data.y_train, epochs=20, seed=0, weight_decay=1e-2, progress=False)
    baseline = data.X_train.mean(dim=0)
    ours, theirs = {40: [], 80: []}, {40: [], 80: []}
    for row in range(3):
        x = data.X_test[row]
        game = CoalitionGame(model, x, tabular_segments(x), baseline=baseline)
        exact = exact_shapley(game)
        for m in (40, 80):
            for seed in range(10):
                ours[m].append(relative_error(kernel_shap(game, budget=m // 2, seed=seed), exact))
                theirs[m].append(relative_error(shap_kernel_explainer(game, budget=m, seed=seed), exact))
    for m in (40, 80):
        assert np.median(ours[m]) < np.median(theirs[m]), (m, np.median(ours[m]), np.median(theirs[m]))


def test_sampled_kernel_shap_at_the_minimum_budget_is_the_antithetic_permutation_estimate():
    """With M - 1 pairs from one order's prefixes, the regression interpolates marginal differences."""
    game = nonlinear_game(8)
    phi = kernel_shap(game, budget=16, seed=0, design=False)
    recorder = Recorder(game)
    kernel_shap(recorder, budget=16, seed=0, design=False)
    Z = recorder.coalitions[2:]
    prefixes = [row for row in torch.cat([Z, ~Z]) if row.any()]
    chain = sorted(prefixes, key=lambda row: int(row.sum()))
    nested = [chain[0]]
    for row in chain[1:]:
        if bool((row >= nested[-1]).all()) and int(row.sum()) == int(nested[-1].sum()) + 1:
            nested.append(row)
    assert len(nested) == 7  # one order: prefixes of every size 1..7
    order = [int(torch.nonzero(nested[0])[0])] + [int(torch.nonzero(b & ~a)[0]) for a, b in zip(nested, nested[1:])]
    order += [p for p in range(8) if p not in order]
    orders = [order, order[::-1]]
    expected = np.zeros(8)
    for o in orders:
        for j, p in enumerate(o):
            expected[p] += (worth_of(game, o[: j + 1]) - worth_of(game, o[:j])) / 2
    torch.testing.assert_close(phi, torch.tensor(expected), rtol=0, atol=1e-10)


def test_design_and_surrogate_flags_are_checked_and_design_false_samples():
    game = nonlinear_game(10)
    for name in ("design", "surrogate"):
        with pytest.raises(TypeError, match=f"{name} must be True or False; got 'yes'"):
            kernel_shap(game, budget=40, **{name: "yes"})
    with pytest.raises(TypeError, match="design must be True or False"):
        kernel_shap_coalitions(10, budget=40, design=1)
    sampled = kernel_shap_coalitions(10, budget=40, seed=0, design=False)
    designed = kernel_shap_coalitions(10, budget=40, seed=0)
    assert sampled.shape == designed.shape and not torch.equal(sampled, designed)
    # leverage sampling shares the pairs across sizes 1..9; the design is free to concentrate them
    assert torch.bincount(sampled.sum(dim=1), minlength=11)[1:10].min() >= 3


def test_kernel_shap_counts_its_evaluations_on_a_coalition_game():
    seed_everything(0)
    model = MLP(6, 1, hidden=(8,))
    game = CoalitionGame(model, torch.randn(6), tabular_segments(6), baseline=0.0)
    kernel_shap(game, budget=31, seed=0)
    assert game.n_evaluations == 30
    game.reset_counts()
    permutation_shapley(game, n_permutations=4, seed=0)
    assert game.n_evaluations == 4 * 5 + 2
    game.reset_counts()
    exact_shapley(game)
    assert game.n_evaluations == 64


# ---------------------------------------------------------------- permutation sampling


def test_permutation_shapley_antithetic_pairs_are_exact_for_pairwise_games():
    g = torch.Generator().manual_seed(1)
    a, B = torch.randn(7, generator=g), torch.randn(7, 7, generator=g)
    game = pairwise_game(a, B)
    for n in (2, 4, 10):
        torch.testing.assert_close(permutation_shapley(game, n_permutations=n, seed=3), pairwise_values(a, B),
                                   rtol=0, atol=1e-10)
    # one order alone gives each interaction to whoever of the two comes last: not exact
    assert not torch.allclose(permutation_shapley(game, n_permutations=1, seed=3), pairwise_values(a, B))


def test_permutation_shapley_error_falls_with_more_permutations():
    game = nonlinear_game(9, seed=2)
    exact = exact_shapley(game)
    medians = [np.median([relative_error(permutation_shapley(game, n_permutations=n, seed=s), exact)
                          for s in range(12)]) for n in (2, 8, 32, 128)]
    assert all(later < earlier for earlier, later in zip(medians, medians[1:])), medians


def test_all_orders_recover_exact_values_in_expectation():
    """The mean over many antithetic pairs converges to the exact values."""
    game = voting_game([4, 3, 2, 1, 1], quota=6)
    torch.testing.assert_close(permutation_shapley(game, n_permutations=4000, seed=0), exact_shapley(game),
                               rtol=0, atol=0.02)


# ---------------------------------------------------------------- the shap package


def test_agrees_with_shap_kernel_explainer_at_full_budget_on_games():
    for name in ("pairwise", "voting", "random_table", "nonlinear"):
        game = GAMES[name]()
        theirs = shap_kernel_explainer(game, budget=2**game.n_players)
        torch.testing.assert_close(kernel_shap(game, budget=2**game.n_players).double(), theirs, rtol=0, atol=1e-5)


def test_agrees_with_shap_kernel_explainer_on_an_mlp_at_full_budget():
    """shap on the model itself (its own masking against a background row) equals our exact values."""
    import shap

    seed_everything(0)
    model = MLP(7, 1, hidden=(16, 16))
    x, background = torch.randn(7), torch.randn(7)
    game = CoalitionGame(model, x, tabular_segments(7), baseline=background)
    ours = exact_shapley(game).double()

    def predict(rows):
        with torch.no_grad():
            return model(torch.as_tensor(rows, dtype=torch.float32))[:, 0].double().numpy()

    explainer = shap.KernelExplainer(predict, background[None].double().numpy())
    theirs = explainer.shap_values(x[None].double().numpy(), nsamples=2**7 - 2, l1_reg=False, silent=True)
    torch.testing.assert_close(ours, torch.as_tensor(np.asarray(theirs).reshape(7)), rtol=0, atol=1e-5)
    torch.testing.assert_close(kernel_shap(game, budget=2**7).double(), ours, rtol=0, atol=1e-6)


def test_shap_kernel_explainer_wrapper_respects_seed_and_global_state():
    game = nonlinear_game(8)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = shap_kernel_explainer(game, budget=40, seed=1)
    assert np.array_equal(np.random.get_state()[1], before)
    assert torch.equal(a, shap_kernel_explainer(game, budget=40, seed=1))


# ---------------------------------------------------------------- helpers: tables, errors, weights


def test_table_game_by_names_and_arithmetic():
    worths = {(): 0, ("A",): 10, ("B",): 20, ("C",): 30, ("A", "B"): 40, ("A", "C"): 50, ("B", "C"): 60,
              ("A", "B", "C"): 90}
    game = TableGame(worths, players=["A", "B", "C"])
    assert game.n_players == 3 and game.worth(["A", "C"]) == 50.0
    assert game(torch.tensor([[True, True, False], [False, False, False]])).tolist() == [40.0, 0.0]
    doubled = 2 * game
    assert doubled.worth(["A", "B", "C"]) == 180.0 and (game + game).worth(["B"]) == 40.0
    phi = exact_shapley(game)
    assert float(phi.sum()) == pytest.approx(90.0)
    assert game.n_evaluations > 0


def test_relative_error_and_budget_errors():
    assert relative_error(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])) == 1.0
    game = nonlinear_game(6)
    exact = exact_shapley(game)
    errors = budget_errors(game, exact, {"kernel": lambda g, b, s: kernel_shap(g, budget=b, seed=s)}, [12, 64], range(3))
    assert errors["kernel"].shape == (2, 3)
    assert np.all(errors["kernel"][1] < 1e-20)  # 64 = 2**6: exact


def test_shapley_weights_sum_to_one_over_coalitions_without_i():
    M = 7
    total = sum(math.comb(M - 1, s) * shapley_weight(M, s) for s in range(M))
    assert total == pytest.approx(1.0)


def test_kernel_shap_min_budget():
    assert [kernel_shap_min_budget(m) for m in (1, 2, 3, 10)] == [2, 4, 6, 20]
    game = additive_game([2.0])
    assert kernel_shap(game, budget=2).tolist() == [2.0]
    assert permutation_shapley(game, n_permutations=1).tolist() == [2.0]


# ---------------------------------------------------------------- errors a user can meet


def test_exact_shapley_refuses_too_many_players():
    game = FunctionGame(lambda Z: Z.double().sum(dim=1), EXACT_MAX_PLAYERS + 1)
    with pytest.raises(ValueError, match=r"M = 21 players.*kernel_shap.*permutation_shapley"):
        exact_shapley(game)
    with pytest.raises(ValueError, match="refuses M > 20"):
        axiom_gaps(game, torch.zeros(21))


def test_kernel_shap_budget_too_small_says_the_minimum():
    game = nonlinear_game(10)
    with pytest.raises(ValueError, match=r"budget=19 is too small.*M = 10.*budget >= 20"):
        kernel_shap(game, budget=19)
    with pytest.raises(TypeError, match="budget must be an int"):
        kernel_shap(game, budget=40.0)
    with pytest.raises(ValueError, match="budget must be an int >= 4"):
        shap_kernel_explainer(game, budget=3)


@pytest.mark.parametrize("call", [
    lambda g: kernel_shap(g, budget=40, seed=-1),
    lambda g: permutation_shapley(g, n_permutations=2, seed=2**32),
])
def test_bad_seed(call):
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        call(nonlinear_game(5))


@pytest.mark.parametrize("call", [
    lambda g: kernel_shap(g, budget=40, seed="0"),
    lambda g: permutation_shapley(g, n_permutations=2, seed=1.5),
])
def test_seed_of_the_wrong_type(call):
    with pytest.raises(TypeError, match="seed must be an int"):
        call(nonlinear_game(5))


def test_permutation_count_must_be_positive():
    with pytest.raises(ValueError, match="n_permutations must be an int >= 1; got 0"):
        permutation_shapley(nonlinear_game(5), n_permutations=0)
    with pytest.raises(TypeError, match="n_permutations must be an int"):
        permutation_shapley(nonlinear_game(5), n_permutations=2.0)


@pytest.mark.parametrize("method", ["exact", "kernel", "permutation"])
def test_not_a_game(method):
    call = {"exact": lambda g: exact_shapley(g), "kernel": lambda g: kernel_shap(g, budget=20),
            "permutation": lambda g: permutation_shapley(g, n_permutations=2)}[method]
    with pytest.raises(TypeError, match="game must be callable"):
        call(torch.zeros(3))
    with pytest.raises(TypeError, match="game must have an attribute n_players"):
        call(lambda Z: Z.sum(dim=1))


@pytest.mark.parametrize("method", ["exact", "kernel", "permutation"])
def test_game_returning_the_wrong_shape_or_nan(method):
    call = {"exact": lambda g: exact_shapley(g), "kernel": lambda g: kernel_shap(g, budget=12),
            "permutation": lambda g: permutation_shapley(g, n_permutations=2)}[method]

    class Wrong:
        n_players = 4

        def __init__(self, out):
            self.out = out

        def __call__(self, Z):
            return self.out(Z)

    with pytest.raises(ValueError, match=r"one finite value per coalition, shape \(\d+,\); got shape \(\d+, 1\)"):
        call(Wrong(lambda Z: Z.double().sum(dim=1, keepdim=True)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        call(Wrong(lambda Z: torch.full((Z.shape[0],), float("nan"))))


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        exact_shapley(nonlinear_game(4), batch_size=0)


def test_table_game_errors():
    with pytest.raises(ValueError, match="2 are missing"):
        TableGame({(): 0, (0,): 1}, n_players=2)
    with pytest.raises(ValueError, match="unknown player 'D'"):
        TableGame({(): 0, ("D",): 1}, players=["A"])
    with pytest.raises(TypeError, match="must be a finite number"):
        TableGame({(): 0, ("A",): "one"}, players=["A"])
    with pytest.raises(ValueError, match="give n_players or players"):
        TableGame({(): 0})
    with pytest.raises(TypeError, match="worths must be a dict"):
        TableGame([0, 1], n_players=1)
    game = TableGame({(): 0, (0,): 1}, n_players=1)
    with pytest.raises(TypeError, match="can be multiplied by a number"):
        game * "2"
    with pytest.raises(TypeError, match="can be added to a TableGame with 1 players"):
        game + 1.0


def test_measurement_errors():
    with pytest.raises(ValueError, match="all zero"):
        relative_error(torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError, match="same length"):
        relative_error(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match=r"size must be in \[0, n_players - 1\] = \[0, 2\]; got 3"):
        shapley_weight(3, 3)
    with pytest.raises(ValueError, match=r"values must hold one number per player, \[3\]; got 2"):
        axiom_gaps(voting_game([1, 1, 1], 2), torch.zeros(2))


# ---------------------------------------------------------------- teaching helpers


def test_marginal_contributions_average_to_the_shapley_value():
    game = random_table(4, seed=11)
    orders, gains = marginal_contributions(game)
    assert len(orders) == 24 and gains.shape == (24, 4)
    # every order's gains telescope to v(N) - v(empty)
    torch.testing.assert_close(gains.sum(dim=1), torch.full((24,), float(game.table[-1] - game.table[0]),
                                                               dtype=torch.float64))
    torch.testing.assert_close(gains.mean(dim=0), exact_shapley(game), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="refuses M > 8; got M = 9"):
        marginal_contributions(random_table(9, seed=0))


def test_weighted_voting_game_is_the_shapley_shubik_index():
    game = weighted_voting_game([4, 2, 2, 1, 0], quota=5)
    torch.testing.assert_close(exact_shapley(game), shapley_by_orders(voting_game([4, 2, 2, 1, 0], 5)),
                               rtol=0, atol=1e-12)
    assert weighted_voting_game([1, 1], 2, players=["a", "b"]).players == ["a", "b"]
    with pytest.raises(ValueError, match="weights must give 1 to 20 players; got 0"):
        weighted_voting_game([], 1)


def test_kernel_shap_coalitions_are_what_kernel_shap_evaluates():
    game = Recorder(nonlinear_game(9))
    kernel_shap(game, budget=57, seed=5)
    assert torch.equal(game.coalitions, kernel_shap_coalitions(9, budget=57, seed=5))
    Z = kernel_shap_coalitions(9, budget=57, seed=5)
    n = (Z.shape[0] - 2) // 2
    assert torch.equal(Z[2 + n:], ~Z[2:2 + n]) and not Z[0].any() and Z[1].all()
    with pytest.raises(ValueError, match="budget >= 18"):
        kernel_shap_coalitions(9, budget=17)


def test_budget_methods_share_one_calling_convention_and_respect_the_budget():
    game = Recorder(nonlinear_game(8))
    for name, method in budget_methods().items():
        game.rows.clear()
        phi = method(game, 40, 3)
        assert phi.shape == (8,), name
        assert game.coalitions.shape[0] <= 40, name
    assert "shap KernelExplainer" not in budget_methods(shap_package=False)


def test_show_budget_errors_draws_median_lines(tmp_path):
    from helpers.plotting import show_budget_errors

    errors = {"a": np.array([[1e-2, 2e-2, 3e-2], [1e-3, 2e-3, 3e-3]]), "b": np.ones((2, 3))}
    ax = show_budget_errors([40, 80], errors, title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_lines()[0].get_ydata().tolist() == [2e-2, 2e-3]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match=r"errors\['a'\] must be \[len\(budgets\), n_seeds\] = \[3, n\]"):
        show_budget_errors([1, 2, 3], {"a": np.ones((2, 3))})


def test_exercise_checkers_of_notebook_05(capsys):
    from helpers.exercises import check_glove_game, check_shapley_kernel

    assert check_glove_game(None) is False and "not attempted" in capsys.readouterr().out
    assert check_glove_game([2 / 3, 1 / 6, 1 / 6]) is True
    assert check_glove_game([0.5, 0.25, 0.25]) is False and "orders" in capsys.readouterr().out
    assert check_glove_game([0.5, 0.3, 0.3]) is False and "sum to 1.100" in capsys.readouterr().out
    assert check_glove_game([1, 2]) is False and "three numbers" in capsys.readouterr().out
    assert check_shapley_kernel(None) is False
    assert check_shapley_kernel(lambda M, s: (M - 1) / (math.comb(M, s) * s * (M - s))) is True
    assert check_shapley_kernel(lambda M, s: (M - 1) / (s * (M - s))) is False
    assert "divide by the binom" in capsys.readouterr().out
    assert check_shapley_kernel(lambda M, s: 1 / 0) is False and "ZeroDivisionError" in capsys.readouterr().out


# --------------------------------------------------------------------------- exact SHAP without dummies; shap's TreeExplainer

PATCHES = grid_segments((28, 28), 7)


def test_exact_shap_of_the_tree_model_equals_treeshap(forest, mnist_test):
    for i in (0, 3):
        x = mnist_test[0][i]
        game = CoalitionGame(forest, x, PATCHES, baseline=0.0)
        exact = exact_shapley(game)
        theirs = shap_tree_explainer(forest, x, torch.zeros_like(x), game.target)
        assert float((exact.double() - theirs).abs().max()) < 1e-6
        assert abs(float(exact.sum()) - (game.full_score - float(game(torch.zeros(1, 16, dtype=torch.bool))[0]))) < 1e-9
    # another class and a grey baseline: the same game on both sides
    x = mnist_test[0][1]
    game = CoalitionGame(forest, x, PATCHES, baseline=0.3, target=4)
    theirs = shap_tree_explainer(forest, x, torch.full_like(x, 0.3), 4)
    assert float((exact_shapley(game).double() - theirs).abs().max()) < 1e-6


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


def test_tree_explainer_and_skipping_dummies_refuse_the_wrong_objects():
    with pytest.raises(TypeError, match="forest must be a PatchForest"):
        shap_tree_explainer("forest", torch.rand(1, 28, 28), torch.zeros(1, 28, 28), 0)
    with pytest.raises(TypeError, match="game must have an attribute n_players"):
        exact_shapley_skipping_dummies(lambda Z: Z)


def test_shap_tree_explainer_reads_the_class_layout_when_classes_and_features_are_as_many(mnist_test):
    from helpers.data import load_mnist
    from helpers.models import fit_patch_forest

    bands = (torch.arange(28)[:, None] * 10 // 28).expand(28, 28).contiguous()  # 10 horizontal bands: 10 features
    X, y = load_mnist("train")
    forest = fit_patch_forest(X[:600], y[:600], bands, n_trees=5, max_depth=4, seed=0)  # 10 classes
    x = mnist_test[0][0]
    for target in (0, 3, 9):
        game = CoalitionGame(forest, x, bands, baseline=0.0, target=target)
        theirs = shap_tree_explainer(forest, x, torch.zeros_like(x), target)
        assert float((exact_shapley(game).double() - theirs).abs().max()) < 1e-6
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="target must be an int"):
            shap_tree_explainer(forest, x, torch.zeros_like(x), bad)
