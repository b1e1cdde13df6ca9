"""Printing a helper's own source, for the notebooks."""

import pytest

from helpers.saliency import finite_difference_gradient
from helpers.source import show_source, source_of


def test_docstring_is_dropped_and_code_kept():
    code = source_of(finite_difference_gradient)
    assert code.startswith("def finite_difference_gradient(")
    assert "central differences" not in code and "(2 * eps)" in code
    assert "central differences" in source_of(finite_difference_gradient, docstring=True)


def test_show_source_prints(capsys):
    show_source(source_of)
    assert capsys.readouterr().out.startswith("def source_of(")


def test_builtin_has_no_source():
    with pytest.raises(TypeError, match="no Python source for"):
        source_of(len)
