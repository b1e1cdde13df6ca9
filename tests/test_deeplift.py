"""DeepLIFT (rescale rule) and DeepSHAP: summation to delta, the links, parity with Captum and shap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.models import MLP, SimpleCNN
from helpers.saliency import NoGradientError, deep_shap, deeplift, deeplift_graph, gradient_x_input


def _score_change(model, x, reference, target):
    with torch.no_grad():
        return model(x)[:, target] - model(reference)[:, target]


class PooledCNN(nn.Module):
    """Two convolutions with max-pooling and ReLU written as functions (the network of shap issue 3938)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 4, 5), nn.Conv2d(4, 6, 5)
        self.fc1, self.fc2 = nn.Linear(6 * 4 * 4, 12), nn.Linear(12, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.view(-1, 6 * 4 * 4))))


class PooledModules(nn.Module):
    """:class:`PooledCNN` with every ReLU and pooling a module of its own (what hook-based libraries need)."""

    def __init__(self, source: PooledCNN):
        super().__init__()
        self.conv1, self.conv2, self.fc1, self.fc2 = source.conv1, source.conv2, source.fc1, source.fc2
        self.pool1, self.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x):
        x = self.relu1(self.pool1(self.conv1(x)))
        x = self.relu2(self.pool2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(x.flatten(1))))


def _simple_cnn_modules(model: SimpleCNN) -> nn.Sequential:
    return nn.Sequential(model.conv1, nn.ReLU(), nn.Flatten(), model.fc1).eval()


@pytest.fixture
def pooled():
    torch.manual_seed(0)
    return PooledCNN().double().eval()


# --------------------------------------------------------------------------- summation to delta


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", "gelu"])
def test_summation_to_delta_on_an_mlp(activation):
    torch.manual_seed(1)
    model = MLP(6, 3, hidden=(16, 8), activation=activation).double().eval()
    x, reference = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    contributions = deeplift(model, x, 2, baseline=reference)
    assert torch.allclose(contributions.sum(1), _score_change(model, x, reference, 2), atol=1e-12)


def test_summation_to_delta_through_max_pooling(pooled):
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    reference = torch.rand(4, 1, 28, 28, dtype=torch.float64) * 0.3
    contributions = deeplift(pooled, x, 7, baseline=reference)
    assert torch.allclose(contributions.sum((1, 2, 3)), _score_change(pooled, x, reference, 7), atol=1e-12)


def test_summation_to_delta_on_the_course_cnn(trained_cnn, mnist_test):
    x = mnist_test[0][:8]
    contributions = deeplift(trained_cnn, x, baseline=0.0)
    target = trained_cnn(x).argmax(1)
    change = trained_cnn(x).detach().gather(1, target[:, None]) - trained_cnn(torch.zeros_like(x)).detach()[:, target].diag()[:, None]
    assert torch.allclose(contributions.sum((1, 2, 3)), change.ravel(), atol=1e-4)


def test_deep_shap_sums_to_the_change_from_the_background_mean(pooled):
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    background = torch.rand(6, 1, 28, 28, dtype=torch.float64) * 0.5
    values = deep_shap(pooled, x, 4, background=background)
    with torch.no_grad():
        expected = pooled(x)[:, 4] - pooled(background)[:, 4].mean()
    assert torch.allclose(values.sum((1, 2, 3)), expected, atol=1e-12)


# --------------------------------------------------------------------------- what it equals


def test_a_linear_model_gets_weight_times_change():
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    x, reference = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    expected = model.weight.detach()[1] * (x - reference)
    assert torch.allclose(deeplift(model, x, 1, baseline=reference), expected, atol=1e-14)


def test_deep_shap_of_one_background_row_is_deeplift_against_it(pooled):
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    row = torch.rand(1, 1, 28, 28, dtype=torch.float64)
    assert torch.allclose(deep_shap(pooled, x, 3, background=row), deeplift(pooled, x, 3, baseline=row), atol=1e-14)


def test_deep_shap_is_the_mean_of_deeplift_over_the_background(pooled):
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    background = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    mean = torch.stack([deeplift(pooled, x, 3, baseline=b[None]) for b in background]).mean(0)
    assert torch.allclose(deep_shap(pooled, x, 3, background=background), mean, atol=1e-13)


