"""Automatic checkers for the notebooks' exercises.

Each checker takes the learner's answer (a value or a function), tests it against
the course's own implementation on fresh inputs, prints one line saying whether
it is right (and, if not, what is wrong), and returns True or False. An answer of
``None`` (the template as handed out) prints "not attempted yet".

Every notebook's Exercises section uses these; the folded reference solution next
to each exercise calls the same checker, so nbval proves the checker accepts a
right answer.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import load_mnist
from .drawing import draw_strokes
from .features import CoalitionGame, FunctionGame, grid_segments, segment_sums, tabular_segments
from .lime import cosine_distances, exponential_kernel, fit_lime, sample_coalitions, weighted_ridge
from .metrics import cascading_randomisation, deletion_curve, randomisable_layers, top_mass_share
from .models import MLP, predict
from .saliency import grad_cam, gradient, gradient_x_input, integrated_gradients, path_quadrature, smoothgrad
from .seeding import indexed_normal, seeded_global_rng
from .shapley import TableGame, exact_shapley, exact_shapley_skipping_dummies, relative_error, weighted_voting_game
from .text import WordGame, pool_tokens
from .text_models import TokenizedText, WordModel, build_vocabulary
from .textbook import kernel_shap

__all__ = [
    "report",
    "check_numerical_gradient",
    "check_probability_gradient",
    "check_batched_saliency",
    "check_top_mass_share",
    "check_gradient_x_input",
    "check_trapezoid_weights",
    "check_integrated_gradients",
    "check_smoothgrad",
    "check_grad_cam",
    "check_randomisation_test",
    "check_lime_kernel",
    "check_weighted_least_squares",
    "check_lime_fit",
    "check_glove_game",
    "check_shapley_kernel",
    "check_kernel_shap",
    "check_baseline_background",
    "check_exact_shapley",
    "check_deletion_curve",
    "check_mask_words",
    "check_word_pooling",
    "check_centre_of_mass",
    "check_disagreeing_digit",
    "check_tree_shap_one_row",
    "check_rescale_rule",
]


def report(ok: bool, exercise: str, message: str = "") -> bool:
    """Print the verdict of one exercise and return ``ok``."""
    verdict = "correct" if ok else "not yet right"
    print(f"{exercise}: {verdict}" + (f" - {message}" if message else ""))
    return bool(ok)


def _not_attempted(answer, exercise: str) -> bool:
    if answer is None:
        print(f"{exercise}: not attempted yet - replace the None in the template with your answer")
        return True
    return False


def _call(function, exercise: str, *args):
    """Call the learner's function; a crash becomes a message, not a traceback."""
    try:
        return function(*args), None
    except NotImplementedError:
        return None, f"{exercise}: not attempted yet - the function still raises NotImplementedError"
    except Exception as err:  # the learner's code may fail in any way
        return None, f"{exercise}: not yet right - your function raised {type(err).__name__}: {err}"


def _call_on_model(function, exercise: str, model, *args):
    """:func:`_call` with ``model`` first; then the model's parameter gradients are cleared, so that a
    wrong answer does not spoil later cells. Also returns whether the answer had left gradients there."""
    answer, problem = _call(function, exercise, model, *args)
    left_in_parameters = any(p.grad is not None for p in model.parameters())
    for p in model.parameters():
        p.grad = None
    return answer, problem, left_in_parameters


def _close(answer, expected: torch.Tensor, *, rtol: float, atol: float) -> tuple[bool, str]:
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got {type(answer).__name__}"
    if tuple(answer.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}"
    answer = answer.detach().to(expected.device, expected.dtype)
    if not torch.allclose(answer, expected, rtol=rtol, atol=atol):
        err = float((answer - expected).abs().max())
        return False, f"largest difference from the expected values is {err:.3g}"
    return True, ""


# --- notebook 01: gradients from scratch ------------------------------------------------


def check_numerical_gradient(numerical_gradient) -> bool:
    """Exercise 01.1: ``numerical_gradient(f, x, eps)`` by central differences.

    The learner's function takes a scalar function ``f`` of a 1-D float64 tensor,
    a point ``x`` [D] and a step ``eps``, and returns the gradient [D]. It is
    checked on three functions whose gradients are known in closed form.
    """
    name = "Exercise 1 (numerical gradient)"
    if _not_attempted(numerical_gradient, name):
        return False
    cases = [
        (lambda v: (v**2).sum(), lambda v: 2 * v),
        (lambda v: torch.sin(v).prod(), lambda v: torch.stack([
            torch.cos(v[i]) * torch.cat([torch.sin(v[:i]), torch.sin(v[i + 1:])]).prod() for i in range(len(v))])),
        (lambda v: torch.logsumexp(v, 0), lambda v: torch.softmax(v, 0)),
    ]
    x = torch.tensor([0.3, -1.2, 2.0, 0.7], dtype=torch.float64)
    for k, (f, exact) in enumerate(cases, start=1):
        answer, problem = _call(numerical_gradient, name, f, x.clone(), 1e-5)
        if problem:
            print(problem)
            return False
        ok, why = _close(answer, exact(x), rtol=1e-5, atol=1e-7)
        if not ok:
            return report(False, name, f"on test function {k}: {why}")
    return report(True, name, "agrees with the exact gradients of three test functions to 1e-5")


def check_probability_gradient(probability_gradient, model, x: torch.Tensor, target: int) -> bool:
    """Exercise 01.2: the gradient of a softmax probability for a linear classifier.

    For scores ``S = W x + b`` and ``p = softmax(S)``, the learner's
    ``probability_gradient(W, b, x, target)`` returns
    ``d p_target / d x = p_target (W[target] - sum_k p_k W[k])`` for one flattened
    input ``x`` [D]; it is compared with autograd.
    """
    name = "Exercise 2 (gradient of a probability)"
    if _not_attempted(probability_gradient, name):
        return False
    W, b = model.linear.weight.detach().clone(), model.linear.bias.detach().clone()
    flat = x.detach().reshape(-1).clone().requires_grad_(True)
    p = torch.softmax(W @ flat + b, dim=0)[target]
    (expected,) = torch.autograd.grad(p, flat)
    answer, problem = _call(probability_gradient, name, W, b, x.detach().reshape(-1).clone(), target)
    if problem:
        print(problem)
        return False
    ok, why = _close(answer, expected, rtol=1e-4, atol=1e-7)
    if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape \
            and torch.allclose(answer, W[target], atol=1e-6):
        why = "that is the gradient of the score S_c, not of the probability p_c"
    return report(ok, name, why or "matches autograd")


# --- notebook 02: CNN saliency on MNIST -------------------------------------------------


def check_batched_saliency(my_saliency, model, x: torch.Tensor) -> bool:
    """Exercise 02.1: a batched saliency function without side effects.

    ``my_saliency(model, x)`` must return |dS_c/dx| for the predicted class of
    every digit of the batch, equal to :func:`helpers.saliency.gradient`, and
    leave ``x`` and the model's parameter gradients untouched.
    """
    name = "Exercise 1 (batched saliency)"
    if _not_attempted(my_saliency, name):
        return False
    expected = gradient(model, x)
    probe = x.detach().clone()
    answer, problem, left_in_parameters = _call_on_model(my_saliency, name, model, probe)
    if problem:
        print(problem)
        return False
    ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
    if not ok:
        return report(False, name, why)
    if probe.requires_grad or probe.grad is not None:
        return report(False, name, "your function changed the caller's x (requires_grad or .grad); work on a copy")
    if left_in_parameters:
        return report(False, name, "gradients were left in the model's parameters; use torch.autograd.grad")
    return report(True, name, f"same maps as helpers.saliency.gradient on {x.shape[0]} digits, no side effects")


