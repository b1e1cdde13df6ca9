"""The exercise checkers accept right answers, reject the usual wrong ones and say "not attempted" for None."""

from __future__ import annotations

import numpy as np
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


# --- the exercises that build SmoothGrad, Grad-CAM and the randomisation test (notebook 03)


def _smoothgrad(model, x, target, noise_level, noise, *, absolute=True, fixed_sigma=False):
    span = x.flatten(1).amax(dim=1) - x.flatten(1).amin(dim=1)
    sigma = torch.full_like(span, noise_level) if fixed_sigma else noise_level * span
    sigma = sigma.reshape(-1, *([1] * (x.ndim - 1)))
    return sum(gradient(model, x + sigma * e, target, absolute=absolute) for e in noise) / len(noise)


def test_smoothgrad(trained_cnn, mnist_test, capsys):
    x = mnist_test[0][:8]
    state = torch.random.get_rng_state()
    assert exercises.check_smoothgrad(_smoothgrad, trained_cnn, x)
    assert torch.equal(state, torch.random.get_rng_state()), "the checker leaves the global random state alone"
    assert "correct - matches helpers.saliency.smoothgrad" in capsys.readouterr().out
    assert not exercises.check_smoothgrad(lambda *a: _smoothgrad(*a, absolute=False), trained_cnn, x)
    assert "signed gradients" in capsys.readouterr().out
    assert not exercises.check_smoothgrad(lambda *a: _smoothgrad(*a, fixed_sigma=True), trained_cnn, x)
    assert "times the input's range" in capsys.readouterr().out
    assert all(p.grad is None for p in trained_cnn.parameters())
    assert not exercises.check_smoothgrad(None, trained_cnn, x)
    assert "not attempted yet" in capsys.readouterr().out


def _grad_cam(model, x, target, layer, *, rectify=True, upsample=True, keep_hook=False):
    import torch.nn.functional as F

    saved = []
    hook = layer.register_forward_hook(lambda module, inputs, output: saved.append(output))
    scores = model(x)[torch.arange(len(x)), target]
    if not keep_hook:
        hook.remove()
    (grads,) = torch.autograd.grad(scores.sum(), saved[0])
    cam = (grads.mean(dim=(2, 3), keepdim=True) * saved[0]).sum(dim=1, keepdim=True).detach()
    cam = F.relu(cam) if rectify else cam
    if not upsample:
        return cam
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False).expand_as(x)


def test_grad_cam(trained_cnn, mnist_test, capsys):
    x, layer = mnist_test[0][:8], trained_cnn.conv1
    assert exercises.check_grad_cam(_grad_cam, trained_cnn, x, layer)
    assert "correct - matches helpers.saliency.grad_cam" in capsys.readouterr().out
    assert not exercises.check_grad_cam(lambda *a: _grad_cam(*a, rectify=False), trained_cnn, x, layer)
    assert "the ReLU is missing" in capsys.readouterr().out
    assert not exercises.check_grad_cam(lambda *a: _grad_cam(*a, upsample=False), trained_cnn, x, layer)
    assert "upsample them" in capsys.readouterr().out
    assert not exercises.check_grad_cam(lambda *a: _grad_cam(*a, keep_hook=True), trained_cnn, x, layer)
    assert "left 1 hook(s)" in capsys.readouterr().out
    assert not layer._forward_hooks, "the checker removes a hook the answer left behind"
    assert not exercises.check_grad_cam(None, trained_cnn, x, layer)
    assert "not attempted yet" in capsys.readouterr().out


def _randomisation_test(model, x, target, layer_name, seed, *, on_a_copy=True, seeded=True):
    import copy

    from helpers.metrics import abs_rank_correlation
    from helpers.seeding import seeded_global_rng

    randomised = copy.deepcopy(model) if on_a_copy else model
    original = gradient(model, x, target)
    if seeded:
        with seeded_global_rng(seed):
            getattr(randomised, layer_name).reset_parameters()
    else:
        getattr(randomised, layer_name).reset_parameters()
    return abs_rank_correlation(original, gradient(randomised, x, target))


