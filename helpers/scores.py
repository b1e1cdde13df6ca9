"""How every helper calls a model: one home for the plumbing between a method and a network.

- :class:`evaluation_mode` -- eval mode for the call, each submodule's own mode back after.
- :func:`model_device`, :func:`model_dtype` -- where and in which precision a model computes.
- :func:`class_scores` -- call a model on a batch and check that it returned class scores
  ``[B, classes]`` (the one checked call of a model).
- :func:`target_scores` -- the score of each example's target class (the arg-max where none is given).
- :func:`forward_scores`, :func:`resolve_targets` -- target scores from forward passes only,
  and the class each example is explained for (None: the class predicted at ``x``).
- :func:`chunk_rows` and :data:`AUTO_CHUNK_VALUES` -- the one chunking policy: rows per pass.
- :func:`broadcast_baseline`, :func:`check_baseline` -- a baseline shaped like the input.

Used by :mod:`helpers.saliency`, :mod:`helpers.features`, :mod:`helpers.lime`,
:mod:`helpers.metrics` and :mod:`helpers.text`; no notebook teaches it.
"""

from __future__ import annotations

import itertools
import math
from numbers import Real

import torch
import torch.nn as nn

from .checks import all_finite, check_batch_size, check_target, check_tensor

__all__ = [
    "evaluation_mode",
    "model_device",
    "model_dtype",
    "class_scores",
    "target_scores",
    "forward_scores",
    "resolve_targets",
    "chunk_rows",
    "AUTO_CHUNK_VALUES",
    "AUTO_FORWARD_VALUES",
    "MIN_AUTO_ROWS",
    "broadcast_baseline",
    "check_baseline",
]

#: When a method's ``batch_size`` is None, a chunk of a pass WITH gradients holds at most this
#: many input values (4 MiB in float32: about 1,300 MNIST digits or 7 ImageNet photographs per
#: forward/backward pass; a backward pass through EfficientNet-Lite0 needs about 90 MB per
#: 224 x 224 photograph).
AUTO_CHUNK_VALUES = 2**20
#: A chunk of a pass WITHOUT gradients (predictions, the coalition games' masked inputs) holds at
#: most this many (1 MiB), or :data:`MIN_AUTO_ROWS` rows if one row is larger (a photograph).
#: Measured on a CPU: the SimpleCNN runs 4-5x faster per row in chunks of <= 512 digits than of
#: >= 1024 (its activations leave the cache), EfficientNet-Lite0 2x faster in chunks of 1-6
#: photographs than of 24. On a GPU, pass a larger ``batch_size``.
AUTO_FORWARD_VALUES = 2**18
MIN_AUTO_ROWS = 4


class evaluation_mode:
    """Put ``model`` (every submodule) in eval mode; restore each module's own mode after.

    Submodules may have been set to different modes by the caller (a frozen
    batch-norm in an otherwise training model, say): each one gets its own flag back.
    A model already in eval mode throughout is left untouched (nothing to set or restore),
    which keeps the many short evaluations of the coalition methods cheap.

    Examples
    --------
    >>> with evaluation_mode(model):  # doctest: +SKIP
    ...     scores = model(x)
    """

    __slots__ = ("model", "modules", "modes")

    def __init__(self, model: nn.Module, modules=None):
        # ``modules``: ``tuple(model.modules())`` listed beforehand by a caller that enters many times
        self.model, self.modules, self.modes = model, modules, None

    def __enter__(self) -> nn.Module:
        modes = [(module, module.training) for module in (self.modules or self.model.modules())]
        if any(training for _, training in modes):
            self.modes = modes
            self.model.eval()
        return self.model

    def __exit__(self, *exc) -> bool:
        if self.modes is not None:
            for module, training in self.modes:
                module.training = training
            self.modes = None
        return False


