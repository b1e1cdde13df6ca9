"""Our faithfulness curves and cascading randomisation against Quantus, and against the floor.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_quantus.py``). Same work on both
sides, in this one process, the three contenders taking turns in an order that rotates every round
(after a warm-up round):

- **Pixel flipping / deletion** on 64 MNIST test digits of the course's ``SimpleCNN``, every pixel a
  feature, 1 and 28 features a step: ``helpers.metrics.deletion_curve`` (one ``CoalitionGame`` per
  digit, one batched game call per curve) against ``quantus.PixelFlipping`` (its default
  ``batch_size=64``: all 64 digits per step) and against **the floor**: the model alone (softmax
  included) on the same number of already masked rows, in the game's chunk size. The insertion
  curve is timed the same way (Quantus has no insertion metric; the floor is the same).
- **MPRT** (cascading parameter randomisation, top down, Spearman of ``|map|``) with the plain
  gradient as the explanation: ``helpers.metrics.cascading_randomisation`` against ``quantus.MPRT``
  and against the floor, the gradient passes it needs (the original and one per randomised layer:
  three ``gradient`` calls of 64 digits).

Goals (issue 9): deletion and insertion within 1.2x of the floor; MPRT within 1.2x of its gradient
passes; the ratio to Quantus is reported next to them. Both sides are checked to give the same
numbers (curves to 1e-6, similarities to 1e-6) before anything is timed.

Quantus's AUC helper calls ``np.trapz``, removed in NumPy 2.4; nothing here calls it (curves are
compared, not areas). Timings on a shared machine are noisy: medians of alternating runs, and the
ratio of the fastest runs for context. Nothing here is run by ``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

from helpers.data import load_mnist
from helpers.features import CoalitionGame, grid_segments
from helpers.metrics import (abs_rank_correlation, cascading_randomisation, curve_fractions, deletion_curve,
                             insertion_curve)
from helpers.models import SimpleCNN, train_classifier
from helpers.saliency import gradient
from helpers.seeding import seed_everything

PIXELS = grid_segments((28, 28), 1)


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def rotate(contenders: dict, *, rounds: int, warmup: int = 1) -> dict:
    """Seconds of every run of each contender; the order rotates every round."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(_timed(contenders[name]))
    return times


def _line(label: str, times: dict, goal: float) -> str:
    ours, quantus, floor = (statistics.median(times[k]) for k in ("ours", "quantus", "floor"))
    ratio = ours / floor
    return (f"{label:<34} ours {ours:7.3f} s | quantus {quantus:7.3f} s | floor {floor:7.3f} s | "
            f"ours/floor {ratio:4.2f} (goal <= {goal}: {'met' if ratio <= goal else 'MISSED'}) | "
            f"ours/quantus {ours / quantus:4.2f} | quantus/floor {quantus / floor:4.2f} | "
            f"fastest runs: ours/floor {min(times['ours']) / min(times['floor']):4.2f}, "
            f"ours/quantus {min(times['ours']) / min(times['quantus']):4.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8, help="training epochs of the SimpleCNN (notebooks: 8)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", default="1,28", help="features a step, comma-separated")
    parser.add_argument("--skip-mprt", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import quantus

    seed_everything(0)
    X_train, y_train = load_mnist("train")
    X_test, _ = load_mnist("test")
    model = SimpleCNN()
    train_classifier(model, X_train, y_train, epochs=args.epochs, seed=0, progress=False)
    model.eval()
    x = X_test[:args.digits]
    with torch.no_grad():
        targets = model(x).argmax(dim=1)
    maps = gradient(model, x, targets, absolute=False)
    x_np, y_np, a_np = x.numpy(), targets.numpy(), maps.numpy()
    probability = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    print(f"quantus {quantus.__version__}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.digits} digits, {args.rounds} rounds")

    for step in (int(v) for v in args.steps.split(",")):
        def games():
            return [CoalitionGame(model, x[i], PIXELS, baseline=0.0, target=int(targets[i]), output="probability")
                    for i in range(len(x))]

        def ours_deletion():
            return [deletion_curve(game, maps[i].flatten(), step=step) for i, game in enumerate(games())]

        def ours_insertion():
            return [insertion_curve(game, maps[i].flatten(), step=step) for i, game in enumerate(games())]

        metric = quantus.PixelFlipping(features_in_step=step, perturb_baseline="black", normalise=False, abs=False,
                                       disable_warnings=True, display_progressbar=False)

        def theirs():
            return metric(model=model, x_batch=x_np, y_batch=y_np, a_batch=a_np, softmax=True, device="cpu",
                          batch_size=64)

        # the floor: the model alone on the same number of masked rows, chunked like the game
        points = len(curve_fractions(784, step))
        chunk = games()[0].batch_size
        rows = torch.rand(chunk, 1, 28, 28)
        total = len(x) * points

        def floor():
            with torch.no_grad():
                for start in range(0, total, chunk):
                    probability(rows[:min(chunk, total - start)])
                for i in range(len(x)):  # each game's one forward pass on its digit
                    probability(x[i:i + 1])

        mine, reference = ours_deletion(), np.asarray(theirs())
        gap = max(float(np.abs(m[1:].double().numpy() - reference[i]).max()) for i, m in enumerate(mine))
        print(f"-- pixel flipping, {step} feature(s) a step: {points} points a curve, "
              f"{total:,} rows; largest |ours - quantus| {gap:.1e}")
        times = rotate({"ours": ours_deletion, "quantus": theirs, "floor": floor}, rounds=args.rounds)
        print(_line(f"deletion, step {step}", times, 1.2))
        times = rotate({"ours": ours_insertion, "quantus": theirs, "floor": floor}, rounds=args.rounds)
        print(_line(f"insertion, step {step} (quantus: deletion)", times, 1.2))

    if args.skip_mprt:
        return 0
    # MPRT: top down, Spearman of |map|, the plain gradient
    def explain(model, inputs, targets, **kwargs):
        return gradient(model, torch.as_tensor(inputs), torch.as_tensor(targets), absolute=False).numpy()

    mprt = quantus.MPRT(similarity_func=quantus.similarity_func.correlation_spearman, layer_order="top_down", seed=42,
                        abs=True, normalise=False, disable_warnings=True, display_progressbar=False)

    def theirs_mprt():
        with torch.random.fork_rng(devices=[]):
            return mprt(model=model, x_batch=x_np, y_batch=y_np, a_batch=None, explain_func=explain,
                        explain_func_kwargs={}, device="cpu", softmax=False, batch_size=64)

    def ours_mprt():
        return cascading_randomisation(model, x, gradient, targets, seed=43,
                                       similarities={"spearman_abs": abs_rank_correlation})

    def floor_mprt():
        for _ in range(3):  # the original and the two randomised layers
            gradient(model, x, targets)

    mine, reference = ours_mprt(), theirs_mprt()
    gap = max(float(np.abs(mine.similarity["spearman_abs"][row].numpy() - np.asarray(reference[stage])).max())
              for row, stage in enumerate(mine.stages))
    print(f"-- MPRT, layers {mine.stages[1:]}, {len(x)} digits; largest |ours - quantus| {gap:.1e}")
    times = rotate({"ours": ours_mprt, "quantus": theirs_mprt, "floor": floor_mprt}, rounds=args.rounds)
    print(_line("MPRT (Spearman |map|)", times, 1.2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
