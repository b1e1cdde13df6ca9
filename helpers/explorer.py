"""Live explorers: change the input, the method, the class or a parameter and watch the explanation respond.

Two widgets, both ``ipywidgets`` layouts that a notebook (or the Voilà app, ``make app``) only displays:

- :class:`DigitExplorer` -- a ``SimpleCNN`` (or any digit classifier) on MNIST digits: a test digit
  (by index, or the next one the model gets wrong) or a digit drawn with the mouse on a
  :class:`helpers.drawing.DrawCanvas`; every method of the course (gradient, Gradient x Input,
  SmoothGrad, Integrated Gradients, Grad-CAM, occlusion, LIME, KernelSHAP, exact SHAP on the 4 x 4
  grid); the target class; the chosen method's own parameters.
- :class:`PhotoExplorer` -- the ImageNet model on the photographs bundled with scikit-image, with
  superpixels as the features of the coalition methods.

Each shows the input, the map with its colour bar, the overlay, the prediction probabilities as bars
and a status line with what the explanation cost (forward rows, backward passes and milliseconds,
from :class:`helpers.cost.CostCounter`).

What they build on, each in its own home: the methods come from the registry :mod:`helpers.methods`
(the menu shows a method's ``label``, the code uses its ``name``, ``signed`` picks the colour map and
``kind`` tells a gradient method from a coalition method); the pictures are drawn by
:mod:`helpers.plotting` (:func:`~helpers.plotting.colourize`, :func:`~helpers.plotting.png_bytes`);
the drawing canvas and the preprocessing of a drawing are :mod:`helpers.drawing`.

How they stay responsive:

- The explanation runs on a worker thread, so the kernel keeps receiving the learner's changes. A
  change that arrives while an explanation is computing *supersedes* it: the stale computation is
  stopped at the model's next forward call, and a result is shown only if no newer request was made
  since it started (no queue of stale computations; a stale result never overwrites a newer one).
- Errors (a blank canvas, a method that needs gradients on a model without them, a budget too small
  for the number of features, a drawing that does not decode, a model whose probabilities are NaN)
  appear in the status line in plain words, never as a traceback, and every display then shows the
  failed request (blank map, no bars), never a mix of old and new. No error stops the worker. The
  worker thread changes nothing process-wide (no warning filters).
- Each explorer explains its own copy of the model (``copy.deepcopy`` when it is made): the worker
  never runs the learner's model, so a :class:`~helpers.cost.CostCounter` or a hook in a cell counts
  only the cell's own calls, and the model's mode, BatchNorm statistics and gradients stay the
  learner's. Later changes to the model (more training) are not seen: make a new explorer.
- The worker thread exists only while there is something to compute (it exits when nothing is
  pending, and refers to its explorer weakly in between), so explorers that are dropped without
  :meth:`close`, as when a cell is run again, leave no threads behind.

Taught (used) in ``notebooks/07_explorer.ipynb``; every method it calls is explained in notebooks 02-05.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import time
import weakref
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import torch
import torch.nn as nn

from . import features
from .checks import check_int
from .cost import CostCounter
from .data import PHOTOGRAPHS, load_photograph
from .drawing import BLANK_CANVAS_MESSAGE, DrawCanvas, draw_strokes, mnist_from_drawing
from .methods import Method, method
from .models import imagenet_image, predict
from .plotting import colour_bar_picture, colourize, overlay_picture, png_bytes, rgb_picture
from .saliency import NoGradientError, target_gradients
from .scores import evaluation_mode

__all__ = [
    "DigitExplorer",
    "PhotoExplorer",
    "ExplorerResult",
    "DIGIT_METHODS",
    "PHOTO_METHODS",
    "NO_GRADIENT_MESSAGE",
]

#: The digit explorer's methods: names in :data:`helpers.methods.METHODS`, in the registry's order
#: (permutation SHAP left out: KernelSHAP estimates the same values).
DIGIT_METHODS = ("gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "grad_cam", "occlusion",
                 "lime", "kernel_shap", "exact_shap")
#: The photo explorer's methods (exact SHAP is out of reach with tens of superpixels).
PHOTO_METHODS = DIGIT_METHODS[:-1]

NO_GRADIENT_MESSAGE = (
    "{method} needs the model's gradient, and this model gives none (its output does not depend "
    "differentiably on the input). Choose occlusion, LIME or SHAP: they need only predictions."
)


# --------------------------------------------------------------------------- widget pictures


def _colour_bar(signed: bool, height: int) -> bytes:
    return png_bytes(colour_bar_picture(signed, height))


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
        The method's name in :data:`helpers.methods.METHODS` (``"gradient_x_input"``).
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
    label : str
        The method as the explorer's menu shows it (``"Gradient×Input"``), as :meth:`describe` prints it.
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
    label: str = ""


class _Superseded(Exception):
    """Raised inside a stale computation at the model's next forward call."""


