"""Execute notebooks in place: the one way the course's stored outputs are made.

``make notebooks`` runs ``python -m helpers.execute notebooks/*.ipynb``; each
notebook runs top to bottom in a fresh kernel of this environment, with
``notebooks/`` as the working directory, and is written back with its outputs.
nbval then re-runs it under ``make test`` and compares.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["execute_notebook", "main"]


def execute_notebook(path: str | Path, *, timeout: int = 120, kernel_name: str = "python3") -> float:
    """Run every cell of the notebook at ``path`` and save it with its outputs.

    Parameters
    ----------
    path : str or Path
    timeout : int, default 120
        Seconds allowed per cell.
    kernel_name : str, default "python3"

    Returns
    -------
    float
        Seconds the notebook took.

    Raises
    ------
    FileNotFoundError
        If there is no notebook at ``path``.
    nbclient.exceptions.CellExecutionError
        If a cell fails; the notebook is not written then.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    notebook.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m helpers.execute NOTEBOOK [NOTEBOOK ...]``."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m helpers.execute NOTEBOOK [NOTEBOOK ...]", file=sys.stderr)
        return 2
    total = 0.0
    for path in paths:
        seconds = execute_notebook(path)
        total += seconds
        print(f"{path}: executed in {seconds:.1f} s", flush=True)
    print(f"all {len(paths)} notebook(s): {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
