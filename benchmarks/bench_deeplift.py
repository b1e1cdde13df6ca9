"""Our DeepLIFT and DeepSHAP against Captum's and shap's, on the same model, inputs and references.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_deeplift.py``). The model is the
course's ``SimpleCNN`` rewritten with an ``nn.ReLU`` module (the libraries hook modules; ours traces
the seed's ``F.relu`` as it is), so that all three compute the same numbers; the outputs are compared
before anything is timed. The implementations run alternately in this one process (the order flips
every round, after warm-up runs); the figures are the medians and their ratio ours / reference:

- ``deeplift`` vs Captum ``DeepLift``, a batch of digits against a black baseline;
- ``deep_shap`` vs Captum ``DeepLiftShap`` and vs shap ``DeepExplainer``, a few digits against a
  background of training digits.

Ours traces the model with ``torch.fx`` on every call (about a millisecond); that is part of its time.
Nothing here is run by ``make test``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
import torch.nn as nn

from bench_gradients import _row, alternate
from helpers.data import load_mnist
from helpers.saliency import deep_shap, deeplift
from helpers.seeding import seed_everything
from helpers.trained import load_course_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # Captum's and shap's notes about hooks and requires_grad
    import shap
    from captum.attr import DeepLift, DeepLiftShap

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    seed_everything(0)
    model = load_course_model("simple_cnn")
    modules = nn.Sequential(model.conv1, nn.ReLU(), nn.Flatten(), model.fc1).eval()
    X_train, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    digits = X_test[:64]
    targets = model(digits).argmax(1).detach()
    few, few_targets, background = digits[:8], targets[:8], X_train[:50]
    explainer = shap.DeepExplainer(modules, background)

    def shap_values():
        values = np.asarray(explainer.shap_values(few, check_additivity=False))
        return values[np.arange(len(few)), ..., few_targets.numpy()]

    lift, lift_shap = DeepLift(modules), DeepLiftShap(modules)
    checks = [
        ("deeplift vs Captum DeepLift", deeplift(model, digits, targets),
         lift.attribute(digits, baselines=torch.zeros_like(digits), target=targets)),
        ("deep_shap vs Captum DeepLiftShap", deep_shap(model, few, few_targets, background=background),
         lift_shap.attribute(few, baselines=background, target=few_targets)),
        ("deep_shap vs shap DeepExplainer", deep_shap(model, few, few_targets, background=background),
         torch.as_tensor(shap_values()).float()),
    ]
    for label, ours, theirs in checks:
        print(f"   {label}: outputs agree to {float((ours - theirs.detach()).abs().max() / ours.abs().max()):.1e} "
              "(largest difference / largest value)")

    rows = [
        (f"deeplift, {len(digits)} digits, vs DeepLift", lambda: deeplift(model, digits, targets),
         lambda: lift.attribute(digits, baselines=torch.zeros_like(digits), target=targets), "Captum"),
        (f"deep_shap, {len(few)} x {len(background)}, vs DeepLiftShap",
         lambda: deep_shap(model, few, few_targets, background=background),
         lambda: lift_shap.attribute(few, baselines=background, target=few_targets), "Captum"),
        (f"deep_shap, {len(few)} x {len(background)}, vs DeepExplainer",
         lambda: deep_shap(model, few, few_targets, background=background), shap_values, "shap"),
    ]
    for label, ours, reference, name in rows:
        times_ours, times_reference = alternate(ours, reference, rounds=args.rounds)
        print(_row(label, times_ours, times_reference, None, name), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