def check_top_mass_share(top_share, saliency: torch.Tensor) -> bool:
    """Exercise 02.2: the share of saliency mass held by the top 5% of pixels.

    ``top_share(saliency, fraction)`` returns one share per map [B]; it is
    compared with :func:`helpers.metrics.top_mass_share` at three fractions.
    """
    name = "Exercise 2 (top-pixel share)"
    if _not_attempted(top_share, name):
        return False
    for fraction in (0.01, 0.05, 0.25):
        answer, problem = _call(top_share, name, saliency.clone(), fraction)
        if problem:
            print(problem)
            return False
        ok, why = _close(answer, top_mass_share(saliency, fraction), rtol=1e-4, atol=1e-6)
        if not ok:
            return report(False, name, f"at fraction {fraction}: {why}")
    return report(True, name, "matches helpers.metrics.top_mass_share at fractions 0.01, 0.05 and 0.25")


# --- notebook 04: LIME ------------------------------------------------------------------


def check_lime_kernel(lime_kernel) -> bool:
    """Exercise 04.1: LIME's proximity weights of coalitions.

    ``lime_kernel(coalitions, kernel_width)`` takes a bool tensor [n, M] and a
    width, and returns the weights [n]: the exponential kernel
    ``exp(-d**2 / (2 * kernel_width**2))`` of the cosine distance ``d`` of every
    coalition to the full coalition (``d = 1`` for the empty one). Compared with
    :func:`helpers.lime.exponential_kernel` of :func:`helpers.lime.cosine_distances`.
    """
    name = "Exercise 1 (LIME's kernel)"
    if _not_attempted(lime_kernel, name):
        return False
    Z = sample_coalitions(40, 9, seed=4)
    Z[1] = False  # the empty coalition is in the test too
    for width in (0.25, 1.0):
        answer, problem = _call(lime_kernel, name, Z.clone(), width)
        if problem:
            print(problem)
            return False
        expected = exponential_kernel(cosine_distances(Z), width)
        ok, why = _close(answer, expected, rtol=1e-5, atol=1e-7)
        if not ok:
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape and torch.allclose(
                    answer.double(), torch.exp(-cosine_distances(Z) ** 2 / width**2), atol=1e-6):
                why = "these are exp(-d^2 / w^2); lime takes the square root of that: exp(-d^2 / (2 w^2))"
            return report(False, name, f"at kernel_width {width}: {why}")
    return report(True, name, "matches helpers.lime's cosine distance and exponential kernel at widths 0.25 and 1")


def check_weighted_least_squares(weighted_least_squares) -> bool:
    """Exercise 04.2: the weighted linear fit at the heart of LIME (without the ridge penalty).

    ``weighted_least_squares(coalitions, values, sample_weights)`` returns the
    coefficients [M] of the weighted least-squares fit of ``values`` on the 0/1
    coalitions WITH an intercept; compared with
    :func:`helpers.lime.weighted_ridge` at ``alpha=0``.
    """
    name = "Exercise 2 (weighted least squares)"
    if _not_attempted(weighted_least_squares, name):
        return False
    Z = sample_coalitions(200, 6, seed=1)
    generator = torch.Generator().manual_seed(2)
    values = Z.double() @ torch.tensor([1.5, -2.0, 0.0, 0.7, 3.0, -0.4], dtype=torch.float64) + 0.8 \
        + 0.3 * torch.randn(200, generator=generator, dtype=torch.float64)
    sample_weights = torch.rand(200, generator=generator, dtype=torch.float64) + 0.05
    expected, _, _ = weighted_ridge(Z, values, sample_weights, alpha=0.0)
    answer, problem = _call(weighted_least_squares, name, Z.clone(), values.clone(), sample_weights.clone())
    if problem:
        print(problem)
        return False
    ok, why = _close(answer, expected, rtol=1e-5, atol=1e-6)
    if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
        plain, _, _ = weighted_ridge(Z, values, torch.ones(200, dtype=torch.float64), alpha=0.0)
        if torch.allclose(answer.double(), plain, atol=1e-5):
            why = "these are the unweighted coefficients: multiply the rows (or their squared errors) by the weights"
    return report(ok, name, why or "matches helpers.lime.weighted_ridge(alpha=0) on a noisy 6-feature game")


def check_lime_fit(lime_fit) -> bool:
    """Exercise 04.3: LIME's fit, a weighted ridge regression with an unpenalised intercept.

    ``lime_fit(coalitions, values, sample_weights, alpha)`` takes bool coalitions
    [n, M], their worths [n] and proximity weights [n] (float64), and returns the
    coefficients w [M] that minimise
    ``sum_k pi_k (v_k - b - w . z_k)**2 + alpha * |w|**2`` over w and the intercept b
    (b is not penalised). Compared with :func:`helpers.lime.fit_lime` on LIME's own
    samples and kernel weights, at ``alpha`` = 1 (lime's default) and 0.05.
    """
    name = "Exercise 3 (LIME's fit)"
    if _not_attempted(lime_fit, name):
        return False
    Z = sample_coalitions(300, 7, seed=12)
    z = Z.double()
    generator = torch.Generator().manual_seed(13)
    values = 4.0 + z @ torch.tensor([1.5, -2.0, 0.0, 0.7, 3.0, -0.4, 1.1], dtype=torch.float64) \
        + 2.0 * z[:, 0] * z[:, 4] + 0.3 * torch.randn(300, generator=generator, dtype=torch.float64)
    kernel_width = 0.5
    weights = exponential_kernel(cosine_distances(Z), kernel_width)
    for alpha in (1.0, 0.05):
        expected = fit_lime(Z, values, kernel_width=kernel_width, alpha=alpha).weights
        answer, problem = _call(lime_fit, name, Z.clone(), values.clone(), weights.clone(), alpha)
        if problem:
            print(problem)
            return False
        ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
        if not ok:
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
                why = _lime_fit_mistake(answer.detach().double(), Z, values, weights, alpha, weighted_ridge) or why
            return report(False, name, f"at alpha={alpha}: {why}")
    return report(True, name, "matches helpers.lime.fit_lime at alpha = 1 and 0.05 on 300 samples of 7 features")


def _lime_fit_mistake(answer, Z, values, weights, alpha, weighted_ridge) -> str:
    """Name the usual slip of a wrong LIME fit, or return ''."""
    X = torch.cat([torch.ones(len(Z), 1, dtype=torch.float64), Z.double()], dim=1)

    def ridge(design):  # every coefficient penalised
        gram = design.T @ (weights[:, None] * design) + alpha * torch.eye(design.shape[1], dtype=torch.float64)
        return torch.linalg.solve(gram, design.T @ (weights * values))

    penalised_intercept, no_intercept = ridge(X)[1:], ridge(Z.double())
    candidates = [
        (weighted_ridge(Z, values, torch.ones_like(weights), alpha=alpha)[0],
         "these are the unweighted coefficients: weight every sample's squared error by its pi"),
        (weighted_ridge(Z, values, weights, alpha=0.0)[0], "the ridge penalty alpha * |w|^2 is missing"),
        (penalised_intercept, "the intercept is penalised too: leave it out of the penalty (a zero in the corner)"),
        (no_intercept, "the fit has no intercept: add a column of ones (or centre on the weighted means)"),
    ]
    for candidate, hint in candidates:
        if torch.allclose(answer, candidate, rtol=1e-4, atol=1e-6):
            return hint
    return ""


