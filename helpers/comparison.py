r"""The pieces of the comparison of notebook 06 that are not measurements themselves.

The measurements live in :mod:`helpers.metrics`; this module holds what notebook 06
needs around them:

- :func:`coalition_explainer` and :func:`segment_explainer` -- any explanation as
  ``explain(model, x, targets) -> [B, M]``, one score per segment, so that LIME, SHAP
  and the gradient methods go through the same stability and randomisation checks.
- :func:`exact_shapley_skipping_dummies` (from :mod:`helpers.shapley`) -- exact SHAP of a
  :class:`~helpers.features.CoalitionGame` computed on its non-dummy players only
  (a dummy player changes nothing, and removing it leaves every other Shapley value
  as it is), which turns 65,536 coalitions of a digit on a 4 x 4 grid into about 1,024.
- :class:`PatchForest` and :func:`fit_patch_forest` -- a scikit-learn random forest on
  the mean intensity of each patch, wrapped as a model of images: a model with no
  gradient, explained through the same coalition game, and checked against shap's
  ``TreeExplainer`` (:func:`tree_shap`).
- :class:`Rule`, :func:`verdict`, :class:`Claim`, :func:`verdict_table`,
  :func:`markdown_table`, :func:`threshold_sensitivity` -- the comparison table rendered
  from the measured figures, each verdict computed from stated thresholds.
- :func:`show_curves`, :func:`show_randomisation` -- the two plots of the notebook that
  :mod:`helpers.plotting` does not draw (axes in, figure out, never ``plt.show()``).

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .shapley import exact_shapley_skipping_dummies  # re-exported: notebook 06 imports it from here

__all__ = [
    "coalition_explainer",
    "segment_explainer",
    "exact_shapley_skipping_dummies",
    "patch_means",
    "PatchForest",
    "fit_patch_forest",
    "tree_shap",
    "format_figure",
    "VERDICTS",
    "Rule",
    "verdict",
    "Claim",
    "claim_verdict",
    "verdict_table",
    "markdown_table",
    "threshold_sensitivity",
    "show_curves",
    "show_randomisation",
]


# --------------------------------------------------------------------------- explanations as explain(model, x, targets)


def coalition_explainer(method: Callable, segments, *, baseline=0.0, output: str = "score", **options) -> Callable:
    """A coalition method as ``explain(model, x, targets) -> [B, M]``: one game per row.

    Row ``i`` of ``x`` gets its own :class:`~helpers.features.CoalitionGame` with
    ``target=targets[i]``, and ``method(game, **options)`` explains it. With this calling
    convention LIME and SHAP go through :func:`helpers.metrics.noise_stability` and
    :func:`helpers.metrics.cascading_randomisation` like the gradient methods.

    Parameters
    ----------
    method : callable
        ``method(game, **options) -> tensor [M]``, e.g. :func:`helpers.lime.lime`.
    segments : int tensor [H, W]
    baseline, output
        As in :class:`~helpers.features.CoalitionGame`.
    **options
        Passed to ``method`` (e.g. ``n_samples=500, seed=0``).

    Returns
    -------
    callable

    Examples
    --------
    >>> explain = coalition_explainer(lime, grid_segments((28, 28), 7), n_samples=300)  # doctest: +SKIP
    >>> explain(model, X_test[:4], torch.tensor([7, 2, 1, 0])).shape  # doctest: +SKIP
    torch.Size([4, 16])
    """
    from .features import CoalitionGame, check_segments

    if not callable(method):
        raise TypeError(f"method must be a coalition method method(game, **options) -> [M]; got {method!r}")
    if not isinstance(segments, torch.Tensor):
        raise TypeError(f"segments must be an integer torch.Tensor; got {type(segments).__name__}")
    check_segments(segments, tuple(segments.shape))

    def explain(model, x: torch.Tensor, targets) -> torch.Tensor:
        targets = torch.as_tensor(targets).reshape(-1)
        if targets.shape[0] != x.shape[0]:
            raise ValueError(f"targets must hold one class per row of x ({x.shape[0]}); got {targets.shape[0]}")
        rows = []
        for row, target in zip(x, targets.tolist()):
            game = CoalitionGame(model, row, segments, baseline=baseline, target=int(target), output=output)
            rows.append(torch.as_tensor(method(game, **options)).detach().to("cpu", torch.float64))
        return torch.stack(rows)

    return explain


def segment_explainer(method: Callable, segments, **options) -> Callable:
    """A gradient method's maps summed over segments: ``explain(model, x, targets) -> [B, M]``.

    :func:`helpers.metrics.segment_sums` of ``method(model, x, targets, **options)``.

    Examples
    --------
    >>> explain = segment_explainer(gradient, grid_segments((28, 28), 7))  # doctest: +SKIP
    """
    from .metrics import segment_sums

    if not callable(method):
        raise TypeError(f"method must be a gradient method method(model, x, target) -> maps; got {method!r}")

    def explain(model, x: torch.Tensor, targets) -> torch.Tensor:
        return segment_sums(method(model, x, targets, **options), segments).to("cpu", torch.float64)

    return explain


# --------------------------------------------------------------------------- a model with no gradient


def patch_means(x: torch.Tensor, segments) -> torch.Tensor:
    """The mean intensity of each segment of each image: float64 ``[B, M]``.

    Examples
    --------
    >>> patch_means(torch.ones(2, 1, 28, 28), grid_segments((28, 28), 7)).shape  # doctest: +SKIP
    torch.Size([2, 16])
    """
    from .features import check_segments
    from .metrics import segment_sums

    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim < 3:
        raise ValueError(f"x must be a float batch of images [B, C, H, W]; got {getattr(x, 'shape', type(x).__name__)}")
    segments, n_players = check_segments(segments, tuple(x.shape))
    counts = torch.bincount(segments.reshape(-1), minlength=n_players) * int(np.prod(x.shape[1:x.ndim - segments.ndim]))
    return (segment_sums(x.detach(), segments).double() / counts.double().to(x.device)).cpu()


class PatchForest(nn.Module):
    """A fitted scikit-learn classifier on patch means, as a model of images ``[B, C, H, W] -> [B, classes]``.

    It is an ``nn.Module`` so that every helper accepts it, but it has no parameters and
    its output has no gradient: :func:`helpers.saliency.gradient` refuses it, while the
    coalition game (LIME, SHAP) needs nothing but its predictions.

    Parameters
    ----------
    classifier : fitted scikit-learn classifier with ``predict_proba``
    segments : int tensor [H, W]
        The patches whose mean intensities are the classifier's features.

    Examples
    --------
    >>> forest = fit_patch_forest(X_train, y_train, grid_segments((28, 28), 7))  # doctest: +SKIP
    >>> forest(X_test[:2]).shape  # doctest: +SKIP
    torch.Size([2, 10])
    """

    def __init__(self, classifier, segments):
        super().__init__()
        if not hasattr(classifier, "predict_proba"):
            raise TypeError(f"classifier must be a fitted scikit-learn classifier with predict_proba; got {type(classifier).__name__}")
        self.classifier = classifier
        self.segments = torch.as_tensor(segments)

    def features(self, x: torch.Tensor) -> np.ndarray:
        """The classifier's input: :func:`patch_means` of ``x``, ``[B, M]`` float64."""
        return patch_means(x, self.segments).numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = self.classifier.predict_proba(self.features(x))
        return torch.from_numpy(np.ascontiguousarray(probabilities, dtype=np.float64)).to(x.device)


