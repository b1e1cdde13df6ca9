"""Where a saliency map's mass lies: the regions of a digit and the shares."""

from __future__ import annotations

import pytest
import torch

from helpers.metrics import REGIONS, digit_regions, region_shares


def _square_digit():
    x = torch.zeros(1, 1, 12, 12)
    x[..., 4:8, 4:8] = 1.0  # a 4x4 stroke: 4 interior pixels, 12 edge pixels
    return x


def test_regions_partition_every_pixel(mnist_test):
    regions = digit_regions(mnist_test[0][:50])
    assert tuple(regions) == REGIONS
    assert torch.equal(sum(m.int() for m in regions.values()), torch.ones(50, 1, 28, 28, dtype=torch.int))


def test_regions_of_a_square():
    r = digit_regions(_square_digit(), ring_width=1)
    assert int(r["stroke_interior"].sum()) == 4
    assert int(r["stroke_edge"].sum()) == 12
    assert int(r["ring"].sum()) == 6 * 6 - 16
    assert int(r["background"].sum()) == 144 - 36


def test_uniform_map_gives_area_shares(mnist_test):
    x = mnist_test[0][:10]
    shares = region_shares(torch.ones_like(x), x)
    for name in REGIONS:
        assert torch.allclose(shares["mass"][name], shares["area"][name])


def test_shares_sum_to_one_and_a_map_on_the_edge_is_all_edge():
    x = _square_digit()
    regions = digit_regions(x)
    shares = region_shares(regions["stroke_edge"].float(), x)
    assert float(sum(shares["mass"].values())) == pytest.approx(1.0)
    assert float(shares["mass"]["stroke_edge"]) == pytest.approx(1.0)


def test_one_digit_without_batch_dimension():
    x = _square_digit()[0]
    shares = region_shares(torch.ones_like(x), x)
    assert shares["mass"]["background"].shape == (1,)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: region_shares(-torch.ones_like(x), x), ValueError, "saliency must be non-negative"),
        (lambda x: region_shares(torch.zeros_like(x), x), ValueError, "zero everywhere for 1 digit"),
        (lambda x: region_shares(torch.ones(1, 1, 5, 5), x), ValueError, r"same shape; got \(1, 1, 5, 5\) and \(1, 1, 12, 12\)"),
        (lambda x: region_shares(torch.ones(2, 3, 12, 12), x), ValueError, r"saliency must be \[B, 1, H, W\].*got shape \(2, 3, 12, 12\)"),
        (lambda x: digit_regions(x.numpy()), TypeError, "x must be a torch.Tensor; got ndarray"),
        (lambda x: digit_regions(x, threshold=1.5), ValueError, "threshold must be in"),
        (lambda x: digit_regions(x, ring_width=0), ValueError, "ring_width must be a positive int; got 0"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(_square_digit())


def test_top_mass_share_extremes():
    from helpers.metrics import top_mass_share

    even = torch.ones(2, 100)
    assert torch.allclose(top_mass_share(even, 0.05), torch.full((2,), 0.05))
    spike = torch.zeros(1, 100)
    spike[0, 3] = 2.0
    assert float(top_mass_share(spike, 0.01)) == 1.0
    assert float(top_mass_share(even, 1.0)[0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "saliency, fraction, message",
    [
        (torch.ones(10), 0.1, r"batched tensor \[B, \.\.\.\]; got \(10,\)"),
        (torch.ones(2, 10), 0.0, r"fraction must be in \(0, 1\]; got 0.0"),
        (-torch.ones(2, 10), 0.1, "non-negative"),
        (torch.zeros(2, 10), 0.1, "zero everywhere for 2 map"),
    ],
)
def test_top_mass_share_errors(saliency, fraction, message):
    from helpers.metrics import top_mass_share

    with pytest.raises(ValueError, match=message):
        top_mass_share(saliency, fraction)