def test_randomisation_test(trained_cnn, mnist_test, capsys):
    x = mnist_test[0][:16]
    weights = {key: value.clone() for key, value in trained_cnn.state_dict().items()}
    state = torch.random.get_rng_state()
    assert exercises.check_randomisation_test(_randomisation_test, trained_cnn, x)
    assert "correct - matches helpers.metrics.cascading_randomisation for the layers ['fc1', 'conv1']" in capsys.readouterr().out
    assert not exercises.check_randomisation_test(lambda *a: _randomisation_test(*a, on_a_copy=False), trained_cnn, x)
    assert "re-initialised the caller's model" in capsys.readouterr().out
    assert not exercises.check_randomisation_test(lambda *a: _randomisation_test(*a, seeded=False), trained_cnn, x)
    assert "moved the global random state" in capsys.readouterr().out
    assert not exercises.check_randomisation_test(lambda m, x, t, name, seed: torch.ones(len(x), dtype=torch.float64),
                                                  trained_cnn, x)
    assert "every correlation is 1" in capsys.readouterr().out
    assert all(torch.equal(value, weights[key]) for key, value in trained_cnn.state_dict().items()), \
        "the checker puts back a model that a wrong answer re-initialised"
    assert torch.equal(state, torch.random.get_rng_state())
    assert not exercises.check_randomisation_test(None, trained_cnn, x)
    assert "not attempted yet" in capsys.readouterr().out


# --- exact Shapley values by enumeration (notebook 05)


def _exact_shapley(game, *, banzhaf=False):
    import math

    M = game.n_players
    codes = torch.arange(2**M)
    Z = ((codes[:, None] >> torch.arange(M)) & 1).bool()
    v = game(Z).double()
    sizes = Z.sum(dim=1)
    weight = torch.tensor([math.factorial(s) * math.factorial(M - 1 - s) / math.factorial(M) for s in range(M)],
                          dtype=torch.float64)
    phi = torch.zeros(M, dtype=torch.float64)
    for i in range(M):
        without = codes[~Z[:, i]]
        w = torch.full((len(without),), 1 / 2 ** (M - 1), dtype=torch.float64) if banzhaf else weight[sizes[without]]
        phi[i] = (w * (v[without | (1 << i)] - v[without])).sum()
    return phi


def test_exact_shapley(capsys):
    assert exercises.check_exact_shapley(_exact_shapley)
    assert "correct - matches helpers.shapley.exact_shapley on games of 3, 5 and 8 players (8, 32, 256" in capsys.readouterr().out
    assert not exercises.check_exact_shapley(lambda game: _exact_shapley(game, banzhaf=True))
    assert "Banzhaf value" in capsys.readouterr().out
    assert not exercises.check_exact_shapley(lambda game: -_exact_shapley(game))
    assert "sign is flipped" in capsys.readouterr().out
    assert not exercises.check_exact_shapley(lambda game: torch.zeros(game.n_players + 1))
    assert "expected shape (3,)" in capsys.readouterr().out
    assert not exercises.check_exact_shapley(None)
    assert "not attempted yet" in capsys.readouterr().out


def test_exact_shapley_checker_accepts_the_textbook_version():
    from helpers.textbook import exact_shapley

    assert exercises.check_exact_shapley(exact_shapley)


