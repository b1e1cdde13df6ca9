"""helpers.drawing: a drawing becomes an MNIST-like digit the way MNIST was made (20 x 20 box, aspect ratio
kept, centre of mass at the centre), whatever its place and size on the canvas; the canvas's round trip
and the errors (tests/test_browser.py draws on the same canvas with a real mouse)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.drawing import BLANK_CANVAS_MESSAGE, DrawCanvas, draw_strokes, mnist_from_drawing

STROKES = {
    "one": [[(140, 40), (140, 240)]],
    "seven": [[(80, 50), (200, 50), (120, 250)]],
    "small circle off-centre": [[(30 + 20 * np.cos(t), 40 + 20 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    "wide dash": [[(20, 200), (260, 220)]],
}


def _centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    image = digit[0].double()
    total = image.sum()
    rows, cols = torch.arange(28, dtype=torch.float64), torch.arange(28, dtype=torch.float64)
    return float((image.sum(dim=1) * rows).sum() / total), float((image.sum(dim=0) * cols).sum() / total)


def _ink_box(digit: torch.Tensor, threshold: float = 0.0) -> tuple[int, int]:
    ink = digit[0] > threshold
    rows, cols = torch.nonzero(ink.any(dim=1)).flatten(), torch.nonzero(ink.any(dim=0)).flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("name", list(STROKES))
def test_drawing_becomes_an_mnist_like_digit(name):
    picture = draw_strokes(STROKES[name])
    digit = mnist_from_drawing(picture)
    assert digit.shape == (1, 28, 28) and digit.dtype == torch.float32
    assert float(digit.min()) >= 0.0 and float(digit.max()) == 1.0
    height, width = _ink_box(digit)
    assert max(height, width) == 20, "the longer side fills the 20 x 20 box"
    ink = picture > 0.02
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    drawn_ratio = (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)
    assert abs(height / width - drawn_ratio) <= 2 / 20 * max(1, drawn_ratio), "aspect ratio kept"
    centre_y, centre_x = _centre_of_mass(digit)
    assert abs(centre_y - 13.5) <= 0.5 + 1e-6 and abs(centre_x - 13.5) <= 0.5 + 1e-6


def test_drawing_does_not_depend_on_where_or_how_large_it_was_drawn():
    seven = [[(80, 50), (200, 50), (120, 250)]]
    moved = [[(x - 40, y + 10) for x, y in seven[0]]]  # whole canvas pixels, the stroke kept inside
    digit, shifted = mnist_from_drawing(draw_strokes(seven)), mnist_from_drawing(draw_strokes(moved))
    assert float((digit - shifted).abs().max()) < 1e-6
    half = [[(x / 2, y / 2) for x, y in seven[0]]]
    smaller = mnist_from_drawing(draw_strokes(half, width=10))
    assert float((digit - smaller).abs().mean()) < 0.02


def test_drawing_preprocessing_errors():
    with pytest.raises(ValueError, match="blank") as blank:
        mnist_from_drawing(np.zeros((280, 280)))
    assert str(blank.value) == BLANK_CANVAS_MESSAGE
    with pytest.raises(ValueError, match="blank"):
        mnist_from_drawing(torch.full((28, 28), 0.01))  # below the ink threshold
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        mnist_from_drawing(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="finite"):
        mnist_from_drawing(np.full((28, 28), np.nan))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        DrawCanvas().set_image(np.zeros((2, 2, 2)))


def test_canvas_round_trip():
    canvas = DrawCanvas()
    picture = draw_strokes(STROKES["seven"])
    canvas.set_image(picture)
    assert canvas.png.startswith("data:image/png;base64,")
    np.testing.assert_allclose(canvas.image(), picture, atol=1 / 255 + 1e-6)
    canvas.clear()
    assert canvas.image().max() == 0


def test_draw_strokes_errors():
    with pytest.raises(ValueError, match="size must be an int >= 8"):
        draw_strokes(STROKES["one"], size=4)
    with pytest.raises(ValueError, match="width must be positive"):
        draw_strokes(STROKES["one"], width=0)


def test_a_new_canvas_is_blank_and_rejects_what_is_not_a_png():
    canvas = DrawCanvas()
    assert canvas.image().shape == (280, 280) and canvas.image().max() == 0
    canvas.png = "data:image/jpeg;base64,AAAA"
    with pytest.raises(ValueError, match="PNG data URL"):
        canvas.image()


def test_a_0_255_drawing_keeps_its_grey_levels_and_bad_drawings_are_refused():
    import numpy as np

    from helpers.drawing import draw_strokes, mnist_from_drawing

    drawing = draw_strokes([[(140, 40), (140, 240)]])  # floats in [0, 1]
    as_bytes = (drawing * 255).round().astype(np.uint8)
    digit = mnist_from_drawing(as_bytes)
    assert len(torch.unique(digit)) > 10  # grey levels, not clamped to 0 and 1
    assert torch.allclose(digit, mnist_from_drawing(drawing), atol=0.01)
    with pytest.raises(ValueError, match="bright ink on a dark background"):
        mnist_from_drawing(1.0 - drawing)
    with pytest.raises(ValueError, match=r"ink_threshold must be in \(0, 1\); got nan"):
        mnist_from_drawing(drawing, ink_threshold=float("nan"))
    with pytest.raises(ValueError, match=r"image must hold values in \[0, 1\]"):
        mnist_from_drawing(drawing * 255)
