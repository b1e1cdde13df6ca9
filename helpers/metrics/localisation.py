r"""Localisation: where a map's mass lies on a digit.

- :func:`digit_regions` -- a digit split into its stroke (interior and edge), a ring of
  background around the stroke, and the rest of the background (:data:`REGIONS`).
- :func:`region_shares` -- the share of a map's mass in each region, beside the share of pixels.
- :func:`top_mass_share` -- how concentrated a map is: the share of its mass in its largest values.
- :func:`image_edges`, :func:`edge_alignment` -- the image's own Sobel edges, and how well a map
  follows them.

These test the claim that a saliency map "usually highlights the digit's edges", in
``notebooks/02_cnn_saliency_mnist.ipynb``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import all_finite, check_maps
from .ranks import rank_correlation

__all__ = ["REGIONS", "digit_regions", "region_shares", "top_mass_share", "image_edges", "edge_alignment"]


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
    if not all_finite(maps):
        raise ValueError("saliency must be finite; it holds NaN or Inf values")
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
    check_maps("saliency", saliency)
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
