r"""LIME from scratch, on the coalition game of :mod:`helpers.features`.

Ribeiro, Singh and Guestrin, "'Why Should I Trust You?': Explaining the
Predictions of Any Classifier", 2016, arXiv 1602.04938. LIME explains one
prediction with a linear model that is faithful *near* the input:

1. sample coalitions :math:`z_1, \dots, z_n \in \{0, 1\}^M` (the full coalition,
   the input itself, always first);
2. evaluate the game :math:`v(z_k)` (the model on the masked inputs);
3. weight every sample by its proximity to the input,
   :math:`\pi(z) = \exp(-d(z)^2 / (2 \sigma^2))` with :math:`d` the cosine
   distance to the full coalition and :math:`\sigma` the kernel width;
4. fit a weighted ridge regression
   :math:`\min_{w, b} \sum_k \pi(z_k) (v(z_k) - b - w^\top z_k)^2 + \alpha \|w\|^2`;
   the coefficients :math:`w` are the explanation.

Facts read in the ``lime`` package's source (version 0.2.0.1), which the
defaults here follow so that the two agree to rounding:

- ``lime_image.LimeImageExplainer`` draws every entry of a coalition uniformly
  from {0, 1} (``random_state.randint(0, 2, num_samples * n_features)``) and then
  sets the first row to all ones: ``num_samples`` counts the input itself.
- Its distances are scikit-learn's cosine distances between each 0/1 row and the
  first (all-ones) row, :math:`d(z) = 1 - \sqrt{|z| / M}` (1 for the empty
  coalition), *not* multiplied by 100 (``lime_text`` multiplies by 100 and uses
  ``kernel_width=25``, which gives the same ratio :math:`d/\sigma`).
- Its kernel is ``np.sqrt(np.exp(-d**2 / kernel_width**2))``, that is
  :math:`\exp(-d^2 / (2\sigma^2))`, with ``kernel_width=0.25`` by default.
- ``LimeBase.explain_instance_with_data`` fits ``Ridge(alpha=1,
  fit_intercept=True)`` with the kernel values as ``sample_weight`` and reports
  the weighted :math:`R^2` of the fit on the same samples (``score``) and the
  fit's prediction at the first row (``local_pred``). With the image explainer's
  default ``num_features=100000`` its ``feature_selection="auto"`` keeps every
  feature, so the coefficients are those of the full ridge fit.
- ``hide_color=None`` (the default) fills each hidden superpixel with its own
  mean colour: ``baseline="segment_mean"`` of :class:`~helpers.features.CoalitionGame`.
- The explained quantity is whatever ``classifier_fn`` returns, in practice
  class probabilities: ``output="probability"`` of the game.
- ``lime_tabular.LimeTabularExplainer`` (with ``discretize_continuous=False``)
  does not switch features off: it draws whole new rows from a normal
  distribution with the training data's mean and standard deviation
  (``random_state.normal(0, 1, ...) * scale + mean``), puts the input in the
  first row, standardises all rows, and uses Euclidean distances with
  ``kernel_width = 0.75 * sqrt(F)``. :func:`lime_tabular` does the same.

Functions:

- :func:`lime` -- one weight per feature (tensor ``[M]``), the course's calling
  convention ``method(game, *, options)``.
- :func:`lime_explanation` -- the same run with everything it used: samples,
  values, distances, kernel weights, intercept, weighted :math:`R^2`.
- :func:`sample_coalitions`, :func:`cosine_distances`, :func:`exponential_kernel`,
  :func:`weighted_ridge`, :func:`fit_lime` -- the four steps, one function each.
- :func:`lime_tabular` -- lime's tabular sampling (new rows from the training statistics).
- Run-to-run stability (:func:`helpers.metrics.seed_stability`,
  :func:`helpers.metrics.stability_across_inputs`) lives in :mod:`helpers.metrics`.
- :func:`lime_package_coalitions`, :func:`lime_package_image`,
  :func:`lime_package_tabular` -- the ``lime`` package itself, run quietly on the
  same inputs, for cross-checks and benchmarks.

Taught in ``notebooks/04_lime.ipynb``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch

from .checks import check_float, check_int, check_positive_float, check_seed
from .features import check_coalitions, check_game, game_values
from .scores import chunk_rows, class_scores, evaluation_mode, model_device, model_dtype
from .seeding import make_generator

__all__ = [
    "LimeFit",
    "lime",
    "lime_explanation",
    "sample_coalitions",
    "cosine_distances",
    "exponential_kernel",
    "weighted_ridge",
    "fit_lime",
    "lime_tabular",
    "lime_package_coalitions",
    "lime_package_image",
    "lime_package_tabular",
]


# --------------------------------------------------------------------------- checks


#: The kernel widths whose kernel ``exp(-d**2 / (2 * width**2))`` float64 can compute: ``2 * width**2``
#: must be a finite, normal number (beyond these the square overflows or underflows).
KERNEL_WIDTH_RANGE = (math.sqrt(sys.float_info.min / 2), math.sqrt(sys.float_info.max / 2))


def _check_kernel_width(kernel_width) -> float:
    """A positive kernel width whose kernel float64 can represent (see :data:`KERNEL_WIDTH_RANGE`)."""
    width = check_positive_float("kernel_width", kernel_width)
    low, high = KERNEL_WIDTH_RANGE
    if not low <= width <= high:
        raise ValueError(
            f"kernel_width must be between {low:.2g} and {high:.2g}, where the kernel exp(-d**2 / (2 * kernel_width**2)) "
            f"can be computed in float64 (2 * kernel_width**2 neither overflows nor underflows); got {kernel_width!r}. "
            f"Useful widths are near the distances: 0.1 to 1 for coalitions (cosine distances lie in [0, 1])"
        )
    return width


def _warn_if_few_effective_samples(fit: "LimeFit", n_features: int) -> None:
    """Warn when the kernel leaves fewer effective samples than features: the fit then explains nothing."""
    effective = fit.effective_samples
    if effective < n_features:
        warnings.warn(
            f"kernel_width={fit.kernel_width:g} leaves {effective:.1f} effective samples ((sum w)^2 / sum w^2 of "
            f"the kernel weights) for {n_features} features: the fit cannot tell the features apart, and its "
            f"weights and R^2 = {fit.r2:.3f} say nothing about the model; use a wider kernel or more samples",
            UserWarning,
            stacklevel=3,
        )


def _as_float64(name: str, value, shape_hint: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor {shape_hint}; got {type(value).__name__}")
    return value.detach().to("cpu", torch.float64)


# --------------------------------------------------------------------------- the four steps


def sample_coalitions(n_samples: int, n_players: int, *, seed: int = 0) -> torch.Tensor:
    """LIME's samples: the full coalition, then coalitions with every feature present with probability 1/2.

    Parameters
    ----------
    n_samples : int
        Rows in total, the full coalition included (as in lime).
    n_players : int
        M.
    seed : int, default 0

    Returns
    -------
    torch.Tensor, bool, [n_samples, n_players]
        Row 0 is all True.

    Examples
    --------
    >>> Z = sample_coalitions(5, 3, seed=0)
    >>> Z.shape, bool(Z[0].all())
    (torch.Size([5, 3]), True)
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_players = check_int("n_players", n_players, 1)
    generator = make_generator(seed)
    Z = torch.randint(0, 2, (n_samples, n_players), generator=generator).bool()
    Z[0] = True
    return Z


