"""Live explorers: change the input, the method, the class or a parameter and watch the explanation respond.

Two widgets, both ``ipywidgets`` layouts that a notebook (or the Voilà app, ``make app``) only displays:

- :class:`DigitExplorer` -- a ``SimpleCNN`` (or any digit classifier) on MNIST digits: a test digit
  (by index, or the next one the model gets wrong) or a digit drawn with the mouse on a
  :class:`DrawCanvas`; every method of the course (gradient, Gradient x Input, SmoothGrad, Integrated
  Gradients, Grad-CAM, occlusion, LIME, KernelSHAP, exact SHAP on the 4 x 4 grid); the target class;
  the chosen method's own parameters.
- :class:`PhotoExplorer` -- the ImageNet model on the photographs bundled with scikit-image, with
  superpixels as the features of the coalition methods.

Each shows the input, the map with its colour bar, the overlay, the prediction probabilities as bars
and a status line with what the explanation cost (forward rows, backward passes and milliseconds,
from :class:`helpers.cost.CostCounter`).

How they stay responsive:

- The explanation runs on a worker thread, so the kernel keeps receiving the learner's changes. A
  change that arrives while an explanation is computing *supersedes* it: the stale computation is
  stopped at the model's next forward call, and a result is shown only if no newer request was made
  since it started (no queue of stale computations; a stale result never overwrites a newer one).
- Errors (a blank canvas, a method that needs gradients on a model without them, a budget too small
  for the number of features) appear in the status line in plain words, never as a traceback.
- Images are rendered cheaply: NumPy -> colour map lookup -> PNG bytes into an ``ipywidgets.Image``.

The drawing is turned into an MNIST-like input the way MNIST itself was made (LeCun, Bottou, Bengio and
Haffner, "Gradient-Based Learning Applied to Document Recognition", 1998, Proc. IEEE 86(11), and the
MNIST page): the stroke's bounding box is fitted into a 20 x 20 box keeping its aspect ratio, with
anti-aliasing, and placed in a 28 x 28 field so that its centre of mass sits at the centre
(:func:`mnist_from_drawing`).

Taught (used) in ``notebooks/07_explorer.ipynb``; every method it calls is explained in notebooks 02-05.
"""

from __future__ import annotations

import base64
import functools
import io
import threading
import time
import warnings
from dataclasses import dataclass, field

import anywidget
import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import traitlets
from PIL import Image

from . import features, lime as lime_module, saliency, shapley
from .cost import CostCounter
from .scores import evaluation_mode
from .plotting import SIGNED_CMAP, UNSIGNED_CMAP

__all__ = [
    "DrawCanvas",
    "DigitExplorer",
    "PhotoExplorer",
    "ExplorerResult",
    "DIGIT_METHODS",
    "PHOTO_METHODS",
    "mnist_from_drawing",
    "draw_strokes",
    "colourize",
    "png_bytes",
    "BLANK_CANVAS_MESSAGE",
]

#: The digit explorer's methods, in the order of the course.
DIGIT_METHODS = (
    "gradient",
    "Gradient×Input",
    "SmoothGrad",
    "Integrated Gradients",
    "Grad-CAM",
    "occlusion",
    "LIME",
    "KernelSHAP",
    "exact SHAP (4×4)",
)
#: The photo explorer's methods (exact SHAP is out of reach with tens of superpixels).
PHOTO_METHODS = DIGIT_METHODS[:-1]

GRADIENT_METHODS = DIGIT_METHODS[:5]
#: Methods whose map is a magnitude (drawn with the "hot" colour map from 0); the others are signed.
UNSIGNED_METHODS = ("gradient", "SmoothGrad", "Grad-CAM")

BLANK_CANVAS_MESSAGE = "The canvas is blank: draw a digit with the mouse (press, drag, release), then watch the map."
NO_GRADIENT_MESSAGE = (
    "{method} needs the model's gradient, and this model gives none (its output does not depend "
    "differentiably on the input). Choose occlusion, LIME or SHAP: they need only predictions."
)

# --------------------------------------------------------------------------- the drawing canvas

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
        """The drawing as a float array ``[size, size]`` in [0, 1] (0 where nothing is drawn)."""
        if not self.png:
            return np.zeros((self.size, self.size), dtype=np.float32)
        header, _, data = self.png.partition(",")
        if not header.startswith("data:image/png;base64"):
            raise ValueError(f"the canvas must hold a PNG data URL; got one starting {self.png[:30]!r}")
        picture = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
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
    from PIL import ImageDraw

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
    image : array or tensor [H, W], values in [0, 1], ink bright on a dark background
    ink_threshold : float, default 0.02

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
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("image must be finite; it holds NaN or Inf values")
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


# --------------------------------------------------------------------------- cheap rendering


