r"""Gradient-based explanations, all through one autograd entry point.

The saliency map of Simonyan, Vedaldi and Zisserman (2013, arXiv 1312.6034) is

.. math:: M(x) = \left| \frac{\partial S_c(x)}{\partial x} \right|,

the magnitude of the gradient of the target class score with respect to every
input value. :func:`target_gradients` computes :math:`\partial S_c / \partial x`
(or the gradient with respect to a layer's output) for a batch of inputs, in
chunks; every gradient method of the course is built on it:

- :func:`gradient` -- the saliency map itself (signed or absolute).
- :func:`finite_difference_gradient` -- the same derivative from central
  differences, to check autograd.
- :func:`minimal_example_saliency` -- the minimal example's own code, kept to show
  what it leaves behind.
- :func:`gradient_x_input` -- the signed product :math:`x \odot \partial S/\partial x`.
- :func:`smoothgrad` -- the gradient averaged over noisy copies of the input.
- :func:`integrated_gradients` -- the gradient integrated along a straight path
  from a baseline, with a trapezoid or Gauss--Legendre rule and, by default,
  adaptive refinement until the completeness gap is within a tolerance
  (:func:`path_quadrature` gives the points and weights of both rules). A short
  dispatcher over one function per regime: fixed steps, adaptive trapezoid
  (halving the intervals that hold the gap: the kinks of a ReLU network),
  adaptive Gauss--Legendre.
- :func:`grad_cam` -- gradient-weighted feature maps of a convolutional layer.
- :func:`completeness` -- the sum of any attributions next to :math:`S(x) - S(x')`
  (to check Integrated Gradients from any library).
- :func:`deeplift`, :func:`deep_shap` -- DeepLIFT's rescale rule against a baseline, and its
  average over a background set (DeepSHAP), by a backward pass of the model's graph traced with
  ``torch.fx`` (:func:`deeplift_graph`), each nonlinearity given the rule.

The guarantees, for every method here: the model runs in eval mode and every
submodule gets its own mode back; the caller's tensors (values, ``requires_grad``,
``.grad``) and the parameters' ``.grad`` are left exactly as they were; bad input
raises a ``TypeError`` (the wrong kind of object) or ``ValueError`` (a bad value)
that names the value and what was expected (the checks live in
:mod:`helpers.checks`); rows are processed in chunks of ``batch_size``, by default
as many as hold :data:`helpers.scores.AUTO_CHUNK_VALUES` input values, for every method; an
example's result never depends on the rest of the batch; and a call whose every
map is exactly zero (a piecewise-constant model) warns with
:class:`ZeroGradientWarning`, pointing to LIME and SHAP.

Taught in ``notebooks/01_gradients_from_scratch.ipynb``,
``notebooks/02_cnn_saliency_mnist.ipynb`` and
``notebooks/03_beyond_vanilla_gradients.ipynb``; DeepLIFT and DeepSHAP in
``notebooks/09_fast_shap.ipynb``.
"""

from __future__ import annotations

import bisect
import copy
import functools
import math
import operator
import warnings
from dataclasses import dataclass
from numbers import Real
from typing import Callable

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from .checks import (
    check_batch,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_model,
    check_seed,
    check_target,
)
from .scores import (
    AUTO_CHUNK_VALUES,
    check_baseline,
    chunk_rows,
    class_scores,
    evaluation_mode,
    forward_scores,
    model_device,
    model_dtype,
    resolve_targets,
    target_scores,
)
from .seeding import indexed_normal

__all__ = [
    "TargetGradients",
    "target_gradients",
    "gradient",
    "finite_difference_gradient",
    "minimal_example_saliency",
    "gradient_x_input",
    "smoothgrad",
    "path_quadrature",
    "IntegratedGradientsInfo",
    "integrated_gradients",
    "grad_cam",
    "completeness",
    "deeplift_graph",
    "deeplift",
    "deep_shap",
    "RESCALED_MODULES",
    "DEEPLIFT_EPS",
    "IG_MAX_STEPS",
    "GAUSS_LEGENDRE_MAX_STEPS",
    "ZeroGradientWarning",
    "NoGradientError",
]

_NO_GRADIENT = (
    "the model's output does not depend differentiably on x (autograd finds no path from the "
    "scores back to the input: the model detaches x, compares it with a threshold (x > t), casts it "
    "to integers, takes an arg-max of it, or does not use it), so there is no gradient to explain "
    "it with; use a method that needs only predictions, such as LIME (helpers.lime) or SHAP "
    "(helpers.shapley)"
)


class NoGradientError(ValueError):
    """The model's output does not depend differentiably on the input: there is no gradient to explain it with.

    A ``ValueError`` (the model is the right kind of object, but unfit for gradient
    methods); its own class lets a caller (the explorer) tell it from other bad input
    without reading the message.
    """


class ZeroGradientWarning(RuntimeWarning):
    """The gradient was exactly zero for every example of a call.

    The usual cause is a model that is piecewise constant in its input: it
    rounds (``torch.round``), bins or quantises ``x`` on the way, so autograd
    finds a path but the derivative is zero almost everywhere and every
    gradient map is blank. Gradients cannot explain such a model; LIME and SHAP,
    which only need its predictions, can. A ReLU network whose units are all
    inactive at ``x`` also has a zero gradient there: then the blank map is
    right and the warning a false alarm, which is why this is a warning and not
    an error, and why a single blank example in a batch with other, non-blank
    maps does not raise it.
    """


def _warn_if_no_gradient(grads: torch.Tensor, method: str, where: str = "at") -> None:
    """Warn with :class:`ZeroGradientWarning` when ``grads`` [B, ...] is zero for EVERY example."""
    if grads.shape[0] and not bool(grads.detach().ne(0).any()):
        warnings.warn(
            f"{method}: the gradient of the target score is exactly zero {where} every example "
            f"({grads.shape[0]} of {grads.shape[0]}), so every map is blank. The model is most likely "
            f"piecewise constant in x (it rounds, bins or quantises its input: the derivative is zero almost "
            f"everywhere); gradient methods cannot explain it: use LIME (helpers.lime) or SHAP "
            f"(helpers.shapley), which need only predictions. (A ReLU network whose units are all inactive "
            f"at x also has a zero gradient there; then the blank map is right.)",
            ZeroGradientWarning,
            stacklevel=3,
        )


def _check_model(model) -> nn.Module:
    return check_model(model, purpose="gradient methods need its modules and parameters")


@dataclass
class TargetGradients:
    """What :func:`target_gradients` returns.

    Attributes
    ----------
    gradients : torch.Tensor
        :math:`\\partial S_{target}/\\partial x`, shape of the inputs (or of the
        layer's output when a layer was given), on the inputs' device.
    scores : torch.Tensor, [N]
        The target scores :math:`S_{target}(x)`.
    targets : torch.Tensor, int64, [N]
        The class explained for every row (the predicted class where none was given).
    activations : torch.Tensor or None
        The layer's output when a layer was given.
    """

    gradients: torch.Tensor
    scores: torch.Tensor
    targets: torch.Tensor
    activations: torch.Tensor | None = None


def target_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    target=None,
    *,
    batch_size: int | None = None,
    layer: nn.Module | None = None,
) -> TargetGradients:
    r"""The one autograd entry point: :math:`\partial S_{target}/\partial x` for a batch.

    The model runs in eval mode on chunks of at most ``batch_size`` rows (all rows
    at once when None); each chunk costs one forward and one backward pass. The
    derivative is taken with :func:`torch.autograd.grad` on a private copy of the
    inputs, so nothing accumulates in the caller's ``x.grad`` or in the
    parameters' ``.grad``.

    Parameters
    ----------
    model : torch.nn.Module
        Returns class scores ``[B, classes]``.
    inputs : torch.Tensor, float, [N, ...]
    target : None, int, sequence of int or int tensor [N], default None
        The class whose score is differentiated; None means the predicted class.
    batch_size : int, optional
        Rows per forward/backward pass; bounds memory whatever ``N`` is. The
        result does not depend on it. Default: as many rows as hold
        :data:`AUTO_CHUNK_VALUES` input values (the default of every gradient method).
    layer : torch.nn.Module, optional
        A submodule of ``model``: differentiate with respect to its output instead
        of the input (for Grad-CAM). Its forward hook is removed, even on error.

    Returns
    -------
    TargetGradients

    Raises
    ------
    TypeError
        ``model`` not a module; ``inputs`` not a float tensor; ``target`` of the wrong type.
    ValueError
        ``inputs`` not batched or holding NaN/Inf; the model failing on it or not
        returning ``[B, classes]``; ``target`` out of range or of the wrong length;
        no differentiable path from the scores to the input.

    Examples
    --------
    >>> result = target_gradients(model, x, target=3)  # doctest: +SKIP
    >>> result.gradients.shape == x.shape  # doctest: +SKIP
    True
    """
    _check_model(model)
    check_batch(inputs)
    chunk = chunk_rows(batch_size, inputs)
    targets = check_target(target, inputs.shape[0])
    if layer is not None and not any(module is layer for module in model.modules()):
        raise ValueError(f"layer must be a submodule of the model; got {type(layer).__name__} that is not in it")
    return _target_gradients(model, inputs, targets, chunk, layer)


