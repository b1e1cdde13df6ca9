r"""Shapley values of a coalition game: exact, KernelSHAP and permutation sampling.

A game :math:`v` gives a worth to every coalition :math:`S \subseteq N` of
:math:`M` players. The Shapley value of player :math:`i` (Shapley, 1953) is its
average marginal contribution over all orders in which the players can arrive,

.. math::

    \phi_i = \sum_{S \subseteq N \setminus \{i\}}
             \frac{|S|!\,(M - |S| - 1)!}{M!}\,\big(v(S \cup \{i\}) - v(S)\big),

the one attribution that is efficient (:math:`\sum_i \phi_i = v(N) - v(\emptyset)`),
symmetric, zero for a dummy player and linear in the game. Every estimator here
uses nothing but ``game(Z)`` (a bool tensor ``[n, M]`` of coalitions in, a float
tensor ``[n]`` of worths out) and ``game.n_players``, so it explains any game:
a model on patches of a digit, on the columns of a table
(:class:`helpers.features.CoalitionGame`), or a table of numbers
(:class:`TableGame`).

- :func:`exact_shapley` -- all :math:`2^M` coalitions (M up to 20).
- :func:`kernel_shap` -- KernelSHAP as a constrained weighted regression, with
  paired coalitions, an optimised design at small budgets and leverage-score
  sampling of coalition sizes without replacement at larger ones, efficiency
  exact and a cubic surrogate (regression adjustment). Its machinery (which
  coalitions, :func:`~helpers.kernelshap.kernel_shap_coalitions`,
  :func:`~helpers.kernelshap.optimised_design`,
  :func:`~helpers.kernelshap.cubic_leakage`, and the fit,
  :func:`~helpers.kernelshap.kernel_shap_regression`) lives in
  :mod:`helpers.kernelshap`.
- :func:`permutation_shapley` -- Monte Carlo over orders, with antithetic
  (reversed) permutations.
- :func:`shap_kernel_explainer` -- the ``shap`` package's ``KernelExplainer``
  run on the same game (the reference the course compares against).
- :func:`tree_shap`, :func:`tree_base_value` -- TreeSHAP from scratch for scikit-learn's trees,
  forests and gradient boosting: exact interventional values over a background, or the
  path-dependent ones; :func:`tree_shap_steps`, :func:`prediction_steps` count its cost and
  that of the methods that evaluate the model, in tree-node steps.
- :class:`TableGame`, :func:`weighted_voting_game` -- games given by a table of
  worths (the by-hand games); :func:`marginal_contributions` -- the definition,
  order by order, for a few players.
- :func:`axiom_gaps`, :func:`relative_error`, :func:`budget_errors`,
  :func:`budget_methods` -- the checks and measurements the notebook prints.

Taught in ``notebooks/05_shap.ipynb``; TreeSHAP in ``notebooks/09_fast_shap.ipynb``.
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral, Real
from typing import Callable

import numpy as np
import torch

from .checks import check_bool, check_int, check_seed
from .cost import CountedGame
from .features import FunctionGame, check_coalitions, check_game, game_values
from .kernelshap import kernel_shap_regression, paired_coalitions, pairs_for_budget
from .models import PatchForest

__all__ = [
    "exact_shapley_skipping_dummies",
    "exact_shapley",
    "kernel_shap",
    "budget_methods",
    "permutation_shapley",
    "shap_kernel_explainer",
    "shap_tree_explainer",
    "tree_shap",
    "tree_base_value",
    "tree_shap_steps",
    "prediction_steps",
    "shapley_weight",
    "TableGame",
    "weighted_voting_game",
    "marginal_contributions",
    "axiom_gaps",
    "relative_error",
    "budget_errors",
    "EXACT_MAX_PLAYERS",
]

#: :func:`exact_shapley` refuses games with more players than this (2**20 coalitions).
EXACT_MAX_PLAYERS = 20
_DEFAULT_BATCH = 4096
_CPU = torch.device("cpu")


# --------------------------------------------------------------------------- checks and evaluation


def _evaluate(game, Z: torch.Tensor, batch_size: int) -> tuple[np.ndarray, torch.dtype]:
    """The worths of coalitions ``Z`` (bool [n, M], CPU) as float64, in chunks; and the game's dtype."""
    parts, dtype = [], None
    for start in range(0, Z.shape[0], batch_size):
        chunk = Z[start:start + batch_size] if Z.shape[0] > batch_size else Z
        values, dtype = game_values(game, chunk, return_dtype=True)
        parts.append(values.numpy())
    values = np.concatenate(parts) if len(parts) != 1 else parts[0]
    return values, (dtype or torch.get_default_dtype())


def _result(phi: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(phi, dtype=np.float64)).to(dtype)


def shapley_weight(n_players: int, size: int) -> float:
    r"""The Shapley weight :math:`|S|!\,(M-|S|-1)!/M!` of a coalition of ``size`` players without ``i``.

    It equals :math:`1 / \big(M \binom{M-1}{|S|}\big)`: pick a size uniformly, then
    a coalition of that size uniformly.

    Examples
    --------
    >>> shapley_weight(3, 1)  # 1! 1! / 3!
    0.16666666666666666
    """
    n_players = check_int("n_players", n_players, 1)
    size = check_int("size", size, 0)
    if size > n_players - 1:
        raise ValueError(f"size must be in [0, n_players - 1] = [0, {n_players - 1}]; got {size}")
    return 1.0 / (n_players * math.comb(n_players - 1, size))


# --------------------------------------------------------------------------- exact


def _coalitions_from_codes(codes: torch.Tensor, n_players: int) -> torch.Tensor:
    """Bit ``i`` of each integer code says whether player ``i`` is in the coalition."""
    return ((codes[:, None] >> torch.arange(n_players, dtype=torch.int64)) & 1).bool()