def cosine_distances(coalitions) -> torch.Tensor:
    r"""Cosine distance of every 0/1 coalition to the full coalition.

    .. math:: d(z) = 1 - \frac{z \cdot \mathbf{1}}{\|z\| \, \|\mathbf{1}\|} = 1 - \sqrt{|z| / M},

    and 1 for the empty coalition (scikit-learn's convention, which lime uses).

    Parameters
    ----------
    coalitions : bool tensor [n, M]

    Returns
    -------
    torch.Tensor, float64, [n]

    Examples
    --------
    >>> cosine_distances(torch.tensor([[True, True, True, True], [True, False, False, False]])).tolist()
    [0.0, 0.5]
    """
    if isinstance(coalitions, torch.Tensor) and coalitions.ndim == 2:
        Z = check_coalitions(coalitions, coalitions.shape[1], "cpu")
    else:
        shape = tuple(coalitions.shape) if isinstance(coalitions, torch.Tensor) else type(coalitions).__name__
        raise ValueError(f"coalitions must be a bool tensor [n, M]; got {shape}")
    present = Z.sum(dim=1, dtype=torch.float64)
    return 1.0 - torch.sqrt(present / Z.shape[1])


def exponential_kernel(distances, kernel_width: float = 0.25) -> torch.Tensor:
    r"""LIME's proximity weights :math:`\pi = \sqrt{\exp(-d^2/\sigma^2)} = \exp(-d^2 / (2\sigma^2))`.

    Parameters
    ----------
    distances : tensor [n]
    kernel_width : float > 0, default 0.25
        :math:`\sigma`; lime's image default. Between about 1e-154 and 9e153
        (:data:`KERNEL_WIDTH_RANGE`), where float64 can compute the kernel.

    Returns
    -------
    torch.Tensor, float64, [n], values in [0, 1]

    Raises
    ------
    ValueError
        For a width that is not a positive number in :data:`KERNEL_WIDTH_RANGE`
        (the message names ``kernel_width``).

    Examples
    --------
    >>> round(float(exponential_kernel(torch.tensor([0.25]), 0.25)[0]), 4)
    0.6065
    """
    width = _check_kernel_width(kernel_width)
    d = _as_float64("distances", distances, "[n]")
    return torch.exp(-(d**2) / (2.0 * width**2))


