"""Helper package of the course *Saliency Maps, LIME and SHAP*.

Every method the course teaches lives here, documented and tested; the notebooks
in ``notebooks/`` import it and call it. Each mechanism has one home, and a module
imports only modules listed before it in :data:`MODULES` (``tests/test_package.py``
checks it): the plumbing first, then the methods, then what measures, shows and
explores them.

Plumbing:

- :mod:`helpers.checks` -- argument checks in one place, one rule (``TypeError``: the wrong
  kind of object; ``ValueError``: a bad value).
- :mod:`helpers.seeding` -- seeds, and all the noise of the course.
- :mod:`helpers.scores` -- how every helper calls a model: eval mode, device and dtype, checked
  class scores, targets, the one chunking policy, baselines.
- :mod:`helpers.cost` -- a counter of forward rows, calls, backward passes and seconds.
- :mod:`helpers.data` -- the bundled MNIST digits, tabular data, photographs, texts, VADER's lexicon.
- :mod:`helpers.features` -- segmentations, per-segment sums and means, the coalition game ``v(S)``, occlusion.
- :mod:`helpers.models` -- the minimal example's ``SimpleCNN``, deterministic training, the ImageNet
  model, a random forest on patches.

Methods:

- :mod:`helpers.textbook` -- every method in its plainest correct form.
- :mod:`helpers.saliency` -- gradient methods, all through one autograd entry point.
- :mod:`helpers.lime` -- LIME on any coalition game.
- :mod:`helpers.kernelshap` -- KernelSHAP's machinery: which coalitions, and the regression.
- :mod:`helpers.shapley` -- exact Shapley values, KernelSHAP, permutation sampling, shap's explainers.
- :mod:`helpers.methods` -- one registry of every method: spelling, label, kind, sign, parameters.

Measuring, showing, exploring:

- :mod:`helpers.metrics` -- measurements of explanations, one module per family.
- :mod:`helpers.verdicts` -- verdicts from measured figures and stated thresholds.
- :mod:`helpers.plotting` -- digits, heatmaps, overlays, curves and coloured words in one style.
- :mod:`helpers.text_models` -- tokens and the two text classifiers of notebook 08.
- :mod:`helpers.text` -- every method on words: games, the embedding path, the notebook-08 study.
- :mod:`helpers.drawing` -- the drawing canvas and how a drawing becomes an MNIST digit.
- :mod:`helpers.explorer` -- notebook 07's widgets.
- :mod:`helpers.trained` -- the course's trained models, shipped, loaded by name.
- :mod:`helpers.exercises` -- automatic checkers for the notebooks' exercises.
- :mod:`helpers.source` -- a helper's own source, for the notebooks to show.
- :mod:`helpers.execute` -- executes notebooks in place (``make notebooks``).
"""

__version__ = "0.1.0"

#: Every module, in dependency order: each imports only modules before it.
MODULES = (
    "checks", "seeding", "scores", "cost", "data", "features", "models",
    "textbook", "saliency", "lime", "kernelshap", "shapley", "methods",
    "metrics", "verdicts", "plotting", "text_models", "text", "drawing", "explorer", "trained", "exercises",
    "source", "execute",
)
