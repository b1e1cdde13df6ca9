"""Plotting functions draw on the given axes, return them, and reject what they cannot draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.metrics import digit_regions
from helpers.plotting import (REGION_COLOURS, SIGNED_CMAP, UNSIGNED_CMAP, show_curves, show_digit, show_grid, show_heatmap,
                              show_overlay, show_randomisation, show_regions, show_segment_weights, to_image)


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


def test_grid_of_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match="show_grid needs at least one image; got an empty sequence"):
        show_grid([])
    with pytest.raises(ValueError, match="ncols must be a positive int; got 0"):
        show_grid(torch.rand(2, 1, 8, 8), ncols=0)


def test_grid_shared_scale_puts_every_map_on_one_scale_with_one_colour_bar():
    x = torch.rand(3, 1, 8, 8)
    maps = torch.randn(3, 1, 8, 8) * torch.tensor([0.1, 1.0, 5.0])[:, None, None, None]
    fig = show_grid(x, maps, shared_scale=True)
    map_images = [ax.images[-1] for ax in fig.axes[3:6]]
    limit = float(maps.abs().max())
    assert all(image.get_clim() == pytest.approx((-limit, limit)) for image in map_images)
    assert len(fig.axes) == 7, "six panels and one colour bar"
    # scaled on its own (the default), each map reaches its own largest value, and no colour bar is drawn
    fig = show_grid(x, maps)
    assert [ax.images[-1].get_clim()[1] for ax in fig.axes[3:6]] == pytest.approx(maps.flatten(1).abs().max(1).values.tolist())
    assert len(fig.axes) == 6
    # one percentile over all maps together
    fig = show_grid(x, maps.abs(), shared_scale=True, clip_percentile=50)
    assert fig.axes[3].images[-1].get_clim() == pytest.approx((0.0, float(np.percentile(maps.abs().numpy(), 50))))


def test_grid_of_segment_weights_on_one_scale():
    x = torch.rand(2, 1, 8, 8)
    segments = torch.arange(4).repeat_interleave(16).reshape(8, 8)
    weights = torch.tensor([[1.0, -2.0, 0.5, 0.0], [0.1, 0.2, -0.3, 4.0]])
    fig = show_grid(x, weights, segments=segments, shared_scale=True)
    assert [ax.images[1].get_clim() for ax in fig.axes[2:4]] == [(-4.0, 4.0), (-4.0, 4.0)]
    assert len(fig.axes) == 5
    with pytest.raises(ValueError, match="segments colour the maps; give maps as well"):
        show_grid(x, segments=segments)
    with pytest.raises(ValueError, match="clip_percentile applies to pixel maps, not to segment weights"):
        show_grid(x, weights, segments=segments, shared_scale=True, clip_percentile=99)


def test_a_fixed_limit_is_checked():
    values = torch.randn(4, 4)
    assert show_heatmap(values, limit=7).images[0].get_clim() == (-7.0, 7.0)
    with pytest.raises(ValueError, match="limit must be a positive finite number; got 0"):
        show_heatmap(values, limit=0)
    with pytest.raises(ValueError, match="give limit or clip_percentile, not both"):
        show_heatmap(values, limit=1.0, clip_percentile=99)


@pytest.mark.parametrize("top_k", [-1, 0, 2.5, True, "3"])
def test_segment_weights_top_k_must_be_a_positive_int(top_k):
    segments = torch.arange(4).repeat_interleave(4).reshape(4, 4)
    with pytest.raises(ValueError, match=r"top_k must be a positive int \(how many segments to colour\) or None"):
        show_segment_weights(torch.rand(1, 4, 4), segments, torch.tensor([1.0, -2.0, 0.5, 0.1]), top_k=top_k)


def test_segment_weights_top_k_colours_that_many_segments():
    segments = torch.arange(4).repeat_interleave(4).reshape(4, 4)
    ax = show_segment_weights(torch.rand(1, 4, 4), segments, torch.tensor([1.0, -2.0, 0.5, 0.1]), top_k=2)
    coloured = ax.images[1].get_array()
    assert int((~np.ma.getmaskarray(coloured)).sum()) == coloured.size // 2  # two segments of four
    assert sorted(np.unique(coloured.compressed()).tolist()) == [-2.0, 1.0]  # the two of largest |weight|


def test_region_colours_are_far_apart():
    from matplotlib.colors import to_rgb

    ax = show_regions(digit_regions(torch.rand(1, 1, 28, 28)))
    colours = [np.array(to_rgb(c)) for c in REGION_COLOURS]
    lightness = [float(c @ [0.299, 0.587, 0.114]) for c in colours]
    # interior and edge: different hue and a large difference in lightness (not only in hue)
    assert abs(lightness[0] - lightness[1]) > 0.4 and np.abs(colours[0] - colours[1]).sum() > 1.0
    assert [tuple(h.get_facecolor()[:3]) for h in ax.get_legend().legend_handles] == [tuple(c) for c in colours]


def test_plots_return_axes(trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation, curve_fractions
    from helpers.saliency import gradient

    ax = show_curves(curve_fractions(4), {"a": torch.rand(3, 5)}, torch.rand(2, 5), title="t")
    assert len(ax.lines) == 2
    result = cascading_randomisation(trained_cnn, mnist_test[0][:2], gradient)
    ax = show_randomisation({"gradient": result}, "ssim")
    assert len(ax.lines) == 2  # the method and the zero line
    with pytest.raises(ValueError, match="measure must be one of"):
        show_randomisation({"gradient": result}, "pearson")
