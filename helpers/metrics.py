"""Measurements of explanations.

- :func:`digit_regions` splits a digit into its stroke, a ring of background
  pixels around the stroke, and the rest of the background; the stroke is split
  again into its edge (stroke pixels that touch the background) and its interior.
- :func:`top_mass_share` measures how concentrated a map is: the share of its
  mass held by its largest values.
- :func:`rank_correlation` compares two explanations by the order they put the
  features in (Spearman's rank correlation), one number per example; the
  stability measurements of notebooks 03, 04 and 05 are built on it.
- :func:`region_shares` measures what share of a saliency map's mass falls in each
  region, next to the share of the pixels that region holds.

These test the claim that a saliency map "usually highlights the digit's edges",
in ``notebooks/02_cnn_saliency_mnist.ipynb``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "digit_regions",
    "region_shares",
    "top_mass_share",
    "rank_correlation",
    "REGIONS",
    "pair_rank_correlation",
    "topk_overlap",
    "example_normal",
    "noisy_copies",
    "noise_stability",
    "SeedStability",
    "seed_stability",
    "stability_across_inputs",
    "image_edges",
    "edge_alignment",
    "ranking",
    "curve_fractions",
    "deletion_curve",
    "insertion_curve",
    "random_order_curves",
    "curve_area",
    "segment_sums",
    "abs_rank_correlation",
    "structural_similarity",
    "SIMILARITIES",
    "randomisable_layers",
    "Randomisation",
    "cascading_randomisation",
    "permuted_labels",
    "agreement",
    "budget_to_reach",
]

#: The regions of :func:`digit_regions`, in order; together they cover every pixel once.
REGIONS = ("stroke_interior", "stroke_edge", "ring", "background")


def _as_images(x: torch.Tensor, name: str) -> torch.Tensor:
    """[B, 1, H, W], [1, H, W] or [H, W] -> float [B, 1, H, W]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3 and x.shape[0] == 1:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must be [B, 1, H, W], [1, H, W] or [H, W]; got shape {tuple(x.shape)}")
    return x.detach().float()


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    if radius == 0:
        return mask
    return F.max_pool2d(mask.float(), 2 * radius + 1, stride=1, padding=radius) > 0


def digit_regions(x: torch.Tensor, *, threshold: float = 0.5, ring_width: int = 2) -> dict[str, torch.Tensor]:
    """Split digits into stroke interior, stroke edge, ring and background.

    - stroke: pixels with intensity ``>= threshold``;
    - stroke_edge: stroke pixels with a background pixel among their 8 neighbours;
    - stroke_interior: the other stroke pixels;
    - ring: background pixels within ``ring_width`` pixels (chessboard distance)
      of the stroke;
    - background: every other pixel.

    Parameters
    ----------
    x : torch.Tensor, [B, 1, H, W], [1, H, W] or [H, W], values in [0, 1]
    threshold : float, default 0.5
    ring_width : int, default 2

    Returns
    -------
    dict of str to bool torch.Tensor [B, 1, H, W]
        Keys in the order of :data:`REGIONS`; every pixel is in exactly one.

    Examples
    --------
    >>> regions = digit_regions(torch.zeros(28, 28))
    >>> int(regions["background"].sum())
    784
    """
    images = _as_images(x, "x")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1); got {threshold!r}")
    if isinstance(ring_width, bool) or not isinstance(ring_width, int) or ring_width < 1:
        raise ValueError(f"ring_width must be a positive int; got {ring_width!r}")
    stroke = images >= threshold
    touches_background = _dilate(~stroke, 1)
    edge = stroke & touches_background
    ring = _dilate(stroke, ring_width) & ~stroke
    return {
        "stroke_interior": stroke & ~edge,
        "stroke_edge": edge,
        "ring": ring,
        "background": ~stroke & ~ring,
    }