# --- notebook 03: beyond the plain gradient ---------------------------------------------


def check_gradient_x_input(my_gradient_x_input, model, x: torch.Tensor) -> bool:
    """Exercise 03.1: Gradient x Input from the plain gradient.

    ``my_gradient_x_input(model, x, target)`` returns the signed product
    ``x * dS_target/dx`` for a batch; compared with
    :func:`helpers.saliency.gradient_x_input` for the predicted classes.
    """
    name = "Exercise 1 (Gradient x Input)"
    if _not_attempted(my_gradient_x_input, name):
        return False
    target = predict(model, x).argmax(dim=1)
    expected = gradient_x_input(model, x, target)
    answer, problem = _call(my_gradient_x_input, name, model, x.detach().clone(), target.clone())
    if problem:
        print(problem)
        return False
    ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
    if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
        if torch.allclose(answer, x * gradient(model, x, target, absolute=True), atol=1e-6):
            why = "you multiplied x by the ABSOLUTE gradient; Gradient x Input keeps the gradient's sign"
        elif torch.allclose(answer, gradient(model, x, target, absolute=False), atol=1e-6):
            why = "that is the gradient alone; multiply it by the input"
    return report(ok, name, why or f"matches helpers.saliency.gradient_x_input on {x.shape[0]} inputs")


def check_trapezoid_weights(trapezoid_weights) -> bool:
    """Exercise 03.2a: the weights of the trapezoid rule on n equally spaced points of [0, 1].

    ``trapezoid_weights(n)`` returns a tensor [n] of weights ``w_k`` such that
    ``sum_k w_k f(k / (n - 1))`` approximates the integral of ``f`` over [0, 1];
    compared with :func:`helpers.saliency.path_quadrature` for n = 2, 3, 10 and 50.
    """
    name = "Exercise 2a (trapezoid weights)"
    if _not_attempted(trapezoid_weights, name):
        return False
    for n in (2, 3, 10, 50):
        answer, problem = _call(trapezoid_weights, name, n)
        if problem:
            print(problem)
            return False
        if isinstance(answer, (list, tuple)):
            answer = torch.tensor(answer, dtype=torch.float64)
        expected = path_quadrature("trapezoid", n)[1]
        ok, why = _close(answer, expected, rtol=1e-6, atol=1e-9)
        if not ok:
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape and \
                    abs(float(answer.double().sum()) - (n - 1) / n) < 1e-6:
                why = (f"your weights sum to (n - 1)/n = {(n - 1) / n:.3f}, not 1: n points from 0 to 1 are "
                       f"1/(n - 1) apart, not 1/n (the slip in Captum's riemann_trapezoid)")
            return report(False, name, f"for n = {n}: {why}")
    return report(True, name, "matches helpers.saliency.path_quadrature('trapezoid', n) for n = 2, 3, 10, 50")


def check_integrated_gradients(my_integrated_gradients, model, x: torch.Tensor) -> bool:
    """Exercise 03.2b: Integrated Gradients with the trapezoid rule, written from the formula.

    ``my_integrated_gradients(model, x, target, baseline, steps)`` returns
    ``(x - baseline) * sum_k w_k dS_target/dx (baseline + alpha_k (x - baseline))`` with
    ``alpha_k = k / (steps - 1)`` and the trapezoid weights ``w_k`` (``1 / (steps - 1)``,
    halved at both ends), for a batch ``x`` [B, ...], classes ``target`` [B] and a
    ``baseline`` shaped like ``x``. Compared with
    ``helpers.saliency.integrated_gradients(..., steps=steps, rule="trapezoid")`` on the
    first 8 rows of ``x``, for a black and a random baseline, at 5 and 16 steps.
    """
    name = "Exercise 2b (Integrated Gradients)"
    if _not_attempted(my_integrated_gradients, name):
        return False
    x = x[:8].detach()
    target = predict(model, x).argmax(dim=1)
    random_baseline = torch.rand(x.shape, generator=torch.Generator().manual_seed(3)).to(x.device, x.dtype)
    for baseline_name, baseline in (("black", torch.zeros_like(x)), ("random", random_baseline)):
        for steps in (5, 16):
            expected = integrated_gradients(model, x, target, baseline=baseline, steps=steps, rule="trapezoid")
            probe = x.clone()
            answer, problem, _ = _call_on_model(my_integrated_gradients, name, model, probe, target.clone(),
                                                baseline.clone(), steps)
            if problem:
                print(problem)
                return False
            ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
            if not ok:
                if isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
                    why = _integrated_gradients_mistake(answer.detach().to(x.dtype), model, x, target, baseline,
                                                        steps, gradient, path_quadrature) or why
                return report(False, name, f"with the {baseline_name} baseline and steps={steps}: {why}")
            if not torch.equal(probe, x) or probe.requires_grad:
                return report(False, name, "your function changed the caller's x; work on a detached copy")
    return report(True, name, "matches helpers.saliency.integrated_gradients(steps=n, rule='trapezoid') for two "
                              "baselines at n = 5 and 16")


def _integrated_gradients_mistake(answer, model, x, target, baseline, steps, gradient, path_quadrature) -> str:
    """Name the usual slip of a wrong Integrated Gradients answer, or return ''."""
    alphas, weights = path_quadrature("trapezoid", steps)
    grads = [gradient(model, baseline + float(a) * (x - baseline), target, absolute=False) for a in alphas]
    trapezoid = sum(float(w) * g for w, g in zip(weights, grads))
    plain_mean = sum(grads) / steps
    absolute = sum(float(w) * g.abs() for w, g in zip(weights, grads))
    candidates = [
        (trapezoid, "that is the average gradient along the path; multiply it by (x - baseline)"),
        (x * trapezoid, "multiply the average gradient by (x - baseline), not by x"),
        ((x - baseline) * plain_mean, "every point got the weight 1/steps; the trapezoid rule gives 1/(steps - 1), "
                                      "halved at the two ends"),
        ((x - baseline) * absolute, "use the signed gradient (absolute=False): attributions can be negative"),
    ]
    for candidate, hint in candidates:
        if torch.allclose(answer, candidate, rtol=1e-4, atol=1e-6):
            return hint
    return ""


def _smoothgrad_test_inputs(x: torch.Tensor) -> torch.Tensor:
    """Digits of range 1 and the same digits rescaled to [-1, 1] (range 2), in one batch."""
    x = x[:6].detach()
    return torch.cat([x, 2 * x[:3] - 1])