def test_bias_free_relu_network_with_zero_baseline_is_gradient_times_input():
    """Ancona et al. 2018: with no biases and a zero baseline, every reference activation is 0 and m = f'(z)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10, bias=False))
    model = model.double().eval()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    assert torch.allclose(deeplift(model, x, 2, baseline=0.0), gradient_x_input(model, x, 2), atol=1e-13)


def test_with_biases_it_is_not_gradient_times_input(trained_cnn, mnist_test):
    x = mnist_test[0][:4]
    gap = (deeplift(trained_cnn, x, baseline=0.0) - gradient_x_input(trained_cnn, x)).abs().max()
    assert gap > 1e-3


def test_a_reused_relu_module_gets_the_rule_at_each_use():
    """Captum issues 1082 and 1104: one ReLU module called twice; a function F.relu; both as separate modules."""
    torch.manual_seed(0)
    first, second, last = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second, self.last, self.relu = first, second, last, nn.ReLU()

        def forward(self, x):
            return self.last(self.relu(self.second(self.relu(self.first(x)))))

    class Functional(Reused):
        def forward(self, x):
            return self.last(F.relu(self.second(torch.relu(self.first(x)))))

    separate = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), last)
    x, reference = torch.randn(6, 4), torch.randn(6, 4)
    expected = deeplift(separate, x, 1, baseline=reference)
    for model in (Reused(), Functional()):
        assert torch.allclose(deeplift(model, x, 1, baseline=reference), expected, atol=1e-6)
    assert torch.allclose(expected.sum(1), _score_change(separate, x, reference, 1), atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_chunks_do_not_change_the_result(pooled, batch_size):
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    background = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    assert torch.allclose(deep_shap(pooled, x, 1, background=background, batch_size=batch_size),
                          deep_shap(pooled, x, 1, background=background), atol=1e-13)
    assert torch.allclose(deeplift(pooled, x, 1, batch_size=batch_size), deeplift(pooled, x, 1), atol=1e-13)


# --------------------------------------------------------------------------- parity with the libraries


def test_deeplift_agrees_with_captum(trained_cnn, mnist_test):
    from captum.attr import DeepLift

    x, baseline = mnist_test[0][:8], mnist_test[0][100:108] * 0.5
    target = trained_cnn(x).argmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DeepLift(_simple_cnn_modules(trained_cnn)).attribute(x, baselines=baseline, target=target)
    ours = deeplift(trained_cnn, x, target, baseline=baseline)
    assert float((ours - theirs).abs().max()) < 1e-5 * float(ours.abs().max())


def test_deep_shap_agrees_with_captums_deep_lift_shap(trained_cnn, mnist_test):
    from captum.attr import DeepLiftShap

    x, background = mnist_test[0][:4], mnist_test[0][200:220]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DeepLiftShap(_simple_cnn_modules(trained_cnn)).attribute(x, baselines=background, target=3)
    ours = deep_shap(trained_cnn, x, 3, background=background)
    assert float((ours - theirs).abs().max()) < 1e-5 * float(ours.abs().max())


def test_deep_shap_agrees_with_shaps_deep_explainer_through_max_pooling(pooled):
    import shap

    modules = PooledModules(pooled).eval()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    background = torch.rand(5, 1, 28, 28, dtype=torch.float64) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.asarray(shap.DeepExplainer(modules, background).shap_values(x))[..., 6]
    ours = deep_shap(pooled, x, 6, background=background).numpy()
    assert np.abs(ours - theirs).max() < 1e-10


def test_shap_misses_functional_relus_and_fails_its_additivity_check(pooled):
    """shap issue 3938: F.relu and F.max_pool2d are not modules, so shap's hooks never see them."""
    import shap

    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    background = torch.rand(5, 1, 28, 28, dtype=torch.float64) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AssertionError, match="do not sum up"):
            shap.DeepExplainer(pooled, background).shap_values(x)
    values = deep_shap(pooled, x, 6, background=background)
    with torch.no_grad():
        assert torch.allclose(values.sum((1, 2, 3)), pooled(x)[:, 6] - pooled(background)[:, 6].mean(), atol=1e-12)


# --------------------------------------------------------------------------- bad input, side effects


def test_a_forest_is_refused_for_want_of_gradients(forest, mnist_test):
    with pytest.raises(NoGradientError, match="does not depend differentiably"):
        deeplift(forest, mnist_test[0][:2])


def test_an_operation_without_a_rule_is_named():
    class Squared(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            h = self.linear(x)
            return h * h

    with pytest.raises(ValueError, match="mul of two tensors"):
        deeplift(Squared(), torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match=r"LayerNorm"):
        deeplift(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)), torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match="could not trace"):
        class Branching(nn.Module):
            def forward(self, x):
                return x if x.sum() > 0 else -x
        deeplift_graph(Branching())


def test_background_is_checked(trained_cnn, mnist_test):
    x = mnist_test[0][:2]
    with pytest.raises(ValueError, match=r"background rows must be shaped like x's rows \(1, 28, 28\)"):
        deep_shap(trained_cnn, x, background=torch.zeros(3, 28, 28))
    with pytest.raises(TypeError, match="background must be a float tensor"):
        deep_shap(trained_cnn, x, background=torch.zeros(3, 1, 28, 28, dtype=torch.int64))
    with pytest.raises(TypeError, match="background must be a float tensor"):
        deep_shap(trained_cnn, x, background=np.zeros((3, 1, 28, 28)))


def test_nothing_of_the_callers_changes(pooled):
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64).requires_grad_(True)
    before = x.detach().clone()
    pooled.train()
    state = {k: v.clone() for k, v in pooled.state_dict().items()}
    background = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    rng = torch.get_rng_state()
    deep_shap(pooled, x, 1, background=background)
    deeplift(pooled, x, 1)
    assert pooled.training and all(m.training for m in pooled.modules())
    assert all(torch.equal(v, pooled.state_dict()[k]) for k, v in state.items())
    assert all(p.grad is None for p in pooled.parameters())
    assert x.requires_grad and x.grad is None and torch.equal(x.detach(), before)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not any(m._forward_hooks or m._backward_hooks for m in pooled.modules())


def test_captum_misses_the_seeds_functional_relu(trained_cnn, mnist_test):
    """The seed's SimpleCNN calls F.relu: Captum's hooks never see it, so its DeepLift is not DeepLIFT there."""
    from captum.attr import DeepLift

    x = mnist_test[0][:4]
    target = trained_cnn(x).argmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DeepLift(trained_cnn).attribute(x, baselines=torch.zeros_like(x), target=target)
    change = _score_change(trained_cnn, x, torch.zeros_like(x), target).diag()
    assert float((theirs.sum((1, 2, 3)) - change).abs().max()) > 0.05 * float(change.abs().max())
    ours = deeplift(trained_cnn, x, target)
    assert torch.allclose(ours.sum((1, 2, 3)), change, atol=1e-4)
