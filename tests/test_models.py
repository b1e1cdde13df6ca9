"""The minimal example's model, the other models, and deterministic training."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from helpers.data import load_mnist
from helpers.features import grid_segments
from helpers.models import (MLP, LinearClassifier, PatchForest, SimpleCNN, accuracy, fit_patch_forest, patch_means,
                            predict, train_classifier, train_regressor)
from helpers.seeding import make_generator, seed_everything


def test_simple_cnn_is_the_minimal_examples_model():
    model = SimpleCNN()
    layers = list(model.children())
    assert [type(layer) for layer in layers] == [nn.Conv2d, nn.Linear]
    conv, fc = layers
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (1, 16, (3, 3), (1, 1))
    assert (fc.in_features, fc.out_features) == (26 * 26 * 16, 10)
    assert sum(p.numel() for p in model.parameters()) == 16 * 9 + 16 + 10816 * 10 + 10


def _train_once(n=400, epochs=2):
    seed_everything(0)
    model = SimpleCNN()
    X, y = load_mnist("train")
    losses = train_classifier(model, X[:n], y[:n], epochs=epochs, seed=0, progress=False)
    return model, losses


def test_training_twice_gives_identical_weights():
    (a, losses_a), (b, losses_b) = _train_once(), _train_once()
    assert losses_a == losses_b
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_training_learns_and_leaves_eval_mode_without_gradients(trained_cnn, mnist_test):
    X, y = mnist_test
    assert accuracy(trained_cnn, X, y) > 0.9
    assert not trained_cnn.training
    assert all(p.grad is None for p in trained_cnn.parameters())


def test_different_seeds_give_different_orders():
    seed_everything(0)
    a = torch.randperm(10, generator=make_generator(1))
    b = torch.randperm(10, generator=make_generator(2))
    assert not torch.equal(a, b)


def test_regressor_fits_a_line():
    seed_everything(0)
    X = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * X[:, 0] - 1
    model = MLP(1, 1, hidden=(16,), activation="tanh")
    losses = train_regressor(model, X, y, epochs=200, seed=0, lr=1e-2, progress=False)
    assert losses[-1] < 0.01 < losses[0]


def test_linear_classifier_weight_map():
    model = LinearClassifier((1, 4, 4), 3)
    assert torch.equal(model.weight_map(2).reshape(-1), model.linear.weight[2])


def test_predict_restores_mode():
    model = MLP(3, 2)
    model.train()
    predict(model, torch.zeros(5, 3))
    assert model.training


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(model="cnn"), TypeError, "model must be a torch.nn.Module; got str"),
        (dict(y=torch.zeros(3, dtype=torch.int64)), ValueError, "same, non-zero number of rows; got 8 and 3"),
        (dict(epochs=0), ValueError, "epochs must be an int >= 1; got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an int; got 2.5 of type float"),
        (dict(lr=0.0), ValueError, "lr must be a finite number > 0; got 0.0"),
        (dict(lr="0.01"), TypeError, "lr must be a number; got '0.01' of type str"),
        (dict(epochs="3"), TypeError, "epochs must be an int; got '3' of type str"),
        (dict(y=torch.zeros(8)), TypeError, "y must hold int64 class labels; got dtype torch.float32"),
    ],
)
def test_training_errors(kwargs, error, message):
    args = dict(model=MLP(2, 2), X=torch.zeros(8, 2), y=torch.zeros(8, dtype=torch.int64), epochs=1, seed=0, batch_size=4, lr=1e-3)
    args.update(kwargs)
    model, X, y = args.pop("model"), args.pop("X"), args.pop("y")
    with pytest.raises(error, match=message):
        train_classifier(model, X, y, progress=False, **args)


def test_regressor_error():
    with pytest.raises(TypeError, match=r"y must be a float tensor \[N\]"):
        train_regressor(MLP(2, 1), torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), epochs=1, seed=0)


def test_accuracy_error():
    with pytest.raises(ValueError, match="same number of rows; got 4 and 3"):
        accuracy(MLP(2, 2), torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64))


def test_mlp_activation_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP(2, 2, activation="sigmoid")


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_errors(seed, error):
    with pytest.raises(error, match="seed must be"):
        seed_everything(seed)


def test_seed_everything_repeats():
    seed_everything(3)
    a = torch.rand(4)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4))


# --------------------------------------------------------------------------- a model with no gradient

PATCHES = grid_segments((28, 28), 7)


def test_gradient_refuses_the_tree_model_with_its_clear_error(forest, mnist_test):
    from helpers.saliency import gradient

    assert isinstance(forest, torch.nn.Module) and not list(forest.parameters())
    with pytest.raises(ValueError, match="does not depend differentiably on x"):
        gradient(forest, mnist_test[0][:2])


def test_the_forest_is_a_model_of_images(forest, mnist_test):
    X = mnist_test[0][:50]
    out = forest(X)
    assert out.shape == (50, 10) and torch.allclose(out.sum(1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(patch_means(X, PATCHES).sum(1) * 49, X.double().sum(dim=(1, 2, 3)), atol=1e-4)


@pytest.mark.parametrize("call, error, message", [
    (lambda: PatchForest(object(), PATCHES), TypeError, "fitted scikit-learn classifier"),
    (lambda: fit_patch_forest(torch.rand(4, 1, 28, 28), torch.arange(4), PATCHES, n_trees=0), ValueError,
     "n_trees must be an int >= 1"),
    (lambda: patch_means(torch.rand(28, 28), PATCHES), ValueError, r"x must be a float batch of images"),
])
def test_forest_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
