"""Pictures in one consistent style: digits, heatmaps, overlays and grids.

Every function draws on ``ax`` (a new one when None) and returns it (or the
figure, for grids); none calls ``plt.show()``. Conventions:

- non-negative maps (|gradient|, shares) use the ``"hot"`` colormap, as in the
  minimal example;
- signed maps (signed gradient, Gradient x Input, LIME weights, SHAP values) use
  the diverging ``"RdBu_r"`` colormap, symmetric around zero (red: pushes the
  score up, blue: pushes it down);
- ``clip_percentile`` clips the colour range at that percentile of |map|, so that
  a few extreme pixels do not wash out the rest.

Words coloured by their scores (:func:`words_html`, :func:`show_words`) are HTML
rather than axes, in shap's red and blue (notebook 08).

For widgets, cheap rendering without a figure: :func:`colourize` (a map in the same
colours, as uint8 RGB), :func:`overlay_picture`, :func:`rgb_picture`,
:func:`colour_bar_picture` and :func:`png_bytes` (PNG bytes for an
``ipywidgets.Image``); the explorers of notebook 07 draw with them.

Used by every notebook.
"""

from __future__ import annotations

import html
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from PIL import Image

__all__ = [
    "to_image",
    "show_digit",
    "show_heatmap",
    "show_overlay",
    "show_grid",
    "show_regions",
    "show_segments",
    "show_segment_weights",
    "show_field",
    "show_budget_errors",
    "show_dependence",
    "show_curves",
    "show_randomisation",
    "words_html",
    "show_words",
    "colourize",
    "png_bytes",
    "rgb_picture",
    "overlay_picture",
    "colour_bar_picture",
    "UNSIGNED_CMAP",
    "SIGNED_CMAP",
    "REGION_COLOURS",
]

UNSIGNED_CMAP = "hot"
SIGNED_CMAP = "RdBu_r"
# stroke interior, stroke edge, ring, background (helpers.metrics.REGIONS): far apart in hue and lightness
REGION_COLOURS = ["#8b0000", "#ffd700", "#4a90d9", "#1a1a1a"]


def _finish_image(ax, image, title, colorbar: bool):
    """Axes off, an optional small title and colorbar: the common end of the image plots."""
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def _check_limit(limit, clip_percentile) -> float:
    """A fixed colour limit: a positive finite number, and not together with a percentile."""
    if clip_percentile is not None:
        raise ValueError(f"give limit or clip_percentile, not both; got limit={limit!r}, "
                         f"clip_percentile={clip_percentile!r}")
    if isinstance(limit, bool) or not isinstance(limit, (int, float, np.floating, np.integer)) \
            or not np.isfinite(limit) or limit <= 0:
        raise ValueError(f"limit must be a positive finite number; got {limit!r}")
    return float(limit)


def _colour_limit(arrays, clip_percentile) -> float:
    """The largest |value| over ``arrays`` (or that percentile of all |values|); 1 for all-zero maps."""
    magnitudes = np.concatenate([np.abs(np.asarray(a, dtype=np.float64)).ravel() for a in arrays])
    if clip_percentile is not None:
        if isinstance(clip_percentile, bool) or not isinstance(clip_percentile, (int, float, np.floating)) \
                or not 0 < clip_percentile <= 100:
            raise ValueError(f"clip_percentile must be in (0, 100]; got {clip_percentile!r}")
        limit = np.percentile(magnitudes, clip_percentile)
    else:
        limit = magnitudes.max() if magnitudes.size else 0.0
    return float(limit) if limit > 0 else 1.0


def _values(a) -> np.ndarray:
    """A tensor or array as a float64 NumPy array."""
    return np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)


