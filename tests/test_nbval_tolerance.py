"""The rounding tolerance of nbval's output comparison (tests/nbval_tolerance.py).

The token rule is tested directly; the plugin end to end, by running nbval under it in
a subprocess on one-cell notebooks whose code prints something other than the stored
output.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

# tests/ is on sys.path for its test modules (pytest's "prepend" import mode), however
# pytest was started; nbval loads the same file as the plugin ``tests.nbval_tolerance``.
from nbval_tolerance import number_mismatch, text_mismatch, tokenize

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


# --- the token rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    "stored, new",
    [
        ("0.948", "0.947"),
        ("0.948", "0.949"),
        ("0.948", "0.948"),
        ("3.7e-04", "3.6e-04"),
        ("3.7e-04", "3.8e-04"),
        ("9.9e-04", "1.0e-03"),
        ("59.4%", "59.3%"),
        ("1,072", "1,071"),
        ("1,072", "1,073"),
        ("999", "1,000"),
        ("994", "993"),  # integers too: one unit of their last digit
        ("994", "995"),
        ("+0.000", "-0.000"),
        ("-0.001", "0.000"),
        ("0.000", "-0.001"),
        ("9.9", "10.0"),
        ("x1.10", "x1.11"),
        ("(1, 28, 28)", "(1, 28, 29)"),
        ("12ms", "13ms"),
    ],
)
def test_within_one_unit_of_the_last_digit_passes(stored, new):
    assert text_mismatch(stored, new) is None


@pytest.mark.parametrize(
    "stored, new",
    [
        ("0.948", "0.946"),
        ("0.948", "0.996"),  # 5 % off
        ("28.099", "28.291"),
        ("3.7e-04", "3.9e-04"),
        ("59.4%", "59.2%"),
        ("1,072", "1,074"),
        ("994", "996"),
        ("0.948", "0.95"),  # other precision
        ("0.950", "0.95"),
        ("3.7e-04", "0.00037"),  # other notation
        ("3.7e-04", "3.7E-04"),
        ("1,072", "1072"),
        ("59.4%", "59.4"),
        ("12ms", "12s"),  # the unit is a word
        ("s3 0.122", "s2 0.122"),  # an identifier's digits are part of the word
    ],
)
def test_a_number_beyond_one_unit_or_in_other_notation_fails(stored, new):
    assert text_mismatch(stored, new) is not None


@pytest.mark.parametrize(
    "stored, new",
    [
        ("deletion AUC 0.412: holds", "deletion AUC 0.412: partly"),
        ("mean |attribution| of the stroke", "mean |attribution| of the ring"),
        ("completeness: sum = f(x) - f(b)", "completeness: sum = f(x) + f(b)"),
        ("[B, C, H, W]", "[B, H, W, C]"),
        ("a\nb\n", "a\nb\nc\n"),  # an extra line
        ("a\nb\nc\n", "a\nc\n"),  # a missing line
        ("a 0.5 b", "a 0.5"),  # a missing token
        ("a 0.5", "a 0.5 b"),  # an extra token
        ("torch 2.1.0", "torch 2.1.0+cpu"),
        ("a  1.0", "a 1.0"),  # the layout changed though no number changed width
    ],
)
def test_a_changed_word_symbol_line_or_layout_fails(stored, new):
    assert text_mismatch(stored, new) is not None


def test_the_reason_names_the_token_and_the_unit():
    assert number_mismatch("0.948", "0.951") == (
        "0.951 differs from stored 0.948 by more than one unit (0.001) of its last digit"
    )
    assert text_mismatch("a\nfaithfulness 0.948\n", "a\nfaithfulness 0.951\n") == (
        "line 2: 0.951 differs from stored 0.948 by more than one unit (0.001) of its "
        "last digit"
    )
    assert text_mismatch("verdict: holds", "verdict: partly") == (
        "line 1: 'partly' where the stored output has 'holds'"
    )


MARKDOWN_TABLE = """\
| method    |  AUC  | verdict |
|-----------|-------|---------|
| saliency  | 0.412 | holds   |
| IG        | 0.398 | partly  |
"""

ALIGNED_TABLE = """\
     method   AUC  verdict