def fit_patch_forest(X: torch.Tensor, y: torch.Tensor, segments, *, n_trees: int = 50, max_depth: int = 10,
                     seed: int = 0) -> PatchForest:
    """A scikit-learn ``RandomForestClassifier`` fitted on the patch means of ``X``.

    Breiman, "Random Forests", 2001, Machine Learning 45. One thread, a fixed
    ``random_state``: the same forest on every run.

    Parameters
    ----------
    X : torch.Tensor [N, C, H, W]
    y : torch.Tensor [N], int labels
    segments : int tensor [H, W]
    n_trees, max_depth : int
    seed : int

    Returns
    -------
    PatchForest
    """
    from sklearn.ensemble import RandomForestClassifier

    from .seeding import _check_seed

    seed = _check_seed(seed)
    for name, value in (("n_trees", n_trees), ("max_depth", max_depth)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    features = patch_means(X, segments).numpy()
    classifier = RandomForestClassifier(n_estimators=n_trees, max_depth=max_depth, random_state=seed, n_jobs=1)
    classifier.fit(features, torch.as_tensor(y).numpy())
    return PatchForest(classifier, segments)


def tree_shap(forest: PatchForest, x: torch.Tensor, baseline: torch.Tensor, target: int) -> torch.Tensor:
    """shap's ``TreeExplainer`` on a :class:`PatchForest`: interventional, one background row.

    The background row is the patch means of ``baseline``, so the values answer the
    same game as :class:`~helpers.features.CoalitionGame` with that baseline: an absent
    patch takes the baseline's patch mean. Lundberg et al., "From local explanations to
    global understanding with explainable AI for trees", 2020, Nature Machine Intelligence
    2 (interventional TreeSHAP).

    Parameters
    ----------
    forest : PatchForest
    x : torch.Tensor [C, H, W], one image
    baseline : torch.Tensor, shaped like ``x``
    target : int, the class explained

    Returns
    -------
    torch.Tensor, float64, [M]
    """
    import shap

    if not isinstance(forest, PatchForest):
        raise TypeError(f"forest must be a PatchForest; got {type(forest).__name__}")
    features = forest.features(x[None])
    background = forest.features(torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)[None])
    explainer = shap.TreeExplainer(forest.classifier, data=background, feature_perturbation="interventional",
                                   model_output="probability")
    values = np.asarray(explainer.shap_values(features, check_additivity=False))
    # shap >= 0.45 returns [n, M, classes]; older versions a list over classes of [n, M]
    values = values[0, :, target] if values.ndim == 3 and values.shape[0] == 1 and values.shape[-1] != features.shape[1] \
        else values[target][0]
    return torch.from_numpy(np.array(values, dtype=np.float64))


