"""Gradient x Input, SmoothGrad, Integrated Gradients and Grad-CAM (the stability measures: tests/test_metrics.py).

Mathematical facts (completeness, exactness on linear models, zero-noise limits),
cross-checks against Captum with stated tolerances, the calling convention and its
guarantees (parametrized over every method), and every error message.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.models import MLP, LinearClassifier, SimpleCNN
from helpers.saliency import (
    IG_MAX_STEPS,
    IntegratedGradientsInfo,
    completeness,
    grad_cam,
    gradient,
    gradient_x_input,
    integrated_gradients,
    path_quadrature,
    smoothgrad,
)


def _grad_cam_conv1(model, x, target=None, **options):
    return grad_cam(model, x, target, layer=model[0] if isinstance(model, nn.Sequential) else model.conv1, **options)


# Every gradient method with small settings, for the tests of the calling convention.
METHODS = {
    "gradient": gradient,
    "gradient_x_input": gradient_x_input,
    "smoothgrad": functools.partial(smoothgrad, n_samples=4),
    "integrated_gradients": functools.partial(integrated_gradients, steps=5),
    "integrated_gradients_adaptive": functools.partial(integrated_gradients, max_steps=9, tolerance=0.5),
    "gauss_legendre": functools.partial(integrated_gradients, steps=3, rule="gauss_legendre"),
    "grad_cam": _grad_cam_conv1,
}


def _linear_model(seed=0, shape=(1, 28, 28)):
    torch.manual_seed(seed)
    model = LinearClassifier(shape, 10)
    nn.init.normal_(model.linear.weight, std=0.1)
    return model


def _scores(model, x, target):
    with torch.no_grad():
        return model(x).gather(1, torch.as_tensor(target).reshape(-1, 1).expand(x.shape[0], 1)).squeeze(1)


# --------------------------------------------------------------------------- the calling convention


@pytest.mark.parametrize("name", METHODS)
def test_output_has_the_shape_dtype_and_device_of_x(name, trained_cnn, mnist_test):
    x = mnist_test[0][:3]
    out = METHODS[name](trained_cnn, x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("mode", ["train", "mixed"])
def test_no_side_effects(name, mode):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    model.train()
    if mode == "mixed":
        model[2].eval()
    modes = [m.training for m in model.modules()]
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)
    x = torch.rand(2, 1, 28, 28).requires_grad_(True)
    x.grad = torch.full_like(x, 5.0)
    before = x.detach().clone()

    a = METHODS[name](model, x, 3)
    b = METHODS[name](model, x, 3)

    assert torch.equal(a, b), "same call, same result: dropout off and the same seed"
    assert [m.training for m in model.modules()] == modes
    assert x.requires_grad and torch.equal(x.detach(), before)
    assert torch.equal(x.grad, torch.full_like(x, 5.0))
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert all(p.grad is None for p in model[1:].parameters())
    assert not any(m._forward_hooks for m in model.modules()), "no hook may stay behind"


@pytest.mark.parametrize("name", METHODS)
def test_target_none_is_the_class_predicted_at_x(name, trained_cnn, mnist_test):
    x = mnist_test[0][:4]
    predicted = trained_cnn(x).argmax(1)
    assert torch.allclose(METHODS[name](trained_cnn, x), METHODS[name](trained_cnn, x, predicted), atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_float64_inputs_stay_float64(name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    assert METHODS[name](model, x, 1).dtype == torch.float64


# --------------------------------------------------------------------------- Gradient x Input


def test_gradient_x_input_agrees_with_captum(trained_cnn, mnist_test):
    from captum.attr import InputXGradient

    x = mnist_test[0][:16]
    target = trained_cnn(x).argmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum warns about setting requires_grad on its input
        theirs = InputXGradient(trained_cnn).attribute(x.clone(), target=target)
    assert torch.allclose(gradient_x_input(trained_cnn, x, target), theirs, atol=1e-7)


def test_gradient_x_input_of_a_linear_model_sums_to_the_score_minus_the_bias(mnist_test):
    model = _linear_model()
    x = mnist_test[0][:5]
    attributions = gradient_x_input(model, x, 4)
    expected = _scores(model, x, 4) - model.linear.bias.detach()[4]
    assert torch.allclose(attributions.flatten(1).sum(1), expected, atol=1e-5)


# --------------------------------------------------------------------------- SmoothGrad


@pytest.mark.parametrize("absolute", [True, False])
def test_smoothgrad_without_noise_is_the_gradient(trained_cnn, mnist_test, absolute):
    x = mnist_test[0][:8]
    smooth = smoothgrad(trained_cnn, x, noise_level=0.0, n_samples=7, absolute=absolute)
    assert torch.allclose(smooth, gradient(trained_cnn, x, absolute=absolute), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("batch_size", [1, 5, 13, 64, None])
def test_smoothgrad_does_not_depend_on_the_chunking(trained_cnn, mnist_test, batch_size):
    x = mnist_test[0][:6]
    reference = smoothgrad(trained_cnn, x, n_samples=9, batch_size=6 * 9)
    chunked = smoothgrad(trained_cnn, x, n_samples=9, batch_size=batch_size)
    assert torch.allclose(chunked, reference, rtol=1e-5, atol=1e-7)


def test_smoothgrad_same_seed_same_map_other_seed_other_map(trained_cnn, mnist_test):
    x = mnist_test[0][:3]
    a = smoothgrad(trained_cnn, x, n_samples=5, seed=3)
    assert torch.equal(a, smoothgrad(trained_cnn, x, n_samples=5, seed=3))
    assert not torch.allclose(a, smoothgrad(trained_cnn, x, n_samples=5, seed=4))


@pytest.mark.parametrize("absolute", [True, False])
def test_smoothgrad_of_an_example_does_not_depend_on_the_rest_of_the_batch(trained_cnn, mnist_test, absolute):
    x = mnist_test[0][:6]
    whole = smoothgrad(trained_cnn, x, n_samples=7, seed=5, absolute=absolute)
    for i in (0, 2, 5):
        alone = smoothgrad(trained_cnn, x[i:i + 1], n_samples=7, seed=5, absolute=absolute)
        assert torch.allclose(alone, whole[i:i + 1], rtol=1e-5, atol=1e-7)
    reordered = smoothgrad(trained_cnn, x.flip(0), n_samples=7, seed=5, absolute=absolute)
    assert torch.allclose(reordered.flip(0), whole, rtol=1e-5, atol=1e-7)
    # the same example twice in one batch gets the same map
    twice = smoothgrad(trained_cnn, torch.cat([x[1:2], x[1:2]]), n_samples=7, seed=5, absolute=absolute)
    assert torch.allclose(twice[0], twice[1], rtol=1e-5, atol=1e-7)


def test_smoothgrad_does_not_depend_on_the_global_random_state(trained_cnn, mnist_test):
    x = mnist_test[0][:3]
    torch.manual_seed(1)
    a = smoothgrad(trained_cnn, x, n_samples=5)
    torch.manual_seed(2)
    assert torch.equal(a, smoothgrad(trained_cnn, x, n_samples=5))


class _HalfSquaredNorm(nn.Module):
    """Scores (|x|^2 / 2, 0): the gradient of class 0 is x itself."""

    def forward(self, x):
        s = 0.5 * (x.flatten(1) ** 2).sum(1)
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def test_smoothgrad_noise_is_a_fraction_of_each_inputs_range():
    # With one sample and a score whose gradient is x, the map minus x IS the noise.
    x = torch.stack([torch.linspace(0, 1, 20000), torch.linspace(-3, 5, 20000)])  # ranges 1 and 8
    noise = smoothgrad(_HalfSquaredNorm(), x, 0, noise_level=0.1, n_samples=1, absolute=False) - x
    std = noise.std(dim=1)
    assert torch.allclose(std, torch.tensor([0.1, 0.8]), rtol=0.03)
    assert (noise.mean(dim=1).abs() < 4 * std / 20000**0.5).all(), "zero-mean noise (within four standard errors)"


def test_smoothgrad_averages_magnitudes_when_absolute():
    x = torch.zeros(1, 5000)
    # gradient = noise, whose magnitude averages to sigma * sqrt(2/pi) while its signed mean is ~0
    x[0, 0] = 1.0  # range 1
    magnitude = smoothgrad(_HalfSquaredNorm(), x, 0, noise_level=0.2, n_samples=8, absolute=True)
    signed = smoothgrad(_HalfSquaredNorm(), x, 0, noise_level=0.2, n_samples=8, absolute=False)
    assert abs(float(magnitude[0, 1:].mean()) - 0.2 * np.sqrt(2 / np.pi)) < 0.01
    assert abs(float(signed[0, 1:].mean())) < 0.01


# --------------------------------------------------------------------------- path_quadrature


@pytest.mark.parametrize("steps", [2, 3, 4, 17, 50])
def test_trapezoid_weights_sum_to_one_and_integrate_lines_exactly(steps):
    alphas, weights = path_quadrature("trapezoid", steps)
    assert alphas[0] == 0 and alphas[-1] == 1 and len(alphas) == steps
    assert abs(float(weights.sum()) - 1) < 1e-12
    assert abs(float((weights * (3 * alphas + 2)).sum()) - 3.5) < 1e-12


@pytest.mark.parametrize("steps", [1, 2, 5, 10])
def test_gauss_legendre_integrates_polynomials_of_degree_2n_minus_1(steps):
    alphas, weights = path_quadrature("gauss_legendre", steps)
    degree = 2 * steps - 1
    assert abs(float((weights * alphas**degree).sum()) - 1 / (degree + 1)) < 1e-12
    assert ((alphas > 0) & (alphas < 1)).all()


# --------------------------------------------------------------------------- Integrated Gradients


@pytest.mark.parametrize("steps", [2, 3, 7, 50, None])
def test_trapezoid_is_exact_on_a_linear_model(mnist_test, steps):
    model = _linear_model()
    x = mnist_test[0][:5]
    baseline = torch.full_like(x, 0.3)
    attributions, info = integrated_gradients(model, x, 2, baseline=baseline, steps=steps, return_info=True)
    expected = (x - baseline) * model.weight_map(2)
    assert torch.allclose(attributions, expected, atol=1e-6)
    delta = _scores(model, x, 2) - _scores(model, baseline, 2)
    assert torch.allclose(attributions.flatten(1).sum(1), delta, atol=1e-4)
    if steps is None:
        assert info.steps.tolist() == [2] * 5, "a constant gradient needs the two ends only"


@settings(max_examples=25, deadline=None)
@given(n_features=st.integers(1, 10), steps=st.integers(2, 40), seed=st.integers(0, 2**16))
def test_trapezoid_is_exact_on_any_linear_model(n_features, steps, seed):
    torch.manual_seed(seed)
    model = nn.Linear(n_features, 3)
    x, baseline = torch.randn(4, n_features), torch.randn(4, n_features)
    attributions = integrated_gradients(model, x, 1, baseline=baseline, steps=steps)
    assert torch.allclose(attributions, (x - baseline) * model.weight.detach()[1], atol=1e-5)


@pytest.mark.parametrize("steps", [1, 7, 50])
def test_gauss_legendre_equals_captum(trained_cnn, mnist_test, steps):
    from captum.attr import IntegratedGradients

    x = mnist_test[0][:10]
    target = trained_cnn(x).argmax(1)
    ours = integrated_gradients(trained_cnn, x, target, steps=steps, rule="gauss_legendre")
    theirs = IntegratedGradients(trained_cnn).attribute(x, target=target, n_steps=steps, method="gausslegendre")
    assert torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("steps", [2, 5, 50])
def test_captum_riemann_trapezoid_is_ours_shrunk_by_n_minus_1_over_n(trained_cnn, mnist_test, steps):
    from captum.attr import IntegratedGradients

    x = mnist_test[0][:6]
    target = trained_cnn(x).argmax(1)
    ours = integrated_gradients(trained_cnn, x, target, steps=steps)
    theirs = IntegratedGradients(trained_cnn).attribute(x, target=target, n_steps=steps, method="riemann_trapezoid")
    assert torch.allclose(theirs, ours * (steps - 1) / steps, atol=1e-5)


def _check_completeness(model, x, baseline=None, **options):
    attributions, info = integrated_gradients(model, x, baseline=baseline, return_info=True, **options)
    base = torch.zeros_like(x) if baseline is None else baseline
    delta = _scores(model, x, info.targets) - _scores(model, base, info.targets)
    gap = (attributions.flatten(1).sum(1) - delta).abs()
    assert bool(info.converged.all())
    assert (gap <= 0.01 * delta.abs() + 1e-4).all(), f"relative gaps {(gap / delta.abs()).tolist()}"
    assert torch.allclose(info.gap.float(), gap, atol=1e-4)
    assert torch.allclose(info.score_difference.float(), delta, atol=1e-4)
    return info


@pytest.mark.parametrize("rule", ["trapezoid", "gauss_legendre"])
def test_completeness_within_one_percent_by_default_on_the_trained_cnn(trained_cnn, mnist_test, rule):
    info = _check_completeness(trained_cnn, mnist_test[0][:40], rule=rule)
    assert info.steps.max() > 2, "the CNN is not linear: some example must need refinement"


@pytest.mark.parametrize("rule", ["trapezoid", "gauss_legendre"])
def test_completeness_within_one_percent_by_default_on_a_smooth_mlp(rule):
    torch.manual_seed(0)
    model = MLP(6, 3, hidden=(32, 32), activation="tanh")
    x = torch.randn(30, 6) * 2
    _check_completeness(model, x, baseline=torch.full_like(x, 0.5), rule=rule)


def test_adaptive_trapezoid_evaluates_every_point_once(trained_cnn, mnist_test):
    from helpers.cost import CostCounter

    x = mnist_test[0][:20]
    target = trained_cnn(x).argmax(1)
    with CostCounter(trained_cnn) as cost:
        _, info = integrated_gradients(trained_cnn, x, target, return_info=True)
    assert ((info.steps >= 2) & (info.steps <= IG_MAX_STEPS)).all()
    assert cost.backward_rows == int(info.steps.sum()) == cost.forward_rows
    assert torch.equal(info.evaluations, info.steps)


def test_adaptive_gauss_legendre_counts_every_level(trained_cnn, mnist_test):
    x = mnist_test[0][:10]
    _, info = integrated_gradients(trained_cnn, x, rule="gauss_legendre", return_info=True)
    # levels 2, 4, 8, ...: the evaluations are 2 + 4 + ... + steps = 2 * steps - 2
    assert torch.equal(info.evaluations, 2 * info.steps - 2)


@pytest.mark.parametrize("rule", ["trapezoid", "gauss_legendre"])
def test_the_decision_margin_is_how_far_the_tolerance_can_move_without_changing_a_count(rule, trained_cnn, mnist_test):
    x = mnist_test[0][:12]
    target = trained_cnn(x).argmax(1)
    _, info = integrated_gradients(trained_cnn, x, target, rule=rule, return_info=True)
    assert bool((info.decision_margin > 0).all()) and bool(torch.isfinite(info.decision_margin).all())
    with torch.no_grad():
        scores = trained_cnn(torch.cat([x, torch.zeros_like(x)])).double().gather(1, target.repeat(2)[:, None])[:, 0]
    scale = scores[:12].abs() + scores[12:].abs()
    # the allowed gap is tolerance * |S(x) - S(x')|: moving the tolerance by less than every example's margin
    # changes no decision, so no example's points
    room = float((info.decision_margin * scale / info.score_difference.abs()).min())
    _, nudged = integrated_gradients(trained_cnn, x, target, rule=rule, tolerance=0.01 + 0.5 * room, return_info=True)
    assert torch.equal(nudged.steps, info.steps)
    # and moving it by much more than the smallest margin changes some
    _, moved = integrated_gradients(trained_cnn, x, target, rule=rule, tolerance=0.02, return_info=True)
    assert not torch.equal(moved.steps, info.steps)
    _, fixed = integrated_gradients(trained_cnn, x, target, steps=8, return_info=True)
    assert bool(torch.isinf(fixed.decision_margin).all())  # no decision made


def test_an_example_does_not_depend_on_the_rest_of_the_batch(trained_cnn, mnist_test):
    x = mnist_test[0][:6]
    together, info = integrated_gradients(trained_cnn, x, return_info=True)
    for i in range(6):
        alone, info_i = integrated_gradients(trained_cnn, x[i:i + 1], return_info=True)
        assert info_i.steps.item() == info.steps[i].item()
        assert torch.allclose(alone, together[i:i + 1], atol=1e-6)


@pytest.mark.parametrize("steps", [None, 9])
@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_integrated_gradients_does_not_depend_on_the_chunking(trained_cnn, mnist_test, steps, batch_size):
    x = mnist_test[0][:4]
    reference = integrated_gradients(trained_cnn, x, steps=steps, batch_size=10_000)
    assert torch.allclose(integrated_gradients(trained_cnn, x, steps=steps, batch_size=batch_size), reference, atol=1e-6)


def test_more_steps_shrink_the_gap(trained_cnn, mnist_test):
    x = mnist_test[0][:30]
    gaps = [float(integrated_gradients(trained_cnn, x, steps=n, return_info=True)[1].relative_gap.median())
            for n in (3, 9, 33)]
    assert gaps[0] > gaps[1] > gaps[2]


def test_missing_the_tolerance_warns_or_reports(trained_cnn, mnist_test):
    x = mnist_test[0][:5]
    with pytest.warns(RuntimeWarning, match="missed the completeness tolerance"):
        integrated_gradients(trained_cnn, x, max_steps=2, tolerance=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = integrated_gradients(trained_cnn, x, max_steps=2, tolerance=1e-6, return_info=True)
    assert isinstance(info, IntegratedGradientsInfo)
    assert not info.converged.all() and info.steps.tolist() == [2] * 5


def test_fixed_steps_never_warn(trained_cnn, mnist_test):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        integrated_gradients(trained_cnn, mnist_test[0][:3], steps=2)


@pytest.mark.parametrize("baseline", [0.25, torch.full((1, 28, 28), 0.25), torch.full((3, 1, 28, 28), 0.25)])
def test_baseline_forms_agree(trained_cnn, mnist_test, baseline):
    x = mnist_test[0][:3]
    expected = integrated_gradients(trained_cnn, x, steps=5, baseline=torch.full_like(x, 0.25))
    assert torch.allclose(integrated_gradients(trained_cnn, x, steps=5, baseline=baseline), expected)


# --------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_follows_its_definition(trained_cnn, mnist_test):
    x = mnist_test[0][:5]
    target = torch.tensor([0, 3, 5, 7, 9])
    activations = trained_cnn.conv1(x).detach().requires_grad_(True)
    scores = trained_cnn.fc1(F.relu(activations).flatten(1)).gather(1, target[:, None]).sum()
    (grads,) = torch.autograd.grad(scores, activations)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    expected = F.interpolate(F.relu((weights * activations).sum(1, keepdim=True)), size=(28, 28), mode="bilinear")
    cam = grad_cam(trained_cnn, x, target, layer=trained_cnn.conv1)
    assert torch.allclose(cam, expected.detach(), atol=1e-6)
    assert (cam >= 0).all()


def test_grad_cam_agrees_with_captum(trained_cnn, mnist_test):
    from captum.attr import LayerAttribution, LayerGradCam

    x = mnist_test[0][:8]
    target = trained_cnn(x).argmax(1)
    theirs = LayerGradCam(trained_cnn, trained_cnn.conv1).attribute(x, target=target, relu_attributions=True)
    theirs = LayerAttribution.interpolate(theirs, (28, 28), interpolate_mode="bilinear")
    assert torch.allclose(grad_cam(trained_cnn, x, target, layer=trained_cnn.conv1), theirs, atol=1e-6)


def test_grad_cam_repeats_its_map_over_the_channels():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    cam = grad_cam(model, torch.rand(2, 3, 10, 12), 1, layer=model[1])
    assert cam.shape == (2, 3, 10, 12)
    assert torch.equal(cam[:, 0], cam[:, 1]) and torch.equal(cam[:, 0], cam[:, 2])


def test_grad_cam_hooks_are_released_on_success_and_on_error(trained_cnn, mnist_test):
    layer = trained_cnn.conv1
    grad_cam(trained_cnn, mnist_test[0][:2], layer=layer)
    assert not layer._forward_hooks
    with pytest.raises(ValueError, match="class index"):
        grad_cam(trained_cnn, mnist_test[0][:2], 12, layer=layer)
    assert not layer._forward_hooks
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(trained_cnn, mnist_test[0][:2], layer=trained_cnn.fc1)
    assert not trained_cnn.fc1._forward_hooks


# --------------------------------------------------------------------------- errors


def _cnn():
    torch.manual_seed(0)
    return SimpleCNN()


X = torch.rand(2, 1, 28, 28)

ERRORS = [
    (lambda: smoothgrad(_cnn(), X, noise_level=-0.1), ValueError, "noise_level must be a finite number >= 0; got -0.1"),
    (lambda: smoothgrad(_cnn(), X, noise_level="high"), TypeError, "noise_level must be a number; got 'high'"),
    (lambda: smoothgrad(_cnn(), X, n_samples=0), ValueError, "n_samples must be an int >= 1; got 0"),
    (lambda: smoothgrad(_cnn(), X, n_samples=2.5), TypeError, "n_samples must be an int; got 2.5"),
    (lambda: smoothgrad(_cnn(), X, batch_size=0), ValueError, "batch_size must be a positive int or None; got 0"),
    (lambda: smoothgrad(_cnn(), X, seed=-1), ValueError, "seed must be in"),
    (lambda: smoothgrad(_cnn(), X, 10), ValueError, r"target must be a class index in \[0, 10\); got 10"),
    (lambda: smoothgrad(_cnn(), X[0, 0, 0]), ValueError, "x must be batched"),
    (lambda: integrated_gradients(_cnn(), X, rule="simpson"), ValueError, "rule must be one of"),
    (lambda: integrated_gradients(_cnn(), X, steps=1), ValueError, r"steps \(trapezoid points, both ends included\) must be an int >= 2; got 1"),
    (lambda: integrated_gradients(_cnn(), X, steps=0, rule="gauss_legendre"), ValueError, r"steps \(Gauss-Legendre points\) must be an int >= 1; got 0"),
    (lambda: integrated_gradients(_cnn(), X, steps=10.0), TypeError, "must be an int; got 10.0"),
    (lambda: integrated_gradients(_cnn(), X, tolerance=0), ValueError, "tolerance must be a finite number > 0; got 0.0"),
    (lambda: integrated_gradients(_cnn(), X, max_steps=1), ValueError, "max_steps must be an int >= 2; got 1"),
    (lambda: integrated_gradients(_cnn(), X, baseline=torch.zeros(5)), ValueError, r"baseline must be shaped like x \(2, 1, 28, 28\) or broadcast to it"),
    (lambda: integrated_gradients(_cnn(), X, baseline="black"), TypeError, "baseline must be None, a number or a tensor shaped like x; got str"),
    (lambda: integrated_gradients(_cnn(), X, baseline=float("nan")), ValueError, "baseline must be finite"),
    (lambda: integrated_gradients(_cnn(), X, baseline=torch.full_like(X, float("inf"))), ValueError, "baseline must be finite"),
    (lambda: integrated_gradients(_cnn(), X, baseline=torch.zeros(1, 28, 28, dtype=torch.int64)), TypeError, "baseline must be a float tensor"),
    (lambda: integrated_gradients(_cnn(), X, return_info=1), TypeError, "return_info must be True or False; got 1"),
    (lambda: integrated_gradients(_cnn(), X, target=[1]), ValueError, "target must be an int or an int tensor of length B=2"),
    (lambda: path_quadrature("midpoint", 3), ValueError, "rule must be one of"),
    (lambda: grad_cam(_cnn(), X.flatten(1), layer=nn.Conv2d(1, 1, 1)), ValueError, r"x must be \[B, C, H, W\]; got shape \(2, 784\)"),
    (lambda: grad_cam(_cnn(), X, layer="conv1"), TypeError, "layer must be a torch.nn.Module inside the model; got str"),
    (lambda: grad_cam(_cnn(), X, layer=nn.Conv2d(1, 16, 3)), ValueError, "layer must be a submodule of the model"),
    (lambda: grad_cam(_cnn(), X, layer=_cnn().fc1), ValueError, "layer must be a submodule of the model"),
    (lambda: gradient_x_input(_cnn(), X.int()), TypeError, "x must be a floating-point tensor"),
    (lambda: gradient_x_input("model", X), TypeError, "model must be a torch.nn.Module"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors_name_the_value_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_grad_cam_layer_must_output_feature_maps():
    model = _cnn()
    with pytest.raises(ValueError, match=r"layer must output feature maps \[B, K, h, w\]; Linear output has shape \(2, 10\)"):
        grad_cam(model, X, layer=model.fc1)


def test_grad_cam_layer_must_run_once():
    layer = nn.Conv2d(1, 1, 3, padding=1)
    model = nn.Sequential(layer, nn.ReLU(), layer, nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(ValueError, match="layer must run exactly once per forward pass"):
        grad_cam(model, torch.rand(1, 1, 4, 4), layer=layer)
    assert not layer._forward_hooks


def test_a_model_without_gradient_is_refused_by_every_method():
    class Rounded(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            return self.linear(x.round().detach())

    for name in ("gradient_x_input", "smoothgrad", "integrated_gradients"):
        with pytest.raises(ValueError, match="does not depend differentiably on x"):
            METHODS[name](Rounded(), torch.rand(3, 4), 0)


# --------------------------------------------------------------------------- completeness of any attributions


def test_completeness_shows_captums_trapezoid_short_by_one_over_n_on_a_linear_model(mnist_test):
    from captum.attr import IntegratedGradients

    model = _linear_model()
    x = mnist_test[0][:4]
    for n in (2, 5, 50):
        attributions = IntegratedGradients(model).attribute(x, target=3, n_steps=n, method="riemann_trapezoid")
        sums, differences = completeness(model, x, attributions, 3)
        assert torch.allclose(sums, differences * (n - 1) / n, atol=1e-5)
        sums, differences = completeness(model, x, integrated_gradients(model, x, 3, steps=n), 3)
        assert torch.allclose(sums, differences, atol=1e-5)


def test_completeness_agrees_with_the_info_and_checks_shapes(trained_cnn, mnist_test):
    x = mnist_test[0][:5]
    attributions, info = integrated_gradients(trained_cnn, x, steps=9, baseline=0.1, return_info=True)
    sums, differences = completeness(trained_cnn, x, attributions, baseline=0.1)
    assert torch.allclose(differences, info.score_difference, atol=1e-5)
    assert torch.allclose((sums - differences).abs(), info.gap, atol=1e-4)
    with pytest.raises(ValueError, match=r"attributions must have the shape of x \(5, 1, 28, 28\); got \(5, 784\)"):
        completeness(trained_cnn, x, attributions.flatten(1))


# --------------------------------------------------------------------------- the exercises of notebook 03


def test_gradient_x_input_checker(trained_cnn, mnist_test, capsys):
    from helpers.exercises import check_gradient_x_input

    x = mnist_test[0][:6]
    assert check_gradient_x_input(lambda m, x, t: x * gradient(m, x, t, absolute=False), trained_cnn, x)
    assert not check_gradient_x_input(lambda m, x, t: x * gradient(m, x, t), trained_cnn, x)
    assert not check_gradient_x_input(lambda m, x, t: gradient(m, x, t, absolute=False), trained_cnn, x)
    assert not check_gradient_x_input(None, trained_cnn, x)
    out = capsys.readouterr().out
    assert "correct" in out and "ABSOLUTE gradient" in out and "the gradient alone" in out and "not attempted" in out


def test_trapezoid_weights_checker(capsys):
    from helpers.exercises import check_trapezoid_weights

    def right(n):
        w = torch.full((n,), 1 / (n - 1), dtype=torch.float64)
        w[[0, -1]] /= 2
        return w

    def captum_like(n):
        w = torch.full((n,), 1 / n, dtype=torch.float64)
        w[[0, -1]] /= 2
        return w

    assert check_trapezoid_weights(right)
    assert check_trapezoid_weights(lambda n: right(n).tolist())
    assert not check_trapezoid_weights(captum_like)
    assert not check_trapezoid_weights(lambda n: torch.ones(n))
    assert not check_trapezoid_weights(None)
    out = capsys.readouterr().out
    assert "correct" in out and "(n - 1)/n" in out and "not attempted" in out


def test_huge_finite_inputs_are_accepted_and_non_finite_ones_refused():
    model = nn.Linear(3, 2)
    x = torch.full((2, 3), 3e38)  # their sum overflows to inf, yet every value is finite
    assert gradient(model, x).shape == x.shape
    x[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"x must be finite; it holds 1 NaN or Inf value\(s\)"):
        gradient(model, x)