def region_shares(
    saliency: torch.Tensor, x: torch.Tensor, *, threshold: float = 0.5, ring_width: int = 2
) -> dict[str, dict[str, torch.Tensor]]:
    """Share of each digit's saliency mass, and of its pixels, in every region.

    Parameters
    ----------
    saliency : torch.Tensor, shape of ``x``
        Non-negative maps (e.g. ``gradient(..., absolute=True)``).
    x : torch.Tensor, [B, 1, H, W] (or one digit [1, H, W] / [H, W])
    threshold, ring_width
        As in :func:`digit_regions`.

    Returns
    -------
    dict
        ``{"mass": {region: [B]}, "area": {region: [B]}}``; for every digit the
        mass shares sum to 1 and so do the area shares. A region whose mass share
        is larger than its area share holds more than its fair share of saliency.

    Raises
    ------
    ValueError
        If shapes differ, a map is negative or a map is zero everywhere.

    Examples
    --------
    >>> shares = region_shares(saliency, X_test[:100])  # doctest: +SKIP
    >>> float(shares["mass"]["ring"].mean())  # doctest: +SKIP
    """
    maps, images = _as_images(saliency, "saliency"), _as_images(x, "x")
    if maps.shape != images.shape:
        raise ValueError(f"saliency and x must have the same shape; got {tuple(maps.shape)} and {tuple(images.shape)}")
    if (maps < 0).any():
        raise ValueError("saliency must be non-negative (take .abs() of a signed map first)")
    total = maps.sum(dim=(1, 2, 3))
    if (total == 0).any():
        raise ValueError(f"saliency is zero everywhere for {int((total == 0).sum())} digit(s); shares are undefined")
    regions = digit_regions(images, threshold=threshold, ring_width=ring_width)
    n_pixels = images[0].numel()
    return {
        "mass": {name: (maps * mask).sum(dim=(1, 2, 3)) / total for name, mask in regions.items()},
        "area": {name: mask.sum(dim=(1, 2, 3)).float() / n_pixels for name, mask in regions.items()},
    }


def top_mass_share(saliency: torch.Tensor, fraction: float = 0.05) -> torch.Tensor:
    """Share of each map's total mass held by its top ``fraction`` of values.

    A map spread evenly over ``D`` values gives about ``fraction``; a map with
    all its mass on a few pixels gives nearly 1. The top ``ceil(fraction * D)``
    values of each map are counted.

    Parameters
    ----------
    saliency : torch.Tensor, [B, ...]
        Non-negative maps, one per row.
    fraction : float in (0, 1], default 0.05

    Returns
    -------
    torch.Tensor, [B]

    Raises
    ------
    ValueError
        For a fraction outside (0, 1], a map that is not batched, a negative
        value, or a map that is zero everywhere.

    Examples
    --------
    >>> top_mass_share(torch.tensor([[1.0, 1.0, 1.0, 1.0]]), 0.25)
    tensor([0.2500])
    """
    if not isinstance(saliency, torch.Tensor) or saliency.ndim < 2:
        shape = tuple(saliency.shape) if isinstance(saliency, torch.Tensor) else type(saliency).__name__
        raise ValueError(f"saliency must be a batched tensor [B, ...]; got {shape}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    flat = saliency.detach().reshape(saliency.shape[0], -1).float()
    if (flat < 0).any():
        raise ValueError("saliency must be non-negative (take .abs() of a signed map first)")
    total = flat.sum(dim=1)
    if (total == 0).any():
        raise ValueError(f"saliency is zero everywhere for {int((total == 0).sum())} map(s); shares are undefined")
    k = max(1, int(torch.ceil(torch.tensor(fraction * flat.shape[1])).item()))
    return flat.topk(k, dim=1).values.sum(dim=1) / total


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


def rank_correlation(a: torch.Tensor, b: torch.Tensor, *, tie_tolerance: float = TIE_TOLERANCE) -> torch.Tensor:
    r"""Spearman's rank correlation between two maps, one number per example.

    The Pearson correlation of the ranks of the values of ``a[i]`` and ``b[i]``
    (ties get their average rank; values closer than :data:`TIE_TOLERANCE` of
    the map's largest ``|value|`` are ties, :func:`tied_ranks`): 1 when the two
    maps order the inputs identically, whatever their scales.

    Parameters
    ----------
    a, b : torch.Tensor, [B, ...], same shape
    tie_tolerance : float, default :data:`TIE_TOLERANCE`
        Of :func:`tied_ranks`; 0 gives exact ties (Spearman as in SciPy and Quantus).

    Returns
    -------
    torch.Tensor, float64, [B]
        NaN for an example whose map is constant (no ranking to compare).

    Raises
    ------
    TypeError, ValueError
        For non-tensors or shapes that differ.

    Examples
    --------
    >>> float(rank_correlation(torch.tensor([[1., 2., 3.]]), torch.tensor([[10., 20., 30.]]))[0])
    1.0
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must be batches [B, ...] of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    if isinstance(tie_tolerance, bool) or not isinstance(tie_tolerance, (int, float)) or not tie_tolerance >= 0:
        raise ValueError(f"tie_tolerance must be a number >= 0; got {tie_tolerance!r}")
    ra = tied_ranks(a.detach().reshape(a.shape[0], -1).cpu().double().numpy(), tie_tolerance)
    rb = tied_ranks(b.detach().reshape(b.shape[0], -1).cpu().double().numpy(), tie_tolerance)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / denominator
    return torch.from_numpy(np.where(denominator > 0, rho, np.nan))


#
# One definition for every method: how much an explanation changes when the input changes
# imperceptibly (noise_stability), or when only the seed of a sampling method changes
# (seed_stability). Taught in notebooks 03 (gradients), 04 (LIME) and 06 (all methods).


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
    return a, b


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    return int(value)


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
    k = _check_count("k", k)
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


def example_normal(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn for each example from the example itself.

    Row ``i`` is drawn from a generator seeded by ``seed`` and the bytes of
    ``x[i]`` (a BLAKE2 digest), so the same example with the same seed gets the
    same noise whatever else is in the batch and wherever it sits in it
    (``example_normal(x[2:3])`` equals ``example_normal(x)[2:3]``), and different
    examples get independent noise.

    Parameters
    ----------
    x : torch.Tensor, float, [B, ...]
    seed : int in [0, 2**32)

    Returns
    -------
    torch.Tensor, shape, dtype and device of ``x``

    Examples
    --------
    >>> x = torch.rand(3, 4)
    >>> torch.equal(example_normal(x[1:2], seed=5), example_normal(x, seed=5)[1:2])
    True
    """
    import hashlib

    from .seeding import _check_seed

    seed = _check_seed(seed)
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float batch [B, ...]; got {shape}")
    rows = x.detach().to("cpu", torch.float64).reshape(x.shape[0], -1).numpy()
    noise = torch.empty(x.shape, dtype=x.dtype)
    for i, row in enumerate(rows):
        digest = hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=8, key=seed.to_bytes(4, "little"))
        generator = torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1)
        noise[i] = torch.randn(x.shape[1:], generator=generator, dtype=x.dtype)
    return noise.to(x.device)


