"""Our KernelSHAP (helpers.shapley) against shap's KernelExplainer and Captum, on the diabetes MLP.

The model is notebook 05's: an MLP (10 -> 32 -> 32 -> 1) trained on scikit-learn's
diabetes data; a feature is absent when it takes its training mean. For several
test rows the exact Shapley values (1,024 coalitions) are the reference, and
every estimator gets the same number of model evaluations (``budget`` counts
every coalition the model is run on, the empty and the full one included):

- ours: ``kernel_shap(game, budget=m, seed=s)`` (paired, an optimised design
  relabelled by the seed at these budgets, efficiency exact, cubic surrogate),
  the same with ``surrogate=False``, and with ``design=False`` (leverage-score
  sampling, what the design replaces);
- ``permutation_shapley`` with ``(m - 2) // 9`` antithetic permutations;
- shap's ``KernelExplainer(l1_reg=False)`` on the model itself, with the training
  mean as background and ``nsamples = m - 2`` (shap evaluates the empty and the
  full coalition apart from its samples);
- Captum's ``KernelShap`` (``n_samples = m``) and ``ShapleyValueSampling``
  (``(m - 1) // 10`` permutations), both batched.

For each budget and seed the methods take turns in one process (alternating
blocks): each explains every row, one call at a time, timed from scratch
(building the game / the explainer included), before the next method's turn. Reported: the median over rows and seeds of the relative error
``||phi_hat - phi||^2 / ||phi||^2``, its interquartile range, and the median wall
time per explanation.

Goals (issue 5): our ``kernel_shap`` at budget m/2 reaches shap's median error at
budget m for m = 40, 80, 160, 320, and is never worse than shap at equal budget;
at least 5x less wall time than shap at equal budget.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_shap.py [--seeds 20] [--rows 10] [--turns call]``.
Writes ``benchmarks/results/shap_error_vs_budget.png``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.data import load_tabular  # noqa: E402
from helpers.features import CoalitionGame, tabular_segments  # noqa: E402
from helpers.models import MLP, train_regressor  # noqa: E402
from helpers.seeding import seed_everything  # noqa: E402
from helpers.shapley import exact_shapley, kernel_shap, permutation_shapley, relative_error  # noqa: E402

BUDGETS = [20, 40, 80, 160, 320]
RESULTS = Path(__file__).resolve().parent / "results"


def diabetes_model():
    """Notebook 05's regressor (about 0.1 s of training)."""
    seed_everything(0)
    data = load_tabular("diabetes")
    model = MLP(10, 1, hidden=(32, 32))
    train_regressor(model, data.X_train, data.y_train, epochs=20, seed=0, weight_decay=1e-2, progress=False)
    return model.eval(), data


def ours(model, x, baseline, budget, seed, surrogate=True, design=True):
    game = CoalitionGame(model, x, tabular_segments(x), baseline=baseline)
    return kernel_shap(game, budget=budget, seed=seed, surrogate=surrogate, design=design)


