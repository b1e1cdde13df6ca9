"""Our gradient methods against Captum's, on the same model, batch and settings.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_gradients.py``). For each
pair the two implementations run alternately in this one process (the order flips
every round, after warm-up runs), and the script prints the median wall-clock time of
each, the ratio ours / reference, and the goal the issue set:

- ``gradient`` vs Captum ``Saliency``: at most 1.1x; and at most 2.5x one plain forward
  pass (no gradient) of the same batch;
- ``smoothgrad`` vs Captum ``NoiseTunnel(Saliency)`` (``nt_type="smoothgrad"``): at most 1.1x;
- ``integrated_gradients`` with fixed steps vs Captum ``IntegratedGradients``: at most 1.1x.

Models: the course's ``SimpleCNN`` on a batch of MNIST test digits, and
EfficientNet-Lite0 on a few photographs (gradient methods only where a run takes
seconds). Settings are matched exactly (same targets, noise standard deviation,
number of samples or steps, quadrature rule, and all rows in one pass on both sides);
the outputs are compared too, so that the timings are of the same computation.

Timings on a shared machine are noisy: the medians of alternating runs and their
ratios are the figures the goals are about; the ratio of the fastest runs is printed
beside them (other processes only ever add time, so it shows the cost of the
computation itself). A bare ``torch.autograd.grad`` with no checks is timed too: the
floor that any gradient method on this model stands on. Nothing here is run by
``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from helpers.data import load_mnist, load_photograph
from helpers.models import SimpleCNN, load_imagenet_model, predict, train_classifier
from helpers.saliency import gradient, integrated_gradients, smoothgrad
from helpers.seeding import seed_everything


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def alternate(ours, reference, *, rounds: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Seconds of every run of ``ours()`` and ``reference()``, run alternately (order flipped every round)."""
    for _ in range(warmup):
        ours()
        reference()
    times_ours, times_reference = [], []
    for r in range(rounds):
        if r % 2 == 0:
            times_ours.append(_timed(ours))
            times_reference.append(_timed(reference))
        else:
            times_reference.append(_timed(reference))
            times_ours.append(_timed(ours))
    return times_ours, times_reference


def _row(label: str, ours: list[float], reference: list[float], goal: float | None, reference_name: str) -> str:
    """Medians (the figures the goals are about) and, for context, the fastest runs of each."""
    median_ours, median_reference = statistics.median(ours), statistics.median(reference)
    ratio = median_ours / median_reference
    verdict = "" if goal is None else f" (goal <= {goal}: {'met' if ratio <= goal else 'MISSED'})"
    return (f"{label:<40} ours {median_ours * 1e3:9.2f} ms | {reference_name:>7} {median_reference * 1e3:9.2f} ms | "
            f"median ratio {ratio:5.2f}{verdict} | fastest-run ratio {min(ours) / min(reference):5.2f}")


