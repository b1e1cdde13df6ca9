"""helpers.explorer without a browser: every control against a direct helper call, supersession, the
drawing's preprocessing, plain-words errors and no side effects (tests/test_browser.py drives the same
widgets in JupyterLab and Voilà)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers import explorer as ex
from helpers.features import CoalitionGame, grid_segments, occlusion, superpixels
from helpers.lime import lime
from helpers.saliency import gradient, gradient_x_input, grad_cam, integrated_gradients, smoothgrad
from helpers.shapley import exact_shapley, kernel_shap

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def digits(mnist_test):
    X, y = mnist_test
    return X[:60], y[:60]


@pytest.fixture
def explorer(trained_cnn, digits):
    widget = ex.DigitExplorer(trained_cnn, *digits, background=False)
    yield widget
    widget.close()


def _expected_picture(method: str, values: np.ndarray, signed: bool, scale: int = 6) -> bytes:
    """The map image, made here independently: 99th percentile of |map| for pixel maps, max for patches."""
    magnitude = np.abs(values)
    limit = np.percentile(magnitude, 99) if method in ex.GRADIENT_METHODS else magnitude.max()
    return ex.png_bytes(ex.colourize(values, signed=signed, limit=float(limit)), scale=scale)


# --------------------------------------------------------------------------- every control = a direct call


def _patch_map(weights, segments):
    return weights.double()[segments].numpy()


CASES = {
    "gradient": ({}, lambda m, x, X: gradient(m, x)[0, 0].double().numpy()),
    "gradient, target 3": ({"method": "gradient", "target": 3}, lambda m, x, X: gradient(m, x, 3)[0, 0].double().numpy()),
    "Gradient×Input": ({"method": "Gradient×Input"}, lambda m, x, X: gradient_x_input(m, x)[0, 0].double().numpy()),
    "SmoothGrad": ({"method": "SmoothGrad", "noise_level": 0.3, "samples": 20, "seed": 2},
                   lambda m, x, X: smoothgrad(m, x, noise_level=0.3, n_samples=20, seed=2)[0, 0].double().numpy()),
    "Integrated Gradients, 16 steps, mean digit": (
        {"method": "Integrated Gradients", "steps": 16, "baseline_pixels": "mean"},
        lambda m, x, X: integrated_gradients(m, x, baseline=X.mean(dim=0)[None], steps=16)[0, 0].double().numpy()),
    "Integrated Gradients, adaptive": (
        {"method": "Integrated Gradients", "target": 5},
        lambda m, x, X: integrated_gradients(m, x, 5, return_info=True)[0][0, 0].double().numpy()),
    "Grad-CAM": ({"method": "Grad-CAM"}, lambda m, x, X: grad_cam(m, x, layer=m.conv1)[0, 0].double().numpy()),
    "occlusion, 4x4 patches, segment means": (
        {"method": "occlusion", "patch_size": 4, "baseline": "segment_mean"},
        lambda m, x, X: _patch_map(occlusion(CoalitionGame(m, x[0], grid_segments((28, 28), 4), baseline="segment_mean")),
                                   grid_segments((28, 28), 4))),
    "LIME": ({"method": "LIME", "kernel_width": 0.5, "lime_samples": 300, "seed": 1, "baseline": "mean"},
             lambda m, x, X: _patch_map(lime(CoalitionGame(m, x[0], grid_segments((28, 28), 7), baseline=X.mean(dim=0)),
                                             n_samples=300, kernel_width=0.5, seed=1), grid_segments((28, 28), 7))),
    "KernelSHAP, target 1": (
        {"method": "KernelSHAP", "budget": 64, "seed": 3, "target": 1},
        lambda m, x, X: _patch_map(kernel_shap(CoalitionGame(m, x[0], grid_segments((28, 28), 7), baseline=0.0, target=1),
                                               budget=64, seed=3, design=False), grid_segments((28, 28), 7))),
    "exact SHAP": ({"method": "exact SHAP (4×4)"},
                   lambda m, x, X: _patch_map(exact_shapley(CoalitionGame(m, x[0], grid_segments((28, 28), 7), baseline=0.0)),
                                              grid_segments((28, 28), 7))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_control_shows_the_helpers_own_map(explorer, trained_cnn, digits, case):
    settings, direct = CASES[case]
    X, _ = digits
    explorer.index.value = 7
    for name, value in settings.items():
        control = explorer.parameters.get(name) or getattr(explorer, name)
        control.value = value
    result = explorer.wait()
    assert result.message == "", result.message
    assert result.method == settings.get("method", "gradient")
    expected = direct(trained_cnn, X[7:8], X)
    np.testing.assert_allclose(result.map, expected, rtol=1e-6, atol=1e-9)
    assert explorer.map_image.value == _expected_picture(result.method, expected, result.signed)
    assert result.target == settings.get("target", int(trained_cnn(X[7:8]).argmax()))
    # only the chosen method's parameters are shown
    shown = {child.description for child in explorer.parameter_box.children}
    wanted = {explorer.parameters[name].description for name in explorer._PARAMETERS.get(result.method, ())}
    assert shown == wanted


def test_status_line_reports_the_cost(explorer):
    explorer.method.value = "SmoothGrad"
    explorer.parameters["samples"].value = 10
    result = explorer.wait()
    assert result.counts["backward_rows"] == 10 and result.counts["backward_passes"] >= 1
    assert "forward rows" in explorer.status.value and "backward pass" in explorer.status.value
    assert " ms" in explorer.status.value
    explorer.method.value = "LIME"
    explorer.parameters["lime_samples"].value = 200
    assert explorer.wait().counts["forward_rows"] == 201  # the input itself, then 200 coalitions
    assert "cost: 201 forward rows" in explorer.describe() and " ms" not in explorer.describe()


def test_sliders_act_on_release(explorer):
    sliders = [c for c in explorer.parameters.values() if hasattr(c, "continuous_update")]
    assert sliders and all(c.continuous_update is False for c in sliders)


def test_next_misclassified_jumps_to_a_wrong_prediction(explorer, digits):
    X, y = digits
    wrong = torch.nonzero(explorer.predictions != y).flatten().tolist()
    assert wrong, "the 3-epoch model gets some of the first 60 digits wrong"
    explorer.index.value = 0
    chosen = explorer.next_misclassified()
    assert chosen == next(i for i in wrong if i > 0)
    assert explorer.index.value == chosen and explorer.result.predicted != int(y[chosen])
    assert f"test digit {chosen}" in explorer.input_title.value


def test_pinned_maps_share_one_colour_scale(explorer):
    explorer.method.value = "LIME"
    first = explorer.wait()
    explorer.pin_button.click()
    explorer.target.value = (first.target + 1) % 10
    second = explorer.wait()
    limit = max(first.limit, second.limit)
    assert explorer.scale(second) == (True, limit)
    assert explorer.map_image.value == ex.png_bytes(ex.colourize(second.map, signed=True, limit=limit), scale=6)
    assert explorer.pinned_image.value == ex.png_bytes(ex.colourize(first.map, signed=True, limit=limit), scale=6)
    assert "shared scale" in explorer.map_title.value
    explorer.unpin_button.click()
    assert explorer.scale(explorer.wait()) == (True, second.limit)


# --------------------------------------------------------------------------- supersession


class GatedCNN(nn.Module):
    """Wraps a model; records the first pixel sum of every forward batch and can hold a call at a gate."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seen: list[float] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.conv1 = inner.conv1

    def forward(self, x):
        self.seen.append(round(float(x[0].detach().sum()), 3))
        self.entered.set()
        assert self.gate.wait(60)
        return self.inner(x)