def weighted_ridge(design, values, sample_weights, *, alpha: float = 1.0) -> tuple[torch.Tensor, float, float]:
    r"""Weighted ridge regression with an unpenalised intercept, as scikit-learn's ``Ridge``.

    Solves :math:`\min_{w, b} \sum_k \pi_k (y_k - b - w^\top x_k)^2 + \alpha \|w\|^2`
    by centring :math:`X` and :math:`y` on their :math:`\pi`-weighted means and
    solving :math:`(X_c^\top \Pi X_c + \alpha I) w = X_c^\top \Pi y_c` in float64;
    then :math:`b = \bar y - \bar x^\top w`.

    Parameters
    ----------
    design : tensor [n, M]
        The samples (0/1 coalitions, or any real features).
    values : tensor [n]
    sample_weights : tensor [n], non-negative, not all zero
    alpha : float >= 0, default 1.0
        lime's default ``Ridge(alpha=1)``.

    Returns
    -------
    weights : torch.Tensor, float64, [M]
    intercept : float
    r2 : float
        Weighted :math:`R^2 = 1 - \sum \pi (y - \hat y)^2 / \sum \pi (y - \bar y)^2`
        on the same samples (1 when ``y`` is constant and fitted exactly, 0 when
        constant and not, as scikit-learn's ``r2_score``).

    Raises
    ------
    ValueError
        For shapes that do not agree, negative or all-zero weights, a negative alpha.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0]])
    >>> w, b, r2 = weighted_ridge(X, 2 * X[:, 0] + 1, torch.ones(3), alpha=0.0)
    >>> round(float(w[0]), 6), round(b, 6), round(r2, 6)
    (2.0, 1.0, 1.0)
    """
    X = _as_float64("design", design, "[n, M]")
    y = _as_float64("values", values, "[n]")
    pi = _as_float64("sample_weights", sample_weights, "[n]")
    alpha = check_float("alpha", alpha, minimum=0.0)
    if X.ndim != 2 or y.ndim != 1 or pi.ndim != 1 or not (X.shape[0] == y.shape[0] == pi.shape[0]):
        raise ValueError(
            f"design [n, M], values [n] and sample_weights [n] must agree; got shapes "
            f"{tuple(X.shape)}, {tuple(y.shape)}, {tuple(pi.shape)}"
        )
    if not (torch.isfinite(X).all() and torch.isfinite(y).all() and torch.isfinite(pi).all()):
        raise ValueError("design, values and sample_weights must be finite")
    if (pi < 0).any() or float(pi.sum()) <= 0:
        raise ValueError("sample_weights must be non-negative and not all zero")
    total = pi.sum()
    x_mean = (pi[:, None] * X).sum(dim=0) / total
    y_mean = (pi * y).sum() / total
    Xc, yc = X - x_mean, y - y_mean
    gram = Xc.T @ (pi[:, None] * Xc) + alpha * torch.eye(X.shape[1], dtype=torch.float64)
    rhs = Xc.T @ (pi * yc)
    weights = torch.linalg.lstsq(gram, rhs[:, None]).solution[:, 0] if alpha == 0 else torch.linalg.solve(gram, rhs)
    intercept = float(y_mean - x_mean @ weights)
    residual = float((pi * (y - intercept - X @ weights) ** 2).sum())
    spread = float((pi * yc**2).sum())
    if spread > 0:
        r2 = 1.0 - residual / spread
    else:
        r2 = 1.0 if residual == 0 else 0.0
    return weights, intercept, r2


