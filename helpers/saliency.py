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

The guarantees, for every method here: the model runs in eval mode and every
submodule gets its own mode back; the caller's tensors (values, ``requires_grad``,
``.grad``) and the parameters' ``.grad`` are left exactly as they were; bad input
raises a ``TypeError``/``ValueError`` that names the value and what was expected.

Taught in ``notebooks/01_gradients_from_scratch.ipynb`` and
``notebooks/02_cnn_saliency_mnist.ipynb``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from numbers import Integral

import torch
import torch.nn as nn

from .models import evaluation_mode

__all__ = [
    "TargetGradients",
    "target_gradients",
    "gradient",
    "finite_difference_gradient",
    "minimal_example_saliency",
    "model_device",
]

_NO_GRADIENT = (
    "the model's output does not depend differentiably on x (autograd finds no path from the "
    "scores back to the input: the model detaches, thresholds or rounds it), so there is no "
    "gradient to explain it with; use a method that needs only predictions, such as LIME "
    "(helpers.lime) or SHAP (helpers.shapley)"
)


def model_device(model: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    """The device of the model's first parameter or buffer (``default`` if it has none)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device(default)


def _model_dtype(model: nn.Module, default: torch.dtype) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (``default`` if none)."""
    for tensor in model.parameters():
        if torch.is_floating_point(tensor):
            return tensor.dtype
    return default


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module (gradient methods need its modules and parameters); "
            f"got {type(model).__name__}"
        )


def _check_batch(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"x must be a floating-point tensor (gradients need real values); got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"x must be batched, [B, ...] (e.g. [B, C, H, W] for images, [B, F] for tables); "
            f"got shape {tuple(x.shape)}; add a batch dimension with x.unsqueeze(0)"
        )
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one example; got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"x must be finite; it holds {bad} NaN or Inf value(s)")


def _check_target(target, batch: int) -> torch.Tensor | None:
    """Turn ``target`` into an int64 tensor [batch] (or None); the range is checked later."""
    if target is None:
        return None
    if isinstance(target, bool) or (isinstance(target, torch.Tensor) and target.dtype == torch.bool):
        raise TypeError(f"target must be an int or an int tensor; got a bool {target!r}")
    if isinstance(target, Integral):
        return torch.full((batch,), int(target), dtype=torch.int64)
    if isinstance(target, (list, tuple)):
        if not all(isinstance(t, Integral) and not isinstance(t, bool) for t in target):
            raise TypeError(f"target must be an int or a sequence of ints; got {target!r}")
        target = torch.tensor(target, dtype=torch.int64)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be None, an int or an int tensor [B]; got {type(target).__name__}")
    if torch.is_floating_point(target) or torch.is_complex(target):
        raise TypeError(f"target must hold integer class indices; got dtype {target.dtype}")
    if target.ndim == 0:
        return torch.full((batch,), int(target), dtype=torch.int64)
    if target.ndim != 1 or target.shape[0] != batch:
        raise ValueError(
            f"target must be an int or an int tensor of length B={batch} (one class per example); "
            f"got shape {tuple(target.shape)}"
        )
    return target.detach().to("cpu", torch.int64)


def _check_batch_size(batch_size) -> None:
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}")


