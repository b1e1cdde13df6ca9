r"""Ranks: the order an explanation puts the features in, and how two orders compare.

- :func:`tied_ranks` (:data:`TIE_TOLERANCE`) -- ranks with ties that do not depend on float rounding.
- :func:`rank_correlation` -- Spearman's rank correlation of two maps, one number per example;
  :func:`pair_rank_correlation` for two vectors.
- :func:`topk_overlap` -- the share of the top ``k`` features two explanations have in common.
- :func:`ranking` -- the players from the highest attribution to the lowest.

Every other family of :mod:`helpers.metrics` compares explanations through these.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import check_float, check_int, check_maps

__all__ = ["TIE_TOLERANCE", "tied_ranks", "rank_correlation", "pair_rank_correlation", "topk_overlap", "ranking"]


#: Values of one map closer than this share of its largest ``|value|`` are ties (see :func:`tied_ranks`).
TIE_TOLERANCE = 1e-6


def tied_ranks(values: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    r"""Ranks 1..n of each row of ``values`` [B, n], ties getting their average rank.

    Two values are tied when, in sorted order, they are closer than ``tolerance``
    times the row's largest ``|value|`` (a chain of such neighbours is one tie). A
    map often holds values that are equal in exact arithmetic (Grad-CAM's upsampled
    blocks, the patches of a segment, the zeros after a ReLU) but computed by
    different sums, so that on one CPU they are equal and on another one unit in the
    last place apart; exact ties would rank them differently on the two machines,
    ties within a tolerance far above float32 rounding (about 1e-7) and far below
    the values' real differences rank them alike. ``tolerance=0`` gives exact ties
    (``scipy.stats.rankdata``).

    Examples
    --------
    >>> tied_ranks(np.array([[1.0, 1.0 + 1e-9, 3.0, 0.5]])).tolist()
    [[2.5, 2.5, 4.0, 1.0]]
    """
    values = np.asarray(values, dtype=np.float64)
    n_rows, n = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    scale = np.abs(values).max(axis=1, keepdims=True) if n else np.zeros((n_rows, 1))
    starts = np.diff(ordered, axis=1) > tolerance * scale  # a new tie group begins
    group = np.concatenate([np.zeros((n_rows, 1), dtype=np.int64), np.cumsum(starts, axis=1)], axis=1)
    group += np.arange(n_rows)[:, None] * n  # group ids unique across rows
    position = np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), (n_rows, n))
    mean_position = np.bincount(group.ravel(), position.ravel(), n_rows * n) / np.maximum(
        np.bincount(group.ravel(), minlength=n_rows * n), 1)
    ranks = np.empty_like(values)
    np.put_along_axis(ranks, order, mean_position[group], axis=1)
    return ranks


def rank_correlation(a: torch.Tensor, b: torch.Tensor, *, players=None, tie_tolerance: float = TIE_TOLERANCE) -> torch.Tensor:
    r"""Spearman's rank correlation between two maps, one number per example.

    The Pearson correlation of the ranks of the values of ``a[i]`` and ``b[i]``
    (ties get their average rank; values closer than :data:`TIE_TOLERANCE` of
    the map's largest ``|value|`` are ties, :func:`tied_ranks`): 1 when the two
    maps order the inputs identically, whatever their scales.

    Parameters
    ----------
    a, b : torch.Tensor, [B, ...], same shape
    players : bool tensor [M] or [B, M], optional
        Compare each pair of maps on these features only (``M`` = the features of one
        flattened map; one mask for all rows or one per row), e.g. leaving out the dummy
        players, whose values are 0 for exact methods and noise for sampled ones and whose
        ties would otherwise count as agreement. A row with fewer than 2 features gives NaN.
    tie_tolerance : float, default :data:`TIE_TOLERANCE`
        Of :func:`tied_ranks`; 0 gives exact ties (Spearman as in SciPy and Quantus).

    Returns
    -------
    torch.Tensor, float64, [B]
        NaN for an example whose map is constant (no ranking to compare).

    Raises
    ------
    TypeError, ValueError
        For non-tensors, empty batches, maps with NaN/Inf or without values
        (:func:`~helpers.checks.check_maps`), or shapes that differ.

    Examples
    --------
    >>> float(rank_correlation(torch.tensor([[1., 2., 3.]]), torch.tensor([[10., 20., 30.]]))[0])
    1.0
    """
    check_maps("a", a)
    check_maps("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be batches [B, ...] of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    tie_tolerance = check_float("tie_tolerance", tie_tolerance, minimum=0.0)
    flat_a = a.detach().reshape(a.shape[0], -1).cpu().double().numpy()
    flat_b = b.detach().reshape(b.shape[0], -1).cpu().double().numpy()
    if players is not None:
        mask = _check_players(players, flat_a.shape)
        return torch.tensor([_spearman(flat_a[i:i + 1, m], flat_b[i:i + 1, m], tie_tolerance)[0] if m.sum() >= 2
                             else np.nan for i, m in enumerate(mask)], dtype=torch.float64)
    return torch.from_numpy(_spearman(flat_a, flat_b, tie_tolerance))


def _check_players(players, shape: tuple) -> np.ndarray:
    """A bool mask ``[B, M]`` from ``players`` ``[M]`` or ``[B, M]``."""
    if not isinstance(players, torch.Tensor) or players.dtype != torch.bool:
        raise TypeError(f"players must be a bool tensor [M] or [B, M]; got {getattr(players, 'dtype', type(players).__name__)}")
    mask = players.detach().cpu().numpy()
    if mask.shape not in ((shape[1],), shape):
        raise ValueError(f"players must be [M] = [{shape[1]}] or [B, M] = {list(shape)}; got {list(mask.shape)}")
    return np.broadcast_to(mask, shape)


def _spearman(a: np.ndarray, b: np.ndarray, tie_tolerance: float) -> np.ndarray:
    """Spearman's correlation of each row pair of ``a`` and ``b`` [B, M]; NaN where a row's ranks are constant."""
    ra, rb = tied_ranks(a, tie_tolerance), tied_ranks(b, tie_tolerance)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / denominator
    return np.where(denominator > 0, rho, np.nan)


def _check_vector_pair(a, b) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = []
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a tensor [M] of weights; got {type(value).__name__}")
        if value.dtype == torch.bool or torch.is_complex(value):
            raise TypeError(f"{name} must hold real weights; got dtype {value.dtype}")
        tensors.append(value.detach().to("cpu", torch.float64))
    a, b = tensors
    if a.ndim != 1 or a.shape != b.shape or a.numel() < 2:
        raise ValueError(f"a and b must be vectors [M] of the same length >= 2; got {tuple(a.shape)} and {tuple(b.shape)}")
    for name, value in (("a", a), ("b", b)):
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be finite; it holds {int((~torch.isfinite(value)).sum())} NaN or Inf value(s)")
    return a, b


def topk_overlap(a, b, k: int) -> float:
    """Share of the ``k`` features of largest ``|weight|`` that two explanations have in common.

    Ties (within :data:`TIE_TOLERANCE`, as in :func:`ranking`) are broken by the lower
    feature index. 1 means the same top ``k``.

    Parameters
    ----------
    a, b : torch.Tensor, [M]
    k : int, 1 <= k <= M

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> topk_overlap(torch.tensor([3.0, -2.0, 0.1]), torch.tensor([0.5, 4.0, 1.0]), 2)
    0.5
    """
    a, b = _check_vector_pair(a, b)
    k = check_int("k", k, 1)
    if k > a.numel():
        raise ValueError(f"k must be at most M = {a.numel()}; got {k}")
    top_a = set(ranking(a.abs())[:k].tolist())
    top_b = set(ranking(b.abs())[:k].tolist())
    return len(top_a & top_b) / k


def pair_rank_correlation(a, b) -> float:
    """Spearman's rank correlation of two explanations' (signed) weights, as a float.

    The one-pair form of :func:`rank_correlation` (ties get their average rank);
    0 when either vector is constant. ``helpers.lime.rank_correlation`` is this
    function.

    Parameters
    ----------
    a, b : torch.Tensor, [M], M >= 2

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> pair_rank_correlation(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10.0, 20.0, 30.0]))
    1.0
    """
    a, b = _check_vector_pair(a, b)
    rho = float(rank_correlation(a[None], b[None])[0])
    return 0.0 if np.isnan(rho) else rho


def ranking(attributions: torch.Tensor) -> torch.Tensor:
    """The players from the highest attribution to the lowest, ties broken by the lower index.

    Attributions closer than :data:`TIE_TOLERANCE` of the largest ``|attribution|``
    are ties (:func:`tied_ranks`), so that values equal up to float32 rounding are
    ordered alike on every machine.

    Examples
    --------
    >>> ranking(torch.tensor([0.5, 2.0, 0.5, -1.0])).tolist()
    [1, 0, 2, 3]
    """
    if not isinstance(attributions, torch.Tensor) or attributions.ndim != 1:
        raise ValueError(f"attributions must be a tensor [M]; got {getattr(attributions, 'shape', type(attributions).__name__)}")
    ranks = tied_ranks(attributions.detach().to("cpu", torch.float64).numpy()[None])[0]
    return torch.from_numpy(np.argsort(-ranks, kind="stable"))
