"""The drawing canvas, and how a drawing becomes an MNIST digit.

- :class:`DrawCanvas` -- a small ``anywidget``: a black ``<canvas>`` on which the learner draws a white
  stroke with the mouse (or a finger); on pointer-up the picture reaches Python as a PNG data URL.
- :func:`draw_strokes` -- the same strokes rasterised in Python (round-capped, anti-aliased lines), for
  drawings made from code.
- :func:`mnist_from_drawing` -- a drawing turned into the input the model expects, the way MNIST itself
  was made (LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document
  Recognition", 1998, Proc. IEEE 86(11), and the MNIST page): the stroke's bounding box is fitted into a
  20 x 20 box keeping its aspect ratio, with anti-aliasing, and placed in a 28 x 28 field so that its
  centre of mass sits at the centre. A blank drawing raises ``ValueError`` with
  :data:`BLANK_CANVAS_MESSAGE`.

The digit explorer (:class:`helpers.explorer.DigitExplorer`) shows the canvas beside its test digits.
Taught in ``notebooks/07_explorer.ipynb``.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct

import anywidget
import numpy as np
import torch
import torch.nn.functional as F
import traitlets
from PIL import Image, ImageDraw

from .checks import check_fraction

__all__ = ["DrawCanvas", "draw_strokes", "mnist_from_drawing", "BLANK_CANVAS_MESSAGE", "MAX_CANVAS_SIDE"]

#: The largest side, in pixels, of a picture that :meth:`DrawCanvas.image` decodes (the canvas sends its own
#: ``size``, 280 by default): a larger PNG is refused from its header, before its pixels are decoded.
MAX_CANVAS_SIDE = 2048

BLANK_CANVAS_MESSAGE = "The canvas is blank: draw a digit with the mouse (press, drag, release), then watch the map."

_CANVAS_ESM = r"""
function render({ model, el }) {
  const size = model.get("size");
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "course-draw-canvas";
  canvas.style.cssText = `width:${size}px;height:${size}px;touch-action:none;cursor:crosshair;` +
    "border:1px solid #888;background:#000;display:block";
  const ctx = canvas.getContext("2d");
  const blank = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, size, size); };
  blank();
  let drawing = false;
  let last = null;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * size / box.width, (event.clientY - box.top) * size / box.height];
  };
  const segment = (a, b) => {
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = model.get("line_width");
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = at(event);
    segment(last, last);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const point = at(event);
    segment(last, point);
    last = point;
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    model.set("png", canvas.toDataURL("image/png"));
    model.set("strokes", model.get("strokes") + 1);
    model.save_changes();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  const clear = document.createElement("button");
  clear.textContent = "Clear";
  clear.className = "course-draw-clear jupyter-button";
  clear.addEventListener("click", () => {
    blank();
    model.set("png", "");
    model.save_changes();
  });
  const showPng = () => {
    const value = model.get("png");
    if (!value) { blank(); return; }
    const picture = new Image();
    picture.onload = () => { blank(); ctx.drawImage(picture, 0, 0, size, size); };
    picture.src = value;
  };
  model.on("change:png", () => { if (!drawing) showPng(); });
  showPng();
  el.append(canvas, clear);
}
export default { render };
"""


class DrawCanvas(anywidget.AnyWidget):
    """A black square on which the learner draws a white stroke with the mouse (or a finger).

    A small ``anywidget``: the browser side is a ``<canvas>`` with pointer events; when the pointer is
    released, the canvas is sent to Python as a PNG data URL in :attr:`png` (and :attr:`strokes` counts
    the strokes). "Clear" empties it. Python can also set a picture (:meth:`set_image`), which the
    browser then shows.

    Parameters
    ----------
    size : int, default 280
        Side of the canvas in pixels (10 x MNIST's 28).
    line_width : float, default 20
        Width of the pen in canvas pixels (about 2 pixels of the 28 x 28 digit).

    Examples
    --------
    >>> canvas = DrawCanvas()
    >>> float(canvas.image().max())
    0.0
    """

    _esm = _CANVAS_ESM
    png = traitlets.Unicode("").tag(sync=True)
    strokes = traitlets.Int(0).tag(sync=True)
    size = traitlets.Int(280).tag(sync=True)
    line_width = traitlets.Float(20.0).tag(sync=True)

    def image(self) -> np.ndarray:
        """The drawing as a float array ``[size, size]`` in [0, 1] (0 where nothing is drawn).

        Raises
        ------
        ValueError
            If :attr:`png` is not a PNG data URL, does not decode, or declares a picture larger than
            :data:`MAX_CANVAS_SIDE` pixels a side (checked on the header, before any pixel is decoded).
        """
        if not self.png:
            return np.zeros((self.size, self.size), dtype=np.float32)
        header, _, data = self.png.partition(",")
        if not header.startswith("data:image/png;base64"):
            raise ValueError(f"the canvas must hold a PNG data URL; got one starting {self.png[:30]!r}")
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise ValueError(f"the canvas's PNG data URL is not valid base64 ({error})") from None
        if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
            raise ValueError("the canvas's data URL does not hold a PNG image (no PNG signature and header)")
        width, height = struct.unpack(">II", raw[16:24])
        if max(width, height) > MAX_CANVAS_SIDE:
            raise ValueError(f"the canvas's picture must be at most {MAX_CANVAS_SIDE} x {MAX_CANVAS_SIDE} pixels; "
                             f"got {width} x {height}")
        try:
            picture = Image.open(io.BytesIO(raw), formats=["PNG"]).convert("L")
        except (OSError, SyntaxError, ValueError):  # PIL: corrupt or truncated data
            raise ValueError("the canvas's PNG image does not decode: its data is corrupt or truncated") from None
        return np.asarray(picture, dtype=np.float32) / 255.0

    def set_image(self, image) -> None:
        """Show a grey picture (``[H, W]`` in [0, 1]; white is ink) on the canvas, as if drawn.

        Raises
        ------
        ValueError
            For an array that is not 2-D.
        """
        array = np.asarray(image, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(f"image must be a grey picture [H, W]; got shape {array.shape}")
        grey = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
        picture = Image.fromarray(grey, mode="L")
        if picture.size != (self.size, self.size):
            picture = picture.resize((self.size, self.size), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="PNG")
        self.png = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        self.strokes += 1

    def clear(self) -> None:
        """Empty the canvas."""
        self.png = ""


def draw_strokes(strokes, *, size: int = 280, width: float = 20.0) -> np.ndarray:
    """Rasterise strokes the way the canvas draws them: round-capped white lines on black, anti-aliased.

    Used to make synthetic drawings (tests, and the notebook's drawing from code).

    Parameters
    ----------
    strokes : sequence of sequences of (x, y) points
        Each stroke a polyline in canvas pixels.
    size : int, default 280
    width : float, default 20

    Returns
    -------
    numpy.ndarray, float32, [size, size], values in [0, 1]

    Examples
    --------
    >>> picture = draw_strokes([[(140, 40), (140, 240)]])  # a "1"
    >>> picture.shape, float(picture.max())
    ((280, 280), 1.0)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8; got {size!r}")
    if not width > 0:
        raise ValueError(f"width must be positive; got {width!r}")
    over = 4  # drawn 4x larger, then averaged down: anti-aliased edges
    picture = Image.new("L", (size * over, size * over), 0)
    pen = ImageDraw.Draw(picture)
    radius = width * over / 2
    for stroke in strokes:
        points = [(float(x) * over, float(y) * over) for x, y in stroke]
        if not points:
            continue
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(width * over)))
        for x, y in points:  # round caps and joins
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    small = picture.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def mnist_from_drawing(image, *, ink_threshold: float = 0.02) -> torch.Tensor:
    """Turn a drawing into an MNIST-like digit ``[1, 28, 28]``, the way MNIST was made.

    1. Crop to the bounding box of the ink (values above ``ink_threshold``).
    2. Scale it, keeping its aspect ratio, so that its longer side is 20 pixels, with anti-aliasing
       (bilinear with an area filter when shrinking).
    3. Place it in a 28 x 28 field so that its centre of mass (weighted by intensity) is at the
       field's centre, shifted by whole pixels (as far as the field allows).
    4. Scale the values so that the brightest pixel is 1.

    LeCun, Bottou, Bengio and Haffner, 1998, Proc. IEEE 86(11) (section III.A): "normalized to fit in
    a 20x20 pixel box while preserving their aspect ratio ... anti-aliasing ... centered in a 28x28
    image by computing the center of mass of the pixels".

    Parameters
    ----------
    image : array or tensor [H, W], values in [0, 1] (or uint8, 0-255), ink bright on a dark background
    ink_threshold : float in (0, 1), default 0.02

    Returns
    -------
    torch.Tensor, float32, [1, 28, 28], values in [0, 1]

    Raises
    ------
    ValueError
        For an image that is not 2-D or not finite, or a blank one (no value above the threshold):
        the message is :data:`BLANK_CANVAS_MESSAGE`.

    Examples
    --------
    >>> digit = mnist_from_drawing(draw_strokes([[(140, 40), (140, 240)]]))
    >>> tuple(digit.shape), float(digit.max())
    ((1, 28, 28), 1.0)
    """
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"image must be a grey drawing [H, W]; got shape {array.shape}")
    ink_threshold = check_fraction("ink_threshold", ink_threshold)
    if array.dtype == np.uint8:  # a 0-255 picture (a PNG, PIL): brought to [0, 1], not clamped to 0 and 1
        array = array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("image must be finite; it holds NaN or Inf values")
    if array.min() < 0 or array.max() > 1:
        raise ValueError(f"image must hold values in [0, 1] (or be uint8, 0-255); got values from {array.min():g} "
                         f"to {array.max():g}")
    if float(np.median(array)) > 0.5:
        raise ValueError("image must be bright ink on a dark background, as MNIST digits are; this one is mostly "
                         "bright: invert it first (1 - image)")
    ink = array > ink_threshold
    if not ink.any():
        raise ValueError(BLANK_CANVAS_MESSAGE)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = torch.from_numpy(np.ascontiguousarray(array[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]))
    height, width = crop.shape
    scale = 20.0 / max(height, width)
    new_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    boxed = F.interpolate(crop[None, None], size=new_size, mode="bilinear", antialias=scale < 1,
                          align_corners=False)[0, 0].clamp(0, 1)
    total = float(boxed.sum())
    if total <= 0:
        raise ValueError(BLANK_CANVAS_MESSAGE)
    ys, xs = torch.arange(new_size[0], dtype=torch.float32), torch.arange(new_size[1], dtype=torch.float32)
    centre_y = float((boxed.sum(dim=1) * ys).sum()) / total
    centre_x = float((boxed.sum(dim=0) * xs).sum()) / total
    # the field's centre is 13.5 (between pixels 13 and 14); whole-pixel shifts, the box kept inside
    top = int(np.clip(round(13.5 - centre_y), 0, 28 - new_size[0]))
    left = int(np.clip(round(13.5 - centre_x), 0, 28 - new_size[1]))
    digit = torch.zeros(1, 28, 28, dtype=torch.float32)
    digit[0, top:top + new_size[0], left:left + new_size[1]] = boxed
    return digit / digit.max()