def check_smoothgrad(my_smoothgrad, model, x: torch.Tensor) -> bool:
    """Exercise 03.4a: SmoothGrad written from the formula, on given noise draws.

    ``my_smoothgrad(model, x, target, noise_level, noise)`` returns
    ``(1/n) sum_k |dS_target/dx (x + sigma * noise[k])|`` for a batch ``x`` [B, ...],
    classes ``target`` [B] and ``noise`` [n, ...]: ``n`` standard-normal draws of one
    example's shape, the same draws for every example, each scaled by that example's
    ``sigma = noise_level * (max x - min x)`` (the range of its own values). Compared with
    :func:`helpers.saliency.smoothgrad` (whose seed gives exactly these draws) on the first
    6 rows of ``x`` and 3 of them rescaled to [-1, 1], so that the range matters, at noise
    levels 0.15 and 0.3.
    """
    name = "Exercise 4a (SmoothGrad)"
    if _not_attempted(my_smoothgrad, name):
        return False
    batch = _smoothgrad_test_inputs(x)
    target = predict(model, batch).argmax(dim=1)
    n_samples, seed = 8, 5
    noise = indexed_normal(seed, range(n_samples), tuple(batch.shape[1:]), device=batch.device, dtype=batch.dtype)
    for noise_level in (0.15, 0.3):
        expected = smoothgrad(model, batch, target, noise_level=noise_level, n_samples=n_samples, seed=seed)
        probe = batch.clone()
        answer, problem, _ = _call_on_model(my_smoothgrad, name, model, probe, target.clone(), noise_level, noise.clone())
        if problem:
            print(problem)
            return False
        ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
        if not ok:
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
                why = _smoothgrad_mistake(answer.detach().to(batch.dtype), model, batch, target, noise_level, noise) or why
            return report(False, name, f"at noise level {noise_level}: {why}")
        if not torch.equal(probe, batch) or probe.requires_grad:
            return report(False, name, "your function changed the caller's x; add the noise to a copy")
    return report(True, name, f"matches helpers.saliency.smoothgrad on {len(batch)} inputs of ranges 1 and 2, "
                              f"{n_samples} copies, noise levels 0.15 and 0.3")


def _smoothgrad_mistake(answer, model, x, target, noise_level, noise) -> str:
    """Name the usual slip of a wrong SmoothGrad answer, or return ''."""
    flat = x.reshape(len(x), -1)
    shape = (-1,) + (1,) * (x.ndim - 1)
    own_range = (flat.amax(dim=1) - flat.amin(dim=1)).reshape(shape)

    def average(sigma, absolute=True):
        return sum(gradient(model, x + sigma * e, target, absolute=absolute) for e in noise) / len(noise)

    candidates = [
        (average(noise_level * own_range, absolute=False), "you averaged the signed gradients; SmoothGrad here averages "
                                                           "their magnitudes |dS/dx| (absolute=True)"),
        (average(torch.full_like(own_range, noise_level)), "the noise's standard deviation is noise_level times the "
                                                           "input's range (max - min), not noise_level itself"),
        (average(noise_level * (x.max() - x.min())), "take the range of each example's own values, not of the whole "
                                                      "batch"),
    ]
    for candidate, hint in candidates:
        if torch.allclose(answer, candidate, rtol=1e-4, atol=1e-6):
            return hint
    return ""


def check_grad_cam(my_grad_cam, model, x: torch.Tensor, layer) -> bool:
    """Exercise 03.4b: Grad-CAM written from the formula.

    ``my_grad_cam(model, x, target, layer)`` returns, for a batch ``x`` [B, C, H, W] and
    classes ``target`` [B], the map ``ReLU(sum_k alpha_k A^k)`` of the layer's feature maps
    ``A^k`` [B, K, h, w], with ``alpha_k`` the mean over (i, j) of ``dS_target/dA^k_ij``,
    upsampled bilinearly (``align_corners=False``) to H x W and repeated over the C channels:
    shaped like ``x``. Compared with :func:`helpers.saliency.grad_cam` on the first 8 rows of
    ``x`` for the predicted classes and for class 3; the layer must be left without hooks and
    the model's parameters without gradients.
    """
    name = "Exercise 4b (Grad-CAM)"
    if _not_attempted(my_grad_cam, name):
        return False
    x = x[:8].detach()
    hooks_before = len(layer._forward_hooks)
    for target_name, target in (("the predicted classes", predict(model, x).argmax(dim=1)),
                                ("class 3", torch.full((len(x),), 3))):
        expected = grad_cam(model, x, target, layer=layer)
        probe = x.clone()
        answer, problem, left_in_parameters = _call_on_model(my_grad_cam, name, model, probe, target.clone(), layer)
        hooks_left = len(layer._forward_hooks) - hooks_before
        for key in list(layer._forward_hooks)[hooks_before:]:
            del layer._forward_hooks[key]
        if problem:
            print(problem)
            return False
        if hooks_left:
            return report(False, name, f"your function left {hooks_left} hook(s) on the layer: keep the handle that "
                                       "register_forward_hook returns and call its .remove()")
        ok, why = _close(answer, expected, rtol=1e-4, atol=1e-6)
        if not ok:
            if isinstance(answer, torch.Tensor):
                why = _grad_cam_mistake(answer.detach(), model, x, target, layer) or why
            return report(False, name, f"for {target_name}: {why}")
        if left_in_parameters:
            return report(False, name, "gradients were left in the model's parameters; use torch.autograd.grad")
        if not torch.equal(probe, x) or probe.requires_grad:
            return report(False, name, "your function changed the caller's x; work on a copy")
    return report(True, name, f"matches helpers.saliency.grad_cam on {len(x)} digits, for the predicted classes and "
                              "for class 3, no hook and no gradient left behind")


def _grad_cam_mistake(answer, model, x, target, layer) -> str:
    """Name the usual slip of a wrong Grad-CAM answer, or return ''."""
    import torch.nn.functional as F

    saved = []
    hook = layer.register_forward_hook(lambda module, inputs, output: saved.append(output))
    try:
        with torch.enable_grad():
            scores = model(x)[torch.arange(len(x)), target]
            (grads,) = torch.autograd.grad(scores.sum(), saved[0])
    finally:
        hook.remove()
    maps = saved[0].detach()
    h, w = maps.shape[-2:]

    def cam(alpha, rectify=True):
        out = (alpha * maps).sum(dim=1, keepdim=True)
        out = F.relu(out) if rectify else out
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False).expand_as(x)

    alpha = grads.mean(dim=(2, 3), keepdim=True)
    if answer.shape == (len(x), 1, h, w) and (h, w) != tuple(x.shape[-2:]):
        return (f"your maps are {h} x {w}, the layer's size: upsample them to the input's {tuple(x.shape[-2:])} "
                "(F.interpolate, mode='bilinear', align_corners=False)")
    if answer.shape != x.shape:
        return f"expected the shape of x, {tuple(x.shape)}, got {tuple(answer.shape)}"
    candidates = [
        (cam(alpha, rectify=False), "the ReLU is missing: keep only the positive part of sum_k alpha_k A^k"),
        (cam(grads.sum(dim=(2, 3), keepdim=True)), f"alpha_k is the MEAN of the gradient over the {h} x {w} positions, "
                                                   "not its sum"),
        (cam(grads.abs().mean(dim=(2, 3), keepdim=True)), "alpha_k averages the signed gradient, not its magnitude"),
    ]
    for candidate, hint in candidates:
        if torch.allclose(answer.to(candidate.dtype), candidate, rtol=1e-4, atol=1e-6):
            return hint
    return ""