def _check_clip(clip):
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2 or not all(
        isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in clip
    ):
        raise TypeError(f"clip must be None or a pair (low, high) of numbers, e.g. (0.0, 1.0); got {clip!r}")
    low, high = float(clip[0]), float(clip[1])
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"clip must be a pair (low, high) of finite numbers with low < high; got {clip!r}")
    return low, high


def noisy_copies(x: torch.Tensor, *, noise_std: float, seed: int = 0, clip=None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``noise_std``, optionally clipped.

    The noise is :func:`example_normal` (the same for the same example and seed,
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
    if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float, np.floating, np.integer)):
        raise TypeError(f"noise_std must be a number; got {noise_std!r} of type {type(noise_std).__name__}")
    noise_std = float(noise_std)
    if not np.isfinite(noise_std) or noise_std < 0:
        raise ValueError(f"noise_std must be a finite number >= 0; got {noise_std}")
    clip = _check_clip(clip)
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
    from .saliency import _check_batch, _check_model, _chunk_rows, _resolve_targets

    if not callable(method):
        raise TypeError(f"method must be a gradient method such as helpers.saliency.gradient; got {method!r}")
    _check_model(model)
    _check_batch(x)
    noisy = noisy_copies(x, noise_std=noise_std, seed=seed, clip=clip)
    targets = _resolve_targets(model, x, target, _chunk_rows(None, x))
    clean = method(model, x, targets, **options)
    changed = method(model, noisy, targets, **options)
    return rank_correlation(clean, changed)


@dataclass
class SeedStability:
    """Agreement of LIME runs that differ only in their seed.

    Attributes
    ----------
    weights : torch.Tensor, float64, [S, M]
        One explanation per seed.
    topk_overlap : float
        Mean over pairs of seeds of :func:`topk_overlap`.
    rank_correlation : float
        Mean over pairs of seeds of :func:`pair_rank_correlation`.
    k : int
    """

    weights: torch.Tensor
    topk_overlap: float
    rank_correlation: float
    k: int


