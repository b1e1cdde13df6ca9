"""Plotting functions draw on the given axes, return them, and reject what they cannot draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.metrics import digit_regions
from helpers.plotting import SIGNED_CMAP, UNSIGNED_CMAP, show_digit, show_grid, show_heatmap, show_overlay, show_regions, to_image


@pytest.mark.parametrize("shape, expected", [((28, 28), (28, 28)), ((1, 28, 28), (28, 28)), ((1, 1, 28, 28), (28, 28)),
                                             ((3, 8, 8), (8, 8, 3)), ((8, 8, 3), (8, 8, 3))])
def test_to_image_shapes(shape, expected):
    assert to_image(torch.zeros(shape)).shape == expected


def test_to_image_rejects_a_batch():
    with pytest.raises(ValueError, match="expected one image; got a batch"):
        to_image(torch.zeros(2, 1, 28, 28))


def test_functions_draw_on_the_given_axes():
    fig, axes = plt.subplots(1, 3)
    x = torch.rand(1, 28, 28)
    assert show_digit(x, axes[0]) is axes[0]
    assert show_heatmap(x, axes[1]) is axes[1]
    assert show_overlay(x, x, axes[2]) is axes[2]
    assert len(axes[2].images) == 2


def test_signed_maps_use_a_symmetric_diverging_colormap():
    ax = show_heatmap(torch.tensor([[-1.0, 0.5], [0.2, 0.1]]))
    image = ax.images[0]
    assert image.cmap.name == SIGNED_CMAP and image.get_clim() == (-1.0, 1.0)
    ax = show_heatmap(torch.tensor([[1.0, 0.5], [0.2, 0.1]]))
    assert ax.images[0].cmap.name == UNSIGNED_CMAP and ax.images[0].get_clim() == (0.0, 1.0)


def test_percentile_clipping():
    values = torch.arange(100.0).reshape(10, 10)
    ax = show_heatmap(values, clip_percentile=50)
    assert ax.images[0].get_clim()[1] == pytest.approx(np.percentile(np.arange(100.0), 50))
    with pytest.raises(ValueError, match="clip_percentile must be in"):
        show_heatmap(values, clip_percentile=0)


def test_grid_and_regions():
    x = torch.rand(3, 1, 28, 28)
    fig = show_grid(x, x, titles=["a", "b", "c"])
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="maps must match images one to one; got 2 maps for 3 images"):
        show_grid(x, x[:2])
    ax = show_regions(digit_regions(x[:1]))
    assert len(ax.get_legend().get_texts()) == 4
