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

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["digit_regions", "region_shares", "top_mass_share", "rank_correlation", "REGIONS"]

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


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Spearman's rank correlation between two maps, one number per example.

    The Pearson correlation of the ranks of the values of ``a[i]`` and ``b[i]``
    (ties get their average rank): 1 when the two maps order the inputs
    identically, whatever their scales.

    Parameters
    ----------
    a, b : torch.Tensor, [B, ...], same shape

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
    from scipy.stats import rankdata

    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must be batches [B, ...] of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    ra = rankdata(a.detach().reshape(a.shape[0], -1).cpu().double().numpy(), axis=1)
    rb = rankdata(b.detach().reshape(b.shape[0], -1).cpu().double().numpy(), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / denominator
    return torch.from_numpy(np.where(denominator > 0, rho, np.nan))
