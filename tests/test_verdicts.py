"""helpers.verdicts: verdicts at their thresholds, rules and claims, the table rendered from them, figures at the rounding floor."""

from __future__ import annotations

import pytest

from helpers.verdicts import (
    Claim,
    Rule,
    claim_verdict,
    format_figure,
    markdown_table,
    threshold_sensitivity,
    verdict,
    verdict_table,
)


@pytest.mark.parametrize(
    "value, higher, expected",
    [(0.9, True, "holds"), (0.8999, True, "partly"), (0.5, True, "partly"), (0.4999, True, "does not hold"),
     (0.5, False, "holds"), (0.5001, False, "partly"), (0.9, False, "partly"), (0.9001, False, "does not hold")],
)
def test_verdict_at_its_thresholds(value, higher, expected):
    holds, fails = (0.9, 0.5) if higher else (0.5, 0.9)
    assert verdict(value, holds=holds, fails=fails, higher=higher) == expected


def test_rules_claims_and_the_table():
    cheap = Rule("backward passes", 1, 1, 2, higher=False, fmt=".0f")
    rows = Rule("forward rows", 50, 1, 100, higher=False, fmt=".0f")
    fact = Rule("refuses", 1.0, 1, 1, fixed=True)
    assert cheap.verdict() == "holds" and rows.verdict() == "partly" and fact.verdict(0.1) == "holds"
    assert rows.verdict(0.4) == "does not hold" and rows.verdict(60) == "holds"
    claims = [Claim("Cost", "Saliency", "low", [cheap, rows]), Claim("Cost", "LIME", "medium", [fact]),
              Claim("Scope", "Saliency", "local", [Rule("rho", 0.2, 0.8, 0.5)])]
    assert claim_verdict(claims[0]) == "partly" and claim_verdict(claims[1]) == "holds"
    assert claim_verdict(claims[2]) == "does not hold"
    table = verdict_table(claims)
    assert list(table.index) == ["Cost", "Scope"] and list(table.columns) == ["Saliency", "LIME"]
    assert table.loc["Cost", "Saliency"] == "partly" and table.loc["Scope", "LIME"] == ""
    text = markdown_table(claims)
    assert text.count("\n") == 3 and "**partly**" in text and "forward rows 50 (holds &lt;= 1)" in text and "refuses: yes" in text
    moves = threshold_sensitivity(claims)
    assert list(moves.columns) == ["row", "method", "x0.5", "x1", "x1.5", "moves"]
    assert moves["moves"].tolist() == [False, False, False]
    assert threshold_sensitivity(claims, scales=(0.01, 1.0))["moves"].tolist() == [True, False, True]


def test_a_figure_below_its_rounding_floor_is_printed_as_a_bound():
    assert format_figure(3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(-3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(2e-2, ".1e", floor=1e-6) == "2.0e-02"
    assert format_figure(0.123, ".2f") == "0.12"
    rule = Rule("gap", 3.4e-08, 1e-5, 1e-3, higher=False, fmt=".1e", floor=1e-6)
    assert rule.describe() == "gap < 1.0e-06 (holds <= 1.0e-05)"
    assert rule.verdict() == "holds"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: verdict(float("nan"), holds=1, fails=0), ValueError, "value must be a finite number"),
        (lambda: verdict(0.5, holds=0.2, fails=0.8), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=False), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=1), TypeError, "higher must be True or False"),
        (lambda: verdict("high", holds=0.8, fails=0.2), TypeError, "value must be a number"),
        (lambda: claim_verdict(Claim("a", "b", "c", [])), ValueError, "at least one Rule"),
        (lambda: verdict_table([]), TypeError, "non-empty sequence of Claim"),
        (lambda: threshold_sensitivity([Claim("a", "b", "c", [Rule("r", 1, 1, 0)])], scales=(0,)), ValueError,
         "scales must be positive"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_markdown_table_escapes_pipes_and_html_in_its_cells():
    claims = [Claim("Stability", "Saliency", "<b>stable</b>", [Rule("max |autograd - finite differences|", 0.01, 0.1, 1.0,
                                                                     higher=False)], note="a | b")]
    text = markdown_table(claims)
    body = text.splitlines()[2]
    assert body.count(" | ") == 1  # the row name and one cell: no pipe splits the cell
    assert "max \\|autograd - finite differences\\|" in body and "&lt;b&gt;stable&lt;/b&gt;" in body and "a \\| b" in body


def test_one_claim_per_cell_and_numbers_of_the_right_kind():
    import torch

    twice = [Claim("Cost", "LIME", "a", [Rule("r", 1, 1, 0)]), Claim("Cost", "LIME", "b", [Rule("r", 1, 1, 0)])]
    with pytest.raises(ValueError, match=r"one Claim per \(row, method\); got more than one for \[\('Cost', 'LIME'\)\]"):
        verdict_table(twice)
    with pytest.raises(TypeError, match="value must be a number"):
        verdict(torch.tensor(0.9), holds=0.8, fails=0.2)


def test_a_fixed_rule_reads_its_direction_and_thresholds_keep_their_digits():
    assert Rule("gradient refuses it", 0.0, 0.0, 0.0, higher=False, fixed=True).describe() == "gradient refuses it: yes"
    assert Rule("gradient refuses it", 1.0, 0.0, 0.0, higher=False, fixed=True).describe() == "gradient refuses it: no"
    assert Rule("passes", 1, 0.5, 2, higher=False, fmt=".0f").describe() == "passes 1 (holds <= 0.5)"
