r"""Agreement between methods, and the budget a sampled method needs.

- :func:`agreement` -- the median rank correlation between every pair of methods' explanations.
- :func:`budget_to_reach` -- the smallest budget at which an estimator's error falls below a target.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..checks import check_choice, check_float, check_int, check_maps
from .ranks import rank_correlation

__all__ = ["agreement", "budget_to_reach"]


def agreement(explanations: dict, *, players=None) -> tuple[list, torch.Tensor]:
    """Median rank correlation between every pair of methods' explanations of the same inputs.

    Parameters
    ----------
    explanations : dict of name -> torch.Tensor [B, M]
        One row per input, one column per player (segment sums for pixel methods).
    players : bool tensor [M] or [B, M], optional
        Compare on these players only (:func:`rank_correlation`), e.g. leaving out dummies.

    Returns
    -------
    (names, matrix) : list of str, torch.Tensor float64 [K, K]
        ``matrix[i, j]`` is the median over inputs of :func:`rank_correlation` of
        method i's and method j's explanations (NaN rows, constant maps, left out).

    Examples
    --------
    >>> names, matrix = agreement({"a": torch.rand(4, 16), "b": torch.rand(4, 16)})
    >>> float(matrix[0, 0])
    1.0
    """
    if not isinstance(explanations, dict) or len(explanations) < 2:
        raise ValueError("explanations must be a dict of at least two name -> tensor [B, M]")
    names = list(explanations)
    for name in names:
        check_maps(f"explanations[{name!r}]", torch.as_tensor(explanations[name]))
    shapes = {tuple(torch.as_tensor(v).shape) for v in explanations.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every explanation must be a tensor [B, M] of the same shape; got shapes {sorted(shapes)}")
    matrix = torch.ones(len(names), len(names), dtype=torch.float64)
    for i, j in itertools.combinations(range(len(names)), 2):
        rho = rank_correlation(torch.as_tensor(explanations[names[i]]), torch.as_tensor(explanations[names[j]]),
                               players=players)
        matrix[i, j] = matrix[j, i] = float(np.nanmedian(rho.numpy())) if bool(torch.isfinite(rho).any()) else float("nan")
    return names, matrix


def budget_to_reach(errors: np.ndarray, budgets, target: float, *, statistic: str = "median"):
    """The smallest budget whose (median) error is at most ``target``, or None if none is.

    Parameters
    ----------
    errors : array [len(budgets), n_seeds]
        One row per budget (e.g. a value of :func:`helpers.shapley.budget_errors`).
    budgets : sequence of int (any order)
    target : float > 0
    statistic : {"median", "max"}, default "median"

    Returns
    -------
    int or None

    Examples
    --------
    >>> budget_to_reach(np.array([[0.5, 0.3], [0.05, 0.02]]), [10, 20], 0.1)
    20
    """
    errors = np.asarray(errors, dtype=float)
    budgets = [check_int("budget", b, 1) for b in budgets]
    if errors.ndim != 2 or errors.shape[0] != len(budgets):
        raise ValueError(f"errors must be [len(budgets), seeds] = [{len(budgets)}, n]; got shape {errors.shape}")
    if not np.isfinite(errors).all():
        raise ValueError(f"errors must be finite; they hold {int((~np.isfinite(errors)).sum())} NaN or Inf value(s)")
    target = check_float("target", target, positive=True)
    statistic = check_choice("statistic", statistic, ("median", "max"))
    summary = np.median(errors, axis=1) if statistic == "median" else errors.max(axis=1)
    reached = [budget for budget, value in zip(budgets, summary) if value <= target]
    return min(reached) if reached else None  # the smallest, whatever the order the budgets came in
