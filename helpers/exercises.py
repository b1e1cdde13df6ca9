"""Automatic checkers for the notebooks' exercises.

Each checker takes the learner's answer (a value or a function), tests it against
the course's own implementation on fresh inputs, prints one line saying whether
it is right (and, if not, what is wrong), and returns True or False. An answer of
``None`` (the template as handed out) prints "not attempted yet".

Every notebook's Exercises section uses these; the folded reference solution next
to each exercise calls the same checker, so nbval proves the checker accepts a
right answer.
"""

from __future__ import annotations

import torch

__all__ = ["report"]


def report(ok: bool, exercise: str, message: str = "") -> bool:
    """Print the verdict of one exercise and return ``ok``."""
    verdict = "correct" if ok else "not yet right"
    print(f"{exercise}: {verdict}" + (f" - {message}" if message else ""))
    return bool(ok)


def _not_attempted(answer, exercise: str) -> bool:
    if answer is None:
        print(f"{exercise}: not attempted yet - replace the None in the template with your answer")
        return True
    return False


def _call(function, exercise: str, *args):
    """Call the learner's function; a crash becomes a message, not a traceback."""
    try:
        return function(*args), None
    except NotImplementedError:
        return None, f"{exercise}: not attempted yet - the function still raises NotImplementedError"
    except Exception as err:  # the learner's code may fail in any way
        return None, f"{exercise}: not yet right - your function raised {type(err).__name__}: {err}"


def _close(answer, expected: torch.Tensor, *, rtol: float, atol: float) -> tuple[bool, str]:
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got {type(answer).__name__}"
    if tuple(answer.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}"
    answer = answer.detach().to(expected.device, expected.dtype)
    if not torch.allclose(answer, expected, rtol=rtol, atol=atol):
        err = float((answer - expected).abs().max())
        return False, f"largest difference from the expected values is {err:.3g}"
    return True, ""
