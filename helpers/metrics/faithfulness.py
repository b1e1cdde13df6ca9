r"""Faithfulness: do the features an explanation ranks first matter most to the model?

Deletion and insertion curves (Petsiuk, Das and Saenko 2018, arXiv 1806.07421; "pixel flipping",
Bach et al. 2015, PLoS ONE 10(7) e0130140): remove (or add) the features in the order an
explanation ranks them and watch the game's value.

- :func:`deletion_curve`, :func:`insertion_curve` -- the curve of one explanation on a coalition game.
- :func:`random_order_curves` -- the same for random orders: the reference an explanation must beat.
- :func:`curve_area`, :func:`curve_fractions` -- the area under a curve, and its x-axis.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import check_choice, check_int
from ..features import check_game, game_values
from ..models import accuracy
from ..seeding import make_generator, seeded_global_rng
from .ranks import ranking

__all__ = ["curve_fractions", "deletion_curve", "insertion_curve", "random_order_curves", "curve_area", "rescaled_curves",
           "remove_top_segments", "remove_and_retrain"]


def _check_attributions(attributions, n_players: int) -> torch.Tensor:
    if isinstance(attributions, np.ndarray):
        attributions = torch.from_numpy(attributions)
    if not isinstance(attributions, torch.Tensor):
        raise TypeError(f"attributions must be a tensor [M] = [{n_players}], one score per player; "
                        f"got {type(attributions).__name__}")
    if attributions.dtype == torch.bool or torch.is_complex(attributions):
        raise TypeError(f"attributions must hold real scores; got dtype {attributions.dtype}")
    if attributions.ndim != 1 or attributions.shape[0] != n_players:
        raise ValueError(
            f"attributions must be a tensor [M] = [{n_players}], one score per player of the game; got shape "
            f"{tuple(attributions.shape)} (a pixel map goes through segment_sums(map, segments) or .flatten() first)"
        )
    attributions = attributions.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(attributions).all()):
        raise ValueError(f"attributions must be finite; they hold {int((~torch.isfinite(attributions)).sum())} "
                         f"NaN or Inf value(s)")
    return attributions


def curve_fractions(n_players: int, step: int = 1) -> torch.Tensor:
    """The fraction of players removed (or added) at each point of a curve: ``min(k * step, M) / M``.

    Points ``k = 0 .. ceil(M / step)``; the last point is always ``M / M = 1``.

    Examples
    --------
    >>> curve_fractions(5, 2).tolist()
    [0.0, 0.4, 0.8, 1.0]
    """
    n_players = check_int("n_players", n_players, 1)
    step = check_int("step (features removed per point)", step, 1)
    counts = torch.arange(0, -(-n_players // step) + 1, dtype=torch.int64) * step
    return counts.clamp(max=n_players).double() / n_players


def _order_coalitions(orders: torch.Tensor, step: int, insertion: bool) -> torch.Tensor:
    """Coalitions of the curve points of each order: [n_orders * (K + 1), M], order by order."""
    n_orders, n_players = orders.shape
    counts = (curve_fractions(n_players, step) * n_players).round().long()  # [K + 1]
    # position of each player in its order; a player is among the first c when its position < c
    position = torch.empty_like(orders)
    position.scatter_(1, orders, torch.arange(n_players).expand(n_orders, -1).contiguous())
    first = position[:, None, :] < counts[None, :, None]  # [n_orders, K + 1, M]
    Z = first if insertion else ~first
    return Z.reshape(-1, n_players)


def _curve(game, attributions, step, insertion: bool) -> torch.Tensor:
    n_players = check_game(game)
    attributions = _check_attributions(attributions, n_players)
    step = check_int("step (features removed per point)", step, 1)
    Z = _order_coalitions(ranking(attributions)[None], step, insertion)
    return game_values(game, Z)


def deletion_curve(game, attributions, *, step: int = 1) -> torch.Tensor:
    r"""The game's values as the players are removed from the most to the least important.

    Point ``k`` is :math:`v(N \setminus \{\text{the first } \min(k\,s, M) \text{ players}\})`, the
    players ranked by decreasing attribution (ties broken by the lower index), for
    ``k = 0 .. ceil(M / s)``: the first point is :math:`v(N)`, the last :math:`v(\emptyset)`. A
    faithful explanation makes the curve fall fast: a small :func:`curve_area`. All the
    coalitions go to the game in one call.

    Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
    Models", 2018, arXiv 1806.07421 (deletion and insertion); Bach et al., "On Pixel-Wise
    Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation",
    2015, PLoS ONE 10(7) e0130140 (pixel flipping). With ``step`` equal to Quantus's
    ``features_in_step``, ``deletion_curve(...)[1:]`` is ``quantus.PixelFlipping``'s curve.

    Parameters
    ----------
    game : coalition game (``game(Z)``, ``game.n_players``)
        E.g. :class:`~helpers.features.CoalitionGame` on a 4 x 4 grid, or on a 1 x 1 grid
        (``grid_segments((28, 28), 1)``: every pixel a player).
    attributions : torch.Tensor, [M]
        One score per player; higher = more important. A pixel map becomes one
        score per player with :func:`helpers.features.segment_sums`.
    step : int, default 1
        Players removed between two points.

    Returns
    -------
    torch.Tensor, [ceil(M / step) + 1]
        The values, on the game's output device and dtype.

    Raises
    ------
    TypeError, ValueError
        For a game without ``n_players``, attributions that are not a finite tensor [M],
        a step that is not a positive int.

    Examples
    --------
    >>> from helpers.features import FunctionGame
    >>> game = FunctionGame(lambda Z: Z.double() @ torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64), 3)
    >>> deletion_curve(game, torch.tensor([3.0, 1.0, 2.0])).tolist()
    [6.0, 3.0, 1.0, 0.0]
    """
    return _curve(game, attributions, step, insertion=False)


def insertion_curve(game, attributions, *, step: int = 1) -> torch.Tensor:
    r"""The game's values as the players are added, the most important first.

    Point ``k`` is :math:`v(\text{the first } \min(k\,s, M) \text{ players})`, from
    :math:`v(\emptyset)` to :math:`v(N)`; a faithful explanation makes it rise fast (a
    large :func:`curve_area`). Same ranking, checks and single game call as
    :func:`deletion_curve` (Petsiuk et al. 2018, arXiv 1806.07421).

    Parameters
    ----------
    game : coalition game
    attributions : torch.Tensor, [M]
    step : int, default 1

    Returns
    -------
    torch.Tensor, [ceil(M / step) + 1]

    Examples
    --------
    >>> from helpers.features import FunctionGame
    >>> game = FunctionGame(lambda Z: Z.double() @ torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64), 3)
    >>> insertion_curve(game, torch.tensor([3.0, 1.0, 2.0])).tolist()
    [0.0, 3.0, 5.0, 6.0]
    """
    return _curve(game, attributions, step, insertion=True)


def random_order_curves(game, *, kind: str = "deletion", n_orders: int = 20, step: int = 1, seed: int = 0) -> torch.Tensor:
    """Deletion (or insertion) curves of ``n_orders`` random orders: the chance reference.

    An explanation's :func:`curve_area` means little alone (it depends on the model and
    the input); read it against the areas of random orders of the same players, whose
    mean and spread say what chance gives. All orders go to the game in one call.

    Parameters
    ----------
    game : coalition game
    kind : {"deletion", "insertion"}
    n_orders : int, default 20
    step : int, default 1
    seed : int, default 0

    Returns
    -------
    torch.Tensor, [n_orders, ceil(M / step) + 1]

    Examples
    --------
    >>> areas = curve_area(random_order_curves(game, n_orders=50))  # doctest: +SKIP
    >>> float(areas.mean()), float(areas.std())  # doctest: +SKIP
    """
    n_players = check_game(game)
    if kind not in ("deletion", "insertion"):
        raise ValueError(f'kind must be "deletion" or "insertion"; got {kind!r}')
    n_orders = check_int("n_orders", n_orders, 1)
    step = check_int("step (features removed per point)", step, 1)
    generator = make_generator(seed)
    orders = torch.stack([torch.randperm(n_players, generator=generator) for _ in range(n_orders)])
    values = game_values(game, _order_coalitions(orders, step, kind == "insertion"))
    return values.reshape(n_orders, -1)


def curve_area(values, fractions=None, *, kind: str | None = None) -> torch.Tensor:
    r"""The trapezoid area under a curve over the fraction of players in [0, 1].

    :math:`\sum_k \tfrac12 (f_{k+1} - f_k)(v_k + v_{k+1})` with :math:`f_k` the fraction of
    players removed (or added) at point ``k``: evenly spaced from 0 to 1 unless ``fractions``
    is given (use :func:`curve_fractions` when ``step`` does not divide M, where the last
    interval is shorter).

    With ``kind`` ("deletion" or "insertion") each curve is first rescaled so that the
    empty coalition's value is 0 and the full one's is 1 (the last and the first point of a
    deletion curve, the first and the last of an insertion curve): the area of a curve of
    logits, which have no fixed range, then reads like one of probabilities, and areas of
    different inputs and maskers compare.

    Parameters
    ----------
    values : torch.Tensor, [K + 1] or [..., K + 1]
        One curve, or a batch of curves along the last dimension.
    fractions : torch.Tensor [K + 1], optional
        Increasing, from 0 to 1.
    kind : {None, "deletion", "insertion"}
        Rescale each curve between its empty and full coalitions first (refused where the two are equal).

    Returns
    -------
    torch.Tensor, float64, [] or [...]

    Examples
    --------
    >>> float(curve_area(torch.tensor([1.0, 0.0])))
    0.5
    """
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor) or values.dtype == torch.bool or torch.is_complex(values):
        raise TypeError(f"values must be a real tensor [K + 1] (or [..., K + 1]); got {type(values).__name__}")
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(f"values must hold at least two points along the last dimension; got shape {tuple(values.shape)}")
    values = values.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise ValueError("values must be finite; they hold NaN or Inf")
    if fractions is None:
        fractions = torch.linspace(0.0, 1.0, values.shape[-1], dtype=torch.float64)
    else:
        fractions = torch.as_tensor(fractions, dtype=torch.float64).detach().cpu()
        if fractions.shape != (values.shape[-1],):
            raise ValueError(f"fractions must be a tensor [K + 1] = [{values.shape[-1]}]; got shape {tuple(fractions.shape)}")
        if not bool(torch.isfinite(fractions).all()):
            raise ValueError("fractions must be finite; they hold NaN or Inf")
        if abs(float(fractions[0])) > 1e-12 or abs(float(fractions[-1]) - 1) > 1e-12 or bool((fractions.diff() <= 0).any()):
            raise ValueError("fractions must increase from 0 to 1")
    if kind is not None:
        values = rescaled_curves(values, kind)
    return torch.trapezoid(values, fractions, dim=-1)


def rescaled_curves(values, kind: str) -> torch.Tensor:
    """Deletion or insertion curves ``[..., K + 1]`` rescaled so that the empty coalition is 0 and the full one 1.

    The empty coalition is the last point of a deletion curve and the first of an
    insertion curve. Used by :func:`curve_area` with ``kind``, and to draw curves of
    logits of several inputs on one scale.

    Examples
    --------
    >>> rescaled_curves(torch.tensor([7.0, 3.0, -1.0]), "deletion").tolist()
    [1.0, 0.5, 0.0]
    """
    check_choice("kind", kind, ("deletion", "insertion"))
    values = torch.as_tensor(values).detach().to("cpu", torch.float64)
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(f"values must hold at least two points along the last dimension; got shape {tuple(values.shape)}")
    empty, full = (values[..., -1:], values[..., :1]) if kind == "deletion" else (values[..., :1], values[..., -1:])
    span = full - empty
    if bool((span == 0).any()):
        raise ValueError(f"a {kind} curve whose full and empty coalitions have the same value cannot be rescaled; "
                         f"{int((span == 0).sum())} such curve(s)")
    return (values - empty) / span


def remove_top_segments(X: torch.Tensor, scores: torch.Tensor, segments: torch.Tensor, *, fraction: float,
                        fill: torch.Tensor) -> torch.Tensor:
    """Copies of the images ``X`` with the top ``fraction`` of their segments by ``scores`` replaced by ``fill``.

    Row ``i`` loses its ``ceil(fraction * M)`` segments of highest ``scores[i]`` (:func:`ranking`:
    ties within :data:`TIE_TOLERANCE` broken by the lower index); their pixels take the values of
    ``fill`` (an image shaped like one row of ``X``, e.g. the training mean). The images of
    remove-and-retrain (:func:`remove_and_retrain`).

    Examples
    --------
    >>> remove_top_segments(torch.ones(1, 1, 2, 2), torch.tensor([[0.0, 5.0]]), torch.tensor([[0, 0], [1, 1]]),
    ...                     fraction=0.5, fill=torch.zeros(1, 2, 2))[0, 0].tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != X.shape[0]:
        raise ValueError(f"scores must be a tensor [N, M] with one row per image ({X.shape[0]}); "
                         f"got {getattr(scores, 'shape', type(scores).__name__)}")
    n_players = scores.shape[1]
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    if int(segments.max()) + 1 != n_players:
        raise ValueError(f"segments must number the {n_players} players of scores 0..{n_players - 1}; "
                         f"they go up to {int(segments.max())}")
    k = int(np.ceil(fraction * n_players))
    removed = torch.zeros(X.shape[0], n_players, dtype=torch.bool)
    for i, row in enumerate(scores):
        removed[i, ranking(row)[:k]] = True
    pixels = removed[:, segments.to(torch.long)]  # [N, H, W]: True where a pixel's segment is removed
    pixels = pixels.reshape(X.shape[0], *([1] * (X.ndim - 1 - segments.ndim)), *segments.shape)
    return torch.where(pixels, fill.to(X.dtype).expand_as(X[0]), X)


