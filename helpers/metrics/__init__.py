r"""Measurements of explanations, in five families (as in Quantus: Hedström et al. 2023, JMLR 24(34)).

One module per family; every name is importable from ``helpers.metrics`` itself:

- :mod:`~helpers.metrics.ranks` -- the order an explanation puts the features in:
  :func:`tied_ranks`, :func:`rank_correlation`, :func:`pair_rank_correlation`, :func:`topk_overlap`,
  :func:`ranking` (ties within :data:`TIE_TOLERANCE`, so that results do not depend on float rounding).
- :mod:`~helpers.metrics.localisation` -- where a map's mass lies on a digit: :func:`digit_regions`,
  :func:`region_shares`, :func:`top_mass_share`, :func:`image_edges`, :func:`edge_alignment` (notebook 02).
- :mod:`~helpers.metrics.stability` -- the same explanation under imperceptible noise
  (:func:`noisy_copies`, :func:`noise_stability`) and under another seed of any seeded method
  (:func:`seed_stability`, :func:`stability_across_inputs`) (notebooks 03, 04, 06).
- :mod:`~helpers.metrics.faithfulness` -- deletion and insertion curves against random orders:
  :func:`deletion_curve`, :func:`insertion_curve`, :func:`random_order_curves`, :func:`curve_area`, :func:`rescaled_curves`,
  :func:`curve_fractions`; remove-and-retrain: :func:`remove_top_segments`, :func:`remove_and_retrain` (notebook 06).
- :mod:`~helpers.metrics.randomisation` -- sanity checks: :func:`cascading_randomisation`,
  :func:`abs_rank_correlation`, :func:`structural_similarity`, :func:`permuted_labels` (notebook 06).
- :mod:`~helpers.metrics.agreement` -- :func:`agreement` between methods and :func:`budget_to_reach`
  of a sampled method (notebook 06).
"""

from .agreement import agreement, budget_to_reach
from .faithfulness import (curve_area, curve_fractions, deletion_curve, insertion_curve, random_order_curves,
                           remove_and_retrain, remove_top_segments, rescaled_curves)
from .localisation import REGIONS, digit_regions, edge_alignment, image_edges, region_shares, top_mass_share
from .randomisation import (SIMILARITIES, Randomisation, abs_rank_correlation, cascading_randomisation,
                            permuted_labels, randomisable_layers, structural_similarity)
from .ranks import TIE_TOLERANCE, pair_rank_correlation, rank_correlation, ranking, tied_ranks, topk_overlap
from .stability import SeedStability, noise_stability, noisy_copies, seed_stability, stability_across_inputs

__all__ = [
    "TIE_TOLERANCE", "tied_ranks", "rank_correlation", "pair_rank_correlation", "topk_overlap", "ranking",
    "REGIONS", "digit_regions", "region_shares", "top_mass_share", "image_edges", "edge_alignment",
    "noisy_copies", "noise_stability", "SeedStability", "seed_stability", "stability_across_inputs",
    "curve_fractions", "deletion_curve", "insertion_curve", "random_order_curves", "curve_area", "rescaled_curves",
    "remove_top_segments", "remove_and_retrain",
    "abs_rank_correlation", "structural_similarity", "SIMILARITIES", "randomisable_layers", "Randomisation",
    "cascading_randomisation", "permuted_labels",
    "agreement", "budget_to_reach",
]
