"""helpers.explorer without a browser: every control against a direct helper call, the menu through the
registry of methods, supersession, plain-words errors, a worker thread that changes nothing process-wide
and no side effects (tests/test_drawing.py tests the canvas and the drawing's preprocessing;
tests/test_browser.py drives the same widgets in JupyterLab and Voilà)."""

from __future__ import annotations

import base64
import copy
import gc
import io
import sys
import threading
import time
import warnings

from ipywidgets.widgets import widget as ipywidgets_registry

import numpy as np
import pytest
import torch
import torch.nn as nn
import traitlets

from helpers import explorer as ex
from helpers.cost import CostCounter
from helpers.data import load_photograph
from helpers.drawing import BLANK_CANVAS_MESSAGE, MAX_CANVAS_SIDE, DrawCanvas, mnist_from_drawing
from helpers.features import CoalitionGame, grid_segments, occlusion, superpixels
from helpers.lime import lime
from helpers.methods import METHODS, method
from helpers.plotting import colourize, png_bytes
from helpers.saliency import ZeroGradientWarning, gradient, gradient_x_input, grad_cam, integrated_gradients, smoothgrad
from helpers.shapley import exact_shapley, kernel_shap

SEVEN = [[(80, 50), (200, 50), (120, 250)]]
ONE = [[(140, 40), (140, 240)]]

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


def _expected_picture(name: str, values: np.ndarray, signed: bool, scale: int = 6) -> bytes:
    """The map image, made here independently: 99th percentile of |map| for pixel maps, max for patches."""
    magnitude = np.abs(values)
    limit = np.percentile(magnitude, 99) if method(name).kind == "gradient" else magnitude.max()
    return png_bytes(colourize(values, signed=signed, limit=float(limit)), scale=scale)


# --------------------------------------------------------------------------- every control = a direct call


def _patch_map(weights, segments):
    return weights.double()[segments].numpy()