@dataclass
class LimeFit:
    """One LIME fit and everything it used.

    Attributes
    ----------
    weights : torch.Tensor, float64, [M]
        The explanation: one coefficient per feature.
    intercept : float
    r2 : float
        Weighted :math:`R^2` of the fit on its own samples (lime's ``score``).
    local_prediction : float
        The linear model at the first sample (the input itself; lime's ``local_pred``).
    design : torch.Tensor, float64, [n, M]
        The regression's samples: 0/1 coalitions (or standardised rows for :func:`lime_tabular`).
    values : torch.Tensor, float64, [n]
        The model's target output on every sample.
    distances : torch.Tensor, float64, [n]
    kernel_weights : torch.Tensor, float64, [n]
    kernel_width : float
    effective_samples : float
        ``(sum of kernel weights)**2 / sum of their squares`` (a property).
    """

    weights: torch.Tensor
    intercept: float
    r2: float
    local_prediction: float
    design: torch.Tensor
    values: torch.Tensor
    distances: torch.Tensor
    kernel_weights: torch.Tensor
    kernel_width: float

    @property
    def coalitions(self) -> torch.Tensor:
        """The samples as a bool tensor ``[n, M]`` (for coalition LIME)."""
        return self.design != 0

    @property
    def effective_samples(self) -> float:
        r"""Kish's effective sample size :math:`(\sum_k \pi_k)^2 / \sum_k \pi_k^2` of the kernel weights.

        ``n`` when every sample weighs the same, 1 when one sample carries all the
        weight. Below the number of features the fit cannot tell them apart
        (:func:`lime_explanation` and :func:`lime_tabular` warn; NaN when the
        weights are not known, e.g. from the ``lime`` package's tabular run).
        """
        if self.kernel_weights.numel() == 0:
            return float("nan")
        return float(self.kernel_weights.sum() ** 2 / (self.kernel_weights**2).sum())


def fit_lime(coalitions, values, *, kernel_width: float = 0.25, alpha: float = 1.0) -> LimeFit:
    """Steps 3 and 4 of LIME on coalitions already evaluated: kernel weights and ridge fit.

    Useful to refit the same samples with another kernel width, at no model cost.

    Parameters
    ----------
    coalitions : bool tensor [n, M]
        Row 0 should be the full coalition (the input).
    values : tensor [n]
        The game's value of every coalition.
    kernel_width : float > 0, default 0.25
    alpha : float >= 0, default 1.0

    Returns
    -------
    LimeFit

    Examples
    --------
    >>> base = lime_explanation(game, n_samples=500)  # doctest: +SKIP
    >>> wide = fit_lime(base.coalitions, base.values, kernel_width=1.0)  # doctest: +SKIP
    """
    distances = cosine_distances(coalitions)
    values = _as_float64("values", values, "[n]")
    kernel = exponential_kernel(distances, kernel_width)
    design = coalitions.detach().to("cpu", torch.float64)
    weights, intercept, r2 = weighted_ridge(design, values, kernel, alpha=alpha)
    local = intercept + float(design[0] @ weights)
    return LimeFit(weights, intercept, r2, local, design, values, distances, kernel, float(kernel_width))