def seed_stability(
    game,
    seeds=(0, 1, 2, 3, 4),
    *,
    k: int = 3,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    players=None,
) -> SeedStability:
    """Run LIME once per seed on the same game and measure how much the runs agree.

    All seeds' coalitions go to the game in one call (one batched evaluation);
    each run is then exactly :func:`helpers.lime.lime` with that seed.

    Parameters
    ----------
    game : coalition game
    seeds : sequence of int, at least two
    k : int, default 3
        For :func:`topk_overlap`.
    n_samples, kernel_width, alpha
        As in :func:`helpers.lime.lime`.
    players : bool tensor [M], optional
        Compare the runs on these features only (e.g. ``~game.dummy_players``,
        leaving out features that cannot matter and whose weights are pure
        noise around 0). ``weights`` still holds every feature.

    Returns
    -------
    SeedStability

    Examples
    --------
    >>> stability = seed_stability(game, seeds=range(5), k=3)  # doctest: +SKIP
    >>> round(stability.rank_correlation, 3)  # doctest: +SKIP
    """
    from .features import check_game
    from .lime import fit_lime, sample_coalitions

    n_players = check_game(game)
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least two seeds to compare; got {seeds!r}")
    k = _check_count("k", k)
    if k > n_players:
        raise ValueError(f"k must be at most M = {n_players}; got {k}")
    n_samples = _check_count("n_samples", n_samples, 2)
    if players is None:
        players = torch.ones(n_players, dtype=torch.bool)
    elif not isinstance(players, torch.Tensor) or players.dtype != torch.bool or players.shape != (n_players,):
        raise ValueError(f"players must be a bool tensor [M] = [{n_players}]; got {getattr(players, 'shape', players)!r}")
    players = players.cpu()
    if int(players.sum()) < max(2, k):
        raise ValueError(f"players must select at least max(2, k) = {max(2, k)} features; got {int(players.sum())}")
    samples = [sample_coalitions(n_samples, n_players, seed=s) for s in seeds]
    values = torch.as_tensor(game(torch.cat(samples))).detach().to("cpu", torch.float64)
    fits = [
        fit_lime(Z, values[i * n_samples:(i + 1) * n_samples], kernel_width=kernel_width, alpha=alpha)
        for i, Z in enumerate(samples)
    ]
    weights = torch.stack([fit.weights for fit in fits])
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
    seeds=(0, 1, 2, 3, 4),
    k: int = 3,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    ignore_dummies: bool = True,
) -> dict:
    """:func:`seed_stability` on many inputs: one :class:`~helpers.features.CoalitionGame` each.

    Parameters
    ----------
    model : torch.nn.Module or callable
    inputs : torch.Tensor [N, ...]
        Each row is explained separately (e.g. ``X_test[:10]``).
    segments : int tensor, the trailing shape of one input
    baseline, target, output
        As in :class:`~helpers.features.CoalitionGame` (the same for every input).
    seeds, k, n_samples, kernel_width
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

    Examples
    --------
    >>> result = stability_across_inputs(model, X_test[:10], grid_segments((28, 28), 7))  # doctest: +SKIP
    >>> float(result["topk_overlap"].mean())  # doctest: +SKIP
    """
    from .features import CoalitionGame

    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 2 or inputs.shape[0] < 1:
        raise ValueError(f"inputs must be a batch [N, ...] with N >= 1; got {getattr(inputs, 'shape', inputs)!r}")
    overlaps, correlations, counts, correlations_all = [], [], [], []
    for x in inputs:
        game = CoalitionGame(model, x, segments, baseline=baseline, target=target, output=output)
        players = ~game.dummy_players if ignore_dummies else None
        result = seed_stability(game, seeds, k=k, n_samples=n_samples, kernel_width=kernel_width, players=players)
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


# --------------------------------------------------------------------------- edges (notebook 02)