CASES = {
    "gradient": ({}, lambda m, x, X: gradient(m, x)[0, 0].double().numpy()),
    "gradient, target 3": ({"method": "gradient", "target": 3}, lambda m, x, X: gradient(m, x, 3)[0, 0].double().numpy()),
    "Gradient×Input": ({"method": "gradient_x_input"}, lambda m, x, X: gradient_x_input(m, x)[0, 0].double().numpy()),
    "SmoothGrad": ({"method": "smoothgrad", "noise_level": 0.3, "samples": 20, "seed": 2},
                   lambda m, x, X: smoothgrad(m, x, noise_level=0.3, n_samples=20, seed=2)[0, 0].double().numpy()),
    "Integrated Gradients, 16 steps, mean digit": (
        {"method": "integrated_gradients", "steps": 16, "baseline_pixels": "mean"},
        lambda m, x, X: integrated_gradients(m, x, baseline=X.mean(dim=0)[None], steps=16)[0, 0].double().numpy()),
    "Integrated Gradients, adaptive": (
        {"method": "integrated_gradients", "target": 5},
        lambda m, x, X: integrated_gradients(m, x, 5, return_info=True)[0][0, 0].double().numpy()),
    "Grad-CAM": ({"method": "grad_cam"}, lambda m, x, X: grad_cam(m, x, layer=m.conv1)[0, 0].double().numpy()),
    "occlusion, 4x4 patches, segment means": (
        {"method": "occlusion", "patch_size": 4, "baseline": "segment_mean"},
        lambda m, x, X: _patch_map(occlusion(CoalitionGame(m, x[0], grid_segments((28, 28), 4), baseline="segment_mean")),
                                   grid_segments((28, 28), 4))),
    "LIME": ({"method": "lime", "kernel_width": 0.5, "lime_samples": 300, "seed": 1, "baseline": "mean"},
             lambda m, x, X: _patch_map(lime(CoalitionGame(m, x[0], grid_segments((28, 28), 7), baseline=X.mean(dim=0)),
                                             n_samples=300, kernel_width=0.5, seed=1), grid_segments((28, 28), 7))),
    "KernelSHAP, target 1": (
        {"method": "kernel_shap", "budget": 64, "seed": 3, "target": 1},
        lambda m, x, X: _patch_map(kernel_shap(CoalitionGame(m, x[0], grid_segments((28, 28), 7), baseline=0.0, target=1),
                                               budget=64, seed=3, design=False), grid_segments((28, 28), 7))),
    "exact SHAP": ({"method": "exact_shap"},
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
    chosen = method(result.method)
    assert result.label == explorer.method.label == ex.DigitExplorer._LABELS.get(chosen.name, chosen.label)
    assert result.signed == chosen.signed, "the colour map follows the registry's signed"
    expected = direct(trained_cnn, X[7:8], X)
    np.testing.assert_allclose(result.map, expected, rtol=1e-6, atol=1e-9)
    assert explorer.map_image.value == _expected_picture(result.method, expected, result.signed)
    assert result.target == settings.get("target", int(trained_cnn(X[7:8]).argmax()))
    # only the chosen method's parameters are shown
    shown = {child.description for child in explorer.parameter_box.children}
    wanted = {explorer.parameters[name].description for name in explorer._PARAMETERS.get(result.method, ())}
    assert shown == wanted


def test_status_line_reports_the_cost(explorer):
    result = explorer.wait()  # the gradient: asking first whether there is one is not part of its cost
    assert (result.counts["forward_rows"], result.counts["backward_passes"]) == (1, 1)
    explorer.method.value = "smoothgrad"
    explorer.parameters["samples"].value = 10
    result = explorer.wait()
    assert result.counts["backward_rows"] == 10 and result.counts["backward_passes"] >= 1
    assert "forward rows" in explorer.status.value and "backward pass" in explorer.status.value
    assert " ms" in explorer.status.value
    explorer.method.value = "lime"
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
    explorer.method.value = "lime"
    first = explorer.wait()
    explorer.pin_button.click()
    explorer.target.value = (first.target + 1) % 10
    second = explorer.wait()
    limit = max(first.limit, second.limit)
    assert explorer.scale(second) == (True, limit)
    assert explorer.map_image.value == png_bytes(colourize(second.map, signed=True, limit=limit), scale=6)
    assert explorer.pinned_image.value == png_bytes(colourize(first.map, signed=True, limit=limit), scale=6)
    assert "shared scale" in explorer.map_title.value
    explorer.unpin_button.click()
    assert explorer.scale(explorer.wait()) == (True, second.limit)


# --------------------------------------------------------------------------- supersession


class _Shared:
    """What a test model shares with the explorer's copy of it (copy.deepcopy keeps this one object)."""

    def __deepcopy__(self, memo):
        return self


class GatedCNN(nn.Module):
    """Wraps a model; records the first pixel sum of every forward batch and can hold a call at a gate.

    The record and the gate are shared with the explorer's copy of the model, which is the one it runs."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.probe = _Shared()
        self.probe.seen, self.probe.entered, self.probe.gate = [], threading.Event(), threading.Event()
        self.probe.gate.set()
        self.conv1 = inner.conv1

    seen = property(lambda self: self.probe.seen)
    entered = property(lambda self: self.probe.entered)
    gate = property(lambda self: self.probe.gate)

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
        assert not widget.model._forward_pre_hooks, "the superseding hook is removed after every computation"
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
        widget.method.value = "exact_shap"  # 65,536 coalitions in many forward calls
        assert model.entered.wait(30)
        widget.method.value = "gradient"
        model.gate.set()
        result = widget.wait(timeout=60)
        assert result.method == "gradient"
        assert all(r.method != "exact_shap" for _, r in widget.history)
        assert len(model.seen) < 10, "the exact SHAP computation went on after it was superseded"
    finally:
        model.gate.set()
        widget.close()


# --------------------------------------------------------------------------- a drawn digit


def test_drawn_digit_is_explained(explorer):
    explorer.draw(SEVEN)
    result = explorer.wait()
    assert result.message == "" and explorer.source.value == "draw"
    digit = mnist_from_drawing(explorer.canvas.image())[None]
    np.testing.assert_allclose(result.map, gradient(explorer.model, digit)[0, 0].double().numpy(), rtol=1e-6)
    assert "your drawing" in explorer.input_title.value


def test_blank_drawing_gives_the_message_in_plain_words(explorer):
    explorer.source.value = "draw"
    result = explorer.wait()
    assert result.map is None and result.message == BLANK_CANVAS_MESSAGE
    assert BLANK_CANVAS_MESSAGE in explorer.status.value
    assert "Traceback" not in explorer.status.value and explorer.bars.value == ""


# --------------------------------------------------------------------------- errors in plain words


class Rounded(nn.Module):
    """A piecewise-constant digit classifier: it rounds its input, so its gradient is exactly zero."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.threads: set[int] = set()
        self.filters: list[tuple] = []

    def forward(self, x):
        self.threads.add(threading.get_ident())
        self.filters.append(tuple(warnings.filters))  # the warning filters this call sees, on its thread
        return self.inner(self.rounded(x))

    def rounded(self, x):
        return torch.round(x)


class Detached(Rounded):
    """A digit classifier with no differentiable path: it detaches its input (NoGradientError)."""

    def rounded(self, x):
        return x.detach()


class Spy(Rounded):
    """The classifier itself, watched: it leaves its input as it is."""

    def rounded(self, x):
        return x


GRADIENT_METHODS = [name for name in ex.DIGIT_METHODS if method(name).kind == "gradient"]


@pytest.mark.parametrize("wrapper", [Rounded, Detached])
def test_gradient_methods_on_a_model_without_gradients(trained_cnn, digits, wrapper):
    """No differentiable path and a gradient that is exactly zero give the same plain words, for every
    method that differentiates at the input; Grad-CAM differentiates at its layer, after the rounding or
    the detaching, and explains; a coalition method needs only predictions and explains."""
    X, _ = digits
    model = wrapper(trained_cnn)
    widget = ex.DigitExplorer(model, *digits, background=False)
    try:
        for name in GRADIENT_METHODS:
            widget.method.value = name
            result = widget.wait()
            if name == "grad_cam":
                assert result.message == ""
                np.testing.assert_allclose(result.map, grad_cam(model, X[:1], layer=trained_cnn.conv1)[0, 0].double(),
                                           rtol=1e-6, atol=1e-9)
                continue
            assert result.map is None
            assert result.message == ex.NO_GRADIENT_MESSAGE.format(method=widget.method.label)
            assert "LIME" in widget.status.value and "Traceback" not in widget.status.value
        widget.method.value = "lime"
        assert widget.wait().message == ""
    finally:
        widget.close()


def test_a_map_that_is_rightly_zero_is_shown(explorer, trained_cnn, digits):
    """Grad-CAM rectifies: toward a class with only negative evidence its map is zero, and so it is shown
    (the gradient is not zero, so it is not the no-gradient message)."""
    X, _ = digits
    cams = grad_cam(trained_cnn, X.repeat_interleave(10, dim=0), torch.arange(10).repeat(len(X)), layer=trained_cnn.conv1)
    blank = torch.nonzero(cams.flatten(1).eq(0).all(dim=1)).flatten().tolist()
    assert blank, "some (digit, class) of the first 60 digits has a zero Grad-CAM map"
    explorer.method.value = "grad_cam"
    explorer.index.value, explorer.target.value = divmod(blank[0], 10)
    result = explorer.wait()
    assert result.message == "" and result.map is not None and not result.map.any()


@pytest.mark.parametrize("wrapper", [Spy, Rounded])
def test_the_worker_thread_changes_no_warning_filter(trained_cnn, digits, wrapper):
    """Warning filters are process-wide: the worker thread neither changes them (no catch_warnings there)
    nor lets a helper's warning through to the learner (a zero gradient is asked for first)."""
    before = tuple(warnings.filters)
    model = wrapper(trained_cnn)
    widget = ex.DigitExplorer(model, *digits)  # on its worker thread
    try:
        widget.wait()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shown = tuple(warnings.filters)
            watched = widget.model  # the explorer's own copy of the model is the one its worker runs
            watched.filters.clear()
            for name in GRADIENT_METHODS:
                widget.method.value = name
                assert (widget.wait().message == "") == (wrapper is Spy or name == "grad_cam")
        assert widget._worker_ident in watched.threads and widget._worker_ident != threading.get_ident()
        assert watched.filters and all(seen == shown for seen in watched.filters), "the worker changed the filters"
        assert not [w for w in caught if issubclass(w.category, ZeroGradientWarning)], [str(w.message) for w in caught]
        assert not caught, [str(w.message) for w in caught]
    finally:
        widget.close()
    assert tuple(warnings.filters) == before


def test_the_menu_shows_the_registrys_labels_and_holds_names(explorer):
    assert set(ex.DIGIT_METHODS) <= set(METHODS) and set(ex.PHOTO_METHODS) <= set(ex.DIGIT_METHODS)
    assert list(ex.DIGIT_METHODS) == [name for name in METHODS if name in ex.DIGIT_METHODS], "the registry's order"
    labels = [(ex.DigitExplorer._LABELS.get(name, method(name).label), name) for name in ex.DIGIT_METHODS]
    assert list(explorer.method.options) == labels
    assert ("exact SHAP (4×4)", "exact_shap") in labels and ("Gradient×Input", "gradient_x_input") in labels
    explorer.method.value = "Gradient×Input"  # a label, as notebook 07 sets it, selects the method
    assert explorer.method.value == "gradient_x_input" and explorer.method.label == "Gradient×Input"
    result = explorer.wait()
    assert (result.method, result.label) == ("gradient_x_input", "Gradient×Input")
    assert explorer.describe().startswith("method: Gradient×Input; ")
    assert explorer.status.value.startswith("Gradient×Input toward ") and "Gradient×Input" in explorer.map_title.value
    with pytest.raises(traitlets.TraitError, match="value not found"):
        explorer.method.value = "Gradient x Input"


def test_budget_too_small_says_so(explorer):
    explorer.method.value = "kernel_shap"
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
    with pytest.raises(ValueError, match="layer must be a module of the model"):
        ex.DigitExplorer(trained_cnn, X, y, layer=nn.Conv2d(1, 1, 3))
    uncopyable = copy.deepcopy(trained_cnn)
    uncopyable.lock = threading.Lock()
    with pytest.raises(TypeError, match="own copy of the model .* cannot be copied"):
        ex.DigitExplorer(uncopyable, X, y)


# --------------------------------------------------------------------------- no side effects


def test_model_and_data_left_unchanged(trained_cnn, mnist_test):
    X, y = mnist_test[0][:30].clone(), mnist_test[1][:30].clone()
    X_before, y_before = X.clone(), y.clone()
    state = {k: v.clone() for k, v in trained_cnn.state_dict().items()}
    trained_cnn.train()
    try:
        widget = ex.DigitExplorer(trained_cnn, X, y, background=False)
        for name in ex.DIGIT_METHODS[:-1]:
            widget.method.value = name
            assert widget.wait().message == ""
        widget.draw(ONE)
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
        assert (result.method, result.label) == ("lime", "LIME")
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


class _NormalisesInPlace(nn.Module):
    """A digit model whose forward normalises its input in place (x.sub_(mean).div_(std)): it must never reach X."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        x.sub_(0.1307).div_(0.3081)
        return self.model(x)


def test_the_explorer_never_lets_the_model_change_the_digits(trained_cnn, digits):
    X, y = digits[0].clone(), digits[1]
    before = X.clone()
    widget = ex.DigitExplorer(_NormalisesInPlace(trained_cnn), X, y, index=np.int64(3), background=False)
    try:
        assert widget.index.value == 3  # a NumPy integer is an index
        for method in ("gradient", "occlusion"):
            widget.method.value = method
            widget.wait(30)
        assert torch.equal(X, before)
    finally:
        widget.close()


# --------------------------------------------------------------------------- the explorer's own model


def test_the_explorer_explains_its_own_copy_of_the_model(trained_cnn, digits):
    """The worker never runs the caller's model: a hook or a CostCounter put on it in a later cell sees only
    the caller's calls, and its train mode and BatchNorm statistics stay the caller's while the worker computes."""
    X, y = digits
    model = nn.Sequential(nn.BatchNorm2d(1), copy.deepcopy(trained_cnn)).train()
    statistics = {k: v.clone() for k, v in model[0].state_dict().items()}
    widget = ex.DigitExplorer(model, X, y, layer=model[1].conv1)  # on its worker thread
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    try:
        assert widget.model is not model and widget.layer is widget.model[1].conv1
        for name in ("gradient", "grad_cam", "occlusion"):
            widget.method.value = name
            assert widget.wait(60).message == ""
        widget.method.value = "exact_shap"  # thousands of rows on the worker, while the caller runs the model
        with CostCounter(model) as cost, torch.no_grad():
            model.eval()
            model(X[:8])
            model.train()
        assert (cost.counts()["forward_rows"], cost.counts()["forward_calls"]) == (8, 1)
        assert widget.wait(120).message == ""
        assert calls == [8], "only the caller's own call reached the caller's model"
        assert model.training, "the caller's model keeps its train mode"
        assert all(torch.equal(v, statistics[k]) for k, v in model[0].state_dict().items()), "BatchNorm statistics"
        model(X[:8])  # the caller trains on: the explorer explains the model as it was when it was made
        assert not all(torch.equal(v, statistics[k]) for k, v in model[0].state_dict().items())
        assert all(torch.equal(v, statistics[k]) for k, v in widget.model[0].state_dict().items())
    finally:
        widget.close()


# --------------------------------------------------------------------------- a computation that fails


class _NonFiniteFor(nn.Module):
    """A digit classifier whose scores are all shifted by ``value`` (NaN or inf) for one digit: their gradient
    is the classifier's, their probabilities are NaN. The other digits get the classifier's scores."""

    def __init__(self, inner, digit, value):
        super().__init__()
        self.inner, self.digit_sum, self.value = inner, float(digit.sum()), value

    def forward(self, x):
        bad = (x.flatten(1).sum(dim=1) - self.digit_sum).abs() < 1e-3
        return self.inner(x) + torch.where(bad, self.value, 0.0)[:, None]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_scores_are_an_error_and_the_next_change_is_shown(trained_cnn, digits, value):
    """Scores that make the probabilities NaN are an error in the status line (no bars drawn); the worker
    goes on, and the next change is shown, every display agreeing."""
    X, y = digits
    widget = ex.DigitExplorer(_NonFiniteFor(trained_cnn, X[5], value), X, y)
    try:
        widget.wait(30)
        widget.index.value = 5
        failed = widget.wait(5)
        assert failed.map is None and "not finite" in failed.message
        assert "not finite" in widget.status.value and widget.bars.value == ""
        assert "test digit 5" in widget.input_title.value and widget.map_title.value == "<b>map</b>"
        widget.index.value = 6
        result = widget.wait(5)
        assert result.message == "" and widget.result is result
        np.testing.assert_allclose(result.map, gradient(trained_cnn, X[6:7])[0, 0].double().numpy(), rtol=1e-6)
        assert result.predicted == int(trained_cnn(X[6:7]).argmax())
        assert "test digit 6" in widget.input_title.value and "course-probabilities" in widget.bars.value
        assert widget.status.value.startswith("gradient toward ")
    finally:
        widget.close()


def _png_data_url(picture) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def huge_png():
    """A PNG that declares 12000 x 12000 pixels (a 1-bit black picture: 18 MB raw, a few kB compressed)."""
    from PIL import Image

    return _png_data_url(Image.new("1", (12000, 12000)))


@pytest.mark.parametrize("case", ["not a PNG", "not base64", "truncated", "too large"])
def test_a_canvas_picture_that_does_not_decode_is_an_error_in_the_status(explorer, huge_png, case):
    """A drawing sent to the canvas that does not decode, or that would decode to a huge picture, is
    refused before its pixels are decoded; the observer does not raise and the displays show the failure."""
    explorer.draw(SEVEN)
    assert explorer.wait().message == ""
    good = explorer.canvas.png
    raw = base64.b64decode(good.partition(",")[2])
    bad, expected = {
        "not a PNG": ("data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(40)).decode(), "does not hold a PNG"),
        "not base64": ("data:image/png;base64,@@@@", "not valid base64"),
        "truncated": ("data:image/png;base64," + base64.b64encode(raw[:60]).decode(), "does not decode"),
        "too large": (huge_png, f"at most {MAX_CANVAS_SIDE} x {MAX_CANVAS_SIDE} pixels; got 12000 x 12000"),
    }[case]
    canvas = DrawCanvas(png=bad)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=expected):
        canvas.image()
    assert time.perf_counter() - start < 1, "refused from the header, not after decoding the pixels"
    canvas.close()
    explorer.canvas.png = bad  # as the browser sends it: the observer computes, and must not raise
    result = explorer.wait()
    assert result.map is None and expected.split(";")[0] in result.message
    assert expected.split(";")[0] in explorer.status.value and "Traceback" not in explorer.status.value
    assert explorer.bars.value == "" and explorer.map_image.value == ex._blank(168, 168)
    assert explorer.input_image.value == ex._blank(168, 168) and "your drawing" in explorer.input_title.value
    explorer.canvas.png = good
    assert explorer.wait().message == ""


# --------------------------------------------------------------------------- photo explorer, no ImageNet model


class _TinyPhotoModel(nn.Module):
    """Five classes from a photograph [B, 3, H, W]; ``in_place`` makes its forward write into its input."""

    def __init__(self, in_place=False):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, 5)
        self.in_place = in_place

    def forward(self, x):
        if self.in_place:
            x.mul_(2).sub_(0.5)
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _small_photo(photo):
    """A photograph, subsampled 16 times, as [1, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(photo[::16, ::16])).permute(2, 0, 1)[None].float() / 127.5 - 1


TINY_CLASSES = [f"class {k}" for k in range(5)]


def test_the_photo_explorer_never_lets_the_model_change_its_photographs():
    widget = ex.PhotoExplorer(_TinyPhotoModel(in_place=True), _small_photo, TINY_CLASSES,
                              photographs=["coffee"], background=False)
    try:
        for name in ex.PHOTO_METHODS:
            widget.method.value = name
            assert widget.wait().message == "", name
            assert torch.equal(widget._photos["coffee"][0], _small_photo(load_photograph("coffee"))), name
    finally:
        widget.close()


def test_a_preprocess_that_fails_later_is_an_error_in_the_status():
    def preprocess(photo):
        if photo.shape[:2] == load_photograph("chelsea").shape[:2]:
            raise RuntimeError("this preprocess cannot read the cat")
        return _small_photo(photo)

    widget = ex.PhotoExplorer(_TinyPhotoModel(), preprocess, TINY_CLASSES, photographs=["coffee", "chelsea"],
                              background=False)
    try:
        assert widget.wait().message == ""
        widget.photo.value = "chelsea"  # the observer does not raise
        for change in (None, "lime"):
            if change:
                widget.method.value = change
            result = widget.wait()
            assert result.map is None and "cannot read the cat" in result.message
            assert "cannot read the cat" in widget.status.value and widget.bars.value == ""
            assert "chelsea" in widget.input_title.value and widget.input_image.value == ex._blank(224, 224)
            assert widget.map_image.value == ex._blank(224, 224)
        widget.photo.value = "coffee"
        result = widget.wait()
        assert result.message == "" and widget.target.value == result.target
    finally:
        widget.close()


# --------------------------------------------------------------------------- lifetime


def _workers() -> list:
    return [t for t in threading.enumerate() if t.name.endswith("Explorer-worker")]


def test_explorers_dropped_without_close_leave_no_threads(trained_cnn, digits):
    """Running a cell again drops its explorer without closing it: no worker thread stays behind (a worker
    exits when nothing is pending, and the next change starts one)."""
    made = []
    try:
        for _ in range(5):
            widget = ex.DigitExplorer(trained_cnn, *digits)  # as a cell run 5 times: the last one is shown
            made.append(widget)
            widget.wait(30)
        gc.collect()
        deadline = time.monotonic() + 10
        while _workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _workers(), f"{len(_workers())} worker threads left behind"
        widget.index.value = 3  # the next change starts a worker again
        assert "test digit 3" in widget.input_title.value or widget.wait(30).message == ""
        assert "test digit 3" in widget.input_title.value
    finally:
        for widget in made:
            widget.close()


def test_a_failed_construction_leaves_nothing_open():
    """An explorer whose construction raises closes what it made, and deleting it raises nothing."""
    before = set(ipywidgets_registry._instances)
    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        failures = [
            (TypeError, dict(preprocess=_small_photo, class_names=None)),
            (ValueError, dict(preprocess=_small_photo, class_names=["one"])),
            (ZeroDivisionError, dict(preprocess=lambda photo: 1 / 0, class_names=TINY_CLASSES)),
        ]
        for kind, kwargs in failures:
            try:
                ex.PhotoExplorer(_TinyPhotoModel(), photographs=["coffee"], **kwargs)
            except kind:
                pass
            else:
                pytest.fail(f"{kwargs} did not raise {kind.__name__}")
        left = [ipywidgets_registry._instances[k] for k in set(ipywidgets_registry._instances) - before]
        names = sorted(type(w).__name__ for w in left)
        while left:  # as when the kernel exits: the registry lets go, and the widgets are deleted
            ipywidgets_registry._instances.pop(left.pop().model_id, None)
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not unraisable, [f"{u.exc_type.__name__}: {u.exc_value}" for u in unraisable]
    assert not names, f"widgets left open: {names}"
