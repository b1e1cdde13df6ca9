"""The plain gradient (saliency map) and the one autograd entry point it runs through."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.models import MLP, LinearClassifier, SimpleCNN
from helpers.checks import all_finite
from helpers.saliency import finite_difference_gradient, gradient, minimal_example_saliency, target_gradients


@pytest.mark.parametrize("target", range(10))
@pytest.mark.parametrize("absolute", [False, True])
def test_linear_gradient_is_the_weight_row(target, absolute, mnist_test):
    torch.manual_seed(0)
    model = LinearClassifier((1, 28, 28), 10)
    x = mnist_test[0][:5]
    g = gradient(model, x, target, absolute=absolute)
    row = model.weight_map(target)
    expected = (row.abs() if absolute else row).expand_as(x)
    assert torch.allclose(g, expected, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(
    n_features=st.integers(1, 12),
    n_classes=st.integers(2, 6),
    batch=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_linear_gradient_property(n_features, n_classes, batch, seed, data):
    torch.manual_seed(seed)
    model = nn.Linear(n_features, n_classes)
    x = torch.randn(batch, n_features) * 10
    targets = torch.tensor(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=batch, max_size=batch)))
    g = gradient(model, x, targets, absolute=False)
    assert torch.allclose(g, model.weight.detach()[targets], atol=1e-6)


def test_autograd_agrees_with_central_differences_on_the_cnn(trained_cnn, mnist_test):
    x = mnist_test[0][:3]
    fd = finite_difference_gradient(trained_cnn, x, target=None)
    ag = gradient(trained_cnn, x, absolute=False).double()
    scale = float(ag.abs().max())
    assert float((fd - ag).abs().max()) < 1e-4 * scale


def test_finite_differences_of_a_smooth_mlp_to_second_order():
    torch.manual_seed(0)
    model = MLP(4, 3, hidden=(8,), activation="tanh")
    x = torch.randn(2, 4)
    fd = finite_difference_gradient(model, x, target=1, eps=1e-5)
    ag = gradient(model, x, 1, absolute=False).double()
    assert torch.allclose(fd, ag, atol=1e-6)


def test_a_batch_equals_single_calls(trained_cnn, mnist_test):
    x = mnist_test[0][:16]
    batched = gradient(trained_cnn, x)
    singles = torch.cat([gradient(trained_cnn, x[i:i + 1]) for i in range(16)])
    assert torch.allclose(batched, singles, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 16, 100])
def test_chunking_does_not_change_the_result(trained_cnn, mnist_test, batch_size):
    x = mnist_test[0][:16]
    assert torch.allclose(gradient(trained_cnn, x, batch_size=batch_size), gradient(trained_cnn, x), atol=1e-6)


def test_target_none_is_the_predicted_class(trained_cnn, mnist_test):
    x = mnist_test[0][:20]
    predicted = trained_cnn(x).argmax(1)
    result = target_gradients(trained_cnn, x)
    assert torch.equal(result.targets, predicted)
    assert torch.allclose(gradient(trained_cnn, x), gradient(trained_cnn, x, predicted))


@pytest.mark.parametrize("form", ["int", "0d", "list", "tensor"])
def test_target_forms_agree(trained_cnn, mnist_test, form):
    x = mnist_test[0][:4]
    target = {"int": 3, "0d": torch.tensor(3), "list": [3, 3, 3, 3], "tensor": torch.full((4,), 3)}[form]
    assert torch.allclose(gradient(trained_cnn, x, target), gradient(trained_cnn, x, torch.full((4,), 3)))


def test_scores_are_the_target_logits(trained_cnn, mnist_test):
    x = mnist_test[0][:4]
    result = target_gradients(trained_cnn, x, [0, 1, 2, 3])
    assert torch.allclose(result.scores, trained_cnn(x).detach()[torch.arange(4), torch.tensor([0, 1, 2, 3])])


def test_result_keeps_the_callers_dtype():
    model = MLP(3, 2)
    x = torch.randn(2, 3, dtype=torch.float64)
    assert gradient(model, x).dtype == torch.float64


@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_no_side_effects(mode):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    model.train(mode != "eval")
    if mode == "mixed":
        model[2].eval()
    modes = [m.training for m in model.modules()]
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)  # a gradient the caller left there
    x = torch.rand(3, 1, 28, 28).requires_grad_(True)
    x.grad = torch.full_like(x, 5.0)
    before = x.detach().clone()

    a = gradient(model, x)
    b = gradient(model, x)

    assert torch.equal(a, b), "dropout must be off: eval mode during the call"
    assert [m.training for m in model.modules()] == modes
    assert x.requires_grad and torch.equal(x.detach(), before)
    assert torch.equal(x.grad, torch.full_like(x, 5.0))
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert all(p.grad is None for p in model[1:].parameters())


def test_input_without_requires_grad_stays_so(trained_cnn, mnist_test):
    x = mnist_test[0][:2].clone()
    gradient(trained_cnn, x)
    assert not x.requires_grad and x.grad is None


def test_inplace_first_layer_does_not_touch_the_callers_tensor():
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(3, 2))
    x = torch.tensor([[-1.0, 2.0, -3.0]])
    gradient(model, x)
    assert torch.equal(x, torch.tensor([[-1.0, 2.0, -3.0]]))


def test_works_under_no_grad(trained_cnn, mnist_test):
    x = mnist_test[0][:2]
    with torch.no_grad():
        inside = gradient(trained_cnn, x)
    assert torch.allclose(inside, gradient(trained_cnn, x))


def test_the_minimal_examples_code_leaves_gradients_behind(mnist_test):
    torch.manual_seed(0)
    model = SimpleCNN()
    x = mnist_test[0][:1].clone()
    first = minimal_example_saliency(model, x).clone()
    second = minimal_example_saliency(model, x)
    assert x.requires_grad and model.conv1.weight.grad is not None
    assert torch.allclose(second, 2 * first), "x.grad accumulates over calls"
    assert torch.allclose(first, gradient(model, mnist_test[0][:1])[0, 0], atol=1e-6)


class _Detaching(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear((x > 0.5).float())


class _Constant(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 3)


class _Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x).reshape(-1)


@pytest.mark.parametrize(
    "model, x, target, error, message",
    [
        (lambda x: x, torch.zeros(1, 4), None, TypeError, r"model must be a torch.nn.Module \(.*\); got function"),
        (nn.Linear(4, 3), [[0.0] * 4], None, TypeError, "x must be a torch.Tensor; got list"),
        (nn.Linear(4, 3), torch.zeros(1, 4, dtype=torch.int64), None, TypeError, "x must be a floating-point tensor"),
        (nn.Linear(4, 3), torch.zeros(4), None, ValueError, r"x must be batched, \[B, \.\.\.\] .* got shape \(4,\); add a batch"),
        (SimpleCNN(), torch.zeros(28, 28), None, ValueError, r"could not run on x of shape \(28, 28\) .*batch dimension first"),
        (nn.Linear(4, 3), torch.zeros(0, 4), None, ValueError, r"at least one example; got shape \(0, 4\)"),
        (SimpleCNN(), torch.zeros(1, 28, 28), None, ValueError, r"could not run on x of shape \(1, 28, 28\)"),
        (SimpleCNN(), torch.zeros(2, 1, 32, 32), None, ValueError, r"could not run on x of shape \(2, 1, 32, 32\)"),
        (nn.Linear(4, 3), torch.tensor([[0.0, float("nan"), 0.0, float("inf")]]), None, ValueError, r"x must be finite; it holds 2 NaN or Inf"),
        (nn.Linear(4, 3), torch.zeros(2, 4), 3, ValueError, r"target must be a class index in \[0, 3\); got 3"),
        (nn.Linear(4, 3), torch.zeros(2, 4), -1, ValueError, r"target must be a class index in \[0, 3\); got -1"),
        (nn.Linear(4, 3), torch.zeros(2, 4), torch.tensor([0, 1, 2]), ValueError, r"length B=2 .* got shape \(3,\)"),
        (nn.Linear(4, 3), torch.zeros(2, 4), torch.zeros(2, 2, dtype=torch.int64), ValueError, r"length B=2 .* got shape \(2, 2\)"),
        (nn.Linear(4, 3), torch.zeros(2, 4), 1.0, TypeError, "target must be None, an int or an int tensor"),
        (nn.Linear(4, 3), torch.zeros(2, 4), torch.tensor([0.0, 1.0]), TypeError, "integer class indices; got dtype torch.float32"),
        (nn.Linear(4, 3), torch.zeros(2, 4), True, TypeError, "got a bool"),
        (nn.Linear(4, 3), torch.zeros(2, 4), [0, "1"], TypeError, "sequence of ints"),
        (_Flat(), torch.zeros(2, 4), None, ValueError, r"class scores of shape \[B, classes\] = \[2, classes\]; got \(6,\)"),
        (_Detaching(), torch.zeros(2, 4), None, ValueError, "does not depend differentiably on x.*LIME.*SHAP"),
        (_Constant(), torch.zeros(2, 4), None, ValueError, "does not depend differentiably on x"),
    ],
)
def test_errors_name_the_value_and_what_was_expected(model, x, target, error, message):
    with pytest.raises(error, match=message):
        gradient(model, x, target)


def test_batch_size_error():
    with pytest.raises(ValueError, match="batch_size must be a positive int or None; got 0"):
        gradient(nn.Linear(4, 3), torch.zeros(2, 4), batch_size=0)


def test_layer_must_belong_to_the_model():
    with pytest.raises(ValueError, match="layer must be a submodule of the model"):
        target_gradients(nn.Linear(4, 3), torch.zeros(2, 4), layer=nn.Linear(4, 3))


def test_finite_difference_errors():
    for eps in (0, -1e-3, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="eps must be a finite number > 0; got"):
            finite_difference_gradient(nn.Linear(4, 3), torch.zeros(1, 4), eps=eps)
    for eps in ("1e-4", None, True):
        with pytest.raises(TypeError, match="eps must be a number; got"):
            finite_difference_gradient(nn.Linear(4, 3), torch.zeros(1, 4), eps=eps)
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 3\)"):
        finite_difference_gradient(nn.Linear(4, 3), torch.zeros(1, 4), target=5)


def test_all_finite_sees_nan_and_inf_and_survives_an_overflowing_sum():
    assert all_finite(torch.ones(3, 4)) and all_finite(torch.empty(0))
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.ones(3, 4)
        x[1, 2] = bad
        assert not all_finite(x)
    huge = torch.full((4,), 3e38)  # finite values whose float32 sum overflows
    assert all_finite(huge) and not all_finite(torch.tensor([3e38, float("nan")]))
    leaf = torch.ones(3, requires_grad=True)
    assert all_finite(leaf) and leaf.grad is None


def test_finite_difference_memory_follows_batch_size():
    # The model sees at most batch_size perturbed rows at a time (never D x D of them), and the
    # result does not depend on the chunking.
    seen = []

    class Recording(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4096, 3)

        def forward(self, z):
            seen.append(z.shape[0])
            return torch.tanh(self.linear(z))

    torch.manual_seed(0)
    model, x = Recording(), torch.rand(1, 4096)
    small = finite_difference_gradient(model, x, target=1, batch_size=100)
    assert max(seen) == 100 and sum(seen) == 2 * 4096
    seen.clear()
    default = finite_difference_gradient(model, x, target=1)
    assert max(seen) <= 2**20 // 4096
    assert torch.allclose(small, default, rtol=0, atol=1e-12)
    exact = gradient(model.double(), x.double(), 1, absolute=False)
    assert torch.allclose(small, exact, atol=1e-7)
