"""Tests of helpers.kernelshap: the coalitions KernelSHAP chooses and its fit, apart from the game theory.

helpers.shapley.kernel_shap is "choose coalitions, evaluate the game, fit"; these
tests tie the pieces to it, check that helpers.shapley still exports every name
that moved, and check the machinery at sizes far beyond the notebooks' (issue 13,
item 1: 2,000 players).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import helpers.kernelshap as kernelshap
import helpers.shapley as shapley
from helpers.features import FunctionGame
from helpers.kernelshap import (
    LARGE_PLAYERS,
    kernel_shap_coalitions,
    kernel_shap_regression,
    leverage_pair_allocation,
    paired_coalitions,
    pairs_for_budget,
)
from helpers.shapley import exact_shapley, kernel_shap


def additive_game(weights, constant=0.0):
    weights = torch.as_tensor(weights, dtype=torch.float64)
    return FunctionGame(lambda Z: Z.double() @ weights + constant, len(weights))


def cubic_game(n_players, seed=0):
    """An additive part, pairwise and three-way interactions: nothing is exact but the full enumeration."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n_players, generator=g, dtype=torch.float64)
    B = torch.randn(n_players, n_players, generator=g, dtype=torch.float64)
    C = torch.randn(n_players, generator=g, dtype=torch.float64)

    def worth(Z):
        z = Z.double()
        return z @ a + ((z @ B) * z).sum(dim=1) / n_players + torch.sin(z @ C)

    return FunctionGame(worth, n_players)


@pytest.mark.parametrize("n_players, budget, design", [(6, 12, True), (6, 40, True), (10, 30, False), (12, 400, True)])
def test_kernel_shap_is_choose_evaluate_fit(n_players, budget, design):
    game = cubic_game(n_players, seed=n_players)
    for surrogate in (True, False):
        n_pairs = pairs_for_budget(n_players, budget)
        Z, relabelling = paired_coalitions(n_players, n_pairs, 3, design)
        assert torch.equal(Z, kernel_shap_coalitions(n_players, budget=budget, seed=3, design=design))
        assert (relabelling is not None) == (design and kernelshap._uses_design(n_players, n_pairs))
        phi = kernel_shap_regression(Z, game(Z).numpy(), relabelling, surrogate=surrogate)
        expected = kernel_shap(game, budget=budget, seed=3, design=design, surrogate=surrogate)
        assert np.array_equal(phi, expected.numpy())
        full, empty = game(torch.ones(1, n_players, dtype=torch.bool)), game(torch.zeros(1, n_players, dtype=torch.bool))
        assert phi.sum() == pytest.approx(float(full - empty), abs=1e-10)


def test_the_regression_at_full_enumeration_is_exact():
    game = cubic_game(7, seed=1)
    Z, relabelling = paired_coalitions(7, 2**6 - 1, 0, False)
    assert Z.shape == (2**7, 7) and relabelling is None
    phi = kernel_shap_regression(Z, game(Z).numpy(), None)
    assert np.allclose(phi, exact_shapley(game).numpy(), atol=1e-12)


def test_the_allocation_gives_every_size_the_same_count_and_never_turns_a_binomial_into_a_float():
    groups, pairs = leverage_pair_allocation(8, 40)  # 7 sizes, 80 coalitions: sizes 1 and 7 have only 8
    counts = {}
    for (k, _, per_pair), n in zip(groups, pairs):
        counts[k] = counts.get(k, 0) + n * (2 if per_pair == 0.5 else 1)
    assert sum(pairs) == 40 and counts[1] == 8 and counts[4] == 2 * pairs[-1]
    # C(2000, 1000) has 600 digits: as a float it overflows (issue 13, item 1)
    with pytest.raises(OverflowError):
        float(math.comb(2000, 1000))
    groups, pairs = leverage_pair_allocation(2000, 3000)
    assert len(groups) == 1000 and sum(pairs) == 3000 and max(pairs) - min(pairs) <= 2


@pytest.mark.parametrize("n_players", [2000])
def test_kernel_shap_on_thousands_of_players_is_exact_on_an_additive_game(n_players):
    """Paired sampling is exact on an additive game (a pair's odd part is linear): every budget recovers it."""
    weights = torch.randn(n_players, dtype=torch.float64, generator=torch.Generator().manual_seed(n_players))
    game = additive_game(weights, constant=3.0)
    phi = kernel_shap(game, budget=2 * n_players, seed=1, surrogate=False)
    assert phi.shape == (n_players,) and game.n_evaluations == 2 * n_players
    assert torch.allclose(phi, weights, atol=1e-8)
    assert float(phi.sum()) == pytest.approx(float(weights.sum()), abs=1e-8)


def test_the_large_game_basis_is_orthonormal_and_sums_to_zero():
    basis = kernelshap._orthonormal_complement_of_ones(LARGE_PLAYERS + 3)
    assert basis.shape == (LARGE_PLAYERS + 3, LARGE_PLAYERS + 2) and not basis.flags.writeable
    assert np.allclose(basis.T @ basis, np.eye(LARGE_PLAYERS + 2), atol=1e-12)
    assert np.allclose(basis.sum(axis=0), 0.0, atol=1e-12)


def test_the_normal_equations_of_large_games_agree_with_the_svd(monkeypatch):
    n_players = LARGE_PLAYERS + 4
    game = cubic_game(n_players, seed=2)
    for surrogate in (False, True):
        fast = kernel_shap(game, budget=3 * n_players, seed=0, surrogate=surrogate)
        with monkeypatch.context() as patch:
            patch.setattr(kernelshap, "LARGE_PLAYERS", 10**6)  # the SVD path, as for small games
            reference = kernel_shap(game, budget=3 * n_players, seed=0, surrogate=surrogate)
        assert torch.allclose(fast, reference, rtol=1e-7, atol=1e-9)


def test_an_ill_conditioned_large_design_falls_back_to_the_svd():
    design = np.ones((6, 4))
    design[:, 1:] = np.eye(6)[:, :3]
    assert kernelshap._cholesky_solver(design) is not None
    design[:, 3] = design[:, 2]  # two equal columns: singular
    assert kernelshap._cholesky_solver(design) is None