def test_a_superseded_computation_never_overwrites_a_newer_one(trained_cnn, digits):
    X, y = digits
    model = GatedCNN(trained_cnn)
    widget = ex.DigitExplorer(model, X, y)  # computes on its worker thread
    try:
        widget.wait()
        widget.method.value = "occlusion"  # M + 2 rows in two forward calls: the first one gets held
        widget.wait()
        model.seen.clear()
        model.gate.clear()
        model.entered.clear()
        shown_before = len(widget.history)
        widget.index.value = 1  # request A: held inside the model
        assert model.entered.wait(30)
        for i in (2, 3, 4):  # B, C, D arrive while A computes: only D may run
            widget.index.value = i
        model.gate.set()
        result = widget.wait()
        generations = [g for g, _ in widget.history]
        assert generations == sorted(generations), "results were shown out of order"
        assert widget.history[-1][1] is result
        expected = occlusion(CoalitionGame(trained_cnn, X[4], grid_segments((28, 28), 7), baseline=0.0))
        torch.testing.assert_close(result.weights, expected)
        assert "test digit 4" in widget.input_title.value
        sums = {round(float(X[i].sum()), 3): i for i in range(5)}
        computed = [sums.get(s) for s in model.seen]
        assert 2 not in computed and 3 not in computed, f"stale requests were computed: {computed}"
        assert computed.count(1) == 1, "A was stopped at its next forward call"
        assert [r for _, r in widget.history[shown_before:]] == [result], "A, B and C never reached the display"
        assert not model._forward_pre_hooks, "the superseding hook is removed after every computation"
    finally:
        model.gate.set()
        widget.close()


