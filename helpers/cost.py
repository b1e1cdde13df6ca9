"""What an explanation costs, counted rather than claimed.

:class:`CostCounter` wraps a model for the duration of a ``with`` block and
counts what the model is asked to do there:

- ``forward_rows``: inputs the model was run on (the batch sizes of its calls,
  summed): the cost unit of every method, gradient or coalition;
- ``forward_calls``: how many times it was called (one call may carry many rows);
- ``backward_passes`` and ``backward_rows``: gradients that flowed back through
  its output;
- ``seconds``: wall-clock time spent inside the block.

What one forward row costs differs from model to model. :func:`multiply_adds`
counts it from the model's layers (the multiply-accumulate operations of its
convolutions and matrix products, the same on every machine);
:func:`seconds_per_evaluation` times a game's evaluations on this machine.
Notebook 04 compares the photograph's network with the digit's with both.

It counts whatever calls the model: a gradient method of :mod:`helpers.saliency`,
a coalition game of :mod:`helpers.features` evaluating coalitions through the
model, or your own code. For a prediction function that is not a
``torch.nn.Module`` (say, the NumPy function the ``lime`` package calls),
:meth:`CostCounter.wrap` returns a counted version of it.

:class:`CountedGame` is what every coalition game counts of itself (coalitions evaluated,
calls), the same two quantities seen from the game's side.

Taught in ``notebooks/03_beyond_vanilla_gradients.ipynb``; used again wherever
methods are compared on cost (``notebooks/04_lime.ipynb`` for the cost of a row,
``notebooks/06_comparison.ipynb``).
"""

from __future__ import annotations

import functools
import statistics
import time
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .checks import check_batch, check_int, check_model, check_seed
from .scores import evaluation_mode, model_device, model_dtype

__all__ = ["CostCounter", "CountedGame", "multiply_adds", "seconds_per_evaluation"]