def lime_explanation(
    game,
    *,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    seed: int = 0,
    alpha: float = 1.0,
    coalitions=None,
) -> LimeFit:
    """LIME on a coalition game, returning the weights with everything the fit used.

    Ribeiro, Singh and Guestrin 2016, arXiv 1602.04938. The samples come from
    :func:`sample_coalitions` (``n_samples`` rows, the full coalition first), are
    evaluated in ONE call ``game(Z)`` (which batches the model), weighted by
    :func:`exponential_kernel` of :func:`cosine_distances`, and fitted by
    :func:`weighted_ridge`. The defaults are lime's image defaults (see the
    module docstring).

    Parameters
    ----------
    game : callable with ``n_players``
        ``game(Z)`` for bool ``Z [n, M]`` returns ``n`` values.
    n_samples : int >= 2, default 1000
    kernel_width : float > 0, default 0.25
    seed : int, default 0
        Same seed, same samples, same weights.
    alpha : float >= 0, default 1.0
        Ridge penalty.
    coalitions : bool tensor [n, M], optional
        Use these samples instead of drawing them (``n_samples`` and ``seed`` are
        then ignored), e.g. :func:`lime_package_coalitions` to reproduce a run of
        the ``lime`` package exactly.

    Returns
    -------
    LimeFit

    Raises
    ------
    TypeError
        For a ``game`` that is not a coalition game.
    ValueError
        For ``n_samples < 2``, a ``kernel_width`` that is not positive or that
        float64 cannot square (see :func:`exponential_kernel`), a negative
        ``alpha``, coalitions of the wrong shape, or a game that does not return
        one finite value per coalition.

    Warns
    -----
    UserWarning
        When the kernel leaves fewer effective samples
        (:attr:`LimeFit.effective_samples`) than features: a width far below
        the distances gives (almost) all the weight to the input itself, and the
        fit, with its :math:`R^2` near 1, explains nothing. (:func:`fit_lime`,
        which refits samples at other widths to compare them, does not warn:
        read ``effective_samples`` there.)

    Examples
    --------
    >>> fit = lime_explanation(game, n_samples=1000, seed=0)  # doctest: +SKIP
    >>> fit.weights.shape, round(fit.r2, 3)  # doctest: +SKIP
    """
    n_players = check_game(game)
    _check_kernel_width(kernel_width)
    check_float("alpha", alpha, minimum=0.0)
    if coalitions is None:
        Z = sample_coalitions(check_int("n_samples", n_samples, 2), n_players, seed=seed)
    else:
        Z = check_coalitions(coalitions, n_players, "cpu")
        if Z.shape[0] < 2:
            raise ValueError(f"coalitions must hold at least 2 rows; got {Z.shape[0]}")
    values = game_values(game, Z)
    fit = fit_lime(Z, values, kernel_width=kernel_width, alpha=alpha)
    _warn_if_few_effective_samples(fit, n_players)
    return fit


def lime(
    game,
    *,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    seed: int = 0,
    alpha: float = 1.0,
    coalitions=None,
) -> torch.Tensor:
    """LIME: one weight per feature, from a weighted ridge fit on sampled coalitions.

    Ribeiro, Singh and Guestrin, "'Why Should I Trust You?'", 2016,
    arXiv 1602.04938. Same parameters as :func:`lime_explanation`, which also
    returns the intercept, the weighted :math:`R^2` and the samples.

    Returns
    -------
    torch.Tensor, float64, [M]

    Examples
    --------
    >>> game = CoalitionGame(model, x, grid_segments(x, 7))  # doctest: +SKIP
    >>> weights = lime(game, n_samples=1000, seed=0)  # doctest: +SKIP
    """
    return lime_explanation(
        game, n_samples=n_samples, kernel_width=kernel_width, seed=seed, alpha=alpha, coalitions=coalitions
    ).weights


# --------------------------------------------------------------------------- tabular LIME, lime's way


def _model_placement(model, like: torch.Tensor) -> tuple[torch.device, torch.dtype]:
    """Where and in which precision ``model`` computes (``like``'s for a plain function)."""
    if isinstance(model, torch.nn.Module):
        return model_device(model, like.device), model_dtype(model, like.dtype)
    return like.device, like.dtype


