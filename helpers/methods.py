r"""Every explanation method of the course in one registry: one spelling, one label, one answer to "signed?".

A method is either a **gradient** method, ``function(model, x, target, **parameters)`` giving a
map shaped like ``x`` (:mod:`helpers.saliency`), or a **coalition** method,
``function(game, **parameters)`` giving one value per player of a coalition game
(:mod:`helpers.features`, :mod:`helpers.lime`, :mod:`helpers.shapley`).

- :data:`METHODS` -- name -> :class:`Method`, in the order of the course; :func:`method` looks
  one up (with an error that lists the names).
- :func:`explain` -- explain a batch with a method by name: a gradient method's maps, or a
  coalition method's values with one :class:`~helpers.features.CoalitionGame` per row.
- :func:`coalition_explainer`, :func:`segment_explainer` -- any method as
  ``explain(model, x, targets) -> [B, M]``, one score per segment, so that LIME, SHAP and the
  gradient methods go through the same stability and randomisation checks
  (:mod:`helpers.metrics`).

The explorer (notebook 07), the words of notebook 08 and the comparison of notebook 06 name
methods through this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .checks import check_batch, check_explanation, check_target
from .features import CoalitionGame, check_segments, occlusion, segment_sums
from .lime import lime
from .saliency import grad_cam, gradient, gradient_x_input, integrated_gradients, smoothgrad
from .scores import chunk_rows, resolve_targets
from .shapley import exact_shapley_skipping_dummies, kernel_shap, permutation_shapley

__all__ = ["Method", "METHODS", "KINDS", "method", "explain", "coalition_explainer", "segment_explainer"]

#: The two kinds of method: what they need from the model.
KINDS = ("gradient", "coalition")


@dataclass(frozen=True)
class Method:
    """One explanation method of the course.

    Attributes
    ----------
    name : str
        Its one spelling in code (``"gradient_x_input"``).
    label : str
        How it is written for people (``"Gradient×Input"``).
    kind : {"gradient", "coalition"}
        A gradient method needs the model's gradient; a coalition method only its predictions.
    signed : bool
        Whether its values have a sign (red raises the score, blue lowers it) or are magnitudes.
    function : callable
        ``function(model, x, target, **parameters)`` (gradient) or ``function(game, **parameters)``
        (coalition).
    parameters : dict
        The parameters a user may set, with the course's defaults.
    """

    name: str
    label: str
    kind: str
    signed: bool
    function: Callable
    parameters: dict = field(default_factory=dict)

    @property
    def seeded(self) -> bool:
        """Whether the method draws random numbers (and takes a ``seed``)."""
        return "seed" in self.parameters


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("gradient", "gradient", "gradient", False, gradient),
    Method("gradient_x_input", "Gradient×Input", "gradient", True, gradient_x_input),
    Method("smoothgrad", "SmoothGrad", "gradient", False, smoothgrad,
           {"noise_level": 0.15, "n_samples": 50, "seed": 0}),
    Method("integrated_gradients", "Integrated Gradients", "gradient", True, integrated_gradients,
           {"steps": None, "baseline": None}),
    Method("grad_cam", "Grad-CAM", "gradient", False, grad_cam, {"layer": None}),
    Method("occlusion", "occlusion", "coalition", True, occlusion),
    Method("lime", "LIME", "coalition", True, lime, {"n_samples": 1000, "kernel_width": 0.25, "seed": 0}),
    Method("kernel_shap", "KernelSHAP", "coalition", True, kernel_shap, {"budget": 256, "seed": 0}),
    Method("exact_shap", "exact SHAP", "coalition", True, exact_shapley_skipping_dummies),
    Method("permutation_shap", "permutation SHAP", "coalition", True, permutation_shapley,
           {"n_permutations": 16, "seed": 0}),
]}


def method(name: str) -> Method:
    """The :class:`Method` called ``name`` (one of :data:`METHODS`).

    Examples
    --------
    >>> method("gradient_x_input").label, method("gradient_x_input").signed
    ('Gradient×Input', True)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a method name (str); got {name!r} of type {type(name).__name__}")
    if name not in METHODS:
        raise ValueError(f"name must be one of {', '.join(METHODS)}; got {name!r}")
    return METHODS[name]


def _parameters(chosen: Method, given: dict) -> dict:
    """The method's defaults updated with ``given``; an unknown parameter is an error that names it."""
    unknown = sorted(set(given) - set(chosen.parameters))
    if unknown:
        allowed = ", ".join(chosen.parameters) or "none"
        raise ValueError(f"{chosen.name} takes the parameters {allowed}; got {', '.join(unknown)}")
    return {**chosen.parameters, **given}


