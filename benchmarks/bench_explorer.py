"""Kernel-side latency of notebook 07's explorers: from a widget value change to the new image.

The explorers are built as in notebook 07 (the ``SimpleCNN`` trained with the course's recipe,
8 epochs, seed 0; the ImageNet model EfficientNet-Lite0) and run as in the browser: the explanation
on the explorer's worker thread, the images rendered to PNG and set on the ``ipywidgets.Image``. A
"change" sets a control's value from Python, exactly what the kernel does when a browser's change
arrives; the time runs from before the assignment until the new images and status line are set
(:meth:`helpers.explorer.DigitExplorer.wait` returns). Each change shows a different test digit (or,
for the photograph, draws LIME's samples with a new seed), so nothing is reused from the previous one.

Beside each median: the same helper called directly on the same inputs (alternating with the
explorer's changes), so that what the explorer adds (the worker thread, the prediction bars, the
rendering) can be read off.

Goals (issue 10), medians on 2 cores:

- any gradient method on a digit (SmoothGrad and Integrated Gradients at their defaults included): <= 150 ms;
- LIME or KernelSHAP on a digit at their defaults: <= 300 ms;
- exact SHAP on 16 patches: <= 1 s;
- LIME on a photograph at 1,000 samples: reported, within 1.5x of the bare model's time on the same
  1,000 rows (in the game's chunk size, on pre-built masked inputs, as in bench_lime.py).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_explorer.py [--changes 21] [--threads 2]
[--photo-repeats 3] [--skip-photo]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import features, lime, saliency, shapley  # noqa: E402
from helpers.data import load_mnist  # noqa: E402
from helpers.explorer import DigitExplorer, PhotoExplorer  # noqa: E402
from helpers.models import SimpleCNN, load_imagenet_model, train_classifier  # noqa: E402
from helpers.seeding import seed_everything  # noqa: E402

GOALS = {"gradient": 0.150, "Gradient×Input": 0.150, "SmoothGrad": 0.150, "Integrated Gradients": 0.150,
         "Grad-CAM": 0.150, "LIME": 0.300, "KernelSHAP": 0.300, "exact SHAP (4×4)": 1.0}


def direct_call(model, X, i: int, method: str):
    """The helper the explorer calls, at the explorer's defaults, called directly."""
    x = X[i:i + 1]
    if method == "gradient":
        return saliency.gradient(model, x)
    if method == "Gradient×Input":
        return saliency.gradient_x_input(model, x)
    if method == "SmoothGrad":
        return saliency.smoothgrad(model, x, noise_level=0.15, n_samples=50, seed=0)
    if method == "Integrated Gradients":
        return saliency.integrated_gradients(model, x, return_info=True)
    if method == "Grad-CAM":
        return saliency.grad_cam(model, x, layer=model.conv1)
    size = 7
    game = features.CoalitionGame(model, X[i], features.grid_segments((28, 28), size), baseline=0.0)
    if method == "occlusion":
        return features.occlusion(game)
    if method == "LIME":
        return lime.lime(game, n_samples=1000, kernel_width=0.25, seed=0)
    if method == "KernelSHAP":
        return shapley.kernel_shap(game, budget=256, seed=0, design=False)
    return shapley.exact_shapley_skipping_dummies(game)  # as the explorer does: blank patches skipped, exact


def digit_latencies(explorer: DigitExplorer, model, X, changes: int) -> list[tuple[str, float, float, int]]:
    rows = []
    for method, _ in explorer.method.options:  # the labels, as the menu shows them (and GOALS names them)
        explorer.method.value = method
        explorer.wait()
        n = max(3, changes // 3) if method.startswith("exact") else changes
        ours, direct = [], []
        for k in range(n):
            i = 1 + (k % (len(X) - 1))
            if explorer.index.value == i:
                i = 0
            start = time.perf_counter()
            explorer.index.value = i
            result = explorer.wait()
            ours.append(time.perf_counter() - start)
            assert result.message == "", result.message
            start = time.perf_counter()
            direct_call(model, X, i, method)
            direct.append(time.perf_counter() - start)
        rows.append((method, statistics.median(ours), statistics.median(direct), n))
    return rows


def photo_latency(repeats: int):
    model, preprocess, class_names = load_imagenet_model()
    photos = PhotoExplorer(model, preprocess, class_names, photographs=["coffee"], layer=model._bn1)
    photos.wait(timeout=3600)
    photos.parameters["lime_samples"].value = 1000
    photos.method.value = "LIME"
    photos.wait(timeout=3600)
    x = photos._photos["coffee"][0]
    game = features.CoalitionGame(model, x[0], photos.segments_of("coffee", photos.parameters["n_segments"].value),
                                  baseline="segment_mean", target=photos.target.value, output="probability")
    coalitions = lime.sample_coalitions(1000, game.n_players, seed=0)
    chunk = game.inputs(coalitions[:game.batch_size])
    ours, bare = [], []
    for k in range(repeats):
        start = time.perf_counter()
        photos.parameters["seed"].value = k + 1
        result = photos.wait(timeout=3600)
        ours.append(time.perf_counter() - start)
        assert result.counts["forward_rows"] == 1001, result.counts
        start = time.perf_counter()
        with torch.no_grad():
            for _ in range(0, 1000, game.batch_size):
                model(chunk)
        bare.append(time.perf_counter() - start)
    photos.close()
    return statistics.median(ours), statistics.median(bare), game.n_players, game.batch_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=21, help="changes per method (a third for exact SHAP)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--photo-repeats", type=int, default=3)
    parser.add_argument("--skip-photo", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if not args.skip_digits:
        digit_table(args)
    if not args.skip_photo:
        ours, bare, players, chunk = photo_latency(args.photo_repeats)
        print(f"LIME on a photograph (coffee, {players} superpixels, 1,000 samples, chunks of {chunk}): explorer "
              f"{ours:.2f} s, bare model on 1,000 rows {bare:.2f} s, ratio {ours / bare:.2f}x "
              f"(goal <= 1.5x: {'met' if ours <= 1.5 * bare else 'MISSED'}); {args.photo_repeats} changes")


def digit_table(args) -> None:
    seed_everything(0)
    X_train, y_train = load_mnist("train")
    X_test, y_test = load_mnist("test")
    model = SimpleCNN()
    train_classifier(model, X_train, y_train, epochs=8, seed=0, progress=False)
    X, y = X_test[:200], y_test[:200]
    explorer = DigitExplorer(model, X, y)
    explorer.wait()
    print(f"Kernel-side latency, widget change -> new image; torch threads {args.threads}; medians")
    print(f"{'method (digit, defaults)':>26} | {'explorer':>9} | {'helper alone':>12} | changes | goal")
    for method, ours, direct, n in digit_latencies(explorer, model, X, args.changes):
        goal = GOALS.get(method)
        verdict = "" if goal is None else f"<= {goal * 1000:.0f} ms: {'met' if ours <= goal else 'MISSED'}"
        print(f"{method:>26} | {ours * 1000:6.1f} ms | {direct * 1000:9.1f} ms | {n:7d} | {verdict}")
    explorer.close()


if __name__ == "__main__":
    main()
