"""Helper package of the course *Saliency Maps, LIME and SHAP*.

Every method the course teaches lives here, documented and tested; the notebooks
in ``notebooks/`` import it and call it. Modules:

- :mod:`helpers.seeding` -- one function that seeds everything.
- :mod:`helpers.data` -- the bundled MNIST digits and tabular data sets.
- :mod:`helpers.models` -- the minimal example's ``SimpleCNN`` and deterministic training.
- :mod:`helpers.saliency` -- gradient methods, all through one autograd entry point.
- :mod:`helpers.metrics` -- measurements of explanations (where the saliency mass lies).
- :mod:`helpers.plotting` -- digits, heatmaps and overlays in one style.
- :mod:`helpers.exercises` -- automatic checkers for the notebooks' exercises.
"""

__version__ = "0.1.0"