class _ZeroGradient(Exception):
    """The gradient of the target score is exactly zero (a model that rounds or bins its input)."""


def _plain_words(chosen: Method, label: str, error: Exception) -> str:
    """An error of a computation as the status line says it (``label``: the method as the menu shows it)."""
    text = str(error)
    if text == BLANK_CANVAS_MESSAGE:
        return text
    if chosen.kind == "gradient" and isinstance(error, (NoGradientError, _ZeroGradient)):
        return NO_GRADIENT_MESSAGE.format(method=label)
    if "budget" in text and "at least" in text:
        return f"{label}: the budget is too small for this many features ({text.split(';')[0]}). Raise the budget or take larger patches."
    first = text.split("\n")[0]
    return f"{label} could not explain this input: {first}"


class _Explorer(widgets.VBox):
    """The plumbing shared by both explorers: the worker thread, supersession and the display."""

    #: the methods of the menu (names in helpers.methods.METHODS)
    _METHODS: tuple = ()
    #: which parameter widgets each method shows (by method name)
    _PARAMETERS: dict = {}
    #: the menu's labels that differ from the registry's
    _LABELS: dict = {}
    #: parameter widgets that set the coalition game (its players and their baseline), not the method's function
    _GAME_SETTINGS = frozenset({"patch_size", "n_segments", "baseline"})
    #: parameter widgets named otherwise than the keyword of the method's function they set
    _KEYWORDS = {"samples": "n_samples", "lime_samples": "n_samples", "baseline_pixels": "baseline"}
    _PICTURE = 168  # displayed side of the pictures, in pixels

    def __init__(self, model: nn.Module, *, layer: nn.Module | None = None, background: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        own_model, own_layer = _own_copy(model, layer)  # before any widget exists: a refusal leaves nothing open
        super().__init__()
        with self._closed_on_failure():
            self.model, self.layer = own_model, own_layer
            self.background = bool(background)
            self._start_engine()
            self._make_display()
            self.method.observe(self._on_method, names="value")
            for name, control in self.parameters.items():
                control.observe(functools.partial(self._on_parameter, name), names="value")
            self.pin_button.on_click(self._pin)
            self.unpin_button.on_click(self._unpin)
            self._show_parameters()

    @contextlib.contextmanager
    def _closed_on_failure(self):
        """Construction that fails closes the widgets made so far (they would stay open, and half made)."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def _start_engine(self):
        """The worker's state: requests numbered by generation, the one pending, what is shown."""
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._generation = 0
        self._pending = None
        self._running = False
        self._closed = False
        self._worker: threading.Thread | None = None  # None while nothing is pending (see _work)
        self._worker_ident: int | None = None
        self._muted = 0
        self.result: ExplorerResult | None = None
        self.pinned: ExplorerResult | None = None
        self.history: list[tuple[int, ExplorerResult]] = []  # (generation, result) in the order shown
        self.last_latency: float | None = None
        self._requested_at = 0.0

    def _make_display(self):
        """The widgets both explorers show: the method menu and parameters, pin buttons, pictures, titles, status."""
        style = {"description_width": "110px"}
        self.method = self._method_menu(style)
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
        self.add_class("course-explorer")
        self.add_class(f"course-{type(self).__name__.lower()}")  # course-digitexplorer, course-photoexplorer

    # -- the methods

    def _label(self, name: str) -> str:
        """How the menu shows the method ``name``: the registry's label unless this explorer names it otherwise."""
        return self._LABELS.get(name, method(name).label)

    def _method_menu(self, style) -> widgets.Dropdown:
        """The method menu: it shows labels and holds names (a label set from code selects its method too)."""
        labels = {name: self._label(name) for name in self._METHODS}
        menu = widgets.Dropdown(options=[(labels[name], name) for name in self._METHODS], value=self._METHODS[0],
                                description="method", style=style,
                                equals=lambda name, given: given == name or given == labels[name])
        menu.add_class("course-method")
        return menu

    def _options(self, name: str) -> dict:
        """The keyword arguments of the method's function: the explorer's fixed ones and the shown parameters."""
        options = self._fixed_options(name)
        for key in self._PARAMETERS.get(name, ()):
            if key not in self._GAME_SETTINGS:
                options[self._KEYWORDS.get(key, key)] = self._value(key)
        return options

    def _fixed_options(self, name: str) -> dict:
        """What the learner does not set: Grad-CAM's layer; Integrated Gradients' info, for the status line."""
        return {"grad_cam": {"layer": self.layer}, "integrated_gradients": {"return_info": True}}.get(name, {})

    def _value(self, key: str):
        """A parameter widget's value, as the method's function takes it."""
        return self.parameters[key].value

    def _explain(self, chosen: Method, x: torch.Tensor, target, options: dict, segments=None, make_game=None):
        """The chosen method on ``x``, its cost counted: (raw output, 2-D map, note, :class:`CostCounter`).

        A gradient method first asks whether the model gives a gradient here (:func:`_check_gradient`,
        not counted); a coalition method plays the game on ``segments`` that ``make_game()`` builds.
        """
        if chosen.kind == "gradient":
            _check_gradient(self.model, x, target, chosen, options)
        with CostCounter(self.model) as cost:
            if chosen.kind == "gradient":
                raw, values, note = _gradient_map(self.model, x, chosen, target, options)
            else:
                game = make_game()
                raw = chosen.function(game, **options)
                values, note = raw.double()[segments].cpu().numpy(), ""
        if not np.isfinite(values).all():
            raise ValueError("the map has NaN or infinite values, so it cannot be drawn")
        return raw, values, note, cost

    def _result(self, chosen: Method, raw, values, cost: CostCounter, **shown) -> ExplorerResult:
        """What a computation shows: ``shown`` holds target, predicted, probabilities, segments and note."""
        return ExplorerResult(method=chosen.name, label=self._label(chosen.name), map=values, weights=raw,
                              counts=cost.counts(), cost=cost.summary(), seconds=cost.seconds, signed=chosen.signed,
                              limit=_limit(chosen, values), **shown)

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
            if self.background:
                self._pending = (generation, request, self._requested_at)
                self._start_worker()
                return
            self._running = True
        try:
            self._run(generation, request, self._requested_at)
        finally:
            with self._lock:
                self._running = False

    def _start_worker(self):
        """Start a worker thread unless one is running (called with the lock held, as the worker exits)."""
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=_work, args=(weakref.ref(self),), daemon=True,
                                            name=f"{type(self).__name__}-worker")
            self._worker.start()

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
                if self._pending is not None and not self._closed:
                    self._start_worker()  # a request never waits for a thread that died
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
                view = self._view(request, result)
            except _Superseded:
                return
            except Exception as error:  # any error: in plain words in the status line, never a traceback
                if self._stale(generation):
                    return
                result = self._failed(request, error)
                view = self._view(request, result)
        finally:
            if handle is not None:
                handle.remove()
        with self._lock:  # a newer request made meanwhile wins: this result is dropped
            if self._stale(generation):
                return
            self._publish(view)
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

    def _boundaries(self, result: ExplorerResult):
        return None

    # -- rendering (on the worker thread) and publishing

    def _failed(self, request: dict, error: Exception) -> ExplorerResult:
        """The result of a computation that raised: no map, the error in plain words as its message."""
        name = request["method"]
        return ExplorerResult(method=name, label=self._label(name),
                              message=_plain_words(method(name), self._label(name), error))

    def _view(self, request: dict, result: ExplorerResult) -> dict:
        """What every display shows for a result: {widget attribute: new value}, rendered on the worker thread.

        A failed result blanks the map, the overlay and the bars and puts its message in the status line,
        so that no display goes on showing an earlier request. Publishing only sets these values.
        """
        side, scale = self._PICTURE, request.get("scale", 1)
        picture = request.get("picture")
        drawable = picture is not None and bool(np.isfinite(picture).all())
        view = {"input_image": png_bytes(rgb_picture(picture), scale=scale) if drawable else _blank(side, side),
                "input_title": f"<b>{_escape(request.get('title', 'input'))}</b>"}
        if result.map is None:
            view.update(map_image=_blank(side, side), overlay_image=_blank(side, side), map_title="<b>map</b>",
                        bar_labels="", bars="",
                        status=f"<span style='color:#b00020'>&#9888; {_escape(result.message)}</span>")
            return view
        signed, limit = self.scale(result)
        pinned = self.pinned if self.pinned is not None and self.pinned.map is not None else None
        view["map_image"] = png_bytes(colourize(result.map, signed=signed, limit=limit), scale=scale)
        view["overlay_image"] = png_bytes(
            overlay_picture(picture, result.map, signed=signed, limit=limit, boundaries=self._boundaries(result)),
            scale=scale)
        view["colour_bar"] = _colour_bar(signed, side)
        view["bar_labels"] = (
            f"<div style='display:flex;flex-direction:column;justify-content:space-between;height:{side}px;"
            f"font-size:11px'><span>{_format_limit(limit)}</span><span>{'0' if signed else ''}</span>"
            f"<span>{'-' + _format_limit(limit) if signed else '0'}</span></div>"
        )
        shared = " (shared scale)" if pinned is not None else ""
        view["map_title"] = f"<b>{_escape(result.label)}</b> toward {_escape(self._class_name(result.target))}{shared}"
        if pinned is not None:
            view["pinned_image"] = png_bytes(colourize(pinned.map, signed=signed, limit=limit), scale=scale)
            view["pinned_title"] = (f"<b>pinned: {_escape(pinned.label)}</b> toward "
                                    f"{_escape(self._class_name(pinned.target))}")
        view["bars"] = self._bars(result)
        note = f"; {result.note}" if result.note else ""
        view["status"] = (f"{_escape(result.label)} toward {_escape(self._class_name(result.target))}: "
                          f"{_escape(result.cost)}; {1000 * result.seconds:.0f} ms{_escape(note)}")
        return view

    def _publish(self, view: dict):
        for name, value in view.items():
            getattr(self, name).value = value

    def _bars(self, result: ExplorerResult) -> str:
        """The prediction bars: one per class."""
        names = [str(k) for k in range(len(result.probabilities))]
        return _probability_bars(result.probabilities, names, result.predicted, result.target)

    def _class_name(self, k) -> str:
        return str(k)

    # -- reading from code

    def describe(self) -> str:
        """What is shown now, in one line that repeats from run to run (no milliseconds)."""
        result = self.result
        if result is None:
            return "nothing computed yet"
        if result.map is None:
            return f"method: {result.label}; message: {result.message}"
        p = float(result.probabilities[result.predicted])
        return (f"method: {result.label}; prediction: {self._class_name(result.predicted)} (p = {p:.3f}); "
                f"explained: {self._class_name(result.target)}; cost: {result.cost}")

    def close(self):
        """Stop the worker thread and close the widgets (also those of a construction that failed half-way)."""
        if hasattr(self, "_lock"):
            with self._lock:
                self._closed = True
                self._pending = None
                self._generation += 1
                self._wake.notify_all()
        for child in self._own_widgets():
            child.close()
        super().close()

    def _own_widgets(self) -> list:
        """The widgets this explorer made, as far as they exist: its attributes, parameters, their children,
        layouts and styles."""
        found, todo = {}, [*vars(self).values(), *getattr(self, "parameters", {}).values(), *self.children, self.layout]
        while todo:
            item = todo.pop()
            if isinstance(item, widgets.Widget) and item is not self and id(item) not in found:
                found[id(item)] = item
                todo.extend([*getattr(item, "children", ()), getattr(item, "layout", None), getattr(item, "style", None)])
        return list(found.values())