def model_device(model: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    """The device of the model's first parameter or buffer (``default`` if it has none).

    Raises
    ------
    ValueError
        If the model's parameters are on the meta device (a shape without values).
    """
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.device.type == "meta":
            raise ValueError(
                "the model's parameters are on the meta device (shapes without values); "
                "materialise them first, e.g. model.to_empty(device='cpu') and then load_state_dict(...)"
            )
        return tensor.device
    return torch.device(default)


def model_dtype(model: nn.Module, default: torch.dtype) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (``default`` if none).

    Inputs are cast to it before the model runs, so a float64 batch meets a
    float32 model without a dtype error (and a float64 model computes in float64).
    """
    for tensor in model.parameters():
        if torch.is_floating_point(tensor):
            return tensor.dtype
    return default


def class_scores(model, inputs: torch.Tensor, *, name: str = "x") -> torch.Tensor:
    """Call ``model`` on a batch and check that it returned class scores ``[B, classes]``.

    The one place where a helper calls a model: it runs ``model(inputs)`` as
    it is (no mode, device, dtype or gradient handling: the caller has done
    that), turns an error of the model into one that names the input's shape,
    and checks the output's type and shape.

    Parameters
    ----------
    model : callable
        A ``torch.nn.Module`` or a function of a tensor.
    inputs : torch.Tensor, [B, ...]
    name : str, default "x"
        How the caller's argument is called, for the message.

    Returns
    -------
    torch.Tensor, [B, classes]
        The model's output itself (still attached to the autograd graph when
        gradients are on).

    Raises
    ------
    ValueError
        If the model fails on ``inputs`` (a shape or dtype it does not accept)
        or returns anything but a tensor ``[B, classes]``.

    Examples
    --------
    >>> class_scores(torch.nn.Linear(4, 3), torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    try:
        out = model(inputs)
    except torch.OutOfMemoryError:
        raise  # not a shape the model refuses: memory ran out (a smaller batch_size helps), said as it is
    except (RuntimeError, ValueError, IndexError) as err:
        raise ValueError(
            f"the model could not run on {name} of shape {tuple(inputs.shape)} and dtype {inputs.dtype} "
            f"(is it the shape the model expects, [B, ...] with a batch dimension first?): {err}"
        ) from err
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != inputs.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the model must return class scores of shape [B, classes] = [{inputs.shape[0]}, classes]; "
            f"got {shape} for {name} of shape {tuple(inputs.shape)}"
        )
    return out


def target_scores(out: torch.Tensor, targets: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The scores ``out[i, targets[i]]`` (the arg-max where ``targets`` is None) and the targets used."""
    if targets is None:
        t = out.detach().argmax(dim=1)
    else:
        t = targets.to(out.device)
        n_classes = out.shape[1]
        if (t < 0).any() or (t >= n_classes).any():
            bad = t[(t < 0) | (t >= n_classes)][0].item()
            raise ValueError(f"target must be a class index in [0, {n_classes}); got {bad}")
    return out.gather(1, t[:, None]).squeeze(1), t


def chunk_rows(batch_size, x: torch.Tensor, *, forward_only: bool = False) -> int:
    """Rows per pass: ``batch_size``, or as many rows of ``x`` as the policy allows.

    The one chunking policy of the helpers: every method that calls a model on many
    rows (gradients, noisy copies, points on a path, masked inputs, predictions)
    takes its chunk size from here: :data:`AUTO_CHUNK_VALUES` input values per pass
    with gradients, :data:`AUTO_FORWARD_VALUES` (at least :data:`MIN_AUTO_ROWS` rows)
    with ``forward_only``.

    Examples
    --------
    >>> chunk_rows(None, torch.zeros(5, 1, 28, 28)), chunk_rows(None, torch.zeros(5, 1, 28, 28), forward_only=True)
    (1337, 334)
    """
    check_batch_size(batch_size)
    if batch_size is not None:
        return int(batch_size)
    per_row = max(1, x[0].numel()) if x.shape[0] else 1
    if forward_only:
        return max(MIN_AUTO_ROWS, AUTO_FORWARD_VALUES // per_row)
    return max(1, AUTO_CHUNK_VALUES // per_row)


def forward_scores(model: nn.Module, inputs: torch.Tensor, targets, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Target scores [N] and targets [N] (CPU) from forward passes only: no gradient is taken.

    The model runs on a copy of each chunk, cast to its device and dtype (as the gradient path
    does), so a model that writes into its input never reaches the caller's tensor, and a
    float64 or half-precision model meets float32 inputs without a dtype error.
    """
    device = model_device(model, inputs.device)
    dtype = model_dtype(model, inputs.dtype)
    scores, chosen = [], []
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, inputs.shape[0], rows):
            out = class_scores(model, inputs[start:start + rows].detach().to(device, dtype, copy=True))
            score, t = target_scores(out, None if targets is None else targets[start:start + rows])
            scores.append(score.cpu())
            chosen.append(t.cpu())
    return torch.cat(scores), torch.cat(chosen)


