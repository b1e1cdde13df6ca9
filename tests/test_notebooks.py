"""Every notebook follows the course's shape; nbval (``make test``) then re-runs and compares them.

These checks read the files alone: executed and committed with outputs, no error stored, no
algorithm defined outside exercises, objectives, a summary, exercises with a checker and a folded
reference solution, seeded at the top, and listed in the README.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _tags(cell):
    return set(cell.metadata.get("tags", []))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_name_is_numbered_snake_case():
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


def test_executed_with_outputs_and_no_errors(notebook):
    cells = _code_cells(notebook)
    assert all(c.execution_count is not None for c in cells), "commit notebooks executed (make notebooks)"
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "executed top to bottom in one fresh kernel"


def test_no_stderr_on_the_normal_path(notebook):
    streams = [o.text for c in _code_cells(notebook) for o in c.outputs
               if o.output_type == "stream" and o.name == "stderr"]
    assert not streams, f"warnings or errors on stderr: {streams[:2]}"


def test_no_algorithm_defined_outside_exercises(notebook):
    for cell in _code_cells(notebook):
        if _tags(cell) & {"exercise", "solution"}:
            continue
        assert not re.search(r"^\s*(def|class) \w+", cell.source, re.M), f"logic belongs in helpers/:\n{cell.source[:300]}"


def test_objectives_summary_and_exercises(notebook):
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert re.search(r"learning objectives", text, re.I)
    assert re.search(r"^## Summary", text, re.M)
    assert re.search(r"^## Exercises", text, re.M)


def test_exercises_have_a_checker_and_a_folded_solution(notebook):
    cells = notebook.cells
    exercises = [i for i, c in enumerate(cells) if "exercise" in _tags(c)]
    assert 1 <= len(exercises) <= 4
    for i in exercises:
        solution = cells[i + 1]
        assert "solution" in _tags(solution), "the reference solution follows its exercise"
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True, "the solution is folded away"
        assert solution.source.startswith("# Reference solution")
    checked = [cells[i + 1] for i in exercises if "helpers.exercises" in cells[i].source + cells[i + 1].source
               or "check_" in cells[i + 1].source]
    assert checked, "at least one exercise has an automatic checker"
    for solution in checked:
        printed = "".join(o.get("text", "") for o in solution.outputs if o.output_type == "stream")
        assert ": correct" in printed, f"the checker accepts the reference solution:\n{printed}"


def test_seeded_first(notebook):
    first = _code_cells(notebook)[0].source
    assert "seed_everything(" in first


def test_unrepeatable_outputs_are_marked(notebook):
    for cell in _code_cells(notebook):
        timing = re.search(r"perf_counter|time\.time\(", cell.source)
        progress_bar = re.search(r"train_classifier\(|train_regressor\(|tqdm", cell.source) and "progress=False" not in cell.source
        if timing or progress_bar:
            assert cell.source.startswith("# NBVAL_IGNORE_OUTPUT"), f"mark timings and progress bars:\n{cell.source[:200]}"


def test_plot_cells_end_with_show(notebook):
    for cell in _code_cells(notebook):
        if re.search(r"plt\.subplots|show_grid\(", cell.source) and "# NBVAL_IGNORE_OUTPUT" not in cell.source:
            assert "plt.show()" in cell.source, f"show figures with plt.show(), never a bare figure:\n{cell.source[-200:]}"
            assert not re.search(r"\n(fig|ax|axes)\s*$", cell.source.rstrip()), "a cell must not end with a bare figure"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"README does not list {path.name}"


def test_readme_gives_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