def exact_shapley(game, *, batch_size: int = _DEFAULT_BATCH) -> torch.Tensor:
    r"""Exact Shapley values by enumerating all :math:`2^M` coalitions.

    The formula is rearranged as one sum over coalitions: a coalition :math:`S`
    of size :math:`s` adds :math:`v(S)\,w(s-1)` to every player in it and
    subtracts :math:`v(S)\,w(s)` from every player outside it, with
    :math:`w(t) = t!\,(M-t-1)!/M!`. Coalitions are built and evaluated in
    batches and their contributions accumulated in float64, so memory stays at
    one batch whatever :math:`M`.

    Shapley, "A value for n-person games", 1953, Contributions to the Theory of
    Games II; Lundberg and Lee, 2017, arXiv 1705.07874 (the game of a model).

    Parameters
    ----------
    game : callable with ``n_players``
        ``game(Z)`` for a bool tensor ``Z [n, M]`` returns ``[n]`` worths.
    batch_size : int, default 4096
        Coalitions per call of ``game``. The result does not depend on it.

    Returns
    -------
    torch.Tensor, [M]
        One value per player, in the dtype of the game's worths (on the CPU).

    Raises
    ------
    TypeError
        For an object that is not a game, or a non-int ``batch_size``.
    ValueError
        For :math:`M > 20` (use :func:`kernel_shap` or :func:`permutation_shapley`),
        a ``batch_size`` below 1, or a game that returns the wrong shape or
        non-finite worths.

    Examples
    --------
    >>> game = TableGame({(): 0, (0,): 1, (1,): 1, (0, 1): 4}, n_players=2)
    >>> exact_shapley(game).tolist()
    [2.0, 2.0]
    """
    n_players = check_game(game)
    batch_size = check_int("batch_size", batch_size, 1)
    if n_players > EXACT_MAX_PLAYERS:
        raise ValueError(
            f"exact_shapley enumerates all 2**M coalitions and refuses M > {EXACT_MAX_PLAYERS}; this game has "
            f"M = {n_players} players (2**{n_players} = {2 ** n_players:,} coalitions): estimate the values with "
            f"kernel_shap(game, budget=...) or permutation_shapley(game, n_permutations=...)"
        )
    # w(t) = t! (M - t - 1)! / M! for t = 0..M-1; in_weight[s] = w(s - 1), out_weight[s] = w(s)
    w = np.array([shapley_weight(n_players, t) for t in range(n_players)])
    in_weight = np.concatenate([[0.0], w])
    out_weight = np.concatenate([w, [0.0]])
    phi = np.zeros(n_players)
    dtype = None
    for start in range(0, 2**n_players, batch_size):
        codes = torch.arange(start, min(start + batch_size, 2**n_players), dtype=torch.int64)
        Z = _coalitions_from_codes(codes, n_players)
        values, dtype = _evaluate(game, Z, batch_size)
        sizes = Z.sum(dim=1).numpy()
        Zf = Z.numpy().astype(np.float64)
        phi += Zf.T @ (values * in_weight[sizes]) - (1.0 - Zf).T @ (values * out_weight[sizes])
    return _result(phi, dtype)