_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def image_edges(x: torch.Tensor) -> torch.Tensor:
    r"""The image's own edge strength: the magnitude of its Sobel gradient, per pixel.

    :math:`E(x) = \sqrt{(K_h * x)^2 + (K_v * x)^2}` with the 3 x 3 Sobel kernels
    (Sobel and Feldman, 1968; Gonzalez and Woods, *Digital Image Processing*, section 10.2),
    zero padding (the digits' background is 0). Large where the intensity changes, on both
    sides of a stroke's boundary; 0 on flat ink and flat background.

    Parameters
    ----------
    x : torch.Tensor, [B, 1, H, W] (or one image [1, H, W], [H, W])

    Returns
    -------
    torch.Tensor, float32, [B, 1, H, W]

    Examples
    --------
    >>> image_edges(torch.ones(1, 1, 5, 5))[0, 0, 2, 2].item()  # flat inside: no edge
    0.0
    """
    x = _as_images(x, "x")
    kernels = torch.stack([_SOBEL, _SOBEL.T])[:, None].to(x.device)
    return F.conv2d(x, kernels, padding=1).pow(2).sum(dim=1, keepdim=True).sqrt()


def edge_alignment(saliency: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Does a map follow the image's edges more than its ink? Two rank correlations per example.

    A second test of "saliency highlights the digit's edges", free of the region thresholds of
    :func:`region_shares`: Spearman's rank correlation (:func:`rank_correlation`) of the map's
    magnitude with the image's edge strength (:func:`image_edges`), and with the image itself
    (the ink). A map that follows edges ranks pixels more like the first than like the second.

    Parameters
    ----------
    saliency : torch.Tensor, [B, 1, H, W]
        Any map; its magnitude is used.
    x : torch.Tensor, [B, 1, H, W]
        The grey images the maps explain.

    Returns
    -------
    dict with ``"edges"`` and ``"ink"``: float64 tensors [B]

    Raises
    ------
    TypeError, ValueError
        For non-tensors, more than one channel, or maps and images of different shapes.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 8, 8); x[..., 2:6, 2:6] = 1
    >>> result = edge_alignment(image_edges(x), x)
    >>> round(float(result["edges"][0]), 6), float(result["ink"][0]) < 1
    (1.0, True)
    """
    saliency, x = _as_images(saliency, "saliency"), _as_images(x, "x")
    if saliency.shape != x.shape:
        raise ValueError(f"saliency and x must have the same shape (one map per image); "
                         f"got {tuple(saliency.shape)} and {tuple(x.shape)}")
    magnitude = saliency.abs().flatten(1)
    return {"edges": rank_correlation(magnitude, image_edges(x).flatten(1)),
            "ink": rank_correlation(magnitude, x.flatten(1))}


# --------------------------------------------------------------------------- faithfulness
#
# Deletion and insertion curves (Petsiuk, Das and Saenko 2018, arXiv 1806.07421; "pixel flipping",
# Bach et al. 2015, PLoS ONE 10(7) e0130140): remove (or add) the features in the order an explanation
# ranks them and watch the game's value. Taught in notebook 06.


def _check_step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be a positive int (features removed per point); got {step!r} of type {type(step).__name__}")
    if step < 1:
        raise ValueError(f"step must be a positive int (features removed per point); got {step}")
    return int(step)


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


def curve_fractions(n_players: int, step: int = 1) -> torch.Tensor:
    """The fraction of players removed (or added) at each point of a curve: ``min(k * step, M) / M``.

    Points ``k = 0 .. ceil(M / step)``; the last point is always ``M / M = 1``.

    Examples
    --------
    >>> curve_fractions(5, 2).tolist()
    [0.0, 0.4, 0.8, 1.0]
    """
    n_players = _check_count("n_players", n_players)
    step = _check_step(step)
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
    from .features import check_game

    n_players = check_game(game)
    attributions = _check_attributions(attributions, n_players)
    step = _check_step(step)
    Z = _order_coalitions(ranking(attributions)[None], step, insertion)
    return torch.as_tensor(game(Z)).detach()


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
        score per player with :func:`segment_sums`.
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
    from .features import check_game
    from .seeding import make_generator

    n_players = check_game(game)
    if kind not in ("deletion", "insertion"):
        raise ValueError(f'kind must be "deletion" or "insertion"; got {kind!r}')
    n_orders = _check_count("n_orders", n_orders)
    step = _check_step(step)
    generator = make_generator(seed)
    orders = torch.stack([torch.randperm(n_players, generator=generator) for _ in range(n_orders)])
    values = torch.as_tensor(game(_order_coalitions(orders, step, kind == "insertion"))).detach()
    return values.reshape(n_orders, -1)


def curve_area(values, fractions=None) -> torch.Tensor:
    r"""The trapezoid area under a curve over the fraction of players in [0, 1].

    :math:`\sum_k \tfrac12 (f_{k+1} - f_k)(v_k + v_{k+1})` with :math:`f_k` the fraction of
    players removed (or added) at point ``k``: evenly spaced from 0 to 1 unless ``fractions``
    is given (use :func:`curve_fractions` when ``step`` does not divide M, where the last
    interval is shorter).

    Parameters
    ----------
    values : torch.Tensor, [K + 1] or [..., K + 1]
        One curve, or a batch of curves along the last dimension.
    fractions : torch.Tensor [K + 1], optional
        Increasing, from 0 to 1.

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
        if abs(float(fractions[0])) > 1e-12 or abs(float(fractions[-1]) - 1) > 1e-12 or bool((fractions.diff() <= 0).any()):
            raise ValueError("fractions must increase from 0 to 1")
    return torch.trapezoid(values, fractions, dim=-1)