def _work(explorer_ref: weakref.ref) -> None:
    """A worker thread: compute the pending request (always the newest), until none is pending; then exit.

    It holds its explorer only through ``explorer_ref`` between requests, and it exits when nothing is
    pending or the explorer is closed or collected: the next :meth:`_Explorer.refresh` starts a new one.
    A computation's errors become results (:meth:`_Explorer._run`), so none ends the thread.
    """
    while True:
        explorer = explorer_ref()
        if explorer is None:
            return
        with explorer._lock:
            if explorer._pending is None or explorer._closed:
                if explorer._worker is threading.current_thread():
                    explorer._worker = None
                explorer._wake.notify_all()
                return
            generation, request, requested_at = explorer._pending
            explorer._pending = None
            explorer._running = True
            explorer._worker_ident = threading.get_ident()
        try:
            explorer._run(generation, request, requested_at)
        finally:
            with explorer._lock:
                explorer._running = False
                explorer._wake.notify_all()
        del explorer


def _slider(kind, description, value, low, high, step, style, **extra):
    return kind(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                style=style, **extra)


def _design_checkbox():
    # kernel_shap's optimised designs search once per (features, budget): seconds to a minute on a
    # busy 2-core CPU, then cached; leverage sampling (design=False) costs the same at every budget.
    return widgets.Checkbox(value=False, description="optimised design (first use of a budget is slow)",
                            indent=False, layout=widgets.Layout(width="360px"))


