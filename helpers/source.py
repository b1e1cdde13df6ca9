"""Show a helper's own code in a notebook: one copy of every method, always true.

Notebooks never retype an algorithm; where the learner should read one, they
print the helper's source with :func:`show_source`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

__all__ = ["source_of", "show_source"]


def source_of(obj, *, docstring: bool = False) -> str:
    """The source code of a function or class, without its docstring by default.

    Parameters
    ----------
    obj : function or class
    docstring : bool, default False
        Keep the docstring.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``obj`` has no Python source (a builtin, say).

    Examples
    --------
    >>> "def source_of" in source_of(source_of)
    True
    """
    try:
        code = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(f"no Python source for {obj!r}: {err}") from err
    if docstring:
        return code
    tree = ast.parse(code)
    node = tree.body[0]
    first = node.body[0] if getattr(node, "body", None) else None
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        lines = code.splitlines()
        del lines[first.lineno - 1:first.end_lineno]
        code = "\n".join(lines) + "\n"
    return code


def show_source(obj, *, docstring: bool = False) -> None:
    """Print :func:`source_of` ``obj``."""
    print(source_of(obj, docstring=docstring), end="")
