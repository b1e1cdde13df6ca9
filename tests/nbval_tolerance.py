"""nbval's strict output comparison, tolerant of rounding and of nothing else.

A figure computed on another CPU can flip in its last printed digit. With this plugin
nbval compares a cell's text outputs (stdout, stderr, and the ``text/plain``,
``text/html``, ``text/markdown`` and ``text/latex`` data of display and execute results)
token by token, after its sanitizers (``--nbval-sanitize-with``) have run:

- Words, symbols, punctuation and verdicts must match exactly. An identifier keeps the
  digits it carries (``s3``, ``conv1``, ``float64`` are words), so ranked labels cannot
  swap; elsewhere digits are numbers, also inside ``x1.10``, ``7x7``, ``2**16``, a version
  ``2.1.0`` or a date ``2024-01-05``. A unit after a number (``12ms``) is a word.
- A number matches when it lies within one unit of the last digit printed in the stored
  output: ``0.948`` accepts ``0.947`` and ``0.949`` but not ``0.946``; ``3.7e-04``
  accepts ``3.6e-04``; ``59.4%`` accepts ``59.3%``; ``1,072`` accepts ``1,073``.
  Integers too: ``994`` accepts ``993`` and ``995`` (so a shape ``(1, 28, 28)`` accepts
  ``(1, 28, 29)``). The sign is part of the number (``-0.001`` accepts ``0.000``). The
  arithmetic is decimal, so exactly one unit passes without any float epsilon.
- A number must keep its notation: the same count of decimals, the same exponent marker,
  thousands separators on both or on neither (``0.95`` never matches ``0.948``; ``999``
  may become ``1,000``).
- Lines must match one for one (an extra or missing line fails). Spacing within a line
  must be identical, unless some number in that output changed its printed width
  (``9.9`` to ``10.0``): then column padding may differ.

Everything else is nbval's own: collection, kernels, markers (``NBVAL_IGNORE_OUTPUT``,
``NBVAL_CHECK_OUTPUT``, ``NBVAL_SKIP``, ``NBVAL_RAISES_EXCEPTION``), strict mode, which
outputs are skipped (images unless ``--nbdime``, widget model ids), exception names and
values (compared exactly), missing or unexpected outputs, and the failure report, to
which the token that failed, and why, is added.

How it hooks in: each collected nbval cell's ``compare_outputs`` is wrapped. For every
pair of texts nbval is about to compare, a new text that matches the stored one within
rounding is replaced by the stored text; then nbval's exact comparison runs unchanged.

Load it with ``python -m pytest ... --nbval -p tests.nbval_tolerance`` from the
repository root (see the Makefile's ``NBVAL_FLAGS``); ``--nbval-exact`` turns the
tolerance off.
"""

from __future__ import annotations

import copy
import functools
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from nbval.plugin import IPyNbCell

TEXT_KEYS = ("stdout", "stderr", "text/plain", "text/html", "text/markdown", "text/latex")

