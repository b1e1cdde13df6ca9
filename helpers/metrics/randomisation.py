r"""Randomisation: sanity checks that an explanation depends on the model and its data.

Adebayo, Gilmer, Muelly, Goodfellow, Hardt and Kim, "Sanity Checks for Saliency Maps", 2018,
arXiv 1810.03292: an explanation that does not change when the model's parameters (or the labels
it was trained on) are randomised cannot be explaining the model.

- :func:`cascading_randomisation` (:class:`Randomisation`, :func:`randomisable_layers`) -- the
  layers re-initialised from the top, on a copy, and the maps compared with the original's.
- :func:`abs_rank_correlation`, :func:`structural_similarity` (:data:`SIMILARITIES`) -- the two
  similarities of the paper.
- :func:`permuted_labels` -- the labels shuffled, for the data randomisation test.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_batch, check_explanation, check_model, check_seed
from ..scores import chunk_rows, model_device, resolve_targets
from ..seeding import make_generator, seeded_global_rng
from .ranks import rank_correlation

__all__ = ["abs_rank_correlation", "structural_similarity", "SIMILARITIES", "randomisable_layers", "Randomisation",
           "cascading_randomisation", "permuted_labels"]


def abs_rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of ``|a|`` and ``|b|``, one number per example (Adebayo et al. 2018).

    Examples
    --------
    >>> float(abs_rank_correlation(torch.tensor([[1.0, -2.0, 3.0]]), torch.tensor([[1.0, 2.0, 3.0]]))[0])
    1.0
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    return rank_correlation(a.detach().abs(), b.detach().abs())


def structural_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM of two maps, one number per example (``skimage.metrics.structural_similarity``).

    Each example's map is squeezed of dimensions of size 1 (so ``[1, 28, 28]`` is a
    28 x 28 image with 7 x 7 windows, and ``[784]`` a 1-D signal) and compared with its
    partner with ``data_range`` the spread of the two maps together (max - min), as
    Quantus does. Wang, Bovik, Sheikh and Simoncelli, "Image Quality Assessment: From
    Error Visibility to Structural Similarity", 2004, IEEE TIP 13(4).

    Parameters
    ----------
    a, b : torch.Tensor, [B, ...], same shape

    Returns
    -------
    torch.Tensor, float64, [B]: 1 for identical maps.

    Examples
    --------
    >>> x = torch.rand(2, 1, 28, 28)
    >>> structural_similarity(x, x).tolist()
    [1.0, 1.0]
    """
    from skimage.metrics import structural_similarity as ssim

    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"a and b must be tensors; got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must be batches [B, ...] of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    one_map = tuple(n for n in a.shape[1:] if n != 1)
    if len(one_map) not in (1, 2) or min(one_map) < 7:
        raise ValueError(f"structural_similarity compares grey maps, 1-D or 2-D with every side >= 7 (its 7-wide window); "
                         f"got maps of shape {tuple(a.shape[1:])}: use spearman_abs for colour maps, small tables "
                         f"and coalition maps")
    out = []
    for aa, bb in zip(a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()):
        aa, bb = aa.squeeze(), bb.squeeze()
        data_range = float(max(aa.max(), bb.max()) - min(aa.min(), bb.min()))
        if data_range == 0.0:  # two identical constant maps
            out.append(1.0)
            continue
        out.append(float(ssim(aa, bb, data_range=data_range)))
    return torch.tensor(out, dtype=torch.float64)


#: The similarity measures of the sanity checks, by name.
SIMILARITIES = {"spearman_abs": abs_rank_correlation, "ssim": structural_similarity}


def randomisable_layers(model) -> list[tuple[str, "torch.nn.Module"]]:
    """The layers of ``model`` that can be re-initialised, from the output back to the input.

    The named submodules with a ``reset_parameters`` method (convolutions, linear layers,
    normalisations), in reverse order of ``model.named_modules()``: the order of the
    cascading randomisation of Adebayo et al. (2018) and of ``quantus.MPRT(layer_order="top_down")``.
    """
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (its layers are re-initialised); got {type(model).__name__}")
    return [(name, module) for name, module in model.named_modules() if hasattr(module, "reset_parameters")][::-1]


@dataclass
class Randomisation:
    """What :func:`cascading_randomisation` measured.

    Attributes
    ----------
    stages : list of str
        ``"original"``, then the name of each layer after it was randomised (cumulatively).
    maps : list of torch.Tensor
        The explanation of ``x`` at each stage, ``[B, ...]`` each.
    similarity : dict of str to torch.Tensor [S, B]
        For each measure, the similarity of each stage's maps to the original ones
        (the first row is the original against itself: 1).
    """

    stages: list
    maps: list
    similarity: dict


