"""The helper package's structure: every module listed, imports only downwards, no circles, no shims.

These are the measurements of the structure (the issue "One home per mechanism"): import circles and
upward arrows (none), private names imported across modules (none), function-level imports of the
package's own modules (none), names re-exported from elsewhere (none, but for a package gathering its
own family modules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import helpers

PACKAGE = Path(helpers.__file__).parent


def _modules() -> dict[str, Path]:
    """Top-level module name -> its files (a package counts as one module)."""
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name != "__init__.py":
            found[path.stem] = [path]
    for path in sorted(PACKAGE.glob("*/__init__.py")):
        found[path.parent.name] = sorted(path.parent.glob("*.py"))
    return found


def _helper_imports(path: Path):
    """(module imported, names, at module level?) for every import of the package's own modules in ``path``."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    inside_package = path.parent != PACKAGE
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            depth = node.level - (1 if inside_package else 0)
            if depth == 0 and inside_package:
                continue  # a sibling inside the same package (metrics.ranks from metrics.stability)
            target = (node.module or "").split(".")[0] or None
            names = [a.name for a in node.names]
            if target is None:  # from . import x
                for name in names:
                    yield name, [], id(node) in top
            else:
                yield target, names, id(node) in top
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and module.split(".")[0] == "helpers":
                parts = module.split(".")
                yield (parts[1] if len(parts) > 1 else "helpers"), [], id(node) in top


def test_every_module_is_listed_in_dependency_order():
    assert sorted(helpers.MODULES) == sorted(_modules()), "helpers.MODULES must list every module once"
    for name in helpers.MODULES:
        assert f":mod:`helpers.{name}`" in helpers.__doc__, f"helpers/__init__.py's docstring must describe {name}"


def test_imports_only_run_downwards_so_there_is_no_circle():
    order = {name: i for i, name in enumerate(helpers.MODULES)}
    upward = []
    for name, paths in _modules().items():
        for path in paths:
            for target, _, _ in _helper_imports(path):
                if target != name and order[target] >= order[name]:
                    upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert upward == []


def test_no_private_name_and_no_function_level_import_crosses_modules():
    private, hidden = [], []
    for name, paths in _modules().items():
        for path in paths:
            for target, names, at_top in _helper_imports(path):
                private += [f"{path.relative_to(PACKAGE)}: {target}.{n}" for n in names if n.startswith("_")]
                if not at_top:
                    hidden.append(f"{path.relative_to(PACKAGE)}: {target}")
    assert private == [] and hidden == []


def test_no_module_re_exports_names_that_live_elsewhere():
    import importlib

    shims = []
    for name, paths in _modules().items():
        module = importlib.import_module(f"helpers.{name}")
        home = module.__name__
        for public in getattr(module, "__all__", []):
            value = getattr(module, public)
            defined = getattr(value, "__module__", home)
            if callable(value) and isinstance(defined, str) and defined.startswith("helpers") \
                    and not (defined == home or defined.startswith(home + ".")):
                shims.append(f"helpers.{name}.{public} is {defined}.{public}")
    assert shims == []