def segment_sums(saliency: torch.Tensor, segments) -> torch.Tensor:
    """One score per segment: the sum of a map's values over each segment (and over channels).

    Turns a pixel map into the players of a coalition game, so that pixel methods
    (gradients) and segment methods (LIME, SHAP) are compared on the same players.
    The total is preserved: ``segment_sums(m, s).sum(-1) == m.sum()`` per example.

    Parameters
    ----------
    saliency : torch.Tensor, [B, ..., *segments.shape], or exactly ``segments.shape``
        Maps; every dimension between the batch and the segments' (e.g. the channels)
        is summed.
    segments : int tensor, labels 0..M-1 (e.g. :func:`helpers.features.grid_segments`)

    Returns
    -------
    torch.Tensor, [B, M] (or [M] for one map shaped like ``segments``)

    Examples
    --------
    >>> segment_sums(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 1, 0])).tolist()
    [4.0, 2.0]
    """
    from .features import check_segments

    if not isinstance(saliency, torch.Tensor):
        raise TypeError(f"saliency must be a torch.Tensor; got {type(saliency).__name__}")
    if not torch.is_floating_point(saliency):
        raise TypeError(f"saliency must be a float tensor; got dtype {saliency.dtype}")
    if isinstance(segments, np.ndarray):
        segments = torch.from_numpy(segments)
    if not isinstance(segments, torch.Tensor):
        raise TypeError(f"segments must be an integer torch.Tensor; got {type(segments).__name__}")
    single = tuple(saliency.shape) == tuple(segments.shape)
    maps = saliency[None] if single else saliency
    if maps.ndim <= segments.ndim:
        raise ValueError(f"saliency must be [B, ..., *segments.shape] = [B, ..., {', '.join(map(str, segments.shape))}]; "
                         f"got shape {tuple(saliency.shape)}")
    segments, n_players = check_segments(segments, tuple(maps.shape))
    flat = maps.detach().reshape(maps.shape[0], -1, segments.numel()).sum(dim=1)
    sums = torch.zeros(maps.shape[0], n_players, dtype=flat.dtype, device=flat.device)
    sums.index_add_(1, segments.reshape(-1).to(flat.device), flat)
    return sums[0] if single else sums


# --------------------------------------------------------------------------- sanity checks
#
# Adebayo, Gilmer, Muelly, Goodfellow, Hardt and Kim, "Sanity Checks for Saliency Maps", 2018,
# arXiv 1810.03292: an explanation that does not change when the model's parameters (or the labels
# it was trained on) are randomised cannot be explaining the model.


def abs_rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of ``|a|`` and ``|b|``, one number per example (Adebayo et al. 2018).

    Examples
    --------
    >>> float(abs_rank_correlation(torch.tensor([[1.0, -2.0, 3.0]]), torch.tensor([[1.0, 2.0, 3.0]]))[0])
    1.0
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    return rank_correlation(a.detach().abs(), b.detach().abs())


