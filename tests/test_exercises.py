"""The exercise checkers accept right answers, reject the usual wrong ones and say "not attempted" for None."""

from __future__ import annotations

import pytest
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


# --- the exercises that build a method (notebooks 03-05): reference answer accepted, usual slip rejected


def _trapezoid_ig(model, x, target, baseline, steps, *, factor=True, equal_weights=False):
    alphas = torch.linspace(0, 1, steps)
    weights = torch.full((steps,), 1 / (steps - 1))
    weights[0] = weights[-1] = 0.5 / (steps - 1)
    if equal_weights:
        weights = torch.full((steps,), 1 / steps)
    average = torch.zeros_like(x)
    for alpha, weight in zip(alphas, weights):
        average += weight * gradient(model, baseline + alpha * (x - baseline), target, absolute=False)
    return (x - baseline) * average if factor else average


def test_integrated_gradients(trained_cnn, mnist_test, capsys):
    x = mnist_test[0][:8]
    assert exercises.check_integrated_gradients(_trapezoid_ig, trained_cnn, x)
    assert "correct" in capsys.readouterr().out
    assert not exercises.check_integrated_gradients(lambda *a: _trapezoid_ig(*a, factor=False), trained_cnn, x)
    assert "multiply it by (x - baseline)" in capsys.readouterr().out
    assert not exercises.check_integrated_gradients(lambda *a: _trapezoid_ig(*a, equal_weights=True), trained_cnn, x)
    assert "halved at the two ends" in capsys.readouterr().out
    assert all(p.grad is None for p in trained_cnn.parameters())
    assert not exercises.check_integrated_gradients(None, trained_cnn, x)
    assert "not attempted yet" in capsys.readouterr().out


def _lime_fit(coalitions, values, sample_weights, alpha, *, penalise_intercept=False, weighted=True):
    design = torch.cat([torch.ones(len(values), 1, dtype=torch.float64), coalitions.double()], dim=1)
    weights = sample_weights if weighted else torch.ones_like(sample_weights)
    penalty = alpha * torch.eye(design.shape[1], dtype=torch.float64)
    if not penalise_intercept:
        penalty[0, 0] = 0.0
    gram = design.T @ (weights[:, None] * design) + penalty
    return torch.linalg.solve(gram, design.T @ (weights * values))[1:]


def test_lime_fit(capsys):
    assert exercises.check_lime_fit(_lime_fit)
    assert "correct" in capsys.readouterr().out
    assert not exercises.check_lime_fit(lambda *a: _lime_fit(*a, penalise_intercept=True))
    assert "intercept is penalised" in capsys.readouterr().out
    assert not exercises.check_lime_fit(lambda *a: _lime_fit(*a, weighted=False))
    assert "unweighted" in capsys.readouterr().out
    assert not exercises.check_lime_fit(None)
    assert "not attempted yet" in capsys.readouterr().out


def _kernel_shap(game, budget, seed, *, efficiency=True, uniform=False):
    M, n = game.n_players, budget - 2
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.arange(1, M)
    kernel = torch.ones(M - 1) if uniform else (M - 1) / (sizes * (M - sizes))
    size = sizes[torch.multinomial(kernel, n, replacement=True, generator=generator)]
    Z = torch.rand(n, M, generator=generator).argsort(dim=1) < size[:, None]
    if uniform:  # every coalition equally likely
        Z = torch.rand(n, M, generator=generator) < 0.5
    v_empty, v_full = game(torch.tensor([[False] * M, [True] * M])).double()
    X, y = Z.double(), game(Z).double() - v_empty
    if not efficiency:  # an unconstrained regression with an intercept
        design = torch.cat([torch.ones(n, 1, dtype=torch.float64), X], dim=1)
        return torch.linalg.lstsq(design, y[:, None]).solution[1:, 0]
    A_inv_b = torch.linalg.solve(X.T @ X, X.T @ y)
    A_inv_1 = torch.linalg.solve(X.T @ X, torch.ones(M, dtype=torch.float64))
    return A_inv_b - A_inv_1 * (A_inv_b.sum() - (v_full - v_empty)) / A_inv_1.sum()


def test_kernel_shap(capsys):
    assert exercises.check_kernel_shap(_kernel_shap)
    assert "correct - efficient" in capsys.readouterr().out
    assert not exercises.check_kernel_shap(lambda g, b, s: _kernel_shap(g, b, s, efficiency=False))
    assert "enforce efficiency" in capsys.readouterr().out
    assert not exercises.check_kernel_shap(lambda g, b, s: _kernel_shap(g, b, s, uniform=True))
    assert "too far from the exact values" in capsys.readouterr().out
    assert not exercises.check_kernel_shap(lambda g, b, s: _kernel_shap(g, b + 10, s))
    assert "the budget is 1000" in capsys.readouterr().out
    assert not exercises.check_kernel_shap(None)
    assert "not attempted yet" in capsys.readouterr().out


def test_kernel_shap_checker_accepts_the_textbook_version(capsys):
    from helpers.textbook import kernel_shap

    assert exercises.check_kernel_shap(lambda game, budget, seed: kernel_shap(game, budget=budget, seed=seed))


def _background_worths(model, x, background, coalitions, target, *, mean_row=False):
    if mean_row:
        background = background.mean(dim=0, keepdim=True)
    rows = torch.where(coalitions[:, None, :], x, background)
    with torch.no_grad():
        outputs = model(rows.reshape(-1, x.shape[0]))[:, target]
    return outputs.reshape(len(coalitions), len(background)).mean(dim=1)


def test_baseline_background(capsys):
    state = torch.random.get_rng_state()
    assert exercises.check_baseline_background(_background_worths)
    assert torch.equal(state, torch.random.get_rng_state()), "the checker leaves the global random state alone"
    assert "shap's E[f(X)]" in capsys.readouterr().out
    assert not exercises.check_baseline_background(lambda *a: _background_worths(*a, mean_row=True))
    assert "mean of f is not f of the mean" in capsys.readouterr().out
    assert not exercises.check_baseline_background(lambda m, x, b, Z, t: _background_worths(m, x, b, ~Z, t))
    assert "swapped" in capsys.readouterr().out
    assert not exercises.check_baseline_background(None)
    assert "not attempted yet" in capsys.readouterr().out


def test_every_checker_is_exported():
    checkers = {name for name in dir(exercises) if name.startswith("check_")}
    assert checkers <= set(exercises.__all__), checkers - set(exercises.__all__)


def test_deletion_curve_checker_accepts_the_reference_and_rejects_slips(capsys):
    from helpers.exercises import check_deletion_curve

    def reference(game, attributions):
        order = torch.sort(-attributions, stable=True).indices
        Z = torch.ones(game.n_players + 1, game.n_players, dtype=torch.bool)
        for k in range(1, game.n_players + 1):
            Z[k:, order[k - 1]] = False
        return game(Z)

    def unstable_ties(game, attributions):
        return reference(game, attributions + 1e-9 * torch.arange(len(attributions)))  # ties to the higher index

    assert check_deletion_curve(reference)
    assert not check_deletion_curve(None)
    assert not check_deletion_curve(lambda game, a: reference(game, a).flip(0))
    assert not check_deletion_curve(lambda game, a: reference(game, -a))
    assert not check_deletion_curve(unstable_ties)
    assert not check_deletion_curve(lambda game, a: 1 / 0)
    out = capsys.readouterr().out
    assert ": correct" in out and "runs backwards" in out and "tied attributions" in out and "ZeroDivisionError" in out
