"""Argument checks for every helper, in one place, with one rule for the error type.

The rule:

- ``TypeError``: the argument is the wrong KIND of object: a string where a
  number or a bool is expected, a float where an int is expected, a list where
  a tensor is expected, an integer tensor where real values are needed, a
  function where a ``torch.nn.Module`` is needed.
- ``ValueError``: the kind is right but the VALUE is not: negative, zero, NaN or
  infinite, out of range, the wrong shape, an empty batch, a tensor on the
  ``meta`` device (a shape without values).

Every message names the argument, what was expected and what was given, e.g.
``"n_samples must be an int >= 1; got 0"``. ``bool`` is never accepted as a
number (``True`` is an ``int`` to Python, but nobody means ``n_samples=True``).

The checks return the value in a canonical form (a Python ``int`` or ``float``,
an ``int64`` target tensor), so a caller writes ``n = check_int("n", n, 1)``.

How a helper calls a model (eval mode, device, dtype, the checked call itself) is
not an argument check: it lives in :mod:`helpers.scores`.

No notebook teaches this module; every helper that the notebooks call uses it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    "check_bool",
    "check_int",
    "check_positive_int",
    "check_batch_size",
    "check_float",
    "check_positive_float",
    "check_fraction",
    "check_choice",
    "check_interval",
    "check_seed",
    "check_model",
    "check_tensor",
    "check_batch",
    "check_maps",
    "check_explanation",
    "check_target",
    "all_finite",
]

#: The largest class index a target may hold before any model is asked (int64's range).
_INT64_MAX = 2**63 - 1


def _got(value) -> str:
    """``got 'x' of type str``: the value and, where it says more, its type."""
    return f"got {value!r} of type {type(value).__name__}"


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


# --------------------------------------------------------------------------- plain Python values


def check_bool(name: str, value) -> bool:
    """``value`` itself if it is ``True`` or ``False`` (a NumPy bool too).

    Raises
    ------
    TypeError
        For anything else, the string ``"False"`` and the int ``1`` included
        (``bool("False")`` is True, which is never what the caller meant).

    Examples
    --------
    >>> check_bool("absolute", False)
    False
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; {_got(value)}")


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``, checked against ``minimum`` and ``maximum`` (both included).

    Raises
    ------
    TypeError
        If ``value`` is not an integer (a float such as ``2.0``, a string, a bool).
    ValueError
        If it is below ``minimum`` or above ``maximum``.

    Examples
    --------
    >>> check_int("steps", 8, 2)
    8
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an int; {_got(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int <= {maximum}; got {value}")
    return value


def check_positive_int(name: str, value) -> int:
    """``value`` as an ``int >= 1``; see :func:`check_int`.

    Examples
    --------
    >>> check_positive_int("n_samples", 50)
    50
    """
    return check_int(name, value, 1)


def check_batch_size(batch_size, name: str = "batch_size") -> int | None:
    """``None`` (the helper's automatic chunking) or a positive ``int``.

    Raises
    ------
    TypeError
        If it is neither None nor an int.
    ValueError
        If it is an int below 1.
    """
    if batch_size is None:
        return None
    if not _is_int(batch_size):
        raise TypeError(f"{name} must be a positive int or None; {_got(batch_size)}")
    if batch_size < 1:
        raise ValueError(f"{name} must be a positive int or None; got {batch_size}")
    return int(batch_size)


def check_float(name: str, value, *, minimum: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite ``float``, optionally ``>= minimum`` or ``> 0``.

    Parameters
    ----------
    name : str
    value : int or float (NumPy scalars too; never a bool)
    minimum : float, optional
        The smallest value allowed (included).
    positive : bool, default False
        Require ``value > 0``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a string, a bool, a tensor, None).
    ValueError
        If it is NaN or infinite, below ``minimum``, or not positive when ``positive``.

    Examples
    --------
    >>> check_float("noise_level", 0.15, minimum=0.0)
    0.15
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a number; {_got(value)}")
    value = float(value)
    if positive:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0; got {value}")
    elif minimum is not None:
        if not math.isfinite(value) or value < minimum:
            raise ValueError(f"{name} must be a finite number >= {minimum:g}; got {value}")
    elif not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    return value


def check_positive_float(name: str, value) -> float:
    """``value`` as a finite ``float > 0``; see :func:`check_float`.

    Examples
    --------
    >>> check_positive_float("eps", 1e-4)
    0.0001
    """
    return check_float(name, value, positive=True)


def check_fraction(name: str, value, *, closed: bool = False) -> float:
    """``value`` as a ``float`` strictly between 0 and 1 (``closed=True``: 0 and 1 allowed).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (e.g. the string ``"0.2"``).
    ValueError
        If it is outside the interval or NaN.

    Examples
    --------
    >>> check_fraction("test_fraction", 0.25)
    0.25
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a number in {'[0, 1]' if closed else '(0, 1)'}; {_got(value)}")
    value = float(value)
    inside = 0 <= value <= 1 if closed else 0 < value < 1
    if not inside:
        raise ValueError(f"{name} must be in {'[0, 1]' if closed else '(0, 1)'}; got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    """``value`` if it is one of the strings ``choices``.

    Raises
    ------
    TypeError
        If ``value`` is not a string.
    ValueError
        If it is a string that is not one of ``choices``.

    Examples
    --------
    >>> check_choice("rule", "trapezoid", ("trapezoid", "gauss_legendre"))
    'trapezoid'
    """
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}; {_got(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_interval(name: str, value) -> tuple[float, float] | None:
    """``value`` as a pair ``(low, high)`` of finite floats with ``low < high``, or None.

    Raises
    ------
    TypeError
        If it is not None and not a pair of numbers.
    ValueError
        If a bound is not finite, or ``low >= high``.

    Examples
    --------
    >>> check_interval("clip", (0, 1))
    (0.0, 1.0)
    """
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_real(v) for v in value):
        raise TypeError(f"{name} must be None or a pair (low, high) of numbers, e.g. (0.0, 1.0); got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be a pair (low, high) of finite numbers with low < high; got {value!r}")
    return low, high


def check_seed(seed) -> int:
    """``seed`` as an ``int`` in ``[0, 2**32)`` (what :class:`torch.Generator` and NumPy accept).

    Raises
    ------
    TypeError
        If ``seed`` is not an int (a float, a string, a bool).
    ValueError
        If it is outside ``[0, 2**32)``.
    """
    if not _is_int(seed):
        raise TypeError(f"seed must be an int; {_got(seed)}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32); got {seed}")
    return int(seed)


# --------------------------------------------------------------------------- models and tensors


def check_model(model, *, purpose: str | None = None) -> nn.Module:
    """``model`` if it is a :class:`torch.nn.Module`.

    Parameters
    ----------
    model : object
    purpose : str, optional
        Why a module is needed, said in the message (e.g. "gradient methods need
        its modules and parameters").

    Raises
    ------
    TypeError
        If ``model`` is not a module (a function, a NumPy predictor, a string).
    """
    if not isinstance(model, nn.Module):
        why = f" ({purpose})" if purpose else ""
        raise TypeError(f"model must be a torch.nn.Module{why}; got {type(model).__name__}")
    return model


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether every value of ``tensor`` is finite.

    One pass first: a NaN or an Inf anywhere makes the sum NaN or Inf, so a
    finite sum proves every value finite; only otherwise are the values checked
    one by one (a sum of huge finite values may overflow).

    Examples
    --------
    >>> all_finite(torch.tensor([1.0, float("nan")]))
    False
    """
    tensor = tensor.detach()
    return math.isfinite(float(tensor.sum())) or bool(torch.isfinite(tensor).all())


def _check_not_meta(name: str, tensor: torch.Tensor) -> None:
    if tensor.device.type == "meta":
        raise ValueError(
            f"{name} is on the meta device: it has a shape {tuple(tensor.shape)} but no values; "
            f"create it on a real device (e.g. torch.zeros(..., device='cpu')) or move the data there first"
        )


def check_tensor(name: str, value, *, floating: bool = True, finite: bool = True) -> torch.Tensor:
    """``value`` if it is a tensor with values (not on the meta device).

    Parameters
    ----------
    name : str
    value : object
    floating : bool, default True
        Require a floating-point dtype.
    finite : bool, default True
        Require every value to be finite (checked with :func:`all_finite`).

    Raises
    ------
    TypeError
        If ``value`` is not a tensor, or not floating-point when ``floating``.
    ValueError
        If it is on the meta device or holds NaN/Inf when ``finite``.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if floating and not torch.is_floating_point(value):
        raise TypeError(f"{name} must be a floating-point tensor (gradients need real values); got dtype {value.dtype}")
    _check_not_meta(name, value)
    if finite and not all_finite(value):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name} must be finite; it holds {bad} NaN or Inf value(s)")
    return value


def check_batch(x, name: str = "x") -> torch.Tensor:
    """``x`` if it is a finite float batch ``[B, ...]`` with ``B >= 1``.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or not floating-point.
    ValueError
        If it has no batch dimension (fewer than 2 dimensions), no example, sits
        on the meta device or holds NaN/Inf.

    Examples
    --------
    >>> check_batch(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 1, 28, 28])
    """
    check_tensor(name, x, floating=True, finite=False)
    return _check_batched(name, x, "(e.g. [B, C, H, W] for images, [B, F] for tables)")


def check_maps(name: str, maps) -> torch.Tensor:
    """``maps`` if it is a finite real batch of maps ``[B, ...]`` with ``B >= 1`` (float or integer values).

    What every measure that compares or summarises explanations checks first,
    so that an empty batch, a map without values or a NaN is named, not met
    as an error from deep inside a reshape or a ranking.

    Raises
    ------
    TypeError
        If ``maps`` is not a tensor, or holds booleans or complex numbers.
    ValueError
        If it has fewer than 2 dimensions, no map, sits on the meta device or
        holds NaN/Inf.

    Examples
    --------
    >>> check_maps("a", torch.zeros(0, 16))
    Traceback (most recent call last):
    ...
    ValueError: a must hold at least one example; got shape (0, 16)
    """
    check_tensor(name, maps, floating=False, finite=False)
    if maps.dtype == torch.bool or maps.is_complex():
        raise TypeError(f"{name} must hold real values (float or integer); got dtype {maps.dtype}")
    return _check_batched(name, maps, "(one map per example)")


def check_explanation(name: str, maps, batch: int) -> torch.Tensor:
    """What an explanation method returned, as a tensor of ``batch`` maps ``[batch, ...]``.

    A NumPy array is taken as it is (``torch.from_numpy``); anything else, or
    a number of maps that differs from the number of inputs, is refused with
    the method's name, so the fault is not met later in a ranking or a reshape.

    Raises
    ------
    TypeError
        If ``maps`` is neither a tensor nor a NumPy array.
    ValueError
        If it does not hold one map per input.

    Examples
    --------
    >>> check_explanation("gradient", np.zeros((2, 4)), 2).shape
    torch.Size([2, 4])
    """
    if isinstance(maps, np.ndarray):
        maps = torch.from_numpy(maps)
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor (or NumPy array) of maps [B, ...]; "
                        f"got {type(maps).__name__}")
    if maps.ndim < 2 or maps.shape[0] != batch:
        raise ValueError(f"{name} must return one map per input, [{batch}, ...]; got shape {tuple(maps.shape)}")
    return maps


def _check_batched(name: str, x: torch.Tensor, example: str) -> torch.Tensor:
    if x.ndim < 2:
        raise ValueError(
            f"{name} must be batched, [B, ...] {example}; "
            f"got shape {tuple(x.shape)}; add a batch dimension with {name}.unsqueeze(0)"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example; got shape {tuple(x.shape)}")
    if not all_finite(x):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite; it holds {bad} NaN or Inf value(s)")
    return x


def _check_class_index(value) -> int:
    """An int that fits int64 (negative ones are reported against the model's class count later)."""
    value = int(value)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise ValueError(f"target must be a class index in [0, classes); got {value}, beyond any model's classes")
    return value


def check_target(target, batch: int) -> torch.Tensor | None:
    """``target`` as an ``int64`` CPU tensor ``[batch]``, or None.

    Accepts None (the caller explains each example's predicted class), an int
    (the same class for every example), a sequence of ints or an integer tensor
    ``[batch]`` (or a 0-d one). Whether the classes exist is checked once the
    model has said how many it has (the caller does that).

    Raises
    ------
    TypeError
        For a bool, a float, a string or a float tensor.
    ValueError
        For a tensor of the wrong length or shape, or an int too large for any
        model (beyond int64).

    Examples
    --------
    >>> check_target(3, 2)
    tensor([3, 3])
    """
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)) or (isinstance(target, torch.Tensor) and target.dtype == torch.bool):
        raise TypeError(f"target must be an int or an int tensor; got a bool {target!r}")
    if _is_int(target):
        return torch.full((batch,), _check_class_index(target), dtype=torch.int64)
    if isinstance(target, (list, tuple)):
        if not all(_is_int(t) for t in target):
            raise TypeError(f"target must be an int or a sequence of ints; got {target!r}")
        target = torch.tensor([_check_class_index(t) for t in target], dtype=torch.int64)
    if isinstance(target, np.ndarray):
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"target must hold integer class indices; got a NumPy array of dtype {target.dtype}")
        target = torch.from_numpy(target.astype(np.int64))
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be None, an int or an int tensor [B]; got {type(target).__name__}")
    if torch.is_floating_point(target) or torch.is_complex(target):
        raise TypeError(f"target must hold integer class indices; got dtype {target.dtype}")
    _check_not_meta("target", target)
    if target.ndim == 0:
        return torch.full((batch,), int(target), dtype=torch.int64)
    if target.ndim != 1 or target.shape[0] != batch:
        raise ValueError(
            f"target must be an int or an int tensor of length B={batch} (one class per example); "
            f"got shape {tuple(target.shape)}"
        )
    return target.detach().to("cpu", torch.int64)
