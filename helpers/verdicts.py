r"""Verdicts as measurements: a claim, the figures that test it, their uncertainty, and the thresholds that decide.

- :func:`verdict` -- "holds", "partly" or "does not hold" from one figure and two thresholds.
- :func:`bootstrap_interval` -- a percentile bootstrap confidence interval over examples.
- :class:`Scale` and :data:`SCALES` -- the range a figure can take and one step on it, by which
  :func:`threshold_sensitivity` moves the thresholds.
- :class:`Rule` -- one measured figure: its value, interval, thresholds and margin
  (:meth:`Rule.measured` builds it from per-example figures).
- :class:`Claim`, :func:`claim_verdict` -- one cell of a comparison table and its verdict, by
  the one aggregation rule :data:`AGGREGATION`.
- :class:`Criterion`, :class:`Definition`, :data:`DEFINITIONS`, :func:`measure_claim` -- the
  course's claims, each defined once (its rules, thresholds, resolution, treatment of dummy
  features and the output explained) and measured by notebooks 03, 06 and 08 alike.
- :func:`verdict_table`, :func:`markdown_table` -- the table rendered from the claims, never typed.
- :func:`threshold_sensitivity` -- the verdicts when every threshold is one step stricter or more lenient.

Taught in ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

__all__ = [
    "VERDICTS",
    "AGGREGATION",
    "verdict",
    "bootstrap_interval",
    "format_figure",
    "Scale",
    "SCALES",
    "Rule",
    "Claim",
    "claim_verdict",
    "Criterion",
    "Definition",
    "DEFINITIONS",
    "measure_claim",
    "verdict_table",
    "markdown_table",
    "threshold_sensitivity",
]


#: The verdicts: three decided ones, from best supported to not supported, and "inconclusive".
VERDICTS = ("holds", "partly", "does not hold", "inconclusive")
_DECIDED = VERDICTS[:3]

#: How the verdicts of a claim's rules make the claim's verdict (implemented by :func:`claim_verdict`).
AGGREGATION = (
    "A rule holds, holds partly or does not hold by where its figure lies against its two thresholds; it is "
    "inconclusive when its 95% confidence interval reaches across a threshold. A claim holds when every rule "
    "holds, does not hold when every rule does not hold, and holds partly otherwise; it is inconclusive when "
    "the ends of its rules' intervals would give it different verdicts."
)

#: Bootstrap settings shared by every claim: resamples, confidence level, seed.
BOOTSTRAP_RESAMPLES, BOOTSTRAP_LEVEL, BOOTSTRAP_SEED = 2000, 0.95, 0


def _check_number(name: str, number) -> float:
    if isinstance(number, bool) or not isinstance(number, Real):
        raise TypeError(f"{name} must be a number (a float, not a tensor or a string); got {number!r} "
                        f"of type {type(number).__name__}")
    if not np.isfinite(float(number)):
        raise ValueError(f"{name} must be a finite number; got {number!r}")
    return float(number)


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
        _check_number(name, number)
    if not isinstance(higher, bool):
        raise TypeError(f"higher must be True or False; got {higher!r}")
    if (higher and holds < fails) or (not higher and holds > fails):
        raise ValueError(f"thresholds in the wrong order: with higher={higher}, holds={holds} must be "
                         f"{'>=' if higher else '<='} fails={fails}")
    if higher:
        return "holds" if value >= holds else ("does not hold" if value < fails else "partly")
    return "holds" if value <= holds else ("does not hold" if value > fails else "partly")


_STATISTICS = {"median": np.median, "mean": np.mean, "max": np.max, "min": np.min}


def _samples(samples) -> np.ndarray:
    if hasattr(samples, "detach"):  # a tensor
        samples = samples.detach().cpu().double().numpy()
    values = np.asarray(samples, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("samples must hold at least one per-example figure; got none")
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"samples must be finite; {bad} of {values.size} are NaN or Inf (leave out the examples "
                         f"where the figure is undefined, and say so in the claim's definition)")
    return values


def bootstrap_interval(samples, statistic: str = "median", *, level: float = BOOTSTRAP_LEVEL,
                       n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The percentile bootstrap confidence interval of ``statistic`` over the examples in ``samples``.

    The examples are resampled with replacement ``n_resamples`` times (a NumPy
    generator of its own, seeded: the same samples give the same interval on every
    call, and the global random state is not touched); the interval runs between
    the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the statistic
    over the resamples (Efron & Tibshirani 1993, ch. 13). One example gives a
    zero-width interval.

    Examples
    --------
    >>> bootstrap_interval([0.5, 0.5, 0.5])
    (0.5, 0.5)
    """
    values = _samples(samples)
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {sorted(_STATISTICS)}; got {statistic!r}")
    if not 0 < _check_number("level", level) < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, values.size, size=(int(n_resamples), values.size))
    estimates = _STATISTICS[statistic](values[rows], axis=1)
    low, high = np.quantile(estimates, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


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


@dataclass(frozen=True)
class Scale:
    """The range a kind of figure can take, and the step by which a sensitivity check moves its thresholds.

    On a linear scale a step adds ``step``; on a logarithmic one (gaps at the
    rounding level, counts) it multiplies by ``10 ** step``. Moved thresholds are
    kept inside ``[low, high]``. A ``step`` of 0 (a yes/no fact) never moves.
    """

    name: str
    low: float
    high: float
    step: float
    log: bool = False

    def move(self, threshold: float, steps: float) -> float:
        moved = threshold * 10 ** (self.step * steps) if self.log else threshold + self.step * steps
        return float(min(max(moved, self.low), self.high))

    def distance(self, a: float, b: float) -> float:
        """How far apart two figures are on this scale: in decades on a log scale, else in the figure's units."""
        if self.log:
            return abs(math.log10(max(a, 1e-300)) - math.log10(max(b, 1e-300)))
        return abs(a - b)


#: The scales of the course's figures. Correlations, fractions, ratios and differences (an area
#: below random) move by 0.1, gaps at the rounding level by a decade, counts by half a decade
#: (x 3.2); facts do not move.
SCALES = {
    "correlation": Scale("correlation", -1.0, 1.0, 0.1),
    "fraction": Scale("fraction", 0.0, 1.0, 0.1),
    "ratio": Scale("ratio", 0.0, math.inf, 0.1),
    "difference": Scale("difference", -math.inf, math.inf, 0.1),
    "gap": Scale("gap", 0.0, math.inf, 1.0, log=True),
    "count": Scale("count", 0.0, math.inf, 0.5, log=True),
    "fact": Scale("fact", 0.0, 1.0, 0.0),
}


@dataclass
class Rule:
    """One measured figure, its uncertainty and the thresholds that turn it into a verdict.

    Attributes
    ----------
    name : str
        What was measured, in words (printed in the table).
    value : float
    holds, fails : float
        Thresholds of :func:`verdict`.
    higher : bool
        Whether a larger value supports the claim.
    scale : str
        A key of :data:`SCALES`: the figure's range, and how far a sensitivity step moves the
        thresholds. ``"fact"`` is a yes/no fact (1 or 0) whose thresholds never move.
    interval : (float, float), optional
        The 95% bootstrap confidence interval over examples (:meth:`measured`); None for a
        figure without sampling uncertainty (a count, a fact).
    n : int, optional
        The number of examples behind the figure.
    statistic : str
        How the per-example figures were summarised ("median", "mean", "max", "min").
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
    scale: str = "correlation"
    interval: tuple | None = None
    n: int | None = None
    statistic: str = ""
    fmt: str = ".2f"
    floor: float | None = None

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {sorted(SCALES)}; got {self.scale!r}")
        self.value = _check_number("value", self.value)
        verdict(self.value, holds=self.holds, fails=self.fails, higher=self.higher)  # checks the thresholds
        if self.interval is not None:
            low, high = (_check_number("interval", v) for v in self.interval)
            if not low <= self.value <= high:
                raise ValueError(f"interval {self.interval} must contain the value {self.value}")
            self.interval = (low, high)

    @classmethod
    def measured(cls, name: str, samples, holds: float, fails: float, *, statistic: str = "median", **options) -> "Rule":
        """A rule whose figure is ``statistic`` of per-example figures, with its :func:`bootstrap_interval`.

        Examples
        --------
        >>> rule = Rule.measured("rho", [0.2, 0.3, 0.4], 0.5, 0.8, higher=False)
        >>> rule.value, rule.n, rule.verdict()
        (0.3, 3, 'holds')
        """
        values = _samples(samples)
        interval = bootstrap_interval(values, statistic)
        value = float(_STATISTICS[statistic](values))
        return cls(name, value, holds, fails, interval=interval, n=int(values.size), statistic=statistic, **options)

    @property
    def fixed(self) -> bool:
        return SCALES[self.scale].step == 0

    def thresholds(self, steps: float = 0.0) -> tuple[float, float]:
        """``(holds, fails)`` moved ``steps`` steps stricter (negative: more lenient) on the rule's scale."""
        scale, toward = SCALES[self.scale], (1 if self.higher else -1) * steps
        return scale.move(self.holds, toward), scale.move(self.fails, toward)

    def possible_verdicts(self, steps: float = 0.0) -> tuple:
        """The decided verdicts that the figures within the interval would give (one when it is conclusive)."""
        holds, fails = self.thresholds(steps)
        ends = self.interval or (self.value, self.value)
        found = sorted(_DECIDED.index(verdict(v, holds=holds, fails=fails, higher=self.higher)) for v in ends)
        return _DECIDED[found[0]:found[-1] + 1]

    def verdict(self, steps: float = 0.0) -> str:
        """The verdict with the thresholds moved ``steps`` steps stricter; "inconclusive" if the interval crosses one."""
        possible = self.possible_verdicts(steps)
        return possible[0] if len(possible) == 1 else "inconclusive"

    def margin(self) -> float:
        """How far the figure lies from the nearer threshold (:meth:`Scale.distance`: decades on a log scale).

        A figure below its rounding ``floor`` counts as the floor: it is known only to lie below it.
        """
        scale, value = SCALES[self.scale], self.value
        if self.floor is not None and abs(value) < self.floor:
            value = self.floor
        return min(scale.distance(value, self.holds), scale.distance(value, self.fails))

    def describe(self) -> str:
        """The figure, its interval and sample size, the thresholds and the margin, in one line."""
        if self.fixed:
            return f"{self.name}: {'yes' if self.verdict() == 'holds' else 'no'}"
        figure = format_figure(self.value, self.fmt, floor=self.floor)
        if self.interval is not None:
            low, high = (format_figure(v, self.fmt, floor=self.floor) for v in self.interval)
            if low != high:  # an interval that prints as one number (or one bound) is not shown
                figure += f" [{low}, {high}]"
        if self.n is not None:
            figure += f", n = {self.n}"
        sign, other = (">=", "<") if self.higher else ("<=", ">")
        if self.holds == self.fails:
            thresholds = f"holds {sign} {_threshold(self.holds, self.fmt)}"
        else:
            thresholds = f"holds {sign} {_threshold(self.holds, self.fmt)}, fails {other} {_threshold(self.fails, self.fmt)}"
        unit = " decades" if SCALES[self.scale].log else ""
        return f"{self.name} {figure} ({thresholds}; margin {self.margin():.2g}{unit})"


def _threshold(value: float, fmt: str) -> str:
    """A threshold in the figure's format, or in full where that format would round it (0.5 with ".0f")."""
    text = format(value, fmt)
    try:
        exact = float(text) == float(value)
    except ValueError:  # a format with a unit or a percent sign
        exact = True
    return text if exact else f"{value:g}"


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
    definition : str
        How the claim is measured: the resolution, the treatment of dummy features, the output explained.
    """

    row: str
    column: str
    claim: str
    rules: list = field(default_factory=list)
    note: str = ""
    definition: str = ""


def _aggregate(verdicts) -> str:
    if all(v == "holds" for v in verdicts):
        return "holds"
    if all(v == "does not hold" for v in verdicts):
        return "does not hold"
    return "partly"


def claim_verdict(claim: Claim, steps: float = 0.0) -> str:
    """A cell's verdict by :data:`AGGREGATION`, with every threshold moved ``steps`` steps stricter.

    "holds" if every rule holds, "does not hold" if every rule does not hold, "partly"
    otherwise; "inconclusive" if the rules' intervals allow more than one of these.

    Examples
    --------
    >>> claim_verdict(Claim("Cost", "Saliency", "low", [Rule("passes", 1, 1, 1, scale="count"),
    ...                                                Rule("rows", 5, 2, 10, higher=False, scale="count")]))
    'partly'
    """
    if not isinstance(claim, Claim) or not claim.rules:
        raise ValueError(f"claim must be a Claim with at least one Rule; got {claim!r}")
    outcomes = {_aggregate(combination)
                for combination in itertools.product(*(rule.possible_verdicts(steps) for rule in claim.rules))}
    return outcomes.pop() if len(outcomes) == 1 else "inconclusive"


# --------------------------------------------------------------------------- the course's claims, defined once


@dataclass(frozen=True)
class Criterion:
    """One rule of a claim before it is measured: what is measured, how it is summarised, its thresholds."""

    name: str
    holds: float
    fails: float
    higher: bool = True
    scale: str = "correlation"
    statistic: str = "median"
    fmt: str = ".2f"
    floor: float | None = None

    def measure(self, samples) -> Rule:
        """The :class:`Rule` of per-example ``samples`` (a number: one figure, without an interval)."""
        options = dict(higher=self.higher, scale=self.scale, fmt=self.fmt, floor=self.floor)
        if isinstance(samples, Real) and not isinstance(samples, bool):
            return Rule(self.name, float(samples), self.holds, self.fails, **options)
        return Rule.measured(self.name, samples, self.holds, self.fails, statistic=self.statistic, **options)


@dataclass(frozen=True)
class Definition:
    """A claim of the comparison table, defined once: its words, how it is measured, its criteria by key."""

    row: str
    column: str
    claim: str
    definition: str
    criteria: dict

    def measure(self, note: str = "", setting: str | None = None, **samples) -> Claim:
        """The :class:`Claim` with one figure per criterion: ``samples[key]`` per-example figures (or a number).

        ``setting`` replaces the definition's description of the setting where the same
        criteria are measured on other data (words of a text instead of patches of a digit);
        the criteria, their summaries and thresholds never change.
        """
        missing, unknown = sorted(set(self.criteria) - set(samples)), sorted(set(samples) - set(self.criteria))
        if missing or unknown:
            raise ValueError(f"{self.row} / {self.column} is measured by {sorted(self.criteria)}; "
                             f"missing {missing}, unknown {unknown}")
        rules = [criterion.measure(samples[key]) for key, criterion in self.criteria.items()]
        return Claim(self.row, self.column, self.claim, rules, note=note,
                     definition=self.definition if setting is None else setting)


#: How every claim below is measured unless its definition says otherwise.
PATCHES = ("16 patches of 7 x 7 pixels; blank patches (dummy players, worth 0 in every coalition) are left out of "
           "every rank comparison; every method explains the logit and is evaluated on the logit")

_RHO_LOW = dict(holds=0.5, fails=0.8, higher=False)   # "different": a rank correlation at most 0.5
_RHO_HIGH = dict(holds=0.9, fails=0.6)                # "the same": a rank correlation at least 0.9
#: Deletion: how far the curve's rescaled area lies below the random orders' (in units of v(N) - v(empty)).
_GAIN = dict(holds=0.2, fails=0.05, scale="difference")
_GAP = dict(higher=False, scale="gap", statistic="max", fmt=".1e")
_FACT = dict(holds=1, fails=1, scale="fact")

_PHOTO = PATCHES + "; the photograph: its superpixels, against each of 5 random orders"
_D = Definition
_C = Criterion

DEFINITIONS = {(d.row, d.column): d for d in [
    _D("Principle", "Saliency", "gradients of the score w.r.t. the input",
       PATCHES + "; central finite differences with steps of 1e-6, median over digits (a step that crosses a ReLU "
       "kink gives a large gap on its digit: the derivative is not defined there)",
       {"finite_differences": _C("max |autograd - finite differences| / max |grad| of a digit", 1e-4, 1e-2,
                                 **{**_GAP, "statistic": "median"}, floor=1e-6),
        "randomised": _C("Spearman of patch maps after randomising all layers", **_RHO_LOW)}),
    _D("Principle", "LIME", "perturb the neighbourhood, fit an interpretable model", PATCHES,
       {"r2": _C("weighted R^2 of the fit", 0.8, 0.5, scale="fraction")}),
    _D("Principle", "SHAP", "Shapley values: fair marginal contributions", PATCHES,
       {"efficiency": _C("efficiency gap |sum phi - (v(N) - v(empty))|", 1e-4, 1e-2, **_GAP, floor=1e-5),
        "dummy": _C("|value| of a blank patch", 1e-5, 1e-3, **_GAP, floor=1e-6)}),
    _D("Scope", "Saliency", "local", PATCHES + "; pairs of neighbouring test digits, patches blank in neither",
       {"cross_digit": _C("Spearman of the maps of two different digits", **_RHO_LOW)}),
    _D("Scope", "LIME", "local", PATCHES + "; pairs of neighbouring test digits, patches blank in neither",
       {"cross_digit": _C("Spearman of the weights of two different digits", **_RHO_LOW)}),
    _D("Scope", "SHAP", "local + global", PATCHES + "; global: mean |phi| over each half of the digits",
       {"cross_digit": _C("Spearman of the values of two different digits", **_RHO_LOW),
        "halves": _C("Spearman of global importances, half vs half (20 random halves)", 0.8, 0.5)}),
    _D("Model dependency", "Saliency", "needs gradients (differentiable models only)", PATCHES,
       {"refuses_forest": _C("gradient refuses the random forest", **_FACT)}),
    _D("Model dependency", "LIME", "model-agnostic, needs only predictions", PATCHES + "; the patch forest",
       {"explains_forest": _C("explains the random forest", **_FACT),
        "forest_rho": _C("Spearman with exact SHAP on the forest", 0.7, 0.3)}),
    _D("Model dependency", "SHAP", "model-agnostic; optimised versions (TreeSHAP, DeepSHAP)", PATCHES + "; the patch forest",
       {"tree_gap": _C("|exact SHAP - TreeSHAP| on the forest", 1e-6, 1e-3, **_GAP)}),
    _D("Output", "Saliency", "pixel heatmap highlighting critical regions",
       PATCHES + "; deletion curves of the logit rescaled so that v(empty) = 0 and v(N) = 1, their area against the "
       "mean of 20 random orders', with two maskers: black (the explainers' own) and the training mean",
       {"deletion_black": _C("deletion area below random, black masker", **_GAIN),
        "deletion_mean": _C("deletion area below random, training-mean masker", **_GAIN)}),
    _D("Output", "LIME", "signed feature weights", PATCHES,
       {"sign_agreement": _C("share of patches whose sign agrees with occlusion", 0.8, 0.6, scale="fraction"),
        "deletion_mean": _C("deletion area below random, training-mean masker", **_GAIN)}),
    _D("Output", "SHAP", "additive contributions", PATCHES,
       {"efficiency": _C("efficiency gap of KernelSHAP", 1e-4, 1e-2, **_GAP, floor=1e-5),
        "deletion_mean": _C("deletion area below random, training-mean masker", **_GAIN)}),
    _D("Stability", "Saliency", "unstable (noise, gradient vanishing)",
       PATCHES + "; Gaussian noise of std 0.02 on the input",
       {"noise": _C("Spearman of the maps of an input and a slightly changed copy", 0.6, 0.9, higher=False)}),
    _D("Stability", "LIME", "unstable (samples change it)", PATCHES + "; seeds 0, 1, 2, mean over the pairs",
       {"seeds": _C("Spearman between seeds", 0.6, 0.9, higher=False)}),
    _D("Stability", "SHAP", "stable (Shapley values are unique)",
       PATCHES + "; KernelSHAP with 256 coalitions for noise, 200 for seeds",
       {"noise": _C("Spearman of the values of an input and a slightly changed copy", **_RHO_HIGH),
        "seeds": _C("Spearman between seeds", **_RHO_HIGH)}),
    _D("Reference", "Saliency", "depends on the baseline (Integrated Gradients)",
       PATCHES + "; IG with a black and a training-mean baseline",
       {"baseline": _C("Spearman of IG under two baselines", 0.6, 0.9, higher=False)}),
    _D("Reference", "LIME", "depends on its kernel width and segmentation",
       PATCHES + "; kernel widths 0.25 and 1.0; at pixels, patches of 7 x 7 against 4 x 4",
       {"kernel_width": _C("Spearman of LIME under two kernel widths", 0.6, 0.9, higher=False),
        "segmentation": _C("Spearman of pixel maps under two segmentations", 0.6, 0.9, higher=False)}),
    _D("Reference", "SHAP", "depends on the baseline (what 'absent' means)",
       PATCHES + "; exact SHAP (black) and KernelSHAP with 512 coalitions (training mean, error < 1e-5)",
       {"baseline": _C("Spearman of exact SHAP under two baselines", 0.6, 0.9, higher=False)}),
    _D("Cost", "Saliency", "low (one backpropagation)", PATCHES + "; model evaluations for one explanation",
       {"backward": _C("backward passes of the gradient", 1, 2, higher=False, scale="count", fmt=".0f"),
        "rows": _C("forward rows of the gradient", 1, 10, higher=False, scale="count", fmt=".0f")}),
    _D("Cost", "LIME", "medium (sampling + fit)",
       PATCHES + "; rows at matched accuracy: 1% from the method's own converged answer",
       {"above_gradient": _C("LIME rows / gradient rows", 10, 2, scale="count", fmt=".0f"),
        "below_exact": _C("exact SHAP rows / LIME rows", 10, 2, scale="count", fmt=".0f")}),
    _D("Cost", "SHAP", "high (exact is exponential; approximations exist)",
       PATCHES + "; rows at matched accuracy: 1% from the method's own converged answer",
       {"exact_over_lime": _C("exact SHAP rows / LIME rows", 10, 2, scale="count", fmt=".0f"),
        "kernel_over_lime": _C("KernelSHAP rows / LIME rows, both at 1% error", 2, 1, scale="count", fmt=".2f")}),
    _D("Use cases", "Saliency", "computer vision", _PHOTO,
       {"photo_deletion": _C("photograph: deletion area below random", **_GAIN),
        "data_randomised": _C("Spearman with the shuffled-label model's maps", **_RHO_LOW)}),
    _D("Use cases", "LIME", "general (images, text, tables)", _PHOTO,
       {"photo_deletion": _C("photograph: deletion area below random", **_GAIN),
        "runs_everywhere": _C("runs on a CNN, EfficientNet and a forest", **_FACT)}),
    _D("Use cases", "SHAP", "high-risk tasks needing reliable explanations", _PHOTO,
       {"randomised": _C("Spearman after randomising all layers", **_RHO_LOW),
        "data_randomised": _C("Spearman with the shuffled-label model's values", **_RHO_LOW),
        "photo_deletion": _C("photograph: deletion area below random", **_GAIN)}),
    # ----------------------------------------------------------------- claims measured on text only (notebook 08)
    _D("Use cases: text", "Saliency", "can be extended to text (gradients on embeddings)",
       "words of movie-review snippets as the players (an absent word: [MASK], or the word model's zero padding vector); "
       "the predicted class's logit explained and evaluated; faithfulness (agreement with the model): deletion area "
       "below random orders', curves rescaled to v(empty) = 0 and v(N) = 1, on MiniLM and on the word model; "
       "plausibility (agreement with people, not with the model: Jacovi and Goldberg 2020): Spearman with VADER's "
       "valences toward the explained class, held to Cohen's medium (0.3) and small (0.1) correlations",
       {"deletion_minilm": _C("MiniLM: deletion area below random (faithfulness)", **_GAIN),
        "deletion_words": _C("word model: deletion area below random (faithfulness)", **_GAIN),
        "plausibility": _C("MiniLM: Spearman with VADER's valences (plausibility)", 0.3, 0.1)}),
    _D("Use cases: text", "LIME", "general (images, text, tables): NLP included",
       "as Use cases: text / Saliency, for LIME's word weights",
       {"deletion_minilm": _C("MiniLM: deletion area below random (faithfulness)", **_GAIN),
        "deletion_words": _C("word model: deletion area below random (faithfulness)", **_GAIN),
        "plausibility": _C("MiniLM: Spearman with VADER's valences (plausibility)", 0.3, 0.1)}),
    # ----------------------------------------------------------------- the optimised versions (notebook 09)
    _D("Exactness", "TreeSHAP", "exact Shapley values of the tree game, in polynomial time",
       "the patch forest of notebook 06 (16 patch means as features, the predicted class's probability), test "
       "digits: against exact enumeration of the coalitions of the game with a black baseline as the one background "
       "row (blank patches are dummies); against shap's TreeExplainer with a background of 100 training digits "
       "(interventional) and without one (path-dependent)",
       {"enumeration": _C("max |TreeSHAP - exact enumeration| of a digit", 1e-9, 1e-6, **_GAP, floor=1e-12),
        "shap_interventional": _C("max |ours - shap|, interventional, of a digit", 1e-6, 1e-4, **_GAP, floor=1e-12),
        "shap_path": _C("max |ours - shap|, path-dependent, of a digit", 1e-6, 1e-4, **_GAP, floor=1e-12)}),
    _D("Exactness", "DeepSHAP", "approximates SHAP values",
       "squared relative error ||phi_DeepSHAP - phi||^2 / ||phi||^2 against exact interventional SHAP values with the "
       "same background, per explained row; held to the 1% that the course's cost claims call converged: the diabetes "
       "MLP (10 features, 100 training rows as background), the digits' CNN (the 16 patches: DeepLIFT's pixel "
       "contributions summed per patch against exact SHAP of the patch game, black baseline; blank patches count, "
       "both give them 0) and the two-moons tanh MLP (2 features, 100 rows)",
       {"tabular": _C("diabetes MLP: error against exact SHAP", 0.01, 0.1, higher=False, scale="gap", fmt=".2g"),
        "digits": _C("digits' CNN: error against exact SHAP of the patches", 0.01, 0.1, higher=False, scale="gap",
                     fmt=".2g"),
        "moons": _C("two moons tanh MLP: error against exact SHAP", 0.01, 0.1, higher=False, scale="gap", fmt=".2g")}),
    _D("Cost", "TreeSHAP", "fast: polynomial in the trees' size, not exponential in the features",
       "the patch forest, one background row: tree-node steps for one explanation, counted (the same on every "
       "machine; the seconds are shown beside them); KernelSHAP at the budget that reaches 1% error",
       {"over_exact": _C("exact enumeration's node steps / TreeSHAP's", 100, 10, scale="count", fmt=".0f"),
        "over_kernel": _C("KernelSHAP's node steps at 1% error / TreeSHAP's", 10, 2, scale="count", fmt=".0f")}),
    _D("Cost", "DeepSHAP", "fast (a backward pass per background row)",
       "model evaluations for one explanation, forward and backward rows counted alike: the diabetes MLP with 100 "
       "background rows against KernelSHAP at the budget that reaches DeepSHAP's own error against exact SHAP "
       "(median over rows and 3 seeds); a digit's 784 pixels with one baseline against the smallest budget "
       "KernelSHAP can run with at all (a lower bound)",
       {"backward": _C("backward passes for one explanation", 1, 2, higher=False, scale="count", fmt=".0f"),
        "kernel_over_deep": _C("diabetes: KernelSHAP rows at DeepSHAP's error / DeepSHAP's rows", 10, 2,
                               scale="count", fmt=".0f"),
        "pixels": _C("pixels: KernelSHAP's smallest budget / DeepLIFT's rows", 10, 2, scale="count", fmt=".0f")}),
    _D("Model dependency", "DeepSHAP", "needs gradients (a network whose every layer has a rule)",
       "the patch forest and a network with a layer without a rule (LayerNorm)",
       {"refuses_forest": _C("refuses the random forest", **_FACT),
        "refuses_unruled": _C("refuses a layer it has no rule for, naming it", **_FACT)}),
]}
del _D, _C, _PHOTO


def measure_claim(row: str, column: str, *, note: str = "", setting: str | None = None, **samples) -> Claim:
    """The claim ``(row, column)`` of :data:`DEFINITIONS`, measured: one set of samples per criterion.

    ``setting`` describes where the criteria were measured, when not on the digits'
    patches (:meth:`Definition.measure`).

    Examples
    --------
    >>> claim = measure_claim("Stability", "LIME", seeds=[0.95, 0.97, 0.96])
    >>> claim_verdict(claim)
    'does not hold'
    """
    if (row, column) not in DEFINITIONS:
        raise ValueError(f"no claim is defined for ({row!r}, {column!r}); the claims are {sorted(DEFINITIONS)}")
    return DEFINITIONS[row, column].measure(note, setting, **samples)


# --------------------------------------------------------------------------- tables


def _check_claims(claims) -> list:
    claims = list(claims)
    if not claims or not all(isinstance(c, Claim) for c in claims):
        raise TypeError("claims must be a non-empty sequence of Claim")
    cells = [(c.row, c.column) for c in claims]
    twice = sorted({cell for cell in cells if cells.count(cell) > 1})
    if twice:
        raise ValueError(f"claims must hold one Claim per (row, method); got more than one for {twice}")
    return claims


def _cell_text(text: str) -> str:
    """Text inside a Markdown table cell: HTML escaped, ``|`` escaped so that it does not split the cell."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


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
    """The comparison table in Markdown: each cell holds the claim, every rule's figures, and the verdict.

    Built from the :class:`Claim` objects (never typed by hand): ``claim`` in italics, one
    line per rule (:meth:`Rule.describe`: figure, interval, n, thresholds, margin) with its
    own verdict, the note, and the claim's verdict in bold. Show it rendered with
    ``IPython.display.Markdown``.
    """
    claims = _check_claims(claims)
    rows = list(dict.fromkeys(c.row for c in claims))
    columns = list(dict.fromkeys(c.column for c in claims))
    cells = {(c.row, c.column): c for c in claims}
    lines = ["| | " + " | ".join(_cell_text(c) for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        parts = []
        for column in columns:
            c = cells.get((row, column))
            if c is None:
                parts.append("")
                continue
            figures = "".join(f" <br> {_cell_text(rule.describe())} &rarr; {rule.verdict()}" for rule in c.rules)
            note = f" <br> {_cell_text(c.note)}" if c.note else ""
            parts.append(f"*{_cell_text(c.claim)}*{figures}{note} <br> **{claim_verdict(c)}**")
        lines.append(f"| **{_cell_text(row)}** | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def threshold_sensitivity(claims, steps=(-1, 0, 1)):
    """Each cell's verdict when every threshold moves ``steps`` steps on its figure's own scale.

    A step is :attr:`Scale.step` of the rule's :data:`SCALES` entry (0.1 for a correlation,
    a decade for a rounding gap), positive toward stricter (harder to hold), and the moved
    thresholds stay within the range the figure can take. Yes/no facts do not move.

    Returns
    -------
    pandas.DataFrame
        One row per cell (row, method), one column per step (``"-1 step"``, ``"as stated"``,
        ``"+1 step"``), and ``moves`` (whether the verdict changes at all).
    """
    import pandas as pd

    claims = _check_claims(claims)
    steps = [_check_number("steps", s) for s in steps]
    if not steps:
        raise ValueError("steps must hold at least one number of steps")
    names = ["as stated" if s == 0 else f"{s:+g} step" for s in steps]
    records = []
    for c in claims:
        verdicts = [claim_verdict(c, s) for s in steps]
        records.append({"row": c.row, "method": c.column, **dict(zip(names, verdicts)), "moves": len(set(verdicts)) > 1})
    return pd.DataFrame.from_records(records)
