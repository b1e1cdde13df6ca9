"""The course's trained models: one recipe each, trained once, shipped, loaded by name.

Training amplifies the last-bit differences between CPUs (vector instructions, BLAS and
oneDNN code paths, thread counts) into visible changes of the weights, so a notebook that
trains its own model prints figures that hold on one machine only. Every model a notebook
uses is therefore trained once, by ``make weights`` (``python -m helpers.trained``), from the
recipes below, and stored in ``helpers/weights/``:

- ``NAME.safetensors``: the weights (for the random forest: its trees' node arrays);
- ``NAME.json``: the model card: the recipe (data, seed, epochs, ...), the figure it reached
  (a test accuracy or R^2), what else is needed to rebuild the model (a vocabulary), the
  SHA-256 of the weights file and the machine that trained it.

- :func:`load_course_model` -- a shipped model by name, in eval mode.
- :func:`train_course_model` -- the same model trained afresh from its recipe on this machine
  (notebook 02 does it for the ``SimpleCNN``; a learner can do it for every model).
- :func:`model_card` -- the stored card; :data:`COURSE_MODELS` -- the names.
- :func:`make_weights` -- train and store every model (what ``make weights`` runs).

Nothing here is downloaded: the weights are files of the package. ``tests/test_trained.py``
retrains the models and checks that they are equivalent to the shipped ones (accuracy,
weights, explanations), so the weights cannot drift from the code.

Used by every notebook from ``notebooks/01_gradients_from_scratch.ipynb`` on; retraining is
taught in ``notebooks/02_cnn_saliency_mnist.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from .data import load_mnist, load_tabular, load_text, load_two_moons
from .features import grid_segments
from .metrics import permuted_labels
from .models import (MLP, LinearClassifier, PatchForest, SimpleCNN, accuracy, fit_patch_forest, predict, train_classifier,
                     train_regressor)
from .seeding import seed_everything
from .text_models import WordModel, sentence_embeddings, train_sentence_head, train_word_model

__all__ = ["COURSE_MODELS", "WEIGHTS_DIR", "Recipe", "load_course_model", "train_course_model", "model_card",
           "evaluate_course_model", "make_weights", "main"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Recipe:
    """How one course model is made and judged.

    Attributes
    ----------
    name : str
    description : str
        What the model is, in a sentence.
    notebooks : tuple of str
        The notebooks that use it.
    settings : dict
        The recipe's data, seed, epochs and other options, as stored on the card.
    train : callable () -> model
        Builds the model from ``seed`` and trains it (deterministic on one machine).
    build : callable (config) -> model, or None
        The untrained architecture that the shipped weights are loaded into (``config`` is the
        card's, e.g. a vocabulary); None for the forest, which is rebuilt from its trees.
    evaluate : callable (model) -> (str, float)
        The figure that judges it: ``("test accuracy", 0.948)``.
    """

    name: str
    description: str
    notebooks: tuple
    settings: dict
    train: Callable
    evaluate: Callable
    build: Callable | None
    cheap: bool = field(default=True)


# --------------------------------------------------------------------------- the recipes


def _simple_cnn(config):
    return SimpleCNN()


def _linear_mnist(config):
    return LinearClassifier((1, 28, 28), 10)


def _moons_mlp(config):
    return MLP(2, 2, hidden=(32, 32), activation="tanh")


def _breast_cancer_mlp(config):
    return MLP(30, 2, hidden=(32,))


def _diabetes_mlp(config):
    return MLP(10, 1, hidden=(32, 32))


def _word_model(config):
    return WordModel({w: i for i, w in enumerate(config["vocabulary"])}, dim=config["dim"],
                     hidden=config["hidden"], n_classes=config["n_classes"])


def _minilm_head(config):
    return nn.Linear(384, 2)


def _mnist_classifier(build, labels="real", epochs=8, seed=0):
    def train():
        X, y = load_mnist("train")
        if labels == "shuffled":
            y = permuted_labels(y, seed=seed)
        seed_everything(seed)
        model = build({})
        train_classifier(model, X, y, epochs=epochs, seed=seed, progress=False)
        return model
    return train


def _mnist_accuracy(model):
    return "test accuracy", accuracy(model, *load_mnist("test"))


def _train_moons():
    X, y = load_two_moons(400, noise=0.2, seed=0)
    seed_everything(0)
    model = _moons_mlp({})
    train_classifier(model, X, y, epochs=150, seed=0, batch_size=32, lr=1e-2, progress=False)
    return model


def _moons_accuracy(model):
    return "training accuracy", accuracy(model, *load_two_moons(400, noise=0.2, seed=0))


def _train_breast_cancer():
    data = load_tabular("breast_cancer")
    seed_everything(0)
    model = _breast_cancer_mlp({})
    train_classifier(model, data.X_train, data.y_train, epochs=30, seed=0, progress=False)
    return model


def _breast_cancer_accuracy(model):
    data = load_tabular("breast_cancer")
    return "test accuracy", accuracy(model, data.X_test, data.y_test)


def _train_diabetes():
    data = load_tabular("diabetes")
    seed_everything(0)
    model = _diabetes_mlp({})
    train_regressor(model, data.X_train, data.y_train, epochs=20, seed=0, weight_decay=1e-2, progress=False)
    return model


def _diabetes_r2(model):
    data = load_tabular("diabetes")
    residual = predict(model, data.X_test)[:, 0] - data.y_test
    return "test R^2", 1 - float(residual.pow(2).mean() / data.y_test.var(unbiased=False))


def _train_patch_forest():
    X, y = load_mnist("train")
    return fit_patch_forest(X, y, grid_segments((28, 28), 7), n_trees=50, max_depth=10, seed=0)


def _forest_accuracy(forest):
    X, y = load_mnist("test")
    return "test accuracy", float((forest(X).argmax(dim=1) == y).double().mean())


def _train_word_model():
    data = load_text("movie_reviews")
    return train_word_model(data.texts_train, data.labels_train, epochs=4, seed=0)


def _word_model_accuracy(model):
    data = load_text("movie_reviews")
    return "test accuracy", accuracy(model, model.encode(data.texts_test), data.labels_test)


MINILM_TRAIN, MINILM_TEST = 600, 300


def _train_minilm_head():
    data = load_text("movie_reviews")
    return train_sentence_head(sentence_embeddings(data.texts_train[:MINILM_TRAIN]),
                               data.labels_train[:MINILM_TRAIN], epochs=40, seed=0)


def _minilm_head_accuracy(head):
    data = load_text("movie_reviews")
    return (f"test accuracy on {MINILM_TEST} snippets",
            accuracy(head, sentence_embeddings(data.texts_test[:MINILM_TEST]), data.labels_test[:MINILM_TEST]))


_MNIST = "load_mnist('train'): 4,000 bundled MNIST digits"
RECIPES = {r.name: r for r in [
    Recipe("simple_cnn", "the minimal example's SimpleCNN trained on MNIST", ("02", "03", "04", "05", "06", "07"),
           {"data": _MNIST, "seed": 0, "epochs": 8, "batch_size": 64, "lr": 1e-3, "optimizer": "Adam"},
           _mnist_classifier(_simple_cnn), _mnist_accuracy, _simple_cnn),
    Recipe("simple_cnn_shuffled_labels", "the SimpleCNN trained on shuffled labels (the data randomisation test)",
           ("06",), {"data": _MNIST + ", labels permuted_labels(y, seed=0)", "seed": 0, "epochs": 8,
                     "batch_size": 64, "lr": 1e-3, "optimizer": "Adam"},
           _mnist_classifier(_simple_cnn, labels="shuffled"), _mnist_accuracy, _simple_cnn),
    Recipe("linear_mnist", "softmax regression on MNIST pixels", ("01",),
           {"data": _MNIST, "seed": 0, "epochs": 5, "batch_size": 64, "lr": 1e-3, "optimizer": "Adam"},
           _mnist_classifier(_linear_mnist, epochs=5), _mnist_accuracy, _linear_mnist),
    Recipe("moons_mlp", "a tanh MLP (32, 32) on two moons", ("01",),
           {"data": "load_two_moons(400, noise=0.2, seed=0)", "seed": 0, "epochs": 150, "batch_size": 32,
            "lr": 1e-2, "optimizer": "Adam"}, _train_moons, _moons_accuracy, _moons_mlp),
    Recipe("breast_cancer_mlp", "a ReLU MLP (32) on the breast-cancer table", ("04",),
           {"data": "load_tabular('breast_cancer'): 426 training rows, 30 features", "seed": 0, "epochs": 30,
            "batch_size": 64, "lr": 1e-3, "optimizer": "Adam"}, _train_breast_cancer, _breast_cancer_accuracy, _breast_cancer_mlp),
    Recipe("diabetes_mlp", "a ReLU MLP (32, 32) regressor on the diabetes table", ("05",),
           {"data": "load_tabular('diabetes'): 331 training rows, 10 features", "seed": 0, "epochs": 20,
            "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-2, "optimizer": "Adam"}, _train_diabetes, _diabetes_r2, _diabetes_mlp),
    Recipe("patch_forest", "a random forest (50 trees, depth 10) on the 16 patch means of a digit", ("06",),
           {"data": _MNIST + ", patch means of grid_segments((28, 28), 7)", "seed": 0, "n_trees": 50,
            "max_depth": 10}, _train_patch_forest, _forest_accuracy, None),
    Recipe("word_model", "a bag-of-words embedding model on movie-review snippets", ("08",),
           {"data": "load_text('movie_reviews'): the training snippets", "seed": 0, "epochs": 4, "dim": 32,
            "hidden": 16, "min_count": 2, "batch_size": 256, "lr": 1e-2}, _train_word_model, _word_model_accuracy, _word_model),
    Recipe("minilm_head", "a linear head on all-MiniLM-L6-v2 sentence embeddings", ("08",),
           {"data": f"load_text('movie_reviews'): the first {MINILM_TRAIN} training snippets' sentence_embeddings",
            "seed": 0, "epochs": 40, "batch_size": 64, "lr": 1e-2}, _train_minilm_head, _minilm_head_accuracy,
           _minilm_head, cheap=False),
]}
COURSE_MODELS = tuple(RECIPES)


def _recipe(name) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"name must be one of the course's models {', '.join(COURSE_MODELS)}; got {name!r}")
    return RECIPES[name]


# --------------------------------------------------------------------------- storing a model as tensors


def _forest_tensors(forest: PatchForest) -> tuple[dict, dict]:
    """The node arrays of every tree of the forest, as tensors, and what rebuilds the forest."""
    tensors = {}
    for i, estimator in enumerate(forest.classifier.estimators_):
        nodes = estimator.tree_.__getstate__()["nodes"]
        for column in nodes.dtype.names:
            tensors[f"tree{i}.{column}"] = torch.from_numpy(np.ascontiguousarray(nodes[column]))
        tensors[f"tree{i}.values"] = torch.from_numpy(np.ascontiguousarray(estimator.tree_.value))
    classifier = forest.classifier
    config = {"n_trees": len(classifier.estimators_), "n_features": int(classifier.n_features_in_),
              "classes": classifier.classes_.tolist(), "max_depth": classifier.max_depth,
              "segments": forest.segments.tolist(),
              "max_depths": [int(e.tree_.max_depth) for e in classifier.estimators_],
              "node_dtype": [[n, nodes.dtype.fields[n][0].str] for n in nodes.dtype.names]}
    return tensors, config


def _forest_from_tensors(tensors: dict, config: dict) -> PatchForest:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import Tree

    classes = np.asarray(config["classes"])
    dtype = np.dtype([(n, d) for n, d in config["node_dtype"]])
    estimators = []
    for i in range(config["n_trees"]):
        columns = {n: tensors[f"tree{i}.{n}"].numpy() for n in dtype.names}
        nodes = np.empty(len(columns[dtype.names[0]]), dtype=dtype)
        for n in dtype.names:
            nodes[n] = columns[n]
        tree = Tree(config["n_features"], np.array([len(classes)], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": config["max_depths"][i], "node_count": len(nodes), "nodes": nodes,
                           "values": tensors[f"tree{i}.values"].numpy().copy()})
        estimator = DecisionTreeClassifier(max_depth=config["max_depth"], max_features="sqrt")
        estimator.tree_, estimator.classes_, estimator.n_classes_ = tree, classes, len(classes)
        estimator.n_features_in_, estimator.n_outputs_, estimator.max_features_ = (
            config["n_features"], 1, max(1, int(np.sqrt(config["n_features"]))))
        estimators.append(estimator)
    classifier = RandomForestClassifier(n_estimators=config["n_trees"], max_depth=config["max_depth"], n_jobs=1)
    classifier.estimators_, classifier.estimator_ = estimators, estimators[0]
    classifier.classes_, classifier.n_classes_ = classes, len(classes)
    classifier.n_features_in_, classifier.n_outputs_ = config["n_features"], 1
    return PatchForest(classifier, torch.tensor(config["segments"]))


def _to_tensors(model) -> tuple[dict, dict]:
    if isinstance(model, PatchForest):
        return _forest_tensors(model)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    if isinstance(model, WordModel):
        layers = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)]
        config = {"vocabulary": sorted(model.vocabulary, key=model.vocabulary.get),
                  "dim": model.embedding_layer.embedding_dim,
                  "hidden": layers[0].out_features if len(layers) > 1 else None,
                  "n_classes": layers[-1].out_features}
    else:
        config = {}
    return tensors, config


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _machine() -> dict:
    return {"torch": torch.__version__, "python": platform.python_version(), "cpu": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- the public functions


def train_course_model(name: str):
    """Train the course model ``name`` afresh from its recipe, on this machine.

    Deterministic on one machine (same seed, same weights); on another CPU or thread count
    the weights differ in their last bits, amplified by training (notebook 02 measures by
    how much).

    Parameters
    ----------
    name : str
        One of :data:`COURSE_MODELS`.

    Returns
    -------
    torch.nn.Module
        In eval mode. The global random state is left as it was.

    Raises
    ------
    ValueError
        For an unknown ``name``.

    Examples
    --------
    >>> model = train_course_model("linear_mnist")  # doctest: +SKIP
    """
    recipe = _recipe(name)
    with torch.random.fork_rng(devices=[]):
        model = recipe.train()
    return model.eval()


def model_card(name: str, *, folder: str | os.PathLike | None = None) -> dict:
    """The stored card of the shipped model ``name``: recipe, figure reached, checksum, machine.

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the model has not been made (``make weights``).
    """
    _recipe(name)
    path = Path(folder or WEIGHTS_DIR) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped weights for {name!r} at {path}; run `make weights` to make them")
    return json.loads(path.read_text())


def load_course_model(name: str, *, folder: str | os.PathLike | None = None):
    """The shipped, trained course model ``name``, in eval mode.

    Parameters
    ----------
    name : str
        One of :data:`COURSE_MODELS`: ``"simple_cnn"``, ``"simple_cnn_shuffled_labels"``,
        ``"linear_mnist"``, ``"moons_mlp"``, ``"breast_cancer_mlp"``, ``"diabetes_mlp"``,
        ``"patch_forest"``, ``"word_model"``, ``"minilm_head"``.
    folder : path, optional
        Where the weights are; the package's ``weights/`` folder by default.

    Returns
    -------
    torch.nn.Module
        A new model each call (changing it leaves the shipped weights alone); for
        ``"patch_forest"`` a :class:`~helpers.models.PatchForest`, for ``"minilm_head"``
        the ``nn.Linear`` head (wrap it in :class:`~helpers.text_models.SentenceClassifier`).

    Raises
    ------
    ValueError
        For an unknown ``name``, or weights whose checksum differs from their card's.
    FileNotFoundError
        If the weights are missing.

    Examples
    --------
    >>> model = load_course_model("simple_cnn")
    >>> model.training
    False
    """
    card = model_card(name, folder=folder)
    path = Path(folder or WEIGHTS_DIR) / f"{name}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped weights for {name!r} at {path}; run `make weights` to make them")
    if _sha256(path) != card["sha256"]:
        raise ValueError(f"the weights at {path} do not match their card (SHA-256 {_sha256(path)[:12]}..., "
                         f"expected {card['sha256'][:12]}...); run `make weights` to remake them")
    tensors = load_file(path)
    if name == "patch_forest":
        return _forest_from_tensors(tensors, card["config"]).eval()
    with torch.random.fork_rng(devices=[]):  # the fresh weights are overwritten: leave the caller's RNG alone
        model = RECIPES[name].build(card["config"])
    model.load_state_dict(tensors)
    return model.eval()


def evaluate_course_model(name: str, model) -> tuple[str, float]:
    """The figure that judges model ``name`` (its recipe's), for ``model``: ``(what, value)``."""
    return _recipe(name).evaluate(model)


def make_weights(names=None, *, folder: str | os.PathLike | None = None) -> list[Path]:
    """Train the course models from their recipes and store their weights and cards.

    Parameters
    ----------
    names : iterable of str, optional
        Which models; all of :data:`COURSE_MODELS` by default.
    folder : path, optional
        Where to write; the package's ``weights/`` folder by default.

    Returns
    -------
    list of Path
        The weights files written.
    """
    names = list(COURSE_MODELS if names is None else names)
    for name in names:
        _recipe(name)
    folder = Path(folder or WEIGHTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        recipe = RECIPES[name]
        start = time.perf_counter()
        model = train_course_model(name)
        seconds = time.perf_counter() - start
        what, value = recipe.evaluate(model)
        tensors, config = _to_tensors(model)
        path = folder / f"{name}.safetensors"
        save_file(tensors, str(path), metadata={"name": name})
        card = {"name": name, "description": recipe.description, "notebooks": list(recipe.notebooks),
                "recipe": recipe.settings, "reached": {what: round(value, 6)},
                "training_seconds": round(seconds, 1), "sha256": _sha256(path), "bytes": path.stat().st_size,
                "machine": _machine(), "config": config}
        (folder / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
        written.append(path)
        print(f"{name}: {what} {value:.3f}, {path.stat().st_size / 1e6:.2f} MB, trained in {seconds:.1f} s", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m helpers.trained [NAME ...]`` (``make weights``)."""
    names = sys.argv[1:] if argv is None else argv
    try:
        make_weights(names or None)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