def _target_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, chunk: int,
                      layer: nn.Module | None = None) -> TargetGradients:
    """The kernel of :func:`target_gradients`, without its checks.

    The methods check their arguments once per call and then call this on every chunk
    of the rows they build (noisy copies, points on a path), so the inner loop does not
    scan every chunk for NaN again (a host sync on a GPU) or re-check the model.
    """
    device = model_device(model, inputs.device)
    dtype = model_dtype(model, inputs.dtype)
    n_rows = inputs.shape[0]

    captured: list[torch.Tensor] = []
    handle = None
    if layer is not None:
        def keep_output(_module, _args, output):
            captured.append(output)

        handle = layer.register_forward_hook(keep_output)

    grads, scores, chosen, activations = [], [], [], []
    try:
        with evaluation_mode(model), torch.enable_grad():
            for start in range(0, n_rows, chunk):
                # requires_grad_ on a detached alias leaves the caller's flag alone; the model runs
                # on a copy, so in-place layers never reach the caller's values.
                x = inputs[start:start + chunk].detach().to(device, dtype).requires_grad_(True)
                captured.clear()
                out = class_scores(model, x.clone())
                t = None if targets is None else targets[start:start + chunk]
                score, t = target_scores(out, t)
                wrt = x
                if layer is not None:
                    if len(captured) != 1 or not isinstance(captured[0], torch.Tensor):
                        raise ValueError(
                            f"layer must run exactly once per forward pass and return a tensor; "
                            f"it ran {len(captured)} time(s)"
                        )
                    wrt = captured[0]
                if not score.requires_grad:
                    raise NoGradientError(_NO_GRADIENT)
                (g,) = torch.autograd.grad(score.sum(), wrt, allow_unused=True)
                if g is None:
                    raise NoGradientError(_NO_GRADIENT)
                grads.append(g.detach())
                scores.append(score.detach())
                chosen.append(t.detach())
                if layer is not None:
                    activations.append(wrt.detach())
    finally:
        if handle is not None:
            handle.remove()
    result_device = inputs.device

    def joined(parts: list[torch.Tensor]) -> torch.Tensor:  # no copy when there was one chunk
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    return TargetGradients(
        gradients=joined(grads).to(result_device, inputs.dtype),
        scores=joined(scores).to(result_device),
        targets=joined(chosen).to(result_device),
        activations=joined(activations).to(result_device) if layer is not None else None,
    )


def gradient(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    absolute: bool = True,
    batch_size: int | None = None,
) -> torch.Tensor:
    r"""The saliency map :math:`M(x) = |\partial S_c(x) / \partial x|` for a batch.

    Simonyan, Vedaldi and Zisserman, "Deep Inside Convolutional Networks:
    Visualising Image Classification Models and Saliency Maps", 2013,
    arXiv 1312.6034.

    Parameters
    ----------
    model : torch.nn.Module
        Returns class scores (logits) ``[B, classes]``.
    x : torch.Tensor, float, [B, ...]
        A batch of inputs, e.g. ``[B, 1, 28, 28]`` digits.
    target : None, int or int tensor [B], default None
        Class to explain; None means each example's predicted class.
    absolute : bool, default True
        Return :math:`|\partial S/\partial x|`; False gives the signed gradient.
    batch_size : int, optional
        Rows per forward/backward pass; the result does not depend on it. Default:
        as many as hold :data:`AUTO_CHUNK_VALUES` input values (about 1,300
        digits), as for every gradient method.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Warns
    -----
    ZeroGradientWarning
        When the gradient is exactly zero for EVERY example of the call: the
        signature of a piecewise-constant model (one that rounds or bins its
        input), which gradients cannot explain; the warning points to LIME and
        SHAP. One blank example among non-blank ones is left alone (a ReLU
        network legitimately has a zero gradient where all its units are
        inactive). A model with no differentiable path to ``x`` at all (it
        detaches, compares or takes an arg-max) raises a ``ValueError`` instead.

    Raises
    ------
    TypeError
        ``absolute`` not a bool (the string ``"False"`` included), and as in
        :func:`target_gradients`.
    ValueError
        See :func:`target_gradients`.

    Examples
    --------
    >>> saliency = gradient(model, X_test[:8])  # doctest: +SKIP
    >>> saliency.shape  # doctest: +SKIP
    torch.Size([8, 1, 28, 28])
    """
    absolute = check_bool("absolute", absolute)
    grads = target_gradients(model, x, target, batch_size=batch_size).gradients
    _warn_if_no_gradient(grads, "gradient")
    return grads.abs() if absolute else grads


def finite_difference_gradient(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    eps: float = 1e-4,
    batch_size: int | None = None,
) -> torch.Tensor:
    r"""The signed gradient from central differences, to check autograd against.

    .. math:: \frac{\partial S_c}{\partial x_i} \approx
              \frac{S_c(x + \varepsilon e_i) - S_c(x - \varepsilon e_i)}{2 \varepsilon}

    Runs on a float64 copy of the model (the caller's model is not touched) and
    costs :math:`2 D` forward rows per example, for :math:`D` input values.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B]
        None means the predicted class.
    eps : float, default 1e-4
        Step size, a finite number > 0; the error is :math:`O(\varepsilon^2)`
        where the model is smooth.
    batch_size : int, optional
        Perturbed rows per forward pass; only that many perturbed copies exist
        at a time, so memory follows it (not :math:`D^2`). Default: as many as
        hold :data:`AUTO_CHUNK_VALUES` input values.

    Raises
    ------
    TypeError, ValueError
        For an ``eps`` that is not a finite number > 0 (``TypeError`` for a
        string), and as in :func:`target_gradients`.

    Returns
    -------
    torch.Tensor, float64, shape of ``x``

    Examples
    --------
    >>> fd = finite_difference_gradient(model, x[:1], target=3)  # doctest: +SKIP
    """
    _check_model(model)
    check_batch(x)
    rows = chunk_rows(batch_size, x)
    eps = check_float("eps", eps, positive=True)
    targets = check_target(target, x.shape[0])
    twin = copy.deepcopy(model).double()
    device = model_device(twin, x.device)
    xs = x.detach().to(device, torch.float64)
    n_values = xs[0].numel()
    result = torch.empty(xs.shape, dtype=torch.float64)
    with evaluation_mode(twin), torch.no_grad():
        if targets is None:
            targets = class_scores(twin, xs).argmax(dim=1).cpu()
        for b in range(xs.shape[0]):
            flat = xs[b].reshape(-1)
            scores = torch.empty(2 * n_values, dtype=torch.float64)
            for start in range(0, 2 * n_values, rows):  # rows start..stop: +eps on each value, then -eps
                index = torch.arange(start, min(start + rows, 2 * n_values), device=device)
                perturbed = flat.repeat(index.shape[0], 1)
                perturbed[torch.arange(index.shape[0], device=device), index % n_values] += torch.where(
                    index < n_values, eps, -eps).to(torch.float64)
                out = class_scores(twin, perturbed.reshape(-1, *xs.shape[1:]))
                target_scores(out, targets[b:b + 1].expand(index.shape[0]))
                scores[start:start + index.shape[0]] = out[:, int(targets[b])].cpu()
            result[b] = ((scores[:n_values] - scores[n_values:]) / (2 * eps)).reshape(xs.shape[1:])
    return result.to(x.device)