def explain(name: str, model, x: torch.Tensor, target=None, *, segments=None, baseline=0.0, output: str = "score",
            **parameters) -> torch.Tensor:
    """Explain the batch ``x`` with the method ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`METHODS`.
    model : torch.nn.Module
    x : torch.Tensor, [B, ...]
    target : None, int or int tensor [B]
        None: the class predicted for each row.
    segments : int tensor, the trailing shape of a row of ``x``
        The players of a coalition method (ignored by gradient methods).
    baseline, output
        The coalition game's (:class:`~helpers.features.CoalitionGame`).
    **parameters
        The method's own (see its ``parameters``); the rest keep the course's defaults.

    Returns
    -------
    torch.Tensor
        A gradient method's maps, shaped like ``x``; a coalition method's values, float64 ``[B, M]``.

    Examples
    --------
    >>> explain("lime", model, X_test[:2], segments=grid_segments((28, 28), 7), n_samples=300).shape  # doctest: +SKIP
    torch.Size([2, 16])
    """
    chosen = method(name)
    options = _parameters(chosen, parameters)
    if chosen.kind == "gradient":
        if chosen.name == "grad_cam" and options["layer"] is None:
            raise ValueError("grad_cam needs layer=, the convolutional layer whose feature maps it weighs")
        return chosen.function(model, x, target, **options)
    if segments is None:
        raise ValueError(f"{chosen.name} is a coalition method: it needs segments=, the players (e.g. grid_segments)")
    # the explainer checks x and resolves the targets (None: each row's predicted class) once
    return coalition_explainer(chosen.function, segments, baseline=baseline, output=output, **options)(model, x, target)


def coalition_explainer(method: Callable, segments, *, baseline=0.0, output: str = "score", **options) -> Callable:
    """A coalition method as ``explain(model, x, targets) -> [B, M]``: one game per row.

    Row ``i`` of ``x`` gets its own :class:`~helpers.features.CoalitionGame` with
    ``target=targets[i]``, and ``method(game, **options)`` explains it. With this calling
    convention LIME and SHAP go through :func:`helpers.metrics.noise_stability` and
    :func:`helpers.metrics.cascading_randomisation` like the gradient methods.

    Parameters
    ----------
    method : callable
        ``method(game, **options) -> tensor [M]``, e.g. :func:`helpers.lime.lime`.
    segments : int tensor [H, W]
    baseline, output
        As in :class:`~helpers.features.CoalitionGame`.
    **options
        Passed to ``method`` (e.g. ``n_samples=500, seed=0``).

    Returns
    -------
    callable

    Examples
    --------
    >>> explain = coalition_explainer(lime, grid_segments((28, 28), 7), n_samples=300)  # doctest: +SKIP
    >>> explain(model, X_test[:4], torch.tensor([7, 2, 1, 0])).shape  # doctest: +SKIP
    torch.Size([4, 16])
    """
    if not callable(method):
        raise TypeError(f"method must be a coalition method method(game, **options) -> [M]; got {method!r}")
    if not isinstance(segments, torch.Tensor):
        raise TypeError(f"segments must be an integer torch.Tensor; got {type(segments).__name__}")
    check_segments(segments, tuple(segments.shape))

    def explain(model, x: torch.Tensor, targets) -> torch.Tensor:
        check_batch(x)
        if targets is None:  # each row's predicted class
            targets = resolve_targets(model, x.detach(), None, chunk_rows(None, x, forward_only=True))
        elif isinstance(targets, torch.Tensor) and targets.ndim == 1 and targets.shape[0] != x.shape[0]:
            raise ValueError(f"targets must hold one class per row of x ({x.shape[0]}); got {targets.shape[0]}")
        else:
            targets = check_target(targets, x.shape[0])  # class indices: a float tensor is the wrong kind
        rows = []
        for row, target in zip(x, targets.tolist()):
            game = CoalitionGame(model, row, segments, baseline=baseline, target=int(target), output=output)
            rows.append(torch.as_tensor(method(game, **options)).detach().to("cpu", torch.float64))
        return torch.stack(rows)

    return explain


def segment_explainer(method: Callable, segments, **options) -> Callable:
    """A gradient method's maps summed over segments: ``explain(model, x, targets) -> [B, M]``.

    :func:`helpers.features.segment_sums` of ``method(model, x, targets, **options)``.

    Examples
    --------
    >>> explain = segment_explainer(gradient, grid_segments((28, 28), 7))  # doctest: +SKIP
    """
    if not callable(method):
        raise TypeError(f"method must be a gradient method method(model, x, target) -> maps; got {method!r}")

    def explain(model, x: torch.Tensor, targets) -> torch.Tensor:
        maps = check_explanation("method", method(model, x, targets, **options), x.shape[0])
        return segment_sums(maps, segments).to("cpu", torch.float64)

    return explain