def test_disagreeing_digit(trained_cnn, capsys):
    from helpers.features import CoalitionGame, grid_segments, segment_sums
    from helpers.models import predict
    from helpers.shapley import exact_shapley_skipping_dummies

    def first(model, X):  # the learner's answer, written from the course's helpers
        patches = grid_segments((28, 28), 7)
        targets = predict(model, X).argmax(dim=1)
        top = segment_sums(gradient(model, X, targets), patches).argmax(dim=1)
        for i, x in enumerate(X):
            game = CoalitionGame(model, x, patches, baseline=0.0, target=int(targets[i]))
            if int(exact_shapley_skipping_dummies(game).argmax()) != int(top[i]):
                return i
        return None

    before = {k: v.clone() for k, v in trained_cnn.state_dict().items()}
    assert exercises.check_disagreeing_digit(first, trained_cnn)
    assert "correct" in capsys.readouterr().out
    assert all(torch.equal(v, trained_cnn.state_dict()[k]) for k, v in before.items())
    assert not exercises.check_disagreeing_digit(lambda model, X: 0, trained_cnn)
    assert "compare the argmax" in capsys.readouterr().out
    assert not exercises.check_disagreeing_digit(lambda model, X: "3", trained_cnn)
    assert "return the index as an int" in capsys.readouterr().out
    assert not exercises.check_disagreeing_digit(None, trained_cnn)
    assert "not attempted yet" in capsys.readouterr().out


def _one_row_tree_shap(tree, x, r, *, sign=1.0):
    """Interventional TreeSHAP of one tree and one background row, written as a learner would."""
    from math import factorial

    phi = np.zeros(len(x))

    def walk(node, from_x, from_r):
        if tree.children_left[node] == -1:
            a, b, w = len(from_x), len(from_r), tree.value[node].ravel()[0]
            for i in from_x:
                phi[i] += w * factorial(a - 1) * factorial(b) / factorial(a + b)
            for i in from_r:
                phi[i] -= sign * w * factorial(a) * factorial(b - 1) / factorial(a + b)
            return
        j, t = tree.feature[node], tree.threshold[node]
        for child, left in ((tree.children_left[node], True), (tree.children_right[node], False)):
            x_goes, r_goes = (x[j] <= t) == left, (r[j] <= t) == left
            if x_goes and r_goes:
                walk(child, from_x, from_r)
            elif x_goes and j not in from_r:
                walk(child, from_x | {j}, from_r)
            elif r_goes and j not in from_x:
                walk(child, from_x, from_r | {j})

    walk(0, frozenset(), frozenset())
    return phi


def test_tree_shap_one_row(capsys):
    assert exercises.check_tree_shap_one_row(_one_row_tree_shap)
    assert "correct - equals exact enumeration" in capsys.readouterr().out
    assert not exercises.check_tree_shap_one_row(lambda tree, x, r: _one_row_tree_shap(tree, x, r, sign=-1.0))
    assert "add up to" in capsys.readouterr().out
    assert not exercises.check_tree_shap_one_row(lambda tree, x, r: np.zeros(len(x) + 1))
    assert "expected shape" in capsys.readouterr().out
    assert not exercises.check_tree_shap_one_row(None)
    assert "not attempted yet" in capsys.readouterr().out


def _rescale(f, z, z_ref):
    with torch.enable_grad():
        leaf = z.clone().requires_grad_(True)
        (derivative,) = torch.autograd.grad(f(leaf).sum(), leaf)
    step = z - z_ref
    return torch.where(step == 0, derivative, (f(z) - f(z_ref)) / torch.where(step == 0, 1, step))


def test_rescale_rule(capsys):
    assert exercises.check_rescale_rule(_rescale)
    assert "correct" in capsys.readouterr().out
    assert not exercises.check_rescale_rule(lambda f, z, z_ref: (f(z) - f(z_ref)) / (z - z_ref))
    assert "NaN or infinite" in capsys.readouterr().out
    derivative_only = lambda f, z, z_ref: _rescale(f, z, z)  # noqa: E731 - the gradient, not the secant
    assert not exercises.check_rescale_rule(derivative_only)
    assert "summation to delta" in capsys.readouterr().out
    assert not exercises.check_rescale_rule(lambda f, z, z_ref: torch.where(z == z_ref, 0.0, _rescale(f, z, z_ref)))
    assert "derivative" in capsys.readouterr().out
    assert not exercises.check_rescale_rule(None)
    assert "not attempted yet" in capsys.readouterr().out