def check_randomisation_test(my_randomisation_test, model, x: torch.Tensor) -> bool:
    """Exercise 03.4c: the model randomisation test of Adebayo et al. (2018), one layer at a time.

    ``my_randomisation_test(model, x, target, layer_name, seed)`` re-initialises the layer
    ``layer_name`` of a COPY of ``model`` with the layer's own ``reset_parameters()``, the
    global generator seeded with ``seed`` inside :func:`helpers.seeding.seeded_global_rng`,
    and returns Spearman's rank correlation [B] between the saliency maps
    (:func:`helpers.saliency.gradient`, ``|dS/dx|``) of the model and of the copy, for the
    classes ``target`` [B]. Compared with :func:`helpers.metrics.cascading_randomisation`
    (``layers=[layer_name]``, measure ``"spearman_abs"``) for each randomisable layer of the
    model, on the first 16 rows of ``x``; the caller's model and random state must be left
    as they were (the checker puts them back if not).
    """
    name = "Exercise 4c (randomisation test)"
    if _not_attempted(my_randomisation_test, name):
        return False
    x = x[:16].detach()
    target = predict(model, x).argmax(dim=1)
    layers = [layer_name for layer_name, _ in randomisable_layers(model)]
    for layer_name in layers:
        expected = cascading_randomisation(model, x, gradient, target, layers=[layer_name], seed=7,
                                           similarities=("spearman_abs",)).similarity["spearman_abs"][1]
        state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        rng = torch.random.get_rng_state()
        answer, problem, _ = _call_on_model(my_randomisation_test, name, model, x.clone(), target.clone(), layer_name, 7)
        model_changed = any(not torch.equal(value, state[key]) for key, value in model.state_dict().items())
        rng_changed = not torch.equal(rng, torch.random.get_rng_state())
        if model_changed:
            model.load_state_dict(state)
        if rng_changed:
            torch.random.set_rng_state(rng)
        if problem:
            print(problem)
            return False
        if model_changed:
            return report(False, name, f"your function re-initialised the caller's model (put back by the checker): "
                                       f"randomise a copy, copy.deepcopy(model)")
        if rng_changed:
            return report(False, name, "your function moved the global random state (put back by the checker): "
                                       "re-initialise inside `with seeded_global_rng(seed):`")
        if isinstance(answer, torch.Tensor):
            answer = answer.detach().reshape(-1)
        ok, why = _close(answer, expected, rtol=1e-6, atol=1e-6)
        if not ok:
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape and torch.allclose(
                    answer.double(), torch.ones_like(expected)):
                why = "every correlation is 1: compare the ORIGINAL model's maps with the randomised copy's"
            elif isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
                why += ("; re-initialise with layer.reset_parameters() inside `with seeded_global_rng(seed):`, "
                        "explain the same classes, and compare with rank_correlation")
            return report(False, name, f"randomising {layer_name}: {why}")
    return report(True, name, f"matches helpers.metrics.cascading_randomisation for the layers {layers} on {len(x)} "
                              "digits; the model and the random state are left as they were")


# --- notebook 05: SHAP ------------------------------------------------------------------


