"""Our LIME (helpers.lime) against the lime package's LimeImageExplainer, on the same work.

Both explain the same 224 x 224 photograph (scikit-image's "coffee", preprocessed
for EfficientNet-Lite0), with the same SLIC segmentation, model, baseline (each
hidden superpixel filled with its mean colour: lime's ``hide_color=None``),
target class, output (class probabilities) and ``num_samples``. Each side batches
the model its own default way: ours in chunks of ``game.batch_size`` rows (4 photographs
at 224 x 224), lime in ``batch_size=10``. Runs alternate (ours, lime, bare model) in one
process; medians are reported.

- A light model (average pooling and one linear layer), where LIME's own work
  (sampling, masking, the fit) dominates.
- The ImageNet model (EfficientNet-Lite0), where the model's evaluations dominate.

"Bare model" is the time of the model alone on the same number of rows, in our
chunk size, on one pre-built chunk of masked inputs: the floor that no LIME can beat.

Goals (issue 4): at least 10x faster than lime with the light model, and within
1.5x of the bare model time with the ImageNet model.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_lime.py [--repeats 5]
[--imagenet-repeats 3] [--samples 1000] [--threads N]``. On a machine shared with
other work, ``--threads 1`` gives steadier figures (PyTorch's OpenMP threads
slow down badly when the cores are oversubscribed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.data import load_photograph  # noqa: E402
from helpers.features import CoalitionGame, superpixels  # noqa: E402
from helpers.lime import (  # noqa: E402
    lime,
    lime_explanation,
    lime_package_coalitions,
    lime_package_image,
    sample_coalitions,
)
from helpers.models import load_imagenet_model  # noqa: E402
from helpers.seeding import seed_everything  # noqa: E402

LIME_BATCH_SIZE = 10  # lime's default


def light_model() -> nn.Module:
    """Average pooling to 14 x 14 and one linear layer to 1,000 classes: cheap per row."""
    seed_everything(0)
    return nn.Sequential(nn.AvgPool2d(16), nn.Flatten(), nn.Linear(3 * 14 * 14, 1000)).eval()


def ours(model, x, segments, target, n_samples, seed):
    game = CoalitionGame(model, x, segments, baseline="segment_mean", target=target, output="probability")
    return lime(game, n_samples=n_samples, seed=seed)


def theirs(model, x, segments, target, n_samples, seed):
    return lime_package_image(model, x, segments, target=target, n_samples=n_samples, seed=seed,
                              baseline="segment_mean", output="probability", batch_size=LIME_BATCH_SIZE).weights


def bare_model(model, x, segments, target, n_samples, seed):
    """The model alone on n_samples masked inputs (one pre-built chunk, evaluated n / batch times)."""
    game = CoalitionGame(model, x, segments, baseline="segment_mean", target=target, output="probability")
    size = game.batch_size
    chunk = game.inputs(sample_coalitions(size, game.n_players, seed=seed))
    start = time.perf_counter()
    with torch.no_grad():
        for done in range(0, n_samples, size):
            model(chunk[: min(size, n_samples - done)]).softmax(dim=1)
    return time.perf_counter() - start


def timed(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def compare(name, model, x, segments, target, n_samples, repeats):
    # same coalitions on both sides: the weights must agree to rounding
    game = CoalitionGame(model, x, segments, baseline="segment_mean", target=target, output="probability")
    check_samples = min(n_samples, 200)
    ref = lime_package_image(model, x, segments, target=target, n_samples=check_samples, seed=0)
    mine = lime_explanation(game, coalitions=lime_package_coalitions(check_samples, game.n_players, 0))
    difference = float((mine.weights - ref.weights).abs().max())
    print(f"\n{name}: {game.n_players} superpixels, target {target}, num_samples={n_samples}, chunks of "
          f"{game.batch_size} (ours, bare model) and {LIME_BATCH_SIZE} (lime), {repeats} alternating repeats")
    print(f"  parity on the same {check_samples} samples: max |our weight - lime's| = {difference:.1e}")
    ours(model, x, segments, target, 50, 0)  # warm-up
    times = {"ours": [], "lime": [], "bare model": []}
    for repeat in range(repeats):
        times["ours"].append(timed(ours, model, x, segments, target, n_samples, repeat))
        times["lime"].append(timed(theirs, model, x, segments, target, n_samples, repeat))
        times["bare model"].append(bare_model(model, x, segments, target, n_samples, repeat))
    median = {key: statistics.median(values) for key, values in times.items()}
    for key, value in median.items():
        print(f"  {key:>10}: median {value:7.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times[key])})")
    print(f"  lime / ours = {median['lime'] / median['ours']:.1f}x;  ours / bare model = "
          f"{median['ours'] / median['bare model']:.2f}x;  lime / bare model = {median['lime'] / median['bare model']:.2f}x")
    return median


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="alternating repeats with the light model")
    parser.add_argument("--imagenet-repeats", type=int, default=3, help="alternating repeats with EfficientNet-Lite0")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's)")
    parser.add_argument("--samples", type=int, default=1000, help="num_samples for both (lime's default: 1000)")
    parser.add_argument("--skip-imagenet", action="store_true")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    imagenet, preprocess, class_names = load_imagenet_model()
    x = preprocess(load_photograph("coffee"))[0]
    segments = superpixels(x, 50)
    with torch.no_grad():
        target = int(imagenet(x[None]).argmax())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; photograph 'coffee' {tuple(x.shape)}, "
          f"SLIC {int(segments.max()) + 1} superpixels; ImageNet class {target} ({class_names[target]})")

    light = compare("light model (AvgPool + Linear)", light_model(), x, segments, target, args.samples, args.repeats)
    ok_light = light["lime"] / light["ours"] >= 10
    print(f"  goal >= 10x faster than lime: {'met' if ok_light else 'NOT met'}")
    if not args.skip_imagenet:
        heavy = compare("ImageNet model (EfficientNet-Lite0)", imagenet, x, segments, target, args.samples,
                        args.imagenet_repeats)
        ok_heavy = heavy["ours"] / heavy["bare model"] <= 1.5
        print(f"  goal within 1.5x of the bare model time: {'met' if ok_heavy else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
