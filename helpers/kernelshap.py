r"""The machinery of KernelSHAP: which coalitions to evaluate and how to fit them.

:func:`helpers.shapley.kernel_shap` is three steps: choose coalitions, evaluate
the game on them, fit a constrained weighted regression. This module holds the
first and the last, the parts that make the estimator accurate at small budgets
(its docstring gives the maths and the papers):

- **Coalitions.** :func:`kernel_shap_coalitions` (every coalition comes with its
  complement); at small budgets an :func:`optimised_design` (the pairs that let
  the least of a third-order interaction into the values, measured by
  :func:`cubic_leakage`, found once per ``(M, pairs)`` and relabelled by each
  seed); at larger ones leverage-score sampling of coalition sizes
  (:func:`leverage_pair_allocation`: every size gets the same count) and
  uniform, balanced subsets within a size, without replacement.
- **The fit.** :func:`kernel_shap_regression`: efficiency exact by
  projection, paired rows, and a cubic surrogate (regression adjustment) under
  a ridge penalty picked by leave-one-out error; on a design every candidate
  fit is a linear map computed once.

Nothing here evaluates a model; :mod:`helpers.shapley` keeps the game theory
and the estimators' entry points.

Lundberg and Lee, 2017, arXiv 1705.07874; Covert and Lee, 2021, arXiv
2012.01536; Musco and Witter, 2024, arXiv 2410.01917; Witter, Liu and Musco,
2025, arXiv 2506.11849.

Taught, as "going further", in ``notebooks/05_shap.ipynb``.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch

from .checks import check_bool, check_int, check_seed

__all__ = [
    "kernel_shap_min_budget",
    "kernel_shap_coalitions",
    "paired_coalitions",
    "pairs_for_budget",
    "leverage_pair_allocation",
    "kernel_shap_regression",
    "optimised_design",
    "cubic_leakage",
    "MAX_TRIPLES",
    "DESIGN_PAIRS_PER_PLAYER",
    "DESIGN_MAX_PLAYERS",
    "LARGE_PLAYERS",
]


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
    the groups furthest below their share. Capacities are exact Python ints and
    are never converted to floats, so any number of players works.
    """
    share = [g[2] for g in groups]
    capacity = [g[1] for g in groups]
    # sorted by capacity / share, compared in log space: C(M, M/2) overflows a float from M = 1030 on
    # (math.log takes Python ints of any size; every other step compares ints with floats exactly)
    order = sorted(range(len(groups)), key=lambda g: math.log(capacity[g]) - math.log(share[g]))
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
    n_players = check_int("n_players", n_players, 1)
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
def leverage_pair_allocation(n_players: int, n_pairs: int) -> tuple[tuple, tuple]:
    """How leverage-score sampling shares ``n_pairs`` complementary pairs among the coalition sizes (cached).

    Returns ``(groups, pairs)``: the groups of :func:`_size_groups` as
    ``(k, capacity in pairs, sizes covered per pair)`` (group ``k`` pairs the
    coalitions of size ``k`` with their complements of size ``M - k``) and the
    pairs each group gets (:func:`_allocate_pairs`: every size the same count,
    small sizes enumerated whole first).

    Examples
    --------
    >>> leverage_pair_allocation(4, 5)[1]  # coalitions of sizes 1, 2, 3: 3, 4 and 3
    (3, 2)
    """
    groups = _size_groups(n_players)
    return tuple(groups), tuple(_allocate_pairs(groups, n_pairs))