def check_glove_game(answer) -> bool:
    """Exercise 05.1a: the Shapley values of the glove game, by hand.

    Ana holds a left glove, Ben and Cai a right glove each; a coalition is worth 1
    if it can make a pair (Ana and at least one of the others), else 0.
    ``answer`` is ``[phi_Ana, phi_Ben, phi_Cai]`` (a list or tensor); compared
    with :func:`helpers.shapley.exact_shapley` to 1e-3.
    """
    name = "Exercise 1a (the glove game)"
    if _not_attempted(answer, name):
        return False
    worths = {(): 0, ("Ana",): 0, ("Ben",): 0, ("Cai",): 0, ("Ana", "Ben"): 1, ("Ana", "Cai"): 1,
              ("Ben", "Cai"): 0, ("Ana", "Ben", "Cai"): 1}
    expected = exact_shapley(TableGame(worths, players=["Ana", "Ben", "Cai"]))
    try:
        values = torch.as_tensor(answer, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        return report(False, name, f"give three numbers [Ana, Ben, Cai]; got {answer!r}")
    if values.numel() != 3:
        return report(False, name, f"give three numbers [Ana, Ben, Cai]; got {values.numel()}")
    if abs(float(values.sum()) - 1.0) > 1e-3:
        return report(False, name, f"they sum to {float(values.sum()):.3f}; efficiency says they must sum to "
                                   "v(all) - v(nobody) = 1")
    if abs(float(values[1] - values[2])) > 1e-3:
        return report(False, name, "Ben and Cai are interchangeable in this game (symmetry): they must get the same")
    if not torch.allclose(values, expected, atol=1e-3):
        return report(False, name, "count, over the 6 orders of arrival, in how many Ana completes the first pair")
    return report(True, name, "Ana 2/3, Ben and Cai 1/6 each: Ana completes the pair in 4 of the 6 orders")


def check_shapley_kernel(shapley_kernel) -> bool:
    """Exercise 05.2a: the Shapley kernel, KernelSHAP's weight of a coalition of a given size.

    ``shapley_kernel(n_players, size)`` returns
    ``(M - 1) / (binom(M, size) * size * (M - size))`` for ``0 < size < M``;
    checked for M = 2..12 and every such size.
    """
    import math

    name = "Exercise 2a (the Shapley kernel)"
    if _not_attempted(shapley_kernel, name):
        return False
    for n_players in range(2, 13):
        for size in range(1, n_players):
            answer, problem = _call(shapley_kernel, name, n_players, size)
            if problem:
                print(problem)
                return False
            expected = (n_players - 1) / (math.comb(n_players, size) * size * (n_players - size))
            try:
                value = float(answer)
            except (TypeError, ValueError):
                return report(False, name, f"return a number; got {type(answer).__name__} for M={n_players}, size={size}")
            if not math.isclose(value, expected, rel_tol=1e-9):
                hint = ""
                if math.isclose(value, (n_players - 1) / (size * (n_players - size)), rel_tol=1e-9):
                    hint = ": that is the weight of a whole size; divide by the binom(M, size) coalitions of that size"
                return report(False, name, f"M={n_players}, size={size}: expected {expected:.6g}, got {value:.6g}{hint}")
    return report(True, name, "matches (M - 1) / (binom(M, s) s (M - s)) for M = 2..12, every size 0 < s < M")


def _kernel_shap_test_game():
    """An 8-player game with a pairwise, a fourth-order and a threshold interaction (exact values known)."""
    linear = torch.tensor([0.9, 2.1, -0.4, -1.0, -0.2, -0.5, 0.5, 0.3], dtype=torch.float64)

    def worth(Z):
        z = Z.double()
        return z @ linear + 2.0 * z[:, :4].prod(dim=1) - 1.5 * (z.sum(dim=1) >= 6).double() + z[:, 4] * z[:, 6]

    return FunctionGame(worth, 8)


def check_kernel_shap(my_kernel_shap, *, budget: int = 1000, seeds: int = 8) -> bool:
    """Exercise 05.2b: KernelSHAP written from the regression, checked against exact Shapley values.

    ``my_kernel_shap(game, budget, seed)`` returns one value per player [M], using at
    most ``budget`` evaluations of ``game`` (v(empty) and v(full) included). It must
    be efficient (the values add up to v(full) - v(empty), to 1e-6) and, on an
    8-player game with interactions up to fourth order, its mean squared relative
    error over ``seeds`` seeds must be at most 2.5 times that of
    :func:`helpers.textbook.kernel_shap` on the same seeds and budget (its error is
    sampling noise, which falls like 1/budget; a wrong kernel leaves a bias that
    does not).
    """
    name = "Exercise 2b (KernelSHAP)"
    if _not_attempted(my_kernel_shap, name):
        return False
    game = _kernel_shap_test_game()
    exact = exact_shapley(game).double()
    total = float(exact.sum())
    reference = sum(relative_error(kernel_shap(game, budget=budget, seed=seed), exact) for seed in range(seeds)) / seeds
    errors = []
    for seed in range(seeds):
        game.reset_counts()
        answer, problem = _call(my_kernel_shap, name, game, budget, seed)
        if problem:
            print(problem)
            return False
        if not isinstance(answer, torch.Tensor) or answer.shape != (game.n_players,):
            shape = tuple(answer.shape) if isinstance(answer, torch.Tensor) else type(answer).__name__
            return report(False, name, f"return a tensor of {game.n_players} values, one per player; got {shape}")
        if game.n_evaluations > budget:
            return report(False, name, f"your function evaluated {game.n_evaluations} coalitions; the budget is {budget}, "
                                       "v(empty) and v(full) included")
        answer = answer.detach().double()
        if abs(float(answer.sum()) - total) > 1e-6 * max(1.0, abs(total)):
            return report(False, name, f"seed {seed}: the values add up to {float(answer.sum()):.4f}, not to "
                                       f"v(full) - v(empty) = {total:.4f}; enforce efficiency as a constraint")
        errors.append(relative_error(answer, exact))
    mean = sum(errors) / seeds
    verdict = (f"mean squared relative error {mean:.1e} over {seeds} seeds at budget {budget} "
               f"(helpers.textbook.kernel_shap: {reference:.1e})")
    if mean > 2.5 * reference:
        return report(False, name, verdict + "; too far from the exact values: are the sizes drawn from the Shapley "
                                             "kernel, and the coalitions uniform within a size?")
    return report(True, name, "efficient, and " + verdict)


def check_baseline_background(background_worths) -> bool:
    """Exercise 05.3: the worth of a coalition when "absent" means "as in a background of many rows".

    ``background_worths(model, x, background, coalitions, target)`` takes a model of
    table rows, one row ``x`` [F], a background [R, F] and bool coalitions [n, F], and
    returns [n]: for each coalition, the model's target output averaged over the
    background rows, each row taking ``x``'s values on the present features and
    keeping its own on the absent ones (shap's interventional expectation).
    Compared, on a fresh MLP and data, with :class:`helpers.features.CoalitionGame`
    given ``background=`` the same rows; the empty coalition's worth is the mean
    prediction over the background, what shap labels E[f(X)].
    """
    name = "Exercise 3 (a background of rows)"
    if _not_attempted(background_worths, name):
        return False
    with seeded_global_rng(21):  # the test model must not move the notebook's random state
        model = MLP(5, 3, hidden=(16,)).eval()
    generator = torch.Generator().manual_seed(22)
    x = torch.randn(5, generator=generator)
    background = 1.5 * torch.randn(30, 5, generator=generator) + 0.5
    Z = ((torch.arange(32)[:, None] >> torch.arange(5)) & 1).bool()  # all 32 coalitions
    segments = tabular_segments(5)
    for target in (0, 2):
        expected = CoalitionGame(model, x, segments, background=background, target=target)(Z)
        answer, problem = _call(background_worths, name, model, x.clone(), background.clone(), Z.clone(), target)
        if problem:
            print(problem)
            return False
        ok, why = _close(answer, expected, rtol=1e-4, atol=1e-5)
        if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
            answer = answer.detach().to(expected.dtype)
            at_mean_row = CoalitionGame(model, x, segments, baseline=background.mean(dim=0), target=target)(Z)
            swapped = CoalitionGame(model, x, segments, background=background, target=target)(~Z)
            if torch.allclose(answer, at_mean_row, rtol=1e-4, atol=1e-5):
                why = ("that is the model at the mean row (one baseline); average the model's outputs over the rows "
                       "instead: for a nonlinear model the mean of f is not f of the mean")
            elif torch.allclose(answer, swapped, rtol=1e-4, atol=1e-5):
                why = "present and absent are swapped: present features keep x's values"
        if not ok:
            return report(False, name, f"for target {target}: {why}")
    return report(True, name, "matches helpers.features.CoalitionGame(background=...) on 30 background rows; "
                              "v(empty) is the mean prediction over the background, shap's E[f(X)]")


def _banzhaf(game) -> torch.Tensor:
    """The Banzhaf value: every coalition without i weighs the same, 1 / 2^(M-1) (the usual slip)."""
    M = game.n_players
    codes = torch.arange(2**M)
    Z = ((codes[:, None] >> torch.arange(M)) & 1).bool()
    v = game(Z).double()
    return torch.stack([(v[codes[~Z[:, i]] | (1 << i)] - v[codes[~Z[:, i]]]).mean() for i in range(M)])


def check_exact_shapley(my_exact_shapley) -> bool:
    """Exercise 05.1b: exact Shapley values by enumerating the coalitions of a game.

    ``my_exact_shapley(game)`` returns one value per player [M], using nothing but
    ``game.n_players`` and ``game(Z)`` (bool coalitions [n, M] in, worths [n] out):
    ``phi_i = sum over S without i of |S|! (M - |S| - 1)! / M! (v(S + i) - v(S))``.
    Compared with :func:`helpers.shapley.exact_shapley` to 1e-6 relative (float32 weights
    pass) on the market stall of
    notebook 05 (3 players), a weighted vote (5 players, one of them a dummy) and an
    8-player game with interactions up to the fourth order.
    """
    name = "Exercise 1b (exact Shapley values)"
    if _not_attempted(my_exact_shapley, name):
        return False
    stall = TableGame({(): 0, ("Ana",): 60, ("Ben",): 30, ("Cai",): 0, ("Ana", "Ben"): 90, ("Ana", "Cai"): 90,
                       ("Ben", "Cai"): 60, ("Ana", "Ben", "Cai"): 150}, players=["Ana", "Ben", "Cai"])
    cases = [(stall, "the market stall"), (weighted_voting_game([4, 2, 2, 1, 0], quota=5), "the weighted vote"),
             (_kernel_shap_test_game(), "the 8-player game")]
    evaluations = []
    for game, what in cases:
        expected = exact_shapley(game).double()
        game.reset_counts()
        answer, problem = _call(my_exact_shapley, name, game)
        if problem:
            print(problem)
            return False
        evaluations.append(game.n_evaluations)
        ok, why = _close(answer, expected, rtol=1e-6, atol=1e-8)
        if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
            answer = answer.detach().double()
            total = float(expected.sum())
            if torch.allclose(answer, _banzhaf(game), rtol=1e-6, atol=1e-8):
                why = ("that is the Banzhaf value (every coalition weighs the same); weigh the coalition S by "
                       "|S|! (M - |S| - 1)! / M!, the share of orders in which exactly S arrives before i")
            elif torch.allclose(answer, -expected, rtol=1e-6, atol=1e-8):
                why = "the sign is flipped: the marginal contribution is v(S with i) - v(S without i)"
            elif abs(float(answer.sum()) - total) > 1e-6 * max(1.0, abs(total)):
                why += f"; the values add up to {float(answer.sum()):.4g}, not to v(N) - v(empty) = {total:.4g}"
        if not ok:
            return report(False, name, f"on {what}: {why}")
    return report(True, name, "matches helpers.shapley.exact_shapley on games of 3, 5 and 8 players "
                              f"({', '.join(str(n) for n in evaluations)} coalitions evaluated)")


# --- notebook 06: the comparison --------------------------------------------------------


def check_deletion_curve(my_deletion_curve) -> bool:
    """Exercise 06.1: ``my_deletion_curve(game, attributions)`` for ``step=1``.

    Checked against :func:`helpers.metrics.deletion_curve` on additive games (where the
    curve is known: the total minus the removed values), with tied attributions (ties go
    to the lower index first), and on a game with interactions; the answer must be a
    tensor [M + 1] from the full coalition down to the empty one.
    """
    name = "Exercise 1 (the deletion curve)"
    if _not_attempted(my_deletion_curve, name):
        return False
    generator = torch.Generator().manual_seed(6)
    cases = []
    for n_players in (3, 7, 12):
        weights = torch.randn(n_players, generator=generator, dtype=torch.float64)
        cases.append((FunctionGame(lambda Z, w=weights: Z.double() @ w, n_players), weights.clone(), "an additive game"))
    tied = torch.tensor([1.0, 3.0, 1.0, 3.0, 0.0], dtype=torch.float64)
    cases.append((FunctionGame(lambda Z: Z.double() @ torch.arange(1.0, 6.0, dtype=torch.float64), 5), tied,
                  "tied attributions (the lower index goes first)"))
    cases.append((FunctionGame(lambda Z: (Z[:, 0] & Z[:, 1]).double() * 4 + Z[:, 2].double(), 4),
                  torch.tensor([0.5, 2.0, 1.0, -1.0], dtype=torch.float64), "a game with an interaction"))
    for game, attributions, what in cases:
        answer, problem = _call(my_deletion_curve, name, game, attributions.clone())
        if problem:
            print(problem)
            return False
        expected = deletion_curve(game, attributions)
        ok, why = _close(answer, expected, rtol=1e-9, atol=1e-9)
        if not ok:
            hint = ""
            if isinstance(answer, torch.Tensor) and answer.shape == expected.shape and torch.allclose(
                    answer.double(), expected.flip(0)):
                hint = " (the curve runs backwards: start from the full coalition and remove players)"
            return report(False, name, f"on {what}: {why}{hint}")
    return report(True, name, "matches helpers.metrics.deletion_curve on additive games, ties and an interaction")


# --- notebook 08: text ---------------------------------------------------------------------------


def _toy_text():
    """A word model and a text with special tokens and a word of two tokens (for the text exercises)."""
    with seeded_global_rng(0):  # the toy model must not move the notebook's random state
        model = WordModel(build_vocabulary(["a b c d e f g h"], min_count=1), dim=4, hidden=None).eval()
    tokens = TokenizedText(("sea", "shore", "now"), torch.tensor([2, 3, 4, 5, 6, 7]),
                           torch.tensor([-1, 0, 1, 1, 2, -1]))
    return model, tokens


def check_mask_words(mask_words) -> bool:
    """Exercise 08.1: the token ids of a coalition of words, absent words masked.

    ``mask_words(ids, word_of_token, coalition, mask_id)`` returns new ids ``[T]``
    where every token of a word that is absent from ``coalition`` (bool ``[M]``)
    is ``mask_id`` and special tokens (``word_of_token == -1``) are kept; the
    caller's ``ids`` must not change. Compared with
    :meth:`helpers.text.WordGame.token_batch` for every coalition of a text with
    special tokens and a word of two tokens.
    """
    import itertools

    name = "Exercise 1 (masking words)"
    if _not_attempted(mask_words, name):
        return False
    model, tokens = _toy_text()
    game = WordGame(model, tokens, absent="mask")
    mask_id = 99
    model.mask_id = mask_id  # an id no real token has, so that a mistake shows
    try:
        for bits in itertools.product([False, True], repeat=tokens.n_words):
            coalition = torch.tensor(bits)
            expected = game.token_batch(coalition[None])[0][0]
            ids = tokens.ids.clone()
            answer, problem = _call(mask_words, name, ids, tokens.word_of_token.clone(), coalition.clone(), mask_id)
            if problem:
                print(problem)
                return False
            if not torch.equal(ids, tokens.ids):
                return report(False, name, "your function changed the ids it was given; build a new tensor")
            ok, why = _close(answer, expected, rtol=0, atol=0)
            if not ok:
                hint = ""
                if isinstance(answer, torch.Tensor) and answer.shape == expected.shape and (answer[[0, -1]] == mask_id).any():
                    hint = " ([CLS] and [SEP], word_of_token -1, are never masked)"
                return report(False, name, f"coalition {[int(b) for b in bits]}: {why}{hint}")
    finally:
        model.mask_id = 0
    return report(True, name, f"matches WordGame.token_batch on all {2 ** tokens.n_words} coalitions")


def check_word_pooling(word_scores_from_tokens) -> bool:
    """Exercise 08.2: one score per word from one score per token (sum over a word's tokens).

    ``word_scores_from_tokens(token_scores, word_of_token, n_words)`` returns a
    tensor ``[n_words]``; compared with :func:`helpers.text.pool_tokens`
    (``reduce="sum"``), which keeps Integrated Gradients' completeness.
    """
    name = "Exercise 2 (word scores from token scores)"
    if _not_attempted(word_scores_from_tokens, name):
        return False
    _, tokens = _toy_text()
    generator = torch.Generator().manual_seed(1)
    token_scores = torch.randn(tokens.ids.shape[0], generator=generator, dtype=torch.float64)
    expected = pool_tokens(token_scores, tokens)
    answer, problem = _call(word_scores_from_tokens, name, token_scores.clone(), tokens.word_of_token.clone(), tokens.n_words)
    if problem:
        print(problem)
        return False
    ok, why = _close(answer, expected, rtol=1e-6, atol=1e-9)
    if not ok and isinstance(answer, torch.Tensor) and answer.shape == expected.shape:
        if torch.allclose(answer.double(), torch.tensor([token_scores[1], token_scores[2], token_scores[4]])):
            why = "you kept only the first token of each word; add up all of a word's tokens"
    return report(ok, name, why or "matches helpers.text.pool_tokens on a word of two tokens, special tokens left out")


def check_centre_of_mass(centre_of_mass) -> bool:
    """Exercise 07.1: the intensity-weighted centre of mass of a digit.

    ``centre_of_mass(digit)`` takes one digit ``[1, 28, 28]`` and returns ``(row, column)``, the mean
    row and column of its pixels weighted by their values (MNIST centres its digits on this point);
    compared with the course's own computation on bundled test digits and on a digit drawn off-centre.
    """
    name = "Exercise 1 (centre of mass)"
    if _not_attempted(centre_of_mass, name):
        return False
    X, _ = load_mnist("test")
    drawn = torch.from_numpy(draw_strokes([[(20, 30), (60, 90)]], size=28 * 4, width=8))
    drawn = torch.nn.functional.avg_pool2d(drawn[None, None], 4)[0]
    grid = torch.arange(28, dtype=torch.float64)
    for digit in [X[0], X[1], X[17], drawn]:
        image = digit[0].double()
        expected = (float((image.sum(dim=1) * grid).sum() / image.sum()), float((image.sum(dim=0) * grid).sum() / image.sum()))
        answer, problem = _call(centre_of_mass, name, digit.clone())
        if problem:
            print(problem)
            return False
        try:
            row, column = (float(v) for v in answer)
        except (TypeError, ValueError):
            return report(False, name, f"return a pair (row, column) of numbers; got {answer!r}")
        if abs(row - expected[1]) < 1e-4 and abs(column - expected[0]) < 1e-4 and abs(row - column) > 1e-4:
            return report(False, name, "row and column are swapped: the row index runs down the image (dim 1 of [1, H, W])")
        if abs(row - expected[0]) > 1e-4 or abs(column - expected[1]) > 1e-4:
            return report(False, name, f"expected ({expected[0]:.3f}, {expected[1]:.3f}), got ({row:.3f}, {column:.3f}); "
                                       "weight each row and column index by the pixel values and divide by their sum")
    return report(True, name, "matches on 3 test digits and a drawing; MNIST puts this point at (13.5, 13.5)")


def _first_disagreement(model, X: torch.Tensor) -> int | None:
    """The index of the first digit whose top patch by the gradient differs from its top patch by exact SHAP."""
    patches = grid_segments((28, 28), 7)
    targets = predict(model, X).argmax(dim=1)
    by_gradient = segment_sums(gradient(model, X, targets), patches).argmax(dim=1)
    for i, (x, target) in enumerate(zip(X, targets.tolist())):
        game = CoalitionGame(model, x, patches, baseline=0.0, target=target)
        if int(exact_shapley_skipping_dummies(game).argmax()) != int(by_gradient[i]):
            return i
    return None


def check_disagreeing_digit(disagreeing_digit, model) -> bool:
    """Exercise 07.4: the first digit on which the gradient and exact SHAP disagree about the top patch.

    ``disagreeing_digit(model, X)`` returns the index (an int) of the first digit of ``X`` whose
    most positive patch by the plain gradient summed over the 4 x 4 grid of 7 x 7 patches differs
    from its most positive patch by exact SHAP (black baseline, the logit), both for the class the
    model predicts; None if there is none. Checked on the first 40 test digits and on a reordering
    of them; the model is left as it was.
    """
    name = "Exercise 4 (disagreeing digit)"
    if _not_attempted(disagreeing_digit, name):
        return False
    X, _ = load_mnist("test")
    for digits in (X[:40], X[:40].flip(0)):
        expected = _first_disagreement(model, digits)
        answer, problem, _ = _call_on_model(disagreeing_digit, name, model, digits.clone())
        if problem:
            print(problem)
            return False
        if answer is not None and (isinstance(answer, bool) or not hasattr(answer, "__index__")):
            return report(False, name, f"return the index as an int (or None); got {answer!r}")
        if (None if answer is None else int(answer)) != expected:
            return report(False, name, f"expected digit {expected}, got {answer!r}; compare the argmax of "
                                       "segment_sums(gradient(...), patches) with the argmax of exact SHAP, per digit, "
                                       "for the predicted class")
    return report(True, name, f"digit {_first_disagreement(model, X[:40])} of the first 40 test digits is the first "
                              f"where the two top patches differ")


# --- notebook 09: TreeSHAP and DeepSHAP ----------------------------------------------------


def _test_trees():
    """Small regression trees (depth 2 to 6, some features split twice on a path) and rows to explain."""
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(9)
    cases = []
    for depth, n_features in [(2, 3), (4, 5), (6, 6)]:
        X = rng.normal(size=(300, n_features))
        y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, -1]) + (X[:, 0] > 0.5)
        tree = DecisionTreeRegressor(max_depth=depth, random_state=0).fit(X, y).tree_
        # fresh rows, float32 numbers (the trees compare in float32), as float64 arrays
        rows = rng.normal(size=(8, n_features)).astype(np.float32).astype(np.float64)
        cases.append((tree, rows[:4], rows[4:]))
    return cases