def _class_outputs(model, X: torch.Tensor, output: str, like: torch.Tensor) -> torch.Tensor:
    """The model's class outputs for rows ``X`` in chunks (:func:`helpers.scores.chunk_rows`), without
    gradients; the rows are cast to the model's device and dtype (``like``'s for a plain function), as the
    saliency methods do."""
    device, dtype = _model_placement(model, like)
    batch_size = chunk_rows(None, X, forward_only=True)
    parts = []
    with torch.no_grad(), (evaluation_mode(model) if isinstance(model, torch.nn.Module) else contextlib.nullcontext()):
        for start in range(0, X.shape[0], batch_size):
            out = class_scores(model, X[start:start + batch_size].to(device, dtype), name="the sampled rows")
            parts.append(out.softmax(dim=1) if output == "probability" else out)
    return torch.cat(parts).detach()


def lime_tabular(
    model,
    x: torch.Tensor,
    X_train: torch.Tensor,
    *,
    n_samples: int = 5000,
    kernel_width: float | None = None,
    seed: int = 0,
    target: int | None = None,
    output: str = "probability",
    alpha: float = 1.0,
) -> LimeFit:
    r"""Tabular LIME as the ``lime`` package does it: new rows drawn from the training statistics.

    Unlike coalition LIME (features present or replaced by a baseline), lime's
    ``LimeTabularExplainer`` (with ``discretize_continuous=False``) draws
    ``n_samples - 1`` whole rows :math:`s_k \sim \mathcal N(\mu, \operatorname{diag}\sigma^2)`
    from the training data's mean and (population) standard deviation, puts
    ``x`` first, standardises every row :math:`u = (s - \mu)/\sigma`, weights it
    by :math:`\exp(-\|u - u_0\|^2 / (2 \kappa^2))` with
    :math:`\kappa = 0.75 \sqrt F`, and fits a weighted ridge of the model's
    output on :math:`u`. A weight is then "output change per training standard
    deviation of the feature", around the data's centre rather than around
    ``x``. The draws use NumPy's ``RandomState(seed).normal``, exactly as lime
    does, so :func:`lime_package_tabular` with the same seed sees the same rows.

    Ribeiro, Singh and Guestrin 2016, arXiv 1602.04938.

    Parameters
    ----------
    model : torch.nn.Module or callable
        ``[B, F] -> [B, classes]``. The sampled rows are cast to the dtype of
        a module's parameters (a float64 or float16 row meets a float32 model
        without a dtype error), to ``x``'s dtype for a plain function.
    x : torch.Tensor, float, [F]
    X_train : torch.Tensor, float, [N, F]
        Supplies the mean and standard deviation of every feature.
    n_samples : int >= 2, default 5000
        lime's tabular default.
    kernel_width : float, optional
        Default ``0.75 * sqrt(F)`` (lime's).
    seed : int, default 0
    target : int, optional
        None: the predicted class.
    output : {"probability", "score"}, default "probability"
    alpha : float >= 0, default 1.0

    Returns
    -------
    LimeFit
        ``design`` holds the standardised rows; ``distances`` the Euclidean ones.

    Raises
    ------
    TypeError, ValueError
        For inputs of the wrong type or shape, or bad options; ``ValueError``
        naming the rows' shape and dtype when the model fails on them or does
        not return ``[B, classes]``.

    Warns
    -----
    UserWarning
        When the kernel leaves fewer effective samples than features (as
        :func:`lime_explanation`).

    Examples
    --------
    >>> fit = lime_tabular(model, data.X_test[0], data.X_train)  # doctest: +SKIP
    >>> fit.weights.shape  # doctest: +SKIP
    torch.Size([30])
    """
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or a callable; got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or not isinstance(X_train, torch.Tensor):
        raise TypeError(f"x and X_train must be tensors; got {type(x).__name__} and {type(X_train).__name__}")
    if x.ndim != 1 or X_train.ndim != 2 or X_train.shape[1] != x.shape[0] or X_train.shape[0] < 2:
        raise ValueError(
            f"x must be one row [F] and X_train a table [N, F] with N >= 2 and the same F; got shapes "
            f"{tuple(x.shape)} and {tuple(X_train.shape)}"
        )
    if output not in ("score", "probability"):
        raise ValueError(f'output must be "score" or "probability"; got {output!r}')
    n_samples = check_int("n_samples", n_samples, 2)
    seed = check_seed(seed)
    n_features = x.shape[0]
    if kernel_width is None:
        kernel_width = 0.75 * np.sqrt(n_features)
    kernel_width = _check_kernel_width(kernel_width)
    check_float("alpha", alpha, minimum=0.0)

    train = X_train.detach().cpu().double().numpy()
    mean, scale = train.mean(axis=0), train.std(axis=0)
    scale[scale == 0] = 1.0
    rows = np.random.RandomState(seed).normal(0, 1, n_samples * n_features).reshape(n_samples, n_features)
    rows = rows * scale + mean
    rows[0] = x.detach().cpu().double().numpy()
    standardised = torch.from_numpy((rows - mean) / scale)
    distances = torch.linalg.vector_norm(standardised - standardised[0], dim=1)
    outputs = _class_outputs(model, torch.from_numpy(rows), output, x)  # cast to the model's dtype there
    if target is None:
        target = int(outputs[0].argmax())
    if isinstance(target, bool) or not isinstance(target, Integral) or not 0 <= target < outputs.shape[1]:
        raise ValueError(f"target must be a class index in [0, {outputs.shape[1]}) or None; got {target!r}")
    values = outputs[:, int(target)].to("cpu", torch.float64)
    kernel = exponential_kernel(distances, kernel_width)
    weights, intercept, r2 = weighted_ridge(standardised, values, kernel, alpha=alpha)
    local = intercept + float(standardised[0] @ weights)
    fit = LimeFit(weights, intercept, r2, local, standardised, values, distances, kernel, kernel_width)
    _warn_if_few_effective_samples(fit, n_features)
    return fit


