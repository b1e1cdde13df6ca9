"""The second test of the "edges" claim (notebook 02): a map's rank correlation with the image's edges and ink."""

from __future__ import annotations

import pytest
import torch

from helpers.metrics import edge_alignment, image_edges


def _square(size: int = 12) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[..., 3:9, 3:9] = 1.0
    return x


def test_edges_of_a_square_lie_on_its_boundary():
    x = _square()
    edges = image_edges(x)[0, 0]
    assert edges.shape == (12, 12)
    assert float(edges[5:7, 5:7].abs().max()) == 0.0, "flat ink has no edge"
    assert float(edges[0, 0]) == 0.0, "flat background has no edge"
    assert float(edges[3, 5]) == pytest.approx(float(edges[2, 5])) == pytest.approx(4.0), "a step of 1: |Sobel| = 4"
    # the same edge along both axes
    assert torch.allclose(edges, edges.T)


def test_a_map_that_is_the_edges_correlates_fully_with_edges_and_less_with_ink():
    x = _square()
    result = edge_alignment(image_edges(x), x)
    assert float(result["edges"][0]) == pytest.approx(1.0)
    assert float(result["ink"][0]) < 0.5
    result = edge_alignment(x.clone(), x)  # a map that is the ink itself
    assert float(result["ink"][0]) == pytest.approx(1.0) and float(result["edges"][0]) < 1.0


def test_the_sign_of_a_map_does_not_matter_and_nothing_is_changed():
    x = _square().repeat(3, 1, 1, 1) * torch.tensor([1.0, 0.5, 2.0])[:, None, None, None]
    saliency = torch.randn(3, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    before = saliency.clone()
    a, b = edge_alignment(saliency, x), edge_alignment(-saliency, x)
    assert torch.equal(a["edges"], b["edges"]) and torch.equal(a["ink"], b["ink"])
    assert torch.equal(saliency, before) and a["edges"].shape == (3,)


def test_shapes_must_match():
    with pytest.raises(ValueError, match=r"saliency and x must have the same shape \(one map per image\); got \(2, 1, 12, 12\) and \(1, 1, 12, 12\)"):
        edge_alignment(torch.rand(2, 1, 12, 12), _square())
    with pytest.raises(ValueError, match=r"x must be \[B, 1, H, W\]"):
        image_edges(torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="saliency must be a torch.Tensor"):
        edge_alignment([[0.0]], _square())