def _rows_of(args, kwargs) -> int:
    """Batch size of a call: the length of its first tensor (or array) argument; 1 if there is none."""
    for value in list(args) + list(kwargs.values()):
        shape = getattr(value, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
    return 1


class CostCounter:
    """Count forward rows, forward calls, backward passes and seconds spent on a model.

    Hooks are attached to ``model`` when the ``with`` block starts and removed when
    it ends (also when it ends with an exception); the model's outputs are not
    changed. Counts add up over successive ``with`` blocks of the same counter;
    make a new counter to start from zero. Calls of submodules on their own (not
    through ``model``) are not counted.

    Parameters
    ----------
    model : torch.nn.Module, optional
        The model to watch. None counts only what goes through :meth:`wrap` and
        :meth:`record_forward`.

    Attributes
    ----------
    forward_rows : int
        Rows the model was run on (its first argument's length, summed over calls).
    forward_calls : int
    backward_passes : int
        Backward passes that reached the model's output (one per ``backward()`` or
        ``torch.autograd.grad`` through it).
    backward_rows : int
        Rows of those outputs.
    seconds : float
        Wall-clock time inside the ``with`` blocks (the running total while inside).
        On a GPU, queued work is waited for when a block ends.

    Raises
    ------
    TypeError
        If ``model`` is neither None nor a ``torch.nn.Module``.
    RuntimeError
        If a ``with`` block is entered while the same counter is already active.

    Examples
    --------
    >>> with CostCounter(model) as cost:  # doctest: +SKIP
    ...     saliency = gradient(model, X_test[:8])
    >>> cost.forward_rows, cost.backward_passes  # doctest: +SKIP
    (8, 1)
    """

    def __init__(self, model: nn.Module | None = None):
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(
                f"model must be a torch.nn.Module (or None, then count through .wrap); got {type(model).__name__}"
            )
        self.model = model
        self.forward_rows = 0
        self.forward_calls = 0
        self.backward_passes = 0
        self.backward_rows = 0
        self._seconds = 0.0
        self._started: float | None = None
        self._handles: list = []

    # -- counting

    @property
    def active(self) -> bool:
        """True inside the ``with`` block."""
        return self._started is not None

    @property
    def seconds(self) -> float:
        if self._started is None:
            return self._seconds
        return self._seconds + time.perf_counter() - self._started

    def record_forward(self, rows: int, calls: int = 1) -> None:
        """Count ``rows`` forward rows in ``calls`` calls made by other means (only while active)."""
        for name, value in (("rows", rows), ("calls", calls)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int; got {value!r}")
        if self.active:
            self.forward_rows += rows
            self.forward_calls += calls

    def wrap(self, function: Callable) -> Callable:
        """A version of ``function`` whose calls count as forward calls while the counter is active.

        The rows of a call are the length of its first argument that has a shape
        (a tensor or a NumPy array).

        Examples
        --------
        >>> cost = CostCounter()
        >>> predict = cost.wrap(lambda rows: rows.sum(axis=1))
        >>> import numpy as np
        >>> with cost:
        ...     _ = predict(np.ones((5, 3)))
        >>> cost.forward_rows, cost.forward_calls
        (5, 1)
        """
        if not callable(function):
            raise TypeError(f"function must be callable; got {type(function).__name__}")

        @functools.wraps(function)
        def counted(*args, **kwargs):
            self.record_forward(_rows_of(args, kwargs))
            return function(*args, **kwargs)

        return counted

    def _before_forward(self, _module, args, kwargs):
        self.record_forward(_rows_of(args, kwargs))

    def _after_forward(self, _module, _args, _kwargs, output):
        tensors = [output] if isinstance(output, torch.Tensor) else [
            value for value in (output if isinstance(output, (tuple, list)) else ()) if isinstance(value, torch.Tensor)
        ]
        for tensor in tensors:
            if tensor.requires_grad:
                rows = int(tensor.shape[0]) if tensor.ndim else 1
                tensor.register_hook(functools.partial(self._backward_seen, rows))
                break

    def _backward_seen(self, rows: int, _grad):
        if self.active:
            self.backward_passes += 1
            self.backward_rows += rows

    # -- the with block

    def __enter__(self) -> "CostCounter":
        if self.active:
            raise RuntimeError("this CostCounter is already active; nest a new CostCounter instead")
        if self.model is not None:
            self._handles = [
                self.model.register_forward_pre_hook(self._before_forward, with_kwargs=True),
                self.model.register_forward_hook(self._after_forward, with_kwargs=True),
            ]
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.model is not None:
                device = next((t.device for t in list(self.model.parameters()) + list(self.model.buffers())), None)
                if device is not None and device.type == "cuda":
                    torch.cuda.synchronize(device)
        finally:
            self._seconds += time.perf_counter() - self._started
            self._started = None
            for handle in self._handles:
                handle.remove()
            self._handles = []

    # -- reading

    def counts(self) -> dict[str, int]:
        """The counts (everything but the seconds, which do not repeat from run to run)."""
        return {
            "forward_rows": self.forward_rows,
            "forward_calls": self.forward_calls,
            "backward_passes": self.backward_passes,
            "backward_rows": self.backward_rows,
        }

    def summary(self, *, seconds: bool = False) -> str:
        """One line, e.g. ``"1,000 forward rows in 2 calls, 1 backward pass (1,000 rows)"``.

        Parameters
        ----------
        seconds : bool, default False
            Append the wall-clock time (leave it out where the output must repeat).
        """
        passes = "pass" if self.backward_passes == 1 else "passes"
        calls = "call" if self.forward_calls == 1 else "calls"
        line = (
            f"{self.forward_rows:,} forward rows in {self.forward_calls:,} {calls}, "
            f"{self.backward_passes:,} backward {passes} ({self.backward_rows:,} rows)"
        )
        return line + (f", {self.seconds:.3f} s" if seconds else "")

    def __repr__(self) -> str:
        return f"CostCounter({self.summary(seconds=True)})"


class CountedGame:
    """What every game of the course counts: coalitions evaluated and calls made.

    The game's side of :class:`CostCounter`'s vocabulary: a coalition evaluated is
    a forward row of the game (for :class:`~helpers.features.CoalitionGame` without a
    background, exactly one forward row of its model), a call one forward call.
    :class:`~helpers.features.CoalitionGame`, :class:`~helpers.features.FunctionGame`,
    :class:`helpers.shapley.TableGame` and :class:`helpers.text.WordGame` derive from
    it, so a cost can be read the same way off any of them; a subclass calls
    :meth:`_count` once per evaluation.

    Attributes
    ----------
    n_evaluations : int
        Coalitions evaluated so far (rows of every ``Z``).
    n_calls : int
        Evaluations so far (for :class:`CoalitionGame`, forward passes of the model).
    """

    n_evaluations: int = 0
    n_calls: int = 0

    def reset_counts(self) -> None:
        """Set ``n_evaluations`` and ``n_calls`` back to 0."""
        self.n_evaluations = 0
        self.n_calls = 0

    def _count(self, rows: int, calls: int = 1) -> None:
        self.n_evaluations += int(rows)
        self.n_calls += int(calls)


def multiply_adds(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulate operations of one forward row: what a model costs per input, on any machine.

    Counted with PyTorch's ``torch.utils.flop_counter.FlopCounterMode`` while the
    model runs once on ``x[:1]``: every convolution and matrix product, from the
    shapes of its operands (one multiply-add is two of PyTorch's FLOPs).
    Elementwise work (activations, normalisation, pooling, softmax) is not
    counted; in a convolutional network it is a small share of the time. The
    count depends on the model and the input's shape only, so it repeats
    exactly where wall-clock times do not.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
        A batch of inputs; only its first row is run (the count is per row).

    Returns
    -------
    int
        Multiply-adds of one forward pass on one input. The model's mode, its
        parameters' gradients and ``x`` are left as they were.

    Raises
    ------
    TypeError, ValueError
        If ``model`` is not a module or ``x`` is not a float batch ``[B, ...]``.

    Examples
    --------
    >>> multiply_adds(torch.nn.Linear(784, 10), torch.zeros(5, 784))
    7840
    """
    check_model(model, purpose="its layers are counted")
    x = check_batch(x)
    row = x[:1].detach().to(model_device(model), model_dtype(model, x.dtype), copy=True)
    with evaluation_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(row)
    return int(counter.get_total_flops()) // 2


def seconds_per_evaluation(game, *, n_coalitions: int = 16, repeats: int = 3, seed: int = 0) -> float:
    """Wall-clock seconds per coalition evaluated by ``game`` on this machine: the median of a few timings.

    ``game`` evaluates one batch of ``n_coalitions`` random coalitions (each
    feature present with probability 1/2) ``repeats`` times; the median time of
    a batch, divided by its size, is returned. The figure changes with the
    machine, its load, its thread count and the batch size: compare two games
    timed with the same ``n_coalitions``, and print it only in an unchecked cell
    (``# NBVAL_IGNORE_OUTPUT``). :func:`multiply_adds` gives a cost that repeats.

    Parameters
    ----------
    game : coalition game
        Has ``n_players`` and evaluates ``game(Z)`` for a bool tensor ``Z`` [n, M]
        (e.g. :class:`helpers.features.CoalitionGame`).
    n_coalitions : int, default 16
        Coalitions per timed batch.
    repeats : int, default 3
        Timed batches; the median is taken.
    seed : int, default 0
        Draws the coalitions from a generator of its own (the global random state
        is left alone).

    Returns
    -------
    float
        Seconds per coalition. The game's counts (``n_evaluations``, ``n_calls``)
        are restored: timing is not part of an explanation's cost.

    Raises
    ------
    TypeError
        If ``game`` is not a coalition game, or an argument is not an int.
    ValueError
        If ``n_coalitions`` or ``repeats`` is below 1, or ``seed`` is out of range.

    Examples
    --------
    >>> seconds = seconds_per_evaluation(game, n_coalitions=16, repeats=3)  # doctest: +SKIP
    """
    n_players = getattr(game, "n_players", None)
    if not callable(game) or isinstance(n_players, bool) or not isinstance(n_players, int):
        raise TypeError(f"game must be a coalition game (callable, with an int n_players); got {type(game).__name__}")
    n_coalitions = check_int("n_coalitions", n_coalitions, 1)
    repeats = check_int("repeats", repeats, 1)
    generator = torch.Generator().manual_seed(check_seed(seed))
    Z = torch.rand(n_coalitions, n_players, generator=generator) < 0.5
    counts = {name: getattr(game, name) for name in ("n_evaluations", "n_calls") if hasattr(game, name)}
    times = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            game(Z)
            times.append(time.perf_counter() - start)
    finally:
        for name, value in counts.items():
            setattr(game, name, value)
    return statistics.median(times) / n_coalitions