# --------------------------------------------------------------------------- the lime package, quietly


def lime_package_coalitions(n_samples: int, n_players: int, random_state: int) -> torch.Tensor:
    """The coalitions ``lime_image.LimeImageExplainer(random_state=...)`` draws, reproduced.

    lime draws ``RandomState(random_state).randint(0, 2, n_samples * n_players)``,
    reshapes it to ``[n_samples, n_players]`` and sets row 0 to ones (when the
    segmentation function and ``random_seed`` are given, nothing else is drawn
    before). Passing these to :func:`lime_explanation` reproduces lime's run.

    Returns
    -------
    torch.Tensor, bool, [n_samples, n_players]

    Examples
    --------
    >>> lime_package_coalitions(4, 3, 0).shape
    torch.Size([4, 3])
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_players = check_int("n_players", n_players, 1)
    data = np.random.RandomState(check_seed(random_state)).randint(0, 2, n_samples * n_players)
    Z = torch.from_numpy(data.reshape(n_samples, n_players)).bool()
    Z[0] = True
    return Z


@contextlib.contextmanager
def _quiet_lime_progress():
    """lime's image explainer wraps its sampling loop in tqdm; silence that bar."""
    from lime import lime_image

    original = lime_image.tqdm
    lime_image.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        lime_image.tqdm = original


