"""Issue 13 on the coalition side: careless or hostile calls end in a right answer or a clear error.

Items 1 (thousands of players) and the dtype/shape items of the game (2, 9, 11)
are tested in tests/test_kernelshap.py and tests/test_features.py; here: TableGame
checks its coalitions like every game (item 5), shap's logger is left as it was
found (item 13b), and the coalition methods give an input's result whatever else
is explained beside it (item 13a: none of them takes a batch of inputs, each
explains one game, so the guarantee is that a game's result does not depend on
what other games were explained before it).
"""

from __future__ import annotations

import logging

import pytest
import torch

from helpers.features import CoalitionGame, FunctionGame, occlusion, tabular_segments
from helpers.lime import lime
from helpers.models import MLP
from helpers.seeding import seed_everything
from helpers.shapley import TableGame, exact_shapley, kernel_shap, permutation_shapley, shap_kernel_explainer

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