def to_image(x) -> np.ndarray:
    """A 2-D (grey) or H x W x 3 (colour) NumPy array from a tensor or array.

    Accepts ``[H, W]``, ``[1, H, W]``, ``[3, H, W]``, ``[1, C, H, W]`` and
    ``H x W x 3``; a batch of more than one image is an error.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected one image; got a batch of shape {x.shape}")
        x = x[0]
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (3, 4):
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise ValueError(f"expected an image [H, W], [C, H, W] or [H, W, 3]; got shape {x.shape}")
    return x


def _reduce_channels(saliency: np.ndarray) -> np.ndarray:
    """Colour maps: sum over channels for signed maps, max of |.| otherwise."""
    if saliency.ndim == 3:
        return saliency.sum(axis=-1) if (saliency < 0).any() else np.abs(saliency).max(axis=-1)
    return saliency


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    return ax


def show_digit(x, ax=None, *, title: str | None = None):
    """Draw a grey digit (black background, white stroke) or a colour photograph.

    Examples
    --------
    >>> ax = show_digit(X_test[0], title="label 7")  # doctest: +SKIP
    """
    ax = _axes(ax)
    image = to_image(x)
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=max(1.0, float(image.max())))
    else:
        ax.imshow(np.clip(image, 0, 1) if image.dtype != np.uint8 else image)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_heatmap(
    saliency,
    ax=None,
    *,
    title: str | None = None,
    signed: bool | None = None,
    cmap: str | None = None,
    clip_percentile: float | None = None,
    colorbar: bool = True,
    limit: float | None = None,
):
    """Draw a saliency map as a heatmap with a colorbar.

    Parameters
    ----------
    saliency : tensor or array, [H, W], [1, H, W], [C, H, W] or [1, C, H, W]
    ax : matplotlib Axes, optional
    title : str, optional
    signed : bool, optional
        Use the diverging colormap symmetric around 0. Default: True when the map
        has negative values.
    cmap : str, optional
        Overrides the colormap.
    clip_percentile : float in (0, 100], optional
        Clip the colour range at this percentile of |map|.
    colorbar : bool, default True
    limit : float > 0, optional
        A fixed colour range, ``[-limit, limit]`` (signed) or ``[0, limit]``, so that several maps share
        one scale (what :func:`show_grid` does with ``shared_scale=True``). Not with ``clip_percentile``.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    values = _reduce_channels(to_image(saliency).astype(np.float64))
    if signed is None:
        signed = bool((values < 0).any())
    if limit is not None:
        limit = _check_limit(limit, clip_percentile)
    else:
        limit = _colour_limit([values], clip_percentile)
    if signed:
        image = ax.imshow(values, cmap=cmap or SIGNED_CMAP, vmin=-limit, vmax=limit)
    else:
        image = ax.imshow(values, cmap=cmap or UNSIGNED_CMAP, vmin=0, vmax=limit)
    return _finish_image(ax, image, title, colorbar)


