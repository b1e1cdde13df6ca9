"""pyproject.toml is the single list of dependencies; environment.yml must mirror it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells a few packages differently from PyPI.
CONDA_NAMES = {"torch": "pytorch"}


def _requirement(spec: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*", spec)
    assert match, f"every dependency must be pinned as name==version; got {spec!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2)


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return dict(_requirement(s) for s in specs)


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for spec in entry.get("pip", []):
                if not spec.startswith("-"):
                    name, version = _requirement(spec)
                    pins[name] = version
        elif not entry.startswith(("python=", "pip")) or entry.startswith("pip=="):
            name, version = _requirement(entry)
            pins[name] = version
    return pins


def test_environment_yml_mirrors_pyproject():
    expected = {CONDA_NAMES.get(name, name): version for name, version in _pyproject().items()}
    assert _environment() == expected


def test_environment_pins_python_311_and_installs_the_course():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip
    assert "conda-forge" in env["channels"]


def test_pyproject_requires_python_311():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")