def colourize(values, *, signed: bool, limit: float) -> np.ndarray:
    """Colour a 2-D map with the course's colour maps: ``[H, W]`` -> uint8 ``[H, W, 3]``.

    Signed maps use ``RdBu_r`` symmetric around 0 on ``[-limit, limit]``; magnitudes use ``hot`` on
    ``[0, limit]`` (as :func:`helpers.plotting.show_heatmap`). Values beyond the limit are clipped.
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
    if name not in _TABLES:
        _TABLES[name] = (matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return _TABLES[name]


def png_bytes(picture: np.ndarray, *, scale: int = 1) -> bytes:
    """PNG bytes of a uint8 picture (``[H, W]`` grey or ``[H, W, 3]``), each pixel repeated ``scale`` times."""
    picture = np.asarray(picture)
    if picture.dtype != np.uint8:
        raise TypeError(f"picture must be uint8; got {picture.dtype}")
    if scale > 1:
        picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _grey(picture: np.ndarray) -> np.ndarray:
    """A picture in [0, 1] ([H, W] or [H, W, 3]) as uint8 RGB."""
    picture = np.clip(np.asarray(picture, dtype=np.float64), 0, 1)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=-1)
    return (picture * 255).round().astype(np.uint8)


def _overlay(picture: np.ndarray, values: np.ndarray, *, signed: bool, limit: float, boundaries=None) -> np.ndarray:
    """The picture in grey with the map on top, more opaque where the map is stronger."""
    base = np.clip(np.asarray(picture, dtype=np.float64), 0, 1)
    grey = base if base.ndim == 2 else base.mean(axis=-1)
    colour = colourize(values, signed=signed, limit=limit).astype(np.float64) / 255
    strength = np.clip(np.abs(values) / (limit if limit > 0 else 1.0), 0, 1)[..., None] * 0.75
    mixed = grey[..., None] * (1 - strength) + colour * strength
    if boundaries is not None:
        mixed[boundaries] = (1.0, 1.0, 0.0)
    return (mixed * 255).round().astype(np.uint8)


def _colour_bar(signed: bool, height: int) -> bytes:
    ramp = np.linspace(1, -1 if signed else 0, height)[:, None].repeat(12, axis=1)
    return png_bytes(colourize(ramp, signed=signed, limit=1.0))


def _blank(height: int, width: int) -> bytes:
    return png_bytes(np.full((height, width, 3), 235, dtype=np.uint8))


def _probability_bars(probabilities, names, predicted: int, target: int) -> str:
    rows = []
    for index, (name, p) in enumerate(zip(names, probabilities)):
        colour = "#d9822b" if index == target else "#4a78b0"
        weight = "bold" if index == predicted else "normal"
        rows.append(
            f"<tr style='font-weight:{weight}'><td style='padding:0 6px 0 0;text-align:right'>{_escape(name)}</td>"
            f"<td style='padding:0'><div style='width:{max(1, round(120 * p))}px;height:11px;background:{colour}'>"
            f"</div></td><td style='padding:0 0 0 6px'>{p:.3f}</td></tr>"
        )
    legend = "<div style='font-size:11px;color:#555'>bold: predicted; orange: explained</div>"
    return "<table class='course-probabilities' style='font-size:12px;border-collapse:collapse'>" + "".join(rows) + \
        "</table>" + legend


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _format_limit(limit: float) -> str:
    return f"{limit:.2g}" if limit >= 0.01 else f"{limit:.1e}"


# --------------------------------------------------------------------------- results and supersession


@dataclass
class ExplorerResult:
    """What an explorer shows after a computation.

    Attributes
    ----------
    method : str
    target : int or None
        The class explained (None when the computation failed before it was known).
    predicted : int or None
    probabilities : numpy.ndarray or None, [classes]
    map : numpy.ndarray or None, [H, W]
        The map as drawn (per-pixel; a coalition method's weights spread over their segments).
    weights : torch.Tensor or None
        A coalition method's raw output, one value per feature ``[M]``; a gradient method's raw
        output (shape of the input).
    segments : torch.Tensor or None
    counts : dict
        :meth:`CostCounter.counts` of the explanation (the prediction bars are not counted).
    cost : str
        :meth:`CostCounter.summary` without seconds.
    seconds : float
        Wall time of the explanation.
    message : str
        A plain-words error, or "" when the map was computed.
    signed : bool
    limit : float
        The colour scale's limit used for this map alone.
    note : str
        More about the computation, for the status line (e.g. Integrated Gradients' completeness gap).
    """

    method: str
    target: int | None = None
    predicted: int | None = None
    probabilities: np.ndarray | None = None
    map: np.ndarray | None = None
    weights: torch.Tensor | None = None
    segments: torch.Tensor | None = None
    counts: dict = field(default_factory=dict)
    cost: str = ""
    seconds: float = 0.0
    message: str = ""
    signed: bool = False
    limit: float = 1.0
    note: str = ""


class _Superseded(Exception):
    """Raised inside a stale computation at the model's next forward call."""


def _plain_words(method: str, error: Exception) -> str:
    text = str(error)
    if text == BLANK_CANVAS_MESSAGE:
        return text
    if method in GRADIENT_METHODS and (isinstance(error, _NoGradient) or "differentiabl" in text):
        return NO_GRADIENT_MESSAGE.format(method=method)
    if "budget" in text and "at least" in text:
        return f"{method}: the budget is too small for this many features ({text.split(';')[0]}). Raise the budget or take larger patches."
    first = text.split("\n")[0]
    return f"{method} could not explain this input: {first}"


class _Explorer(widgets.VBox):
    """The plumbing shared by both explorers: the worker thread, supersession and the display."""

    _METHODS: tuple = ()
    #: which parameter widgets each method shows
    _PARAMETERS: dict = {}
    _PICTURE = 168  # displayed side of the pictures, in pixels

    def __init__(self, model: nn.Module, *, background: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        super().__init__()
        self.model = model
        self.background = bool(background)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._generation = 0
        self._pending = None
        self._running = False
        self._closed = False
        self._worker: threading.Thread | None = None
        self._worker_ident: int | None = None
        self._muted = 0
        self.result: ExplorerResult | None = None
        self.pinned: ExplorerResult | None = None
        self.history: list[tuple[int, ExplorerResult]] = []  # (generation, result) in the order shown
        self.last_latency: float | None = None
        self._requested_at = 0.0

        style = {"description_width": "110px"}
        self.method = widgets.Dropdown(options=list(self._METHODS), value=self._METHODS[0], description="method",
                                       style=style)
        self.parameters = self._make_parameters(style)
        self.parameter_box = widgets.VBox()
        self.pin_button = widgets.Button(description="pin this map", tooltip="keep this map to compare; both share one colour scale")
        self.unpin_button = widgets.Button(description="unpin", disabled=True)
        side = self._PICTURE
        self.input_image = widgets.Image(format="png", value=_blank(side, side), width=side, height=side)
        self.map_image = widgets.Image(format="png", value=_blank(side, side), width=side, height=side)
        self.overlay_image = widgets.Image(format="png", value=_blank(side, side), width=side, height=side)
        self.pinned_image = widgets.Image(format="png", value=_blank(side, side), width=side, height=side)
        self.colour_bar = widgets.Image(format="png", value=_colour_bar(False, side), width=12, height=side)
        self.bar_labels = widgets.HTML(layout=widgets.Layout(height=f"{side}px", width="60px"))
        self.input_title = widgets.HTML()
        self.map_title = widgets.HTML()
        self.pinned_title = widgets.HTML()
        self.bars = widgets.HTML()
        self.status = widgets.HTML(value="")
        self.status.add_class("course-status")
        self.map_image.add_class("course-map")
        self.overlay_image.add_class("course-overlay")
        self.input_image.add_class("course-input")
        self.method.add_class("course-method")
        self.add_class("course-explorer")
        self.add_class(f"course-{type(self).__name__.lower()}")  # course-digitexplorer, course-photoexplorer

        self.method.observe(self._on_method, names="value")
        for name, control in self.parameters.items():
            control.observe(functools.partial(self._on_parameter, name), names="value")
        self.pin_button.on_click(self._pin)
        self.unpin_button.on_click(self._unpin)
        self._show_parameters()

    # -- layout pieces

    def _make_parameters(self, style) -> dict:
        raise NotImplementedError

    def _pictures_row(self):
        def column(title, picture, extra=None):
            children = [title, picture] if extra is None else [title, widgets.HBox([picture, extra])]
            return widgets.VBox(children, layout=widgets.Layout(margin="0 8px 0 0"))

        bar = widgets.HBox([self.colour_bar, self.bar_labels])
        self.pinned_column = column(self.pinned_title, self.pinned_image)
        self.pinned_column.layout.display = "none"
        return widgets.HBox([
            column(self.input_title, self.input_image),
            column(self.map_title, self.map_image, bar),
            self.pinned_column,
            column(widgets.HTML("<b>overlay</b>"), self.overlay_image),
            column(widgets.HTML("<b>prediction</b>"), self.bars),
        ], layout=widgets.Layout(flex_flow="row wrap"))

    def _show_parameters(self):
        shown = self._PARAMETERS.get(self.method.value, ())
        self.parameter_box.children = [self.parameters[name] for name in shown]

    # -- requests

    def _on_method(self, _change):
        self._show_parameters()
        self._on_change(_change)

    def _on_parameter(self, name: str, _change=None):
        if name in self._PARAMETERS.get(self.method.value, ()):  # a hidden parameter changes nothing shown
            self._on_change()

    def _on_change(self, _change=None):
        if not self._muted:
            self.refresh()

    def refresh(self) -> None:
        """Recompute the explanation for the controls' current values (superseding any running one)."""
        request = self._request()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._requested_at = time.perf_counter()
            self._pending = (generation, request, self._requested_at)
            if not self.background:
                self._pending = None
                self._running = True
        if not self.background:
            try:
                self._run(generation, request, self._requested_at)
            finally:
                with self._lock:
                    self._running = False
            return
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name=f"{type(self).__name__}-worker", daemon=True)
                self._worker.start()
            self._wake.notify_all()

    def _work(self):
        self._worker_ident = threading.get_ident()
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                generation, request, requested_at = self._pending
                self._pending = None
                self._running = True
            try:
                self._run(generation, request, requested_at)
            finally:
                with self._lock:
                    self._running = False
                    self._wake.notify_all()

    def wait(self, timeout: float = 120.0) -> ExplorerResult | None:
        """Block until the latest request has been shown (or ``timeout`` seconds pass); return the result.

        Code that sets a control and then reads :attr:`result` calls this in between.

        Raises
        ------
        TimeoutError
            If the computation is still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending is not None or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the explorer was still computing after {timeout} s")
                self._wake.wait(left)
        return self.result

    def _stale(self, generation: int) -> bool:
        return generation != self._generation or self._closed

    def _run(self, generation: int, request: dict, requested_at: float):
        def stop_if_stale(_module, _args):
            if threading.get_ident() == self._worker_ident and self._stale(generation):
                raise _Superseded()

        handle = self.model.register_forward_pre_hook(stop_if_stale) if self.background else None
        try:
            try:
                result = self._compute(request)
            except _Superseded:
                return
            except Exception as error:  # shown in plain words in the status line, never as a traceback
                if self._stale(generation):
                    return
                result = ExplorerResult(method=request["method"], message=_plain_words(request["method"], error))
            pictures = self._pictures(request, result)
        finally:
            if handle is not None:
                handle.remove()
        with self._lock:  # a newer request made meanwhile wins: this result is dropped
            if self._stale(generation):
                return
            self._publish(request, result, pictures)
            self.result = result
            self.history.append((generation, result))
            del self.history[:-20]
            self.last_latency = time.perf_counter() - requested_at
            self._wake.notify_all()

    # -- pinning: two maps on one scale

    def _pin(self, _button=None):
        if self.result is None or self.result.map is None:
            return
        self.pinned = self.result
        self.unpin_button.disabled = False
        self.pinned_column.layout.display = ""
        self.refresh()

    def _unpin(self, _button=None):
        self.pinned = None
        self.unpin_button.disabled = True
        self.pinned_column.layout.display = "none"
        self.refresh()

    def scale(self, result: ExplorerResult) -> tuple[bool, float]:
        """The colour scale of a result: its own, or shared with the pinned map when one is pinned."""
        pinned = self.pinned
        if pinned is None or pinned.map is None or result.map is None:
            return result.signed, result.limit
        return result.signed or pinned.signed, max(result.limit, pinned.limit)

    # -- what subclasses provide

    def _request(self) -> dict:
        raise NotImplementedError

    def _compute(self, request: dict) -> ExplorerResult:
        raise NotImplementedError

    def _picture(self, request: dict) -> np.ndarray:
        raise NotImplementedError

    def _boundaries(self, result: ExplorerResult):
        return None

    # -- rendering (on the worker thread) and publishing

    def _pictures(self, request: dict, result: ExplorerResult) -> dict:
        side = self._PICTURE
        picture = request.get("picture")
        pictures = {"input": png_bytes(_grey(picture), scale=request.get("scale", 1)) if picture is not None
                    else _blank(side, side)}
        if result.map is None:
            pictures.update(map=_blank(side, side), overlay=_blank(side, side), pinned=None, bar=None)
            return pictures
        signed, limit = self.scale(result)
        scale = request.get("scale", 1)
        pictures["map"] = png_bytes(colourize(result.map, signed=signed, limit=limit), scale=scale)
        pictures["overlay"] = png_bytes(
            _overlay(picture, result.map, signed=signed, limit=limit, boundaries=self._boundaries(result)), scale=scale)
        pictures["bar"] = _colour_bar(signed, side)
        pictures["signed"], pictures["limit"] = signed, limit
        pinned = self.pinned
        pictures["pinned"] = None if pinned is None or pinned.map is None else png_bytes(
            colourize(pinned.map, signed=signed, limit=limit), scale=scale)
        return pictures

    def _publish(self, request: dict, result: ExplorerResult, pictures: dict):
        self.input_image.value = pictures["input"]
        self.input_title.value = f"<b>{_escape(request.get('title', 'input'))}</b>"
        self.map_image.value = pictures["map"]
        self.overlay_image.value = pictures["overlay"]
        if result.map is None:
            self.map_title.value = "<b>map</b>"
            self.bar_labels.value = ""
            self.bars.value = ""
            self.status.value = f"<span style='color:#b00020'>&#9888; {_escape(result.message)}</span>"
            return
        self.colour_bar.value = pictures["bar"]
        limit, signed = pictures["limit"], pictures["signed"]
        shared = " (shared scale)" if self.pinned is not None and self.pinned.map is not None else ""
        self.bar_labels.value = (
            f"<div style='display:flex;flex-direction:column;justify-content:space-between;height:{self._PICTURE}px;"
            f"font-size:11px'><span>{_format_limit(limit)}</span><span>{'0' if signed else ''}</span>"
            f"<span>{'-' + _format_limit(limit) if signed else '0'}</span></div>"
        )
        self.map_title.value = f"<b>{_escape(result.method)}</b> toward {_escape(self._class_name(result.target))}{shared}"
        if pictures["pinned"] is not None:
            self.pinned_image.value = pictures["pinned"]
            self.pinned_title.value = (f"<b>pinned: {_escape(self.pinned.method)}</b> toward "
                                       f"{_escape(self._class_name(self.pinned.target))}")
        self.bars.value = _probability_bars(result.probabilities, self._class_names(len(result.probabilities)),
                                            result.predicted, result.target)
        note = f"; {result.note}" if result.note else ""
        self.status.value = (f"{_escape(result.method)} toward {_escape(self._class_name(result.target))}: "
                             f"{_escape(result.cost)}; {1000 * result.seconds:.0f} ms{_escape(note)}")

    def _class_names(self, n: int) -> list:
        return [str(k) for k in range(n)]

    def _class_name(self, k) -> str:
        return str(k)

    # -- reading from code

    def describe(self) -> str:
        """What is shown now, in one line that repeats from run to run (no milliseconds)."""
        result = self.result
        if result is None:
            return "nothing computed yet"
        if result.map is None:
            return f"method: {result.method}; message: {result.message}"
        p = float(result.probabilities[result.predicted])
        return (f"method: {result.method}; prediction: {self._class_name(result.predicted)} (p = {p:.3f}); "
                f"explained: {self._class_name(result.target)}; cost: {result.cost}")

    def close(self):
        """Stop the worker thread and close the widgets."""
        if not hasattr(self, "_lock"):  # construction failed before the worker existed
            return super().close()
        with self._lock:
            self._closed = True
            self._generation += 1
            self._wake.notify_all()
        for child in self._all_widgets():
            child.close()
        super().close()

    def _all_widgets(self) -> list:
        return [self.method, self.pin_button, self.unpin_button, self.input_image, self.map_image,
                self.overlay_image, self.pinned_image, self.colour_bar, self.bar_labels, self.input_title,
                self.map_title, self.pinned_title, self.bars, self.status, self.parameter_box,
                *self.parameters.values()]


def _slider(kind, description, value, low, high, step, style, **extra):
    return kind(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                style=style, **extra)


def _design_checkbox():
    # kernel_shap's optimised designs search once per (features, budget): seconds to a minute on a
    # busy 2-core CPU, then cached; leverage sampling (design=False) costs the same at every budget.
    return widgets.Checkbox(value=False, description="optimised design (first use of a budget is slow)",
                            indent=False, layout=widgets.Layout(width="360px"))


def _last_conv(model: nn.Module):
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    return convs[-1] if convs else None


def _probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with evaluation_mode(model), torch.no_grad():
        return model(x).softmax(dim=1)[0].double().cpu().numpy()


class _NoGradient(Exception):
    """The model gives no usable gradient (no differentiable path, or zero everywhere)."""


def _explain_gradient(model, x, method: str, target, request: dict, layer):
    """A gradient method on a batch of one: (raw output, 2-D map, note).

    Warnings of the helpers become words: a gradient that is exactly zero everywhere (a model that
    rounds or bins its input) is reported like a model without gradients; any other warning is added
    to the note. (``catch_warnings`` is process-wide: a warning raised by other code during these
    milliseconds is recorded here instead of printed.)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw, picture_map, note = _gradient_map(model, x, method, target, request, layer)
    for warning in caught:
        text = str(warning.message)
        if "exactly zero" in text or "differentiabl" in text:
            raise _NoGradient(text)
        note = "; ".join(filter(None, [note, text.split(". ")[0]]))
    return raw, picture_map, note


def _gradient_map(model, x, method: str, target, request: dict, layer):
    note = ""
    if method == "gradient":
        raw = saliency.gradient(model, x, target)
    elif method == "Gradient×Input":
        raw = saliency.gradient_x_input(model, x, target)
    elif method == "SmoothGrad":
        raw = saliency.smoothgrad(model, x, target, noise_level=request["noise_level"],
                                  n_samples=request["samples"], seed=request["seed"])
    elif method == "Integrated Gradients":
        steps = None if request["steps"] == "adaptive" else int(request["steps"])
        raw, info = saliency.integrated_gradients(model, x, target, baseline=request["baseline_value"], steps=steps,
                                                  return_info=True)
        note = f"{int(info.steps[0])} points on the path, completeness gap {float(info.relative_gap[0]):.1%}"
    elif method == "Grad-CAM":
        if layer is None:
            raise ValueError("Grad-CAM needs a convolutional layer, and this model has none")
        raw = saliency.grad_cam(model, x, target, layer=layer)
    else:
        raise ValueError(f"unknown gradient method {method!r}")
    values = raw[0].detach().double()
    # one map per picture: a signed map sums its channels, a magnitude takes the largest
    picture_map = values.sum(dim=0) if method not in UNSIGNED_METHODS else values.abs().amax(dim=0)
    return raw, picture_map.cpu().numpy(), note


def _explain_coalitions(game, method: str, request: dict):
    """A coalition method on a game: one value per feature ``[M]``."""
    if method == "occlusion":
        return features.occlusion(game)
    if method == "LIME":
        return lime_module.lime(game, n_samples=request["lime_samples"], kernel_width=request["kernel_width"],
                                seed=request["seed"])
    if method == "KernelSHAP":
        return shapley.kernel_shap(game, budget=request["budget"], seed=request["seed"], design=request["design"])
    if method.startswith("exact SHAP"):
        # Exact all the same: a blank patch (equal to the baseline) changes no worth, so only the
        # other patches' coalitions are enumerated (about 1,024 of 65,536 for a test digit).
        return shapley.exact_shapley_skipping_dummies(game)
    raise ValueError(f"unknown coalition method {method!r}")


def _limit(method: str, values: np.ndarray) -> float:
    """The colour scale of a map alone: the 99th percentile of |map| for per-pixel maps (a few extreme
    pixels do not wash out the rest, as ``clip_percentile=99`` in the notebooks), the largest |value|
    for maps made of segments."""
    magnitude = np.abs(values)
    limit = float(np.percentile(magnitude, 99)) if method in GRADIENT_METHODS else float(magnitude.max())
    if limit <= 0:
        limit = float(magnitude.max())
    return limit if limit > 0 else 1.0


# --------------------------------------------------------------------------- the digit explorer


class DigitExplorer(_Explorer):
    """Explore the explanations of a digit classifier, live.

    An ``ipywidgets.VBox``: display it (the last expression of a cell) and use its controls.

    Controls:

    - **input**: a test digit (``index``; the "next misclassified" button jumps to the next digit the
      model gets wrong) or a digit drawn on :attr:`canvas` (:class:`DrawCanvas`), preprocessed with
      :func:`mnist_from_drawing`;
    - **method**: one of :data:`DIGIT_METHODS`; only its own parameters are shown: noise level,
      samples and seed (SmoothGrad), steps and baseline (Integrated Gradients), patch size and baseline
      (occlusion), patch size, kernel width, samples, seed and baseline (LIME), patch size, budget, seed
      and baseline (KernelSHAP), baseline (exact SHAP on the 4 x 4 grid of 7 x 7 patches);
    - **target**: "predicted" or a class 0-9.

    Sliders act when released. "pin this map" keeps the current map beside the next ones, on one
    shared colour scale. The coalition methods play the game of :class:`helpers.features.CoalitionGame`
    on the model's score (logit), as in notebooks 04 and 05.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``[B, 1, 28, 28]`` to class scores ``[B, classes]``. Left unchanged (mode, parameters,
        gradients).
    X : torch.Tensor, float, [N, 1, 28, 28]
        Digits in [0, 1] (e.g. ``load_mnist("test")[0]``). Left unchanged.
    y : torch.Tensor, int, [N]
        Their labels.
    layer : torch.nn.Module, optional
        Grad-CAM's layer; default the model's last ``Conv2d``.
    index : int, default 0
        The first digit shown.
    background : bool, default True
        Compute on a worker thread (changes supersede running computations). False computes in the
        caller's thread, at once (for scripts and tests).

    Attributes
    ----------
    source, index, next_button, method, target, parameters (dict of the parameter widgets), canvas,
    status : the widgets
    result : ExplorerResult
        What is shown now.

    Raises
    ------
    TypeError
        For a model that is not a module, or X / y not tensors.
    ValueError
        For X not ``[N, 1, 28, 28]``, y not ``[N]``, an index out of range, or a model that does not
        return ``[B, classes]``.

    Examples
    --------
    >>> explorer = DigitExplorer(model, X_test, y_test)  # doctest: +SKIP
    >>> explorer  # doctest: +SKIP
    >>> explorer.method.value = "LIME"; explorer.wait(); print(explorer.describe())  # doctest: +SKIP
    """

    _METHODS = DIGIT_METHODS
    _PARAMETERS = {
        "SmoothGrad": ("noise_level", "samples", "seed"),
        "Integrated Gradients": ("steps", "baseline_pixels"),
        "occlusion": ("patch_size", "baseline"),
        "LIME": ("patch_size", "kernel_width", "lime_samples", "seed", "baseline"),
        "KernelSHAP": ("patch_size", "budget", "design", "seed", "baseline"),
        "exact SHAP (4×4)": ("baseline",),
    }
    _SCALE = 6  # 28 x 6 = 168 pixels on screen

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, layer: nn.Module | None = None,
                 index: int = 0, background: bool = True):
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(f"X and y must be tensors; got {type(X).__name__} and {type(y).__name__}")
        if X.ndim != 4 or tuple(X.shape[1:]) != (1, 28, 28) or not torch.is_floating_point(X):
            raise ValueError(f"X must be float digits [N, 1, 28, 28]; got shape {tuple(X.shape)}, dtype {X.dtype}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must hold one label per digit, shape ({X.shape[0]},); got {tuple(y.shape)}")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(X):
            raise ValueError(f"index must be an int in [0, {len(X)}); got {index!r}")
        super().__init__(model, background=background)
        self.X, self.y = X, y
        self.layer = layer if layer is not None else _last_conv(model)
        with evaluation_mode(model), torch.no_grad():
            scores = torch.cat([model(X[start:start + 500]) for start in range(0, len(X), 500)])
        if scores.ndim != 2 or scores.shape[0] != len(X):
            raise ValueError(f"the model must return class scores [B, classes]; got shape {tuple(scores.shape)}")
        self.n_classes = int(scores.shape[1])
        self.predictions = scores.argmax(dim=1)
        self.mean_digit = X.mean(dim=0)  # [1, 28, 28]

        style = {"description_width": "110px"}
        self.source = widgets.ToggleButtons(options=["test digit", "draw"], value="test digit", description="input",
                                            style=style)
        self.index = widgets.BoundedIntText(value=index, min=0, max=len(X) - 1, description="test digit #",
                                            style=style, layout=widgets.Layout(width="220px"))
        self.next_button = widgets.Button(description="next misclassified", _dom_classes=["course-next"],
                                          tooltip="jump to the next test digit that the model gets wrong")
        self.canvas = DrawCanvas()
        self.target = widgets.Dropdown(options=[("predicted", "predicted")] + [(str(k), k) for k in range(self.n_classes)],
                                       value="predicted", description="target class", style=style)
        self.digit_box = widgets.HBox([self.index, self.next_button])
        self.canvas_box = widgets.VBox([widgets.HTML("draw a digit, then release the mouse button:"), self.canvas],
                                       layout=widgets.Layout(margin="0 0 0 24px"))
        self.canvas_box.layout.display = "none"

        self.source.observe(self._on_source, names="value")
        self.index.observe(self._on_change, names="value")
        self.target.observe(self._on_change, names="value")
        self.canvas.observe(self._on_drawing, names="png")
        self.next_button.on_click(self.next_misclassified)

        controls = widgets.VBox([self.source, self.digit_box, self.method, self.target, self.parameter_box,
                                 widgets.HBox([self.pin_button, self.unpin_button])])
        self.children = [widgets.HBox([controls, self.canvas_box]), self._pictures_row(), self.status]
        self.refresh()

    def _make_parameters(self, style) -> dict:
        baselines = [("black (0)", "black"), ("mean digit", "mean"), ("segment means", "segment_mean")]
        return {
            "noise_level": _slider(widgets.FloatSlider, "noise level", 0.15, 0.0, 0.5, 0.01, style),
            "samples": _slider(widgets.IntSlider, "samples", 50, 1, 200, 1, style),
            "steps": widgets.Dropdown(options=["adaptive", 4, 8, 16, 32, 64, 128], value="adaptive",
                                      description="steps", style=style),
            "patch_size": widgets.Dropdown(options=[("2 (196 patches)", 2), ("4 (49 patches)", 4),
                                                    ("7 (16 patches)", 7), ("14 (4 patches)", 14)],
                                           value=7, description="patch size", style=style),
            "kernel_width": _slider(widgets.FloatSlider, "kernel width", 0.25, 0.05, 2.0, 0.05, style),
            "lime_samples": _slider(widgets.IntSlider, "samples", 1000, 50, 5000, 50, style),
            "budget": _slider(widgets.IntSlider, "budget", 256, 20, 4096, 2, style),
            "design": _design_checkbox(),
            "seed": widgets.BoundedIntText(value=0, min=0, max=10**6, description="seed", style=style,
                                           layout=widgets.Layout(width="220px")),
            "baseline": widgets.Dropdown(options=baselines, value="black", description="baseline", style=style),
            "baseline_pixels": widgets.Dropdown(options=baselines[:2], value="black", description="baseline",
                                                style=style),
        }

    def _all_widgets(self) -> list:
        return super()._all_widgets() + [self.source, self.index, self.next_button, self.canvas, self.target,
                                         self.digit_box, self.canvas_box]

    # -- controls

    def _on_source(self, _change):
        drawing = self.source.value == "draw"
        self.canvas_box.layout.display = "" if drawing else "none"
        self.digit_box.layout.display = "none" if drawing else ""
        self._on_change()

    def _on_drawing(self, _change):
        if self.source.value == "draw":
            self._on_change()

    def next_misclassified(self, _button=None) -> int | None:
        """Show the next test digit after the current one that the model gets wrong (wrapping around).

        Returns its index, or None (and says so in the status line) when the model gets every digit right.
        """
        wrong = torch.nonzero(self.predictions != self.y).flatten().tolist()
        if not wrong:
            self.status.value = "The model classifies every digit of this set correctly: nothing to jump to."
            return None
        after = [i for i in wrong if i > self.index.value]
        chosen = after[0] if after else wrong[0]
        self._muted += 1
        try:
            self.source.value = "test digit"
            self.index.value = chosen
        finally:
            self._muted -= 1
        self.refresh()
        return chosen

    def draw(self, strokes, *, width: float | None = None) -> None:
        """Draw strokes on the canvas from code (as the mouse would) and switch the input to the drawing.

        Parameters
        ----------
        strokes : sequence of sequences of (x, y) canvas points; see :func:`draw_strokes`.
        """
        picture = draw_strokes(strokes, size=self.canvas.size, width=width or self.canvas.line_width)
        self._muted += 1
        try:
            self.source.value = "draw"
            self.canvas.set_image(picture)
        finally:
            self._muted -= 1
        self.refresh()

    # -- one request, computed

    def _baseline_value(self, name: str, pixels: bool):
        if name == "black":
            return 0.0 if not pixels else None
        if name == "mean":
            return self.mean_digit if not pixels else self.mean_digit[None]
        return "segment_mean"

    def _request(self) -> dict:
        request = {name: control.value for name, control in self.parameters.items()}
        target = None if self.target.value == "predicted" else int(self.target.value)
        request.update(method=self.method.value, target=target, source=self.source.value, scale=self._SCALE)
        if self.source.value == "draw":
            request.update(drawing=self.canvas.image(), title="your drawing, as the model sees it")
        else:
            i = self.index.value
            request.update(index=i, title=f"test digit {i} (label {int(self.y[i])})")
        request["baseline_value"] = self._baseline_value(request["baseline_pixels"], pixels=True)
        request["coalition_baseline"] = self._baseline_value(request["baseline"], pixels=False)
        return request

    def input_of(self, request: dict) -> torch.Tensor:
        """The digit ``[1, 1, 28, 28]`` that a request explains (raises ValueError for a blank drawing)."""
        if request["source"] == "draw":
            return mnist_from_drawing(request["drawing"])[None]
        return self.X[request["index"]:request["index"] + 1]

    def _compute(self, request: dict) -> ExplorerResult:
        try:
            x = self.input_of(request)
        except ValueError:
            request["picture"] = None
            raise
        request["picture"] = x[0, 0].detach().cpu().numpy()
        method, target = request["method"], request["target"]
        probabilities = _probabilities(self.model, x)
        predicted = int(probabilities.argmax())
        explained = predicted if target is None else int(target)
        note, segments = "", None
        with CostCounter(self.model) as cost:
            if method in GRADIENT_METHODS:
                raw, values, note = _explain_gradient(self.model, x, method, target, request, self.layer)
            else:
                size = 7 if method.startswith("exact SHAP") else request["patch_size"]
                segments = features.grid_segments((28, 28), size)
                game = features.CoalitionGame(self.model, x[0], segments, baseline=request["coalition_baseline"],
                                              target=explained)
                raw = _explain_coalitions(game, method, request)
                values = raw.double()[segments].cpu().numpy()
        return ExplorerResult(
            method=method, target=explained, predicted=predicted, probabilities=probabilities, map=values,
            weights=raw, segments=segments, counts=cost.counts(), cost=cost.summary(), seconds=cost.seconds,
            signed=method not in UNSIGNED_METHODS, limit=_limit(method, values), note=note,
        )

    def _boundaries(self, result: ExplorerResult):
        return None


# --------------------------------------------------------------------------- the photo explorer


class PhotoExplorer(_Explorer):
    """Explore the explanations of an ImageNet model on the photographs bundled with scikit-image, live.

    Controls: the photograph, the method (:data:`PHOTO_METHODS`), the class among the model's top 5, the
    number of SLIC superpixels (the features of occlusion, LIME and KernelSHAP, baseline the segment
    means and output the class probability, as in notebook 04) and the method's samples, steps or
    budget. The overlay draws the superpixels' boundaries in yellow.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``[B, 3, H, W]`` to class scores (e.g. from :func:`helpers.models.load_imagenet_model`).
    preprocess : callable
        uint8 photograph H x W x 3 -> ``[1, 3, H, W]`` in [-1, 1] (:func:`helpers.models.preprocess_imagenet`).
    class_names : sequence of str
        One name per class.
    photographs : sequence of str, optional
        Names for :func:`helpers.data.load_photograph`; default all bundled ones.
    layer : torch.nn.Module, optional
        Grad-CAM's layer; default the model's last ``Conv2d``.
    background : bool, default True
        As in :class:`DigitExplorer`.

    Raises
    ------
    TypeError, ValueError
        For a model that is not a module, a preprocess that is not callable, an unknown photograph, or
        class names that do not match the model's classes.

    Examples
    --------
    >>> model, preprocess, class_names = load_imagenet_model()  # doctest: +SKIP
    >>> PhotoExplorer(model, preprocess, class_names)  # doctest: +SKIP
    """

    _METHODS = PHOTO_METHODS
    _PARAMETERS = {
        "SmoothGrad": ("noise_level", "samples", "seed"),
        "Integrated Gradients": ("steps",),
        "occlusion": ("n_segments",),
        "LIME": ("n_segments", "kernel_width", "lime_samples", "seed"),
        "KernelSHAP": ("n_segments", "budget", "design", "seed"),
    }
    _PICTURE = 224

    def __init__(self, model: nn.Module, preprocess, class_names, *, photographs=None, layer: nn.Module | None = None,
                 background: bool = True):
        from .data import PHOTOGRAPHS

        if not callable(preprocess):
            raise TypeError(f"preprocess must be callable; got {type(preprocess).__name__}")
        names = list(PHOTOGRAPHS) if photographs is None else list(photographs)
        unknown = [name for name in names if name not in PHOTOGRAPHS]
        if not names or unknown:
            raise ValueError(f"photographs must be names among {sorted(PHOTOGRAPHS)}; got {names!r}")
        super().__init__(model, background=background)
        self.preprocess = preprocess
        self.class_names = list(class_names)
        self.layer = layer if layer is not None else _last_conv(model)
        self._photos: dict = {}
        self._segments: dict = {}
        style = {"description_width": "110px"}
        self.photo = widgets.Dropdown(options=names, value="coffee" if "coffee" in names else names[0],
                                      description="photograph", style=style)
        self.target = widgets.Dropdown(description="class (top 5)", style=style,
                                       layout=widgets.Layout(width="360px"))
        self._load(self.photo.value)
        self.photo.observe(self._on_photo, names="value")
        self.target.observe(self._on_change, names="value")
        controls = widgets.VBox([self.photo, self.method, self.target, self.parameter_box,
                                 widgets.HBox([self.pin_button, self.unpin_button])])
        self.children = [controls, self._pictures_row(), self.status]
        self.refresh()

    def _make_parameters(self, style) -> dict:
        return {
            "noise_level": _slider(widgets.FloatSlider, "noise level", 0.15, 0.0, 0.5, 0.01, style),
            "samples": _slider(widgets.IntSlider, "samples", 8, 1, 64, 1, style),
            "steps": widgets.Dropdown(options=[4, 8, 16, 32], value=8, description="steps", style=style),
            "n_segments": _slider(widgets.IntSlider, "superpixels", 40, 5, 150, 5, style),
            "kernel_width": _slider(widgets.FloatSlider, "kernel width", 0.25, 0.05, 2.0, 0.05, style),
            "lime_samples": _slider(widgets.IntSlider, "samples", 100, 20, 2000, 20, style),
            "budget": _slider(widgets.IntSlider, "budget", 100, 10, 2000, 2, style),
            "design": _design_checkbox(),
            "seed": widgets.BoundedIntText(value=0, min=0, max=10**6, description="seed", style=style,
                                           layout=widgets.Layout(width="220px")),
        }

    def _all_widgets(self) -> list:
        return super()._all_widgets() + [self.photo, self.target]

    def _class_names(self, n: int) -> list:
        return self.class_names

    def _class_name(self, k) -> str:
        return self.class_names[k] if k is not None else "?"

    def _load(self, name: str):
        """Read and preprocess a photograph, and list the model's top 5 classes for it in the class menu."""
        from .data import load_photograph

        if name not in self._photos:
            x = self.preprocess(load_photograph(name))
            if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[:2] != (1, 3):
                raise ValueError(f"preprocess must return one photograph [1, 3, H, W]; got {getattr(x, 'shape', x)!r}")
            probabilities = _probabilities(self.model, x)
            if len(probabilities) != len(self.class_names):
                raise ValueError(f"class_names must name the model's {len(probabilities)} classes; "
                                 f"got {len(self.class_names)} names")
            top = np.argsort(-probabilities, kind="stable")[:5]
            self._photos[name] = (x, probabilities, [int(k) for k in top])
        _, probabilities, top = self._photos[name]
        self._muted += 1
        try:
            self.target.options = [(f"{self.class_names[k]} ({probabilities[k]:.3f})", k) for k in top]
            self.target.value = top[0]
        finally:
            self._muted -= 1

    def _on_photo(self, _change):
        self._load(self.photo.value)
        self._on_change()

    def segments_of(self, name: str, n_segments: int) -> torch.Tensor:
        """SLIC superpixels of a photograph (computed once per photograph and number)."""
        key = (name, int(n_segments))
        if key not in self._segments:
            self._segments[key] = features.superpixels(self._photos[name][0][0], n_segments=int(n_segments))
        return self._segments[key]

    def _request(self) -> dict:
        request = {name: control.value for name, control in self.parameters.items()}
        name = self.photo.value
        request.update(method=self.method.value, target=self.target.value, photo=name, title=name, scale=1)
        return request

    def _compute(self, request: dict) -> ExplorerResult:
        from .models import imagenet_image

        x, probabilities, _ = self._photos[request["photo"]]
        request["picture"] = imagenet_image(x)
        method, target = request["method"], int(request["target"])
        predicted = int(probabilities.argmax())
        note, segments = "", None
        with CostCounter(self.model) as cost:
            if method in GRADIENT_METHODS:
                if method == "Integrated Gradients":  # the rule of notebook 03 for photographs
                    raw, info = saliency.integrated_gradients(self.model, x, target, steps=request["steps"],
                                                              rule="gauss_legendre", return_info=True)
                    values = raw[0].double().sum(dim=0).cpu().numpy()
                    note = f"completeness gap {float(info.relative_gap[0]):.1%}"
                else:
                    raw, values, note = _explain_gradient(self.model, x, method, target, request, self.layer)
            else:
                segments = self.segments_of(request["photo"], request["n_segments"])
                game = features.CoalitionGame(self.model, x[0], segments, baseline="segment_mean", target=target,
                                              output="probability")
                raw = _explain_coalitions(game, method, request)
                values = raw.double()[segments].cpu().numpy()
                note = f"{game.n_players} superpixels"
        return ExplorerResult(
            method=method, target=target, predicted=predicted, probabilities=probabilities, map=values,
            weights=raw, segments=segments, counts=cost.counts(), cost=cost.summary(), seconds=cost.seconds,
            signed=method not in UNSIGNED_METHODS, limit=_limit(method, values), note=note,
        )

    def _boundaries(self, result: ExplorerResult):
        if result.segments is None:
            return None
        from skimage.segmentation import find_boundaries

        return find_boundaries(result.segments.cpu().numpy(), mode="inner")

    def _publish(self, request: dict, result: ExplorerResult, pictures: dict):
        super()._publish(request, result, pictures)
        if result.map is not None:
            top = np.argsort(-result.probabilities, kind="stable")[:5]
            rows = [(self.class_names[k], float(result.probabilities[k]), int(k)) for k in top]
            self.bars.value = _top_bars(rows, result.predicted, result.target)


def _top_bars(rows, predicted: int, target: int) -> str:
    names = [name for name, _, _ in rows]
    probabilities = [p for _, p, _ in rows]
    indices = [k for _, _, k in rows]
    html = _probability_bars(probabilities, names, indices.index(predicted) if predicted in indices else -1,
                             indices.index(target) if target in indices else -1)
    return html
