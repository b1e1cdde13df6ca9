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
  exact and a cubic surrogate (regression adjustment);
  :func:`kernel_shap_coalitions` shows the coalitions it evaluates,
  :func:`optimised_design` and :func:`cubic_leakage` how the small designs are
  chosen.
- :func:`permutation_shapley` -- Monte Carlo over orders, with antithetic
  (reversed) permutations.
- :func:`shap_kernel_explainer` -- the ``shap`` package's ``KernelExplainer``
  run on the same game (the reference the course compares against).
- :class:`TableGame`, :func:`weighted_voting_game` -- games given by a table of
  worths (the by-hand games); :func:`marginal_contributions` -- the definition,
  order by order, for a few players.
- :func:`axiom_gaps`, :func:`relative_error`, :func:`budget_errors`,
  :func:`budget_methods` -- the checks and measurements the notebook prints.

Taught in ``notebooks/05_shap.ipynb``.
"""

from __future__ import annotations

import functools
import itertools
import math
from numbers import Integral, Real
from typing import Callable

import numpy as np
import torch

from .features import check_game
from .seeding import _check_seed

__all__ = [
    "exact_shapley",
    "kernel_shap",
    "kernel_shap_min_budget",
    "kernel_shap_coalitions",
    "budget_methods",
    "permutation_shapley",
    "shap_kernel_explainer",
    "shapley_weight",
    "TableGame",
    "weighted_voting_game",
    "marginal_contributions",
    "axiom_gaps",
    "relative_error",
    "budget_errors",
    "EXACT_MAX_PLAYERS",
    "MAX_TRIPLES",
    "DESIGN_PAIRS_PER_PLAYER",
    "DESIGN_MAX_PLAYERS",
    "optimised_design",
    "cubic_leakage",
]

#: :func:`exact_shapley` refuses games with more players than this (2**20 coalitions).
EXACT_MAX_PLAYERS = 20
_DEFAULT_BATCH = 4096
_CPU = torch.device("cpu")


# --------------------------------------------------------------------------- checks and evaluation


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise TypeError(f"{name} must be an int; got {value!r} of type {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {int(value)}")
    return int(value)


def _evaluate(game, Z: torch.Tensor, batch_size: int) -> tuple[np.ndarray, torch.dtype]:
    """The worths of coalitions ``Z`` (bool [n, M], CPU) as float64, in chunks; and the game's dtype."""
    parts, dtype = [], None
    for start in range(0, Z.shape[0], batch_size):
        chunk = Z[start:start + batch_size] if Z.shape[0] > batch_size else Z
        values = game(chunk)
        if not isinstance(values, torch.Tensor):
            values = torch.as_tensor(values)
        if values.shape != (chunk.shape[0],):
            raise ValueError(
                f"game(Z) must return one worth per coalition, shape ({chunk.shape[0]},); "
                f"got shape {tuple(values.shape)}"
            )
        dtype = values.dtype if torch.is_floating_point(values) else torch.get_default_dtype()
        values = values.detach().to(_CPU, torch.float64).numpy()
        # a finite sum proves every worth finite; only otherwise look at them one by one
        if not math.isfinite(values.sum()) and not np.isfinite(values).all():
            raise ValueError("game(Z) returned NaN or Inf worths; every coalition needs a finite worth")
        parts.append(values)
    values = np.concatenate(parts) if len(parts) != 1 else parts[0]
    return values, (dtype or torch.get_default_dtype())


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} of type {type(value).__name__}")
    return bool(value)


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
    n_players = _check_int("n_players", n_players, 1)
    size = _check_int("size", size, 0)
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
    batch_size = _check_int("batch_size", batch_size, 1)
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


# --------------------------------------------------------------------------- sampling coalitions


@functools.lru_cache(maxsize=64)
def _binomial_table(n: int) -> np.ndarray:
    """``table[a, b] = C(a, b)`` for ``a, b <= n``, clipped at 2**62 (safe for ranks below 2**62)."""
    cap = 2**62
    table = np.zeros((n + 1, n + 1), dtype=np.int64)
    for a in range(n + 1):
        for b in range(a + 1):
            table[a, b] = min(math.comb(a, b), cap)
    table.setflags(write=False)
    return table


def _unrank_subsets(ranks: np.ndarray, n: int, k: int) -> np.ndarray:
    """The k-subsets of ``range(n)`` with the given lexicographic ranks, as bool rows ``[len(ranks), n]``."""
    table = _binomial_table(n)
    out = np.zeros((ranks.shape[0], n), dtype=bool)
    r = ranks.astype(np.int64).copy()
    left = np.full(ranks.shape[0], k, dtype=np.int64)
    for j in range(n):
        active = left > 0
        # subsets that take element j next: C(n - 1 - j, left - 1) of them come first
        count = table[n - 1 - j, np.maximum(left - 1, 0)]
        take = active & (r < count)
        skip = active & ~take
        out[take, j] = True
        left[take] -= 1
        r[skip] -= count[skip]
    return out


#: Enumerations of all k-subsets up to this many cells (bytes) are cached and indexed instead of unranked.
_SUBSET_TABLE_CELLS = 2**20


