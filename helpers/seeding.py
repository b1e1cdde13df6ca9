"""Seeds and all the noise of the course, in one place.

Every notebook calls :func:`seed_everything` once at the top, and every helper
that draws random numbers takes a ``seed`` and builds its own
:class:`torch.Generator` with :func:`make_generator`, so that the same seed gives
the same result on every call, whatever ran before.

Noise that must not depend on how a batch is cut comes from one draw loop, one
generator per row, keyed in one of two ways:

- :func:`indexed_normal` -- by the draw's NUMBER (:func:`derive_seed` of the seed and
  ``k``): draw ``k`` is the same whatever the chunks are
  (:func:`helpers.saliency.smoothgrad`'s noisy copies);
- :func:`example_normal` -- by the example's CONTENT (a keyed BLAKE2 digest of its
  bytes): the same example gets the same noise wherever it sits in a batch
  (:func:`helpers.metrics.noise_stability`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random

import numpy as np
import torch

from .checks import check_bool, check_int, check_seed

__all__ = ["seed_everything", "make_generator", "seeded_global_rng", "derive_seed", "indexed_normal", "example_normal"]


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
    generator.manual_seed(check_seed(seed))
    return generator


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and (by default) make PyTorch deterministic.

    Sets :func:`random.seed`, :func:`numpy.random.seed`, :func:`torch.manual_seed`.
    With ``deterministic=True`` it also turns on :func:`torch.use_deterministic_algorithms`
    (warn-only, so that an operation without a deterministic version still runs), sets
    cuDNN to its deterministic, non-benchmarking mode and sets the cuBLAS workspace
    variable that deterministic matrix products need on a GPU. These are process-wide
    settings and stay on after the call: ``seed_everything(seed, deterministic=False)``
    seeds only, and turns them back off (PyTorch's defaults).

    Parameters
    ----------
    seed : int, default 0
    deterministic : bool, default True
        Deterministic algorithms on (True) or back to PyTorch's defaults (False).

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
    seed = check_seed(seed)
    deterministic = check_bool("deterministic", deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = deterministic
    return make_generator(seed)


@contextlib.contextmanager
def seeded_global_rng(seed: int, *, devices=()):
    """Inside the block the global generators are seeded with ``seed``; after it they are as before.

    For code that draws from PyTorch's global random state and cannot take a generator
    (a layer's ``reset_parameters``, a module's initial weights). The CPU generator is
    always seeded and restored, and so are the CUDA devices in ``devices``; no other
    device's state changes (``torch.manual_seed`` inside ``torch.random.fork_rng(devices=[])``
    would reseed every GPU and restore none).

    Examples
    --------
    >>> with seeded_global_rng(0):
    ...     a = torch.rand(1)
    >>> with seeded_global_rng(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    seed = check_seed(seed)
    cuda = sorted({torch.device(d).index or 0 for d in devices if torch.device(d).type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


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
    words = [seed] + [check_int("key", key, -(2**127), 2**127 - 1) for key in keys]
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
    return _normal_draws([derive_seed(seed, k) for k in indices], tuple(shape), device, dtype)


def _normal_draws(seeds: list, shape: tuple, device, dtype) -> torch.Tensor:
    """One standard normal draw of ``shape`` per seed, each from its own generator (the one draw loop)."""
    out = torch.empty((len(seeds), *shape), device=device, dtype=dtype)
    generator = torch.Generator(device=device)
    for row, seed in enumerate(seeds):
        generator.manual_seed(seed)
        out[row] = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    return out


def example_normal(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn for each example from the example itself.

    Row ``i`` is drawn from a generator seeded by ``seed`` and the bytes of
    ``x[i]`` (a BLAKE2 digest), so the same example with the same seed gets the
    same noise whatever else is in the batch and wherever it sits in it
    (``example_normal(x[2:3])`` equals ``example_normal(x)[2:3]``), and different
    examples get independent noise.

    Parameters
    ----------
    x : torch.Tensor, float, [B, ...]
    seed : int in [0, 2**32)

    Returns
    -------
    torch.Tensor, shape, dtype and device of ``x``

    Examples
    --------
    >>> x = torch.rand(3, 4)
    >>> torch.equal(example_normal(x[1:2], seed=5), example_normal(x, seed=5)[1:2])
    True
    """
    seed = check_seed(seed)
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float batch [B, ...]; got {shape}")
    rows = x.detach().to("cpu", torch.float64).reshape(x.shape[0], -1).numpy()
    seeds = [int.from_bytes(hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=8,
                                            key=seed.to_bytes(4, "little")).digest(), "little") >> 1 for row in rows]
    return _normal_draws(seeds, tuple(x.shape[1:]), "cpu", x.dtype).to(x.device)
