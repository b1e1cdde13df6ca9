"""helpers.methods: one registry of the course's methods, explain-by-name, and the two calling-convention adapters."""

from __future__ import annotations

import pytest
import torch

from helpers.features import CoalitionGame, grid_segments, segment_sums
from helpers.methods import KINDS, METHODS, Method, coalition_explainer, explain, method, segment_explainer

PATCHES = grid_segments((28, 28), 7)


def test_coalition_and_segment_explainers_follow_one_calling_convention(trained_cnn, mnist_test):
    from helpers.lime import lime
    from helpers.saliency import gradient

    X, targets = mnist_test[0][:3], torch.tensor([1, 2, 3])
    explain = coalition_explainer(lime, PATCHES, n_samples=100, seed=0)
    rows = explain(trained_cnn, X, targets)
    for i in range(3):
        game = CoalitionGame(trained_cnn, X[i], PATCHES, baseline=0.0, target=int(targets[i]))
        assert torch.allclose(rows[i], lime(game, n_samples=100, seed=0).double())
    sums = segment_explainer(gradient, PATCHES)(trained_cnn, X, targets)
    assert torch.allclose(sums, segment_sums(gradient(trained_cnn, X, targets), PATCHES).double())
    with pytest.raises(ValueError, match="targets must hold one class per row"):
        explain(trained_cnn, X, torch.tensor([1, 2]))


def test_lime_goes_through_noise_stability_and_randomisation(trained_cnn, mnist_test):
    from helpers.lime import lime
    from helpers.metrics import cascading_randomisation, noise_stability

    explain = coalition_explainer(lime, PATCHES, n_samples=60, seed=0)
    X = mnist_test[0][:2]
    assert torch.allclose(noise_stability(explain, trained_cnn, X, noise_std=0.0), torch.ones(2, dtype=torch.float64))
    result = cascading_randomisation(trained_cnn, X, explain, similarities=("spearman_abs",))
    assert result.maps[0].shape == (2, 16) and len(result.stages) == 3


def test_every_method_has_one_spelling_one_label_and_a_kind():
    assert list(METHODS) == [m.name for m in METHODS.values()]
    labels = [m.label for m in METHODS.values()]
    assert len(set(labels)) == len(labels)
    assert {m.kind for m in METHODS.values()} == set(KINDS)
    assert [m.name for m in METHODS.values() if not m.signed] == ["gradient", "smoothgrad", "grad_cam"]
    assert [m.name for m in METHODS.values() if m.seeded] == ["smoothgrad", "lime", "kernel_shap", "permutation_shap"]
    assert isinstance(method("lime"), Method) and method("lime").label == "LIME"


def test_explain_by_name_is_the_method_itself(trained_cnn, mnist_test):
    from helpers.lime import lime
    from helpers.saliency import gradient_x_input, smoothgrad

    X = mnist_test[0][:2]
    targets = trained_cnn(X).argmax(1)
    assert torch.equal(explain("gradient_x_input", trained_cnn, X), gradient_x_input(trained_cnn, X))
    assert torch.equal(explain("smoothgrad", trained_cnn, X, n_samples=4), smoothgrad(trained_cnn, X, n_samples=4))
    values = explain("lime", trained_cnn, X, segments=PATCHES, n_samples=100, seed=1)
    for i in range(2):
        game = CoalitionGame(trained_cnn, X[i], PATCHES, baseline=0.0, target=int(targets[i]))
        assert torch.allclose(values[i], lime(game, n_samples=100, seed=1).double())
    with pytest.raises(ValueError, match="lime takes the parameters n_samples, kernel_width, seed; got budget"):
        explain("lime", trained_cnn, X, segments=PATCHES, budget=10)
    with pytest.raises(ValueError, match="lime is a coalition method: it needs segments="):
        explain("lime", trained_cnn, X)
    with pytest.raises(ValueError, match="grad_cam needs layer="):
        explain("grad_cam", trained_cnn, X)
    assert explain("grad_cam", trained_cnn, X, layer=trained_cnn.conv1).shape == X.shape


@pytest.mark.parametrize("call, error, message", [
    (lambda: coalition_explainer("lime", PATCHES), TypeError, "method must be a coalition method"),
    (lambda: coalition_explainer(len, PATCHES.float()), TypeError, "segments must hold integer labels"),
    (lambda: segment_explainer(None, PATCHES), TypeError, "method must be a gradient method"),
    (lambda: method("Gradient×Input"), ValueError, "name must be one of gradient, gradient_x_input"),
    (lambda: method(3), TypeError, "name must be a method name"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_coalition_explainer_takes_class_indices_or_none(trained_cnn, mnist_test):
    from helpers.lime import lime

    explain = coalition_explainer(lime, PATCHES, n_samples=60, seed=0)
    X = mnist_test[0][:2]
    with pytest.raises(TypeError, match="target must hold integer class indices; got dtype torch.float32"):
        explain(trained_cnn, X, torch.tensor([1.5, 2.0]))
    predicted = trained_cnn(X).argmax(1)
    assert torch.equal(explain(trained_cnn, X, None), explain(trained_cnn, X, predicted))
