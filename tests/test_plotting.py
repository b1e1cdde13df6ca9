"""Plotting functions draw on the given axes, return them, and reject what they cannot draw; the widgets'
cheap pictures (colourize, png_bytes, the overlay and the colour bar) use the same colour maps."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.metrics import digit_regions
from helpers.plotting import (REGION_COLOURS, SIGNED_CMAP, UNSIGNED_CMAP, colour_bar_picture, colourize, overlay_picture,
                              png_bytes, rgb_picture, show_curves, show_dependence, show_digit, show_grid, show_heatmap,
                              show_overlay, show_randomisation, show_regions, show_segment_weights, show_words, to_image,
                              words_html)


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


# --------------------------------------------------------------------------- words in colour


def test_html_escapes_every_text():
    words = ["<script>alert('x')</script>", 'say "hi"', "&amp;"]
    out = words_html(words, {"<b>method</b>": [1.0, -0.5, 0.0]}, title="<img src=x onerror=alert(1)>")
    assert "<script" not in out and "<img" not in out and "<b>method" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in out
    assert "&amp;amp;" in out and "&lt;b&gt;method&lt;/b&gt;" in out
    assert 'title="say &quot;hi&quot;' in out


def test_html_colours_red_up_blue_down_and_checks_scores():
    out = words_html(["up", "down", "flat"], {"m": torch.tensor([2.0, -2.0, 0.0])})
    assert "background-color:#ff0d57" in out and "background-color:#1e88e5" in out and "background-color:#ffffff" in out
    assert "legend" in out
    with pytest.raises(ValueError, match="3 finite values"):
        words_html(["a", "b", "c"], {"m": [1.0, 2.0]})
    with pytest.raises(TypeError):
        words_html(["a"], [1.0])
    with pytest.raises(ValueError, match='scale must be "row" or "table"'):
        words_html(["a"], {"m": [1.0]}, scale="column")


def test_html_scales_per_row_or_per_table():
    scores = {"big": [2.0, 0.0], "small": [1.0, 0.0]}
    full_red = "background-color:#ff0d57"  # also the legend's "toward the class"
    assert words_html(["a", "b"], scores).count(full_red) == 3  # each row saturates at its own largest score
    assert words_html(["a", "b"], scores, scale="table").count(full_red) == 2  # "small" is half as red


def test_show_words_wraps_the_html_for_a_notebook():
    shown = show_words(["a", "gorgeous"], {"m": [0.0, 1.0]}, title="t")
    assert shown.data == words_html(["a", "gorgeous"], {"m": [0.0, 1.0]}, title="t")


# --------------------------------------------------------------------------- cheap rendering (the explorers' pictures)


def _decoded(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def test_colourize_uses_the_course_colour_maps():
    signed = colourize(np.array([[-2.0, -1.0, 0.0, 1.0, 3.0]]), signed=True, limit=1.0)[0]
    rdbu = (matplotlib.colormaps[SIGNED_CMAP]([0.0, 0.5, 1.0])[:, :3] * 255).round().astype(np.uint8)
    assert signed.dtype == np.uint8 and signed.shape == (5, 3)
    np.testing.assert_array_equal(signed[[1, 2, 3]], rdbu)  # -limit, 0 and +limit: symmetric around 0
    np.testing.assert_array_equal(signed[0], signed[1])  # clipped beyond the limit
    np.testing.assert_array_equal(signed[4], signed[3])
    magnitude = colourize(np.array([[0.0, 2.0, 4.0, np.nan]]), signed=False, limit=2.0)[0]
    hot = (matplotlib.colormaps[UNSIGNED_CMAP]([0.0, 1.0])[:, :3] * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(magnitude[[0, 1]], hot)  # 0 to the limit
    np.testing.assert_array_equal(magnitude[2], hot[1])
    np.testing.assert_array_equal(magnitude[3], hot[0])  # NaN drawn as 0
    np.testing.assert_array_equal(colourize(np.ones((1, 1)), signed=False, limit=0.0),
                                  colourize(np.ones((1, 1)), signed=False, limit=1.0))  # a limit <= 0 counts as 1
    with pytest.raises(ValueError, match="2-D map"):
        colourize(np.zeros((1, 2, 2)), signed=True, limit=1.0)


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 3)])
def test_png_bytes_round_trip_with_each_pixel_repeated(shape):
    picture = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(_decoded(png_bytes(picture)), picture)
    np.testing.assert_array_equal(_decoded(png_bytes(picture, scale=3)), picture.repeat(3, axis=0).repeat(3, axis=1))
    with pytest.raises(TypeError, match="must be uint8"):
        png_bytes(picture.astype(np.float32))


def test_rgb_picture_and_the_overlay():
    grey = np.array([[0.0, 0.5], [1.0, 2.0]])
    rgb = rgb_picture(grey)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[..., 0], [[0, 128], [255, 255]])  # clipped to [0, 1]
    np.testing.assert_array_equal(rgb_picture(np.stack([grey] * 3, axis=-1)), rgb)
    # no map: the picture in grey; a map at its limit: 3/4 its colour; boundaries in yellow
    np.testing.assert_array_equal(overlay_picture(grey, np.zeros((2, 2)), signed=True, limit=1.0), rgb)
    strong = overlay_picture(np.zeros((2, 2)), np.ones((2, 2)), signed=False, limit=1.0)
    expected = (0.75 * colourize(np.ones((2, 2)), signed=False, limit=1.0).astype(np.float64)).round()
    np.testing.assert_array_equal(strong, expected)
    edges = np.array([[True, False], [False, False]])
    drawn = overlay_picture(grey, np.zeros((2, 2)), signed=True, limit=1.0, boundaries=edges)
    assert drawn[0, 0].tolist() == [255, 255, 0] and (drawn[~edges] == rgb[~edges]).all()


@pytest.mark.parametrize("signed", [True, False])
def test_colour_bar_runs_from_the_limit_down(signed):
    bar = colour_bar_picture(signed, 50)
    assert bar.shape == (50, 12, 3) and (bar == bar[:, :1]).all()
    top, bottom = colourize(np.array([[1.0, -1.0 if signed else 0.0]]), signed=signed, limit=1.0)[0]
    np.testing.assert_array_equal(bar[0, 0], top)
    np.testing.assert_array_equal(bar[-1, 0], bottom)


def test_words_html_names_a_text_without_words():
    with pytest.raises(ValueError, match="words must hold at least one word"):
        words_html([], {"m": np.zeros(0)})


# --------------------------------------------------------------------------- show_field (notebook 01)

from helpers.plotting import show_field  # noqa: E402  (kept with its tests)


def _plane():
    xx, yy = torch.meshgrid(torch.linspace(-2, 2, 9), torch.linspace(-1, 1, 5), indexing="xy")
    score = 3 * xx + yy                                    # a linear score: straight, evenly spaced lines
    return xx, yy, torch.sigmoid(score), score, torch.stack([3 * torch.ones_like(xx), torch.ones_like(yy)], dim=-1)


def test_field_draws_colours_arrows_points_and_the_score_s_lines_on_the_given_axes():
    xx, yy, probability, score, arrows = _plane()
    fig, ax = plt.subplots()
    assert show_field(xx, yy, probability, arrows, ax, points=torch.zeros(3, 2), labels=torch.tensor([0, 1, 0]),
                      lines=score, line_levels=5, title="t") is ax
    filled, lines = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(filled.levels) > 5                          # the filled field
    assert 3 <= len(lines.levels) <= 7                     # about line_levels lines, matplotlib's nice levels
    assert lines.levels.min() < float(score.min()) + 2.5 and lines.levels.max() > float(score.max()) - 2.5  # the lines' field
    assert len(ax.texts) >= 3                              # labelled with their values
    assert len(fig.axes) == 2                              # and the colour bar
    plt.close(fig)


def test_field_without_lines_draws_one_contour_set():
    xx, yy, probability, _, arrows = _plane()
    fig, ax = plt.subplots()
    show_field(xx, yy, probability, arrows, ax)
    assert len([c for c in ax.collections if hasattr(c, "levels")]) == 1 and not ax.texts
    plt.close(fig)


@pytest.mark.parametrize("options, message", [
    ({"lines": torch.zeros(9, 5)}, r"lines must have the grid's shape \(5, 9\); got \(9, 5\)"),
    ({"vectors": torch.zeros(5, 9)}, r"vectors must have the grid's shape \(5, 9, 2\); got \(5, 9\)"),
    ({"line_levels": 0}, "line_levels must be an int >= 1; got 0"),
    ({"line_levels": 2.5}, "line_levels must be an int >= 1; got 2.5"),
])
def test_field_errors_name_the_value(options, message):
    xx, yy, probability, _, _ = _plane()
    with pytest.raises(ValueError, match=message):
        show_field(xx, yy, probability, **options)


def test_dependence_plot_draws_one_point_per_row_coloured_by_the_second_feature():
    generator = torch.Generator().manual_seed(0)
    values, other = torch.randn(30, generator=generator), torch.randn(30, generator=generator)
    fig, ax = plt.subplots()
    assert show_dependence(values, 2 * values, other, ax, feature="s1", colour="s2", title="t") is ax
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), np.stack([values.numpy(), 2 * values.numpy()], axis=1), rtol=1e-6)
    np.testing.assert_allclose(points.get_array(), other.numpy(), rtol=1e-6)
    assert points.get_cmap().name == SIGNED_CMAP
    assert ax.get_xlabel() == "s1 value" and ax.get_ylabel() == "SHAP value of s1"
    assert fig.axes[-1].get_ylabel() == "s2 value", "the colour bar names the colouring feature"
    plain = show_dependence(values.numpy(), values.numpy())
    assert plain.collections[0].get_array() is None
    plt.close("all")


@pytest.mark.parametrize("arrays, message", [
    ((torch.zeros(3), torch.zeros(4)), r"one length; got \{'feature_values': 3, 'shap_values': 4\}"),
    ((torch.zeros(3, 1), torch.zeros(3)), r"feature_values must be one value per row, \[N\]; got shape \(3, 1\)"),
    ((torch.zeros(3), torch.tensor([0.0, float("nan"), 1.0])), "shap_values must be finite; it holds 1 NaN"),
    ((torch.zeros(3), torch.zeros(3), torch.zeros(2)), "'colour_values': 2"),
])
def test_dependence_plot_errors_name_the_value(arrays, message):
    with pytest.raises(ValueError, match=message):
        show_dependence(*arrays)
    plt.close("all")


def test_the_random_order_band_stays_within_the_curves_range():
    from helpers.metrics import curve_fractions

    reference = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]] * 9 + [[1.0, 1.0, 1.0, 1.0, 0.0]])  # skewed: mean +- sd leaves [0, 1]
    ax = show_curves(curve_fractions(4), {"a": torch.rand(5)}, reference)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() >= 0.0 and band.max() <= 1.0
