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

import torch

__all__ = [
    "report",
    "check_numerical_gradient",
    "check_probability_gradient",
    "check_batched_saliency",
    "check_top_mass_share",
    "check_lime_kernel",
    "check_weighted_least_squares",
    "check_glove_game",
    "check_shapley_kernel",
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
    from .saliency import gradient

    name = "Exercise 1 (batched saliency)"
    if _not_attempted(my_saliency, name):
        return False
    expected = gradient(model, x)
    probe = x.detach().clone()
    answer, problem = _call(my_saliency, name, model, probe)
    if problem:
        print(problem)
        return False
    left_in_parameters = any(p.grad is not None for p in model.parameters())
    for p in model.parameters():  # clean up, so that a wrong answer does not spoil later cells
        p.grad = None
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
    from .metrics import top_mass_share

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
    from .lime import cosine_distances, exponential_kernel, sample_coalitions

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
    from .lime import sample_coalitions, weighted_ridge

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


# --- notebook 03: beyond the plain gradient ---------------------------------------------


def check_gradient_x_input(my_gradient_x_input, model, x: torch.Tensor) -> bool:
    """Exercise 03.1: Gradient x Input from the plain gradient.

    ``my_gradient_x_input(model, x, target)`` returns the signed product
    ``x * dS_target/dx`` for a batch; compared with
    :func:`helpers.saliency.gradient_x_input` for the predicted classes.
    """
    from .models import predict
    from .saliency import gradient, gradient_x_input

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
    """Exercise 03.2: the weights of the trapezoid rule on n equally spaced points of [0, 1].

    ``trapezoid_weights(n)`` returns a tensor [n] of weights ``w_k`` such that
    ``sum_k w_k f(k / (n - 1))`` approximates the integral of ``f`` over [0, 1];
    compared with :func:`helpers.saliency.path_quadrature` for n = 2, 3, 10 and 50.
    """
    from .saliency import path_quadrature

    name = "Exercise 2 (trapezoid weights)"
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


# --- notebook 05: SHAP ------------------------------------------------------------------


def check_glove_game(answer) -> bool:
    """Exercise 05.1: the Shapley values of the glove game, by hand.

    Ana holds a left glove, Ben and Cai a right glove each; a coalition is worth 1
    if it can make a pair (Ana and at least one of the others), else 0.
    ``answer`` is ``[phi_Ana, phi_Ben, phi_Cai]`` (a list or tensor); compared
    with :func:`helpers.shapley.exact_shapley` to 1e-3.
    """
    from .shapley import TableGame, exact_shapley

    name = "Exercise 1 (the glove game)"
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
    """Exercise 05.2: the Shapley kernel, KernelSHAP's weight of a coalition of a given size.

    ``shapley_kernel(n_players, size)`` returns
    ``(M - 1) / (binom(M, size) * size * (M - size))`` for ``0 < size < M``;
    checked for M = 2..12 and every such size.
    """
    import math

    name = "Exercise 2 (the Shapley kernel)"
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