# --------------------------------------------------------------------------- verdicts

#: The three verdicts, from best supported to not supported.
VERDICTS = ("holds", "partly", "does not hold")


def verdict(value: float, *, holds: float, fails: float, higher: bool = True) -> str:
    """The verdict on a claim from one measured figure and two thresholds.

    With ``higher=True`` (a larger figure supports the claim): "holds" when
    ``value >= holds``, "does not hold" when ``value < fails``, "partly" in between.
    With ``higher=False`` the other way round: "holds" when ``value <= holds``,
    "does not hold" when ``value > fails``.

    Examples
    --------
    >>> verdict(0.95, holds=0.9, fails=0.5), verdict(0.7, holds=0.9, fails=0.5), verdict(0.2, holds=0.9, fails=0.5)
    ('holds', 'partly', 'does not hold')
    """
    for name, number in (("value", value), ("holds", holds), ("fails", fails)):
        if isinstance(number, bool) or not isinstance(number, Real) or not np.isfinite(float(number)):
            raise ValueError(f"{name} must be a finite number; got {number!r}")
    if not isinstance(higher, bool):
        raise TypeError(f"higher must be True or False; got {higher!r}")
    if (higher and holds < fails) or (not higher and holds > fails):
        raise ValueError(f"thresholds in the wrong order: with higher={higher}, holds={holds} must be "
                         f"{'>=' if higher else '<='} fails={fails}")
    if higher:
        return "holds" if value >= holds else ("does not hold" if value < fails else "partly")
    return "holds" if value <= holds else ("does not hold" if value > fails else "partly")


