"""Every method of the course in its plainest correct form: the code a learner reads and writes.

Each function here is the formula and nothing else: no argument checks, no
chunking, no caching, no restoring of model modes. The model is assumed to be in
eval mode already, inputs are CPU tensors, and everything runs in one batch. The
full helpers (:mod:`helpers.saliency`, :mod:`helpers.features`,
:mod:`helpers.lime`, :mod:`helpers.shapley`) compute the same values with checks,
bounded memory and no side effects; ``tests/test_textbook.py`` proves that both
give the same answers, so the two can never drift apart.

The names are those of the full helpers, so import the module under its own name
and the difference stays visible::

    import helpers.textbook as textbook
    textbook.integrated_gradients(model, x, steps=32)     # the formula
    helpers.saliency.integrated_gradients(model, x)       # the tool

or rename one function: ``from helpers.textbook import integrated_gradients as textbook_ig``.

Two calling conventions, as in the full helpers:

- gradient methods ``method(model, x, target=None, *, options)`` return a tensor
  shaped like the batch ``x``; ``target`` is None (the predicted class), an int,
  or one class per row;
- coalition methods ``method(game, *, options)`` return one value per player
  ``[M]``, and use nothing but ``game(Z)`` (bool coalitions ``[n, M]`` in,
  worths ``[n]`` out) and ``game.n_players``.

Where each is shown (with :func:`helpers.source.show_source`):

- ``notebooks/01_gradients_from_scratch.ipynb`` and
  ``notebooks/02_cnn_saliency_mnist.ipynb``: :func:`class_scores`, :func:`gradient`;
- ``notebooks/03_beyond_vanilla_gradients.ipynb``: :func:`gradient_x_input`,
  :func:`smoothgrad`, :func:`integrated_gradients`, :func:`grad_cam`;
- ``notebooks/04_lime.ipynb``: :class:`CoalitionGame`, :func:`occlusion`, :func:`lime`;
- ``notebooks/05_shap.ipynb``: :func:`exact_shapley`, :func:`kernel_shap` with
  :func:`constrained_least_squares`, :func:`permutation_shapley`; :func:`lime` with
  :func:`shapley_kernel` (KernelSHAP as LIME), :class:`GaussianGame` (correlated features);
- ``notebooks/09_fast_shap.ipynb``: :func:`deeplift`, :func:`deep_shap`, :func:`epsilon_lrp`,
  :func:`tree_shap_one_row`, :func:`path_dependent_value`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .seeding import indexed_normal

__all__ = [
    "class_scores",
    "gradient",
    "gradient_x_input",
    "smoothgrad",
    "integrated_gradients",
    "grad_cam",
    "deeplift",
    "epsilon_lrp",
    "deep_shap",
    "CoalitionGame",
    "GaussianGame",
    "occlusion",
    "lime",
    "shapley_kernel",
    "exact_shapley",
    "kernel_shap",
    "constrained_least_squares",
    "permutation_shapley",
    "tree_shap_one_row",
    "path_dependent_value",
]


# --------------------------------------------------------------------------- gradient methods


def class_scores(model, x, target=None):
    """The score S_c(x) of the class ``target`` for every row of ``x``.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, ...]
    target : None (the predicted class), int, or int tensor [B]

    Returns
    -------
    Tensor [B]
    """
    scores = model(x)
    if target is None:
        target = scores.argmax(dim=1)
    return scores[torch.arange(len(x)), target]


def gradient(model, x, target=None, *, absolute=True):
    """The saliency map M(x) = |dS_c(x)/dx| (or the signed gradient).

    Every row's score depends on its own row only, so one backward pass of
    their sum gives every row's gradient. Simonyan, Vedaldi and Zisserman,
    "Deep Inside Convolutional Networks", 2013, arXiv 1312.6034.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, ...]
    target : None (the predicted class), int, or int tensor [B]
    absolute : bool, default True

    Returns
    -------
    Tensor shaped like x
    """
    x = x.detach().requires_grad_(True)  # a new leaf: the caller's x is left alone
    (grad,) = torch.autograd.grad(class_scores(model, x, target).sum(), x)
    return grad.abs() if absolute else grad


def gradient_x_input(model, x, target=None):
    """Gradient x Input: x * dS_c/dx, signed.

    Shrikumar, Greenside, Shcherbina and Kundaje, "Not Just a Black Box", 2016,
    arXiv 1605.01713.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, ...]
    target : None (the predicted class), int, or int tensor [B]

    Returns
    -------
    Tensor shaped like x
    """
    return x * gradient(model, x, target, absolute=False)


def smoothgrad(model, x, target=None, *, noise_level=0.15, n_samples=50, seed=0, absolute=True):
    """SmoothGrad: the gradient averaged over noisy copies, (1/n) sum_k M(x + sigma e_k).

    e_k ~ N(0, 1), the k-th draw of the seed (one draw for the whole batch, so an
    example's map does not depend on the rest of the batch), and sigma =
    noise_level * (max x - min x) of each example. Smilkov, Thorat, Kim, Viegas and
    Wattenberg, "SmoothGrad: removing noise by adding noise", 2017, arXiv 1706.03825.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, ...]
    target : None (the predicted class), int, or int tensor [B]
    noise_level : float, default 0.15
    n_samples : int, default 50
    seed : int, default 0
    absolute : bool, default True
        Average |gradient| (True) or the signed gradient.

    Returns
    -------
    Tensor shaped like x
    """
    if target is None:
        target = model(x).argmax(dim=1)  # every noisy copy explains the class of x itself
    values = tuple(range(1, x.ndim))
    sigma = noise_level * (x.amax(dim=values, keepdim=True) - x.amin(dim=values, keepdim=True))
    total = torch.zeros_like(x)
    for k in range(n_samples):
        noise = indexed_normal(seed, [k], x.shape[1:])  # [1, ...]: the same draw for every example
        total += gradient(model, x + sigma * noise, target, absolute=absolute)
    return total / n_samples


def integrated_gradients(model, x, target=None, *, baseline=None, steps=50):
    """Integrated Gradients with the trapezoid rule on ``steps`` points of the path.

    a_i = (x_i - x'_i) * integral over a in [0, 1] of dS_c/dx_i (x' + a (x - x')),
    and the attributions add up to S_c(x) - S_c(x') (completeness).
    Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks", 2017,
    arXiv 1703.01365.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, ...]
    target : None (the predicted class), int, or int tensor [B]
    baseline : None (zeros) or tensor shaped like x (or broadcasting to it)
    steps : int >= 2, default 50
        Points alpha_k = k / (steps - 1); weights 1 / (steps - 1), halved at both ends.

    Returns
    -------
    Tensor shaped like x
    """
    baseline = torch.zeros_like(x) if baseline is None else baseline
    if target is None:
        target = model(x).argmax(dim=1)  # the class of x, all along the path
    alphas = torch.linspace(0, 1, steps)
    weights = torch.full((steps,), 1 / (steps - 1))
    weights[0] = weights[-1] = 0.5 / (steps - 1)  # trapezoid: the two ends count half
    average = torch.zeros_like(x)
    for alpha, weight in zip(alphas, weights):
        average += weight * gradient(model, baseline + alpha * (x - baseline), target, absolute=False)
    return (x - baseline) * average


def grad_cam(model, x, target=None, *, layer):
    """Grad-CAM: the layer's feature maps A^k weighted by their mean gradient, rectified.

    alpha_k = mean over (i, j) of dS_c/dA^k_ij, map = ReLU(sum_k alpha_k A^k),
    upsampled to the input's size. Selvaraju, Cogswell, Das, Vedantam, Parikh and
    Batra, "Grad-CAM", 2017, arXiv 1610.02391.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [B, ...] -> class scores [B, classes]
    x : float tensor [B, C, H, W]
    target : None (the predicted class), int, or int tensor [B]
    layer : torch.nn.Module
        A layer of ``model`` that outputs feature maps [B, K, h, w].

    Returns
    -------
    Tensor shaped like x (the same map in every channel)
    """
    saved = []
    hook = layer.register_forward_hook(lambda module, inputs, output: saved.append(output))
    scores = class_scores(model, x, target)
    hook.remove()
    (grads,) = torch.autograd.grad(scores.sum(), saved[0])
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * saved[0]).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam.expand_as(x)


def deeplift(model, x, target=None, *, baseline=None):
    """DeepLIFT's rescale rule through a sequence of linear layers and elementwise nonlinearities.

    Forward, every layer's input is kept for x and for the baseline x'; backward, the
    multipliers m = dS_c/d(input) are chained as derivatives are, except that each
    nonlinearity contributes the slope of its secant (f(z) - f(z')) / (z - z') instead of
    f'(z) (a step of 1e-6 where z = z'). The contributions m (x - x') add up to
    S_c(x) - S_c(x') ("summation to delta"). Shrikumar, Greenside and Kundaje, "Learning
    Important Features Through Propagating Activation Differences", 2017, ICML.

    Parameters
    ----------
    model : torch.nn.Sequential of nn.Linear and elementwise nonlinearities (nn.ReLU, nn.Tanh, ...)
    x : float tensor [B, M]
    target : None (the predicted class), int, or int tensor [B]
    baseline : None (zeros) or tensor shaped like x (or broadcasting to it)

    Returns
    -------
    Tensor shaped like x
    """
    baseline = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    if target is None:
        target = model(x).argmax(dim=1)
    with torch.no_grad():
        z, z_ref, inputs = x, baseline, []
        for layer in model:  # forward: keep each layer's input, for x and for the baseline
            inputs.append((z, z_ref))
            z, z_ref = layer(z), layer(z_ref)
        m = F.one_hot(torch.as_tensor(target).expand(len(x)), z.shape[1]).to(x.dtype)  # dS_c / d(scores)
        for layer, (z, z_ref) in zip(reversed(list(model)), reversed(inputs)):  # backward: chain multipliers
            if isinstance(layer, torch.nn.Linear):
                m = m @ layer.weight  # a linear layer's multiplier is its weight
            else:  # a nonlinearity's is the slope of its secant
                step = torch.where((z - z_ref).abs() < 1e-6, 1e-6, z - z_ref)
                m = m * (layer(z_ref + step) - layer(z_ref)) / step
    return m * (x - baseline)


def epsilon_lrp(model, x, target=None, *, epsilon=1e-9):
    """Layer-wise relevance propagation with the epsilon rule, through linear layers and ReLUs.

    The relevance starts as the target score S_c(x) and flows down: a linear layer with
    input a and output z = W a + b passes R_in = a * (W^T (R / (z + epsilon sign z))); a ReLU
    passes it unchanged. Bach, Binder, Montavon, Klauschen, Müller and Samek, "On
    pixel-wise explanations for non-linear classifier decisions by layer-wise relevance
    propagation", 2015, PLOS ONE. For a ReLU network it equals Gradient x Input as
    epsilon -> 0 (Ancona et al., ICLR 2018), biases or not.

    Parameters
    ----------
    model : torch.nn.Sequential of nn.Linear and nn.ReLU
    x : float tensor [B, M]
    target : None (the predicted class), int, or int tensor [B]

    Returns
    -------
    Tensor shaped like x
    """
    with torch.no_grad():
        activations = [x]
        for layer in model:
            activations.append(layer(activations[-1]))
        scores = activations[-1]
        target = scores.argmax(dim=1) if target is None else torch.as_tensor(target).expand(len(x))
        relevance = F.one_hot(target, scores.shape[1]).to(x.dtype) * scores  # R = S_c at the output
        for layer, a in zip(reversed(list(model)), reversed(activations[:-1])):
            if isinstance(layer, torch.nn.Linear):  # ReLUs pass the relevance on unchanged
                z = layer(a)
                relevance = a * ((relevance / (z + epsilon * torch.where(z >= 0, 1.0, -1.0))) @ layer.weight)
    return relevance

def deep_shap(model, x, target=None, *, background):
    """DeepSHAP: DeepLIFT averaged over the rows of a background set.

    The values add up to S_c(x) minus the mean of S_c over the background, as SHAP
    values with that background do. Lundberg and Lee, "A Unified Approach to
    Interpreting Model Predictions", 2017, NeurIPS.

    Parameters
    ----------
    model, x, target : as :func:`deeplift`
    background : float tensor [K, M], rows shaped like those of x

    Returns
    -------
    Tensor shaped like x
    """
    if target is None:
        target = model(x).argmax(dim=1)  # the class of x, for every background row
    return torch.stack([deeplift(model, x, target, baseline=row) for row in background]).mean(dim=0)


# --------------------------------------------------------------------------- coalition methods


class CoalitionGame:
    """The game v(z) = S_c(x where z says present, baseline elsewhere) of one input x.

    ``segments`` holds one player label 0..M-1 per value of ``x`` (or per pixel
    of an image [C, H, W]); ``game(Z)`` evaluates a whole batch of coalitions
    Z [n, M] in one forward pass. Ribeiro, Singh and Guestrin, 2016, arXiv
    1602.04938; Lundberg and Lee, 2017, arXiv 1705.07874.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [n, *x.shape] -> class scores [n, classes]
    x : float tensor, one input [C, H, W] or [F]
    segments : int tensor [H, W] or [F], labels 0..M-1
    baseline : float or tensor shaped like x (or broadcasting to it), default 0.0
    target : None (the predicted class) or int

    Examples
    --------
    >>> game = CoalitionGame(model, x, grid_segments(x, 7))  # doctest: +SKIP
    >>> game(torch.ones(1, game.n_players, dtype=torch.bool))  # doctest: +SKIP
    """

    def __init__(self, model, x, segments, *, baseline=0.0, target=None):
        self.model, self.x = model, x
        self.baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
        self.segments = segments.expand_as(x)  # every channel of a pixel is the same player
        self.n_players = int(segments.max()) + 1
        self.target = int(model(x[None]).argmax()) if target is None else target  # None: the predicted class

    def __call__(self, Z):
        inputs = torch.where(Z[:, self.segments], self.x, self.baseline)  # [n, *x.shape]
        with torch.no_grad():
            return self.model(inputs)[:, self.target]


class GaussianGame:
    """The game of a table row x when absent features follow a Gaussian model of the data.

    v(S) = mean over draws X ~ N(mean, covariance) of f(x_S, X_T), T the absent features.
    ``conditional=False``: X_T as drawn, whatever x_S is (the interventional expectation,
    E[f(x_S, X_T)]; the same game as ``helpers.features.CoalitionGame`` with the draws as
    background). ``conditional=True``: each draw moved to X_T + Sigma_TS Sigma_SS^-1 (x_S - X_S),
    a draw of X_T given X_S = x_S (Matheron's rule), so v(S) = E[f(X) | X_S = x_S], the
    conditional expectation. Both use the same ``n_samples`` draws. Aas, Jullum and Loland,
    "Explaining individual predictions when features are dependent", 2021, arXiv 1903.10464.

    Parameters
    ----------
    model : torch.nn.Module in eval mode, [n, F] -> outputs [n, classes]
    x : float tensor [F], the row explained
    mean : tensor [F]; covariance : tensor [F, F], positive definite
    conditional : bool, default True
    n_samples : int, default 256; seed : int, default 0; target : int, default 0

    Examples
    --------
    >>> game = GaussianGame(mlp, x, X.mean(dim=0), torch.cov(X.T), conditional=True)  # doctest: +SKIP
    """

    def __init__(self, model, x, mean, covariance, *, conditional=True, n_samples=256, seed=0, target=0):
        self.model, self.x, self.target, self.conditional = model, x, target, conditional
        self.n_players, self.covariance = x.shape[0], covariance.double()
        noise = torch.randn(n_samples, x.shape[0], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        self.draws = mean.double() + noise @ torch.linalg.cholesky(self.covariance).T  # [K, F] ~ N(mean, covariance)

    def __call__(self, Z):
        x, z = self.x.double(), Z.double()[:, :, None]  # z [n, F, 1]: 1 where present
        rows = torch.where(Z[:, None, :], x, self.draws)  # [n, K, F]: x_S, the others as drawn
        if self.conditional:  # Sigma_SS^-1 Sigma_ST for every coalition at once, 0 outside those blocks
            C = self.covariance
            gain = torch.linalg.solve(z * C * z.mT + torch.diag_embed(1 - z[..., 0]), z * C * (1 - z.mT))
            rows = rows + (z.mT * (x - self.draws)) @ gain  # X_T + (x_S - X_S) Sigma_SS^-1 Sigma_ST
        with torch.no_grad():
            return self.model(rows.reshape(-1, len(x)).to(self.x.dtype))[:, self.target].reshape(len(Z), -1).mean(dim=1)


def occlusion(game):
    """Occlusion: what the worth loses when each player alone is removed, v(N) - v(N without i).

    Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks",
    2014, arXiv 1311.2901.

    Parameters
    ----------
    game : callable with ``n_players``; ``game(Z)`` for bool Z [n, M] returns worths [n]

    Returns
    -------
    Tensor [M]
    """
    M = game.n_players
    Z = torch.ones(M + 1, M, dtype=torch.bool)
    Z[1:] = ~torch.eye(M, dtype=torch.bool)  # row 0: everyone; row i + 1: everyone but i
    v = game(Z)
    return v[0] - v[1:]


def lime(game, *, n_samples=1000, kernel_width=0.25, alpha=1.0, seed=0, kernel=None, coalitions=None):
    """LIME: a weighted ridge fit of the worths on random coalitions near the input.

    Samples: the full coalition, then every player present with probability 1/2.
    Weights: pi(z) = exp(-d(z)^2 / (2 w^2)) with d the cosine distance to the full
    coalition, d = 1 - sqrt(|z| / M). Fit: minimise sum_k pi_k (v(z_k) - b - w.z_k)^2
    + alpha |w|^2 (the intercept b is not penalised) and return w. Ribeiro, Singh
    and Guestrin, "Why Should I Trust You?", 2016, arXiv 1602.04938. With
    ``kernel=shapley_kernel``, ``alpha=0`` and every coalition, this is KernelSHAP
    (Lundberg and Lee, 2017, arXiv 1705.07874, Theorem 2).

    Parameters
    ----------
    game : callable with ``n_players``; ``game(Z)`` for bool Z [n, M] returns worths [n]
    n_samples : int, default 1000
        Coalitions, the full one included.
    kernel_width : float, default 0.25
    alpha : float, default 1.0
    seed : int, default 0
    kernel : callable, optional
        ``kernel(Z)`` for bool Z [n, M] returns the weights pi [n] (float64), in place of
        the exponential kernel (``kernel_width`` is then unused); e.g. :func:`shapley_kernel`.
    coalitions : bool tensor [n, M], optional
        Fit on these coalitions instead of drawing ``n_samples`` (as in :func:`helpers.lime.lime`).

    Returns
    -------
    Tensor [M], float64: the coefficients w
    """
    if coalitions is None:
        generator = torch.Generator().manual_seed(seed)
        coalitions = torch.randint(0, 2, (n_samples, game.n_players), generator=generator).bool()
        coalitions[0] = True  # the input itself
    Z = coalitions
    X, y = Z.double(), game(Z).double()
    if kernel is None:
        distance = 1 - torch.sqrt(X.mean(dim=1))
        pi = torch.exp(-distance**2 / (2 * kernel_width**2))
    else:
        pi = kernel(Z)
    A = torch.cat([torch.ones(len(Z), 1, dtype=torch.float64), X], dim=1)  # intercept column first
    penalty = alpha * torch.eye(A.shape[1], dtype=torch.float64)
    penalty[0, 0] = 0.0
    coefficients = torch.linalg.solve(A.T @ (pi[:, None] * A) + penalty, A.T @ (pi * y))
    return coefficients[1:]


def shapley_kernel(Z, *, end_weight=1e6):
    """The Shapley kernel of each coalition, pi(z) = (M - 1) / (binom(M, |z|) |z| (M - |z|)).

    The kernel is infinite at the empty and the full coalition: there the fit must pass
    exactly through v(empty) and v(N), which makes it efficient. ``end_weight`` stands
    in for infinity. Lundberg and Lee, "A Unified Approach to Interpreting Model
    Predictions", 2017, arXiv 1705.07874, Theorem 2.

    Parameters
    ----------
    Z : bool tensor [n, M]
    end_weight : float, default 1e6

    Returns
    -------
    Tensor [n], float64
    """
    M, size = Z.shape[1], Z.sum(dim=1)
    pi = torch.full((len(Z),), float(end_weight), dtype=torch.float64)
    inner = (size > 0) & (size < M)
    s = size[inner].double()
    pi[inner] = (M - 1) / (torch.tensor([math.comb(M, int(k)) for k in size[inner]], dtype=torch.float64) * s * (M - s))
    return pi


def exact_shapley(game):
    """Exact Shapley values from all 2^M coalitions.

    phi_i = sum over S without i of |S|! (M - |S| - 1)! / M! * (v(S + i) - v(S)).
    Shapley, "A value for n-person games", 1953; Lundberg and Lee, 2017, arXiv 1705.07874.

    Parameters
    ----------
    game : callable with ``n_players``; ``game(Z)`` for bool Z [n, M] returns worths [n]

    Returns
    -------
    Tensor [M], float64
    """
    M = game.n_players
    codes = torch.arange(2**M)
    Z = ((codes[:, None] >> torch.arange(M)) & 1).bool()  # coalition c holds player i if bit i of c is 1
    v = game(Z).double()
    weight = torch.tensor([math.factorial(s) * math.factorial(M - 1 - s) / math.factorial(M) for s in range(M)])
    phi = torch.zeros(M, dtype=torch.float64)
    for i in range(M):
        S = codes[~Z[:, i]]  # every coalition without i ...
        phi[i] = (weight[Z[S].sum(dim=1)] * (v[S | (1 << i)] - v[S])).sum()  # ... and with i added
    return phi


def constrained_least_squares(Z, values, weights, v_empty, v_full):
    """KernelSHAP's regression: the weighted least squares fit of the worths, efficient by constraint.

    Minimise sum_k w_k (v(z_k) - v_empty - z_k . phi)^2 subject to sum_i phi_i = v_full - v_empty.

    With A = sum_k w_k z_k z_k^T and b = sum_k w_k z_k (v(z_k) - v_empty), the
    Lagrange condition gives phi = A^-1 (b - lam 1) with lam chosen for efficiency.
    Lundberg and Lee, 2017, arXiv 1705.07874; Covert and Lee, "Improving KernelSHAP",
    2021, arXiv 2012.01536.

    Parameters
    ----------
    Z : bool tensor [n, M]
        The coalitions (neither empty nor full).
    values : float64 tensor [n]
        Their worths.
    weights : float64 tensor [n]
    v_empty, v_full : float
        The worths of the empty and the full coalition.

    Returns
    -------
    Tensor [M], float64, adding up to v_full - v_empty
    """
    X = Z.double()
    A = X.T @ (weights[:, None] * X)
    b = X.T @ (weights * (values - v_empty))
    A_inv_b = torch.linalg.solve(A, b)  # the unconstrained fit ...
    A_inv_1 = torch.linalg.solve(A, torch.ones_like(b))  # ... and the direction that moves every value alike
    lam = (A_inv_b.sum() - (v_full - v_empty)) / A_inv_1.sum()
    return A_inv_b - lam * A_inv_1


def kernel_shap(game, *, budget, seed=0):
    """KernelSHAP: Shapley values as a weighted regression on ``budget`` coalitions.

    A size s in 1..M-1 is drawn with probability proportional to the Shapley
    kernel's weight of the whole size, (M - 1) / (s (M - s)); then a coalition of
    that size uniformly. Drawn that way, every sample has the same weight in the
    regression; v(empty) and v(full) are evaluated and fixed by the constraint.
    Lundberg and Lee, "A Unified Approach to Interpreting Model Predictions",
    2017, arXiv 1705.07874.

    Parameters
    ----------
    game : callable with ``n_players``; ``game(Z)`` for bool Z [n, M] returns worths [n]
    budget : int
        Coalitions evaluated, v(empty) and v(full) included (enough that every
        player is sampled in and out: a few times M at least).
    seed : int, default 0

    Returns
    -------
    Tensor [M], float64, adding up to v(full) - v(empty)
    """
    M, n = game.n_players, budget - 2
    generator = torch.Generator().manual_seed(seed)
    sizes = torch.arange(1, M)
    kernel = (M - 1) / (sizes * (M - sizes))  # the Shapley kernel's weight of each whole size
    size = sizes[torch.multinomial(kernel, n, replacement=True, generator=generator)]  # one size per sample
    order = torch.rand(n, M, generator=generator).argsort(dim=1)  # a random order of the players per sample
    Z = order < size[:, None]  # the players ranked below s: a uniform coalition of size s
    v_empty, v_full = game(torch.tensor([[False] * M, [True] * M])).double()
    return constrained_least_squares(Z, game(Z).double(), torch.ones(n, dtype=torch.float64), v_empty, v_full)


def permutation_shapley(game, *, n_permutations, seed=0):
    """Shapley values as the mean marginal contribution along random orders of the players.

    Along an order, each player adds v(players before it and itself) - v(players
    before it); the average over all M! orders is the Shapley value. Strumbelj
    and Kononenko, "Explaining prediction models and individual predictions with
    feature contributions", 2014, Knowledge and Information Systems 41(3).

    Parameters
    ----------
    game : callable with ``n_players``; ``game(Z)`` for bool Z [n, M] returns worths [n]
    n_permutations : int
        Orders walked; each costs M + 1 coalitions.
    seed : int, default 0

    Returns
    -------
    Tensor [M], float64, adding up to v(full) - v(empty)
    """
    M = game.n_players
    generator = torch.Generator().manual_seed(seed)
    phi = torch.zeros(M, dtype=torch.float64)
    for _ in range(n_permutations):
        order = torch.randperm(M, generator=generator)
        Z = torch.zeros(M + 1, M, dtype=torch.bool)  # row j: the first j players of the order
        for j, player in enumerate(order):
            Z[j + 1:, player] = True
        v = game(Z).double()
        phi[order] += v[1:] - v[:-1]  # what each player adds when it arrives
    return phi / n_permutations


# --------------------------------------------------------------------------- TreeSHAP


def tree_shap_one_row(tree, x, r, output=0):
    """Interventional TreeSHAP of one tree for one background row: the Shapley values of v(S) = f(x_S, r_-S).

    Walk from the root with x and r side by side, carrying the features that must come
    from x (A) and those that must come from r (B). A leaf of value w then plays the game
    w 1[A in S, B out of S], whose Shapley values are w (a-1)! b! / (a+b)! = w / (a C(a+b, a))
    for each of A and -w / (b C(a+b, b)) for each of B (a = |A|, b = |B|). Lundberg et al., "From local
    explanations to global understanding with explainable AI for trees", 2020, Nature
    Machine Intelligence 2.

    Parameters
    ----------
    tree : a fitted scikit-learn tree structure (``estimator.tree_``)
    x, r : NumPy arrays [M] (scikit-learn compares in float32: pass float32 values)
    output : int, the column of ``tree.value`` explained (a class of a classifier)

    Returns
    -------
    NumPy array [M]
    """
    phi = np.zeros(len(x))

    def walk(node, from_x, from_r):
        if tree.children_left[node] == -1:  # a leaf of value w
            a, b, w = len(from_x), len(from_r), tree.value[node].ravel()[output]
            for i in from_x | from_r:  # the players of A gain, those of B lose
                phi[i] += w / (a * math.comb(a + b, a)) if i in from_x else -w / (b * math.comb(a + b, b))
            return
        j, t = tree.feature[node], tree.threshold[node]
        for child, left in ((tree.children_left[node], True), (tree.children_right[node], False)):
            x_goes, r_goes = (x[j] <= t) == left, (r[j] <= t) == left
            if x_goes and r_goes:  # the split does not care whether j is in S
                walk(child, from_x, from_r)
            elif x_goes and j not in from_r:  # only the rows with j from x go here
                walk(child, from_x | {j}, from_r)
            elif r_goes and j not in from_x:  # only the rows with j from r
                walk(child, from_x, from_r | {j})
    walk(0, frozenset(), frozenset())
    return phi


def path_dependent_value(tree, x, S, output=0, node=0):
    """The path-dependent tree game: v(S) for a set S of feature indices present in x.

    At a split on a feature in S follow x; at a split on an absent feature follow both
    children, weighted by the training rows that went each way (``weighted_n_node_samples``).
    Its Shapley values are path-dependent TreeSHAP, shap's default without a background
    (Lundberg et al. 2020, Algorithm 2, computes them in polynomial time).

    Parameters
    ----------
    tree : a fitted scikit-learn tree structure (``estimator.tree_``)
    x : NumPy array [M]
    S : set of int
    output : int, the column of ``tree.value`` explained

    Returns
    -------
    float
    """
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        return float(tree.value[node].ravel()[output])
    j, t = tree.feature[node], tree.threshold[node]
    if j in S:
        return path_dependent_value(tree, x, S, output, left if x[j] <= t else right)
    cover = tree.weighted_n_node_samples
    return (cover[left] * path_dependent_value(tree, x, S, output, left)
            + cover[right] * path_dependent_value(tree, x, S, output, right)) / cover[node]
