"""Shared fixtures of the unit tests (the notebooks run under nbval, see the Makefile)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from helpers.data import load_mnist
from helpers.models import SimpleCNN, train_classifier
from helpers.seeding import seed_everything


@pytest.fixture(scope="session")
def mnist_test():
    """The 1,000 bundled test digits ``(X, y)``; tests must not modify them."""
    return load_mnist("test")


@pytest.fixture(scope="session")
def trained_cnn():
    """A ``SimpleCNN`` trained for 3 epochs on the bundled training digits (about a second)."""
    seed_everything(0)
    model = SimpleCNN()
    X, y = load_mnist("train")
    train_classifier(model, X, y, epochs=3, seed=0, progress=False)
    return model


@pytest.fixture(scope="session")
def forest():
    """A small :class:`~helpers.models.PatchForest` (20 trees) on the 16 patch means of 1,500 training digits."""
    from helpers.features import grid_segments
    from helpers.models import fit_patch_forest

    X, y = load_mnist("train")
    return fit_patch_forest(X[:1500], y[:1500], grid_segments((28, 28), 7), n_trees=20, max_depth=8, seed=0)


@pytest.fixture
def untrained_cnn():
    seed_everything(0)
    return SimpleCNN()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def pytest_configure(config):
    torch.set_num_threads(max(1, torch.get_num_threads()))