def minimal_example_saliency(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The minimal example's saliency code, step for step, side effects included.

    Kept only to show what it leaves behind, next to :func:`gradient`: it calls
    ``x.requires_grad_()`` on the caller's tensor, leaves the model in whatever
    mode it sets (eval), accumulates into ``x.grad`` (a second call on the same
    tensor returns twice the map) and into every parameter's ``.grad``, and
    explains one image (``output[0]``) only. Do not use it for real work.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, [1, 1, H, W]

    Returns
    -------
    torch.Tensor, [H, W]
        ``x.grad.abs()`` of the predicted class of the first image.
    """
    model.eval()
    x.requires_grad_()
    output = model(x)
    pred_class = output.argmax(dim=1).item()
    score = output[0, pred_class]
    score.backward()
    return x.grad.data.abs().squeeze()


# =========================================================================== beyond the plain gradient
# Every method below calls target_gradients (directly, or on chunks of the rows it
# builds: noisy copies, points on a path) and combines what it returns.

_RULES = ("trapezoid", "gauss_legendre")


def _weighted_gradient_sum(
    model: nn.Module,
    build: Callable[[int, int], torch.Tensor],
    example_of_row: torch.Tensor,
    weight_of_row: torch.Tensor | None,
    targets: torch.Tensor,
    rows: int,
    total: torch.Tensor,
    *,
    absolute: bool = False,
) -> torch.Tensor:
    r"""Add :math:`\sum_r w_r \, \partial S/\partial x\,(\text{row } r)` into ``total[example_of_row[r]]``.

    ``build(start, stop)`` makes the input rows ``start:stop`` (so that at most ``rows``
    of them exist at a time); each chunk is one call of the kernel of :func:`target_gradients`.
    Returns the target score of every row ([R], on the model's device).
    """
    scores = []
    for start in range(0, example_of_row.shape[0], rows):
        stop = min(start + rows, example_of_row.shape[0])
        examples = example_of_row[start:stop]
        rows_in = build(start, stop)
        result = _target_gradients(model, rows_in, targets[examples], rows_in.shape[0])
        g = result.gradients.abs() if absolute else result.gradients
        if weight_of_row is not None:
            g = g * weight_of_row[start:stop].to(g.device, g.dtype).reshape(-1, *([1] * (g.ndim - 1)))
        total.index_add_(0, examples.to(total.device), g.to(total.dtype))
        scores.append(result.scores)
    return torch.cat(scores)


def gradient_x_input(model: nn.Module, x: torch.Tensor, target=None, *, batch_size: int | None = None) -> torch.Tensor:
    r"""Gradient times input: :math:`x \odot \partial S_c(x)/\partial x`, signed.

    Shrikumar, Greenside, Shcherbina and Kundaje, "Not Just a Black Box: Learning
    Important Features Through Propagating Activation Differences", 2016,
    arXiv 1605.01713. For a linear model :math:`S_c(x) = w_c^\top x + b_c` the
    attributions sum to :math:`S_c(x) - b_c`: each input's share of the score.

    Parameters
    ----------
    model : torch.nn.Module
        Returns class scores ``[B, classes]``.
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B], default None
        None means each example's predicted class.
    batch_size : int, optional
        Rows per forward/backward pass; the result does not depend on it. Default:
        as many as hold :data:`AUTO_CHUNK_VALUES` input values (about 1,300
        digits), as for every gradient method.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``; positive where the input pushes the
        score up.

    Raises
    ------
    TypeError, ValueError
        See :func:`target_gradients`.

    Examples
    --------
    >>> attributions = gradient_x_input(model, X_test[:8])  # doctest: +SKIP
    >>> attributions.shape  # doctest: +SKIP
    torch.Size([8, 1, 28, 28])
    """
    grads = target_gradients(model, x, target, batch_size=batch_size).gradients
    _warn_if_no_gradient(grads, "gradient_x_input")
    return x.detach() * grads


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    noise_level: float = 0.15,
    n_samples: int = 50,
    batch_size: int | None = None,
    seed: int = 0,
    absolute: bool = True,
) -> torch.Tensor:
    r"""SmoothGrad: the gradient averaged over noisy copies of the input.

    Smilkov, Thorat, Kim, Viégas and Wattenberg, "SmoothGrad: removing noise by
    adding noise", 2017, arXiv 1706.03825:

    .. math:: \hat M_c(x) = \frac{1}{n} \sum_{k=1}^{n} M_c\big(x + \varepsilon_k\big),
              \qquad \varepsilon_k \sim \mathcal N(0, \sigma^2 I),
              \qquad \sigma = \text{noise\_level} \times (\max x - \min x),

    with the range taken over each example's own values. The class explained is
    the one of ``x`` itself (its prediction when ``target`` is None) for every
    noisy copy.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B], default None
    noise_level : float, default 0.15
        :math:`\sigma` as a fraction of each input's range (the paper finds
        10--20 % works well). 0 gives the plain gradient.
    n_samples : int, default 50
        Noisy copies per example: the cost is ``n_samples`` gradient rows per example.
    batch_size : int, optional
        Rows (noisy copies) per forward/backward pass; at most this many copies
        exist at a time, so memory stays bounded whatever ``n_samples`` is. The
        result does not depend on it (up to float rounding). Default: as many as
        hold :data:`AUTO_CHUNK_VALUES` input values.
    seed : int, default 0
        Seed of the noise: same seed, same map. Every example sees the same
        standard-normal draws :math:`\varepsilon_1, \dots, \varepsilon_n` (each
        scaled by its own :math:`\sigma`), drawn from the seed alone, so an
        example's map does not depend on the rest of the batch
        (``smoothgrad(model, x[2:3])`` equals ``smoothgrad(model, x)[2:3]``) or
        on ``batch_size``, and two inputs explained with the same seed differ
        only because the inputs differ (common random numbers: what
        :func:`helpers.metrics.noise_stability` relies on). Use another seed for
        independent draws.
    absolute : bool, default True
        Average the magnitudes :math:`|\partial S/\partial x|` of the noisy
        gradients (what Captum's ``NoiseTunnel`` over ``Saliency`` does); False
        averages the signed gradients, the paper's formula before it is
        visualised.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Raises
    ------
    TypeError, ValueError
        For a bad ``noise_level``, ``n_samples``, ``batch_size`` or ``seed``, and
        as in :func:`target_gradients`.

    Examples
    --------
    >>> smooth = smoothgrad(model, X_test[:8], noise_level=0.15, n_samples=50)  # doctest: +SKIP
    >>> smooth.shape  # doctest: +SKIP
    torch.Size([8, 1, 28, 28])
    """
    _check_model(model)
    check_batch(x)
    noise_level = check_float("noise_level", noise_level, minimum=0.0)
    n_samples = check_int("n_samples", n_samples, 1)
    rows = chunk_rows(batch_size, x)
    device = model_device(model, x.device)
    seed = check_seed(seed)
    absolute = check_bool("absolute", absolute)
    targets = resolve_targets(model, x, target, rows)

    xs = x.detach().to(device)
    n_examples = xs.shape[0]
    flat = xs.reshape(n_examples, -1)
    sigma = (noise_level * (flat.amax(dim=1) - flat.amin(dim=1))).reshape(-1, *([1] * (xs.ndim - 1)))
    # Draw k is the same for every example (scaled by its own sigma) and depends only on the seed and
    # k (helpers.seeding.indexed_normal), so an example's map depends on nothing else in the batch and
    # not on the chunking. Rows run sample by sample: row r is copy r // B of example r % B.
    drawn = {"sample": -1, "noise": None}

    def noise_of(sample: int) -> torch.Tensor:
        if drawn["sample"] != sample:
            drawn["noise"] = indexed_normal(seed, [sample], tuple(xs.shape[1:]), device=device, dtype=xs.dtype)
            drawn["sample"] = sample
        return drawn["noise"]

    def build(start: int, stop: int) -> torch.Tensor:
        pieces = []
        for sample in range(start // n_examples, (stop - 1) // n_examples + 1):
            lo = max(start - sample * n_examples, 0)
            hi = min(stop - sample * n_examples, n_examples)
            pieces.append(torch.addcmul(xs[lo:hi], sigma[lo:hi], noise_of(sample)))
        return torch.cat(pieces)

    total = torch.zeros_like(xs)
    example_of_row = torch.arange(n_samples * n_examples) % n_examples
    _weighted_gradient_sum(model, build, example_of_row, None, targets, rows, total, absolute=absolute)
    _warn_if_no_gradient(total, "smoothgrad", "at every noisy copy of")
    return (total / n_samples).to(x.device, x.dtype)


def path_quadrature(rule: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Points :math:`\alpha_k \in [0, 1]` and weights :math:`w_k` of a rule for :math:`\int_0^1 f`.

    .. math:: \int_0^1 f(\alpha)\, d\alpha \approx \sum_{k=1}^{n} w_k f(\alpha_k)

    - ``"trapezoid"``: :math:`n \ge 2` equally spaced points from 0 to 1, weights
      :math:`1/(n-1)`, halved at both ends. The weights sum to 1, so a constant
      ``f`` is integrated exactly for every ``n``; the error is :math:`O(1/n^2)`
      for a smooth ``f``.
    - ``"gauss_legendre"``: the :math:`n \ge 1` Gauss--Legendre nodes mapped to
      [0, 1], exact for polynomials of degree up to :math:`2n - 1`.

    Parameters
    ----------
    rule : {"trapezoid", "gauss_legendre"}
    steps : int
        The number of points :math:`n`.

    Returns
    -------
    alphas, weights : torch.Tensor, float64, [n]

    Raises
    ------
    TypeError
        For a rule that is not a string or steps that are not an int.
    ValueError
        For an unknown rule, too few steps, or more than
        :data:`GAUSS_LEGENDRE_MAX_STEPS` Gauss--Legendre points.

    Examples
    --------
    >>> alphas, weights = path_quadrature("trapezoid", 5)
    >>> float(weights.sum())
    1.0
    """
    rule = check_choice("rule", rule, _RULES)
    if rule == "trapezoid":
        n = check_int("steps (trapezoid points, both ends included)", steps, 2)
        alphas = torch.linspace(0, 1, n, dtype=torch.float64)
        weights = torch.full((n,), 1.0 / (n - 1), dtype=torch.float64)
        weights[0] /= 2
        weights[-1] /= 2
        return alphas, weights
    n = check_int("steps (Gauss-Legendre points)", steps, 1)
    if n > GAUSS_LEGENDRE_MAX_STEPS:
        raise ValueError(
            f"steps (Gauss-Legendre points) must be an int <= {GAUSS_LEGENDRE_MAX_STEPS}; got {n}: no path "
            f"needs more (the error of n points on a smooth path falls faster than any power of 1/n, and on a "
            f"ReLU network the trapezoid rule's adaptive mode places points better); for more points use "
            f'rule="trapezoid"'
        )
    alphas, weights = _gauss_legendre(n)
    return alphas.clone(), weights.clone()


#: The most Gauss--Legendre points :func:`path_quadrature` computes (about a second for the nodes).
GAUSS_LEGENDRE_MAX_STEPS = 4096


@functools.lru_cache(maxsize=32)
def _gauss_legendre(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss--Legendre nodes and weights on [0, 1] (cached; callers get copies).

    NumPy's ``leggauss`` (eigenvalues of the full companion matrix, :math:`O(n^3)`) up to 100
    points; above, SciPy's ``roots_legendre`` (Golub--Welsch on the symmetric tridiagonal
    Jacobi matrix plus a Newton polish), which scales to thousands of points in well under a
    second and agrees with ``leggauss`` to 1e-13.
    """
    if n <= 100:
        nodes, weights = np.polynomial.legendre.leggauss(n)
    else:
        from scipy.special import roots_legendre

        nodes, weights = roots_legendre(n)
    return torch.from_numpy(0.5 * (nodes + 1)), torch.from_numpy(0.5 * weights)


@dataclass(frozen=True)
class IntegratedGradientsInfo:
    r"""How well :func:`integrated_gradients` integrated, per example.

    Completeness (Sundararajan et al.'s axiom) says the attributions sum to
    :math:`S(x) - S(x')`; what is missing is the error of the quadrature.

    Attributes
    ----------
    steps : torch.Tensor, int64, [B]
        Points on the path of the rule that gave the attributions.
    evaluations : torch.Tensor, int64, [B]
        Gradient rows spent on the example (equal to ``steps`` for the
        trapezoid rule, whose refinement reuses every point; larger for adaptive
        Gauss--Legendre, whose points are not nested).
    score_difference : torch.Tensor, [B]
        :math:`S(x) - S(x')`.
    gap : torch.Tensor, [B]
        The completeness gap :math:`|\sum_i a_i - (S(x) - S(x'))|`.
    relative_gap : torch.Tensor, [B]
        ``gap / |score_difference|``.
    converged : torch.Tensor, bool, [B]
        ``gap <= tolerance * |score_difference| + 1e-5 * (|S(x)| + |S(x')|)``
        (the second term is float32 round-off, for examples whose score hardly moves).
    targets : torch.Tensor, int64, [B]
        The class explained.
    decision_margin : torch.Tensor, float64, [B]
        How near the adaptive mode came to deciding otherwise: over all of the
        example's decisions, the smallest distance between a measured quantity and
        what it was compared with (the gap against the allowed gap; for the
        trapezoid also the marked share of the interval errors against half of
        them, and the last marked interval's error against the next one's), in
        units of :math:`|S(x)| + |S(x')|`; ``inf`` with fixed steps (no decision).
        float32 rounding moves those quantities by about 1e-7 in these units: a
        margin far above it means the same points, and the same counts, on every
        machine.
    rule : str
    tolerance : float
    """

    steps: torch.Tensor
    evaluations: torch.Tensor
    score_difference: torch.Tensor
    gap: torch.Tensor
    relative_gap: torch.Tensor
    converged: torch.Tensor
    targets: torch.Tensor
    decision_margin: torch.Tensor
    rule: str
    tolerance: float


def _completeness(attributions, s_x, s_base, tolerance):
    """gap, relative gap and convergence flag per example (CPU, float64)."""
    total = attributions.reshape(attributions.shape[0], -1).sum(dim=1).cpu().double()
    s_x, s_base = s_x.cpu().double(), s_base.cpu().double()
    delta = s_x - s_base
    gap = (total - delta).abs()
    converged = gap <= _allowed_gap(s_x, s_base, tolerance)
    return gap, gap / delta.abs().clamp_min(1e-300), converged


def _allowed_gap(s_x, s_base, tolerance):
    """The gap an example may keep: ``tolerance`` of its score change plus float32 round-off."""
    return tolerance * (s_x - s_base).abs() + 1e-5 * (s_x.abs() + s_base.abs())


@dataclass
class _Path:
    """What every regime of :func:`integrated_gradients` works on (checked, on the model's device)."""

    model: nn.Module
    xs: torch.Tensor  # [B, ...]
    base: torch.Tensor  # [B, ...]
    targets: torch.Tensor  # int64 [B], CPU
    rows: int  # rows per forward/backward pass

    @property
    def difference(self) -> torch.Tensor:
        return self.xs - self.base

    def at(self, examples: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        """The points :math:`x'_e + \\alpha (x_e - x'_e)` for rows ``(examples[r], alphas[r])``."""
        ed = examples.to(self.xs.device)
        a = alphas.to(self.xs.device, self.xs.dtype).reshape(-1, *([1] * (self.xs.ndim - 1)))
        return torch.addcmul(self.base[ed], a, self.xs[ed] - self.base[ed])

    def points(self, examples: torch.Tensor, alphas: torch.Tensor) -> TargetGradients:
        """Gradients and scores at the points of rows ``(examples[r], alphas[r])``, every one kept."""
        grads, scores = [], []
        for start in range(0, examples.shape[0], self.rows):
            e = examples[start:start + self.rows]
            points = self.at(e, alphas[start:start + self.rows])
            result = _target_gradients(self.model, points, self.targets[e], points.shape[0])
            grads.append(result.gradients)
            scores.append(result.scores.cpu().double())
        return TargetGradients(torch.cat(grads), torch.cat(scores), self.targets[examples])

    def weighted_sum(self, alphas: torch.Tensor, weights: torch.Tensor, examples: torch.Tensor):
        r"""For every example in ``examples``: :math:`\sum_k w_k\, \partial S/\partial x\,(x' + \alpha_k (x - x'))`.

        The gradients are summed as they come (never all kept). Returns the sums [E, ...]
        and the target scores at the points [E, K] (on the model's device).
        """
        n_points = alphas.shape[0]
        example_of_row = examples.repeat_interleave(n_points)
        alpha_of_row = alphas.repeat(examples.shape[0])
        total = torch.zeros((examples.shape[0], *self.xs.shape[1:]), device=self.xs.device, dtype=self.xs.dtype)
        scores = _weighted_gradient_sum(
            self.model, lambda start, stop: self.at(example_of_row[start:stop], alpha_of_row[start:stop]),
            torch.arange(examples.shape[0]).repeat_interleave(n_points), weights.repeat(examples.shape[0]),
            self.targets[examples], self.rows, total,
        )
        return total, scores.reshape(examples.shape[0], n_points)


def _ig_fixed_steps(path: _Path, rule: str, steps: int, need_ends: bool):
    """Regime 1: the same ``steps`` points of ``rule`` for every example."""
    everyone = torch.arange(path.xs.shape[0])
    alphas, weights = path_quadrature(rule, steps)
    average, scores = path.weighted_sum(alphas, weights, everyone)
    if not need_ends:
        return average, None, None, None, None, None
    if rule == "trapezoid":  # the ends are points of the rule
        s_base, s_x = scores[:, 0].cpu(), scores[:, -1].cpu()
    else:
        s_x = forward_scores(path.model, path.xs, path.targets, path.rows)[0]
        s_base = forward_scores(path.model, path.base, path.targets, path.rows)[0]
    n_steps = torch.full((everyone.shape[0],), int(steps), dtype=torch.int64)
    return average, s_x, s_base, n_steps, n_steps.clone(), torch.full(n_steps.shape, torch.inf, dtype=torch.float64)


def _ig_adaptive_trapezoid(path: _Path, tolerance: float, max_steps: int):
    r"""Regime 2: the trapezoid rule on points placed where the completeness gap comes from.

    Along the path the score :math:`f(\alpha) = S_c(x' + \alpha(x - x'))` is known at
    every point (the forward pass) and so is its slope :math:`f'(\alpha) = \nabla S_c \cdot (x - x')`
    (the backward pass). On an interval :math:`[a, b]` the trapezoid rule gives
    :math:`\tfrac{b - a}{2}(f'(a) + f'(b))` where the exact integral of the slope is
    :math:`f(b) - f(a)`: their difference :math:`e` is the interval's part of the
    completeness gap, measured, not estimated. Each round halves the intervals with the
    largest :math:`|e|` that together hold half of :math:`\sum |e|` (Dörfler's marking:
    W. Dörfler, "A convergent adaptive algorithm for Poisson's equation", SIAM J. Numer.
    Anal. 33, 1996). On a ReLU network :math:`f` is piecewise linear and the gradient
    jumps at every kink, so the points go to the kinks that matter instead of everywhere.
    An example stops when its gap :math:`|\sum e|` is within the tolerance, or at
    ``max_steps`` points (the worst intervals are halved first). The gradients at an
    example's points are kept until it stops (memory: points x input size).
    """
    n_examples = path.xs.shape[0]
    ends = path.points(torch.arange(n_examples).repeat_interleave(2), torch.tensor([0.0, 1.0]).repeat(n_examples))
    s_base, s_x = ends.scores[0::2].clone(), ends.scores[1::2].clone()
    allowed = _allowed_gap(s_x, s_base, tolerance).tolist()
    delta = path.difference.reshape(n_examples, -1).double()
    slopes = (ends.gradients.reshape(2 * n_examples, -1).double() * delta.repeat_interleave(2, dim=0)).sum(dim=1)
    # Every example's points in order: alpha, score, slope and gradient.
    alphas = [[0.0, 1.0] for _ in range(n_examples)]
    scores = [[float(s_base[e]), float(s_x[e])] for e in range(n_examples)]
    slope = [[float(slopes[2 * e]), float(slopes[2 * e + 1])] for e in range(n_examples)]
    grads = [[ends.gradients[2 * e], ends.gradients[2 * e + 1]] for e in range(n_examples)]
    average = torch.zeros_like(path.xs)
    n_points = torch.full((n_examples,), 2, dtype=torch.int64)
    margin = [np.inf] * n_examples  # the closest call of each example's decisions (see IntegratedGradientsInfo)
    active = list(range(n_examples))

    def finish(e: int) -> None:
        a = torch.tensor(alphas[e], dtype=torch.float64)
        weights = torch.zeros_like(a)
        weights[1:] += a.diff() / 2
        weights[:-1] += a.diff() / 2
        stacked = torch.stack(grads[e])
        average[e] = torch.tensordot(weights.to(stacked.device, stacked.dtype), stacked, dims=1)
        grads[e] = []

    while active:
        split_examples, split_alphas, still = [], [], []
        for e in active:
            a, f, d = np.array(alphas[e]), np.array(scores[e]), np.array(slope[e])
            errors = np.diff(a) / 2 * (d[1:] + d[:-1]) - np.diff(f)
            room = max_steps - len(a)
            margin[e] = min(margin[e], abs(abs(errors.sum()) - allowed[e]))
            if abs(errors.sum()) <= allowed[e] or room <= 0:
                finish(e)
                continue
            order = np.argsort(-np.abs(errors), kind="stable")
            ranked = np.abs(errors[order])
            held = np.cumsum(ranked)
            k = min(int(np.searchsorted(held, 0.5 * held[-1])) + 1, room)
            margin[e] = min(margin[e], float(np.abs(held - 0.5 * held[-1]).min()),
                            float(ranked[k - 1] - ranked[k]) if k < len(ranked) else np.inf)
            marked = order[:k]
            split_examples += [e] * len(marked)
            split_alphas += ((a[marked] + a[marked + 1]) / 2).tolist()
            still.append(e)
        active = still
        if not split_examples:
            break
        examples = torch.tensor(split_examples)
        new = path.points(examples, torch.tensor(split_alphas, dtype=torch.float64))
        new_slopes = (new.gradients.reshape(len(split_examples), -1).double() * delta[examples]).sum(dim=1).tolist()
        new_scores = new.scores.tolist()
        for r, (e, alpha) in enumerate(zip(split_examples, split_alphas)):
            i = bisect.bisect(alphas[e], alpha)
            alphas[e].insert(i, alpha)
            scores[e].insert(i, new_scores[r])
            slope[e].insert(i, new_slopes[r])
            grads[e].insert(i, new.gradients[r])
            n_points[e] += 1
    return average, s_x, s_base, n_points, n_points.clone(), torch.tensor(margin, dtype=torch.float64)


def _ig_adaptive_gauss_legendre(path: _Path, tolerance: float, max_steps: int):
    """Regime 3: Gauss--Legendre with 2, 4, 8, ... points, each level afresh, until completeness holds."""
    n_examples = path.xs.shape[0]
    everyone = torch.arange(n_examples)
    s_x = forward_scores(path.model, path.xs, path.targets, path.rows)[0]
    s_base = forward_scores(path.model, path.base, path.targets, path.rows)[0]
    average = torch.zeros_like(path.xs)
    n_steps = torch.zeros(n_examples, dtype=torch.int64)
    evaluations = torch.zeros(n_examples, dtype=torch.int64)
    active = torch.ones(n_examples, dtype=torch.bool)
    margin = torch.full((n_examples,), torch.inf, dtype=torch.float64)
    difference = path.difference
    n = 2
    while active.any() and n <= max_steps:
        examples = everyone[active]
        level, _ = path.weighted_sum(*path_quadrature("gauss_legendre", n), examples)
        index = examples.to(path.xs.device)
        average[index] = level
        n_steps[examples] = n
        evaluations[examples] += n
        gap, _, done = _completeness(difference[index] * level, s_x[examples], s_base[examples], tolerance)
        allowed = _allowed_gap(s_x[examples].cpu().double(), s_base[examples].cpu().double(), tolerance)
        margin[examples] = torch.minimum(margin[examples], (gap - allowed).abs())
        active[examples] = ~done
        n *= 2
    return average, s_x, s_base, n_steps, evaluations, margin


#: The default most points per example of the adaptive mode of :func:`integrated_gradients`.
IG_MAX_STEPS = 2049


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    baseline=None,
    steps: int | None = None,
    rule: str = "trapezoid",
    tolerance: float = 0.01,
    max_steps: int = IG_MAX_STEPS,
    batch_size: int | None = None,
    return_info: bool = False,
):
    r"""Integrated Gradients along the straight path from a baseline to ``x``.

    Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks", 2017,
    arXiv 1703.01365:

    .. math:: a_i = (x_i - x'_i) \int_0^1 \frac{\partial S_c}{\partial x_i}
              \big(x' + \alpha (x - x')\big)\, d\alpha,
              \qquad \sum_i a_i = S_c(x) - S_c(x') \text{ (completeness)}.

    The integral is approximated by a rule of :func:`path_quadrature`; the
    completeness gap :math:`|\sum_i a_i - (S_c(x) - S_c(x'))|` measures the error.
    Three regimes, one function each:

    - ``steps`` an int: exactly that many points of ``rule`` on the path, the
      same for every example.
    - ``steps=None`` (default) with the trapezoid rule: adaptive. Each example
      starts from the two ends of its path; each round halves the intervals
      that hold most of its completeness gap (the score and its slope along the
      path are known at every point, so each interval's part of the gap is
      measured, not guessed). On a ReLU or max-pool network the score is
      piecewise linear along the path and the gradient jumps at every kink: the
      points go to the kinks that matter instead of everywhere. Every point is
      evaluated once. It stops when the gap is within ``tolerance`` of
      :math:`|S_c(x) - S_c(x')|`, or at ``max_steps`` points.
    - ``steps=None`` with Gauss--Legendre: 2, 4, 8, ... points until the gap is
      within the tolerance; the points are not nested, so each level is computed
      afresh (see ``info.evaluations``), and two extra forward rows per example
      give :math:`S_c(x)` and :math:`S_c(x')`.

    Every example refines on its own, so its result does not depend on the rest
    of the batch.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B], default None
        None means each example's predicted class at ``x`` (the same class all along the path).
    baseline : None, float or tensor, default None
        :math:`x'`; None means zeros. A tensor must be shaped like ``x`` or broadcast to it.
    steps : int or None, default None
        Points on the path (trapezoid: at least 2; Gauss--Legendre: 1 to
        :data:`GAUSS_LEGENDRE_MAX_STEPS`), or None for the adaptive mode.
    rule : {"trapezoid", "gauss_legendre"}, default "trapezoid"
    tolerance : float, default 0.01
        Adaptive mode: the relative completeness gap to reach.
    max_steps : int, default :data:`IG_MAX_STEPS` (2049)
        Adaptive mode: the most points per example. Only examples whose path
        needs them spend them: on the course's trained CNNs the median digit
        stops below 10 points.
    batch_size : int, optional
        Rows (points) per forward/backward pass. Default: as many as hold
        :data:`AUTO_CHUNK_VALUES` input values.
    return_info : bool, default False
        Also return an :class:`IntegratedGradientsInfo` with the gap reached and
        the steps used by every example.

    Returns
    -------
    torch.Tensor
        The attributions, same shape, dtype and device as ``x``.
    (torch.Tensor, IntegratedGradientsInfo)
        When ``return_info`` is True.

    Warns
    -----
    RuntimeWarning
        In the adaptive mode, when some example misses the tolerance at
        ``max_steps`` and ``return_info`` is False (with ``return_info`` the
        caller reads ``info.converged`` instead).
    ZeroGradientWarning
        When the gradient is zero at every point of every example's path (see
        :func:`gradient`).

    Raises
    ------
    TypeError, ValueError
        For an unknown rule, bad steps, tolerance, max_steps, batch_size or
        baseline, and as in :func:`target_gradients`.

    Examples
    --------
    >>> attributions, info = integrated_gradients(model, X_test[:8], return_info=True)  # doctest: +SKIP
    >>> bool(info.converged.all())  # doctest: +SKIP
    True
    """
    _check_model(model)
    check_batch(x)
    rule = check_choice("rule", rule, _RULES)
    if steps is not None:
        path_quadrature(rule, steps)  # checks steps for this rule
    tolerance = check_float("tolerance", tolerance, positive=True)
    max_steps = check_int("max_steps", max_steps, 2)
    return_info = check_bool("return_info", return_info)
    rows = chunk_rows(batch_size, x)
    xs = x.detach().to(model_device(model, x.device))
    path = _Path(model, xs, check_baseline(baseline, xs), resolve_targets(model, xs, target, rows), rows)

    if steps is not None:
        average, s_x, s_base, n_steps, evaluations, margin = _ig_fixed_steps(path, rule, steps, need_ends=return_info)
    elif rule == "trapezoid":
        average, s_x, s_base, n_steps, evaluations, margin = _ig_adaptive_trapezoid(path, tolerance, max_steps)
    else:
        average, s_x, s_base, n_steps, evaluations, margin = _ig_adaptive_gauss_legendre(path, tolerance, max_steps)
    _warn_if_no_gradient(average, "integrated_gradients", "at every point of the path of")
    attributions = path.difference * average
    if s_x is None:  # fixed steps without info: nothing to report
        return attributions.to(x.device, x.dtype)

    gap, relative_gap, converged = _completeness(attributions, s_x, s_base, tolerance)
    attributions = attributions.to(x.device, x.dtype)
    if steps is None and not return_info and not converged.all():
        worst = float(relative_gap[~converged].max())
        warnings.warn(
            f"integrated_gradients: {int((~converged).sum())} of {x.shape[0]} example(s) missed the "
            f"completeness tolerance {tolerance:g} at max_steps={max_steps} (worst relative gap {worst:.3g}); "
            f"raise max_steps, or pass return_info=True to read the gaps",
            RuntimeWarning,
            stacklevel=2,
        )
    if not return_info:
        return attributions
    info = IntegratedGradientsInfo(
        steps=n_steps,
        evaluations=evaluations,
        score_difference=(s_x.cpu().double() - s_base.cpu().double()),
        gap=gap,
        relative_gap=relative_gap,
        converged=converged,
        targets=path.targets.clone(),
        decision_margin=margin / (s_x.cpu().double().abs() + s_base.cpu().double().abs()).clamp_min(1e-300),
        rule=rule,
        tolerance=tolerance,
    )
    return attributions, info


def completeness(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target=None, *, baseline=None):
    r"""The sum of each example's attributions and the score difference it should equal.

    Integrated Gradients (from this module, Captum or anywhere else) promise
    :math:`\sum_i a_i = S_c(x) - S_c(x')`; this puts the two side by side. Only
    forward passes are made (two rows per example).

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    attributions : torch.Tensor, shape of ``x``
    target : None, int or int tensor [B]
        None means the class predicted at ``x``.
    baseline : None, float or tensor
        :math:`x'`, as in :func:`integrated_gradients` (None: zeros).

    Returns
    -------
    sums, score_differences : torch.Tensor, float64, [B] (CPU)
        :math:`\sum_i a_i` and :math:`S_c(x) - S_c(x')`; the relative completeness
        gap is ``(sums - score_differences).abs() / score_differences.abs()``.

    Examples
    --------
    >>> sums, differences = completeness(model, x, integrated_gradients(model, x, steps=16))  # doctest: +SKIP
    """
    _check_model(model)
    check_batch(x)
    if not isinstance(attributions, torch.Tensor) or attributions.shape != x.shape:
        shape = tuple(attributions.shape) if isinstance(attributions, torch.Tensor) else type(attributions).__name__
        raise ValueError(f"attributions must have the shape of x {tuple(x.shape)}; got {shape}")
    rows = chunk_rows(None, x)
    device = model_device(model, x.device)
    xs = x.detach().to(device)
    targets = resolve_targets(model, xs, target, rows)
    s_x = forward_scores(model, xs, targets, rows)[0]
    s_base = forward_scores(model, check_baseline(baseline, xs), targets, rows)[0]
    sums = attributions.detach().reshape(x.shape[0], -1).sum(dim=1).cpu().double()
    return sums, s_x.double() - s_base.double()


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    layer: nn.Module,
    batch_size: int | None = None,
) -> torch.Tensor:
    r"""Grad-CAM: the layer's feature maps weighted by their average gradient, rectified.

    Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra, "Grad-CAM: Visual
    Explanations from Deep Networks via Gradient-based Localization", 2017,
    arXiv 1610.02391. With :math:`A^k` the layer's ``K`` feature maps
    (:math:`h \times w` each):

    .. math:: \alpha_k = \frac{1}{hw} \sum_{i,j} \frac{\partial S_c}{\partial A^k_{ij}},
              \qquad L_c = \mathrm{ReLU}\Big(\sum_k \alpha_k A^k\Big),

    upsampled bilinearly from :math:`h \times w` to the input's height and width.
    The layer's forward hook is removed when the call ends, also when it fails.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, C, H, W]
    target : None, int or int tensor [B], default None
    layer : torch.nn.Module
        A submodule of ``model`` that runs once per forward pass and outputs
        feature maps ``[B, K, h, w]`` (usually the last convolutional stage).
    batch_size : int, optional
        Rows per forward/backward pass; the result does not depend on it. Default:
        as many as hold :data:`AUTO_CHUNK_VALUES` input values (about 1,300
        digits), as for every gradient method.

    Returns
    -------
    torch.Tensor, non-negative, shape of ``x``
        The same map in every channel, so that every gradient method returns the
        input's shape; take ``[:, :1]`` for one map per image.

    Raises
    ------
    TypeError
        ``layer`` not a module; a scripted model or layer (``torch.jit``: hooks
        do not run there); and as in :func:`target_gradients`.
    ValueError
        ``x`` not ``[B, C, H, W]``; ``layer`` not in the model, not run exactly
        once, or not returning ``[B, K, h, w]``; and as in :func:`target_gradients`.

    Examples
    --------
    >>> cam = grad_cam(model, X_test[:8], layer=model.conv1)  # doctest: +SKIP
    >>> cam.shape  # doctest: +SKIP
    torch.Size([8, 1, 28, 28])
    """
    _check_model(model)
    check_batch(x)
    if x.ndim != 4:
        raise ValueError(f"grad_cam explains images: x must be [B, C, H, W]; got shape {tuple(x.shape)}")
    if not isinstance(layer, nn.Module):
        raise TypeError(f"layer must be a torch.nn.Module inside the model; got {type(layer).__name__}")
    if isinstance(model, torch.jit.ScriptModule) or isinstance(layer, torch.jit.ScriptModule):
        raise TypeError(
            "grad_cam: scripted models (torch.jit.script / torch.jit.trace) are not supported: Grad-CAM reads "
            "the layer's output through a forward hook, which TorchScript modules do not run; pass the original "
            "Python nn.Module (the other gradient methods accept scripted models)"
        )
    result = target_gradients(model, x, target, batch_size=batch_size, layer=layer)
    maps, grads = result.activations, result.gradients
    if maps.ndim != 4:
        raise ValueError(
            f"layer must output feature maps [B, K, h, w]; {type(layer).__name__} output has shape {tuple(maps.shape)}"
        )
    _warn_if_no_gradient(grads, "grad_cam", "at the layer's output for")
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    return cam.expand(-1, x.shape[1], -1, -1).to(x.device, x.dtype).contiguous()



# --------------------------------------------------------------------------- DeepLIFT and DeepSHAP
#
# DeepLIFT's rescale rule replaces the derivative of every nonlinearity by the slope of its secant between
# the reference and the input, m = (f(z) - f(z')) / (z - z'); linear layers keep their derivative. The
# multipliers chain like derivatives, so a backward pass of the modified network gives them all, and
# (x - x') * m sums to S(x) - S(x') exactly ("summation to delta"). Here the model's computation graph is
# traced with torch.fx (every call of a nonlinearity is a node of its own, whether it is a module, a reused
# module or a function such as F.relu) and each nonlinear node is replaced by a custom autograd Function
# that runs on the input and the reference stacked in one batch and returns the secant slope as its
# derivative. Nothing is hooked on the caller's model.

#: Nonlinearities taken elementwise, given the rescale rule: modules by type, functions by identity.
RESCALED_MODULES = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.GELU, nn.ELU, nn.LeakyReLU, nn.SiLU)
_RESCALED_FUNCTIONS = (F.relu, torch.relu, torch.tanh, torch.sigmoid, F.softplus, F.gelu, F.elu, F.leaky_relu,
                       F.silu, torch.nn.functional.sigmoid, torch.nn.functional.tanh)
#: Max-pooling, given the rule shap and Captum use for it (see :class:`_DeltaMaxPool`).
_POOL_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_POOL_FUNCTIONS = (F.max_pool1d, F.max_pool2d, F.max_pool3d)
#: Layers and operations that are linear (affine) in their input row by row: their derivative is their multiplier.
_LINEAR_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout,
                   nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                   nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_LINEAR_FUNCTIONS = (torch.flatten, F.linear, F.conv1d, F.conv2d, F.conv3d, F.avg_pool1d, F.avg_pool2d,
                     F.adaptive_avg_pool2d, F.dropout)
_LINEAR_METHODS = ("view", "reshape", "flatten", "size", "permute", "transpose", "contiguous", "squeeze",
                   "unsqueeze", "mean", "sum")
#: Secants over a step smaller than this fall back to the derivative at the input (as Captum's eps).
DEEPLIFT_EPS = 1e-10


class _Rescale(torch.autograd.Function):
    """``f`` on a stacked batch ``[inputs; references]``, with the secant slope as its derivative."""

    @staticmethod
    def forward(ctx, z, f):
        z_x, z_r = z.chunk(2)
        out = f(z)
        out_x, out_r = out.chunk(2)
        dz = z_x - z_r
        with torch.enable_grad():  # the derivative at the input, where the step is too small for a secant
            z_leaf = z_x.detach().requires_grad_(True)
            (slope,) = torch.autograd.grad(f(z_leaf).sum(), z_leaf)
        secant = torch.where(dz.abs() > DEEPLIFT_EPS, (out_x - out_r) / torch.where(dz == 0, 1, dz), slope)
        ctx.save_for_backward(secant)
        return out

    @staticmethod
    def backward(ctx, grad):
        (secant,) = ctx.saved_tensors
        return grad * torch.cat([secant, secant]), None


class _DeltaMaxPool(torch.autograd.Function):
    """Max-pooling of a stacked batch ``[inputs; references]`` with DeepLIFT multipliers.

    The rule of shap's and Captum's DeepLIFT: a window's change of output
    ``max(x) - max(x')`` is split at ``c = max(max(x), max(x'))`` into
    ``c - max(x')``, credited to the input's arg-max, and ``max(x) - c``, credited to
    the reference's arg-max; each position's multiplier is its credit over its own
    change ``x - x'`` (0 where that change is below :data:`DEEPLIFT_EPS`). The credits
    of a window add up to its change, so summation to delta holds.
    """

    @staticmethod
    def forward(ctx, z, pool):
        ctx.pool = pool
        ctx.save_for_backward(z)
        return pool(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        z_x, z_r = z.chunk(2)
        g_x = grad.chunk(2)[0]
        with torch.enable_grad():
            leaf_x, leaf_r = z_x.detach().requires_grad_(True), z_r.detach().requires_grad_(True)
            out_x, out_r = ctx.pool(leaf_x), ctx.pool(leaf_r)
            top = torch.maximum(out_x, out_r).detach()
            # the gradient of a max-pool routes each window's upstream value to its arg-max
            (credit_x,) = torch.autograd.grad(out_x, leaf_x, g_x * (top - out_r.detach()))
            (credit_r,) = torch.autograd.grad(out_r, leaf_r, g_x * (out_x.detach() - top))
        dz = z_x - z_r
        multiplier = torch.where(dz.abs() > DEEPLIFT_EPS, (credit_x + credit_r) / torch.where(dz == 0, 1, dz), 0)
        return torch.cat([multiplier, multiplier]), None


class _DeepLiftRule(nn.Module):
    """A node of the traced graph: ``f`` applied with DeepLIFT's rule (a module, so that fx can call it)."""

    def __init__(self, rule, f):
        super().__init__()
        self.rule, self.f = rule, f

    def forward(self, z):
        return self.rule.apply(z, self.f)


def _with_arguments(f, args, kwargs):
    """``f`` of one tensor, with the call's other arguments: ``F.max_pool2d(z, 2)`` as ``pool(z)``."""
    def applied(z):
        return f(z, *args, **kwargs)
    return applied


def _node_name(node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))


def _tensor_args(node) -> int:
    return sum(isinstance(a, fx.Node) for a in list(node.args) + list(node.kwargs.values()))


def deeplift_graph(model: nn.Module):
    """The model's computation traced with ``torch.fx``, every nonlinearity given DeepLIFT's rules.

    The returned ``GraphModule`` shares the model's layers and parameters and runs on a
    stacked batch ``[inputs; references]`` (twice the rows): its output rows are the
    model's, and its derivative with respect to the input rows is DeepLIFT's multiplier.
    Every call of a nonlinearity is its own node, so a ReLU module used twice, or
    ``F.relu`` in ``forward``, gets the rule at each use (hook-based implementations miss
    functions and confuse reused modules: Captum issues 1082 and 1104, shap issue 3938).

    Raises
    ------
    ValueError
        If the model cannot be traced (control flow on values), or uses an operation
        that is neither linear row by row nor one of the supported nonlinearities
        (:data:`RESCALED_MODULES`, ReLU-like functions, max-pooling); the message names it.
    """
    try:
        traced = fx.symbolic_trace(model)
    except Exception as err:  # fx raises TraceError, TypeError, ... on what it cannot follow
        raise ValueError(f"DeepLIFT could not trace {type(model).__name__} with torch.fx ({type(err).__name__}: "
                         f"{err}); its forward must be a fixed graph of layers and tensor operations") from err
    modules = dict(traced.named_modules())
    unsupported, ruled = [], 0

    def give_rule(node, rule, f):  # the node becomes a call of a new submodule applying f with the rule
        nonlocal ruled
        name = f"deeplift_rule_{ruled}"
        ruled += 1
        traced.add_submodule(name, _DeepLiftRule(rule, f))
        node.op, node.target, node.args, node.kwargs = "call_module", name, (node.args[0],), {}

    for node in list(traced.graph.nodes):
        if node.op == "call_module":
            layer = modules[node.target]
            if isinstance(layer, RESCALED_MODULES):
                give_rule(node, _Rescale, layer)
            elif isinstance(layer, _POOL_MODULES):
                if getattr(layer, "return_indices", False):
                    unsupported.append(f"{node.target} ({type(layer).__name__} with return_indices)")
                give_rule(node, _DeltaMaxPool, layer)
            elif not isinstance(layer, _LINEAR_MODULES):
                unsupported.append(f"{node.target} ({type(layer).__name__})")
        elif node.op == "call_function":
            f = node.target
            if f in _RESCALED_FUNCTIONS or f in _POOL_FUNCTIONS:
                if any(isinstance(a, fx.Node) for a in list(node.args[1:]) + list(node.kwargs.values())):
                    unsupported.append(f"{_node_name(node)} with a tensor argument")
                    continue
                give_rule(node, _Rescale if f in _RESCALED_FUNCTIONS else _DeltaMaxPool,
                          _with_arguments(f, node.args[1:], node.kwargs))
            elif f in (operator.mul, operator.truediv, torch.mul) and _tensor_args(node) > 1:
                unsupported.append(f"{_node_name(node)} of two tensors (not linear)")
            elif f not in _LINEAR_FUNCTIONS and f not in (operator.add, operator.sub, operator.neg, operator.mul,
                                                          operator.truediv, operator.getitem, getattr, torch.add,
                                                          torch.sub, torch.mul):
                unsupported.append(_node_name(node))
        elif node.op == "call_method" and node.target not in _LINEAR_METHODS + ("add", "sub", "neg", "__getitem__"):
            unsupported.append(f".{node.target}()")
    if unsupported:
        raise ValueError(f"DeepLIFT supports layers that are linear row by row, elementwise nonlinearities "
                         f"({', '.join(t.__name__ for t in RESCALED_MODULES)}) and max-pooling; "
                         f"{type(model).__name__} uses {', '.join(unsupported)}")
    traced.graph.lint()
    traced.recompile()
    return traced


def _no_gradient_model(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether the model's scores have no differentiable path from its input (a forest, a thresholding model)."""
    device, dtype = model_device(model, x.device), model_dtype(model, x.dtype)
    with evaluation_mode(model), torch.enable_grad():
        probe = x[:1].detach().to(device, dtype).clone().requires_grad_(True)
        try:
            out = class_scores(model, probe)
        except ValueError:
            return False
        if not out.requires_grad:
            return True
        return torch.autograd.grad(out.sum(), probe, allow_unused=True)[0] is None


def _deeplift_rows(graph, x: torch.Tensor, references: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """DeepLIFT of rows ``x`` against rows ``references`` (same shape) for ``targets``, by one backward pass."""
    stacked = torch.cat([x, references]).detach().clone().requires_grad_(True)
    out = class_scores(graph, stacked)
    score, _ = target_scores(out[: x.shape[0]], targets)
    (multipliers,) = torch.autograd.grad(score.sum(), stacked)
    return (multipliers[: x.shape[0]] * (x - references)).detach()


def _deeplift_setup(model, x: torch.Tensor):
    _check_model(model)
    check_batch(x)
    try:
        graph = deeplift_graph(model)
    except ValueError:
        if _no_gradient_model(model, x):
            raise NoGradientError(_NO_GRADIENT) from None
        raise
    return graph, model_device(model, x.device), model_dtype(model, x.dtype)


def deeplift(model: nn.Module, x: torch.Tensor, target=None, *, baseline=0.0,
             batch_size: int | None = None) -> torch.Tensor:
    r"""DeepLIFT with the rescale rule: contributions of ``x - baseline`` to :math:`S_c(x) - S_c(baseline)`.

    Shrikumar, Greenside and Kundaje, "Learning Important Features Through Propagating
    Activation Differences", 2017, ICML (arXiv 1704.02685). Every nonlinearity's
    derivative is replaced by the slope of its secant between the baseline's and the
    input's pre-activations, :math:`m = \Delta f / \Delta z`, max-pooling by the rule of
    :class:`_DeltaMaxPool`; linear layers keep theirs. The contributions
    :math:`(x - x') \odot m` sum to :math:`S_c(x) - S_c(x')` ("summation to delta")
    up to rounding. For a ReLU network without biases and a zero baseline it equals
    Gradient x Input (Ancona, Ceolini, Öztireli and Gross, "Towards better understanding
    of gradient-based attribution methods for deep neural networks", 2018, ICLR).

    Parameters
    ----------
    model : torch.nn.Module
        Class scores ``[B, classes]``, built from layers that are linear row by row
        (linear, convolution, flatten, average-pooling, batch-norm in eval mode) and the
        nonlinearities of :data:`RESCALED_MODULES` or max-pooling, as modules or functions
        (:func:`deeplift_graph`).
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B]
        None means each example's predicted class.
    baseline : number or tensor shaped like x (or broadcast to it), default 0.0
        The reference input :math:`x'`.
    batch_size : int, optional
        Rows per backward pass; the result does not depend on it.

    Returns
    -------
    torch.Tensor, the shape, dtype and device of ``x``

    Raises
    ------
    TypeError, ValueError
        As :func:`target_gradients`; ValueError (:func:`deeplift_graph`) for a model with an
        operation DeepLIFT has no rule for; :class:`NoGradientError` for a model without
        gradients (a random forest).

    Examples
    --------
    >>> contributions = deeplift(model, X_test[:8], baseline=0.0)  # doctest: +SKIP
    >>> contributions.sum(dim=(1, 2, 3))  # S_c(x) - S_c(0) for each digit  # doctest: +SKIP
    """
    graph, device, dtype = _deeplift_setup(model, x)
    references = check_baseline(baseline, x.detach())
    chunk = chunk_rows(batch_size, x)
    targets = resolve_targets(model, x, target, chunk)
    parts = []
    with evaluation_mode(model), torch.enable_grad():
        for start in range(0, x.shape[0], chunk):
            rows = slice(start, start + chunk)
            parts.append(_deeplift_rows(graph, x[rows].detach().to(device, dtype), references[rows].to(device, dtype),
                                        targets[rows].to(device)))
    return torch.cat(parts).to(x.device, x.dtype)


def deep_shap(model: nn.Module, x: torch.Tensor, target=None, *, background: torch.Tensor,
              batch_size: int | None = None) -> torch.Tensor:
    r"""DeepSHAP: DeepLIFT averaged over the rows of a background set.

    Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions", 2017,
    NeurIPS (DeepSHAP); Chen, Lundberg and Lee, "Explaining a series of models by
    propagating Shapley values", 2022, Nature Communications 13. With background rows
    :math:`b_1, \dots, b_K`, the value of input :math:`i` is
    :math:`\frac1K \sum_k \mathrm{DeepLIFT}_i(x; b_k)`; they sum to
    :math:`S_c(x) - \frac1K \sum_k S_c(b_k)`, the efficiency of SHAP values with that
    background. It approximates the interventional SHAP values of the same background:
    exactly for a linear model, not in general (notebook 09 measures how closely).

    Parameters
    ----------
    model : torch.nn.Module
        As :func:`deeplift`.
    x : torch.Tensor, float, [B, ...]
    target : None, int or int tensor [B]
        None means each example's predicted class (at ``x``, for every background row).
    background : torch.Tensor, float, [K, ...]
        Rows shaped like those of ``x``.
    batch_size : int, optional
        Rows (input, background pairs) per backward pass; the result does not depend on it.

    Returns
    -------
    torch.Tensor, the shape, dtype and device of ``x``

    Raises
    ------
    TypeError, ValueError
        As :func:`deeplift`; ``background`` not a float tensor of rows shaped like ``x``'s.
    """
    graph, device, dtype = _deeplift_setup(model, x)
    if not isinstance(background, torch.Tensor) or not torch.is_floating_point(background):
        raise TypeError(f"background must be a float tensor of rows [K, ...]; got {type(background).__name__}"
                        + (f" of dtype {background.dtype}" if isinstance(background, torch.Tensor) else ""))
    check_batch(background, "background")
    if tuple(background.shape[1:]) != tuple(x.shape[1:]):
        raise ValueError(f"background rows must be shaped like x's rows {tuple(x.shape[1:])}; "
                         f"got background of shape {tuple(background.shape)}")
    n, k = x.shape[0], background.shape[0]
    chunk = chunk_rows(batch_size, background)  # pairs per backward pass
    targets = resolve_targets(model, x, target, chunk_rows(batch_size, x))
    refs = background.detach().to(device, dtype)
    total = torch.zeros((n, *x.shape[1:]), device=device, dtype=dtype)
    with evaluation_mode(model), torch.enable_grad():
        for pair_start in range(0, n * k, chunk):
            pairs = torch.arange(pair_start, min(pair_start + chunk, n * k))
            rows, backs = pairs // k, pairs % k
            contributions = _deeplift_rows(graph, x.detach()[rows].to(device, dtype), refs[backs],
                                           targets[rows].to(device))
            total.index_add_(0, rows.to(device), contributions)
    return (total / k).to(x.device, x.dtype)