def remove_and_retrain(make_model, train, data: tuple, scores: tuple, segments: torch.Tensor, *,
                       fraction: float, fill: torch.Tensor, seed: int = 0) -> float:
    """Remove-and-retrain (ROAR, Hooker et al. 2019, arXiv 1806.10758): test accuracy after retraining without the top features.

    Every training and test image loses the top ``fraction`` of its segments by the method's
    ``scores`` (:func:`remove_top_segments`, replaced by ``fill``); a fresh model is trained on the
    changed training images and scored on the changed test images. A method whose top features
    carry the information lowers the accuracy more than removing random ones does; because the
    model is retrained on such images, the drop is not an artefact of images the model never saw.

    Parameters
    ----------
    make_model : callable
        ``make_model() -> nn.Module``, called under :func:`~helpers.seeding.seeded_global_rng` (``seed``).
    train : callable
        ``train(model, X, y)``: trains the model in place (e.g. ``train_classifier`` with a recipe).
    data : (X_train, y_train, X_test, y_test)
    scores : (scores_train, scores_test)
        One row of segment scores per image, ``[N, M]``.
    segments : int tensor [H, W]
    fraction : float
    fill : torch.Tensor
        One image, what a removed segment shows (the training mean: uninformative and in distribution
        for the retrained model).
    seed : int

    Returns
    -------
    float
        The retrained model's accuracy on the changed test images.
    """
    X_train, y_train, X_test, y_test = data
    scores_train, scores_test = scores
    changed_train = remove_top_segments(X_train, scores_train, segments, fraction=fraction, fill=fill)
    changed_test = remove_top_segments(X_test, scores_test, segments, fraction=fraction, fill=fill)
    with seeded_global_rng(seed):
        model = make_model()
    train(model, changed_train, y_train)
    return float(accuracy(model, changed_test, y_test))
