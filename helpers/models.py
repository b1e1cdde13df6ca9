"""Models of the course and their deterministic training.

- :class:`SimpleCNN`: the minimal example's network, exactly (one 3x3 convolution
  with 16 channels, ReLU, one linear layer to 10 classes).
- :class:`LinearClassifier`: softmax regression, whose gradient is its weight row.
- :class:`MLP`: a small fully connected network for 2-D toys and tabular data.
- :func:`train_classifier`, :func:`train_regressor`: one deterministic training
  loop (Adam, fixed shuffling from a seeded generator), with a progress bar.
- :func:`accuracy`, :func:`predict`: evaluation in batches, without gradients.

Taught in ``notebooks/01_gradients_from_scratch.ipynb`` and
``notebooks/02_cnn_saliency_mnist.ipynb``.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .seeding import make_generator

__all__ = [
    "SimpleCNN",
    "LinearClassifier",
    "MLP",
    "train_classifier",
    "train_regressor",
    "predict",
    "accuracy",
    "evaluation_mode",
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


@contextlib.contextmanager
def evaluation_mode(model: nn.Module):
    """Put ``model`` (every submodule) in eval mode; restore each module's own mode after.

    Submodules may have been set to different modes by the caller (a frozen
    batch-norm in an otherwise training model, say): each one gets its own flag back.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _check_training_data(model, X, y, epochs, batch_size, lr):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be tensors; got {type(X).__name__} and {type(y).__name__}")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y must hold the same, non-zero number of rows; got {X.shape[0]} and {y.shape[0]}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr!r}")


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
def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """Model outputs for ``X`` in batches, in eval mode (the model's mode is restored).

    Returns
    -------
    torch.Tensor, [N, outputs], on the CPU
    """
    device = next(model.parameters()).device
    with evaluation_mode(model):
        parts = [model(X[i:i + batch_size].to(device)).cpu() for i in range(0, X.shape[0], batch_size)]
    return torch.cat(parts)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500) -> float:
    """Share of ``X`` whose predicted class (arg-max score) equals ``y``.

    Examples
    --------
    >>> accuracy(model, X_test, y_test)  # doctest: +SKIP
    0.97
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must hold the same number of rows; got {X.shape[0]} and {y.shape[0]}")
    return float((predict(model, X, batch_size=batch_size).argmax(dim=1) == y.cpu()).float().mean())