def _check_digits(X, y, index) -> int:
    """The digit explorer's data: float digits ``[N, 1, 28, 28]``, one label each; returns the first index, an int."""
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be tensors; got {type(X).__name__} and {type(y).__name__}")
    if X.ndim != 4 or tuple(X.shape[1:]) != (1, 28, 28) or not torch.is_floating_point(X):
        raise ValueError(f"X must be float digits [N, 1, 28, 28]; got shape {tuple(X.shape)}, dtype {X.dtype}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per digit, shape ({X.shape[0]},); got {tuple(y.shape)}")
    return check_int("index", index, 0, len(X) - 1)  # NumPy integers too


def _last_conv(model: nn.Module):
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    return convs[-1] if convs else None


def _own_copy(model: nn.Module, layer: nn.Module | None):
    """An explorer's own copy of the model, and Grad-CAM's layer in it (default: the copy's last ``Conv2d``).

    Raises
    ------
    TypeError
        For a model that ``copy.deepcopy`` cannot copy.
    ValueError
        For a layer that is not a module of the model.
    """
    memo: dict = {}
    try:
        own = copy.deepcopy(model, memo)
    except Exception as error:
        raise TypeError(f"an explorer explains its own copy of the model (copy.deepcopy), and this "
                        f"{type(model).__name__} cannot be copied: {error}") from None
    if layer is None:
        return own, _last_conv(own)
    if not isinstance(layer, nn.Module) or id(layer) not in memo:
        raise ValueError(f"layer must be a module of the model (Grad-CAM's layer); got {type(layer).__name__}")
    return own, memo[id(layer)]