def resolve_targets(model: nn.Module, x: torch.Tensor, target, rows: int) -> torch.Tensor:
    """The class explained for every row of ``x``, int64 [B] on the CPU.

    Methods that evaluate the model away from ``x`` (noisy copies, points on a path) must
    explain the class predicted AT ``x`` everywhere, so None is resolved here, once, by a
    forward pass on ``x``; given targets are only checked (their range is checked by the
    first call of :func:`target_gradients`).
    """
    targets = check_target(target, x.shape[0])
    if targets is not None:
        return targets
    return forward_scores(model, x, None, rows)[1]


def broadcast_baseline(baseline: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A finite copy of the tensor ``baseline``, broadcast to the shape, device and dtype of ``like``.

    Shared by :func:`integrated_gradients` and :class:`helpers.features.CoalitionGame`.

    Raises
    ------
    ValueError
        If ``baseline`` does not broadcast to ``like`` or holds NaN/Inf.
    """
    try:
        result = torch.broadcast_to(baseline.detach().to(like.device, like.dtype), like.shape)
    except RuntimeError as err:
        raise ValueError(
            f"baseline must be shaped like x {tuple(like.shape)} or broadcast to it; got shape {tuple(baseline.shape)}"
        ) from err
    if not all_finite(result):
        raise ValueError("baseline must be finite; it holds NaN or Inf values")
    return result.contiguous().clone()


def check_baseline(baseline, xs: torch.Tensor, *, accepted: str = "None, a number or a tensor shaped like x") -> torch.Tensor:
    """The baseline :math:`x'` as a tensor shaped like ``xs``: one rule for every method that takes one.

    None is zeros, a number fills ``xs``'s shape, a float tensor is broadcast to it
    (:func:`broadcast_baseline`). An integer tensor is refused (``TypeError``, the
    rule of :mod:`helpers.checks`: the wrong kind where real values are needed), so
    that Integrated Gradients and the coalition games treat the same baseline alike.
    ``accepted`` says, in the caller's words, what it takes (for the message).

    Examples
    --------
    >>> check_baseline(0.5, torch.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """
    if baseline is None:
        return torch.zeros_like(xs)
    if isinstance(baseline, torch.Tensor):
        if not torch.is_floating_point(baseline):
            raise TypeError(f"baseline must be a float tensor ({accepted}); got dtype {baseline.dtype}")
        check_tensor("baseline", baseline, floating=False, finite=False)  # not on the meta device
        return broadcast_baseline(baseline, xs)
    if isinstance(baseline, bool) or not isinstance(baseline, Real):
        raise TypeError(f"baseline must be {accepted}; got {type(baseline).__name__}")
    if not math.isfinite(float(baseline)):
        raise ValueError(f"baseline must be finite; got {baseline!r}")
    return torch.full_like(xs, float(baseline))