0  saliency  9.99    holds
1        IG  0.398  partly
"""

HTML_TABLE = """\
<table border="1" class="dataframe">
  <thead><tr><th>method</th><th>AUC</th><th>verdict</th></tr></thead>
  <tbody>
    <tr><th>0</th><td>saliency</td><td>0.412</td><td>holds</td></tr>
    <tr><th>1</th><td>IG</td><td>0.398</td><td>partly</td></tr>
  </tbody>
</table>"""


@pytest.mark.parametrize("table", [MARKDOWN_TABLE, HTML_TABLE], ids=["markdown", "html"])
def test_a_table_is_compared_cell_by_cell(table):
    assert text_mismatch(table, table.replace("0.412", "0.413")) is None
    assert text_mismatch(table, table.replace("0.412", "0.414")) is not None
    assert text_mismatch(table, table.replace("holds", "partly", 1)) is not None


def test_columns_may_be_repadded_when_a_number_changes_width():
    repadded = ALIGNED_TABLE.replace("  9.99  ", " 10.00 ").replace("  0.398", "  0.397")
    repadded = repadded.replace("     method   AUC", "     method    AUC")
    assert text_mismatch(ALIGNED_TABLE, repadded) is None
    assert text_mismatch(ALIGNED_TABLE, repadded.replace("holds", "fails")) is not None


@pytest.mark.parametrize(
    "text",
    ["x1.10", "2**16", "[B, C, H, W]", "7x7", "(1, 28, 28)", "torch 2.1.0+cpu",
     "2024-01-05", "0xADDRESS", "#1e88e5", "1e", "-", "+-.,e", "", "∑ φ_i = 0.5"],
)
def test_tokens_rebuild_the_line(text):
    assert "".join(t.text for t in tokenize(text)) == text
    assert text_mismatch(text, text) is None


# --- end to end: nbval with the plugin -----------------------------------------------

# nbval loaded by name, other installed plugins not at all: a second less per run.
NBVAL = ("-p", "nbval.plugin", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider")
TOLERANCE = ("-p", "tests.nbval_tolerance")


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def result(text):
    return new_output("execute_result", data={"text/plain": text}, execution_count=1)


def display(data):
    return new_output("display_data", data=data)


PNG_STORED = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PNG_NEW = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
SHOW_PNG = (
    "from IPython.display import display\n"
    "display({{'image/png': {png!r}, 'text/plain': {text!r}}}, raw=True)"
)
SHOW_WIDGET = (
    "from IPython.display import display\n"
    "display({{'application/vnd.jupyter.widget-view+json':"
    " {{'model_id': {model!r}, 'version_major': 2, 'version_minor': 0}},"
    " 'text/plain': {text!r}}}, raw=True)"
)


def run_notebook(pytester, monkeypatch, source, outputs, *flags):
    """Run nbval on a one-cell notebook whose stored outputs are ``outputs``."""
    cell = new_code_cell(source, execution_count=1, outputs=outputs)
    nbformat.write(new_notebook(cells=[cell]), pytester.path / "nb.ipynb")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_subprocess("nb.ipynb", *NBVAL, *flags)


@pytest.mark.parametrize(
    "source, outputs",
    [
        pytest.param("print('0.947')", [stdout("0.948\n")], id="one-unit"),
        pytest.param("print('loss 3.6e-04 at 59.3%')", [stdout("loss 3.7e-04 at 59.4%\n")],
                     id="exponent-percent"),
        pytest.param("0.947", [result("0.948")], id="execute-result"),
        pytest.param(
            "from IPython.display import HTML, display\n"
            "display(HTML('<td>0.413</td>'))",
            [display({"text/html": "<td>0.412</td>",
                      "text/plain": "<IPython.core.display.HTML object>"})],
            id="html",
        ),
        pytest.param("# NBVAL_IGNORE_OUTPUT\nprint('0.5')", [stdout("0.948\n")],
                     id="ignore-output"),
        pytest.param(
            "# NBVAL_RAISES_EXCEPTION\nprint('0.947')\nraise ValueError('bad')",
            [stdout("0.948\n"),
             new_output("error", ename="ValueError", evalue="bad", traceback=[])],
            id="raises-exception",
        ),
    ],
)
def test_rounding_passes(pytester, monkeypatch, source, outputs):
    run_notebook(pytester, monkeypatch, source, outputs, *TOLERANCE).assert_outcomes(
        passed=1
    )


@pytest.mark.parametrize(
    "source, outputs, reason",
    [
        pytest.param(
            "print('0.996')", [stdout("0.948\n")],
            "0.996 differs from stored 0.948 by more than one unit (0.001) of its last digit",
            id="5-percent-off",
        ),
        pytest.param("print('verdict: partly')", [stdout("verdict: holds\n")],
                     "'partly' where the stored output has 'holds'", id="changed-word"),
        pytest.param("print('0.948')", [stdout("0.948\n"), result("0.948")],
                     "Missing output fields", id="missing-output"),
        pytest.param("print('0.948')\nprint('b')", [stdout("0.948\n")],
                     "2 lines where the stored output has 1", id="extra-line"),
    ],
)
def test_anything_but_rounding_fails_with_nbvals_diff_and_the_reason(
    pytester, monkeypatch, source, outputs, reason
):
    run = run_notebook(pytester, monkeypatch, source, outputs, *TOLERANCE)
    run.assert_outcomes(failed=1)
    report = run.stdout.str()
    assert "Cell outputs differ" in report
    assert reason in report


def test_the_sanitizers_run_first(pytester, monkeypatch):
    pytester.makefile(".cfg", sanitize="[address]\nregex: 0x[0-9a-f]+\nreplace: 0xADDRESS\n")
    run = run_notebook(
        pytester, monkeypatch, "print('at 0x7f00aa11, 0.947')", [stdout("at 0x55bb, 0.948\n")],
        *TOLERANCE, "--nbval-sanitize-with", "sanitize.cfg",
    )
    run.assert_outcomes(passed=1)


def test_nbval_exact_compares_strictly(pytester, monkeypatch):
    run = run_notebook(
        pytester, monkeypatch, "print('0.947')", [stdout("0.948\n")], *TOLERANCE, "--nbval-exact"
    )
    run.assert_outcomes(failed=1)


@pytest.mark.parametrize(
    "source, outputs, passes",
    [
        pytest.param(SHOW_PNG.format(png=PNG_NEW, text="<Figure>"),
                     [display({"image/png": PNG_STORED, "text/plain": "<Figure>"})],
                     True, id="image-differs"),
        pytest.param(SHOW_PNG.format(png=PNG_STORED, text="<Figure size 640x480>"),
                     [display({"image/png": PNG_STORED, "text/plain": "<Figure>"})],
                     False, id="image-text-differs"),
        pytest.param(SHOW_WIDGET.format(model="new", text="IntSlider(value=3)"),
                     [display({"application/vnd.jupyter.widget-view+json":
                               {"model_id": "old", "version_major": 2, "version_minor": 0},
                               "text/plain": "IntSlider(value=3)"})],
                     True, id="widget-model-differs"),
        pytest.param(SHOW_WIDGET.format(model="old", text="IntSlider(value=5)"),
                     [display({"application/vnd.jupyter.widget-view+json":
                               {"model_id": "old", "version_major": 2, "version_minor": 0},
                               "text/plain": "IntSlider(value=3)"})],
                     False, id="widget-text-differs"),
    ],
)
def test_images_and_widgets_are_treated_as_nbval_treats_them(
    pytester, monkeypatch, source, outputs, passes
):
    outcome = {"passed": 1} if passes else {"failed": 1}
    run_notebook(pytester, monkeypatch, source, outputs).assert_outcomes(**outcome)
    run_notebook(pytester, monkeypatch, source, outputs, *TOLERANCE).assert_outcomes(**outcome)
