r"""Stability: how much an explanation changes when nothing that matters changes.

One definition for every method, taught in notebooks 03 (gradients), 04 (LIME) and 06 (all):

- :func:`noisy_copies`, :func:`noise_stability` -- the same method on the input and on the
  input plus imperceptible noise (per-example noise, :func:`helpers.seeding.example_normal`),
  compared by rank correlation (Smilkov et al. 2017; Ghorbani, Abid and Zou 2017).
- :func:`seed_stability`, :class:`SeedStability` -- runs of any seeded method that differ only
  in their seed; :func:`stability_across_inputs` does it for a coalition method on many inputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_batch, check_explanation, check_float, check_int, check_interval, check_model, check_seed
from ..features import CoalitionGame
from ..lime import lime
from ..scores import chunk_rows, resolve_targets
from ..seeding import example_normal
from .ranks import pair_rank_correlation, rank_correlation, topk_overlap

__all__ = ["noisy_copies", "noise_stability", "SeedStability", "seed_stability", "stability_across_inputs"]


def noisy_copies(x: torch.Tensor, *, noise_std: float, seed: int = 0, clip=None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``noise_std``, optionally clipped.

    The noise is :func:`helpers.seeding.example_normal` (the same for the same example and seed,
    whatever else is in the batch). With ``clip=(low, high)`` the noisy inputs are
    clamped to the valid range (``(0.0, 1.0)`` for the course's digits), so that
    they stay images the model could meet: background pixels at 0 only ever get
    brighter.

    Parameters
    ----------
    x : torch.Tensor, float, [B, ...]
    noise_std : float >= 0
    seed : int, default 0
    clip : None or (float, float), default None

    Returns
    -------
    torch.Tensor, shape of ``x`` (a new tensor; ``x`` is not changed)

    Examples
    --------
    >>> noisy = noisy_copies(torch.zeros(2, 5), noise_std=0.1, clip=(0.0, 1.0))
    >>> bool((noisy >= 0).all())
    True
    """
    noise_std = check_float("noise_std", noise_std, minimum=0.0)
    clip = check_interval("clip", clip)
    noisy = x.detach() + noise_std * example_normal(x, seed)
    return noisy if clip is None else noisy.clamp(*clip)


def noise_stability(
    method,
    model,
    x: torch.Tensor,
    target=None,
    *,
    noise_std: float,
    seed: int = 0,
    clip=None,
    players=None,
    **options,
) -> torch.Tensor:
    r"""Rank correlation between a method's map of ``x`` and of ``x`` plus small noise.

    Adds Gaussian noise of standard deviation ``noise_std`` (in the input's
    units) to every value with :func:`noisy_copies` (each example's noise
    depends only on the example and ``seed``; ``clip=(0.0, 1.0)`` keeps the noisy
    digits in the valid pixel range), explains the SAME class in both inputs (the
    prediction at ``x`` when ``target`` is None) and returns
    :func:`rank_correlation` of the two maps: near 1 for a stable method, lower
    when an imperceptible change of the input reorders the map. The
    instability that Smilkov et al. (2017, arXiv 1706.03825) and Ghorbani,
    Abid and Zou (2017, arXiv 1710.10547) describe. A sampling method gets the
    same ``options`` (its own ``seed`` included) for both maps, so only the input
    changes.

    Parameters
    ----------
    method : callable
        ``method(model, x, targets, **options) -> maps [B, ...]``: a gradient
        method such as :func:`helpers.saliency.gradient`, or any explainer with
        that calling convention (notebook 06 wraps LIME and SHAP that way).
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B]
    noise_std : float
        Standard deviation of the noise (e.g. 0.02 for digits in [0, 1]: about 5 grey levels of 255).
    seed : int, default 0
        Seed of the input noise (``options`` may carry the method's own ``seed``).
    clip : None or (low, high), default None
        Clamp the noisy inputs to this range (``(0.0, 1.0)`` for digits).
    players : bool tensor [M] or [B, M], optional
        Compare the maps on these features only (:func:`rank_correlation`), e.g. the
        patches that are not blank in the clean digit.
    **options
        Passed to ``method``.

    Returns
    -------
    torch.Tensor, float64, [B]

    Raises
    ------
    TypeError, ValueError
        For a method that is not callable, a model that is not an ``nn.Module``,
        an ``x`` that is not a finite float batch, a negative ``noise_std``, a bad ``clip``.

    Examples
    --------
    >>> rho = noise_stability(gradient, model, X_test[:100], noise_std=0.02, clip=(0.0, 1.0))  # doctest: +SKIP
    >>> float(rho.median())  # doctest: +SKIP
    """

    if not callable(method):
        raise TypeError(f"method must be a gradient method such as helpers.saliency.gradient; got {method!r}")
    check_model(model, purpose="gradient methods need its modules and parameters")
    check_batch(x)
    noisy = noisy_copies(x, noise_std=noise_std, seed=seed, clip=clip)
    targets = resolve_targets(model, x, target, chunk_rows(None, x))
    clean = check_explanation("method", method(model, x, targets, **options), x.shape[0])
    changed = check_explanation("method", method(model, noisy, targets, **options), x.shape[0])
    return rank_correlation(clean, changed, players=players)