def _paired_design(n_players: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Representatives ``[n_pairs, M]`` of the complementary pairs KernelSHAP evaluates (see its Notes)."""
    groups, pairs = leverage_pair_allocation(n_players, n_pairs)
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


# --------------------------------------------------------------------------- the paired, constrained regression (and its cubic surrogate)


#: From this many players on, the linear fit factorises its normal equations (Cholesky) instead of
#: taking an SVD, and the basis below is a Householder reflection instead of a QR factorisation: both
#: O(M^2) or a few matrix products instead of O(M^3) with a large constant (at M = 2000, 2 s instead of
#: 16 s). Below it, the SVD's minimum-norm answer covers rows that leave a direction open.
LARGE_PLAYERS = 256


@functools.lru_cache(maxsize=64)
def _orthonormal_complement_of_ones(n_players: int) -> np.ndarray:
    """An orthonormal basis ``[M, M-1]`` of the vectors whose entries sum to zero (read-only, cached)."""
    if n_players > LARGE_PLAYERS:
        # the reflection H = I - 2 u u^T swapping e_M and 1/sqrt(M): its first M - 1 columns are orthogonal
        # to its last, 1/sqrt(M), so they span the zero-sum vectors
        u = np.full(n_players, -1.0 / math.sqrt(n_players))
        u[-1] += 1.0
        u /= np.linalg.norm(u)
        basis = np.eye(n_players)[:, : n_players - 1] - 2.0 * np.outer(u, u[: n_players - 1])
    else:
        basis, _ = np.linalg.qr(np.eye(n_players)[:, : n_players - 1] - 1.0 / n_players)
    basis.setflags(write=False)
    return basis


def _cholesky_solver(design: np.ndarray):
    """``(upper, solve)`` from the normal equations of a full-rank ``design``, or None if it is near singular.

    ``upper`` is the Cholesky factor ``R`` of ``design^T design`` (so ``design = Q R`` with
    ``Q = design R^{-1}``, see :func:`_column_basis`); ``solve(rhs) = R^{-1} R^{-T} design^T rhs`` is the
    least-squares solution.
    """
    from scipy import linalg

    gram = design.T @ design
    try:
        upper = linalg.cholesky(gram, lower=False, check_finite=False)
    except linalg.LinAlgError:
        return None
    pivots = np.diagonal(upper) ** 2
    if not pivots.min() > 1e-8 * gram.diagonal().max():  # ill-conditioned: let the SVD decide
        return None

    def solve(rhs):
        inner = linalg.solve_triangular(upper, design.T @ rhs, trans="T", check_finite=False)
        return linalg.solve_triangular(upper, inner, check_finite=False)

    return upper, solve


def _column_basis(design: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``Q = design R^{-1}``: orthonormal columns spanning ``design``'s (from :func:`_cholesky_solver`)."""
    from scipy import linalg

    return linalg.solve_triangular(upper, design.T, trans="T", check_finite=False).T


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
    # for the surrogate, the projection onto the linear columns (many players: the normal equations)
    factors = _cholesky_solver(design) if n_players > LARGE_PLAYERS else None
    if factors is not None:
        upper, solve = factors
        left = None  # computed below if the surrogate needs it
    else:
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
    if left is None:
        left = _column_basis(design, upper)
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
    n_players = check_int("n_players", n_players, 3)
    n_pairs = check_int("n_pairs", n_pairs, n_players - 1)
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


# --------------------------------------------------------------------------- the coalitions kernel_shap evaluates


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
    n_players = check_int("n_players", n_players, 1)
    return paired_coalitions(n_players, pairs_for_budget(n_players, budget), check_seed(seed), check_bool("design", design))[0]


def pairs_for_budget(n_players: int, budget) -> int:
    """The complementary pairs KernelSHAP evaluates for ``budget`` (checked against the minimum).

    ``(min(budget, 2**M) - 2) // 2``: the empty and the full coalition, then pairs.

    Raises
    ------
    TypeError
        For a ``budget`` that is not an int.
    ValueError
        For a ``budget`` below :func:`kernel_shap_min_budget` (the message says it).

    Examples
    --------
    >>> pairs_for_budget(10, 41)
    19
    """
    budget = check_int("budget", budget)  # coalitions to evaluate
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


def paired_coalitions(n_players: int, n_pairs: int, seed: int, design: bool) -> tuple[torch.Tensor, np.ndarray | None]:
    """:func:`kernel_shap_coalitions` for checked arguments, and the relabelling of the design.

    Returns
    -------
    coalitions : torch.Tensor, bool, [2 + 2 * n_pairs, M]
        The empty and the full coalition, the pairs' representatives, their
        complements (read-only where cached: index it, do not write to it).
    relabelling : numpy array [M] or None
        For an optimised design, the random order of the players that ``seed``
        applies to it (player ``j`` takes the design's column ``relabelling[j]``);
        None for sampled coalitions. :func:`kernel_shap_regression` needs it.
    """
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


# --------------------------------------------------------------------------- kernel_shap's fit


def kernel_shap_regression(coalitions: torch.Tensor, values: np.ndarray, relabelling: np.ndarray | None = None, *,
                           surrogate: bool = True) -> np.ndarray:
    r"""KernelSHAP's fit: the Shapley values from the worths of the coalitions :func:`paired_coalitions` chose.

    The paired, efficiency-constrained weighted regression of
    :func:`helpers.shapley.kernel_shap` (its docstring gives the maths). On an
    optimised design (``relabelling`` given) the fit is the cached linear map of
    the design, mapped back through the relabelling; on sampled coalitions each
    pair gets the weight :math:`(M-1)/(s(M-s)n_s)` (times 2 for two sizes) and
    the regression is solved by one SVD, with the cubic surrogate when asked.

    Parameters
    ----------
    coalitions : bool tensor [2 + 2n, M]
        In :func:`kernel_shap_coalitions`' order: empty, full, representatives,
        complements.
    values : float64 array [2 + 2n]
        The game's worth of every coalition.
    relabelling : int array [M], optional
        As returned by :func:`paired_coalitions` (None for sampled coalitions).
    surrogate : bool, default True

    Returns
    -------
    numpy array, float64, [M]
        They sum to ``values[1] - values[0]`` (to rounding).

    Examples
    --------
    >>> Z, order = paired_coalitions(3, 3, 0, True)
    >>> values = Z.double().numpy() @ np.array([1.0, 2.0, 3.0])
    >>> np.round(kernel_shap_regression(Z, values, order), 6).tolist()
    [1.0, 2.0, 3.0]
    """
    n_pairs, n_players = (coalitions.shape[0] - 2) // 2, coalitions.shape[1]
    v_empty, v_full = values[0], values[1]
    if n_players == 1:
        return np.array([v_full - v_empty])
    odd = values[2:2 + n_pairs] - values[2 + n_pairs:]
    if relabelling is not None:  # an optimised design: its fit is computed once; the relabelling maps it back
        z = np.empty(n_pairs + 1)  # (odd values, Delta)
        z[:n_pairs], z[n_pairs] = odd, v_full - v_empty
        return _design_fit(n_players, n_pairs)(z, surrogate)[relabelling]
    reps = coalitions[2:2 + n_pairs].numpy()
    group = reps.sum(axis=1)  # a representative's size, at most M/2
    counts = np.bincount(group, minlength=n_players + 1)
    middle = 2 * group == n_players
    # pair weight: its two coalitions' (M-1)/(s(M-s)n_s); n_s counts coalitions of size s
    weights = (n_players - 1) / (group * (n_players - group) * counts[group]) * np.where(middle, 1.0, 2.0)
    complete = n_pairs == 2 ** (n_players - 1) - 1
    with _one_blas_thread():
        return _fit_pairs(reps, odd, weights, v_full - v_empty, surrogate and not complete)