def _tree_game(tree, x: np.ndarray, r: np.ndarray) -> FunctionGame:
    """The tree game v(S) = f(x_S, r_-S) of one tree, as a coalition game."""
    def worth(Z: torch.Tensor) -> torch.Tensor:
        rows = np.where(Z.numpy(), x, r).astype(np.float32)
        return torch.from_numpy(tree.predict(rows).reshape(len(rows), -1)[:, 0].astype(np.float64))
    return FunctionGame(worth, len(x))


def check_tree_shap_one_row(tree_shap_one_row) -> bool:
    """Exercise 09.1: interventional TreeSHAP of one tree and one background row.

    ``tree_shap_one_row(tree, x, r)`` takes a fitted scikit-learn tree structure
    (``estimator.tree_``), a row ``x`` and a background row ``r`` (NumPy arrays [M]) and
    returns the M Shapley values of the tree game ``v(S) = f(x_S, r_-S)``. Compared, to
    1e-9, with exact enumeration of that game on three trees (depth 2, 4 and 6, with
    features split more than once on a path) and four pairs of rows each, none of which
    the notebook shows.
    """
    name = "Exercise 1 (TreeSHAP for one background row)"
    if _not_attempted(tree_shap_one_row, name):
        return False
    for tree, xs, rs in _test_trees():
        for x, r in zip(xs, rs):
            expected = exact_shapley(_tree_game(tree, x, r)).double()
            answer, problem = _call(tree_shap_one_row, name, tree, x.copy(), r.copy())
            if problem:
                print(problem)
                return False
            answer = torch.as_tensor(np.asarray(answer, dtype=np.float64)) if not isinstance(answer, torch.Tensor) else answer
            ok, why = _close(answer, expected, rtol=1e-9, atol=1e-9)
            if not ok and answer.shape == expected.shape:
                total = float(expected.sum())
                if abs(float(answer.sum()) - total) > 1e-9 * max(1.0, abs(total)):
                    why += (f"; your values add up to {float(answer.sum()):.4g}, not to f(x) - f(r) = {total:.4g}: "
                            "check the sign of the share of a feature that must come from r")
            if not ok:
                return report(False, name, f"on a tree of depth {tree.max_depth}: {why}")
    return report(True, name, "equals exact enumeration of the tree game on 3 trees and 12 pairs of rows")