def test_a_change_while_computing_starts_the_new_request_at_once(trained_cnn, digits):
    X, y = digits
    model = GatedCNN(trained_cnn)
    widget = ex.DigitExplorer(model, X, y)
    try:
        widget.wait()
        model.gate.clear()
        model.entered.clear()
        widget.method.value = "exact SHAP (4×4)"  # 65,536 coalitions in many forward calls
        assert model.entered.wait(30)
        widget.method.value = "gradient"
        model.gate.set()
        result = widget.wait(timeout=60)
        assert result.method == "gradient"
        assert all(r.method != "exact SHAP (4×4)" for _, r in widget.history)
        assert len(model.seen) < 10, "the exact SHAP computation went on after it was superseded"
    finally:
        model.gate.set()
        widget.close()


# --------------------------------------------------------------------------- drawing


STROKES = {
    "one": [[(140, 40), (140, 240)]],
    "seven": [[(80, 50), (200, 50), (120, 250)]],
    "small circle off-centre": [[(30 + 20 * np.cos(t), 40 + 20 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    "wide dash": [[(20, 200), (260, 220)]],
}


def _centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    image = digit[0].double()
    total = image.sum()
    rows, cols = torch.arange(28, dtype=torch.float64), torch.arange(28, dtype=torch.float64)
    return float((image.sum(dim=1) * rows).sum() / total), float((image.sum(dim=0) * cols).sum() / total)


def _ink_box(digit: torch.Tensor, threshold: float = 0.0) -> tuple[int, int]:
    ink = digit[0] > threshold
    rows, cols = torch.nonzero(ink.any(dim=1)).flatten(), torch.nonzero(ink.any(dim=0)).flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("name", list(STROKES))
def test_drawing_becomes_an_mnist_like_digit(name):
    picture = ex.draw_strokes(STROKES[name])
    digit = ex.mnist_from_drawing(picture)
    assert digit.shape == (1, 28, 28) and digit.dtype == torch.float32
    assert float(digit.min()) >= 0.0 and float(digit.max()) == 1.0
    height, width = _ink_box(digit)
    assert max(height, width) == 20, "the longer side fills the 20 x 20 box"
    ink = picture > 0.02
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    drawn_ratio = (rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1)
    assert abs(height / width - drawn_ratio) <= 2 / 20 * max(1, drawn_ratio), "aspect ratio kept"
    centre_y, centre_x = _centre_of_mass(digit)
    assert abs(centre_y - 13.5) <= 0.5 + 1e-6 and abs(centre_x - 13.5) <= 0.5 + 1e-6


def test_drawing_does_not_depend_on_where_or_how_large_it_was_drawn():
    seven = [[(80, 50), (200, 50), (120, 250)]]
    moved = [[(x - 40, y + 10) for x, y in seven[0]]]  # whole canvas pixels, the stroke kept inside
    digit, shifted = ex.mnist_from_drawing(ex.draw_strokes(seven)), ex.mnist_from_drawing(ex.draw_strokes(moved))
    assert float((digit - shifted).abs().max()) < 1e-6
    half = [[(x / 2, y / 2) for x, y in seven[0]]]
    smaller = ex.mnist_from_drawing(ex.draw_strokes(half, width=10))
    assert float((digit - smaller).abs().mean()) < 0.02


def test_drawing_preprocessing_errors():
    with pytest.raises(ValueError, match="blank"):
        ex.mnist_from_drawing(np.zeros((280, 280)))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        ex.mnist_from_drawing(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="finite"):
        ex.mnist_from_drawing(np.full((28, 28), np.nan))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        ex.DrawCanvas().set_image(np.zeros((2, 2, 2)))


def test_canvas_round_trip():
    canvas = ex.DrawCanvas()
    picture = ex.draw_strokes(STROKES["seven"])
    canvas.set_image(picture)
    assert canvas.png.startswith("data:image/png;base64,")
    np.testing.assert_allclose(canvas.image(), picture, atol=1 / 255 + 1e-6)
    canvas.clear()
    assert canvas.image().max() == 0


def test_drawn_digit_is_explained(explorer):
    explorer.draw(STROKES["seven"])
    result = explorer.wait()
    assert result.message == "" and explorer.source.value == "draw"
    digit = ex.mnist_from_drawing(explorer.canvas.image())[None]
    np.testing.assert_allclose(result.map, gradient(explorer.model, digit)[0, 0].double().numpy(), rtol=1e-6)
    assert "your drawing" in explorer.input_title.value


def test_blank_drawing_gives_the_message_in_plain_words(explorer):
    explorer.source.value = "draw"
    result = explorer.wait()
    assert result.map is None and result.message == ex.BLANK_CANVAS_MESSAGE
    assert ex.BLANK_CANVAS_MESSAGE in explorer.status.value
    assert "Traceback" not in explorer.status.value and explorer.bars.value == ""


# --------------------------------------------------------------------------- errors in plain words


class Rounded(nn.Module):
    """A digit classifier with no gradient: it rounds its input."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(torch.round(x))


class Detached(Rounded):
    """A digit classifier with no gradient: it detaches its input."""

    def forward(self, x):
        return self.inner(x.detach())


@pytest.mark.parametrize("wrapper", [Rounded, Detached])
def test_gradient_method_on_a_model_without_gradients(trained_cnn, digits, wrapper):
    widget = ex.DigitExplorer(wrapper(trained_cnn), *digits, background=False)
    try:
        result = widget.wait()
        assert result.map is None
        assert result.message == ex.NO_GRADIENT_MESSAGE.format(method="gradient")
        assert "LIME" in widget.status.value and "Traceback" not in widget.status.value
        widget.method.value = "LIME"
        assert widget.wait().message == ""
    finally:
        widget.close()


def test_budget_too_small_says_so(explorer):
    explorer.method.value = "KernelSHAP"
    explorer.parameters["patch_size"].value = 2  # 196 patches
    explorer.parameters["budget"].value = 20
    result = explorer.wait()
    assert result.map is None and "budget" in result.message
    assert "Traceback" not in explorer.status.value


def test_constructor_errors(trained_cnn, digits):
    X, y = digits
    with pytest.raises(TypeError, match="model"):
        ex.DigitExplorer(lambda x: x, X, y)
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        ex.DigitExplorer(trained_cnn, X[:, 0], y)
    with pytest.raises(ValueError, match="one label per digit"):
        ex.DigitExplorer(trained_cnn, X, y[:-1])
    with pytest.raises(ValueError, match="index"):
        ex.DigitExplorer(trained_cnn, X, y, index=len(X))
    with pytest.raises(TypeError, match="preprocess"):
        ex.PhotoExplorer(trained_cnn, None, [])
    with pytest.raises(ValueError, match="photographs"):
        ex.PhotoExplorer(trained_cnn, lambda p: p, [], photographs=["moon"])


# --------------------------------------------------------------------------- no side effects


def test_model_and_data_left_unchanged(trained_cnn, mnist_test):
    X, y = mnist_test[0][:30].clone(), mnist_test[1][:30].clone()
    X_before, y_before = X.clone(), y.clone()
    state = {k: v.clone() for k, v in trained_cnn.state_dict().items()}
    trained_cnn.train()
    try:
        widget = ex.DigitExplorer(trained_cnn, X, y, background=False)
        for method in ex.DIGIT_METHODS[:-1]:
            widget.method.value = method
            assert widget.wait().message == ""
        widget.draw(STROKES["one"])
        widget.close()
        assert trained_cnn.training, "the model's mode is restored"
    finally:
        trained_cnn.eval()
    assert torch.equal(X, X_before) and torch.equal(y, y_before) and not X.requires_grad
    assert all(torch.equal(v, state[k]) for k, v in trained_cnn.state_dict().items())
    assert all(p.grad is None for p in trained_cnn.parameters())
    assert not trained_cnn._forward_pre_hooks and not trained_cnn._forward_hooks


# --------------------------------------------------------------------------- the photo explorer


@pytest.fixture(scope="module")
def imagenet():
    from helpers.models import load_imagenet_model

    return load_imagenet_model()


def test_photo_explorer(imagenet):
    from helpers.data import load_photograph

    model, preprocess, class_names = imagenet
    widget = ex.PhotoExplorer(model, preprocess, class_names, photographs=["coffee", "chelsea"], background=False)
    try:
        x = preprocess(load_photograph("coffee"))
        probabilities = model(x).softmax(dim=1)[0]
        top5 = probabilities.topk(5).indices.tolist()
        assert [value for _, value in widget.target.options] == top5
        assert class_names[top5[0]] in widget.target.options[0][0]
        # a gradient method toward the second class
        widget.target.value = top5[1]
        result = widget.wait()
        expected = gradient(model, x, top5[1])[0].abs().amax(dim=0).double().numpy()
        np.testing.assert_allclose(result.map, expected, rtol=1e-5, atol=1e-9)
        # LIME on superpixels, with the boundaries drawn over the overlay
        widget.parameters["n_segments"].value = 10  # hidden for the gradient: nothing recomputed
        widget.parameters["lime_samples"].value = 20
        assert widget.result is result
        widget.method.value = "LIME"
        result = widget.wait()
        segments = superpixels(x[0], n_segments=10)
        game = CoalitionGame(model, x[0], segments, baseline="segment_mean", target=top5[1], output="probability")
        torch.testing.assert_close(result.weights, lime(game, n_samples=20, kernel_width=0.25, seed=0))
        assert result.counts["forward_rows"] == 21
        from PIL import Image
        import io

        overlay = np.asarray(Image.open(io.BytesIO(widget.overlay_image.value)))
        assert (overlay == (255, 255, 0)).all(axis=-1).sum() > 100, "superpixel boundaries drawn in yellow"
        # another photograph: a new top 5
        widget.photo.value = "chelsea"
        result = widget.wait()
        cat = preprocess(load_photograph("chelsea"))
        assert widget.target.value == int(model(cat).argmax()) == result.target == result.predicted
    finally:
        widget.close()
