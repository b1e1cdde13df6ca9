r"""Verdicts as measurements: a claim, the figures that test it, and the thresholds that decide.

- :func:`verdict` -- "holds", "partly" or "does not hold" from one figure and two thresholds.
- :class:`Rule` -- one measured figure with its thresholds (and how it is printed:
  :func:`format_figure`, a figure at the rounding floor as ``< floor``).
- :class:`Claim`, :func:`claim_verdict` -- one cell of the comparison table and its verdict.
- :func:`verdict_table`, :func:`markdown_table` -- the table rendered from the claims, never typed.
- :func:`threshold_sensitivity` -- how the verdicts move when every threshold moves.

Taught in ``notebooks/06_comparison.ipynb``; notebook 08 measures the table's claims on text
with the same rules.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

__all__ = [
    "VERDICTS",
    "verdict",
    "format_figure",
    "Rule",
    "Claim",
    "claim_verdict",
    "verdict_table",
    "markdown_table",
    "threshold_sensitivity",
]


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
        if isinstance(number, bool) or not isinstance(number, Real):
            raise TypeError(f"{name} must be a number (a float, not a tensor or a string); got {number!r} "
                            f"of type {type(number).__name__}")
        if not np.isfinite(float(number)):
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
            return f"{self.name}: {'yes' if self.verdict() == 'holds' else 'no'}"
        sign = ">=" if self.higher else "<="
        return f"{self.name} {format_figure(self.value, self.fmt, floor=self.floor)} (holds {sign} {_threshold(self.holds, self.fmt)})"


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
    """The comparison table in Markdown: each cell holds the claim, the figures and the verdict.

    Built from the :class:`Claim` objects (never typed by hand): ``claim`` in italics, each
    rule's figure and threshold, the note, and the verdict in bold.
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
            figures = "; ".join(_cell_text(rule.describe()) for rule in c.rules)
            note = f"; {_cell_text(c.note)}" if c.note else ""
            parts.append(f"*{_cell_text(c.claim)}* <br> {figures}{note} <br> **{claim_verdict(c)}**")
        lines.append(f"| **{_cell_text(row)}** | " + " | ".join(parts) + " |")
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