def cascading_randomisation(model, x: torch.Tensor, explain, target=None, *, layers=None, seed: int = 0,
                            similarities=("spearman_abs", "ssim")) -> Randomisation:
    """Re-initialise the layers from the top down and compare each explanation with the original.

    On a COPY of ``model`` (the caller's model, its parameters, modes and gradients are not
    touched), the layers are re-initialised one after the other, cumulatively, from the output
    back to the input; after each one ``explain`` runs again on ``x`` for the SAME classes (the
    original model's prediction when ``target`` is None), and the new maps are compared with the
    original ones. A method whose maps stay similar while the model is destroyed fails the
    check: its maps do not depend on what the model learnt. Adebayo et al., "Sanity Checks for
    Saliency Maps", 2018, arXiv 1810.03292.

    Each layer is re-initialised by its own ``reset_parameters()`` (PyTorch's default
    initialisation) with the global generator seeded with ``seed`` just before, inside
    :func:`torch.random.fork_rng` so that the caller's random state is unchanged; this is what
    ``quantus.MPRT(seed=s)`` does with ``seed = s + 1``.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, float, [B, ...]
    explain : callable
        ``explain(model, x, targets) -> maps [B, ...]``, e.g. :func:`helpers.saliency.gradient`.
    target : None, int or int tensor [B]
    layers : list of str, optional
        Names of the submodules to randomise, in order; default :func:`randomisable_layers`.
    seed : int, default 0
    similarities : sequence of str or dict of name -> callable, default ("spearman_abs", "ssim")
        Names from :data:`SIMILARITIES`, or ``{name: f}`` with ``f(a, b) -> [B]``.

    Returns
    -------
    Randomisation

    Raises
    ------
    TypeError, ValueError
        For a model that is not an ``nn.Module``, an explain that is not callable, an unknown
        layer name or similarity, a bad ``x`` or ``target``.

    Examples
    --------
    >>> result = cascading_randomisation(model, X_test[:8], gradient)  # doctest: +SKIP
    >>> result.stages, result.similarity["spearman_abs"].median(dim=1).values  # doctest: +SKIP
    """
    import copy

    import torch.nn as nn


    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (its layers are re-initialised); got {type(model).__name__}")
    if not callable(explain):
        raise TypeError(f"explain must be a callable explain(model, x, targets) -> maps; got {explain!r}")
    check_batch(x)
    seed = check_seed(seed)
    if isinstance(similarities, dict):
        measures = dict(similarities)
    else:
        unknown = [name for name in similarities if name not in SIMILARITIES]
        if unknown or isinstance(similarities, str):
            raise ValueError(f"similarities must name measures among {sorted(SIMILARITIES)} (or be a dict of callables); "
                             f"got {similarities!r}")
        measures = {name: SIMILARITIES[name] for name in similarities}
    if not measures or not all(callable(f) for f in measures.values()):
        raise TypeError(f"similarities must hold at least one callable; got {similarities!r}")
    available = [name for name, _ in randomisable_layers(model)]
    if layers is None:
        layers = available
    else:
        layers = list(layers)
        unknown = [name for name in layers if name not in available]
        if unknown:
            raise ValueError(f"layers must name layers of the model with parameters to reset, among {available}; "
                             f"got {unknown}")
    targets = resolve_targets(model, x, target, chunk_rows(None, x))
    copy_ = copy.deepcopy(model)
    copy_.requires_grad_(False)
    modules = dict(copy_.named_modules())
    original = check_explanation("explain", explain(copy_, x, targets), x.shape[0]).detach()
    for f in measures.values():  # a similarity that cannot compare these maps fails now, before any layer is randomised
        f(original, original)
    stages, maps = ["original"], [original]
    for name in layers:
        with seeded_global_rng(seed, devices=[model_device(copy_)]):
            modules[name].reset_parameters()
        stages.append(name)
        maps.append(check_explanation("explain", explain(copy_, x, targets), x.shape[0]).detach())
    similarity = {key: torch.stack([f(original, m) for m in maps]) for key, f in measures.items()}
    return Randomisation(stages, maps, similarity)


def permuted_labels(y: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The labels ``y`` shuffled: the data randomisation test of Adebayo et al. (2018, arXiv 1810.03292).

    A model trained on them with the same recipe learns no relation between the images and
    the labels; an explanation that looks the same for it as for the real model does not
    explain what the model learnt.

    Examples
    --------
    >>> sorted(permuted_labels(torch.tensor([0, 1, 2, 3])).tolist())
    [0, 1, 2, 3]
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or torch.is_floating_point(y):
        raise TypeError(f"y must be an int tensor [N] of labels; got {getattr(y, 'shape', type(y).__name__)}")
    return y[torch.randperm(y.shape[0], generator=make_generator(seed))].clone()