def format_figure(value: float, fmt: str = ".2f", *, floor: float | None = None) -> str:
    """``value`` printed with ``fmt``, or ``"< floor"`` when it lies below ``floor``.

    A figure at the level of floating-point rounding (an efficiency gap of float32 sums, the
    difference between two implementations of the same formula) changes from CPU to CPU in
    its leading digit; what holds on every machine is that it is below the rounding floor.

    Examples
    --------
    >>> format_figure(3.4e-08, ".1e", floor=1e-6), format_figure(0.02, ".1e", floor=1e-6)
    ('< 1.0e-06', '2.0e-02')
    """
    value = float(value)
    if floor is not None and abs(value) < floor:
        return f"< {format(floor, fmt)}"
    return format(value, fmt)


@dataclass
class Rule:
    """One measured figure and the thresholds that turn it into a verdict.

    Attributes
    ----------
    name : str
        What was measured, in words (printed in the table).
    value : float
    holds, fails : float
        Thresholds of :func:`verdict`.
    higher : bool
        Whether a larger value supports the claim.
    fixed : bool
        A yes/no fact (1 or 0): its thresholds do not move in :func:`threshold_sensitivity`.
    fmt : str
        How the value is printed.
    floor : float, optional
        The rounding noise of the computation: a value below it is printed as ``< floor``
        (:func:`format_figure`); the verdict still uses the value.
    """

    name: str
    value: float
    holds: float
    fails: float
    higher: bool = True
    fixed: bool = False
    fmt: str = ".2f"
    floor: float | None = None

    def verdict(self, scale: float = 1.0) -> str:
        """The verdict with both thresholds multiplied by ``scale`` (unless ``fixed``)."""
        scale = 1.0 if self.fixed else scale
        return verdict(float(self.value), holds=self.holds * scale, fails=self.fails * scale, higher=self.higher)

    def describe(self) -> str:
        if self.fixed:
            return f"{self.name}: {'yes' if self.value >= self.holds else 'no'}"
        sign = ">=" if self.higher else "<="
        return f"{self.name} {format_figure(self.value, self.fmt, floor=self.floor)} (holds {sign} {format(self.holds, self.fmt)})"


@dataclass
class Claim:
    """One cell of the comparison table: the claim, the rules that measure it, and a note.

    Attributes
    ----------
    row : str
        The table's row ("Principle", "Scope", ...).
    column : str
        The method ("Saliency", "LIME", "SHAP").
    claim : str
        What the table says.
    rules : list of Rule
    note : str
        Anything else measured that the verdict does not use.
    """

    row: str
    column: str
    claim: str
    rules: list = field(default_factory=list)
    note: str = ""


def claim_verdict(claim: Claim, scale: float = 1.0) -> str:
    """A cell's verdict: "holds" if every rule holds, "does not hold" if none holds, "partly" otherwise.

    Examples
    --------
    >>> claim_verdict(Claim("Cost", "Saliency", "low", [Rule("passes", 1, 1, 1), Rule("rows", 5, 2, 10, higher=False)]))
    'partly'
    """
    if not isinstance(claim, Claim) or not claim.rules:
        raise ValueError(f"claim must be a Claim with at least one Rule; got {claim!r}")
    verdicts = [rule.verdict(scale) for rule in claim.rules]
    if all(v == "holds" for v in verdicts):
        return "holds"
    if all(v == "does not hold" for v in verdicts):
        return "does not hold"
    return "partly"


def _check_claims(claims) -> list:
    claims = list(claims)
    if not claims or not all(isinstance(c, Claim) for c in claims):
        raise TypeError("claims must be a non-empty sequence of Claim")
    return claims


def verdict_table(claims):
    """The comparison table as a pandas DataFrame: rows x methods, each cell the verdict.

    Returns
    -------
    pandas.DataFrame
        Index: the rows in the order first met; columns: the methods in the order first met.
    """
    import pandas as pd

    claims = _check_claims(claims)
    rows = list(dict.fromkeys(c.row for c in claims))
    columns = list(dict.fromkeys(c.column for c in claims))
    table = pd.DataFrame("", index=rows, columns=columns)
    for c in claims:
        table.loc[c.row, c.column] = claim_verdict(c)
    return table


