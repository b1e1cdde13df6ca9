"""Helper package of the course *Saliency Maps, LIME and SHAP*.

Every method the course teaches lives here, documented and tested; the notebooks
in ``notebooks/`` import it and call it. Modules:

- :mod:`helpers.seeding` -- one function that seeds everything.
- :mod:`helpers.checks` -- argument checks in one place (``TypeError``: the wrong kind of object;
  ``ValueError``: a bad value) and ``class_scores``, the one checked call of a model.
- :mod:`helpers.data` -- the bundled MNIST digits and tabular data sets.
- :mod:`helpers.models` -- the minimal example's ``SimpleCNN``, deterministic training, the
  ImageNet model.
- :mod:`helpers.saliency` -- gradient methods, all through one autograd entry point.
- :mod:`helpers.cost` -- a counter of forward rows, calls, backward passes and seconds.
- :mod:`helpers.features` -- segmentations and the coalition game ``v(S)``.
- :mod:`helpers.lime` -- LIME on any coalition game.
- :mod:`helpers.shapley` -- exact Shapley values, KernelSHAP, permutation sampling.
- :mod:`helpers.kernelshap` -- KernelSHAP's machinery: which coalitions (designs, leverage
  sampling) and the regression that fits them.
- :mod:`helpers.metrics` -- measurements of explanations (where the saliency mass lies,
  rank correlation).
- :mod:`helpers.plotting` -- digits, heatmaps and overlays in one style.
- :mod:`helpers.exercises` -- automatic checkers for the notebooks' exercises.
- :mod:`helpers.source` -- a helper's own source, for the notebooks to show.
- :mod:`helpers.execute` -- executes notebooks in place (``make notebooks``).
"""

__version__ = "0.1.0"