def _probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The class probabilities of a batch of one, on a copy of it (the input shown must not drift)."""
    with evaluation_mode(model), torch.no_grad():
        probabilities = model(x.clone()).softmax(dim=1)[0].double().cpu().numpy()
    if not np.isfinite(probabilities).all():
        raise ValueError("the model's class probabilities for this input are not finite (its scores are NaN or "
                         "infinite), so there is nothing to explain")
    return probabilities


def _check_gradient(model: nn.Module, x: torch.Tensor, target, chosen: Method, options: dict) -> None:
    """Raise unless the model gives a gradient to explain ``x`` with: one backward pass, not counted as the cost.

    No differentiable path raises :class:`helpers.saliency.NoGradientError`; a gradient that is
    exactly zero (a model that rounds or bins its input) raises :class:`_ZeroGradient`; the status line
    says both in the same plain words. Grad-CAM is asked at its layer, where it differentiates; the
    other methods at the input. Asking first, rather than reading the helper's
    :class:`~helpers.saliency.ZeroGradientWarning`, keeps the helpers from warning on the worker thread
    (the filter that would silence them there is process-wide); and a map that is rightly zero
    (Grad-CAM's rectified map toward a class with only negative evidence) is not taken for a missing
    gradient.
    """
    if "layer" in chosen.parameters and options.get("layer") is None:
        raise ValueError(f"{chosen.label} needs a convolutional layer, and this model has none")
    gradients = target_gradients(model, x, target, layer=options.get("layer")).gradients
    if not bool(gradients.ne(0).any()):
        raise _ZeroGradient(f"{chosen.name}: the gradient of the target score is exactly zero")


def _gradient_map(model: nn.Module, x: torch.Tensor, chosen: Method, target, options: dict):
    """A gradient method on a batch of one, ``chosen.function(model, x, target, **options)``: (raw, 2-D map, note).

    One map per picture: a signed map sums its channels, a magnitude takes the largest.
    """
    raw, note = chosen.function(model, x, target, **options), ""
    if options.get("return_info"):  # Integrated Gradients: (attributions, info); the gap goes to the status line
        raw, info = raw
        note = f"{int(info.steps[0])} points on the path, completeness gap {float(info.relative_gap[0]):.1%}"
    values = raw[0].detach().double()
    picture_map = values.sum(dim=0) if chosen.signed else values.abs().amax(dim=0)
    return raw, picture_map.cpu().numpy(), note


def _limit(chosen: Method, values: np.ndarray) -> float:
    """The colour scale of a map alone: the 99th percentile of |map| for per-pixel maps (a few extreme
    pixels do not wash out the rest, as ``clip_percentile=99`` in the notebooks), the largest |value|
    for maps made of segments."""
    magnitude = np.abs(values)
    limit = float(np.percentile(magnitude, 99)) if chosen.kind == "gradient" else float(magnitude.max())
    if limit <= 0:
        limit = float(magnitude.max())
    return limit if limit > 0 else 1.0


# --------------------------------------------------------------------------- the digit explorer


class DigitExplorer(_Explorer):
    """Explore the explanations of a digit classifier, live.

    An ``ipywidgets.VBox``: display it (the last expression of a cell) and use its controls.

    Controls:

    - **input**: a test digit (``index``; the "next misclassified" button jumps to the next digit the
      model gets wrong) or a digit drawn on :attr:`canvas` (:class:`helpers.drawing.DrawCanvas`),
      preprocessed with :func:`helpers.drawing.mnist_from_drawing`;
    - **method**: one of :data:`DIGIT_METHODS` (the menu shows their labels, its value is the name;
      setting a label from code selects its method too); only its own parameters are shown: noise level,
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
        Maps ``[B, 1, 28, 28]`` to class scores ``[B, classes]``. The explorer explains its own copy
        (``copy.deepcopy``, made now), so it explains the model *as it was when the explorer was made*:
        train the model further and make a new explorer to see the change. The model itself is never
        run by the explorer (its mode, parameters, gradients, hooks and BatchNorm statistics are left
        as they are, and a hook or :class:`~helpers.cost.CostCounter` put on it afterwards counts only
        the caller's calls; hooks it had already are copied with it, as part of what it computes).
    X : torch.Tensor, float, [N, 1, 28, 28]
        Digits in [0, 1] (e.g. ``load_mnist("test")[0]``). Left unchanged.
    y : torch.Tensor, int, [N]
        Their labels.
    layer : torch.nn.Module, optional
        Grad-CAM's layer, a module of ``model`` (its copy in the explorer's model is used); default the
        model's last ``Conv2d``.
    index : int, default 0
        The first digit shown.
    background : bool, default True
        Compute on a worker thread (changes supersede running computations). False computes in the
        caller's thread, at once (for scripts and tests).

    Attributes
    ----------
    source, index, next_button, method, target, parameters (dict of the parameter widgets), canvas,
    status : the widgets
    model, layer : torch.nn.Module
        The explorer's own copy of the model, and Grad-CAM's layer in it.
    result : ExplorerResult
        What is shown now (after a failure: ``map`` None and the error in ``message``).

    Raises
    ------
    TypeError
        For a model that is not a module or cannot be copied, or X / y not tensors.
    ValueError
        For X not ``[N, 1, 28, 28]``, y not ``[N]``, an index out of range, a layer that is not a module
        of the model, or a model that does not return ``[B, classes]``.

    Examples
    --------
    >>> explorer = DigitExplorer(model, X_test, y_test)  # doctest: +SKIP
    >>> explorer  # doctest: +SKIP
    >>> explorer.method.value = "LIME"; explorer.wait(); print(explorer.describe())  # doctest: +SKIP
    """

    _METHODS = DIGIT_METHODS
    _PARAMETERS = {
        "smoothgrad": ("noise_level", "samples", "seed"),
        "integrated_gradients": ("steps", "baseline_pixels"),
        "occlusion": ("patch_size", "baseline"),
        "lime": ("patch_size", "kernel_width", "lime_samples", "seed", "baseline"),
        "kernel_shap": ("patch_size", "budget", "design", "seed", "baseline"),
        "exact_shap": ("baseline",),
    }
    # exact SHAP plays on the 4 x 4 grid of 7 x 7 patches (16 players); exact all the same when blank
    # patches (equal to the baseline) are skipped: about 1,024 of 65,536 coalitions for a test digit
    _LABELS = {"exact_shap": "exact SHAP (4×4)"}
    _SCALE = 6  # 28 x 6 = 168 pixels on screen

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, layer: nn.Module | None = None,
                 index: int = 0, background: bool = True):
        index = _check_digits(X, y, index)
        super().__init__(model, layer=layer, background=background)
        with self._closed_on_failure():
            self.X, self.y = X, y
            scores = predict(self.model, X)  # in chunks of the one policy (helpers.scores.chunk_rows), eval mode
            if scores.ndim != 2 or scores.shape[0] != len(X):
                raise ValueError(f"the model must return class scores [B, classes]; got shape {tuple(scores.shape)}")
            self.n_classes = int(scores.shape[1])
            self.predictions = scores.argmax(dim=1)
            self.mean_digit = X.mean(dim=0)  # [1, 28, 28]
            self._make_input_controls(index)
            controls = widgets.VBox([self.source, self.digit_box, self.method, self.target, self.parameter_box,
                                     widgets.HBox([self.pin_button, self.unpin_button])])
            self.children = [widgets.HBox([controls, self.canvas_box]), self._pictures_row(), self.status]
            self.refresh()

    def _make_input_controls(self, index: int):
        """The input's widgets (test digit or drawing, the canvas) and the target class, observed."""
        style = {"description_width": "110px"}
        self.source = widgets.ToggleButtons(options=["test digit", "draw"], value="test digit", description="input",
                                            style=style)
        self.index = widgets.BoundedIntText(value=index, min=0, max=len(self.X) - 1, description="test digit #",
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
        strokes : sequence of sequences of (x, y) canvas points; see :func:`helpers.drawing.draw_strokes`.
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

    def _value(self, key: str):
        value = self.parameters[key].value
        if key == "steps":  # "adaptive": Integrated Gradients refines its path until the gap is within tolerance
            return None if value == "adaptive" else int(value)
        if key == "baseline_pixels":
            return self._baseline_value(value, pixels=True)
        return value

    def _request(self) -> dict:
        request = {name: control.value for name, control in self.parameters.items()}
        target = None if self.target.value == "predicted" else int(self.target.value)
        request.update(method=self.method.value, options=self._options(self.method.value), target=target,
                       source=self.source.value, scale=self._SCALE)
        if self.source.value == "draw":
            try:
                drawing = self.canvas.image()
            except ValueError as error:  # a PNG that does not decode, or too large: the computation says so
                drawing = error
            request.update(drawing=drawing, title="your drawing, as the model sees it")
        else:
            i = self.index.value
            request.update(index=i, title=f"test digit {i} (label {int(self.y[i])})")
        request["coalition_baseline"] = self._baseline_value(request["baseline"], pixels=False)
        return request

    def input_of(self, request: dict) -> torch.Tensor:
        """The digit ``[1, 1, 28, 28]`` that a request explains.

        Raises ValueError for a blank drawing, or a canvas picture that :meth:`DrawCanvas.image` refused.
        """
        if request["source"] == "draw":
            if isinstance(request["drawing"], ValueError):
                raise request["drawing"]
            return mnist_from_drawing(request["drawing"])[None]
        return self.X[request["index"]:request["index"] + 1]

    def _compute(self, request: dict) -> ExplorerResult:
        try:
            x = self.input_of(request)
        except ValueError:
            request["picture"] = None
            raise
        request["picture"] = x[0, 0].detach().cpu().numpy()
        chosen, target = method(request["method"]), request["target"]
        probabilities = _probabilities(self.model, x)
        predicted = int(probabilities.argmax())
        explained = predicted if target is None else int(target)
        segments = None
        if chosen.kind == "coalition":
            segments = features.grid_segments((28, 28), 7 if chosen.name == "exact_shap" else request["patch_size"])

        def make_game():
            return features.CoalitionGame(self.model, x[0], segments, baseline=request["coalition_baseline"],
                                          target=explained)

        raw, values, note, cost = self._explain(chosen, x, target, request["options"], segments, make_game)
        return self._result(chosen, raw, values, cost, target=explained, predicted=predicted,
                            probabilities=probabilities, segments=segments, note=note)

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
        As in :class:`DigitExplorer`, the explorer explains its own copy, made now.
    preprocess : callable
        uint8 photograph H x W x 3 -> ``[1, 3, H, W]`` in [-1, 1] (:func:`helpers.models.preprocess_imagenet`).
    class_names : sequence of str
        One name per class.
    photographs : sequence of str, optional
        Names for :func:`helpers.data.load_photograph`; default all bundled ones.
    layer : torch.nn.Module, optional
        Grad-CAM's layer, a module of ``model``; default the model's last ``Conv2d``.
    background : bool, default True
        As in :class:`DigitExplorer`.

    Raises
    ------
    TypeError, ValueError
        For a model that is not a module or cannot be copied, a layer that is not in it, a preprocess
        that is not callable or fails on the first photograph, an unknown photograph, or class names
        that do not match the model's classes. A preprocess that fails on a photograph chosen later
        is an error in the status line.

    Examples
    --------
    >>> model, preprocess, class_names = load_imagenet_model()  # doctest: +SKIP
    >>> PhotoExplorer(model, preprocess, class_names)  # doctest: +SKIP
    """

    _METHODS = PHOTO_METHODS
    _PARAMETERS = {
        "smoothgrad": ("noise_level", "samples", "seed"),
        "integrated_gradients": ("steps",),
        "occlusion": ("n_segments",),
        "lime": ("n_segments", "kernel_width", "lime_samples", "seed"),
        "kernel_shap": ("n_segments", "budget", "design", "seed"),
    }
    _PICTURE = 224

    def __init__(self, model: nn.Module, preprocess, class_names, *, photographs=None, layer: nn.Module | None = None,
                 background: bool = True):
        if not callable(preprocess):
            raise TypeError(f"preprocess must be callable; got {type(preprocess).__name__}")
        names = list(PHOTOGRAPHS) if photographs is None else list(photographs)
        unknown = [name for name in names if name not in PHOTOGRAPHS]
        if not names or unknown:
            raise ValueError(f"photographs must be names among {sorted(PHOTOGRAPHS)}; got {names!r}")
        super().__init__(model, layer=layer, background=background)
        with self._closed_on_failure():
            self.preprocess = preprocess
            self.class_names = list(class_names)
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

    def _class_name(self, k) -> str:
        return self.class_names[k] if k is not None else "?"

    def _photo(self, name: str) -> tuple:
        """A photograph read and preprocessed ``[1, 3, H, W]``, the model's probabilities and top 5 classes for it
        (computed once per photograph)."""
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
        return self._photos[name]

    def _load(self, name: str):
        """Read and preprocess a photograph, and list the model's top 5 classes for it in the class menu."""
        _, probabilities, top = self._photo(name)
        self._muted += 1
        try:
            self.target.options = [(f"{self.class_names[k]} ({probabilities[k]:.3f})", k) for k in top]
            self.target.value = top[0]
        finally:
            self._muted -= 1

    def _on_photo(self, _change):
        try:
            self._load(self.photo.value)
        except Exception:  # preprocess failed: the computation meets the same error and shows it in the status line
            self._muted += 1
            try:
                self.target.options = []
            finally:
                self._muted -= 1
        self._on_change()

    def segments_of(self, name: str, n_segments: int) -> torch.Tensor:
        """SLIC superpixels of a photograph (computed once per photograph and number)."""
        key = (name, int(n_segments))
        if key not in self._segments:
            self._segments[key] = features.superpixels(self._photo(name)[0][0], n_segments=int(n_segments))
        return self._segments[key]

    def _fixed_options(self, name: str) -> dict:
        options = super()._fixed_options(name)
        if name == "integrated_gradients":  # the rule of notebook 03 for photographs
            options = {**options, "rule": "gauss_legendre"}
        return options

    def _request(self) -> dict:
        request = {name: control.value for name, control in self.parameters.items()}
        name = self.photo.value
        request.update(method=self.method.value, options=self._options(self.method.value), target=self.target.value,
                       photo=name, title=name, scale=1)
        return request

    def _compute(self, request: dict) -> ExplorerResult:
        x, probabilities, top = self._photo(request["photo"])
        request["picture"] = imagenet_image(x)
        chosen = method(request["method"])
        target = top[0] if request["target"] is None else int(request["target"])
        segments = None
        if chosen.kind == "coalition":
            segments = self.segments_of(request["photo"], request["n_segments"])

        def make_game():
            return features.CoalitionGame(self.model, x[0], segments, baseline="segment_mean", target=target,
                                          output="probability")

        raw, values, note, cost = self._explain(chosen, x, target, request["options"], segments, make_game)
        if segments is not None:
            note = f"{len(raw)} superpixels"
        return self._result(chosen, raw, values, cost, target=target, predicted=int(probabilities.argmax()),
                            probabilities=probabilities, segments=segments, note=note)

    def _boundaries(self, result: ExplorerResult):
        if result.segments is None:
            return None
        from skimage.segmentation import find_boundaries

        return find_boundaries(result.segments.cpu().numpy(), mode="inner")

    def _bars(self, result: ExplorerResult) -> str:
        """The prediction bars: the top 5 classes."""
        top = np.argsort(-result.probabilities, kind="stable")[:5]
        rows = [(self.class_names[k], float(result.probabilities[k]), int(k)) for k in top]
        return _top_bars(rows, result.predicted, result.target)


def _top_bars(rows, predicted: int, target: int) -> str:
    names = [name for name, _, _ in rows]
    probabilities = [p for _, p, _ in rows]
    indices = [k for _, _, k in rows]
    html = _probability_bars(probabilities, names, indices.index(predicted) if predicted in indices else -1,
                             indices.index(target) if target in indices else -1)
    return html