def markdown_table(claims) -> str:
    """The comparison table in Markdown: each cell holds the claim, the figures and the verdict.

    Built from the :class:`Claim` objects (never typed by hand): ``claim`` in italics, each
    rule's figure and threshold, the note, and the verdict in bold.
    """
    claims = _check_claims(claims)
    rows = list(dict.fromkeys(c.row for c in claims))
    columns = list(dict.fromkeys(c.column for c in claims))
    cells = {(c.row, c.column): c for c in claims}
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        parts = []
        for column in columns:
            c = cells.get((row, column))
            if c is None:
                parts.append("")
                continue
            figures = "; ".join(rule.describe() for rule in c.rules)
            note = f"; {c.note}" if c.note else ""
            parts.append(f"*{c.claim}* <br> {figures}{note} <br> **{claim_verdict(c)}**")
        lines.append(f"| **{row}** | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def threshold_sensitivity(claims, scales=(0.5, 1.0, 1.5)):
    """Each cell's verdict when every threshold is multiplied by each of ``scales``.

    Moving a threshold by half (x 0.5 and x 1.5) shows which verdicts rest on the exact
    threshold and which do not; yes/no rules (``fixed``) do not move.

    Returns
    -------
    pandas.DataFrame
        One row per cell (row, method), one column per scale, and ``moves`` (whether the
        verdict changes at all).
    """
    import pandas as pd

    claims = _check_claims(claims)
    scales = [float(s) for s in scales]
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales):
        raise ValueError(f"scales must be positive numbers; got {scales!r}")
    records = []
    for c in claims:
        verdicts = [claim_verdict(c, s) for s in scales]
        records.append({"row": c.row, "method": c.column, **{f"x{s:g}": v for s, v in zip(scales, verdicts)},
                        "moves": len(set(verdicts)) > 1})
    return pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------- plots


def show_curves(fractions, curves: dict, reference=None, ax=None, *, title: str | None = None,
                ylabel: str = "target probability"):
    """Deletion or insertion curves of several methods, with the random-order band.

    Parameters
    ----------
    fractions : tensor/array [K + 1]
    curves : dict of name -> tensor/array [K + 1] (or [B, K + 1]: the mean over rows is drawn)
    reference : tensor/array [R, K + 1] or [B, R, K + 1], optional
        Random-order curves: their mean and the band mean +- one standard deviation.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    x = np.asarray(fractions, dtype=float)
    if reference is not None:
        ref = np.asarray(reference, dtype=float).reshape(-1, x.shape[0])
        mean, spread = ref.mean(axis=0), ref.std(axis=0)
        ax.fill_between(x, mean - spread, mean + spread, color="0.85", label="random order (mean +- sd)")
        ax.plot(x, mean, color="0.5", lw=1)
    for name, values in curves.items():
        values = np.asarray(values, dtype=float).reshape(-1, x.shape[0]).mean(axis=0)
        ax.plot(x, values, lw=1.5, label=name)
    ax.set_xlabel("fraction of features")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def show_randomisation(results: dict, measure: str = "spearman_abs", ax=None, *, title: str | None = None):
    """Median similarity to the original map after each randomised layer, one line per method.

    Parameters
    ----------
    results : dict of name -> :class:`helpers.metrics.Randomisation`
    measure : str, a key of their ``similarity``
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, result in results.items():
        if measure not in result.similarity:
            raise ValueError(f"measure must be one of {sorted(result.similarity)}; got {measure!r}")
        values = result.similarity[measure].nanmedian(dim=1).values.numpy()
        ax.plot(range(len(result.stages)), values, marker="o", label=name)
        ax.set_xticks(range(len(result.stages)), result.stages)
    ax.set_ylim(-0.2, 1.05)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("layers randomised (top down, cumulative)")
    ax.set_ylabel(f"median {measure}")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax
