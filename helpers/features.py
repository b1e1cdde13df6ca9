r"""Interpretable features and the one coalition game built on them.

LIME and SHAP do not explain pixels one by one: they split an input into
:math:`M` *features* (patches of a digit, superpixels of a photograph, the
columns of a table) and ask how the model's score changes when some of those
features are *absent*. A coalition :math:`z \in \{0, 1\}^M` says which features
are present; the game

.. math:: v(z) = S_{target}\big(x \odot m(z) + b \odot (1 - m(z))\big)

is the model's target score on the input whose absent features are replaced by a
baseline :math:`b`, where :math:`m(z)` spreads :math:`z` over the input (every
value takes the entry of its segment). Every coalition method of the course
(occlusion, LIME, exact Shapley, KernelSHAP, permutation sampling, deletion and
insertion curves) is "choose coalitions, evaluate :math:`v`, combine", and
relies on nothing but ``game(Z)`` and ``game.n_players``. With a *background*
of :math:`K` rows :math:`b_1, \dots, b_K` instead of one baseline, the game is
the mean :math:`v(z) = \frac1K \sum_k S_{target}(x \odot m(z) + b_k \odot (1 - m(z)))`
(shap's interventional expectation).

- :func:`grid_segments` -- square patches (e.g. a 4 x 4 grid of 7 x 7 patches on a digit).
- :func:`superpixels` -- scikit-image's SLIC (or quickshift, lime's default) on a photograph.
- :func:`tabular_segments` -- one feature per column of a table.
- :class:`CoalitionGame` -- the game of a model, an input, its segments, a
  baseline and a target; evaluates a whole batch of coalitions at once.
- :class:`FunctionGame` -- any Python function of coalitions, with the same
  checks and counter (for games with known answers).
- :func:`occlusion` -- the simplest coalition method: each feature removed on its own.
- :func:`blurred` -- a Gaussian-blurred copy of an image, one of the baselines a
  game can take (besides a number, a tensor, ``"segment_mean"`` and a background
  of many rows).

Deletion and insertion curves (the features removed or added in order of their
attribution) are measurements of an explanation and live in :mod:`helpers.metrics`
(:func:`~helpers.metrics.deletion_curve`, :func:`~helpers.metrics.insertion_curve`).

Segments are an ``int64`` tensor with the input's spatial shape (``[H, W]`` for
an image ``[C, H, W]``, ``[F]`` for a table row ``[F]``) holding every label
``0..M-1``.

Taught in ``notebooks/04_lime.ipynb`` and ``notebooks/05_shap.ipynb``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from numbers import Integral, Real
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .checks import all_finite, check_maps
from .cost import CountedGame
from .scores import check_baseline, chunk_rows, class_scores, evaluation_mode, model_device, model_dtype

__all__ = [
    "grid_segments",
    "superpixels",
    "tabular_segments",
    "check_segments",
    "segment_means",
    "segment_sums",
    "check_game",
    "check_coalitions",
    "game_values",
    "CoalitionGame",
    "FunctionGame",
    "occlusion",
    "blurred",
]



# --------------------------------------------------------------------------- segmentations


def _spatial_shape(shape_or_x) -> tuple[int, int]:
    if isinstance(shape_or_x, (torch.Tensor, np.ndarray)):
        shape = tuple(shape_or_x.shape)
        if len(shape) == 3:  # [C, H, W]
            shape = shape[1:]
        if len(shape) != 2:
            raise ValueError(
                f"grid_segments needs an image [H, W] or [C, H, W] (or its shape (H, W)); got shape {shape}"
            )
        return int(shape[0]), int(shape[1])
    if isinstance(shape_or_x, (tuple, list)) and len(shape_or_x) == 2 and all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape_or_x
    ):
        return int(shape_or_x[0]), int(shape_or_x[1])
    raise ValueError(f"shape must be (H, W) with positive ints, or an image tensor; got {shape_or_x!r}")


def grid_segments(shape, patch_size: int | tuple[int, int] = 7) -> torch.Tensor:
    """Split an image into a grid of square (or rectangular) patches.

    Patches are numbered row by row, left to right. When ``patch_size`` does not
    divide the image, the last row and column of patches are smaller.

    Parameters
    ----------
    shape : tuple (H, W), or an image tensor/array [H, W] or [C, H, W]
    patch_size : int or (int, int), default 7
        Height and width of a patch in pixels.

    Returns
    -------
    torch.Tensor, int64, [H, W]
        Labels ``0..M-1`` with :math:`M = \\lceil H/p \\rceil \\lceil W/p \\rceil`.

    Raises
    ------
    ValueError
        For a shape that is not (H, W) or an image, or a non-positive ``patch_size``.

    Examples
    --------
    >>> segments = grid_segments((28, 28), 7)
    >>> int(segments.max()) + 1
    16
    """
    height, width = _spatial_shape(shape)
    sizes = patch_size if isinstance(patch_size, (tuple, list)) else (patch_size, patch_size)
    if len(sizes) != 2 or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"patch_size must be a positive int or a pair of positive ints; got {patch_size!r}")
    ph, pw = int(sizes[0]), int(sizes[1])
    n_cols = -(-width // pw)
    rows = torch.arange(height) // ph
    cols = torch.arange(width) // pw
    return (rows[:, None] * n_cols + cols[None, :]).to(torch.int64)


def _image_for_skimage(image) -> np.ndarray:
    """An H x W (grey) or H x W x 3 float array in [0, 1] for scikit-image."""
    if isinstance(image, torch.Tensor):
        array = image.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3):
            array = np.moveaxis(array, 0, -1)
    elif isinstance(image, np.ndarray):
        array = image
    else:
        raise TypeError(f"image must be a torch.Tensor [C, H, W] / [H, W] or a NumPy array; got {type(image).__name__}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(
            f"image must be grey [H, W] / [1, H, W] or colour [3, H, W] / [H, W, 3]; got shape {tuple(image.shape)}"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("image must be finite; it holds NaN or Inf values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        # e.g. a model input scaled to [-1, 1]: rescale for the segmentation only
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


def superpixels(
    image,
    n_segments: int = 50,
    *,
    method: str = "slic",
    compactness: float | None = None,
    sigma: float = 1.0,
    **options,
) -> torch.Tensor:
    """Superpixels of a photograph (or digit) with scikit-image.

    SLIC (Achanta et al., "SLIC Superpixels Compared to State-of-the-Art
    Superpixel Methods", 2012, IEEE TPAMI 34(11)) clusters pixels by colour and
    position into about ``n_segments`` compact regions. Quickshift (Vedaldi and
    Soatto, 2008) is what the ``lime`` package uses by default
    (``kernel_size=4, max_dist=200, ratio=0.2``, read in
    ``lime/lime_image.py``); its number of segments follows from those
    parameters, not from ``n_segments``.

    Parameters
    ----------
    image : torch.Tensor [C, H, W] / [H, W] or NumPy array [H, W, 3] / [H, W]
        Values in [0, 1] or uint8; other float ranges (a model input scaled to
        [-1, 1], say) are mapped to [0, 1] by min-max for the segmentation only.
    n_segments : int, default 50
        Approximate number of SLIC superpixels.
    method : {"slic", "quickshift"}, default "slic"
    compactness : float, optional
        SLIC's balance of colour against position. Default 10 for colour images
        (SLIC works in Lab there) and 0.1 for grey ones (intensities in [0, 1]).
    sigma : float, default 1.0
        Gaussian smoothing before SLIC.
    **options
        Passed to :func:`skimage.segmentation.slic` or
        :func:`skimage.segmentation.quickshift` (e.g. ``kernel_size``).

    Returns
    -------
    torch.Tensor, int64, [H, W]
        Labels ``0..M-1`` (renumbered to be consecutive).

    Raises
    ------
    TypeError, ValueError
        For an image of the wrong type or shape, an unknown ``method`` or a
        non-positive ``n_segments``.

    Examples
    --------
    >>> segments = superpixels(photo, n_segments=50)  # doctest: +SKIP
    >>> segments.shape == photo.shape[1:]  # doctest: +SKIP
    True
    """
    from skimage import segmentation

    if method not in ("slic", "quickshift"):
        raise ValueError(f'method must be "slic" or "quickshift"; got {method!r}')
    if isinstance(n_segments, bool) or not isinstance(n_segments, Integral) or n_segments < 1:
        raise ValueError(f"n_segments must be a positive int; got {n_segments!r}")
    array = _image_for_skimage(image)
    colour = array.ndim == 3
    if method == "slic":
        if compactness is None:
            compactness = 10.0 if colour else 0.1
        labels = segmentation.slic(
            array, n_segments=int(n_segments), compactness=float(compactness), sigma=float(sigma),
            start_label=0, channel_axis=-1 if colour else None, **options,
        )
    else:
        if not colour:
            array = np.repeat(array[..., None], 3, axis=-1)
        settings = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2, **options}
        labels = segmentation.quickshift(array, **settings)
    _, consecutive = np.unique(labels, return_inverse=True)
    return torch.as_tensor(consecutive.reshape(labels.shape), dtype=torch.int64)


def tabular_segments(n_features) -> torch.Tensor:
    """One feature per column of a table: labels ``0..F-1``.

    Parameters
    ----------
    n_features : int, or a table row (tensor [F])

    Returns
    -------
    torch.Tensor, int64, [F]

    Examples
    --------
    >>> tabular_segments(3).tolist()
    [0, 1, 2]
    """
    if isinstance(n_features, torch.Tensor):
        if n_features.ndim != 1:
            raise ValueError(f"a table row must be [F]; got shape {tuple(n_features.shape)}")
        n_features = n_features.shape[0]
    if isinstance(n_features, bool) or not isinstance(n_features, Integral) or n_features < 1:
        raise ValueError(f"n_features must be a positive int (or a row [F]); got {n_features!r}")
    return torch.arange(int(n_features), dtype=torch.int64)


def check_segments(segments, x_shape: tuple) -> tuple[torch.Tensor, int]:
    """Check ``segments`` against an input shape; return them as int64 and M.

    ``segments`` must have the trailing shape of ``x`` (``[H, W]`` for
    ``[C, H, W]``, ``[F]`` for ``[F]``, or the full shape) and use every label
    ``0..M-1``.

    Raises
    ------
    TypeError
        For segments that are not an integer tensor/array.
    ValueError
        For a shape that does not match ``x`` or labels that are not ``0..M-1``.
    """
    segments, n_players, _ = _check_segments(segments, x_shape)
    return segments, n_players


def _check_segments(segments, x_shape: tuple) -> tuple[torch.Tensor, int, bool]:
    """:func:`check_segments`, and whether the segments are ``0..M-1`` in order over a 1-D input (a table)."""
    if isinstance(segments, np.ndarray):
        segments = torch.from_numpy(segments)
    if not isinstance(segments, torch.Tensor):
        raise TypeError(f"segments must be an integer torch.Tensor; got {type(segments).__name__}")
    if segments.dtype == torch.bool or torch.is_floating_point(segments) or torch.is_complex(segments):
        raise TypeError(f"segments must hold integer labels 0..M-1; got dtype {segments.dtype}")
    x_shape = tuple(x_shape)
    k = segments.ndim
    if k == 0 or k > len(x_shape) or tuple(segments.shape) != x_shape[len(x_shape) - k:]:
        raise ValueError(
            f"segments must have the spatial shape of x (its trailing dimensions, e.g. [H, W] for x of "
            f"shape [C, H, W], [F] for [F]); got segments of shape {tuple(segments.shape)} for x of shape {x_shape}"
        )
    segments = segments.detach().to(torch.int64)
    flat = segments.reshape(-1)
    if flat.numel() == 0:
        raise ValueError(f"segments must hold labels 0..M-1; got an empty tensor of shape {tuple(segments.shape)}")
    if segments.ndim == 1 and torch.equal(flat, torch.arange(flat.numel(), device=flat.device)):
        return segments, int(flat.numel()), True  # a table's columns, one player each (the common case, checked fast)
    low, high = (int(value) for value in torch.aminmax(flat))
    # every label 0..high used: a bincount with no empty bin (cheaper than torch.unique on the games' hot path)
    if low == 0 and high < flat.numel() and bool((torch.bincount(flat, minlength=high + 1) > 0).all()):
        return segments, high + 1, False
    labels = torch.unique(flat.cpu())
    present = set(labels.tolist())
    missing = list(itertools.islice((v for v in range(max(low, 0), high + 1) if v not in present), 10))
    raise ValueError(
        f"segments must use every label 0..M-1 exactly (consecutive, starting at 0); got {int(labels.numel())} "
        f"distinct labels from {low} to {high}"
        + (f", missing {missing}" if missing and low >= 0 else "")
        + "; renumber them with torch.unique(segments, return_inverse=True)[1]"
    )


def segment_means(x: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Every value replaced by the mean of its segment (per channel), like lime's default.

    ``lime``'s image explainer with ``hide_color=None`` fills each hidden
    superpixel with its own mean colour, channel by channel (read in
    ``lime/lime_image.py``, ``explain_instance``); this is the same.

    Parameters
    ----------
    x : torch.Tensor, float, [C, H, W] or [F]
    segments : torch.Tensor, int64, the trailing shape of ``x``

    Returns
    -------
    torch.Tensor, shape of ``x``

    Examples
    --------
    >>> segment_means(torch.tensor([1., 3., 5.]), torch.tensor([0, 0, 1])).tolist()
    [2.0, 2.0, 5.0]
    """
    segments, n_players = check_segments(segments, tuple(x.shape))
    segments = segments.to(x.device)
    lead = x.shape[: x.ndim - segments.ndim]
    flat_x = x.detach().reshape(*lead, -1) if lead else x.detach().reshape(1, -1)
    flat_s = segments.reshape(-1)
    counts = torch.bincount(flat_s, minlength=n_players).to(x.dtype)
    means = _segment_totals(flat_x, flat_s, n_players) / counts
    return means[:, flat_s].reshape(x.shape)


def _segment_totals(values: torch.Tensor, flat_segments: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Per-row sums over each segment: ``values`` [R, N], labels [N] in 0..n-1 -> [R, n] (the one kernel)."""
    sums = torch.zeros(values.shape[0], n_segments, dtype=values.dtype, device=values.device)
    return sums.index_add_(1, flat_segments, values)


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
    check_maps("saliency", maps)
    segments, n_players = check_segments(segments, tuple(maps.shape))
    flat = maps.detach().reshape(maps.shape[0], -1, segments.numel()).sum(dim=1)
    sums = _segment_totals(flat, segments.reshape(-1).to(flat.device), n_players)
    return sums[0] if single else sums


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""A Gaussian-blurred copy of an image: a baseline that removes detail but keeps colour and layout.

    Each channel is convolved over its last two (spatial) dimensions with a
    Gaussian of standard deviation ``sigma`` pixels (SciPy's
    ``ndimage.gaussian_filter``, truncated at 4 sigma, edges mirrored
    half-sample-symmetrically, so a constant image stays constant and the
    image's total is kept). As a baseline of :class:`CoalitionGame`
    (``baseline=blurred(x, 3.0)``), an absent feature loses its fine structure
    (edges, strokes) but not its mean brightness. Fong and Vedaldi,
    "Interpretable Explanations of Black Boxes by Meaningful Perturbation",
    2017, arXiv 1704.03296 (blur as the deletion); Sturmfels, Lundberg and Lee,
    "Visualizing the Impact of Feature Attribution Baselines", 2020, Distill
    (baselines compared).

    Parameters
    ----------
    x : torch.Tensor, float, [..., H, W]
        An image ``[H, W]`` or ``[C, H, W]`` (or a batch of them ``[B, C, H, W]``).
    sigma : float > 0
        The Gaussian's standard deviation, in pixels (for a 28 x 28 digit, 2 to
        4 wipes out the strokes; for a 224 x 224 photograph, 10 to 20).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``; ``x`` is not changed.

    Raises
    ------
    TypeError
        For ``x`` that is not a float tensor, or ``sigma`` that is not a number.
    ValueError
        For ``x`` with fewer than two dimensions (a table row has no neighbours
        to blur with: use the training mean or a background of rows), or a
        ``sigma`` that is not positive and finite.

    Examples
    --------
    >>> blurred(torch.ones(1, 8, 8), 2.0).allclose(torch.ones(1, 8, 8))
    True
    """
    from scipy import ndimage

    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        raise TypeError(f"x must be a floating-point tensor [C, H, W] or [H, W]; got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim < 2:
        raise ValueError(
            f"blurred needs an image [H, W] or [C, H, W] (it blurs the last two dimensions); got shape "
            f"{tuple(x.shape)}; a table row has no neighbours: use the training mean or a background of rows"
        )
    if isinstance(sigma, bool) or not isinstance(sigma, Real):
        raise TypeError(f"sigma must be a number (pixels); got {sigma!r}")
    if not (math.isfinite(float(sigma)) and float(sigma) > 0):
        raise ValueError(f"sigma must be a positive, finite number of pixels; got {sigma!r}")
    array = x.detach().to("cpu", torch.float64).numpy()
    sigmas = (0.0,) * (x.ndim - 2) + (float(sigma), float(sigma))
    smooth = ndimage.gaussian_filter(array, sigma=sigmas, mode="reflect", truncate=4.0)
    return torch.from_numpy(smooth).to(x.device, x.dtype)


def check_game(game) -> int:
    """The number of players of ``game``, after checking that it is a coalition game.

    Every coalition method (LIME, exact Shapley, KernelSHAP, permutation sampling)
    relies on nothing but ``game(Z)`` and ``game.n_players``; this is the one check
    that both are there.

    Raises
    ------
    TypeError
        If ``game`` is not callable or has no positive int ``n_players``.
    """
    if not callable(game):
        raise TypeError(
            f"game must be callable, game(Z) for a bool tensor Z [n, M] returning [n] worths "
            f"(e.g. helpers.features.CoalitionGame); got {type(game).__name__}"
        )
    n_players = getattr(game, "n_players", None)
    if isinstance(n_players, bool) or not isinstance(n_players, (Integral, np.integer)) or n_players < 1:
        raise TypeError(
            f"game must have an attribute n_players, a positive int (the number of features M); "
            f"got {n_players!r}"
        )
    return int(n_players)


def game_values(game, Z, *, return_dtype: bool = False):
    """``game(Z)``, checked: one finite value per coalition, as float64 on the CPU.

    The one place where a method reads a game's worths (LIME, the Shapley estimators,
    occlusion, the deletion curves), so that a game returning the wrong shape or NaN is
    reported the same way everywhere.

    Parameters
    ----------
    game : callable, ``game(Z) -> [n]``
    Z : bool tensor [n, M]
    return_dtype : bool, default False
        Also return the dtype the game computed in (float32 for a float32 model).

    Returns
    -------
    torch.Tensor, float64, [n] (and the game's dtype)

    Raises
    ------
    ValueError
        If the game returns another shape than ``[n]``, or NaN or Inf.
    """
    values = game(Z)
    if not isinstance(values, torch.Tensor):
        values = torch.as_tensor(values)
    n = Z.shape[0]
    if values.shape != (n,) or not all_finite(values.detach()):
        raise ValueError(
            f"game(Z) must return one finite value per coalition, shape ({n},); got shape {tuple(values.shape)}"
            + ("" if values.shape != (n,) else " with NaN or Inf")
        )
    dtype = values.dtype if torch.is_floating_point(values) else torch.get_default_dtype()
    values = values.detach().to("cpu", torch.float64)
    return (values, dtype) if return_dtype else values


def check_coalitions(Z, n_players: int, device=None) -> torch.Tensor:
    """Check a batch of coalitions and return it as a bool tensor ``[n, M]``.

    Accepts a bool tensor (or NumPy array), or an integer one holding only 0 and 1.

    Raises
    ------
    TypeError
        For a type or dtype that is not bool / 0-1 integers.
    ValueError
        For a shape that is not ``[n, M]``.
    """
    if isinstance(Z, np.ndarray):
        Z = torch.from_numpy(Z)
    if not isinstance(Z, torch.Tensor):
        raise TypeError(f"Z must be a bool tensor [n, M] (True = feature present); got {type(Z).__name__}")
    if Z.dtype != torch.bool:
        if torch.is_floating_point(Z) or torch.is_complex(Z):
            raise TypeError(f"Z must be a bool tensor [n, M] (True = feature present); got dtype {Z.dtype}")
        if Z.numel() and not bool(((Z == 0) | (Z == 1)).all()):
            raise ValueError("Z must hold only 0/1 (or True/False); got other integer values")
        Z = Z != 0
    if Z.ndim != 2 or Z.shape[1] != n_players:
        hint = "; add a batch dimension with Z[None]" if Z.ndim == 1 and Z.shape[0] == n_players else ""
        raise ValueError(
            f"Z must have shape [n, M] with M = {n_players} players (one column per feature); "
            f"got shape {tuple(Z.shape)}{hint}"
        )
    return Z if device is None else Z.to(device)


# --------------------------------------------------------------------------- the games


class _NoGradEval:
    """``torch.no_grad()`` and :class:`helpers.scores.evaluation_mode` as one context.

    A game makes one and enters it on every call; entered again while open (a game
    evaluated inside its own model, say), the inner use changes nothing.
    """

    __slots__ = ("no_grad", "mode", "depth")

    def __init__(self, model: nn.Module, modules=None):
        self.no_grad, self.mode, self.depth = torch.no_grad(), evaluation_mode(model, modules), 0

    def __enter__(self):
        self.depth += 1
        if self.depth > 1:
            return self
        self.no_grad.__enter__()
        try:
            self.mode.__enter__()
        except BaseException:
            self.no_grad.__exit__(None, None, None)
            self.depth = 0
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self.depth -= 1
        if self.depth > 0:
            return False
        try:
            self.mode.__exit__(*exc)
        finally:
            self.no_grad.__exit__(*exc)
        return False


class FunctionGame(CountedGame):
    """A coalition game from any Python function of a batch of coalitions.

    The function receives a bool tensor ``[n, M]`` and returns ``n`` values.
    The game checks ``Z`` and counts evaluations like :class:`CoalitionGame`,
    so estimators and tests can use games with known answers (a linear game,
    a game with a dummy player, ...).

    Parameters
    ----------
    function : callable
        ``function(Z: bool tensor [n, M]) -> tensor [n]``.
    n_players : int
        M.

    Attributes
    ----------
    n_players : int
    n_evaluations : int
        Coalitions evaluated so far (rows of every ``Z``).
    n_calls : int
        Calls of ``game(Z)`` so far.

    Examples
    --------
    >>> game = FunctionGame(lambda Z: Z.float() @ torch.tensor([1.0, 2.0]), 2)
    >>> game(torch.tensor([[True, True]])).tolist()
    [3.0]
    """

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], n_players: int):
        if not callable(function):
            raise TypeError(f"function must be callable; got {type(function).__name__}")
        if isinstance(n_players, bool) or not isinstance(n_players, Integral) or n_players < 1:
            raise ValueError(f"n_players must be a positive int; got {n_players!r}")
        self.function = function
        self.n_players = int(n_players)
        self.reset_counts()

    def __call__(self, Z) -> torch.Tensor:
        Z = check_coalitions(Z, self.n_players)
        values = torch.as_tensor(self.function(Z))
        if values.shape != (Z.shape[0],):
            raise ValueError(
                f"the game's function must return one value per coalition, shape ({Z.shape[0]},); "
                f"got shape {tuple(values.shape)}"
            )
        self._count(Z.shape[0])
        return values

    def __repr__(self) -> str:
        return f"FunctionGame(n_players={self.n_players}, n_evaluations={self.n_evaluations})"


class CoalitionGame(CountedGame):
    r"""The game :math:`v(z) = S_{target}(x \odot m(z) + b \odot (1 - m(z)))` of one input.

    Built once per explained input; ``game(Z)`` evaluates the model on a whole
    batch of coalitions, in chunks of ``batch_size`` rows, with the masking done
    by tensor operations (``Z[:, segments]`` spreads each coalition over the
    input, then ``torch.lerp(baseline, x, mask)`` picks the input or the
    baseline): there is no Python loop over rows. The model runs in eval mode without gradients, and
    gets its own mode back after every call. Every input the model sees is a
    fresh tensor that the game does not keep, so a model that writes into its
    input (``z.mul_(2)``) cannot change the game.

    Ribeiro, Singh and Guestrin, "Why Should I Trust You?": Explaining the
    Predictions of Any Classifier, 2016, arXiv 1602.04938 (the interpretable
    representation); Lundberg and Lee, "A Unified Approach to Interpreting Model
    Predictions", 2017, arXiv 1705.07874 (the same game behind SHAP; the
    background of many rows is their interventional expectation, shap's
    ``KernelExplainer(f, background)``).

    Parameters
    ----------
    model : torch.nn.Module or callable
        Maps a batch ``[B, *x.shape]`` to scores ``[B, classes]``.
    x : torch.Tensor, float, [C, H, W] or [F]
        One input, without a batch dimension. For a module, ``x`` is cast to the
        dtype of the model's parameters (a float64 row for a float32 model is fine).
    segments : torch.Tensor, int, trailing shape of ``x``
        Labels ``0..M-1`` (see :func:`grid_segments`, :func:`superpixels`,
        :func:`tabular_segments`).
    baseline : float, torch.Tensor or "segment_mean", default 0.0
        What an absent feature becomes: a number, a tensor shaped like ``x``
        (or broadcastable to it, e.g. ``[C, 1, 1]``; :func:`blurred` gives a
        blurred copy of an image, a training mean is a tensor ``[F]``), or
        ``"segment_mean"`` (each segment filled with its own mean, per channel:
        lime's default for images). ``"segment_mean"`` is refused where every
        segment is a single value (one column of a table, say): there it equals
        ``x`` and every feature would be a dummy. Any other baseline equal to
        ``x`` everywhere gives a warning (the game is constant).
    background : torch.Tensor, float, [K, *x.shape], optional
        Instead of one baseline, ``K`` rows (e.g. training rows): an absent
        feature takes its value from each row in turn and the game is the mean
        over the rows, :math:`v(z) = \frac1K\sum_k S(x \odot m(z) + b_k \odot (1 - m(z)))`,
        so :math:`v(\emptyset)` is the mean output on the background,
        :math:`E[f(X)]`, as in shap. Each coalition costs ``K`` model rows.
        Give either ``baseline`` or ``background``, not both.
    target : int or None, default None
        The class whose score is the game's value; None means the class the
        model predicts for ``x``.
    output : {"score", "probability"}, default "score"
        The model's raw target score (logit), or its softmax probability (what
        the ``lime`` package explains). With a background, the mean of the
        rows' scores or probabilities.
    batch_size : int, optional
        Rows per forward pass. Default: as many as keep a chunk under
        :data:`helpers.scores.AUTO_FORWARD_VALUES` input values (:func:`helpers.scores.chunk_rows`), which
        suits CPU caches. The values do not depend on it.

    Attributes
    ----------
    n_players : int
        M, the number of features.
    target : int
        The class explained.
    n_classes : int
    full_score : float
        The model's output (score or probability) for the target on ``x`` itself.
    baseline_input : torch.Tensor
        The input with every feature absent, shape of ``x``; with a background,
        the background itself ``[K, *x.shape]``.
    background : torch.Tensor or None
        The background rows ``[K, *x.shape]``, or None.
    dummy_players : torch.Tensor, bool, [M]
        Features whose segment holds the baseline already (they cannot matter).
    n_evaluations : int
        Coalitions evaluated so far by ``game(Z)`` (the forward pass on ``x``
        made at construction is not counted).
    n_calls : int
        Forward passes made so far by ``game(Z)``.

    Raises
    ------
    TypeError
        For a model that is not callable, ``x`` not a float tensor, a baseline
        of the wrong type, a non-int target.
    ValueError
        For segments whose shape does not match ``x`` or whose labels are not
        ``0..M-1``, a baseline tensor that does not broadcast to ``x``, an
        unknown baseline string or ``output``, ``"segment_mean"`` where every
        segment is one value, a background that is not ``[K, *x.shape]``, both a
        baseline and a background, a target out of range, a model that fails on
        ``x`` or does not return ``[B, classes]`` (the message says when ``x``
        looks batched: pass ``X[0]``, not ``X[:1]``).

    Examples
    --------
    >>> game = CoalitionGame(model, x, grid_segments(x, 7), baseline=0.0)  # doctest: +SKIP
    >>> game(torch.ones(1, game.n_players, dtype=torch.bool))  # doctest: +SKIP
    """

    def __init__(
        self,
        model,
        x: torch.Tensor,
        segments,
        *,
        baseline=None,
        background: torch.Tensor | None = None,
        target: int | None = None,
        output: str = "score",
        batch_size: int | None = None,
    ):
        if not callable(model):
            raise TypeError(f"model must be a torch.nn.Module or a callable; got {type(model).__name__}")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor (one input, no batch dimension); got {type(x).__name__}")
        if not torch.is_floating_point(x):
            raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError("x must be one input [C, H, W] or [F]; got a scalar")
        if not all_finite(x):
            raise ValueError("x must be finite; it holds NaN or Inf values")
        if output not in ("score", "probability"):
            raise ValueError(f'output must be "score" or "probability"; got {output!r}')
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}")
        if background is not None and baseline is not None:
            raise ValueError("give either baseline (one input) or background (many rows), not both")

        self.model = model
        is_module = isinstance(model, nn.Module)
        # one evaluation context for every call; it lists the model's modules once, to check their modes
        self._context = _NoGradEval(model, tuple(model.modules())) if is_module else None
        self.output = output
        self.device = model_device(model, x.device) if is_module else x.device
        dtype = model_dtype(model, x.dtype) if is_module else x.dtype  # the model's dtype, as the saliency path
        self.x = x.detach().to(self.device, dtype).clone()
        self.segments, self.n_players, identity = _check_segments(segments, tuple(x.shape))
        self.segments = self.segments.to(self.device)
        self.background = None if background is None else self._background(background)
        self.baseline = 0.0 if baseline is None and background is None else baseline
        self.baseline_input = self.background if background is not None else self._baseline_input(self.baseline)
        self.batch_size = chunk_rows(batch_size, self.x[None], forward_only=True)
        # the mask of one coalition is Z[:, segments] reshaped to broadcast over the leading dims of x
        self._flat_segments = self.segments.reshape(-1)
        self._mask_view = (1,) * (self.x.ndim - self.segments.ndim) + tuple(self.segments.shape)
        # a table's columns (segments 0..M-1 in order over a 1-D x): Z itself is the mask
        self._one_feature_per_player = identity and self.x.ndim == 1

        out = self._scores(self.x[None].clone())  # a copy: a model that writes into its input cannot reach self.x
        self.n_classes = int(out.shape[1])
        if target is None:
            target = int(out[0].argmax())
        elif isinstance(target, bool) or not isinstance(target, Integral):
            if isinstance(target, torch.Tensor) and target.numel() == 1 and not torch.is_floating_point(target) \
                    and target.dtype != torch.bool:
                target = int(target)
            else:
                raise TypeError(f"target must be an int class index or None; got {target!r}")
        if not 0 <= int(target) < self.n_classes:
            raise ValueError(f"target must be a class index in [0, {self.n_classes}); got {int(target)}")
        self.target = int(target)
        self.full_score = float(out[0, self.target])
        self.reset_counts()
        if background is None and torch.equal(self.x, self.baseline_input):
            self._every_feature_at_its_baseline()

    # -- construction helpers

    def _baseline_input(self, baseline) -> torch.Tensor:
        if isinstance(baseline, str):
            if baseline != "segment_mean":
                raise ValueError(f'baseline must be a number, a tensor shaped like x or "segment_mean"; got {baseline!r}')
            return segment_means(self.x, self.segments)
        return check_baseline(baseline, self.x, accepted='a number, a tensor shaped like x or "segment_mean"')

    def _background(self, background) -> torch.Tensor:
        """The background rows ``[K, *x.shape]``: checked, a copy in the model's dtype and device."""
        if not isinstance(background, torch.Tensor):
            raise TypeError(f"background must be a float tensor [K, *x.shape]; got {type(background).__name__}")
        if not torch.is_floating_point(background):
            raise TypeError(f"background must be a float tensor [K, *x.shape]; got dtype {background.dtype}")
        shape = tuple(self.x.shape)
        if background.ndim != self.x.ndim + 1 or background.shape[0] < 1:
            raise ValueError(
                f"background must hold K >= 1 rows shaped like x, [K, *{shape}]; got shape {tuple(background.shape)}"
                + ("; for one row, pass baseline= instead (or add a row dimension with b[None])"
                   if background.ndim == self.x.ndim else "")
            )
        try:
            rows = torch.broadcast_to(background.detach().to(self.device, self.x.dtype),
                                      (background.shape[0], *shape))
        except RuntimeError as err:
            raise ValueError(
                f"background must be [K, *x.shape] = [K, *{shape}] (or broadcast to it); got shape "
                f"{tuple(background.shape)}"
            ) from err
        if not all_finite(rows):
            raise ValueError("background must be finite; it holds NaN or Inf values")
        return rows.contiguous().clone()

    def _every_feature_at_its_baseline(self) -> None:
        """``x`` equals its baseline everywhere: refuse ``"segment_mean"``, warn otherwise."""
        if isinstance(self.baseline, str):
            raise ValueError(
                'baseline="segment_mean" makes every feature equal to its baseline here: every segment holds a '
                "single value (one column of a table, say), so the game is constant and every attribution is 0; "
                "use a number, the training mean (a tensor shaped like x) or background= rows"
            )
        warnings.warn(
            "x equals its baseline everywhere: every feature is a dummy player, the game is constant and every "
            "attribution will be 0; choose a baseline that differs from x",
            UserWarning,
            stacklevel=3,
        )

    def _running(self):
        """No gradients and, for a module, eval mode (every submodule's own mode restored after)."""
        return self._context if isinstance(self.model, nn.Module) else torch.no_grad()

    def _scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """All class outputs for a batch of inputs (no gradients, eval mode)."""
        with self._running():
            return self._outputs(inputs)

    def _batched_hint(self) -> str:
        # [1, F] (a table's X[:1]) or [1, C, H, W] (an image's); [1, H, W] is a grey image itself
        if self.x.shape[0] == 1 and self.x.ndim in (2, 4, 5):
            return (f"; x must be ONE input without a batch dimension (the game adds it): x has shape "
                    f"{tuple(self.x.shape)}; if its first dimension is a batch, pass X[0] rather than X[:1]")
        return ""

    def _outputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """All class outputs for a batch of inputs; the caller holds :meth:`_running`."""
        try:
            out = class_scores(self.model, inputs, name="the masked inputs")
        except ValueError as err:
            hint = self._batched_hint()
            if not hint:
                raise
            raise ValueError(f"{err}{hint}") from err
        out = out.detach()
        return out.softmax(dim=1) if self.output == "probability" else out

    # -- the game

    def masks(self, Z) -> torch.Tensor:
        """The coalitions spread over the input: bool ``[n, *segments.shape]`` (True = keep x)."""
        Z = check_coalitions(Z, self.n_players, self.device)
        return Z.index_select(1, self._flat_segments).view(Z.shape[0], *self.segments.shape)

    def inputs(self, Z) -> torch.Tensor:
        """The masked inputs ``[n, *x.shape]``: x where a feature is present, the baseline elsewhere.

        Computed as ``torch.lerp(baseline, x, mask)`` with the 0/1 mask
        ``Z[:, segments]`` (an ``index_select``) broadcast over the channels:
        exact at 0 and 1 (the present values are ``x`` bit for bit), and several
        times faster than ``torch.where`` with a broadcast boolean mask. For a
        table whose players are its columns in order, ``Z`` itself is the mask.
        With a background of ``K`` rows: ``[n * K, *x.shape]``, coalition by coalition.

        Examples
        --------
        >>> game.inputs(torch.zeros(1, game.n_players, dtype=torch.bool))  # doctest: +SKIP
        """
        Z = check_coalitions(Z, self.n_players, self.device)
        weight = Z.to(self.x.dtype)
        if not self._one_feature_per_player:  # spread each player's column over its segment
            weight = weight.index_select(1, self._flat_segments).view(Z.shape[0], *self._mask_view)
        if self.background is not None:  # every coalition with every background row
            return torch.lerp(self.background, self.x, weight[:, None]).flatten(0, 1)
        return torch.lerp(self.baseline_input, self.x, weight)

    def __call__(self, Z) -> torch.Tensor:
        """The game's value for every coalition.

        Parameters
        ----------
        Z : bool tensor [n, M]
            True = feature present (0/1 integers are accepted too).

        Returns
        -------
        torch.Tensor, float, [n]
            The target score (or probability) of every masked input (with a
            background, its mean over the rows), on ``Z``'s device.

        Raises
        ------
        TypeError, ValueError
            For a ``Z`` that is not bool/0-1 or not ``[n, M]``.
        """
        out_device = Z.device if isinstance(Z, torch.Tensor) else torch.device("cpu")
        Z = check_coalitions(Z, self.n_players, self.device)
        rows = 1 if self.background is None else self.background.shape[0]
        step = max(1, self.batch_size // rows)  # coalitions per forward pass
        values = []
        with self._running():  # entered once: the chunks below run in eval mode without gradients
            for start in range(0, Z.shape[0], step):
                chunk = self.inputs(Z[start:start + step])
                scores = self._outputs(chunk)[:, self.target]
                values.append(scores if rows == 1 else scores.view(-1, rows).mean(dim=1))
                self.n_calls += 1
        self.n_evaluations += int(Z.shape[0])
        if not values:
            return torch.empty(0, dtype=self.x.dtype, device=out_device)
        values = values[0] if len(values) == 1 else torch.cat(values)
        return values if values.device == out_device else values.to(out_device)

    @property
    def dummy_players(self) -> torch.Tensor:
        """bool ``[M]``: features whose absence changes nothing (``x`` equals the baseline on the whole segment).

        Such a feature is a dummy player: :math:`v(S \\cup \\{i\\}) = v(S)` for every
        coalition, so any sound attribution gives it 0 (e.g. the empty corners
        of a digit with a zero or segment-mean baseline). With a background, a
        feature is a dummy when every row equals ``x`` on its segment.
        """
        differs = (self.x != self.baseline_input).reshape(-1, self.segments.numel()).any(dim=0)
        changed = torch.zeros(self.n_players, dtype=torch.bool, device=self.device)
        changed.index_fill_(0, self.segments.reshape(-1)[differs], True)
        return ~changed.cpu()

    def __repr__(self) -> str:
        if self.background is not None:
            absent = f"background={self.background.shape[0]} rows"
        else:
            absent = f"baseline={self.baseline if isinstance(self.baseline, (str, Real)) else 'tensor'!r}"
        return (
            f"CoalitionGame(n_players={self.n_players}, target={self.target}, {absent}, "
            f"output={self.output!r}, n_evaluations={self.n_evaluations})"
        )


def occlusion(game) -> torch.Tensor:
    r"""Occlusion: what the game loses when each feature alone is removed from the full coalition.

    .. math:: \phi_i = v(N) - v(N \setminus \{i\})

    Zeiler and Fergus slid a grey square over an image and recorded how much
    the class score dropped at each position; on a grid of patches with a
    baseline that is exactly this game's leave-one-out (non-overlapping
    windows), and on any other segmentation or table the same idea (Captum
    calls it feature ablation). It costs :math:`M + 1` coalitions, evaluated in
    one call ``game(Z)``. For an additive game it equals the Shapley values;
    otherwise it misses what features do together: two features that can
    stand in for each other both get 0, though together they matter.

    Zeiler and Fergus, "Visualizing and Understanding Convolutional
    Networks", 2014, arXiv 1311.2901.

    Parameters
    ----------
    game : callable with ``n_players``
        ``game(Z)`` for a bool tensor ``Z [n, M]`` returns ``[n]`` worths
        (e.g. :class:`CoalitionGame`).

    Returns
    -------
    torch.Tensor, [M]
        One value per feature, in the dtype (and on the device) of the game's worths.

    Raises
    ------
    TypeError
        For an object that is not a game.
    ValueError
        For a game that does not return one finite value per coalition.

    Examples
    --------
    >>> game = FunctionGame(lambda Z: Z.float() @ torch.tensor([1.0, 2.0]), 2)
    >>> occlusion(game).tolist()
    [1.0, 2.0]
    """
    n_players = check_game(game)
    Z = torch.ones(n_players + 1, n_players, dtype=torch.bool)
    Z[1:].fill_diagonal_(False)  # row 0: everyone; row 1 + i: everyone but i
    values = game_values(game, Z)
    return values[0] - values[1:]