def permutations(model, x, baseline, budget, seed):
    game = CoalitionGame(model, x, tabular_segments(x), baseline=baseline)
    return permutation_shapley(game, n_permutations=max(1, (budget - 2) // (x.shape[0] - 1)), seed=seed)


def shap_kernel(model, x, baseline, budget, seed):
    import shap

    def predict(rows):
        with torch.no_grad():
            return model(torch.as_tensor(rows, dtype=torch.float32))[:, 0].double().numpy()

    np.random.seed(seed)
    explainer = shap.KernelExplainer(predict, baseline[None].double().numpy())
    values = explainer.shap_values(x[None].double().numpy(), nsamples=budget - 2, l1_reg=False, silent=True)
    return torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(-1))


def captum_kernel(model, x, baseline, budget, seed):
    from captum.attr import KernelShap

    torch.manual_seed(seed)
    with torch.no_grad():
        values = KernelShap(lambda rows: model(rows)[:, 0]).attribute(
            x[None], baselines=baseline[None], n_samples=budget, perturbations_per_eval=budget,
            feature_mask=torch.arange(x.shape[0])[None])
    return values[0].double()


def captum_sampling(model, x, baseline, budget, seed):
    from captum.attr import ShapleyValueSampling

    torch.manual_seed(seed)
    with torch.no_grad():
        values = ShapleyValueSampling(lambda rows: model(rows)[:, 0]).attribute(
            x[None], baselines=baseline[None], n_samples=max(1, (budget - 1) // x.shape[0]),
            perturbations_per_eval=budget, feature_mask=torch.arange(x.shape[0])[None])
    return values[0].double()


METHODS = {
    "ours kernel_shap": ours,
    "shap KernelExplainer": shap_kernel,
    "ours, no surrogate": lambda *a: ours(*a, surrogate=False),
    "ours, sampled (no design)": lambda *a: ours(*a, design=False),
    "ours permutation": permutations,
    "Captum KernelShap": captum_kernel,
    "Captum ShapleyValueSampling": captum_sampling,
}


def run(n_rows: int, n_seeds: int, turns: str = "block"):
    """Errors and seconds ``[budgets, rows, seeds]`` per method.

    ``turns="block"``: for each budget and seed every method explains all rows, one call at a time,
    then the next method takes its turn. ``turns="call"``: the methods take turns call by call (each
    call follows the other methods' calls on the same row, Captum's 25 ms ones included, so every
    method starts with caches the others have filled).
    """
    model, data = diabetes_model()
    baseline = data.X_train.mean(dim=0)
    rows = [data.X_test[r] for r in range(n_rows)]
    exact = [exact_shapley(CoalitionGame(model, x, tabular_segments(x), baseline=baseline)) for x in rows]
    errors = {name: np.zeros((len(BUDGETS), n_rows, n_seeds)) for name in METHODS}
    seconds = {name: np.zeros((len(BUDGETS), n_rows, n_seeds)) for name in METHODS}

    def one(name, b, r, s):
        start = time.perf_counter()
        estimate = METHODS[name](model, rows[r], baseline, BUDGETS[b], s)
        seconds[name][b, r, s] = time.perf_counter() - start
        errors[name][b, r, s] = relative_error(estimate, exact[r])

    for b, budget in enumerate(BUDGETS):
        for s in range(n_seeds):
            if turns == "block":
                for name in METHODS:
                    for r in range(n_rows):
                        one(name, b, r, s)
            else:
                for r in range(n_rows):
                    for name in METHODS:
                        one(name, b, r, s)
        print(f"budget {budget} done", flush=True)
    return errors, seconds


def report(errors, seconds) -> list[str]:
    lines = []
    names = list(METHODS)
    lines.append("median relative error ||phi_hat - phi||^2 / ||phi||^2 over rows and seeds (interquartile range):")
    lines.append("| budget | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for b, budget in enumerate(BUDGETS):
        cells = []
        for name in names:
            e = errors[name][b].ravel()
            cells.append(f"{np.median(e):.2e} ({np.percentile(e, 25):.1e}-{np.percentile(e, 75):.1e})")
        lines.append(f"| {budget} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("median wall time per explanation, ms (model evaluations included):")
    lines.append("| budget | " + " | ".join(names) + " | shap / ours |")
    lines.append("|---" * (len(names) + 2) + "|")
    for b, budget in enumerate(BUDGETS):
        times = {name: 1e3 * statistics.median(seconds[name][b].ravel()) for name in names}
        ratio = times["shap KernelExplainer"] / times["ours kernel_shap"]
        lines.append(f"| {budget} | " + " | ".join(f"{times[n]:.2f}" for n in names) + f" | {ratio:.1f}x |")
    lines.append("")
    ours_median = {budget: np.median(errors["ours kernel_shap"][b]) for b, budget in enumerate(BUDGETS)}
    shap_median = {budget: np.median(errors["shap KernelExplainer"][b]) for b, budget in enumerate(BUDGETS)}
    lines.append("goal 1, half the evaluations for the same accuracy (ours at m/2 <= shap at m):")
    for m in BUDGETS[1:]:
        ok = ours_median[m // 2] <= shap_median[m]
        lines.append(f"  m = {m:3d}: ours at {m // 2:3d} {ours_median[m // 2]:.2e} vs shap at {m:3d} "
                     f"{shap_median[m]:.2e} (ratio {ours_median[m // 2] / shap_median[m]:.2f}): "
                     f"{'met' if ok else 'NOT met'}")
    lines.append("goal 1b, never worse than shap at equal budget:")
    for m in BUDGETS:
        ok = ours_median[m] <= shap_median[m]
        lines.append(f"  m = {m:3d}: ours {ours_median[m]:.2e} vs shap {shap_median[m]:.2e} "
                     f"(shap / ours {shap_median[m] / ours_median[m]:.1f}x): {'met' if ok else 'NOT met'}")
    lines.append("goal 2, at least 5x less wall time than shap at equal budget:")
    for b, m in enumerate(BUDGETS):
        ratio = statistics.median(seconds["shap KernelExplainer"][b].ravel()) / statistics.median(
            seconds["ours kernel_shap"][b].ravel())
        lines.append(f"  m = {m:3d}: {ratio:.1f}x: {'met' if ratio >= 5 else 'NOT met'}")
    return lines


def plot(errors, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    styles = {"ours kernel_shap": ("C3", "o", "-"), "ours, no surrogate": ("C1", "o", "--"),
              "ours, sampled (no design)": ("C7", "o", ":"),
              "shap KernelExplainer": ("C0", "s", "-"), "ours permutation": ("C2", "^", ":"),
              "Captum KernelShap": ("C4", "v", "-."), "Captum ShapleyValueSampling": ("C5", "D", ":")}
    for name, (colour, marker, line) in styles.items():
        e = errors[name].reshape(len(BUDGETS), -1)
        ax.plot(BUDGETS, np.median(e, axis=1), color=colour, marker=marker, linestyle=line, label=name)
        ax.fill_between(BUDGETS, np.percentile(e, 25, axis=1), np.percentile(e, 75, axis=1), color=colour, alpha=0.12)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.minorticks_off()
    ax.set_xticks(BUDGETS)
    ax.set_xticklabels([str(b) for b in BUDGETS])
    ax.set_xlabel("budget (model evaluations)")
    ax.set_ylabel(r"relative error $\|\hat\phi - \phi\|^2 / \|\phi\|^2$")
    ax.set_title("Diabetes MLP, 10 features: median and quartiles over rows x seeds", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10, help="test rows explained (default 10)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per row and budget (default 20)")
    parser.add_argument("--turns", choices=("block", "call"), default="block",
                        help="methods alternate by blocks of rows (default) or call by call")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not redraw benchmarks/results/shap_error_vs_budget.png (for quick, small runs)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # Captum's and shap's own warnings; they do not change the numbers
    logging.getLogger("shap").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    start = time.perf_counter()
    errors, seconds = run(args.rows, args.seeds, args.turns)
    print(f"{args.rows} rows x {args.seeds} seeds x {len(BUDGETS)} budgets, turns by {args.turns}, "
          f"in {time.perf_counter() - start:.0f} s")
    print("\n".join(report(errors, seconds)))
    if not args.no_plot:
        plot(errors, RESULTS / "shap_error_vs_budget.png")
        print(f"plot: {RESULTS / 'shap_error_vs_budget.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