def bench_model(name: str, model, x: torch.Tensor, target: torch.Tensor, *, n_samples: int, steps: int,
                sigma: float, noise_level: float, rounds: int, heavy_rounds: int) -> list[str]:
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    rows = x.shape[0]
    lines = [f"-- {name}: batch of {rows}, input {tuple(x.shape[1:])}"]
    saliency, tunnel, ig = Saliency(model), NoiseTunnel(Saliency(model)), IntegratedGradients(model)

    # same computation on both sides (checked, not assumed)
    difference = float((gradient(model, x, target) - saliency.attribute(x, target=target)).abs().max())
    ig_ours = integrated_gradients(model, x, target, steps=steps, rule="gauss_legendre", batch_size=rows * steps)
    ig_theirs = ig.attribute(x, target=target, n_steps=steps, method="gausslegendre")
    lines.append(f"   outputs agree: gradient max |diff| {difference:.1e}, "
                 f"integrated gradients max |diff| {float((ig_ours - ig_theirs).abs().max()):.1e}")

    def forward():
        with torch.no_grad():
            model(x)

    def bare_autograd():  # the floor: no checks, no copies, no eval-mode bookkeeping
        inputs = x.detach().clone().requires_grad_(True)
        (grads,) = torch.autograd.grad(model(inputs).gather(1, target[:, None]).sum(), inputs)
        return grads.abs()

    ours, theirs = alternate(lambda: gradient(model, x, target), lambda: saliency.attribute(x, target=target),
                             rounds=rounds)
    lines.append(_row("gradient vs Saliency", ours, theirs, 1.1, "Captum"))
    ours_again, plain = alternate(lambda: gradient(model, x, target), forward, rounds=rounds)
    lines.append(_row("gradient vs one plain forward pass", ours_again, plain, 2.5, "forward"))
    ours_again, bare = alternate(lambda: gradient(model, x, target), bare_autograd, rounds=rounds)
    lines.append(_row("gradient vs bare torch.autograd.grad", ours_again, bare, None, "bare"))

    ours, theirs = alternate(
        lambda: smoothgrad(model, x, target, noise_level=noise_level, n_samples=n_samples, batch_size=rows * n_samples),
        lambda: tunnel.attribute(x, nt_type="smoothgrad", nt_samples=n_samples, stdevs=sigma, target=target,
                                 nt_samples_batch_size=n_samples),
        rounds=heavy_rounds, warmup=1)
    lines.append(_row(f"smoothgrad ({n_samples} samples) vs NoiseTunnel", ours, theirs, 1.1, "Captum"))

    ours, theirs = alternate(
        lambda: integrated_gradients(model, x, target, steps=steps, rule="gauss_legendre", batch_size=rows * steps),
        lambda: ig.attribute(x, target=target, n_steps=steps, method="gausslegendre"),
        rounds=heavy_rounds, warmup=1)
    lines.append(_row(f"integrated_gradients ({steps} steps) vs IG", ours, theirs, 1.1, "Captum"))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="alternating rounds for the fast comparisons")
    parser.add_argument("--heavy-rounds", type=int, default=7, help="alternating rounds for SmoothGrad and IG")
    parser.add_argument("--skip-imagenet", action="store_true", help="leave out EfficientNet-Lite0")
    parser.add_argument("--skip-mnist", action="store_true", help="leave out the MNIST CNN")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", module=r"captum\..*")  # Captum's notes about setting requires_grad
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")

    seed_everything(0)
    if not args.skip_mnist:
        X_train, y_train = load_mnist("train")
        X_test, _ = load_mnist("test")
        cnn = SimpleCNN()
        train_classifier(cnn, X_train, y_train, epochs=2, seed=0, progress=False)
        digits = X_test[:256]
        lines = bench_model("SimpleCNN on MNIST", cnn, digits, predict(cnn, digits).argmax(1), n_samples=50,
                            steps=50, sigma=0.15, noise_level=0.15, rounds=args.rounds, heavy_rounds=args.heavy_rounds)
        for line in lines:
            print(line, flush=True)

    if not args.skip_imagenet:
        model, preprocess, _ = load_imagenet_model()
        photos = torch.cat([preprocess(load_photograph(name)) for name in ("coffee", "chelsea")])
        # all photographs span [-1, 1] after preprocessing, so 0.15 of the range is sigma 0.3 for both
        spans = photos.flatten(1).amax(1) - photos.flatten(1).amin(1)
        lines = bench_model("EfficientNet-Lite0 on photographs", model, photos, predict(model, photos).argmax(1),
                            n_samples=8, steps=8, sigma=float(0.15 * spans[0]), noise_level=0.15,
                            rounds=max(5, args.rounds // 2), heavy_rounds=max(5, args.heavy_rounds - 2))
        if not torch.allclose(spans, spans[0]):
            lines.append("   (note: the photographs' ranges differ, so the SmoothGrad noise is not identical)")
        for line in lines:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