def show_overlay(x, saliency, ax=None, *, title: str | None = None, alpha: float = 0.6,
                 clip_percentile: float | None = 99.0, colorbar: bool = True):
    """Draw the map over the image: the image in grey, the map in colour on top.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    image = to_image(x)
    grey = image if image.ndim == 2 else image.mean(axis=-1)
    if grey.dtype == np.uint8:
        grey = grey / 255.0
    ax.imshow(grey, cmap="gray")
    show_heatmap(saliency, ax, title=title, clip_percentile=clip_percentile, colorbar=colorbar)
    ax.images[-1].set_alpha(alpha)
    return ax


def show_grid(images, maps=None, *, titles=None, map_titles=None, ncols: int | None = None,
              clip_percentile: float | None = None, signed: bool | None = None, size: float = 1.9,
              shared_scale: bool = False, segments=None):
    """A grid of images, each with its map beneath it (when ``maps`` is given).

    Parameters
    ----------
    images : sequence of images (or a tensor [N, ...])
    maps : sequence of maps (or a tensor [N, ...]), optional
        Pixel maps, or one weight per segment ([N, M]) when ``segments`` is given.
    titles, map_titles : sequence of str, optional
    ncols : int, optional
        Default: all in one row.
    clip_percentile, signed
        As in :func:`show_heatmap`. With ``shared_scale`` the percentile is taken over all maps together.
    size : float
        Inches per panel.
    shared_scale : bool, default False
        Draw every map on one colour scale with one colour bar, so that their magnitudes can be
        compared (classes, methods or budgets side by side). By default each map is scaled to itself
        and no colour bar is drawn: then only the pattern within a panel can be read.
    segments : int tensor/array [H, W] (labels 0..M-1), optional
        Draw the maps as one weight per segment with :func:`show_segment_weights` (LIME, SHAP).

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    ValueError
        For no images, maps that do not match the images one to one, or a bad ``ncols``.

    Examples
    --------
    >>> fig = show_grid(digits, maps, signed=True, shared_scale=True)  # doctest: +SKIP
    """
    n = len(images)
    if n == 0:
        raise ValueError("show_grid needs at least one image; got an empty sequence")
    if maps is not None and len(maps) != n:
        raise ValueError(f"maps must match images one to one; got {len(maps)} maps for {n} images")
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1):
        raise ValueError(f"ncols must be a positive int; got {ncols!r}")
    if not isinstance(shared_scale, bool):
        raise TypeError(f"shared_scale must be True or False; got {shared_scale!r}")
    if segments is not None and maps is None:
        raise ValueError("segments colour the maps; give maps as well")
    ncols = min(int(ncols or n), n)
    rows_per = 2 if maps is not None else 1
    nrows = -(-n // ncols) * rows_per
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    limit = None
    if maps is not None and shared_scale:
        if segments is not None:
            if clip_percentile is not None:
                raise ValueError("clip_percentile applies to pixel maps, not to segment weights")
            limit = _colour_limit([_values(m) for m in maps], None)
        else:
            reduced = [_reduce_channels(to_image(m).astype(np.float64)) for m in maps]
            if signed is None:
                signed = any(bool((r < 0).any()) for r in reduced)
            limit = _colour_limit(reduced, clip_percentile)
    map_axes = []
    for i in range(n):
        r, c = (i // ncols) * rows_per, i % ncols
        show_digit(images[i], axes[r, c], title=titles[i] if titles is not None else None)
        if maps is not None:
            ax, title = axes[r + 1, c], map_titles[i] if map_titles is not None else None
            if segments is not None:
                show_segment_weights(images[i], segments, maps[i], ax, title=title, colorbar=False, limit=limit)
            else:
                show_heatmap(maps[i], ax, title=title, signed=signed, colorbar=False,
                             clip_percentile=None if limit is not None else clip_percentile, limit=limit)
            map_axes.append(ax)
    fig.tight_layout()
    if limit is not None:
        width = fig.get_size_inches()[0]
        fig.subplots_adjust(right=1 - 0.9 / width)
        boxes = [ax.get_position() for ax in map_axes]
        bottom, top = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
        bar = fig.add_axes((1 - 0.75 / width, bottom, 0.12 / width, top - bottom))
        fig.colorbar(map_axes[0].images[-2 if segments is not None else -1], cax=bar)
    return fig


def show_regions(regions: dict, ax=None, *, title: str | None = None):
    """Draw the regions of :func:`helpers.metrics.digit_regions` for one digit, one colour each.

    The colours (:data:`REGION_COLOURS`, in the order of the regions) differ in hue and in lightness,
    so that the stroke's interior (dark red) and edge (yellow) stay apart in print and for colour-blind
    readers; the ring is blue, the background near black.
    """
    ax = _axes(ax)
    names = list(regions)
    label = np.zeros(to_image(regions[names[0]][0] if regions[names[0]].ndim == 4 else regions[names[0]]).shape)
    for k, name in enumerate(names):
        mask = regions[name]
        label[to_image(mask[0] if mask.ndim == 4 else mask).astype(bool)] = k
    palette = REGION_COLOURS + [plt.get_cmap("tab10")(k) for k in range(len(names))]
    colours = ListedColormap(palette[:len(names)])
    ax.imshow(label, cmap=colours, vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours(k)) for k in range(len(names))]
    ax.legend(handles, [n.replace("_", " ") for n in names], loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_field(xx, yy, values, vectors=None, ax=None, *, points=None, labels=None, title: str | None = None,
               value_label: str = "", cmap: str = "coolwarm", every: int = 1, lines=None, line_levels: int = 12):
    """Draw a scalar field over the plane, with optional arrows, contour lines and data points.

    Parameters
    ----------
    xx, yy : tensor or array [n, n]
        The grid (``torch.meshgrid(..., indexing="xy")``).
    values : tensor or array [n, n]
        Drawn as filled contours (e.g. the probability of class 1).
    vectors : tensor or array [n, n, 2], optional
        Drawn as arrows (e.g. the gradient of a class score), every ``every``-th point.
    points : tensor or array [N, 2], optional
        Data points, coloured by ``labels``.
    title, value_label : str
    lines : tensor or array [n, n], optional
        A second field drawn as labelled black contour lines over the colours: the
        field the arrows are the gradient of, when it differs from ``values``
        (notebook 01: the class score :math:`S_1`, whose lines run on where the
        probability has saturated and its colours stop changing). Arrows that are
        the gradient of ``lines`` cross them at right angles.
    line_levels : int, default 12
        How many contour lines (matplotlib picks evenly spaced levels).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``values``, ``lines`` or ``vectors`` do not match the grid's shape, or
        ``line_levels`` is not an int >= 1.

    Examples
    --------
    >>> ax = show_field(xx, yy, probability, field, lines=score)  # doctest: +SKIP
    """
    def as_np(a):
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    xx, yy, values = as_np(xx), as_np(yy), as_np(values)
    for name, field, shape in (("values", values, xx.shape), ("lines", lines, xx.shape),
                               ("vectors", vectors, (*xx.shape, 2))):
        if field is not None and tuple(as_np(field).shape) != tuple(shape):
            raise ValueError(f"{name} must have the grid's shape {tuple(shape)}; got {tuple(as_np(field).shape)}")
    if isinstance(line_levels, bool) or not isinstance(line_levels, int) or line_levels < 1:
        raise ValueError(f"line_levels must be an int >= 1; got {line_levels!r}")
    ax = _axes(ax)
    filled = ax.contourf(xx, yy, values, levels=20, cmap=cmap, alpha=0.8)
    ax.figure.colorbar(filled, ax=ax, fraction=0.046, pad=0.04, label=value_label)
    if lines is not None:
        contours = ax.contour(xx, yy, as_np(lines), levels=line_levels, colors="k", linewidths=0.8, alpha=0.8)
        ax.clabel(contours, fontsize=7, fmt="%g")
    if points is not None:
        points = as_np(points)
        ax.scatter(points[:, 0], points[:, 1], c=as_np(labels) if labels is not None else "k",
                   cmap="bwr", s=8, edgecolors="k", linewidths=0.3)
    if vectors is not None:
        v = as_np(vectors)
        s = slice(None, None, every)
        ax.quiver(xx[s, s], yy[s, s], v[s, s, 0], v[s, s, 1], color="k", alpha=0.8)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _segment_image(x) -> np.ndarray:
    """The image as H x W x 3 floats in [0, 1] (grey repeated; other ranges rescaled) for drawing segments."""
    image = to_image(x).astype(np.float64)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.max() > 1.0 and image.max() <= 255 and image.min() >= 0 and to_image(x).dtype == np.uint8:
        image = image / 255.0
    low, high = image.min(), image.max()
    if low < 0 or high > 1:
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image


def show_segments(x, segments, ax=None, *, title: str | None = None, color=(1.0, 1.0, 0.0), numbers: bool = False):
    """Draw an image with the boundaries of its segments (scikit-image's ``mark_boundaries``).

    Parameters
    ----------
    x : image tensor/array ([C, H, W], [H, W] or [H, W, 3])
    segments : int tensor/array [H, W], labels 0..M-1
    color : RGB tuple, default yellow
    numbers : bool, default False
        Write each segment's label at its centre.

    Returns
    -------
    matplotlib Axes
    """
    from skimage.segmentation import mark_boundaries

    ax = _axes(ax)
    labels = np.asarray(segments.detach().cpu() if isinstance(segments, torch.Tensor) else segments)
    image = _segment_image(x)
    # small images (a 28 x 28 digit) are enlarged, nearest-neighbour, so that boundaries stay thin
    factor = max(1, int(np.ceil(200 / min(labels.shape))))
    big_labels = np.kron(labels, np.ones((factor, factor), dtype=labels.dtype))
    big_image = image.repeat(factor, axis=0).repeat(factor, axis=1)
    extent = (-0.5, labels.shape[1] - 0.5, labels.shape[0] - 0.5, -0.5)
    ax.imshow(mark_boundaries(big_image, big_labels, color=color), extent=extent)
    if numbers:
        for label in np.unique(labels):
            rows, cols = np.nonzero(labels == label)
            ax.text(cols.mean(), rows.mean(), str(int(label)), color=color, fontsize=7, ha="center", va="center")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_segment_weights(x, segments, weights, ax=None, *, title: str | None = None, top_k: int | None = None,
                         alpha: float = 0.6, colorbar: bool = True, limit: float | None = None):
    """Draw one weight per segment (LIME, SHAP) over the image, with the segments' boundaries.

    Red segments push the target score up, blue ones push it down (the signed
    colormap, symmetric around 0); the image shows through in grey.

    Parameters
    ----------
    x : image tensor/array
    segments : int tensor/array [H, W], labels 0..M-1
    weights : tensor/array [M]
    top_k : int >= 1, optional
        Colour only the ``top_k`` segments of largest ``|weight|`` (like lime's
        ``get_image_and_mask``); the others stay grey.
    alpha : float, default 0.6
    colorbar : bool, default True
    limit : float > 0, optional
        A fixed colour range ``[-limit, limit]`` shared with other panels (default: the largest |weight|).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If ``weights`` do not hold one value per segment, or ``top_k`` is not a positive int.
    """
    from skimage.segmentation import find_boundaries

    ax = _axes(ax)
    labels = np.asarray(segments.detach().cpu() if isinstance(segments, torch.Tensor) else segments).astype(np.int64)
    values = np.asarray(weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights, dtype=np.float64)
    if values.ndim != 1 or values.shape[0] != labels.max() + 1:
        raise ValueError(f"weights must hold one value per segment, shape ({labels.max() + 1},); got {values.shape}")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be a positive int (how many segments to colour) or None for all; "
                             f"got {top_k!r}")
        keep = np.zeros_like(values, dtype=bool)
        keep[np.argsort(-np.abs(values), kind="stable")[:top_k]] = True
        values = np.where(keep, values, 0.0)
    limit = _check_limit(limit, None) if limit is not None else _colour_limit([values], None)
    grey = _segment_image(x).mean(axis=-1)
    # small images (a 28 x 28 digit) are enlarged, nearest-neighbour, so that boundaries stay thin
    factor = max(1, int(np.ceil(200 / min(labels.shape))))
    labels, grey = (np.kron(a, np.ones((factor, factor), dtype=a.dtype)) for a in (labels, grey))
    extent = (-0.5, labels.shape[1] / factor - 0.5, labels.shape[0] / factor - 0.5, -0.5)
    ax.imshow(grey, cmap="gray", extent=extent)
    image = ax.imshow(np.ma.masked_equal(values[labels], 0.0), cmap=SIGNED_CMAP, vmin=-limit, vmax=limit,
                      alpha=alpha, extent=extent)
    edges = find_boundaries(labels, mode="inner")
    ax.imshow(np.ma.masked_where(~edges, np.ones_like(labels)), cmap="gray_r", vmin=0, vmax=1, alpha=0.7,
              extent=extent)
    return _finish_image(ax, image, title, colorbar)


def show_budget_errors(budgets, errors: dict, ax=None, *, title: str | None = None,
                       ylabel: str = r"relative error $\|\hat\phi - \phi\|^2 / \|\phi\|^2$"):
    """Error of estimators against their budget on log-log axes: the median and the quartiles.

    Parameters
    ----------
    budgets : sequence of int
        The x values (model evaluations).
    errors : dict of name -> array [len(budgets), n_seeds]
        E.g. the output of :func:`helpers.shapley.budget_errors`.
    ax : matplotlib Axes, optional
    title, ylabel : str, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = show_budget_errors([40, 80], {"ours": np.array([[1e-2, 2e-2], [5e-3, 6e-3]])})  # doctest: +SKIP
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.6))
    budgets = np.asarray(list(budgets), dtype=np.float64)
    markers = "osv^Dp*"
    for k, (name, values) in enumerate(errors.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] != budgets.shape[0]:
            raise ValueError(f"errors[{name!r}] must be [len(budgets), n_seeds] = [{budgets.shape[0]}, n]; "
                             f"got shape {values.shape}")
        line, = ax.plot(budgets, np.median(values, axis=1), marker=markers[k % len(markers)], ms=4, label=name)
        ax.fill_between(budgets, np.percentile(values, 25, axis=1), np.percentile(values, 75, axis=1),
                        color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(budgets)
    ax.set_xticklabels([f"{int(b)}" for b in budgets])
    ax.minorticks_off()
    ax.set_xlabel("budget (coalitions evaluated)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_dependence(feature_values, shap_values, colour_values=None, ax=None, *, feature: str = "feature",
                    colour: str | None = None, title: str | None = None):
    """A dependence plot: each row's SHAP value of one feature against the feature's value.

    One point per row (patient), coloured by a second feature's value (blue low, red high,
    shap's convention), so that a dependence on a correlated or interacting feature shows as
    a colour gradient across the cloud. Lundberg, Erion, Chen et al., "From local
    explanations to global understanding with explainable AI for trees", 2020, Nature
    Machine Intelligence 2; ``shap.plots.scatter`` draws the same picture.

    Parameters
    ----------
    feature_values, shap_values : tensor/array [N]
    colour_values : tensor/array [N], optional
        The colouring feature's values; None draws every point alike.
    ax : matplotlib Axes, optional
    feature, colour : str
        Names for the axis label and the colour bar.
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        For arrays that are not [N] of one length, or that hold NaN.

    Examples
    --------
    >>> ax = show_dependence(X[:, 4], values[:, 4], X[:, 5], feature="s1", colour="s2")  # doctest: +SKIP
    """
    named = {"feature_values": feature_values, "shap_values": shap_values}
    if colour_values is not None:
        named["colour_values"] = colour_values
    arrays = {}
    for name, value in named.items():
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"{name} must be one value per row, [N]; got shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite; it holds {int((~np.isfinite(array)).sum())} NaN or Inf value(s)")
        arrays[name] = array
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the arrays must have one length; got {lengths}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.5))
    x, y = arrays["feature_values"], arrays["shap_values"]
    if colour_values is None:
        ax.scatter(x, y, s=12, color="#1E88E5")
    else:
        points = ax.scatter(x, y, s=12, c=arrays["colour_values"], cmap=SIGNED_CMAP)
        bar = ax.figure.colorbar(points, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label(f"{colour or 'colour'} value")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel(f"{feature} value")
    ax.set_ylabel(f"SHAP value of {feature}")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_curves(fractions, curves: dict, reference=None, ax=None, *, title: str | None = None,
                ylabel: str = "target probability"):
    """Deletion or insertion curves of several methods, with the random-order band.

    Parameters
    ----------
    fractions : tensor/array [K + 1]
    curves : dict of name -> tensor/array [K + 1] (or [B, K + 1]: the mean over rows is drawn)
    reference : tensor/array [R, K + 1] or [B, R, K + 1], optional
        Random-order curves: their mean and the band between their 10% and 90% quantiles
        (inside the range the curves take, unlike mean +- sd).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    x = np.asarray(fractions, dtype=float)
    if reference is not None:
        ref = np.asarray(reference, dtype=float).reshape(-1, x.shape[0])
        mean, (low, high) = ref.mean(axis=0), np.quantile(ref, [0.1, 0.9], axis=0)
        ax.fill_between(x, low, high, color="0.85", label="random order (mean, 10-90% band)")
        ax.plot(x, mean, color="0.5", lw=1)
    for name, values in curves.items():
        values = np.asarray(values, dtype=float).reshape(-1, x.shape[0]).mean(axis=0)
        ax.plot(x, values, lw=1.5, label=name)
    ax.set_xlabel("fraction of features")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def show_randomisation(results: dict, measure: str = "spearman_abs", ax=None, *, title: str | None = None):
    """Median similarity to the original map after each randomised layer, one line per method.

    Parameters
    ----------
    results : dict of name -> :class:`helpers.metrics.Randomisation`
    measure : str, a key of their ``similarity``
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, result in results.items():
        if measure not in result.similarity:
            raise ValueError(f"measure must be one of {sorted(result.similarity)}; got {measure!r}")
        values = result.similarity[measure].nanmedian(dim=1).values.numpy()
        ax.plot(range(len(result.stages)), values, marker="o", label=name)
        ax.set_xticks(range(len(result.stages)), result.stages)
    ax.set_ylim(-0.2, 1.05)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("layers randomised (top down, cumulative)")
    ax.set_ylabel(f"median {measure}")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


# --------------------------------------------------------------------------- cheap rendering: arrays to PNG (widgets)


def colourize(values, *, signed: bool, limit: float) -> np.ndarray:
    """Colour a 2-D map with the course's colour maps: ``[H, W]`` -> uint8 ``[H, W, 3]``.

    The same colours as :func:`show_heatmap`, without a figure: signed maps use :data:`SIGNED_CMAP`
    symmetric around 0 on ``[-limit, limit]``; magnitudes use :data:`UNSIGNED_CMAP` on ``[0, limit]``.
    Values beyond the limit are clipped; NaN is drawn as 0. A limit that is not positive counts as 1.

    Parameters
    ----------
    values : array [H, W]
    signed : bool
    limit : float

    Returns
    -------
    numpy.ndarray, uint8, [H, W, 3]

    Raises
    ------
    ValueError
        For ``values`` that are not 2-D.

    Examples
    --------
    >>> colourize(np.array([[-1.0, 0.0, 1.0]]), signed=True, limit=1.0).shape
    (1, 3, 3)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D map; got shape {values.shape}")
    limit = float(limit) if limit > 0 else 1.0
    position = (values / limit + 1) / 2 if signed else values / limit
    table = _colour_table(SIGNED_CMAP if signed else UNSIGNED_CMAP)
    return table[np.clip(np.rint(np.nan_to_num(position) * 255), 0, 255).astype(np.intp)]


_TABLES: dict[str, np.ndarray] = {}


def _colour_table(name: str) -> np.ndarray:
    """A colour map's 256 colours as uint8 RGB ``[256, 3]`` (computed once per name)."""
    if name not in _TABLES:
        _TABLES[name] = (matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return _TABLES[name]


def png_bytes(picture: np.ndarray, *, scale: int = 1) -> bytes:
    """PNG bytes of a uint8 picture (``[H, W]`` grey or ``[H, W, 3]``), each pixel repeated ``scale`` times.

    Raises
    ------
    TypeError
        For a picture that is not uint8.

    Examples
    --------
    >>> png_bytes(np.zeros((2, 2), dtype=np.uint8), scale=3)[:4]
    b'\\x89PNG'
    """
    picture = np.asarray(picture)
    if picture.dtype != np.uint8:
        raise TypeError(f"picture must be uint8; got {picture.dtype}")
    if scale > 1:
        picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def rgb_picture(picture) -> np.ndarray:
    """A picture in [0, 1] (``[H, W]`` grey or ``[H, W, 3]``) as uint8 RGB ``[H, W, 3]`` (clipped to [0, 1]).

    Examples
    --------
    >>> rgb_picture(np.ones((2, 2)))[0, 0].tolist()
    [255, 255, 255]
    """
    picture = np.clip(np.asarray(picture, dtype=np.float64), 0, 1)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    return (picture * 255).round().astype(np.uint8)


def overlay_picture(picture, values, *, signed: bool, limit: float, boundaries=None) -> np.ndarray:
    """The picture in grey with the coloured map on top, more opaque where the map is stronger.

    Each pixel mixes the picture's grey with :func:`colourize`'s colour, the colour's share growing
    with ``|value| / limit`` up to 0.75; pixels where ``boundaries`` is True are drawn yellow.

    Parameters
    ----------
    picture : array [H, W] or [H, W, 3], values in [0, 1]
    values : array [H, W]
    signed : bool
    limit : float
    boundaries : bool array [H, W], optional
        E.g. :func:`skimage.segmentation.find_boundaries` of the segments.

    Returns
    -------
    numpy.ndarray, uint8, [H, W, 3]

    Examples
    --------
    >>> overlay_picture(np.zeros((2, 2)), np.zeros((2, 2)), signed=True, limit=1.0).shape
    (2, 2, 3)
    """
    base = np.clip(np.asarray(picture, dtype=np.float64), 0, 1)
    grey = base if base.ndim == 2 else base.mean(axis=-1)
    colour = colourize(values, signed=signed, limit=limit).astype(np.float64) / 255
    strength = np.clip(np.abs(values) / (limit if limit > 0 else 1.0), 0, 1)[..., None] * 0.75
    mixed = grey[..., None] * (1 - strength) + colour * strength
    if boundaries is not None:
        mixed[boundaries] = (1.0, 1.0, 0.0)
    return (mixed * 255).round().astype(np.uint8)


def colour_bar_picture(signed: bool, height: int, width: int = 12) -> np.ndarray:
    """A vertical colour bar, uint8 ``[height, width, 3]``: the limit at the top, -limit (signed) or 0 at the bottom.

    Examples
    --------
    >>> colour_bar_picture(False, 100).shape
    (100, 12, 3)
    """
    ramp = np.linspace(1, -1 if signed else 0, height)[:, None].repeat(width, axis=1)
    return colourize(ramp, signed=signed, limit=1.0)


# --------------------------------------------------------------------------- words in colour (notebook 08)


def _word_colour(value: float, scale: float) -> str:
    """Red for a positive value, blue for a negative one, white at 0 (shap's convention)."""
    share = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    red, blue = (255, 13, 87), (30, 136, 229)  # shap's red and blue
    r, g, b = red if value > 0 else blue
    mix = [round(255 + share * (c - 255)) for c in (r, g, b)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def _word_rows(words: list, scores) -> dict:
    """Method name -> float64 array [M] of its word scores; an error names a row that is not M finite values."""
    if not words:
        raise ValueError("words must hold at least one word to show; got none (a text without words, split_words)")
    if not isinstance(scores, dict) or not scores:
        raise TypeError(f"scores must be a non-empty dict of method name -> scores [M]; got {type(scores).__name__}")
    rows = {}
    for name, values in scores.items():
        v = np.asarray(torch.as_tensor(values).detach().cpu().double()).reshape(-1)
        if v.shape != (len(words),) or not np.isfinite(v).all():
            raise ValueError(f"scores[{name!r}] must hold {len(words)} finite values (one per word); got shape {v.shape}")
        rows[str(name)] = v
    return rows


def words_html(words, scores: dict, *, title: str | None = None, scale: str = "row", digits: int = 3) -> str:
    r"""An HTML table: one row per method, every word on a background coloured by its score.

    Red means the word pushes the explained class up, blue that it pushes it
    down, white that it does not matter; the colour saturates at the largest
    absolute score of the row (``scale="row"``) or of the whole table
    (``scale="table"``). Every text (words, method names, title) is escaped
    with :func:`html.escape`, so a snippet containing ``<script>`` is shown as
    text and never run. Each word's exact score is in its tooltip. The styles
    are inline, so JupyterLab and GitHub's notebook view both draw them.

    Parameters
    ----------
    words : sequence of str, length M
    scores : dict of str -> tensor or array [M]
        Method name -> one score per word.
    title : str, optional
    scale : {"row", "table"}, default "row"
    digits : int, default 3
        Digits of the scores in the tooltips and the legend.

    Returns
    -------
    str

    Raises
    ------
    TypeError, ValueError
        For scores that are not a dict, of the wrong length or not finite, or an unknown ``scale``.

    Examples
    --------
    >>> "&lt;script&gt;" in words_html(["<script>"], {"m": [1.0]})
    True
    """
    words = [str(w) for w in words]
    rows = _word_rows(words, scores)
    if scale not in ("row", "table"):
        raise ValueError(f'scale must be "row" or "table"; got {scale!r}')
    table_scale = max(float(np.abs(v).max()) for v in rows.values())
    cell = "padding:2px 6px;text-align:left;vertical-align:top;border:none"
    parts = ['<div style="font-family:sans-serif;font-size:13px;line-height:1.9">']
    if title:
        parts.append(f"<div><b>{html.escape(title)}</b></div>")
    parts.append('<table style="border-collapse:collapse">')
    for name, v in rows.items():
        s = table_scale if scale == "table" else float(np.abs(v).max())
        spans = " ".join(
            f'<span title="{html.escape(w, quote=True)}: {x:+.{digits}f}" style="background-color:{_word_colour(x, s)};'
            f'color:#000;padding:1px 2px;border-radius:3px">{html.escape(w)}</span>'
            for w, x in zip(words, v)
        )
        parts.append(
            f'<tr><td style="{cell};white-space:nowrap"><b>{html.escape(name)}</b><br>'
            f'<span style="font-size:11px;color:#555">max |score| {s:.{digits}g}</span></td>'
            f'<td style="{cell}">{spans}</td></tr>'
        )
    parts.append("</table>")
    legend = " ".join(
        f'<span style="background-color:{_word_colour(x, 1.0)};color:#000;padding:1px 6px">{label}</span>'
        for x, label in ((-1.0, "against the class"), (-0.5, ""), (0.0, "no effect"), (0.5, ""), (1.0, "toward the class"))
    )
    parts.append(f'<div style="font-size:11px;color:#333">legend: {legend} (scaled per {scale})</div></div>')
    return "".join(parts)


def show_words(words, scores: dict, **options):
    """:func:`words_html` as an ``IPython.display.HTML`` object, for a notebook cell to display.

    Examples
    --------
    >>> show_words(["a", "gorgeous", "film"], {"shap": [0.0, 0.8, -0.1]})  # doctest: +SKIP
    """
    from IPython.display import HTML

    return HTML(words_html(words, scores, **options))