def check_rescale_rule(rescale_multipliers) -> bool:
    """Exercise 09.2: DeepLIFT's rescale rule for one layer of an elementwise nonlinearity.

    ``rescale_multipliers(f, z, z_ref)`` takes the nonlinearity ``f`` (a function of a tensor) and the
    pre-activations of the input and of the reference, and returns the multipliers
    ``m = (f(z) - f(z_ref)) / (z - z_ref)``, with the derivative ``f'(z)`` where ``z == z_ref``.
    Checked on ReLU, tanh and softplus at fresh pre-activations, some of them equal to the reference:
    summation to delta ``m (z - z_ref) = f(z) - f(z_ref)`` and the derivative where they are equal.
    """
    name = "Exercise 2 (the rescale rule)"
    if _not_attempted(rescale_multipliers, name):
        return False
    generator = torch.Generator().manual_seed(19)
    z = torch.randn(6, 40, generator=generator, dtype=torch.float64)
    z_ref = torch.randn(6, 40, generator=generator, dtype=torch.float64)
    z_ref[:, :8] = z[:, :8]  # no step: the multiplier is the derivative
    for f, derivative, what in [(torch.relu, (z > 0).double(), "ReLU"),
                                (torch.tanh, 1 - torch.tanh(z) ** 2, "tanh"),
                                (torch.nn.functional.softplus, torch.sigmoid(z), "softplus")]:
        answer, problem = _call(rescale_multipliers, name, f, z.clone(), z_ref.clone())
        if problem:
            print(problem)
            return False
        if not isinstance(answer, torch.Tensor) or answer.shape != z.shape:
            return report(False, name, f"return a tensor shaped like z {tuple(z.shape)}; got "
                                       f"{getattr(answer, 'shape', type(answer).__name__)}")
        answer = answer.detach().double()
        if not bool(torch.isfinite(answer).all()):
            return report(False, name, f"{what}: some multipliers are NaN or infinite: where z equals z_ref, "
                                       "0 / 0 needs the derivative instead")
        moved = (answer * (z - z_ref))[:, 8:]
        if not torch.allclose(moved, (f(z) - f(z_ref))[:, 8:], atol=1e-9):
            return report(False, name, f"{what}: m (z - z_ref) must equal f(z) - f(z_ref) (summation to delta); "
                                       "the multiplier is the slope of the secant, not the derivative")
        if not torch.allclose(answer[:, :8], derivative[:, :8], atol=1e-5):
            return report(False, name, f"{what}: where z equals z_ref the multiplier must be the derivative f'(z)")
    return report(True, name, "the secant's slope on ReLU, tanh and softplus, and the derivative where there is no step")