def _forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    try:
        out = model(inputs)
    except (RuntimeError, ValueError, IndexError) as err:
        raise ValueError(
            f"the model could not run on x of shape {tuple(inputs.shape)} "
            f"(is it the shape the model expects, [B, ...] with a batch dimension first?): {err}"
        ) from err
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != inputs.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the model must return class scores of shape [B, classes] = [{inputs.shape[0]}, classes]; got {shape}"
        )
    return out


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
        result does not depend on it.
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
    _check_batch(inputs)
    _check_batch_size(batch_size)
    targets = _check_target(target, inputs.shape[0])
    if layer is not None and not any(module is layer for module in model.modules()):
        raise ValueError(f"layer must be a submodule of the model; got {type(layer).__name__} that is not in it")
    device = model_device(model, inputs.device)
    dtype = _model_dtype(model, inputs.dtype)
    n_rows = inputs.shape[0]
    chunk = n_rows if batch_size is None else int(batch_size)

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
                out = _forward(model, x.clone())
                if targets is None:
                    t = out.detach().argmax(dim=1)
                else:
                    t = targets[start:start + chunk].to(out.device)
                    n_classes = out.shape[1]
                    if (t < 0).any() or (t >= n_classes).any():
                        bad = t[(t < 0) | (t >= n_classes)][0].item()
                        raise ValueError(f"target must be a class index in [0, {n_classes}); got {bad}")
                score = out.gather(1, t[:, None]).squeeze(1)
                wrt = x
                if layer is not None:
                    if len(captured) != 1 or not isinstance(captured[0], torch.Tensor):
                        raise ValueError(
                            f"layer must run exactly once per forward pass and return a tensor; "
                            f"it ran {len(captured)} time(s)"
                        )
                    wrt = captured[0]
                if not score.requires_grad:
                    raise ValueError(_NO_GRADIENT)
                (g,) = torch.autograd.grad(score.sum(), wrt, allow_unused=True)
                if g is None:
                    raise ValueError(_NO_GRADIENT)
                grads.append(g.detach())
                scores.append(score.detach())
                chosen.append(t.detach())
                if layer is not None:
                    activations.append(wrt.detach())
    finally:
        if handle is not None:
            handle.remove()
    result_device = inputs.device
    return TargetGradients(
        gradients=torch.cat(grads).to(result_device, inputs.dtype),
        scores=torch.cat(scores).to(result_device),
        targets=torch.cat(chosen).to(result_device),
        activations=torch.cat(activations).to(result_device) if layer is not None else None,
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
        Rows per forward/backward pass (None: the whole batch at once).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.

    Raises
    ------
    TypeError, ValueError
        See :func:`target_gradients`.

    Examples
    --------
    >>> saliency = gradient(model, X_test[:8])  # doctest: +SKIP
    >>> saliency.shape  # doctest: +SKIP
    torch.Size([8, 1, 28, 28])
    """
    grads = target_gradients(model, x, target, batch_size=batch_size).gradients
    return grads.abs() if absolute else grads


def finite_difference_gradient(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    eps: float = 1e-4,
    batch_size: int = 2048,
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
        Step size; the error is :math:`O(\varepsilon^2)` where the model is smooth.
    batch_size : int, default 2048
        Perturbed rows per forward pass.

    Returns
    -------
    torch.Tensor, float64, shape of ``x``

    Examples
    --------
    >>> fd = finite_difference_gradient(model, x[:1], target=3)  # doctest: +SKIP
    """
    _check_model(model)
    _check_batch(x)
    _check_batch_size(batch_size)
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps!r}")
    targets = _check_target(target, x.shape[0])
    twin = copy.deepcopy(model).double()
    device = model_device(twin, x.device)
    xs = x.detach().to(device, torch.float64)
    with evaluation_mode(twin), torch.no_grad():
        out = _forward(twin, xs)
        if targets is None:
            targets = out.argmax(dim=1).cpu()
        elif (targets < 0).any() or (targets >= out.shape[1]).any():
            raise ValueError(f"target must be a class index in [0, {out.shape[1]}); got {targets.tolist()}")
        n_values = xs[0].numel()
        result = torch.empty(xs.shape, dtype=torch.float64)
        steps = torch.eye(n_values, dtype=torch.float64, device=device).reshape(n_values, *xs.shape[1:]) * eps
        for b in range(xs.shape[0]):
            perturbed = torch.cat([xs[b] + steps, xs[b] - steps])
            scores = torch.cat([
                _forward(twin, perturbed[i:i + batch_size])[:, int(targets[b])]
                for i in range(0, perturbed.shape[0], batch_size)
            ])
            result[b] = ((scores[:n_values] - scores[n_values:]) / (2 * eps)).reshape(xs.shape[1:]).cpu()
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
