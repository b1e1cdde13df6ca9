"""One function that seeds everything the course uses.

Every notebook calls :func:`seed_everything` once at the top, and every helper
that draws random numbers takes a ``seed`` and builds its own
:class:`torch.Generator` with :func:`make_generator`, so that the same seed gives
the same result on every call, whatever ran before.

:func:`derive_seed` and :func:`indexed_normal` give draw number ``k`` of a seed
without drawing the ones before it, so that a method that works in chunks (or
on any subset of a batch) gets the same draws whatever the chunks are:
:func:`helpers.saliency.smoothgrad` draws its noisy copies that way.
"""

from __future__ import annotations

import os
import random

import hashlib

import numpy as np
import torch

from .checks import check_int, check_seed

__all__ = ["seed_everything", "make_generator", "derive_seed", "indexed_normal"]


#: Kept for the modules that imported it under this name; the check lives in :mod:`helpers.checks`.
_check_seed = check_seed


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


def derive_seed(seed: int, *keys: int) -> int:
    """A seed in ``[0, 2**32)`` mixed from ``seed`` and integer ``keys`` (a BLAKE2 digest).

    The same arguments give the same seed on every machine and Python version
    (unlike :func:`hash`); different keys give unrelated seeds.

    Examples
    --------
    >>> derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)
    True
    """
    seed = check_seed(seed)
    words = [seed] + [check_int("key", key) for key in keys]
    data = b"".join(int(word).to_bytes(16, "little", signed=True) for word in words)
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


def indexed_normal(
    seed: int,
    indices,
    shape: tuple,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal draws number ``indices`` of ``seed``, each of shape ``shape``.

    Draw ``k`` comes from its own generator, seeded with ``derive_seed(seed, k)``:
    it is the same whichever other draws are asked for, and in whatever order or
    chunks, so ``indexed_normal(s, range(10), shape)[3:5]`` equals
    ``indexed_normal(s, [3, 4], shape)``.

    Parameters
    ----------
    seed : int in ``[0, 2**32)``
    indices : iterable of int
    shape : tuple of int
        The shape of one draw.
    device, dtype
        Where and in which precision to draw (the same seed gives different
        values on a CPU and a GPU, and in float32 and float64).

    Returns
    -------
    torch.Tensor, [len(indices), *shape]

    Examples
    --------
    >>> a = indexed_normal(0, range(4), (3,))
    >>> torch.equal(a[2:], indexed_normal(0, [2, 3], (3,)))
    True
    """
    seed = check_seed(seed)
    indices = [check_int("index", k, 0) for k in indices]
    out = torch.empty((len(indices), *shape), device=device, dtype=dtype)
    generator = torch.Generator(device=device)
    for row, k in enumerate(indices):
        generator.manual_seed(derive_seed(seed, k))
        out[row] = torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
    return out
