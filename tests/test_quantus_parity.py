"""Our faithfulness curves and sanity check against Quantus 0.6.0, on the same model and inputs.

Differences of definition, and how the comparison bridges them:

- ``quantus.PixelFlipping`` returns the curve AFTER each step (``M / features_in_step`` values; it asks for a
  step that divides M, ours also takes one that does not and ends with a shorter step);
  ``deletion_curve`` starts with the untouched input, so ours is one value longer: ``ours[1:]`` is theirs.
- Quantus orders the features with ``np.argsort(-a)``, which is not a stable sort: with tied
  attributions the two orders may differ. The attributions here have no ties (checked).
- Quantus's "black" baseline is the smallest value of the (perturbed) image: 0 for these digits, the
  game's ``baseline=0.0``. ``softmax=True`` (its default) is the game's ``output="probability"``.
- Quantus's AUC helper calls ``np.trapz``, which NumPy 2.4 removed: we compare curves, not its AUC.
- ``quantus.MPRT(seed=s)`` seeds PyTorch's global generator with ``s + 1`` before re-initialising
  each layer with ``reset_parameters()``; ``cascading_randomisation(seed=s + 1)`` does the same inside
  ``torch.random.fork_rng`` (the caller's random state is left alone, Quantus's is not: the Quantus
  calls below run inside ``fork_rng`` too).
- ``quantus.similarity_func.ssim`` compares the FLATTENED maps (a 1-D signal of 784 values, 1-D
  windows of 7), ours compares 28 x 28 images by default; the parity test gives ours the flattened
  maps. Both take ``data_range`` as the spread of the two maps together.

Both sides are deterministic on the CPU; they agree to 1e-6 (float32 forward passes in batches of
different sizes may differ in the last bits).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

quantus = pytest.importorskip("quantus")

from helpers.features import CoalitionGame, grid_segments  # noqa: E402
from helpers.metrics import (  # noqa: E402
    abs_rank_correlation,
    cascading_randomisation,
    deletion_curve,
    rank_correlation,
    structural_similarity,
)
from helpers.saliency import gradient  # noqa: E402

PIXELS = grid_segments((28, 28), 1)


@pytest.fixture(scope="module")
def batch(trained_cnn, mnist_test):
    x = mnist_test[0][:6]
    with torch.no_grad():
        targets = trained_cnn(x).argmax(dim=1)
    return x, targets


def _quantus_pixel_flipping(model, x, targets, attributions, step):
    metric = quantus.PixelFlipping(features_in_step=step, perturb_baseline="black", normalise=False, abs=False,
                                   disable_warnings=True, display_progressbar=False)
    model.eval()
    curves = metric(model=model, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=attributions.numpy(),
                    softmax=True, device="cpu", batch_size=64)
    return np.asarray(curves, dtype=np.float64)


@pytest.mark.parametrize("step", [1, 28, 49])  # Quantus asks for a step that divides 784
@pytest.mark.parametrize("kind", ["gradient", "random"])
def test_deletion_curve_is_quantus_pixel_flipping(trained_cnn, batch, step, kind):
    x, targets = batch
    if kind == "gradient":
        attributions = gradient(trained_cnn, x, targets, absolute=False)
    else:
        attributions = torch.rand(x.shape, generator=torch.Generator().manual_seed(step))
    for row in attributions.flatten(1):
        assert row.unique().numel() == row.numel()  # no ties: both sorts give one order
    theirs = _quantus_pixel_flipping(trained_cnn, x, targets, attributions, step)
    assert theirs.shape == (len(x), -(-784 // step))
    for i in range(len(x)):
        game = CoalitionGame(trained_cnn, x[i], PIXELS, baseline=0.0, target=int(targets[i]), output="probability")
        ours = deletion_curve(game, attributions[i].flatten(), step=step)
        assert ours.shape == (theirs.shape[1] + 1,) and float(ours[0]) == pytest.approx(game.full_score)
        assert np.abs(ours[1:].double().numpy() - theirs[i]).max() < 1e-6


def _quantus_mprt(model, x, targets, similarity, explain, seed):
    metric = quantus.MPRT(similarity_func=similarity, layer_order="top_down", seed=seed, abs=True, normalise=False,
                          disable_warnings=True, display_progressbar=False)
    model.eval()
    with torch.random.fork_rng(devices=[]):
        return metric(model=model, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=None, explain_func=explain,
                      explain_func_kwargs={}, device="cpu", softmax=False, batch_size=64)


def _explain_for_quantus(model, inputs, targets, **kwargs):
    return gradient(model, torch.as_tensor(inputs), torch.as_tensor(targets), absolute=False).numpy()


@pytest.mark.parametrize("seed", [42, 7])
def test_cascading_randomisation_is_quantus_mprt_spearman(trained_cnn, batch, seed):
    x, targets = batch
    before = {k: v.clone() for k, v in trained_cnn.state_dict().items()}
    theirs = _quantus_mprt(trained_cnn, x, targets, quantus.similarity_func.correlation_spearman,
                           _explain_for_quantus, seed)
    exact_ties = {"spearman": lambda a, b: rank_correlation(a.abs(), b.abs(), tie_tolerance=0.0)}  # Quantus's ties
    ours = cascading_randomisation(trained_cnn, x, gradient, targets, seed=seed + 1, similarities=exact_ties)
    assert ours.stages == ["original", "fc1", "conv1"] and list(theirs) == ours.stages
    for row, stage in enumerate(ours.stages):
        assert np.abs(ours.similarity["spearman"][row].numpy() - np.asarray(theirs[stage])).max() < 1e-6
    # the course's default ties values equal up to rounding (helpers.metrics.tied_ranks): a small, bounded difference
    tolerant = cascading_randomisation(trained_cnn, x, gradient, targets, seed=seed + 1,
                                       similarities={"spearman": abs_rank_correlation})
    assert np.abs(tolerant.similarity["spearman"].numpy() - ours.similarity["spearman"].numpy()).max() < 0.05
    assert float(ours.similarity["spearman"][-1].median()) < 0.9  # the test is not trivial: the maps do change
    assert all(torch.equal(v, before[k]) for k, v in trained_cnn.state_dict().items())  # neither touched the model


def test_cascading_randomisation_is_quantus_mprt_ssim_on_flattened_maps(trained_cnn, batch):
    x, targets = batch
    # Quantus 0.6.0's batched ssim returns a list, on which its MPRT calls .tolist(): a shim here, in the test,
    # turns the list into an array (the values are quantus's own)
    def quantus_ssim(a, b, batched=False, **kwargs):
        return np.asarray(quantus.similarity_func.ssim(a, b, batched=batched, **kwargs))

    theirs = _quantus_mprt(trained_cnn, x, targets, quantus_ssim, _explain_for_quantus, 42)
    flat = cascading_randomisation(trained_cnn, x, lambda m, xx, t: gradient(m, xx, t).flatten(1), targets, seed=43,
                                   similarities={"ssim": structural_similarity})
    for row, stage in enumerate(flat.stages):
        assert np.abs(flat.similarity["ssim"][row].numpy() - np.asarray(theirs[stage])).max() < 1e-6
    # on the 28 x 28 images (our default) SSIM uses 2-D windows: a different number, same direction
    images = cascading_randomisation(trained_cnn, x, gradient, targets, seed=43, similarities=("ssim",))
    assert not np.allclose(images.similarity["ssim"][1:].numpy(), flat.similarity["ssim"][1:].numpy())