_NUMBER = r"""
    (?:(?<![\w)\]}])[+-])?                     # a sign, unless it follows a word or a bracket
    (?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)           # digits, maybe with thousands separators
    (?:\.\d+)?                                 # decimals
    (?:[eE][+-]?\d+)?                          # exponent
"""
_TOKEN = re.compile(
    rf"""
    (?P<space>[^\S\n]+)
    | (?P<number>{_NUMBER})
    | (?P<unit>(?<=\d)[^\W\d_]+)               # letters right after a number: 12ms, 2.40x, 7x7
    | (?P<word>[^\W\d]\w*?(?=\d+\.\d)          # the x of x1.10, whose 1.10 is a number
              |[^\W\d]\w*)                     # an identifier, digits and all: s3, conv1
    | (?P<symbol>\S)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "space", "number", "unit", "word" or "symbol"
    text: str


def tokenize(line: str) -> list[Token]:
    """The tokens of one line (no newline in it), spaces included.

    >>> [t.text for t in tokenize("x1.10 (1, 28)")]
    ['x', '1.10', ' ', '(', '1', ',', ' ', '28', ')']
    """
    return [Token(m.lastgroup, m.group()) for m in _TOKEN.finditer(line)]


def _notation(number: str) -> tuple[int, str]:
    """The count of decimals and the exponent marker ("e", "E" or "") of a number."""
    mantissa, marker = re.match(r"([^eE]*)([eE]?)", number).groups()
    return len(mantissa.partition(".")[2]), marker


def _integer_digits(number: str) -> int:
    return len(re.split(r"[.eE]", number.lstrip("+-"))[0].replace(",", ""))


def number_mismatch(stored: str, new: str) -> str | None:
    """Why the number ``new`` does not match the stored ``stored``; ``None`` if it does.

    ``new`` matches when it is written in the same notation and lies within one unit of
    the last digit of ``stored``.

    >>> number_mismatch("0.948", "0.949") is None
    True
    >>> number_mismatch("0.948", "0.951")
    '0.951 differs from stored 0.948 by more than one unit (0.001) of its last digit'
    """
    if _notation(stored) != _notation(new):
        return f"{new} is written with other digits or notation than stored {stored}"
    if ("," in stored) != ("," in new):
        plain = stored if "," in new else new
        if _integer_digits(plain) > 3:  # long enough to carry a separator, yet has none
            return f"{new} and stored {stored} differ in their thousands separators"
    stored_value = Decimal(stored.replace(",", ""))
    unit = Decimal(1).scaleb(stored_value.as_tuple().exponent)
    if abs(Decimal(new.replace(",", "")) - stored_value) > unit:
        return (
            f"{new} differs from stored {stored} by more than one unit ({unit:f}) "
            "of its last digit"
        )
    return None


def text_mismatch(stored: str, new: str) -> str | None:
    """Why the text ``new`` does not match the ``stored`` text; ``None`` if it does.

    The rule is the module's: lines one for one, words and symbols exactly, numbers
    within one unit of their stored last digit, spacing free only where a number
    changed its width.

    >>> text_mismatch("accuracy 0.948: holds", "accuracy 0.947: holds") is None
    True
    >>> text_mismatch("accuracy 0.948: holds", "accuracy 0.948: partly")
    "line 1: 'partly' where the stored output has 'holds'"
    """
    if stored == new:
        return None
    stored_lines, new_lines = stored.split("\n"), new.split("\n")
    if len(stored_lines) != len(new_lines):
        stored_count, new_count = len(stored.splitlines()), len(new.splitlines())
        if stored_count == new_count:
            return "the final line break differs from the stored output"
        return f"{new_count} lines where the stored output has {stored_count}"
    width_changed = False
    spacing_differs_at = None
    for number, (stored_line, new_line) in enumerate(zip(stored_lines, new_lines), 1):
        stored_tokens = tokenize(stored_line)
        new_tokens = tokenize(new_line)
        if [t.text for t in stored_tokens] != [t.text for t in new_tokens]:
            if spacing_differs_at is None and _spacing_differs(stored_tokens, new_tokens):
                spacing_differs_at = number
        stored_solid = [t for t in stored_tokens if t.kind != "space"]
        new_solid = [t for t in new_tokens if t.kind != "space"]
        for s, n in zip(stored_solid, new_solid):
            if s.kind == n.kind == "number":
                why = number_mismatch(s.text, n.text)
                if why is not None:
                    return f"line {number}: {why}"
                width_changed |= len(s.text) != len(n.text)
            elif s.text != n.text:
                return f"line {number}: {n.text!r} where the stored output has {s.text!r}"
        if len(stored_solid) != len(new_solid):
            if len(new_solid) > len(stored_solid):
                extra = " ".join(t.text for t in new_solid[len(stored_solid):])
                return f"line {number}: {extra!r} more than the stored output"
            missing = " ".join(t.text for t in stored_solid[len(new_solid):])
            return f"line {number}: {missing!r} of the stored output missing"
    if spacing_differs_at is not None and not width_changed:
        return (
            f"line {spacing_differs_at}: spacing differs from the stored output "
            "although no number changed its width"
        )
    return None


def _spacing_differs(stored_tokens: list[Token], new_tokens: list[Token]) -> bool:
    """Whether two lines whose words and numbers agree are laid out differently."""

    def gaps(tokens):
        layout, gap = [], ""
        for t in tokens:
            if t.kind == "space":
                gap += t.text
            else:
                layout.append(gap)
                gap = ""
        return layout + [gap]

    return gaps(stored_tokens) != gaps(new_tokens)


def _texts_by_key(outputs, skip_compare):
    """Where each text nbval compares lives, grouped by nbval's key, in nbval's order.

    nbval flattens a cell's outputs into lists keyed by stream name or MIME type and
    compares the lists' entries pairwise; this yields the same pairing as
    ``(holder, field)`` places, so a value can be read and replaced.
    """
    places = defaultdict(list)
    for output in outputs:
        if output.get("output_type") == "stream":
            if output.get("name") in TEXT_KEYS and output["name"] not in skip_compare:
                places[output["name"]].append((output, "text"))
            continue
        for mime, value in output.get("data", {}).items():
            if mime in TEXT_KEYS and mime not in skip_compare and isinstance(value, str):
                places[mime].append((output["data"], mime))
    return places


def compare_outputs_tolerantly(cell, test, ref, skip_compare=None):
    """nbval's ``IPyNbCell.compare_outputs``, with rounding in text outputs forgiven.

    Each new text that matches its stored text (both sanitized) under the module's rule
    is replaced, in a copy of the new outputs, by the stored text; nbval then compares
    exactly as it always does. On failure, the reasons the tolerant comparison found
    follow nbval's report.
    """
    skip_compare = skip_compare or cell.parent.skip_compare
    test = copy.deepcopy(test)
    reasons = []
    stored_places = _texts_by_key(ref, skip_compare)
    new_places = _texts_by_key(test, skip_compare)
    for key, stored_list in stored_places.items():
        for (stored_holder, stored_field), (new_holder, new_field) in zip(
            stored_list, new_places.get(key, [])
        ):
            stored = stored_holder[stored_field]
            why = text_mismatch(cell.sanitize(stored), cell.sanitize(new_holder[new_field]))
            if why is None:
                new_holder[new_field] = stored
            else:
                reasons.append(f"  {key}: {why}")
    if IPyNbCell.compare_outputs(cell, test, ref, skip_compare):
        return True
    if reasons:
        cc = cell.colors
        cell.comparison_traceback.append(
            cc.OKBLUE
            + "Outside rounding (tests/nbval_tolerance.py; --nbval-exact compares strictly):"
            + cc.ENDC
        )
        cell.comparison_traceback.extend(reasons)
    return False


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-exact",
        action="store_true",
        help="compare notebook outputs character by character, without the rounding "
        "tolerance of tests/nbval_tolerance.py",
    )


def pytest_itemcollected(item):
    if isinstance(item, IPyNbCell) and not item.config.getoption("nbval_exact"):
        item.compare_outputs = functools.partial(compare_outputs_tolerantly, item)