def structural_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM of two maps, one number per example (``skimage.metrics.structural_similarity``).

    Each example's map is squeezed of dimensions of size 1 (so ``[1, 28, 28]`` is a
    28 x 28 image with 7 x 7 windows, and ``[784]`` a 1-D signal) and compared with its
    partner with ``data_range`` the spread of the two maps together (max - min), as
    Quantus does. Wang, Bovik, Sheikh and Simoncelli, "Image Quality Assessment: From
    Error Visibility to Structural Similarity", 2004, IEEE TIP 13(4).

    Parameters
    ----------
    a, b : torch.Tensor, [B, ...], same shape

    Returns
    -------
    torch.Tensor, float64, [B]: 1 for identical maps.

    Examples
    --------
    >>> x = torch.rand(2, 1, 28, 28)
    >>> structural_similarity(x, x).tolist()
    [1.0, 1.0]
    """
    from skimage.metrics import structural_similarity as ssim

    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must be batches [B, ...] of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    out = []
    for aa, bb in zip(a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()):
        aa, bb = aa.squeeze(), bb.squeeze()
        data_range = float(max(aa.max(), bb.max()) - min(aa.min(), bb.min()))
        if data_range == 0.0:  # two identical constant maps
            out.append(1.0)
            continue
        out.append(float(ssim(aa, bb, data_range=data_range)))
    return torch.tensor(out, dtype=torch.float64)


#: The similarity measures of the sanity checks, by name.
SIMILARITIES = {"spearman_abs": abs_rank_correlation, "ssim": structural_similarity}


def randomisable_layers(model) -> list[tuple[str, "torch.nn.Module"]]:
    """The layers of ``model`` that can be re-initialised, from the output back to the input.

    The named submodules with a ``reset_parameters`` method (convolutions, linear layers,
    normalisations), in reverse order of ``model.named_modules()``: the order of the
    cascading randomisation of Adebayo et al. (2018) and of ``quantus.MPRT(layer_order="top_down")``.
    """
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (its layers are re-initialised); got {type(model).__name__}")
    return [(name, module) for name, module in model.named_modules() if hasattr(module, "reset_parameters")][::-1]


@dataclass
class Randomisation:
    """What :func:`cascading_randomisation` measured.

    Attributes
    ----------
    stages : list of str
        ``"original"``, then the name of each layer after it was randomised (cumulatively).
    maps : list of torch.Tensor
        The explanation of ``x`` at each stage, ``[B, ...]`` each.
    similarity : dict of str to torch.Tensor [S, B]
        For each measure, the similarity of each stage's maps to the original ones
        (the first row is the original against itself: 1).
    """

    stages: list
    maps: list
    similarity: dict


def cascading_randomisation(model, x: torch.Tensor, explain, target=None, *, layers=None, seed: int = 0,
                            similarities=("spearman_abs", "ssim")) -> Randomisation:
    """Re-initialise the layers from the top down and compare each explanation with the original.

    On a COPY of ``model`` (the caller's model, its parameters, modes and gradients are not
    touched), the layers are re-initialised one after the other, cumulatively, from the output
    back to the input; after each one ``explain`` runs again on ``x`` for the SAME classes (the
    original model's prediction when ``target`` is None), and the new maps are compared with the
    original ones. A method whose maps stay similar while the model is destroyed fails the
    check: its maps do not depend on what the model learnt. Adebayo et al., "Sanity Checks for
    Saliency Maps", 2018, arXiv 1810.03292.

    Each layer is re-initialised by its own ``reset_parameters()`` (PyTorch's default
    initialisation) with the global generator seeded with ``seed`` just before, inside
    :func:`torch.random.fork_rng` so that the caller's random state is unchanged; this is what
    ``quantus.MPRT(seed=s)`` does with ``seed = s + 1``.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    explain : callable
        ``explain(model, x, targets) -> maps [B, ...]``, e.g. :func:`helpers.saliency.gradient`.
    target : None, int or int tensor [B]
    layers : list of str, optional
        Names of the submodules to randomise, in order; default :func:`randomisable_layers`.
    seed : int, default 0
    similarities : sequence of str or dict of name -> callable, default ("spearman_abs", "ssim")
        Names from :data:`SIMILARITIES`, or ``{name: f}`` with ``f(a, b) -> [B]``.

    Returns
    -------
    Randomisation

    Raises
    ------
    TypeError, ValueError
        For a model that is not an ``nn.Module``, an explain that is not callable, an unknown
        layer name or similarity, a bad ``x`` or ``target``.

    Examples
    --------
    >>> result = cascading_randomisation(model, X_test[:8], gradient)  # doctest: +SKIP
    >>> result.stages, result.similarity["spearman_abs"].median(dim=1).values  # doctest: +SKIP
    """
    import copy

    import torch.nn as nn

    from .saliency import _check_batch, _chunk_rows, _resolve_targets
    from .seeding import _check_seed

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (its layers are re-initialised); got {type(model).__name__}")
    if not callable(explain):
        raise TypeError(f"explain must be a callable explain(model, x, targets) -> maps; got {explain!r}")
    _check_batch(x)
    seed = _check_seed(seed)
    if isinstance(similarities, dict):
        measures = dict(similarities)
    else:
        unknown = [name for name in similarities if name not in SIMILARITIES]
        if unknown or isinstance(similarities, str):
            raise ValueError(f"similarities must name measures among {sorted(SIMILARITIES)} (or be a dict of callables); "
                             f"got {similarities!r}")
        measures = {name: SIMILARITIES[name] for name in similarities}
    if not measures or not all(callable(f) for f in measures.values()):
        raise TypeError(f"similarities must hold at least one callable; got {similarities!r}")
    available = [name for name, _ in randomisable_layers(model)]
    if layers is None:
        layers = available
    else:
        layers = list(layers)
        unknown = [name for name in layers if name not in available]
        if unknown:
            raise ValueError(f"layers must name layers of the model with parameters to reset, among {available}; "
                             f"got {unknown}")
    targets = _resolve_targets(model, x, target, _chunk_rows(None, x))
    copy_ = copy.deepcopy(model)
    copy_.requires_grad_(False)
    modules = dict(copy_.named_modules())
    original = explain(copy_, x, targets).detach()
    stages, maps = ["original"], [original]
    for name in layers:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            modules[name].reset_parameters()
        stages.append(name)
        maps.append(explain(copy_, x, targets).detach())
    similarity = {key: torch.stack([f(original, m) for m in maps]) for key, f in measures.items()}
    return Randomisation(stages, maps, similarity)


def permuted_labels(y: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The labels ``y`` shuffled: the data randomisation test of Adebayo et al. (2018, arXiv 1810.03292).

    A model trained on them with the same recipe learns no relation between the images and
    the labels; an explanation that looks the same for it as for the real model does not
    explain what the model learnt.

    Examples
    --------
    >>> sorted(permuted_labels(torch.tensor([0, 1, 2, 3])).tolist())
    [0, 1, 2, 3]
    """
    from .seeding import make_generator

    if not isinstance(y, torch.Tensor) or y.ndim != 1 or torch.is_floating_point(y):
        raise TypeError(f"y must be an int tensor [N] of labels; got {getattr(y, 'shape', type(y).__name__)}")
    return y[torch.randperm(y.shape[0], generator=make_generator(seed))].clone()


# --------------------------------------------------------------------------- agreement and cost


def agreement(explanations: dict) -> tuple[list, torch.Tensor]:
    """Median rank correlation between every pair of methods' explanations of the same inputs.

    Parameters
    ----------
    explanations : dict of name -> torch.Tensor [B, M]
        One row per input, one column per player (segment sums for pixel methods).

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
    shapes = {tuple(torch.as_tensor(v).shape) for v in explanations.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every explanation must be a tensor [B, M] of the same shape; got shapes {sorted(shapes)}")
    matrix = torch.ones(len(names), len(names), dtype=torch.float64)
    for i, j in itertools.combinations(range(len(names)), 2):
        rho = rank_correlation(torch.as_tensor(explanations[names[i]]), torch.as_tensor(explanations[names[j]]))
        matrix[i, j] = matrix[j, i] = float(np.nanmedian(rho.numpy())) if bool(torch.isfinite(rho).any()) else float("nan")
    return names, matrix


def budget_to_reach(errors: np.ndarray, budgets, target: float, *, statistic: str = "median"):
    """The smallest budget whose (median) error is at most ``target``, or None if none is.

    Parameters
    ----------
    errors : array [len(budgets), n_seeds]
        One row per budget (e.g. a value of :func:`helpers.shapley.budget_errors`).
    budgets : sequence of int, increasing
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
    budgets = list(budgets)
    if errors.ndim != 2 or errors.shape[0] != len(budgets):
        raise ValueError(f"errors must be [len(budgets), seeds] = [{len(budgets)}, n]; got shape {errors.shape}")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not target > 0:
        raise ValueError(f"target must be a number > 0; got {target!r}")
    if statistic not in ("median", "max"):
        raise ValueError(f'statistic must be "median" or "max"; got {statistic!r}')
    summary = np.median(errors, axis=1) if statistic == "median" else errors.max(axis=1)
    for budget, value in zip(budgets, summary):
        if value <= target:
            return int(budget)
    return None
