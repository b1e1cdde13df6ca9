"""One function that seeds everything the course uses.

Every notebook calls :func:`seed_everything` once at the top, and every helper
that draws random numbers takes a ``seed`` and builds its own
:class:`torch.Generator` with :func:`make_generator`, so that the same seed gives
the same result on every call, whatever ran before.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "make_generator"]


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int; got {seed!r} of type {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32); got {seed}")
    return int(seed)


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh :class:`torch.Generator` seeded with ``seed``.

    Parameters
    ----------
    seed : int
        Any integer in ``[0, 2**32)``.
    device : torch.device or str, default "cpu"
        Where the generator lives (random tensors must be drawn on its device).

    Returns
    -------
    torch.Generator

    Examples
    --------
    >>> g = make_generator(0)
    >>> torch.rand(2, generator=g).shape
    torch.Size([2])
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(_check_seed(seed))
    return generator


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and make PyTorch deterministic.

    Sets :func:`random.seed`, :func:`numpy.random.seed`, :func:`torch.manual_seed`,
    turns on :func:`torch.use_deterministic_algorithms` (warn-only, so that an
    operation without a deterministic version still runs) and sets the cuBLAS
    workspace variable that deterministic matrix products need on a GPU.

    Parameters
    ----------
    seed : int, default 0

    Returns
    -------
    torch.Generator
        A generator seeded with ``seed``, for code that wants its own stream.

    Raises
    ------
    TypeError, ValueError
        If ``seed`` is not an int in ``[0, 2**32)``.

    Examples
    --------
    >>> g = seed_everything(0)
    >>> float(torch.rand(1)) == float(seed_everything(0) and torch.rand(1))
    True
    """
    seed = _check_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return make_generator(seed)
