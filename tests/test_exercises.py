"""The exercise checkers of notebooks 01 and 02 accept right answers and reject wrong ones."""

from __future__ import annotations

import torch

from helpers import exercises
from helpers.metrics import top_mass_share
from helpers.models import LinearClassifier
from helpers.saliency import gradient


def _central(f, x, eps):
    steps = torch.eye(len(x), dtype=x.dtype) * eps
    return torch.stack([(f(x + s) - f(x - s)) / (2 * eps) for s in steps])


def test_numerical_gradient(capsys):
    assert exercises.check_numerical_gradient(_central)
    assert not exercises.check_numerical_gradient(lambda f, x, eps: torch.stack([(f(x + s) - f(x)) / eps for s in torch.eye(len(x), dtype=x.dtype) * 1e-1]))
    assert not exercises.check_numerical_gradient(None)
    assert not exercises.check_numerical_gradient(lambda f, x, eps: 1 / 0)
    out = capsys.readouterr().out
    assert "correct" in out and "not yet right" in out and "not attempted yet" in out and "ZeroDivisionError" in out


def test_probability_gradient(capsys):
    torch.manual_seed(0)
    model = LinearClassifier((4,), 3)
    x = torch.randn(4)

    def right(W, b, x, c):
        p = torch.softmax(W @ x + b, 0)
        return p[c] * (W[c] - p @ W)

    assert exercises.check_probability_gradient(right, model, x, 1)
    assert not exercises.check_probability_gradient(lambda W, b, x, c: W[c], model, x, 1)
    assert "not of the probability" in capsys.readouterr().out


def test_batched_saliency(trained_cnn, mnist_test, capsys):
    x = mnist_test[0][:6]
    assert exercises.check_batched_saliency(lambda m, x: gradient(m, x), trained_cnn, x)

    def leaves_gradients(model, x):
        x.requires_grad_(True)
        model(x).max(1).values.sum().backward()
        return x.grad.abs()

    assert not exercises.check_batched_saliency(leaves_gradients, trained_cnn, x)
    assert all(p.grad is None for p in trained_cnn.parameters()), "the checker cleans up after a wrong answer"
    assert not exercises.check_batched_saliency(lambda m, x: gradient(m, x, 0), trained_cnn, x)
    assert "changed the caller's x" in capsys.readouterr().out


def test_top_mass_share(capsys):
    maps = torch.rand(5, 1, 28, 28)
    assert exercises.check_top_mass_share(top_mass_share, maps)
    assert not exercises.check_top_mass_share(lambda s, f: torch.full((5,), f), maps)
    assert not exercises.check_top_mass_share(None, maps)