def exact_shapley_skipping_dummies(game) -> torch.Tensor:
    r"""Exact Shapley values of a :class:`~helpers.features.CoalitionGame`, enumerating only its non-dummy players.

    A dummy player :math:`d` (its segment already equals the baseline, ``game.dummy_players``)
    changes no worth: :math:`v(S \cup \{d\}) = v(S)`. Its Shapley value is 0, and the other
    players' values are those of the game restricted to the non-dummy players (each
    marginal contribution is unchanged, and the Shapley weights of the restricted game sum
    the full game's over the dummies' presence). So :math:`2^{M'}` coalitions instead of
    :math:`2^M`: about 1,024 instead of 65,536 for a digit on a 4 x 4 grid with a zero
    baseline. Equal to :func:`exact_shapley` (tested). Notebooks 06 and 07 use it.

    Parameters
    ----------
    game : CoalitionGame (anything with ``dummy_players``, ``n_players`` and ``game(Z)``)

    Returns
    -------
    torch.Tensor, [M]

    Examples
    --------
    >>> phi = exact_shapley_skipping_dummies(CoalitionGame(model, X_test[0], grid_segments((28, 28), 7)))  # doctest: +SKIP
    """
    n_players = check_game(game)
    dummies = getattr(game, "dummy_players", None)
    if not isinstance(dummies, torch.Tensor) or dummies.shape != (n_players,):
        raise TypeError("game must be a CoalitionGame (it needs dummy_players, a bool tensor [M])")
    players = (~dummies).nonzero().reshape(-1)
    if players.numel() == 0:
        return torch.zeros(n_players, dtype=torch.float64)

    def restricted(Z: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(Z.shape[0], n_players, dtype=torch.bool)
        full[:, players] = Z.cpu()
        return game(full)

    values = exact_shapley(FunctionGame(restricted, int(players.numel())))
    phi = torch.zeros(n_players, dtype=values.dtype)
    phi[players] = values
    return phi


def kernel_shap(game, *, budget: int, seed: int = 0, surrogate: bool = True, design: bool = True,
                batch_size: int = _DEFAULT_BATCH) -> torch.Tensor:
    r"""KernelSHAP: Shapley values as a weighted linear regression, from ``budget`` coalitions.

    Lundberg and Lee (2017) showed that the Shapley values solve

    .. math::

        \min_{\phi}\ \sum_{\emptyset \ne S \subsetneq N} \pi(S)\,
            \big(v(S) - v(\emptyset) - \textstyle\sum_{i \in S} \phi_i\big)^2
        \quad \text{s.t.} \quad \sum_i \phi_i = v(N) - v(\emptyset),
        \qquad \pi(S) = \frac{M - 1}{\binom{M}{|S|}\,|S|\,(M - |S|)}.

    Here the sum is estimated from some of the coalitions and the constrained
    problem is solved exactly:

    - **Efficiency by projection.** Write :math:`\phi = \Delta\mathbf{1}/M + U\beta`
      with :math:`\Delta = v(N) - v(\emptyset)` and :math:`U` an orthonormal basis of
      the vectors summing to zero; :math:`\beta` is an unconstrained weighted least
      squares solution, and :math:`\sum_i \phi_i = \Delta` holds to rounding at every
      budget. This is the Lagrangian solution
      :math:`\phi = A^{-1}\big(b - \mathbf{1}\,\frac{\mathbf{1}^\top A^{-1} b - \Delta}{\mathbf{1}^\top A^{-1}\mathbf{1}}\big)`
      of Covert and Lee (2021), :math:`A = \sum \pi(S) z z^\top`,
      :math:`b = \sum \pi(S) z\,(v(S) - v(\emptyset))`, written without inverses;
      it is not the large-weight approximation.
    - **Paired coalitions.** Every coalition comes with its complement. With
      :math:`s = 2z - 1`, a pair contributes only the odd part
      :math:`v(S) - v(N \setminus S)`, which a game's pairwise interactions do
      not reach: they cancel exactly (Covert and Lee 2021). What is left of the
      error comes from odd interactions of order three and more.
    - **Small budgets: an optimised design.** Up to
      :data:`~helpers.kernelshap.DESIGN_PAIRS_PER_PLAYER` pairs per player (for 3 to
      :data:`~helpers.kernelshap.DESIGN_MAX_PLAYERS` players, and at most half of all pairs) the
      pairs are not drawn at random but taken from :func:`~helpers.kernelshap.optimised_design`: the
      ``n_pairs`` pairs whose equally weighted regression lets the least of a
      third-order interaction into :math:`\phi` (:func:`~helpers.kernelshap.cubic_leakage`), found
      once per ``(M, n_pairs)`` by a local search. Each seed relabels the players
      by a random order, so no player is favoured.
    - **Larger budgets: leverage-score sampling of sizes, without replacement.**
      The leverage scores of the regression are :math:`1/\binom{M}{|S|}` (Musco
      and Witter 2024): every coalition size carries the same weight. The budget
      is shared equally between sizes :math:`1 \dots M-1`; a size with fewer
      coalitions than its share is enumerated whole (sizes 1 and :math:`M-1`
      first) and its surplus goes to the others. Within a size the coalitions
      are distinct and uniform; a drawn coalition of size :math:`s`, one of
      :math:`n_s` out of :math:`\binom{M}{s}`, gets the weight
      :math:`\pi(S)\binom{M}{s}/n_s = (M-1)/(s(M-s)n_s)`.
    - **Regression adjustment with a cubic surrogate** (``surrogate=True``, after
      Witter, Liu and Musco 2025). The regression is widened with products
      :math:`s_i s_j s_k` of triples of players under a ridge penalty chosen by
      leave-one-out error (no penalty column, i.e. plain KernelSHAP, is one of
      the choices). On an optimised design the columns are all
      :math:`\binom{M}{3}` triples, fitted in the dual (an ``n x n`` kernel), and
      since the design is fixed every candidate fit is a linear map computed
      once: a call costs a few matrix-vector products. On sampled coalitions the
      triples are those of the most important players (at most as many triples
      as pairs, and at most :data:`~helpers.kernelshap.MAX_TRIPLES`). Either way the surrogate's
      Shapley values are known in closed form (a triple's coefficient goes a
      third to each of its players), and the KernelSHAP correction on its
      residual is zero because the linear part is fitted jointly and unpenalised.
    - **Exact at full budget.** When the budget covers all :math:`2^M`
      coalitions every size is enumerated, the weights are :math:`\pi(S)`, and the
      result is the exact Shapley value (with or without the surrogate).

    Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions",
    2017, arXiv 1705.07874; Covert and Lee, "Improving KernelSHAP: Practical
    Shapley Value Estimation via Linear Regression", 2021, arXiv 2012.01536;
    Musco and Witter, "Provably Accurate Shapley Value Estimation via Leverage
    Score Sampling", 2024, arXiv 2410.01917; Witter, Liu and Musco,
    "Regression-adjusted Monte Carlo Estimators for Shapley Values and
    Probabilistic Values", 2025, arXiv 2506.11849.

    Parameters
    ----------
    game : callable with ``n_players``
        ``game(Z)`` for a bool tensor ``Z [n, M]`` returns ``[n]`` worths.
    budget : int
        Coalitions evaluated, the empty and the full one included; at least
        :func:`~helpers.kernelshap.kernel_shap_min_budget` (``2M``). Coalitions come in pairs, so
        ``2 + 2 * ((budget - 2) // 2)`` are evaluated (one fewer for an odd
        budget), and never more than the :math:`2^M` there are.
    seed : int, default 0
        The same seed gives the same coalitions and the same values.
    surrogate : bool, default True
        Add the cubic surrogate (regression adjustment); False gives plain
        paired KernelSHAP.
    design : bool, default True
        Take the coalitions from an optimised design where the budget is small
        enough for one; False samples them by leverage scores at every budget
        (to see what the design buys).
    batch_size : int, default 4096
        Coalitions per call of ``game``.

    Returns
    -------
    torch.Tensor, [M]
        One value per player, in the dtype of the game's worths (on the CPU);
        they sum to :math:`v(N) - v(\emptyset)`.

    Raises
    ------
    TypeError
        For an object that is not a game, or a non-int ``budget``/``seed``/``batch_size``.
    ValueError
        For a ``budget`` below the minimum (the message says it), a seed outside
        ``[0, 2**32)``, or a game that returns the wrong shape or non-finite worths.

    Notes
    -----
    The choices above were made by measurement (``benchmarks/bench_shap.py``,
    10 features): at budgets 20 to 320 the optimised designs with the all-triples
    surrogate have a median relative error 5-11x below shap's
    ``KernelExplainer`` and reach its error with half the evaluations. Within a
    size of the sampled regime the coalitions are dealt so that every player
    appears equally often (a per-size shift of the worths then cannot leak into
    :math:`\phi`); this keeps every coalition of a size equally likely, so the
    weights above stay right. At budgets near the minimum sampled rows may,
    rarely, not determine every direction of :math:`\phi`; the minimum-norm
    solution is returned then. The first call for a new ``(M, n_pairs)`` in the
    design regime runs the search (about 0.1-2 s); later calls reuse it.

    Examples
    --------
    >>> game = TableGame({(): 0, (0,): 1, (1,): 1, (0, 1): 4}, n_players=2)
    >>> kernel_shap(game, budget=4).tolist()
    [2.0, 2.0]
    """
    n_players = check_game(game)
    batch_size = check_int("batch_size", batch_size, 1)
    n_pairs = pairs_for_budget(n_players, budget)
    # choose the coalitions, evaluate the game, fit (the first and the last: helpers.kernelshap)
    Z, relabelling = paired_coalitions(n_players, n_pairs, check_seed(seed), check_bool("design", design))
    surrogate = check_bool("surrogate", surrogate)
    values, dtype = _evaluate(game, Z, batch_size)
    return _result(kernel_shap_regression(Z, values, relabelling, surrogate=surrogate), dtype)


# --------------------------------------------------------------------------- permutations


def permutation_shapley(game, *, n_permutations: int, seed: int = 0,
                        batch_size: int = _DEFAULT_BATCH) -> torch.Tensor:
    r"""Shapley values as the mean marginal contribution over random orders of the players.

    Along a permutation :math:`\pi`, player :math:`\pi_j` arrives after
    :math:`\pi_1 \dots \pi_{j-1}` and adds
    :math:`v(\{\pi_1..\pi_j\}) - v(\{\pi_1..\pi_{j-1}\})`. Averaged over all
    :math:`M!` orders this is the Shapley value; here over ``n_permutations``
    drawn ones (Štrumbelj and Kononenko). Permutations come in antithetic pairs, a
    random order and its reverse (Mitchell et al. 2022): what a player gains by
    arriving early in one it meets arriving late in the other, which cancels much
    of the noise. The contributions along one permutation telescope to
    :math:`v(N) - v(\emptyset)`, so the estimate is efficient exactly, and for an
    additive game every order gives the exact values.

    Štrumbelj and Kononenko, "Explaining prediction models and individual
    predictions with feature contributions", 2014, Knowledge and Information
    Systems 41(3); Mitchell, Cooper, Frank and Holmes, "Sampling Permutations for
    Shapley Value Estimation", 2022, arXiv 2104.12199.

    Parameters
    ----------
    game : callable with ``n_players``
    n_permutations : int
        Orders walked, reversed ones included (an odd count leaves the last
        unpaired). Cost: ``n_permutations * (M - 1) + 2`` coalitions.
    seed : int, default 0
    batch_size : int, default 4096

    Returns
    -------
    torch.Tensor, [M]
        In the dtype of the game's worths (on the CPU).

    Raises
    ------
    TypeError
        For an object that is not a game, or a non-int ``n_permutations``/``seed``.
    ValueError
        For ``n_permutations`` below 1, a seed outside ``[0, 2**32)``, or a game
        that returns the wrong shape or non-finite worths.

    Examples
    --------
    >>> game = TableGame({(): 0, (0,): 1, (1,): 1, (0, 1): 4}, n_players=2)
    >>> permutation_shapley(game, n_permutations=2).tolist()
    [2.0, 2.0]
    """
    n_players = check_game(game)
    n_permutations = check_int("n_permutations", n_permutations, 1)
    seed = check_seed(seed)
    batch_size = check_int("batch_size", batch_size, 1)
    rng = np.random.default_rng(seed)
    forward = np.argsort(rng.random(((n_permutations + 1) // 2, n_players)), axis=1)
    orders = np.empty((2 * forward.shape[0], n_players), dtype=np.int64)
    orders[0::2], orders[1::2] = forward, forward[:, ::-1]
    orders = orders[:n_permutations]
    position = np.argsort(orders, axis=1)  # position[p, i]: when player i arrives in order p
    # prefix t (t = 1..M-1 players present) of every order, as coalitions [n_permutations * (M - 1), M]
    steps = np.arange(1, n_players)
    prefixes = position[:, None, :] < steps[None, :, None]
    ends = np.zeros((2, n_players), dtype=bool)
    ends[1] = True
    Z = torch.from_numpy(np.concatenate([ends, prefixes.reshape(-1, n_players)]))
    values, dtype = _evaluate(game, Z, batch_size)
    chain = np.empty((n_permutations, n_players + 1))
    chain[:, 0], chain[:, -1] = values[0], values[1]
    chain[:, 1:-1] = values[2:].reshape(n_permutations, n_players - 1)
    gains = np.diff(chain, axis=1)  # gains[p, j]: what orders[p, j] adds
    phi = np.zeros(n_players)
    np.add.at(phi, orders.reshape(-1), gains.reshape(-1))
    return _result(phi / n_permutations, dtype)


# --------------------------------------------------------------------------- shap's KernelExplainer on a game


def shap_kernel_explainer(game, *, budget: int, seed: int = 0, l1_reg=False) -> torch.Tensor:
    """The ``shap`` package's ``KernelExplainer`` on the same game, with the same budget.

    ``KernelExplainer`` explains a function of feature rows against a background.
    With the all-zeros row as background and the all-ones row as the input, the
    row it builds for a coalition *is* the coalition, so wrapping ``game`` as
    ``f(rows) = game(rows > 0.5)`` makes shap play exactly our game. shap
    evaluates the empty and the full coalition apart from its ``nsamples``, so
    ``nsamples = budget - 2`` makes the count of evaluated coalitions equal.
    shap draws from NumPy's global generator, which is seeded with ``seed`` and
    restored afterwards; the ``shap`` logger is set to WARNING during the call
    (shap logs every call at INFO) and gets its own level back after. shap's warning that its regression is singular (budgets
    below about ``2M``) is silenced; it then solves by least squares.

    Lundberg and Lee, 2017, arXiv 1705.07874 (shap's ``KernelExplainer``).

    Parameters
    ----------
    game : callable with ``n_players``
    budget : int
        Coalitions evaluated, the empty and the full one included (at least 4).
    seed : int, default 0
    l1_reg : bool or str, default False
        Passed to ``shap_values``; False is plain KernelSHAP (no feature selection).

    Returns
    -------
    torch.Tensor, [M]
        float64, on the CPU.

    Raises
    ------
    TypeError, ValueError
        As :func:`kernel_shap`, for a budget below 4.

    Examples
    --------
    >>> game = TableGame({(): 0, (0,): 1, (1,): 1, (0, 1): 4}, n_players=2)
    >>> shap_kernel_explainer(game, budget=4).tolist()  # doctest: +SKIP
    [2.0, 2.0]
    """
    import logging
    import warnings

    import shap

    n_players = check_game(game)
    budget = check_int("budget", budget, 4)
    seed = check_seed(seed)

    def model(rows):
        Z = torch.from_numpy(np.asarray(rows) > 0.5)
        values, _ = _evaluate(game, Z, _DEFAULT_BATCH)
        return values

    logger = logging.getLogger("shap")
    level = logger.level  # shap logs every call at INFO; quiet it for this call only
    logger.setLevel(logging.WARNING)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            # below about 2M coalitions shap's regression is singular; it warns and uses least squares
            warnings.filterwarnings("ignore", message="Linear regression equation is singular")
            explainer = shap.KernelExplainer(model, np.zeros((1, n_players)))
            values = explainer.shap_values(np.ones((1, n_players)), nsamples=budget - 2, l1_reg=l1_reg, silent=True)
    finally:
        np.random.set_state(state)
        logger.setLevel(level)
    return torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(n_players))


# --------------------------------------------------------------------------- games given by tables


class TableGame(CountedGame):
    """A game given by its worth on every coalition: the games worked by hand.

    Parameters
    ----------
    worths : dict
        Maps every coalition (a tuple, set or frozenset of player indices
        ``0..M-1``, or of names when ``players`` is given) to its worth; all
        :math:`2^M` coalitions, the empty one included.
    n_players : int, optional
        M; default ``len(players)``.
    players : sequence of str, optional
        Names of the players, in order.

    Attributes
    ----------
    n_players : int
    players : list of str
    n_evaluations, n_calls : int
        Coalitions evaluated and calls made so far (:class:`~helpers.cost.CountedGame`).

    Raises
    ------
    TypeError, ValueError
        For a coalition naming an unknown player, a missing coalition, a worth
        that is not a finite number, or neither ``n_players`` nor ``players``.
        ``game(Z)`` checks ``Z`` as every game does
        (:func:`~helpers.features.check_coalitions`: bool or 0/1 integers, ``[n, M]``).

    Examples
    --------
    >>> game = TableGame({(): 0, ("A",): 10, ("B",): 20, ("A", "B"): 40}, players=["A", "B"])
    >>> game(torch.tensor([[True, False]])).tolist()
    [10.0]
    """

    def __init__(self, worths: dict, n_players: int | None = None, *, players=None):
        if not isinstance(worths, dict):
            raise TypeError(f"worths must be a dict from coalitions to numbers; got {type(worths).__name__}")
        if players is not None:
            players = [str(p) for p in players]
            if n_players is not None and n_players != len(players):
                raise ValueError(f"n_players={n_players} does not match the {len(players)} names in players")
            n_players = len(players)
        if n_players is None:
            raise ValueError("give n_players or players (their names)")
        self.n_players = check_int("n_players", n_players, 1)
        self.players = players or [str(i) for i in range(self.n_players)]
        index = {name: i for i, name in enumerate(self.players)}
        table = np.full(2**self.n_players, np.nan)
        for coalition, worth in worths.items():
            members = (coalition,) if isinstance(coalition, (str, Integral)) else tuple(coalition)
            code = 0
            for member in members:
                if isinstance(member, str) and member in index:
                    code |= 1 << index[member]
                elif isinstance(member, (Integral, np.integer)) and not isinstance(member, bool) \
                        and 0 <= int(member) < self.n_players:
                    code |= 1 << int(member)
                else:
                    raise ValueError(f"coalition {coalition!r} names an unknown player {member!r}; "
                                     f"players are {self.players} (or indices 0..{self.n_players - 1})")
            if isinstance(worth, bool) or not isinstance(worth, Real) or not math.isfinite(float(worth)):
                raise TypeError(f"the worth of {coalition!r} must be a finite number; got {worth!r}")
            table[code] = float(worth)
        missing = np.flatnonzero(np.isnan(table))
        if missing.size:
            example = [self.players[i] for i in range(self.n_players) if missing[0] >> i & 1]
            raise ValueError(f"worths must give every one of the 2**{self.n_players} coalitions; "
                             f"{missing.size} are missing, e.g. {tuple(example)}")
        self.table = torch.as_tensor(table, dtype=torch.float64)
        self.reset_counts()

    @classmethod
    def _from_table(cls, table: torch.Tensor, players) -> "TableGame":
        game = cls.__new__(cls)
        game.n_players, game.players = len(players), list(players)
        game.table = table
        game.reset_counts()
        return game

    def __call__(self, Z) -> torch.Tensor:
        Z = check_coalitions(Z, self.n_players, "cpu")
        codes = (Z.to(torch.int64) << torch.arange(self.n_players)).sum(dim=1)
        self._count(Z.shape[0])
        return self.table[codes]

    def __add__(self, other: "TableGame") -> "TableGame":
        if not isinstance(other, TableGame) or other.n_players != self.n_players:
            raise TypeError(f"a TableGame can be added to a TableGame with {self.n_players} players; "
                            f"got {type(other).__name__}")
        return TableGame._from_table(self.table + other.table, self.players)

    def __mul__(self, factor) -> "TableGame":
        if isinstance(factor, bool) or not isinstance(factor, Real):
            raise TypeError(f"a TableGame can be multiplied by a number; got {type(factor).__name__}")
        return TableGame._from_table(self.table * float(factor), self.players)

    __rmul__ = __mul__

    def worth(self, coalition) -> float:
        """The worth of one coalition, given as player names or indices."""
        Z = torch.zeros(1, self.n_players, dtype=torch.bool)
        for member in coalition:
            Z[0, self.players.index(member) if isinstance(member, str) else int(member)] = True
        return float(self.table[(Z[0].to(torch.int64) << torch.arange(self.n_players)).sum()])

    def __repr__(self) -> str:
        return f"TableGame(players={self.players})"


def weighted_voting_game(weights, quota: float, *, players=None) -> TableGame:
    """A weighted voting game: a coalition wins (worth 1) when its votes reach ``quota``, else 0.

    Its Shapley values are the Shapley-Shubik power index (Shapley and Shubik,
    1954): the share of the orders of arrival in which a player's vote turns a
    losing coalition into a winning one.

    Parameters
    ----------
    weights : sequence of numbers
        Votes of each player.
    quota : float
        Votes needed to win.
    players : sequence of str, optional
        Names; default "0", "1", ...

    Returns
    -------
    TableGame

    Examples
    --------
    >>> exact_shapley(weighted_voting_game([50, 49, 1], 51)).tolist()  # doctest: +SKIP
    [0.666..., 0.166..., 0.166...]
    """
    weights = [float(w) for w in weights]
    n_players = len(weights)
    if not 1 <= n_players <= EXACT_MAX_PLAYERS:
        raise ValueError(f"weights must give 1 to {EXACT_MAX_PLAYERS} players; got {n_players}")
    names = [str(p) for p in players] if players is not None else [str(i) for i in range(n_players)]
    codes = torch.arange(2**n_players, dtype=torch.int64)
    votes = _coalitions_from_codes(codes, n_players).double() @ torch.tensor(weights, dtype=torch.float64)
    return TableGame._from_table((votes >= float(quota)).double(), names)


def marginal_contributions(game) -> tuple[list, torch.Tensor]:
    r"""Every order of arrival and what each player adds in it: the definition, for a few players.

    In order :math:`\pi`, player :math:`i` adds :math:`v(P_i \cup \{i\}) - v(P_i)`, where
    :math:`P_i` are the players before it. The Shapley value is the mean over
    all :math:`M!` orders. Refuses more than 8 players (40,320 orders).

    Parameters
    ----------
    game : callable with ``n_players``

    Returns
    -------
    orders : list of tuple of int
        All :math:`M!` orders, in lexicographic order.
    contributions : torch.Tensor, float64, [M!, M]
        ``contributions[k, i]``: what player ``i`` adds in order ``k``.

    Examples
    --------
    >>> orders, gains = marginal_contributions(weighted_voting_game([2, 1], 2))
    >>> orders, gains.tolist()
    ([(0, 1), (1, 0)], [[1.0, 0.0], [1.0, 0.0]])
    """
    n_players = check_game(game)
    if n_players > 8:
        raise ValueError(f"marginal_contributions lists all M! orders and refuses M > 8; got M = {n_players}")
    codes = torch.arange(2**n_players, dtype=torch.int64)
    worth, _ = _evaluate(game, _coalitions_from_codes(codes, n_players), _DEFAULT_BATCH)
    orders = list(itertools.permutations(range(n_players)))
    contributions = np.zeros((len(orders), n_players))
    for k, order in enumerate(orders):
        code = 0
        for player in order:
            contributions[k, player] = worth[code | (1 << player)] - worth[code]
            code |= 1 << player
    return orders, torch.as_tensor(contributions)


# --------------------------------------------------------------------------- checks and measurements


def axiom_gaps(game, values, *, tol: float = 1e-9) -> dict:
    r"""How far ``values`` are from satisfying efficiency, symmetry and dummy on ``game``.

    Enumerates all :math:`2^M` coalitions (M up to 20) to find the players that
    the game itself treats alike:

    - efficiency: :math:`|\sum_i \phi_i - (v(N) - v(\emptyset))|`;
    - symmetry: the pairs :math:`i, j` with :math:`v(S \cup i) = v(S \cup j)` for every
      :math:`S` without both, and the largest :math:`|\phi_i - \phi_j|` among them;
    - dummy: the players with :math:`v(S \cup i) = v(S)` for every :math:`S`, and the
      largest :math:`|\phi_i|` among them.

    (Linearity is a statement about two games; check it as
    ``exact_shapley(a + b)`` against ``exact_shapley(a) + exact_shapley(b)``.)

    Parameters
    ----------
    game : callable with ``n_players``
    values : tensor [M]
        The attribution to check.
    tol : float, default 1e-9
        Worths closer than this count as equal.

    Returns
    -------
    dict
        ``efficiency_gap`` (float), ``symmetric_pairs`` (list of (i, j)),
        ``symmetry_gap`` (float, 0 when there are no pairs), ``dummies``
        (list of int), ``dummy_gap`` (float, 0 when there are none).

    Examples
    --------
    >>> game = TableGame({(): 0, (0,): 1, (1,): 1, (0, 1): 4}, n_players=2)
    >>> axiom_gaps(game, exact_shapley(game))["symmetric_pairs"]
    [(0, 1)]
    """
    n_players = check_game(game)
    if n_players > EXACT_MAX_PLAYERS:
        raise ValueError(f"axiom_gaps enumerates all coalitions and refuses M > {EXACT_MAX_PLAYERS}; got M = {n_players}")
    values = torch.as_tensor(values, dtype=torch.float64).reshape(-1).numpy()
    if values.shape[0] != n_players:
        raise ValueError(f"values must hold one number per player, [{n_players}]; got {values.shape[0]}")
    codes = torch.arange(2**n_players, dtype=torch.int64)
    worth, _ = _evaluate(game, _coalitions_from_codes(codes, n_players), _DEFAULT_BATCH)
    codes = codes.numpy()
    efficiency_gap = abs(values.sum() - (worth[-1] - worth[0]))
    dummies = []
    for i in range(n_players):
        without = codes[(codes >> i & 1) == 0]
        if np.all(np.abs(worth[without | (1 << i)] - worth[without]) <= tol):
            dummies.append(i)
    pairs = []
    for i in range(n_players):
        for j in range(i + 1, n_players):
            without = codes[((codes >> i & 1) == 0) & ((codes >> j & 1) == 0)]
            if np.all(np.abs(worth[without | (1 << i)] - worth[without | (1 << j)]) <= tol):
                pairs.append((i, j))
    return {
        "efficiency_gap": float(efficiency_gap),
        "symmetric_pairs": pairs,
        "symmetry_gap": float(max((abs(values[i] - values[j]) for i, j in pairs), default=0.0)),
        "dummies": dummies,
        "dummy_gap": float(max((abs(values[i]) for i in dummies), default=0.0)),
    }


def relative_error(estimate, exact) -> float:
    r"""The squared relative error :math:`\|\hat\phi - \phi\|^2 / \|\phi\|^2` of an estimate.

    Examples
    --------
    >>> relative_error(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0]))
    1.0
    """
    estimate = torch.as_tensor(estimate, dtype=torch.float64).reshape(-1)
    exact = torch.as_tensor(exact, dtype=torch.float64).reshape(-1)
    if estimate.shape != exact.shape:
        raise ValueError(f"estimate and exact must have the same length; got {estimate.shape[0]} and {exact.shape[0]}")
    norm = float((exact**2).sum())
    if norm == 0.0:
        raise ValueError("the exact values are all zero: a relative error is undefined")
    return float(((estimate - exact) ** 2).sum()) / norm


def budget_methods(*, shap_package: bool = True) -> dict[str, Callable]:
    """The estimators compared in notebook 05 and ``benchmarks/bench_shap.py``, on one calling convention.

    Each is ``method(game, budget, seed) -> tensor [M]`` and evaluates at most
    ``budget`` coalitions: :func:`kernel_shap` (as it is, without the surrogate,
    and with leverage-score sampling at every budget instead of the optimised designs),
    :func:`permutation_shapley` with ``(budget - 2) // (M - 1)`` antithetic
    permutations, and, with ``shap_package``, shap's ``KernelExplainer``
    (:func:`shap_kernel_explainer`).

    Examples
    --------
    >>> errors = budget_errors(game, exact_shapley(game), budget_methods(), [40, 80], range(20))  # doctest: +SKIP
    """
    methods = {
        "kernel_shap": lambda game, budget, seed: kernel_shap(game, budget=budget, seed=seed),
        "kernel_shap, no surrogate": lambda game, budget, seed: kernel_shap(game, budget=budget, seed=seed,
                                                                             surrogate=False),
        "kernel_shap, sampled (no design)": lambda game, budget, seed: kernel_shap(game, budget=budget, seed=seed,
                                                                                   design=False),
        "permutation_shapley": lambda game, budget, seed: permutation_shapley(
            game, n_permutations=max(1, (budget - 2) // max(1, game.n_players - 1)), seed=seed),
    }
    if shap_package:
        methods["shap KernelExplainer"] = lambda game, budget, seed: shap_kernel_explainer(game, budget=budget, seed=seed)
    return methods


def budget_errors(game, exact, methods: dict[str, Callable], budgets, seeds) -> dict[str, np.ndarray]:
    """Relative errors of estimators against exact values, for every budget and seed.

    Parameters
    ----------
    game : callable with ``n_players``
    exact : tensor [M]
        The exact Shapley values (e.g. from :func:`exact_shapley`).
    methods : dict of name -> callable
        ``method(game, budget, seed) -> tensor [M]``, e.g.
        ``lambda game, budget, seed: kernel_shap(game, budget=budget, seed=seed)``.
    budgets : sequence of int
        Coalitions evaluated per estimate.
    seeds : sequence of int

    Returns
    -------
    dict of name -> numpy array [len(budgets), len(seeds)]
        :func:`relative_error` of each estimate.

    Examples
    --------
    >>> errors = budget_errors(game, exact_shapley(game), {"kernel": run}, [40, 80], range(20))  # doctest: +SKIP
    """
    budgets, seeds = list(budgets), list(seeds)
    out = {}
    for name, method in methods.items():
        errors = np.empty((len(budgets), len(seeds)))
        for b, budget in enumerate(budgets):
            for s, seed in enumerate(seeds):
                errors[b, s] = relative_error(method(game, budget, seed), exact)
        out[name] = errors
    return out


def shap_tree_explainer(forest, x: torch.Tensor, baseline: torch.Tensor, target: int) -> torch.Tensor:
    """shap's ``TreeExplainer`` on a :class:`PatchForest`: interventional, one background row.

    The background row is the patch means of ``baseline``, so the values answer the
    same game as :class:`~helpers.features.CoalitionGame` with that baseline: an absent
    patch takes the baseline's patch mean. Lundberg et al., "From local explanations to
    global understanding with explainable AI for trees", 2020, Nature Machine Intelligence
    2 (interventional TreeSHAP).

    Parameters
    ----------
    forest : PatchForest
    x : torch.Tensor [C, H, W], one image
    baseline : torch.Tensor, shaped like ``x``
    target : int, the class explained

    Returns
    -------
    torch.Tensor, float64, [M]
    """
    import shap

    if not isinstance(forest, PatchForest):
        raise TypeError(f"forest must be a PatchForest; got {type(forest).__name__}")
    n_classes = len(forest.classifier.classes_)
    target = check_int("target", target, 0, n_classes - 1)  # -1 is not "the last class"
    features = forest.features(x[None])
    background = forest.features(torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)[None])
    explainer = shap.TreeExplainer(forest.classifier, data=background, feature_perturbation="interventional",
                                   model_output="probability")
    raw = explainer.shap_values(features, check_additivity=False)
    # the layout by type, never guessed from shapes (10 classes and 10 features look alike):
    # older shap returns a list over classes of [n, M], shap >= 0.45 one array [n, M, classes]
    values = raw[target][0] if isinstance(raw, list) else np.asarray(raw)[0, :, target]
    return torch.from_numpy(np.array(values, dtype=np.float64))


# --------------------------------------------------------------------------- TreeSHAP
#
# A tree is a sum over its leaves, f(z) = sum_l w_l 1[z reaches l], and the game of each leaf is a product
# over the distinct features on its path: the row built from x on S and from the background elsewhere
# reaches the leaf iff every feature j on the path takes a value inside the leaf's interval (lo_j, hi_j]
# (several splits on one feature intersect into one interval). With p_j = 1[x_j inside] and q_j the
# factor of an absent j (1[r_j inside] for a background row r, interventional; the share of the training
# rows that follow the path's splits on j, path-dependent), v_l(S) = w_l prod_j (p_j if j in S else q_j).
# The Shapley values of such a product game have a closed form, so TreeSHAP is exact. Padding a path with
# factors p = q = 1 adds dummy players, which change no one's value: every leaf becomes rows of equal length.


def _tree_model_kinds():
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                                  GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return {"single": (DecisionTreeRegressor, DecisionTreeClassifier),
            "forest": (RandomForestRegressor, RandomForestClassifier, ExtraTreesRegressor, ExtraTreesClassifier),
            "boosting": (GradientBoostingRegressor, GradientBoostingClassifier)}


_TREE_MODELS = ("DecisionTreeRegressor, DecisionTreeClassifier, RandomForestRegressor, RandomForestClassifier, "
                "ExtraTreesRegressor, ExtraTreesClassifier, GradientBoostingRegressor, GradientBoostingClassifier")


class _Leaves:
    """One tree's leaves as arrays ``[L, D]`` (D: the most distinct features on a path) and their values."""

    __slots__ = ("features", "lower", "upper", "cover", "used", "values", "depths")

    def __init__(self, tree, values: np.ndarray):
        left, right, feature, threshold = tree.children_left, tree.children_right, tree.feature, tree.threshold
        weight = tree.weighted_n_node_samples
        found, stack = [], [(0, {}, 0)]
        while stack:  # depth first from the root: each path's interval and cover fraction per feature
            node, bounds, depth = stack.pop()
            if left[node] == -1:
                found.append((node, bounds, depth))
                continue
            j, t = int(feature[node]), float(threshold[node])
            for child, goes_left in ((left[node], True), (right[node], False)):
                lo, hi, share = bounds.get(j, (-np.inf, np.inf, 1.0))
                lo, hi = (lo, min(hi, t)) if goes_left else (max(lo, t), hi)
                stack.append((child, {**bounds, j: (lo, hi, share * weight[child] / weight[node])}, depth + 1))
        width = max(1, max(len(bounds) for _, bounds, _ in found))
        shape = (len(found), width)
        self.features, self.used = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=bool)
        self.lower, self.upper, self.cover = np.full(shape, -np.inf), np.full(shape, np.inf), np.ones(shape)
        for k, (_, bounds, _) in enumerate(found):
            for s, (j, (lo, hi, share)) in enumerate(sorted(bounds.items())):
                self.features[k, s], self.lower[k, s], self.upper[k, s], self.cover[k, s] = j, lo, hi, share
                self.used[k, s] = True
        self.values = values[[node for node, _, _ in found]]  # [L, outputs]
        self.depths = np.array([depth for _, _, depth in found])

    def inside(self, rows: np.ndarray) -> np.ndarray:
        """Whether each row's value of each path feature lies in the leaf's interval: ``[n, L, D]`` (padding: True)."""
        values = rows[:, self.features]
        return ((self.lower < values) & (values <= self.upper)) | ~self.used


class _TreeEnsemble:
    """A fitted scikit-learn tree model as a list of :class:`_Leaves`, an offset and its output's name."""

    def __init__(self, model):
        kinds = _tree_model_kinds()
        if not isinstance(model, kinds["single"] + kinds["forest"] + kinds["boosting"]):
            raise TypeError(f"model must be a fitted scikit-learn tree model ({_TREE_MODELS}); got {type(model).__name__}")
        if isinstance(model, kinds["single"]):
            estimators = [model] if hasattr(model, "tree_") else None
        else:
            estimators = getattr(model, "estimators_", None)
        if estimators is None:
            raise ValueError(f"model must be fitted first (call {type(model).__name__}.fit); it has no trees")
        self.n_features = int(model.n_features_in_)
        self.classifier = hasattr(model, "classes_")
        self.model = model
        trees = []
        if isinstance(model, kinds["boosting"]):  # raw scores: init + learning_rate * sum of trees, per column
            for row in np.asarray(estimators).reshape(len(estimators), -1):
                trees.append([(e.tree_, e.tree_.value[:, :, 0] * model.learning_rate) for e in row])
            columns = len(trees[0])
            self.trees = [(tree, np.eye(columns)[k] * values) for stage in trees for k, (tree, values) in enumerate(stage)]
            self.output = "the raw score (decision_function)" if self.classifier else "the prediction"
        else:
            share = 1.0 / len(estimators)
            for e in estimators:
                values = e.tree_.value[:, 0, :]
                if self.classifier:  # predict_proba: each tree's class fractions, averaged over the trees
                    values = values / values.sum(axis=1, keepdims=True)
                trees.append((e.tree_, values * share))
            self.trees = trees
            self.output = "the class probability (predict_proba)" if self.classifier else "the prediction"
        self.leaves = [_Leaves(tree, values) for tree, values in self.trees]
        self.n_outputs = self.leaves[0].values.shape[1]
        self.offset = self._offset()

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """The model's explained output on float rows ``[n, M]``: ``[n, outputs]``."""
        if isinstance(self.model, _tree_model_kinds()["boosting"]):
            out = self.model.decision_function(rows) if self.classifier else self.model.predict(rows)
        else:
            out = self.model.predict_proba(rows) if self.classifier else self.model.predict(rows)
        out = np.asarray(out, dtype=np.float64)
        return out.reshape(len(rows), -1)

    def _offset(self) -> np.ndarray:
        """What the trees' leaves do not hold (gradient boosting's initial prediction): model - sum of leaves."""
        row = np.zeros((1, self.n_features))
        summed = sum(leaves.values[leaves.inside(_as_tree_input(row))[0].all(axis=1)].sum(axis=0)
                     for leaves in self.leaves)
        return self.raw(row)[0] - summed

    def column(self, target, x: np.ndarray) -> int:
        """The output explained: the class's column; a regressor's one output; a binary boosted classifier's score."""
        if self.n_outputs == 1:  # a regressor, or a binary boosted classifier (one raw score: class 1's log-odds)
            if target is not None:
                check_int("target", target, int(self.classifier), int(self.classifier))
            return 0
        if target is None:
            return int(np.argmax(self.raw(x[None])[0]))
        return check_int("target", target, 0, self.n_outputs - 1)


def _as_tree_input(rows: np.ndarray) -> np.ndarray:
    """Rows as scikit-learn's trees compare them: rounded to float32 (then held in float64)."""
    return rows.astype(np.float32).astype(np.float64)


def _check_tree_rows(name: str, rows, n_features: int, *, ndim: int) -> np.ndarray:
    array = rows.detach().cpu().numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numbers (a NumPy array or a tensor); got dtype {array.dtype}")
    expected = "one row [M]" if ndim == 1 else "rows [K, M]"
    if array.ndim != ndim or array.shape[-1] != n_features:
        raise ValueError(f"{name} must be {expected} with M = {n_features} features (the model's); "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; it holds NaN or Inf")
    return _as_tree_input(array.astype(np.float64))


def _factorials(n: int) -> np.ndarray:
    return np.array([math.factorial(k) for k in range(n + 1)], dtype=np.float64)


def _interventional_leaf_values(leaves: _Leaves, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Each path slot's Shapley value for a leaf weight of 1, summed over the background rows: ``[L, D]``.

    For one background row, a feature from x only (p = 1, q = 0) must be in S, one from the row only
    (p = 0, q = 1) must not: the leaf's game is 1[A in S, B out of S], whose Shapley values are
    (a-1)! b! / (a+b)! for each of A and -a! (b-1)! / (a+b)! for each of B.
    """
    p = leaves.inside(x[None])[0]  # [L, D]
    total = np.zeros(p.shape)
    factorial = _factorials(2 * p.shape[1])
    for start in range(0, len(background), 256):
        q = leaves.inside(background[start:start + 256])  # [K, L, D]
        from_x, from_r = p & ~q, ~p & q
        a, b = from_x.sum(axis=-1), from_r.sum(axis=-1)
        reached = (p | q).all(axis=-1)
        share_x = np.where(a > 0, factorial[np.maximum(a - 1, 0)] * factorial[b] / factorial[a + b], 0.0) * reached
        share_r = np.where(b > 0, factorial[a] * factorial[np.maximum(b - 1, 0)] / factorial[a + b], 0.0) * reached
        total += (from_x * share_x[..., None] - from_r * share_r[..., None]).sum(axis=0)
    return total


def _product_game_values(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Shapley values of product games ``v(S) = prod_j (p_j if j in S else q_j)``, one per row: ``[L, D]``.

    phi_i = (p_i - q_i) sum_k c_k k! (D-1-k)! / D!, with c_k the coefficients of prod over j != i of
    (q_j + p_j t), built from prefix and suffix products (no division).
    """
    n_rows, width = p.shape
    prefix = np.zeros((width + 1, n_rows, width + 1))
    prefix[0, :, 0] = 1.0
    for s in range(width):
        prefix[s + 1] = prefix[s] * q[:, s, None]
        prefix[s + 1, :, 1:] += prefix[s, :, :-1] * p[:, s, None]
    suffix = np.zeros((width + 1, n_rows, width + 1))
    suffix[width, :, 0] = 1.0
    for s in range(width - 1, -1, -1):
        suffix[s] = suffix[s + 1] * q[:, s, None]
        suffix[s, :, 1:] += suffix[s + 1, :, :-1] * p[:, s, None]
    factorial = _factorials(width)
    weights = factorial[:width] * factorial[width - 1::-1] / factorial[width]  # k! (D-1-k)! / D!, k = 0..D-1
    values = np.zeros((n_rows, width))
    for s in range(width):
        others = np.zeros((n_rows, width))  # coefficients of the product over j != s, degrees 0..D-1
        for k in range(width):
            others[:, k:] += prefix[s, :, k, None] * suffix[s + 1, :, :width - k]
        values[:, s] = (p[:, s] - q[:, s]) * (others * weights).sum(axis=1)
    return values


def tree_shap(model, x, background=None, *, target=None) -> torch.Tensor:
    r"""Exact SHAP values of a fitted scikit-learn tree model, from scratch: TreeSHAP.

    Lundberg, Erion, Chen, DeGrave, Prutkin, Nair, Katz, Himmelfarb, Bansal and Lee, "From
    local explanations to global understanding with explainable AI for trees", 2020,
    Nature Machine Intelligence 2 (interventional and path-dependent TreeSHAP); Lundberg,
    Erion and Lee, arXiv 1802.03888, 2018. Each leaf's game is a product over the distinct
    features on its path (the comment above this section), whose Shapley values have a
    closed form: the values are exact, in time linear in the number of leaves and
    polynomial in the depth, never :math:`2^M`.

    Parameters
    ----------
    model : fitted scikit-learn tree model
        A decision tree, a random forest or extra trees (regressor: the prediction;
        classifier: ``predict_proba``, the mean of the trees' class fractions), or gradient
        boosting (``predict`` for a regressor, ``decision_function``'s raw scores for a
        classifier).
    x : array or tensor [M], one row
    background : array or tensor [K, M], optional
        Interventional values: the Shapley values of :math:`v(S) = \frac1K \sum_k f(x_S, r^{(k)}_{-S})`.
        None: the path-dependent values of shap's default (a feature outside S follows both
        children, weighted by the training rows that went each way).
    target : int, optional
        The class of a classifier; None means the class predicted at ``x``. Regressors: None
        or 0; a binary boosted classifier: None or 1 (its one raw score, class 1's log-odds).

    Returns
    -------
    torch.Tensor, float64, [M]
        With :func:`tree_base_value`, ``base + values.sum()`` is the explained output at ``x``.
        Rows are compared with the splits as scikit-learn compares them (the value rounded
        to float32 against the float64 threshold), so the values are those of the model's own
        predictions. shap's interventional ``TreeExplainer`` can send a row the other way where
        a threshold rounds in float32 onto a value of the data (notebook 09 measures it).

    Raises
    ------
    TypeError
        ``model`` not a scikit-learn tree model; ``x`` or ``background`` not numbers.
    ValueError
        An unfitted model; ``x`` not one row of M values or ``background`` not rows of M
        values; NaN or Inf; ``target`` out of range (-1 is not "the last class").

    Examples
    --------
    >>> values = tree_shap(forest.classifier, features[0], background=features[:100], target=3)  # doctest: +SKIP
    """
    ensemble = _TreeEnsemble(model)
    row = _check_tree_rows("x", x, ensemble.n_features, ndim=1)
    rows = None if background is None else _check_tree_rows("background", background, ensemble.n_features, ndim=2)
    if rows is not None and len(rows) == 0:
        raise ValueError("background must hold at least one row; got 0")
    column = ensemble.column(target, row)
    phi = np.zeros(ensemble.n_features)
    for leaves in ensemble.leaves:
        weights = leaves.values[:, column]
        if rows is None:
            p = leaves.inside(row[None])[0].astype(np.float64)
            slots = _product_game_values(p, np.where(leaves.used, leaves.cover, 1.0))
        else:
            slots = _interventional_leaf_values(leaves, row, rows) / len(rows)
        np.add.at(phi, leaves.features[leaves.used], (slots * weights[:, None])[leaves.used])
    return torch.from_numpy(phi)


def tree_base_value(model, background=None, *, target=None) -> float:
    """The base value of :func:`tree_shap`: the mean output over the background, or the trees' own mean.

    With a background, :math:`E_r[f(r)]`; without one (path-dependent), every leaf weighted by
    the share of the training rows that reached it (plus gradient boosting's initial
    prediction). ``tree_base_value(...) + tree_shap(...).sum()`` is the output explained at ``x``.
    ``target``: as :func:`tree_shap`, but None is refused for a classifier (no ``x`` to predict at).
    """
    ensemble = _TreeEnsemble(model)
    if target is None and ensemble.n_outputs > 1:
        raise ValueError("target must be given for a classifier: the base value belongs to one class")
    column = ensemble.column(target, np.zeros(ensemble.n_features))
    if background is not None:
        rows = _check_tree_rows("background", background, ensemble.n_features, ndim=2)
        return float(ensemble.raw(rows)[:, column].mean())
    total = sum(float((leaves.values[:, column] * np.where(leaves.used, leaves.cover, 1.0).prod(axis=1)).sum())
                for leaves in ensemble.leaves)
    return total + float(ensemble.offset[column])


def tree_shap_steps(model, *, n_background: int = 1) -> int:
    """Tree-node steps of :func:`tree_shap`: every leaf's path walked once per background row.

    The cost unit of notebook 09 (the same on every machine): one node of one tree looked
    at for one row. Compare :func:`prediction_steps`.
    """
    n_background = check_int("n_background", n_background, 1)
    return int(sum(leaves.depths.sum() for leaves in _TreeEnsemble(model).leaves)) * n_background


def prediction_steps(model, rows) -> int:
    """Tree-node steps of predicting ``rows`` [n, M]: the nodes each row's path visits in each tree, counted.

    The cost of the methods that evaluate the model: exact enumeration predicts :math:`2^M`
    rows per background row, KernelSHAP one per coalition of its budget.
    """
    ensemble = _TreeEnsemble(model)
    rows = _check_tree_rows("rows", rows, ensemble.n_features, ndim=2).astype(np.float32)
    return int(sum(tree.decision_path(rows).nnz for tree, _ in ensemble.trees))