@dataclass
class SeedStability:
    """Agreement of runs of a seeded method that differ only in their seed.

    Attributes
    ----------
    weights : torch.Tensor, float64, [S, M]
        One explanation per seed (flattened).
    topk_overlap : float
        Mean over pairs of seeds of :func:`~helpers.metrics.ranks.topk_overlap`.
    rank_correlation : float
        Mean over pairs of seeds of :func:`~helpers.metrics.ranks.pair_rank_correlation`.
    k : int
    """

    weights: torch.Tensor
    topk_overlap: float
    rank_correlation: float
    k: int


def seed_stability(explain, seeds=(0, 1, 2, 3, 4), *, k: int = 3, players=None) -> SeedStability:
    """Explain the same input once per seed and measure how much the runs agree.

    One definition for every seeded method: LIME, KernelSHAP, permutation SHAP,
    SmoothGrad (notebooks 04 and 06 compare them with it).

    Parameters
    ----------
    explain : callable
        ``explain(seed) -> tensor`` (any shape, flattened to ``[M]``), e.g.
        ``lambda seed: lime(game, n_samples=500, seed=seed)``.
    seeds : sequence of int, at least two
    k : int, default 3
        For :func:`~helpers.metrics.ranks.topk_overlap`.
    players : bool tensor [M], optional
        Compare the runs on these features only (e.g. ``~game.dummy_players``,
        leaving out features that cannot matter and whose weights are pure
        noise around 0). ``weights`` still holds every feature.

    Returns
    -------
    SeedStability

    Examples
    --------
    >>> stability = seed_stability(lambda seed: lime(game, seed=seed), seeds=range(5), k=3)  # doctest: +SKIP
    >>> round(stability.rank_correlation, 3)  # doctest: +SKIP
    """
    if not callable(explain) or hasattr(explain, "n_players"):
        what = "a coalition game (pass lambda seed: lime(game, seed=seed))" if hasattr(explain, "n_players") else repr(explain)
        raise TypeError(f"explain must be a function of the seed, explain(seed) -> tensor; got {what}")
    seeds = [check_seed(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least two seeds to compare; got {seeds!r}")
    weights = torch.stack([torch.as_tensor(explain(s)).detach().to("cpu", torch.float64).reshape(-1) for s in seeds])
    n_players = weights.shape[1]
    k = check_int("k", k, 1)
    if k > n_players:
        raise ValueError(f"k must be at most M = {n_players}; got {k}")
    if players is None:
        players = torch.ones(n_players, dtype=torch.bool)
    elif not isinstance(players, torch.Tensor) or players.dtype != torch.bool or players.shape != (n_players,):
        raise ValueError(f"players must be a bool tensor [M] = [{n_players}]; got {getattr(players, 'shape', players)!r}")
    players = players.cpu()
    if int(players.sum()) < max(2, k):
        raise ValueError(f"players must select at least max(2, k) = {max(2, k)} features; got {int(players.sum())}")
    pairs = list(itertools.combinations(range(len(seeds)), 2))
    chosen = weights[:, players]
    overlap = float(np.mean([topk_overlap(chosen[i], chosen[j], k) for i, j in pairs]))
    correlation = float(np.mean([pair_rank_correlation(chosen[i], chosen[j]) for i, j in pairs]))
    return SeedStability(weights, overlap, correlation, k)


def stability_across_inputs(
    model,
    inputs: torch.Tensor,
    segments,
    *,
    baseline="segment_mean",
    target=None,
    output: str = "score",
    method=lime,
    seeds=(0, 1, 2, 3, 4),
    k: int = 3,
    ignore_dummies: bool = True,
    **options,
) -> dict:
    """:func:`seed_stability` of a coalition method on many inputs: one :class:`~helpers.features.CoalitionGame` each.

    Parameters
    ----------
    model : torch.nn.Module or callable
    inputs : torch.Tensor [N, ...]
        Each row is explained separately (e.g. ``X_test[:10]``).
    segments : int tensor, the trailing shape of one input
    baseline, target, output
        As in :class:`~helpers.features.CoalitionGame` (the same for every input).
    method : callable, default :func:`helpers.lime.lime`
        A seeded coalition method ``method(game, seed=..., **options) -> [M]``.
    seeds, k
        As in :func:`seed_stability`.
    ignore_dummies : bool, default True
        Compare the runs on the features that can matter only
        (``~game.dummy_players``): the weights of features whose segment already
        holds the baseline are noise around 0 and would drag the rank correlation
        down for no reason.

    Returns
    -------
    dict
        ``{"topk_overlap": tensor [N], "rank_correlation": tensor [N], "n_players": tensor [N],
        "rank_correlation_all": tensor [N]}``: the mean pairwise measures for each input,
        ``n_players`` the features compared, and ``rank_correlation_all`` the rank
        correlation over every feature, dummies included (same runs, no extra cost).
    **options
        Passed to ``method`` (e.g. ``n_samples=1000, kernel_width=0.25`` for LIME).

    Examples
    --------
    >>> result = stability_across_inputs(model, X_test[:10], grid_segments((28, 28), 7))  # doctest: +SKIP
    >>> float(result["topk_overlap"].mean())  # doctest: +SKIP
    """
    if not callable(method):
        raise TypeError(f"method must be a coalition method method(game, seed=..., **options); got {method!r}")
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 2 or inputs.shape[0] < 1:
        raise ValueError(f"inputs must be a batch [N, ...] with N >= 1; got {getattr(inputs, 'shape', inputs)!r}")
    overlaps, correlations, counts, correlations_all = [], [], [], []
    for x in inputs:
        game = CoalitionGame(model, x, segments, baseline=baseline, target=target, output=output)
        players = ~game.dummy_players if ignore_dummies else None
        result = seed_stability(lambda seed: method(game, seed=seed, **options), seeds, k=k, players=players)
        overlaps.append(result.topk_overlap)
        correlations.append(result.rank_correlation)
        counts.append(game.n_players if players is None else int(players.sum()))
        pairs = itertools.combinations(range(result.weights.shape[0]), 2)
        correlations_all.append(float(np.mean([pair_rank_correlation(result.weights[i], result.weights[j])
                                               for i, j in pairs])))
    return {
        "topk_overlap": torch.tensor(overlaps, dtype=torch.float64),
        "rank_correlation": torch.tensor(correlations, dtype=torch.float64),
        "n_players": torch.tensor(counts),
        "rank_correlation_all": torch.tensor(correlations_all, dtype=torch.float64),
    }