def _sample_subsets(n: int, k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct k-subsets of ``range(n)``, uniformly without replacement, as bool rows."""
    total = math.comb(n, k)
    if count == 0:
        return np.zeros((0, n), dtype=bool)
    if count >= total:
        return _all_subsets(n, k).copy()
    if total < 2**62:
        ranks = np.asarray(rng.choice(total, size=count, replace=False), dtype=np.int64)
        if total * n <= _SUBSET_TABLE_CELLS:  # the rows of the cached enumeration, in rank order
            return _all_subsets_cached(n, k)[ranks]
        return _unrank_subsets(ranks, n, k)
    # astronomically many subsets (n > 62): draw and drop the (vanishingly rare) repeats
    rows = np.zeros((0, n), dtype=bool)
    while rows.shape[0] < count:
        draw = np.argsort(rng.random((count, n)), axis=1)[:, :k]
        new = np.zeros((count, n), dtype=bool)
        np.put_along_axis(new, draw, True, axis=1)
        rows = np.concatenate([rows, new])
        _, first = np.unique(np.packbits(rows, axis=1), axis=0, return_index=True)
        rows = rows[np.sort(first)]
    return rows[:count]


def _size_groups(n_players: int) -> list[tuple[int, int, float]]:
    """Strata of paired sampling: ``(k, capacity in pairs, sizes covered per pair)``.

    Group ``k < M/2`` pairs each coalition of size ``k`` with its complement (size
    ``M - k``): ``C(M, k)`` pairs, one coalition of each of two sizes per pair. When
    ``M`` is even, the middle group pairs coalitions of size ``M/2`` with their
    complements of the same size: ``C(M, M/2) / 2`` pairs, two coalitions of one
    size per pair (so it needs half as many pairs for the same count per size).
    """
    groups = [(k, math.comb(n_players, k), 1.0) for k in range(1, (n_players - 1) // 2 + 1)]
    if n_players % 2 == 0 and n_players >= 2:
        groups.append((n_players // 2, math.comb(n_players, n_players // 2) // 2, 0.5))
    return groups


def _allocate_pairs(groups, n_pairs: int) -> list[int]:
    r"""Pairs per group so that every coalition size gets the same count (leverage-score sampling).

    The leverage score of a coalition is :math:`1/\binom{M}{|S|}` (Musco and
    Witter 2024), so every size carries the same total: sampling proportionally
    gives every size the same number :math:`t` of coalitions. A size that has
    fewer than :math:`t` coalitions is enumerated whole, and what it leaves is
    shared among the others (water filling). Rounding hands the last pairs to
    the groups furthest below their share.
    """
    share = [g[2] for g in groups]
    capacity = [g[1] for g in groups]
    order = sorted(range(len(groups)), key=lambda g: capacity[g] / share[g])
    remaining, active_share, level = n_pairs, sum(share), 0.0
    full = set()
    for g in order:
        level = remaining / active_share
        if capacity[g] <= level * share[g]:
            full.add(g)
            remaining -= capacity[g]
            active_share -= share[g]
            level = remaining / active_share if active_share > 0 else 0.0
        else:
            break
    pairs = [capacity[g] if g in full else min(capacity[g], int(math.floor(level * share[g] + 1e-9)))
             for g in range(len(groups))]
    leftover = n_pairs - sum(pairs)
    while leftover > 0:
        open_groups = [g for g in range(len(groups)) if pairs[g] < capacity[g]]
        open_groups.sort(key=lambda g: (pairs[g] - level * share[g], g))
        for g in open_groups[:leftover]:
            pairs[g] += 1
        leftover = n_pairs - sum(pairs)
    return pairs


def kernel_shap_min_budget(n_players: int) -> int:
    r"""The smallest ``budget`` that :func:`kernel_shap` accepts for ``n_players`` players.

    Efficiency fixes one direction of :math:`\phi`; the other :math:`M-1` must come
    from the regression. A coalition and its complement give the same row once
    efficiency is imposed, so :math:`M-1` pairs are needed, plus the empty and full
    coalitions: :math:`2M` in all (2 for one player).

    Examples
    --------
    >>> kernel_shap_min_budget(10)
    20
    """
    n_players = _check_int("n_players", n_players, 1)
    return 2 if n_players == 1 else 2 * n_players


def _deal_subsets(n: int, k: int, count: int, rng: np.random.Generator, seen: set) -> np.ndarray:
    """``count`` distinct k-subsets of ``range(n)`` (none in ``seen``) in which every element appears
    as equally often as possible.

    Players are dealt from a queue that gets one fresh shuffle of all ``n`` players whenever it holds
    fewer than ``k`` distinct ones; a hand is the first ``k`` distinct players in the queue. Every
    player enters the queue equally often, so the counts dealt differ by little. When a hand repeats
    a subset already drawn, its first player goes to the back of the queue and the next hand is tried.
    """
    # the same draws and hands as dealing rows one by one; a subset is keyed by its bit mask
    hands, queue, misses = [], [], 0
    while len(hands) < count:
        distinct = dict.fromkeys(queue)
        while len(distinct) < k:
            queue += rng.permutation(n).tolist()
            distinct = dict.fromkeys(queue)
        hand = list(itertools.islice(distinct, k))
        key = 0
        for p in hand:
            key |= 1 << p
        if key in seen:
            # try the next hand: the first player waits at the back; after a full turn without a new
            # subset, one more round of every player (counts stay even) and a shuffle
            queue.append(queue.pop(0))
            misses += 1
            if misses > len(queue):
                queue += rng.permutation(n).tolist()
                queue = [queue[i] for i in rng.permutation(len(queue))]
                misses = 0
            continue
        misses = 0
        seen.add(key)
        hands.append(hand)
        for p in hand:
            queue.remove(p)
    out = np.zeros((len(hands), n), dtype=bool)
    if hands:
        out[np.repeat(np.arange(len(hands)), k), np.array(hands, dtype=np.int64).reshape(-1)] = True
    return out


def _subset_keys(rows: np.ndarray) -> list:
    """The bit mask ``sum(2**j for j in row)`` of every bool row, as Python ints (any width)."""
    if rows.shape[1] <= 62:
        return (rows.astype(np.int64) @ (np.int64(1) << np.arange(rows.shape[1], dtype=np.int64))).tolist()
    return [sum(1 << int(j) for j in np.flatnonzero(row)) for row in rows]


def _all_subsets(n: int, k: int) -> np.ndarray:
    """Every k-subset of ``range(n)`` in lexicographic order, as read-only bool rows (cached when small)."""
    if math.comb(n, k) * n <= _SUBSET_TABLE_CELLS:
        return _all_subsets_cached(n, k)
    rows = _unrank_subsets(np.arange(math.comb(n, k), dtype=np.int64), n, k)
    rows.setflags(write=False)
    return rows


@functools.lru_cache(maxsize=128)
def _all_subsets_cached(n: int, k: int) -> np.ndarray:
    rows = _unrank_subsets(np.arange(math.comb(n, k), dtype=np.int64), n, k)
    rows.setflags(write=False)
    return rows


def _group_sample(n_players: int, k: int, count: int, rng: np.random.Generator, chain: list) -> np.ndarray:
    """``count`` distinct representatives of group ``k`` (size ``k``; in the middle group, those holding
    player 0), the ``chain`` ones first, the rest drawn uniformly and balanced."""
    middle = 2 * k == n_players
    n, size = (n_players - 1, k - 1) if middle else (n_players, k)  # the middle: subsets of players 1..M-1

    def lift(rows):
        return np.concatenate([np.ones((rows.shape[0], 1), dtype=bool), rows], axis=1) if middle else rows

    chain = [row[1:] if middle else row for row in chain]
    total = math.comb(n, size)
    rest = count - len(chain)
    if count >= total:
        return lift(_all_subsets(n, size).copy())
    if rest <= 0:
        return lift(np.array(chain[:count], dtype=bool).reshape(-1, n))
    chain_rows = np.array(chain, dtype=bool).reshape(-1, n)
    seen = set(_subset_keys(chain_rows))
    if middle:
        # a complementary pair already holds every player once: distinct uniform draws, dropping the chain's
        draws = _sample_subsets(n, size, min(total, rest + len(chain)), rng)
        draws = draws[np.array([key not in seen for key in _subset_keys(draws)], dtype=bool)][:rest]
    elif 2 * count > total:
        # more than half of the group: deal the subsets left out instead (never the chain's), evenly
        left_out = seen | set(_subset_keys(_deal_subsets(n, size, total - count, rng, set(seen))))
        every = _all_subsets(n, size)
        draws = every[np.array([key not in left_out for key in _subset_keys(every)], dtype=bool)]
    else:
        draws = _deal_subsets(n, size, rest, rng, seen)
    return lift(np.concatenate([chain_rows, draws]))


@functools.lru_cache(maxsize=256)
def _pair_allocation(n_players: int, n_pairs: int) -> tuple[tuple, tuple]:
    """``(groups, pairs)``: :func:`_size_groups` and :func:`_allocate_pairs` for ``n_pairs`` (cached)."""
    groups = _size_groups(n_players)
    return tuple(groups), tuple(_allocate_pairs(groups, n_pairs))


def _paired_design(n_players: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Representatives ``[n_pairs, M]`` of the complementary pairs KernelSHAP evaluates (see its Notes)."""
    groups, pairs = _pair_allocation(n_players, n_pairs)
    chains: dict[int, list] = {k: [] for k, _, _ in groups}
    if n_pairs < 2 * (n_players - 1):
        # near the minimum the regression has about as many rows as unknowns: start from the prefixes
        # of one random order, which turns it into differences of neighbouring coalitions
        order = rng.permutation(n_players)
        for length in range(1, n_players):
            row = np.zeros(n_players, dtype=bool)
            row[order[:length]] = True
            if 2 * length > n_players or (2 * length == n_players and not row[0]):
                row = ~row
            chains[int(row.sum())].append(row)
    rows = [_group_sample(n_players, k, pairs[g], rng, chains[k]) for g, (k, _, _) in enumerate(groups) if pairs[g]]
    return np.concatenate(rows) if rows else np.zeros((0, n_players), dtype=bool)


@functools.lru_cache(maxsize=64)
def _orthonormal_complement_of_ones(n_players: int) -> np.ndarray:
    """An orthonormal basis ``[M, M-1]`` of the vectors whose entries sum to zero (read-only, cached)."""
    basis, _ = np.linalg.qr(np.eye(n_players)[:, : n_players - 1] - 1.0 / n_players)
    basis.setflags(write=False)
    return basis


@functools.lru_cache(maxsize=64)
def _index_triples(top: int) -> np.ndarray:
    """All triples ``i < j < k`` of ``range(top)`` in lexicographic order, ``[C(top, 3), 3]`` (read-only, cached)."""
    triples = np.array(list(itertools.combinations(range(top), 3)), dtype=np.int64).reshape(-1, 3)
    triples.setflags(write=False)
    return triples


@functools.lru_cache(maxsize=256)
def _surrogate_size(n_players: int, n_pairs: int) -> int:
    """How many of the most important players the cubic surrogate takes triples of."""
    limit = min(n_pairs, MAX_TRIPLES)
    return max(k for k in range(n_players + 1) if math.comb(k, 3) <= limit)


_BLAS = None


def _one_blas_thread():
    """A context that runs NumPy's BLAS/LAPACK on one thread.

    The regressions here are small (a few hundred rows); with PyTorch's OpenMP
    threads still spinning after a model evaluation, a multi-threaded BLAS
    fights them for the cores and an eigendecomposition of 120 x 120 takes
    100x longer (measured: 200 ms instead of 2 ms on two cores).
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        # found once; the limit below sets and restores these libraries directly (threadpoolctl's own
        # ``limit`` looks them up again on every call, a noticeable part of a millisecond-long explanation)
        _BLAS = tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _OneThread(_BLAS)


class _OneThread:
    """Set the given threadpoolctl library controllers to one thread; restore their counts on exit."""

    __slots__ = ("libraries", "saved")

    def __init__(self, libraries):
        self.libraries, self.saved = libraries, None

    def __enter__(self):
        self.saved = [library.num_threads for library in self.libraries]
        for library in self.libraries:
            library.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        for library, count in zip(self.libraries, self.saved):
            library.set_num_threads(count)
        return False


#: The cubic surrogate of :func:`kernel_shap` uses at most this many triples of players.
MAX_TRIPLES = 2000
_RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _fit_pairs(reps: np.ndarray, odd: np.ndarray, weights: np.ndarray, delta: float, surrogate: bool) -> np.ndarray:
    r"""Solve the paired, constrained KernelSHAP regression (optionally with the cubic surrogate)."""
    n_pairs, n_players = reps.shape
    signs = 2.0 * reps - 1.0                           # s = 2z - 1; the complement is -s
    share = signs.sum(axis=1) / n_players              # t = (s . 1) / M
    basis = _orthonormal_complement_of_ones(n_players)
    root = np.sqrt(weights)
    design = (signs @ basis) * root[:, None]           # phi = Delta 1/M + U beta
    target = (odd - delta * share) * root
    # one SVD gives the least-squares solution (minimum norm if the pairs leave a direction open) and,
    # for the surrogate, the projection onto the linear columns
    left, singular, right_t = np.linalg.svd(design, full_matrices=False)
    kept = singular > singular[0] * 1e-10
    left, singular, right_t = left[:, kept], singular[kept], right_t[kept]

    def solve(rhs):
        return right_t.T @ ((left.T @ rhs) / singular)

    beta = solve(target)
    phi = basis @ beta + delta / n_players
    if not surrogate or n_pairs <= n_players - 1 or n_players < 3:
        return phi
    top = _surrogate_size(n_players, n_pairs)
    if top < 3:
        return phi
    players = np.sort(np.argsort(-np.abs(phi), kind="stable")[:top])
    triples = players[_index_triples(top)]  # the triples of ``players``, in lexicographic order
    cubic = _cubic_columns(signs, triples) * root[:, None]
    # the linear part is never penalised: take it out of the cubic columns and the target first
    cubic_rest = cubic - left @ (left.T @ cubic)
    target_rest = target - left @ (left.T @ target)
    leverage = np.sum(left**2, axis=1)
    # ridge for every penalty at once from one eigendecomposition of the cubic Gram matrix
    eigenvalues, vectors = np.linalg.eigh(cubic_rest.T @ cubic_rest)
    keep = eigenvalues > max(float(eigenvalues[-1]), 0.0) * 1e-10
    eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
    if eigenvalues.size == 0:
        return phi
    u = (cubic_rest @ vectors) / np.sqrt(eigenvalues)       # left singular vectors
    u_squared = u**2
    projected = u.T @ target_rest
    scale = float(np.mean(np.sum(cubic_rest**2, axis=0)))
    best_score, best_lambda = np.inf, None
    if np.all(leverage < 1 - 1e-9):  # no surrogate: plain KernelSHAP's leave-one-out error
        best_score = float(np.sum((target_rest / (1 - leverage)) ** 2))
    # every penalty of the grid at once: one column per penalty
    lams = np.array(_RIDGE_GRID) * scale
    shrinks = eigenvalues[:, None] / (eigenvalues[:, None] + lams)
    hats = leverage[:, None] + u_squared @ shrinks
    valid = np.flatnonzero(~np.any(hats >= 1 - 1e-9, axis=0))  # penalties with every leverage below 1
    fitted = u @ (shrinks[:, valid] * projected[:, None])
    scores = np.sum(((target_rest[:, None] - fitted) / (1 - hats[:, valid])) ** 2, axis=0)
    for g, score in zip(valid.tolist(), scores.tolist()):  # in the grid's order: the first best wins ties
        if score < best_score:
            best_score, best_lambda = score, float(lams[g])
    if best_lambda is None:
        return phi
    gamma = vectors @ (np.sqrt(eigenvalues) / (eigenvalues + best_lambda) * projected)
    beta = solve(target - cubic @ gamma)
    phi = basis @ beta + (delta - gamma.sum()) / n_players
    np.add.at(phi, triples.reshape(-1), np.repeat(gamma / 3.0, 3))
    return phi


# --------------------------------------------------------------------------- optimised designs for small budgets

#: Up to this many pairs per player, :func:`kernel_shap` takes its coalitions from an optimised design ...
DESIGN_PAIRS_PER_PLAYER = 16
#: ... for games of 3 up to this many players (the one-off search grows with M; beyond it the gain is small).
DESIGN_MAX_PLAYERS = 20
_DESIGN_TRIPLES = 300    # the design criterion averages over at most this many triples (a fixed sample beyond)
_DESIGN_RESTARTS = 4     # local searches from different starts; the best is kept
_DESIGN_PROPOSALS = 150  # proposals per pair and search, at most _DESIGN_MAX_PROPOSALS
_DESIGN_MAX_PROPOSALS = 3000


def _fold(rows: np.ndarray) -> np.ndarray:
    """Each row or its complement, whichever is the pair's representative (size below M/2, or M/2 holding player 0)."""
    n_players = rows.shape[1]
    size = rows.sum(axis=1)
    flip = (2 * size > n_players) | ((2 * size == n_players) & ~rows[:, 0])
    rows[flip] = ~rows[flip]
    return rows


def _cubic_columns(signs: np.ndarray, triples: np.ndarray) -> np.ndarray:
    r"""The cubic surrogate's columns :math:`s_i s_j s_k - t` for each triple, with :math:`t = (s \cdot 1)/M`.

    The term :math:`t` is the efficiency reparametrisation's share of a column whose
    Shapley values sum to 1 (as the linear columns' do), so the columns fit under the
    same constraint.
    """
    return (signs[:, triples[:, 0]] * signs[:, triples[:, 1]] * signs[:, triples[:, 2]]
            - signs.sum(axis=1, keepdims=True) / signs.shape[1])


def _leakage_terms(n_players: int, triples: np.ndarray):
    """``(basis, target)`` for :func:`cubic_leakage`: the zero-sum basis ``U`` and ``U^T`` times each triple's Shapley values."""
    basis = _orthonormal_complement_of_ones(n_players)
    exact = np.zeros((n_players, triples.shape[0]))
    exact[triples.T, np.arange(triples.shape[0])] = 2.0 / 3.0
    return basis, basis.T @ exact


def cubic_leakage(reps, weights=None, *, triples=None) -> float:
    r"""How much a design lets third-order interactions leak into KernelSHAP's values.

    Pairing removes every even-order interaction from KernelSHAP (see
    :func:`kernel_shap`), so what is left of the error comes from odd ones, and
    the third-order ones are the largest in practice. The three-player
    interaction :math:`u_T(S) = \prod_{i \in T} s_i` (:math:`s_i = \pm 1` for
    :math:`i` in or out of :math:`S`) has the Shapley value :math:`2/3` for each
    of its players and 0 for the rest. This runs the paired, constrained
    regression on :math:`u_T` with the given coalitions and weights and returns
    :math:`\|\hat\phi - \phi\|^2` averaged over the triples :math:`T`: 0 for a
    design that gets every third-order game exactly right, as the full set of
    coalitions does.

    Parameters
    ----------
    reps : bool array or tensor [n_pairs, M]
        One coalition of every complementary pair (either one).
    weights : array [n_pairs], optional
        The regression weight of every pair; equal when omitted.
    triples : int array [n, 3], optional
        The triples to average over; all :math:`\binom{M}{3}` when omitted.

    Returns
    -------
    float
        ``inf`` when the coalitions do not determine :math:`\phi`.

    Examples
    --------
    >>> cubic_leakage(optimised_design(10, 19)) < 2.0
    True
    """
    reps = np.asarray(reps.numpy() if isinstance(reps, torch.Tensor) else reps)
    if reps.ndim != 2 or reps.dtype != bool or reps.shape[1] < 3:
        raise ValueError(f"reps must be a bool array [n_pairs, M] with M >= 3; got {reps.dtype} {reps.shape}")
    n_players = reps.shape[1]
    weights = np.ones(reps.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (reps.shape[0],) or not np.all(weights > 0):
        raise ValueError(f"weights must be {reps.shape[0]} positive numbers; got shape {weights.shape}")
    triples = _index_triples(n_players) if triples is None else np.asarray(triples, dtype=np.int64)
    basis, target = _leakage_terms(n_players, triples)
    signs = 2.0 * reps - 1.0
    root = np.sqrt(weights)[:, None]
    design = (signs @ basis) * root
    cubic = 2.0 * _cubic_columns(signs, triples) * root
    if np.linalg.matrix_rank(design) < n_players - 1:
        return float("inf")
    beta, *_ = np.linalg.lstsq(design, cubic, rcond=None)
    return float(np.sum((beta - target) ** 2) / triples.shape[0])


class _DesignSearch:
    """Local search for ``n_pairs`` representatives with the least :func:`cubic_leakage` (equal weights).

    The state keeps ``A = S U`` and ``Y`` (the triples' products, less the
    efficiency term) row by row, and ``A^T A``, ``A^T Y``; a proposal changes one
    row, so it costs two rank-one updates and one small solve.
    """

    def __init__(self, n_players: int, rng: np.random.Generator):
        self.n_players, self.rng = n_players, rng
        triples = _index_triples(n_players)
        if triples.shape[0] > _DESIGN_TRIPLES:
            triples = triples[np.sort(rng.choice(triples.shape[0], _DESIGN_TRIPLES, replace=False))]
        self.triples = triples
        self.basis, self.target = _leakage_terms(n_players, triples)

    def _rows(self, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        signs = 2.0 * reps - 1.0
        return signs @ self.basis, 2.0 * _cubic_columns(signs, self.triples)

    def _score(self, gram: np.ndarray, cross: np.ndarray) -> float:
        try:
            pivots = np.diagonal(np.linalg.cholesky(gram)) ** 2
        except np.linalg.LinAlgError:
            return float("inf")
        if pivots.min() <= 1e-9 * gram.diagonal().max():  # the coalitions do not determine phi
            return float("inf")
        return float(np.sum((np.linalg.solve(gram, cross) - self.target) ** 2))

    def run(self, reps: np.ndarray, proposals: int) -> tuple[float, np.ndarray]:
        rng, n_players = self.rng, self.n_players
        reps = reps.copy()
        a, y = self._rows(reps)
        gram, cross = a.T @ a, a.T @ y
        score = self._score(gram, cross)
        powers = [1 << j for j in range(n_players)]
        keys = set(_subset_keys(reps))
        draws = rng.random((proposals, 4))  # one row of uniforms per proposal: which row, move, and players
        for u_row, u_move, u_in, u_out in draws.tolist():
            i = int(u_row * reps.shape[0])
            row = reps[i].copy()
            inside = np.flatnonzero(row)
            if u_move < 0.5 and 0 < inside.size < n_players:  # swap a player in for one out
                outside = np.flatnonzero(~row)
                row[inside[int(u_in * inside.size)]] = False
                row[outside[int(u_out * outside.size)]] = True
            else:  # add or drop one player
                j = int(u_in * n_players)
                row[j] = not row[j]
            size = int(row.sum())
            if 2 * size > n_players or (2 * size == n_players and not row[0]):
                row = ~row
            key = sum(powers[j] for j in np.flatnonzero(row).tolist())
            if key == 0 or key in keys:
                continue
            a_new, y_new = self._rows(row[None])
            new_gram = gram + a_new.T @ a_new - a[i:i + 1].T @ a[i:i + 1]
            new_cross = cross + a_new.T @ y_new - a[i:i + 1].T @ y[i:i + 1]
            new_score = self._score(new_gram, new_cross)
            # kept when not worse; "not worse" has a margin far above rounding, so that every machine's BLAS
            # takes the same steps and finds the same design
            if new_score <= score * (1 + 1e-9):
                keys.discard(sum(powers[j] for j in np.flatnonzero(reps[i]).tolist()))
                keys.add(key)
                reps[i], a[i], y[i] = row, a_new[0], y_new[0]
                gram, cross, score = a.T @ a, a.T @ y, new_score  # recomputed: no drift from the updates
        return score / self.triples.shape[0], reps


def _random_reps(n_players: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` distinct representatives of uniformly random sizes."""
    rows, keys = [], set()
    while len(rows) < n_pairs:
        row = np.zeros(n_players, dtype=bool)
        row[rng.choice(n_players, int(rng.integers(1, n_players // 2 + 1)), replace=False)] = True
        row = _fold(row[None])[0]
        key = _subset_keys(row[None])[0]
        if key not in keys:
            keys.add(key)
            rows.append(row)
    return np.array(rows)


@functools.lru_cache(maxsize=128)
def optimised_design(n_players: int, n_pairs: int) -> np.ndarray:
    """The representatives ``[n_pairs, M]`` :func:`kernel_shap` uses at small budgets (read-only, cached).

    A deterministic local search (its seed is ``(M, n_pairs)``) for the
    ``n_pairs`` complementary pairs whose equally weighted regression has the
    least :func:`cubic_leakage`: from the leverage-score sample and from
    random starts, one coalition at a time is changed (a player swapped, added
    or dropped) and kept when the leakage does not grow. It runs once per
    ``(M, n_pairs)`` (about 0.1-1 s) and is then reused, relabelled by each
    seed's random order of the players.

    Examples
    --------
    >>> optimised_design(10, 19).shape
    (19, 10)
    """
    n_players = _check_int("n_players", n_players, 3)
    n_pairs = _check_int("n_pairs", n_pairs, n_players - 1)
    if n_pairs > 2 ** (n_players - 2):
        raise ValueError(f"n_pairs must be at most 2**(M-2) = {2 ** (n_players - 2)} for M = {n_players}; got {n_pairs}")
    rng = np.random.default_rng([n_players, n_pairs])
    search = _DesignSearch(n_players, rng)
    proposals = min(_DESIGN_PROPOSALS * n_pairs, _DESIGN_MAX_PROPOSALS)
    best = None
    for start in range(_DESIGN_RESTARTS):
        first = _paired_design(n_players, n_pairs, rng) if start == 0 else _random_reps(n_players, n_pairs, rng)
        result = search.run(first, proposals)
        if best is None or result[0] < best[0]:
            best = result
    reps = best[1]
    reps.setflags(write=False)
    return reps


class _DesignFit:
    r"""KernelSHAP on one optimised design, as linear maps computed once (see :func:`_design_fit`).

    On a fixed design with equal weights every step of the fit is linear in
    ``z = (odd values, Delta)`` except the choice of the ridge penalty. So for
    the plain regression and for the cubic surrogate under each penalty of the
    grid the fit is a matrix ``P [M, n+1]`` and its leave-one-out residuals are
    another, ``R [n, n+1]``: a call costs a few matrix-vector products.
    """

    __slots__ = ("operators", "residuals", "choices")

    def __init__(self, reps: np.ndarray):
        n_pairs, n_players = reps.shape
        signs = 2.0 * reps - 1.0
        share = signs.sum(axis=1) / n_players
        basis = _orthonormal_complement_of_ones(n_players)
        design = signs @ basis
        # y = odd - Delta t as a map of z = (odd, Delta)
        to_target = np.concatenate([np.eye(n_pairs), -share[:, None]], axis=1)
        delta_row = np.zeros(n_pairs + 1)
        delta_row[-1] = 1.0
        pinv = np.linalg.pinv(design)
        plain = basis @ pinv @ to_target + np.outer(np.full(n_players, 1.0 / n_players), delta_row)
        operators, residuals = [plain], [None]
        linear, _ = np.linalg.qr(design)
        leverage = np.sum(linear**2, axis=1)
        rest = np.eye(n_pairs) - linear @ linear.T      # projection off the linear columns
        target_rest = rest @ to_target
        if np.all(leverage < 1 - 1e-9):
            residuals[0] = target_rest / (1 - leverage)[:, None]
        triples = _index_triples(n_players)
        cubic = _cubic_columns(signs, triples)
        cubic_rest = rest @ cubic
        kernel = cubic_rest @ cubic_rest.T              # dual form: n x n, whatever the number of triples
        eigenvalues, vectors = np.linalg.eigh(kernel)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        scale = float(np.trace(kernel)) / triples.shape[0]
        incidence = np.zeros((n_players, triples.shape[0]))
        incidence[triples.T, np.arange(triples.shape[0])] = 1.0 / 3.0  # a triple's coefficient, a third each
        projected = vectors.T @ target_rest
        for lam in np.array(_RIDGE_GRID) * scale:
            shrink = eigenvalues / (eigenvalues + lam)
            hat = leverage + (vectors**2) @ shrink
            if np.any(hat >= 1 - 1e-9):
                continue
            fitted = vectors @ (shrink[:, None] * projected)
            gamma = cubic_rest.T @ (vectors @ (projected / (eigenvalues + lam)[:, None]))  # [triples, n+1]
            phi = (basis @ pinv @ (to_target - cubic @ gamma)
                   + np.outer(np.full(n_players, 1.0 / n_players), delta_row - gamma.sum(axis=0))
                   + incidence @ gamma)
            operators.append(phi)
            residuals.append((target_rest - fitted) / (1 - hat)[:, None])
        self.operators = np.stack(operators)
        # the candidates with a leave-one-out error, their residual maps stacked: [candidates * n, n + 1]
        self.choices = [k for k, residual in enumerate(residuals) if residual is not None]
        self.residuals = np.concatenate([residuals[k] for k in self.choices]) if len(operators) > 1 else None

    def __call__(self, z: np.ndarray, surrogate: bool) -> np.ndarray:
        if not surrogate or self.residuals is None:
            return self.operators[0] @ z
        # the leave-one-out error of every candidate at once; the first best wins ties (the plain fit first)
        loo = (self.residuals @ z).reshape(len(self.choices), -1)
        scores = (loo * loo).sum(axis=1)
        return self.operators[self.choices[int(np.argmin(scores))]] @ z


@functools.lru_cache(maxsize=128)
def _design_fit(n_players: int, n_pairs: int) -> _DesignFit:
    """The :class:`_DesignFit` of :func:`optimised_design` ``(n_players, n_pairs)`` (cached)."""
    with _one_blas_thread():
        return _DesignFit(optimised_design(n_players, n_pairs))


def _uses_design(n_players: int, n_pairs: int) -> bool:
    """Whether :func:`kernel_shap` takes ``n_pairs`` pairs from :func:`optimised_design` (else leverage sampling)."""
    return (3 <= n_players <= DESIGN_MAX_PLAYERS and n_pairs <= DESIGN_PAIRS_PER_PLAYER * n_players
            and n_pairs <= 2 ** (n_players - 2))


def kernel_shap_coalitions(n_players: int, *, budget: int, seed: int = 0, design: bool = True) -> torch.Tensor:
    """The coalitions :func:`kernel_shap` evaluates, in its order, without evaluating any.

    The empty and the full coalition, then one representative of every
    complementary pair (size at most M/2), then their complements in the same
    order. See :func:`kernel_shap` for how they are chosen: from an optimised
    design relabelled by the seed at small budgets, by leverage-score sampling
    at larger ones.

    Parameters
    ----------
    n_players : int
    budget : int
        As in :func:`kernel_shap`.
    seed : int, default 0
    design : bool, default True
        As in :func:`kernel_shap`.

    Returns
    -------
    torch.Tensor, bool, [2 + 2 * n_pairs, M]

    Raises
    ------
    TypeError, ValueError
        As :func:`kernel_shap` for the budget and the seed.

    Examples
    --------
    >>> kernel_shap_coalitions(3, budget=8).sum(dim=1).tolist()
    [0, 3, 1, 1, 1, 2, 2, 2]
    """
    n_players = _check_int("n_players", n_players, 1)
    return _coalitions(n_players, _pairs_for_budget(n_players, budget), _check_seed(seed), _check_flag("design", design))[0]


def _pairs_for_budget(n_players: int, budget) -> int:
    """The complementary pairs KernelSHAP evaluates for ``budget`` (checked against the minimum)."""
    if isinstance(budget, bool) or not isinstance(budget, (Integral, np.integer)):
        raise TypeError(f"budget must be an int (coalitions to evaluate); got {budget!r} of type {type(budget).__name__}")
    minimum = kernel_shap_min_budget(n_players)
    if int(budget) < minimum:
        raise ValueError(
            f"budget={int(budget)} is too small for KernelSHAP with M = {n_players} players: the regression needs "
            f"at least {minimum} coalitions (the empty and full ones and {n_players - 1} complementary pairs); "
            f"pass budget >= {minimum}"
        )
    return (min(int(budget), 2**n_players) - 2) // 2


@functools.lru_cache(maxsize=1024)
def _relabelling(n_players: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """The random order of the players that ``seed`` applies to an optimised design, as a read-only
    array and as a tensor (cached)."""
    order = np.random.default_rng(seed).permutation(n_players)
    order.setflags(write=False)
    return order, torch.from_numpy(order.copy())


def _coalitions(n_players: int, n_pairs: int, seed: int, design: bool) -> tuple[torch.Tensor, np.ndarray | None]:
    """:func:`kernel_shap_coalitions` for checked arguments, and the relabelling of the design (None if sampled)."""
    if design and _uses_design(n_players, n_pairs):
        order, columns = _relabelling(n_players, seed)
        # player j takes the design's column order[j]
        return _design_coalitions(n_players, n_pairs).index_select(1, columns), order
    reps = _paired_design(n_players, n_pairs, np.random.default_rng(seed))
    return torch.from_numpy(_with_ends_and_complements(reps)), None


def _with_ends_and_complements(reps: np.ndarray) -> np.ndarray:
    """The empty and the full coalition, the representatives, their complements: bool ``[2 + 2n, M]``."""
    ends = np.zeros((2, reps.shape[1]), dtype=bool)
    ends[1] = True
    return np.concatenate([ends, reps, ~reps])


@functools.lru_cache(maxsize=128)
def _design_coalitions(n_players: int, n_pairs: int) -> torch.Tensor:
    """:func:`_with_ends_and_complements` of :func:`optimised_design` as a tensor (cached: index it, never
    hand it out)."""
    return torch.from_numpy(_with_ends_and_complements(optimised_design(n_players, n_pairs)))


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
      :data:`DESIGN_PAIRS_PER_PLAYER` pairs per player (for 3 to
      :data:`DESIGN_MAX_PLAYERS` players, and at most half of all pairs) the
      pairs are not drawn at random but taken from :func:`optimised_design`: the
      ``n_pairs`` pairs whose equally weighted regression lets the least of a
      third-order interaction into :math:`\phi` (:func:`cubic_leakage`), found
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
      as pairs, and at most :data:`MAX_TRIPLES`). Either way the surrogate's
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
        :func:`kernel_shap_min_budget` (``2M``). Coalitions come in pairs, so
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
    batch_size = _check_int("batch_size", batch_size, 1)
    n_pairs = _pairs_for_budget(n_players, budget)
    Z, order = _coalitions(n_players, n_pairs, _check_seed(seed), _check_flag("design", design))
    surrogate = _check_flag("surrogate", surrogate)
    values, dtype = _evaluate(game, Z, batch_size)
    v_empty, v_full = values[0], values[1]
    if n_players == 1:
        return _result(np.array([v_full - v_empty]), dtype)
    odd = values[2:2 + n_pairs] - values[2 + n_pairs:]
    if order is not None:  # an optimised design: its fit is computed once; the relabelling maps it back
        z = np.empty(n_pairs + 1)  # (odd values, Delta)
        z[:n_pairs], z[n_pairs] = odd, v_full - v_empty
        return _result(_design_fit(n_players, n_pairs)(z, surrogate)[order], dtype)
    reps = Z[2:2 + n_pairs].numpy()
    group = reps.sum(axis=1)  # a representative's size, at most M/2
    counts = np.bincount(group, minlength=n_players + 1)
    middle = 2 * group == n_players
    # pair weight: its two coalitions' (M-1)/(s(M-s)n_s); n_s counts coalitions of size s
    weights = (n_players - 1) / (group * (n_players - group) * counts[group]) * np.where(middle, 1.0, 2.0)
    complete = n_pairs == 2 ** (n_players - 1) - 1
    with _one_blas_thread():
        phi = _fit_pairs(reps, odd, weights, v_full - v_empty, surrogate and not complete)
    return _result(phi, dtype)


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
    n_permutations = _check_int("n_permutations", n_permutations, 1)
    seed = _check_seed(seed)
    batch_size = _check_int("batch_size", batch_size, 1)
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
    restored afterwards. shap's warning that its regression is singular (budgets
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
    budget = _check_int("budget", budget, 4)
    seed = _check_seed(seed)

    def model(rows):
        Z = torch.from_numpy(np.asarray(rows) > 0.5)
        values, _ = _evaluate(game, Z, _DEFAULT_BATCH)
        return values

    logging.getLogger("shap").setLevel(logging.WARNING)
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
    return torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(n_players))


# --------------------------------------------------------------------------- games given by tables


class TableGame:
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
    n_evaluations : int
        Coalitions evaluated so far.

    Raises
    ------
    TypeError, ValueError
        For a coalition naming an unknown player, a missing coalition, a worth
        that is not a finite number, or neither ``n_players`` nor ``players``.

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
        self.n_players = _check_int("n_players", n_players, 1)
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
        self.n_evaluations = 0

    @classmethod
    def _from_table(cls, table: torch.Tensor, players) -> "TableGame":
        game = cls.__new__(cls)
        game.n_players, game.players = len(players), list(players)
        game.table, game.n_evaluations = table, 0
        return game

    def __call__(self, Z) -> torch.Tensor:
        Z = torch.as_tensor(Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_players:
            raise ValueError(f"Z must be [n, M] with M = {self.n_players}; got shape {tuple(Z.shape)}")
        codes = (Z.to(torch.int64) << torch.arange(self.n_players)).sum(dim=1)
        self.n_evaluations += int(Z.shape[0])
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
