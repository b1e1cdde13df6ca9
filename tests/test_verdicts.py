"""helpers.verdicts: verdicts at their thresholds, intervals and margins, the aggregation rule, the claims defined once,
the table rendered from them, and the sensitivity of the verdicts to their thresholds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from helpers.verdicts import (
    AGGREGATION,
    DEFINITIONS,
    SCALES,
    VERDICTS,
    Claim,
    Rule,
    bootstrap_interval,
    claim_verdict,
    format_figure,
    markdown_table,
    measure_claim,
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


# --------------------------------------------------------------------------- uncertainty


def test_bootstrap_interval_is_seeded_contains_the_statistic_and_leaves_the_global_rng():
    rng = np.random.default_rng(1)
    samples = rng.normal(0.5, 0.1, size=100)
    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    low, high = bootstrap_interval(samples)
    assert (low, high) == bootstrap_interval(samples)  # same samples, same interval
    assert np.array_equal(np.random.get_state()[1], before)
    assert low < float(np.median(samples)) < high
    assert 0.01 < high - low < 0.1  # about 2 x 1.25 x 0.1 / sqrt(100) for a median
    wide = bootstrap_interval(samples[:10])
    assert wide[1] - wide[0] > high - low  # fewer examples, a wider interval
    assert bootstrap_interval([0.3]) == (0.3, 0.3)
    with pytest.raises(ValueError, match="samples must be finite; 1 of 3 are NaN"):
        bootstrap_interval([0.1, float("nan"), 0.2])
    with pytest.raises(ValueError, match="statistic must be one of"):
        bootstrap_interval([0.1], "mode")


def test_a_rule_whose_interval_crosses_a_threshold_is_inconclusive():
    clear = Rule.measured("rho", np.full(50, 0.3) + np.linspace(-0.05, 0.05, 50), 0.5, 0.8, higher=False)
    assert clear.verdict() == "holds" and clear.n == 50 and clear.interval[0] <= clear.value <= clear.interval[1]
    assert clear.margin() == pytest.approx(0.5 - clear.value)
    close = Rule.measured("rho", np.linspace(0.3, 0.7, 9), 0.5, 0.8, higher=False)
    assert close.value == pytest.approx(0.5) and close.verdict() == "inconclusive"
    assert close.possible_verdicts() == ("holds", "partly")
    with pytest.raises(ValueError, match="must contain the value"):
        Rule("rho", 0.2, 0.5, 0.8, higher=False, interval=(0.3, 0.4))


# --------------------------------------------------------------------------- the aggregation rule


def _stated(verdicts):
    """AGGREGATION, as its words say."""
    if all(v == "holds" for v in verdicts):
        return "holds"
    if all(v == "does not hold" for v in verdicts):
        return "does not hold"
    return "partly"


_AT = {"holds": 0.9, "partly": 0.7, "does not hold": 0.1}


@pytest.mark.parametrize("verdicts", [c for n in (1, 2, 3) for c in itertools.product(VERDICTS[:3], repeat=n)])
def test_claim_verdict_is_the_stated_aggregation(verdicts):
    claim = Claim("r", "m", "c", [Rule(f"rule {i}", _AT[v], 0.8, 0.5) for i, v in enumerate(verdicts)])
    assert [rule.verdict() for rule in claim.rules] == list(verdicts)
    assert claim_verdict(claim) == _stated(verdicts)
    assert "holds when every rule holds, does not hold when every rule does not hold, and holds partly otherwise" in AGGREGATION


def test_a_claim_is_inconclusive_only_when_its_intervals_allow_two_verdicts():
    holding = Rule("a", 0.9, 0.8, 0.5)
    unsure = Rule("b", 0.5, 0.8, 0.5, interval=(0.4, 0.6))  # partly or does not hold
    assert unsure.verdict() == "inconclusive"
    assert claim_verdict(Claim("r", "m", "c", [holding, unsure])) == "partly"  # partly either way
    failing = Rule("c", 0.1, 0.8, 0.5)
    assert claim_verdict(Claim("r", "m", "c", [failing, unsure])) == "inconclusive"  # partly or does not hold


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_moves_thresholds_additively_within_the_range_of_the_figure():
    zero = Rule("SHAP's rho minus the gradient's", 0.05, 0.0, 0.0)  # a threshold of 0 moves too
    assert [zero.verdict(s) for s in (-1, 0, 1)] == ["holds", "holds", "does not hold"]
    negative = Rule("a difference", -0.35, -0.3, -0.2, higher=False)  # stricter: lower
    assert negative.thresholds(1) == pytest.approx((-0.4, -0.3)) and negative.verdict(1) == "partly"
    top = Rule("rho", 0.99, 0.95, 0.9)
    assert top.thresholds(1) == (1.0, 1.0)  # not 1.05: no correlation reaches it
    assert top.verdict(1) == "does not hold"
    gap = Rule("gap", 3e-6, 1e-5, 1e-3, higher=False, scale="gap")
    assert gap.thresholds(1) == pytest.approx((1e-6, 1e-4)) and gap.verdict(1) == "partly"
    assert gap.margin() == pytest.approx(math.log10(1e-5 / 3e-6))
    fact = Rule("refuses", 1.0, 1, 1, scale="fact")
    assert {fact.verdict(s) for s in (-3, 3)} == {"holds"}
    claims = [Claim("Scope", "Saliency", "local", [zero]), Claim("Cost", "LIME", "x", [fact])]
    table = threshold_sensitivity(claims)
    assert list(table.columns) == ["row", "method", "-1 step", "as stated", "+1 step", "moves"]
    assert table["moves"].tolist() == [True, False]


# --------------------------------------------------------------------------- the claims, defined once


def test_every_cell_has_one_definition_with_known_scales_and_a_stated_setting():
    assert len(DEFINITIONS) == len({(d.row, d.column) for d in DEFINITIONS.values()})
    for definition in DEFINITIONS.values():
        assert definition.criteria and definition.definition
        for criterion in definition.criteria.values():
            assert criterion.scale in SCALES
            verdict(criterion.holds, holds=criterion.holds, fails=criterion.fails, higher=criterion.higher)


def test_measure_claim_takes_one_set_of_samples_per_criterion():
    claim = measure_claim("Stability", "SHAP", noise=np.full(20, 0.97), seeds=[0.95, 0.96, 0.98])
    assert claim_verdict(claim) == "holds" and [r.n for r in claim.rules] == [20, 3]
    assert claim.definition == DEFINITIONS["Stability", "SHAP"].definition
    with pytest.raises(ValueError, match=r"missing \['seeds'\], unknown \['seed'\]"):
        measure_claim("Stability", "SHAP", noise=[0.9], seed=[0.9])
    with pytest.raises(ValueError, match="no claim is defined for"):
        measure_claim("Stability", "Anchors", seeds=[0.9])
    single = measure_claim("Cost", "Saliency", backward=1, rows=1)
    assert single.rules[0].interval is None and claim_verdict(single) == "holds"


# --------------------------------------------------------------------------- tables


def test_the_table_prints_figure_interval_threshold_margin_and_verdict():
    cheap = Rule("backward passes", 1, 1, 2, higher=False, scale="count", fmt=".0f")
    rho = Rule.measured("rho", [0.1, 0.2, 0.3], 0.5, 0.8, higher=False)
    claims = [Claim("Cost", "Saliency", "low", [cheap]), Claim("Scope", "LIME", "local", [rho])]
    table = verdict_table(claims)
    assert list(table.index) == ["Cost", "Scope"] and list(table.columns) == ["Saliency", "LIME"]
    assert table.loc["Cost", "Saliency"] == "holds" and table.loc["Scope", "Saliency"] == ""
    text = markdown_table(claims)
    assert text.count("\n") == 3
    assert "rho 0.20 [0.10, 0.30], n = 3 (holds &lt;= 0.50, fails &gt; 0.80; margin 0.3) &rarr; holds" in text
    assert "backward passes 1 (holds &lt;= 1, fails &gt; 2; margin 0 decades) &rarr; holds" in text


def test_a_figure_below_its_rounding_floor_is_printed_as_a_bound():
    assert format_figure(3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(-3.4e-08, ".1e", floor=1e-6) == "< 1.0e-06"
    assert format_figure(2e-2, ".1e", floor=1e-6) == "2.0e-02"
    rule = Rule("gap", 3.4e-08, 1e-5, 1e-3, higher=False, scale="gap", fmt=".1e", floor=1e-6)
    assert rule.describe() == "gap < 1.0e-06 (holds <= 1.0e-05, fails > 1.0e-03; margin 1 decades)"  # from the floor
    assert rule.verdict() == "holds"
    below = Rule.measured("gap", [1e-9, 2e-9, 3e-9], 1e-5, 1e-3, higher=False, scale="gap", fmt=".1e", floor=1e-6)
    assert below.describe().startswith("gap < 1.0e-06, n = 3 (")  # an interval below the floor is not shown


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: verdict(float("nan"), holds=1, fails=0), ValueError, "value must be a finite number"),
        (lambda: verdict(0.5, holds=0.2, fails=0.8), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=False), ValueError, "thresholds in the wrong order"),
        (lambda: verdict(0.5, holds=0.8, fails=0.2, higher=1), TypeError, "higher must be True or False"),
        (lambda: verdict("high", holds=0.8, fails=0.2), TypeError, "value must be a number"),
        (lambda: Rule("r", 0.5, 0.8, 0.2, scale="percent"), ValueError, "scale must be one of"),
        (lambda: claim_verdict(Claim("a", "b", "c", [])), ValueError, "at least one Rule"),
        (lambda: verdict_table([]), TypeError, "non-empty sequence of Claim"),
        (lambda: threshold_sensitivity([Claim("a", "b", "c", [Rule("r", 1, 1, 0)])], steps=("x",)), TypeError,
         "steps must be a number"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_markdown_table_escapes_pipes_and_html_in_its_cells():
    claims = [Claim("Stability", "Saliency", "<b>stable</b>", [Rule("max |autograd - finite differences|", 0.01, 0.1, 1.0,
                                                                     higher=False)], note="a | b")]
    body = markdown_table(claims).splitlines()[2]
    assert body.count(" | ") == 1  # the row name and one cell: no pipe splits the cell
    assert "max \\|autograd - finite differences\\|" in body and "&lt;b&gt;stable&lt;/b&gt;" in body and "a \\| b" in body


def test_one_claim_per_cell_and_numbers_of_the_right_kind():
    import torch

    twice = [Claim("Cost", "LIME", "a", [Rule("r", 1, 1, 0)]), Claim("Cost", "LIME", "b", [Rule("r", 1, 1, 0)])]
    with pytest.raises(ValueError, match=r"one Claim per \(row, method\); got more than one for \[\('Cost', 'LIME'\)\]"):
        verdict_table(twice)
    with pytest.raises(TypeError, match="value must be a number"):
        verdict(torch.tensor(0.9), holds=0.8, fails=0.2)
    assert Rule.measured("rho", torch.tensor([0.2, 0.4]), 0.5, 0.8, higher=False).n == 2


def test_a_fact_reads_its_direction_and_thresholds_keep_their_digits():
    assert Rule("gradient refuses it", 0.0, 0.0, 0.0, higher=False, scale="fact").describe() == "gradient refuses it: yes"
    assert Rule("gradient refuses it", 1.0, 0.0, 0.0, higher=False, scale="fact").describe() == "gradient refuses it: no"
    assert Rule("passes", 1, 0.5, 2, higher=False, scale="count", fmt=".0f").describe().startswith(
        "passes 1 (holds <= 0.5, fails > 2;")