def _model_input_fn(model, x: torch.Tensor, output: str):
    """lime's classifier_fn: NumPy [n, H, W, 3] (or [n, F]) -> NumPy [n, classes]."""
    grey = x.ndim == 3 and x.shape[0] == 1

    def classifier_fn(batch: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(x.dtype)
        if x.ndim == 3:
            tensor = tensor.permute(0, 3, 1, 2)
            if grey:
                tensor = tensor[:, :1]
            tensor = tensor.contiguous()
        return _class_outputs(model, tensor, output, x).cpu().double().numpy()

    return classifier_fn


def lime_package_image(
    model,
    x: torch.Tensor,
    segments: torch.Tensor,
    *,
    target: int,
    n_samples: int = 1000,
    kernel_width: float = 0.25,
    seed: int = 0,
    baseline="segment_mean",
    output: str = "probability",
    batch_size: int = 10,
) -> LimeFit:
    """Run the ``lime`` package's ``LimeImageExplainer`` on our input and segments.

    ``feature_selection="none"``, ``top_labels=None``, ``labels=(target,)``; the
    segmentation function returns ``segments``; ``random_state`` and
    ``random_seed`` are ``seed``; lime's progress bar is silenced. Its
    coalitions are :func:`lime_package_coalitions` ``(n_samples, M, seed)``.

    Parameters
    ----------
    model : torch.nn.Module or callable
    x : torch.Tensor [C, H, W] (C = 1 or 3)
    segments : int tensor [H, W], labels 0..M-1
    target : int
    n_samples, kernel_width, seed
        lime's ``num_samples``, ``kernel_width``, ``random_state``.
    baseline : "segment_mean" or float
        lime's ``hide_color=None`` or ``hide_color=value``.
    output : {"probability", "score"}
    batch_size : int, default 10
        lime's ``batch_size`` (rows per ``classifier_fn`` call).

    Returns
    -------
    LimeFit
        ``weights`` ordered by feature; ``design``/``values`` as lime used them;
        ``distances`` and ``kernel_weights`` recomputed from them.

    Examples
    --------
    >>> theirs = lime_package_image(model, x, segments, target=7)  # doctest: +SKIP
    """
    from lime.lime_image import LimeImageExplainer

    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"x must be an image [C, H, W] with C = 1 or 3; got {getattr(x, 'shape', type(x).__name__)}")
    segments_np = segments.detach().cpu().numpy()
    if baseline == "segment_mean":
        hide_color = None
    elif isinstance(baseline, Real) and not isinstance(baseline, bool):
        hide_color = float(baseline)
    else:
        raise ValueError(f'baseline must be "segment_mean" or a number for the lime package; got {baseline!r}')
    image = x.detach().cpu().double().permute(1, 2, 0).numpy()
    if x.shape[0] == 1:
        image = np.repeat(image, 3, axis=2)
    explainer = LimeImageExplainer(kernel_width=kernel_width, feature_selection="none", random_state=seed)
    with _quiet_lime_progress():
        explanation = explainer.explain_instance(
            image, _model_input_fn(model, x, output), labels=(target,), hide_color=hide_color, top_labels=None,
            num_features=100000, num_samples=n_samples, batch_size=batch_size,
            segmentation_fn=lambda _image: segments_np, random_seed=seed,
        )
    n_players = int(segments_np.max()) + 1
    weights = torch.zeros(n_players, dtype=torch.float64)
    for feature, weight in explanation.local_exp[target]:
        weights[int(feature)] = float(weight)
    Z = lime_package_coalitions(n_samples, n_players, seed)
    distances = cosine_distances(Z)
    return LimeFit(
        weights, float(explanation.intercept[target]), float(explanation.score),
        float(np.ravel(explanation.local_pred)[0]), Z.double(), torch.full((n_samples,), float("nan")),
        distances, exponential_kernel(distances, kernel_width), float(kernel_width),
    )


def lime_package_tabular(
    model,
    x: torch.Tensor,
    X_train: torch.Tensor,
    *,
    target: int,
    n_samples: int = 5000,
    kernel_width: float | None = None,
    seed: int = 0,
    output: str = "probability",
) -> LimeFit:
    """Run the ``lime`` package's ``LimeTabularExplainer`` (no discretisation) on our model.

    ``discretize_continuous=False``, ``feature_selection="none"``,
    ``random_state=seed``; compare with :func:`lime_tabular`.

    Returns
    -------
    LimeFit
        Only ``weights``, ``intercept``, ``r2``, ``local_prediction`` and
        ``kernel_width`` are lime's; the sample fields are empty.

    Examples
    --------
    >>> theirs = lime_package_tabular(model, x, X_train, target=1)  # doctest: +SKIP
    """
    from lime.lime_tabular import LimeTabularExplainer

    train = X_train.detach().cpu().double().numpy()
    explainer = LimeTabularExplainer(
        train, mode="classification", discretize_continuous=False, feature_selection="none",
        kernel_width=kernel_width, random_state=seed,
    )
    explanation = explainer.explain_instance(
        x.detach().cpu().double().numpy(), _model_input_fn(model, x, output), labels=(target,),
        num_features=x.shape[0], num_samples=n_samples,
    )
    weights = torch.zeros(x.shape[0], dtype=torch.float64)
    for feature, weight in explanation.local_exp[target]:
        weights[int(feature)] = float(weight)
    empty = torch.empty(0, dtype=torch.float64)
    width = 0.75 * np.sqrt(x.shape[0]) if kernel_width is None else float(kernel_width)
    return LimeFit(weights, float(explanation.intercept[target]), float(explanation.score),
                   float(np.ravel(explanation.local_pred)[0]), empty.reshape(0, x.shape[0]), empty, empty, empty,
                   width)
