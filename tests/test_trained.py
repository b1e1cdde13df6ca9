"""The shipped models (helpers.trained) are what their recipes make, and load safely by name.

Retraining on this machine gives weights that differ from the shipped ones in their last bits
(another CPU, another thread count, amplified by training); the tests state how close they
must stay: the recipe's figure within ACCURACY_TOLERANCE, the parameters within
PARAMETER_TOLERANCE of their scale, the gradients' rank correlation at least MAP_AGREEMENT.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from helpers.data import load_mnist
from helpers.trained import (COURSE_MODELS, RECIPES, evaluate_course_model, load_course_model, model_card,
                             train_course_model)

ACCURACY_TOLERANCE = 0.01
PARAMETER_TOLERANCE = 0.05
MAP_AGREEMENT = 0.9

CHEAP = [name for name in COURSE_MODELS if RECIPES[name].cheap]


@pytest.mark.parametrize("name", COURSE_MODELS)
def test_loads_in_eval_mode_with_its_card(name):
    model = load_course_model(name)
    assert not model.training
    card = model_card(name)
    assert card["recipe"]["seed"] == 0
    (what, stored), = card["reached"].items()
    figure, value = evaluate_course_model(name, model)
    assert figure == what
    assert value == pytest.approx(stored, abs=1e-6), "the shipped weights reach the figure their card states"


@pytest.mark.parametrize("name", CHEAP)
def test_retraining_gives_an_equivalent_model(name):
    shipped, fresh = load_course_model(name), train_course_model(name)
    (_, stored), = model_card(name)["reached"].items()
    assert evaluate_course_model(name, fresh)[1] == pytest.approx(stored, abs=ACCURACY_TOLERANCE)
    if name == "patch_forest":
        X = load_mnist("test")[0][:200]
        assert (shipped(X).argmax(1) == fresh(X).argmax(1)).double().mean() >= 0.98
        return
    a = torch.cat([p.detach().flatten() for p in shipped.parameters()])
    b = torch.cat([p.detach().flatten() for p in fresh.parameters()])
    assert float((a - b).norm() / a.norm()) <= PARAMETER_TOLERANCE


@pytest.mark.parametrize("name", ["simple_cnn", "linear_mnist"])
def test_retrained_saliency_agrees(name):
    from helpers.metrics import rank_correlation
    from helpers.saliency import gradient

    X = load_mnist("test")[0][:100]
    shipped, fresh = load_course_model(name), train_course_model(name)
    assert float(rank_correlation(gradient(shipped, X), gradient(fresh, X)).median()) >= MAP_AGREEMENT


def test_a_changed_recipe_is_caught():
    """The parameter check can fail: one epoch fewer moves the weights far beyond the tolerance."""
    from helpers.models import LinearClassifier, train_classifier
    from helpers.seeding import seed_everything

    X, y = load_mnist("train")
    seed_everything(0)
    other = LinearClassifier((1, 28, 28), 10)
    train_classifier(other, X, y, epochs=4, seed=0, progress=False)
    a = torch.cat([p.detach().flatten() for p in load_course_model("linear_mnist").parameters()])
    b = torch.cat([p.detach().flatten() for p in other.parameters()])
    assert float((a - b).norm() / a.norm()) > PARAMETER_TOLERANCE


def test_loading_twice_gives_independent_models():
    a, b = load_course_model("linear_mnist"), load_course_model("linear_mnist")
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert not torch.equal(next(a.parameters()), next(b.parameters()))


def test_retraining_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    train_course_model("breast_cancer_mlp")
    assert torch.equal(state, torch.get_rng_state())


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="must be one of the course's models.*got 'resnet'"):
        load_course_model("resnet")


def test_tampered_weights_are_refused(tmp_path):
    from helpers.trained import WEIGHTS_DIR

    for suffix in (".json", ".safetensors"):
        shutil.copy(WEIGHTS_DIR / f"moons_mlp{suffix}", tmp_path)
    data = bytearray((tmp_path / "moons_mlp.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "moons_mlp.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="do not match their card"):
        load_course_model("moons_mlp", folder=tmp_path)


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="make weights"):
        load_course_model("simple_cnn", folder=tmp_path)
