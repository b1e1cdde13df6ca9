"""helpers.scores: how every helper calls a model (eval mode, device and dtype, checked class scores, targets, chunks, baselines)."""

import pytest
import torch
import torch.nn as nn

from helpers.models import MLP
from helpers.scores import (
    AUTO_CHUNK_VALUES,
    broadcast_baseline,
    check_baseline,
    chunk_rows,
    class_scores,
    evaluation_mode,
    forward_scores,
    model_device,
    model_dtype,
    resolve_targets,
    target_scores,
)


def test_evaluation_mode_restores_each_modules_own_mode():
    model = MLP(3, 2, hidden=(4,))
    model.train()
    model.net[0].eval()
    with evaluation_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and not model.net[0].training and model.net[1].training


def test_device_and_dtype_of_a_model():
    model = nn.Linear(2, 2).double()
    assert model_dtype(model, torch.float32) == torch.float64 and model_dtype(nn.ReLU(), torch.float16) == torch.float16
    assert model_device(nn.ReLU(), "cpu") == torch.device("cpu")


def test_class_scores_returns_the_models_output_with_its_graph():
    model = nn.Linear(4, 3)
    x = torch.rand(2, 4, requires_grad=True)
    out = class_scores(model, x)
    assert torch.equal(out, model(x)) and out.requires_grad


@pytest.mark.parametrize("call, message", [
    (lambda: model_device(nn.Linear(2, 2, device="meta")), "the model's parameters are on the meta device"),
    (lambda: class_scores(nn.Linear(4, 3), torch.zeros(2, 5)), r"could not run on x of shape \(2, 5\)"),
    (lambda: class_scores(lambda z: z.sum(dim=1), torch.zeros(2, 5)), r"\[B, classes\] = \[2, classes\]; got \(2,\) for x"),
    (lambda: class_scores(lambda z: None, torch.zeros(2, 5), name="inputs"), r"got NoneType for inputs of shape \(2, 5\)"),
    (lambda: target_scores(torch.zeros(2, 3), torch.tensor([0, 3])), r"target must be a class index in \[0, 3\); got 3"),
    (lambda: broadcast_baseline(torch.zeros(3), torch.zeros(2, 4)), r"baseline must be shaped like x \(2, 4\)"),
    (lambda: check_baseline(float("nan"), torch.zeros(2, 4)), "baseline must be finite"),
], ids=["meta", "shape", "not 2-D", "not a tensor", "target range", "baseline shape", "baseline NaN"])
def test_bad_models_and_inputs_are_value_errors_that_say_what_went_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_baseline_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match="baseline must be a float tensor"):
        check_baseline(torch.zeros(2, 4, dtype=torch.int64), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="baseline must be None, a number or a tensor"):
        check_baseline("black", torch.zeros(2, 4))


def test_targets_are_the_predicted_classes_unless_given_and_chunking_changes_nothing():
    torch.manual_seed(0)
    model, x = MLP(3, 4, hidden=(8,)), torch.randn(10, 3)
    predicted = model(x).argmax(1)
    assert torch.equal(resolve_targets(model, x, None, 3), predicted)
    assert torch.equal(resolve_targets(model, x, 2, 3), torch.full((10,), 2))
    scores, chosen = forward_scores(model, x, None, 4)
    assert torch.equal(chosen, predicted)
    assert torch.allclose(scores, model(x).max(1).values.detach(), atol=1e-6)
    assert torch.allclose(forward_scores(model, x, predicted, 10)[0], scores, atol=1e-6)


def test_one_chunking_policy():
    digits = torch.zeros(5, 1, 28, 28)
    assert chunk_rows(None, digits) == AUTO_CHUNK_VALUES // 784
    assert chunk_rows(7, digits) == 7
    assert chunk_rows(None, torch.zeros(1, 2**21)) == 1  # a row larger than a chunk still gets one row
    with pytest.raises(ValueError, match="batch_size must be a positive int or None"):
        chunk_rows(0, digits)


def test_broadcast_baseline_is_a_copy_on_the_inputs_device_and_dtype():
    like = torch.zeros(2, 3, dtype=torch.float64)
    base = torch.tensor([1.0, 2.0, 3.0])
    out = broadcast_baseline(base, like)
    assert out.shape == (2, 3) and out.dtype == torch.float64
    out[0, 0] = 9.0
    assert float(base[0]) == 1.0


def test_running_out_of_memory_is_not_reported_as_a_shape_error():
    def hungry(x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(torch.OutOfMemoryError, match="out of memory"):
        class_scores(hungry, torch.zeros(2, 5))


class _DoublesItsInput(nn.Module):
    """A model whose forward writes into its input (x.mul_(2)): it must never reach the caller's tensor."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 28 * 28, 10)

    def forward(self, x):
        x.mul_(2)
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_no_method_lets_a_model_that_writes_into_its_input_change_the_callers_x():
    from helpers.metrics import cascading_randomisation, noise_stability
    from helpers.saliency import completeness, gradient, integrated_gradients, smoothgrad

    torch.manual_seed(0)
    model, X = _DoublesItsInput(), torch.rand(3, 1, 28, 28)
    before = X.clone()
    smoothgrad(model, X, n_samples=2)
    integrated_gradients(model, X, steps=4)
    noise_stability(gradient, model, X, noise_std=0.01)
    cascading_randomisation(model, X, gradient, similarities=("spearman_abs",))
    completeness(model, X, torch.zeros_like(X))
    assert torch.equal(X, before)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_model_in_another_precision_meets_float32_inputs_when_the_target_is_predicted(dtype):
    from helpers.saliency import integrated_gradients, smoothgrad

    torch.manual_seed(0)
    model = MLP(4, 3, hidden=(8,)).to(dtype)
    x = torch.rand(5, 4)
    targets, chosen = forward_scores(model, x, None, 2)
    assert chosen.shape == (5,)
    assert smoothgrad(model, x, n_samples=2).dtype == torch.float32
    assert integrated_gradients(model, x, steps=4).shape == x.shape
