"""TreeSHAP from scratch: exact against enumeration, efficient, tied to the textbook, and equal to shap's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import helpers.textbook as textbook
from helpers.data import load_tabular
from helpers.features import FunctionGame
from helpers.shapley import exact_shapley, prediction_steps, tree_base_value, tree_shap, tree_shap_steps


def _data(n=300, m=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m)).astype(np.float32)
    y = X[:, 0] * X[:, 1] + np.sin(2 * X[:, -1]) + (X[:, 2] > 0.3)
    return X, y, rng.normal(size=(12, m)).astype(np.float32)


def _output(model, rows, target=0):
    if hasattr(model, "predict_proba") and not isinstance(model, GradientBoostingClassifier):
        return model.predict_proba(rows)[:, target]
    if isinstance(model, GradientBoostingClassifier):
        return np.asarray(model.decision_function(rows)).reshape(len(rows), -1)[:, 0 if target is None else target]
    return model.predict(rows)


def _enumerated(model, x, background, target=0):
    """Exact interventional SHAP by enumerating every coalition of the model's own predictions."""
    def worth(Z):
        rows = np.where(Z.numpy()[:, None, :], x, background[None])  # [n, K, M]
        out = _output(model, rows.reshape(-1, len(x)).astype(np.float32), target)
        return torch.from_numpy(out.reshape(len(Z), len(background)).mean(axis=1).astype(np.float64))
    return exact_shapley(FunctionGame(worth, len(x)))


MODELS = {
    "tree": lambda X, y: DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y),
    "forest": lambda X, y: RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(X, y),
    "extra trees": lambda X, y: ExtraTreesRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y),
    "boosting": lambda X, y: GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y),
    "forest classifier": lambda X, y: RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, y > 0.5),
    "boosted classifier": lambda X, y: GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y > 0.5),
}


@pytest.mark.parametrize("name", MODELS)
def test_equals_exact_enumeration_and_is_efficient(name):
    X, y, rows = _data()
    model = MODELS[name](X, y)
    target = 1 if "classifier" in name else None
    background = rows[4:9]
    for x in rows[:3]:
        values = tree_shap(model, x, background, target=target)
        expected = _enumerated(model, x, background, 0 if target is None else (0 if "boosted" in name else target))
        assert float((values - expected).abs().max()) < 1e-10
        explained = _output(model, x[None], 0 if "boosted" in name else (target or 0))[0]
        base = tree_base_value(model, background, target=target)
        assert abs(base + float(values.sum()) - explained) < 1e-10


def test_equals_the_textbook_one_row_version_summed_over_a_forest():
    X, y, rows = _data(seed=1)
    forest = RandomForestRegressor(n_estimators=4, max_depth=6, random_state=1).fit(X, y)
    x, background = rows[0].astype(np.float64), rows[1:6].astype(np.float64)
    by_hand = np.mean([sum(textbook.tree_shap_one_row(e.tree_, x, r) for e in forest.estimators_) / 4
                       for r in background], axis=0)
    assert np.abs(tree_shap(forest, x, background).numpy() - by_hand).max() < 1e-12


@pytest.mark.parametrize("depth", [2, 4, 7])
def test_path_dependent_values_are_the_shapley_values_of_the_textbook_game(depth):
    X, y, rows = _data(seed=depth)
    tree = DecisionTreeRegressor(max_depth=depth, random_state=0).fit(X, y)
    x = rows[0].astype(np.float64)
    game = FunctionGame(lambda Z: torch.tensor([textbook.path_dependent_value(tree.tree_, x, set(np.flatnonzero(z)))
                                                for z in Z.numpy()], dtype=torch.float64), len(x))
    assert float((tree_shap(tree, x) - exact_shapley(game)).abs().max()) < 1e-12
    assert abs(tree_base_value(tree) + float(tree_shap(tree, x).sum()) - tree.predict(x[None].astype(np.float32))[0]) < 1e-10


def test_a_feature_split_twice_on_one_path_is_one_player():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = np.where(np.abs(X[:, 0]) < 0.5, 1.0, 0.0) + 0.1 * X[:, 1]  # x0 needs two splits: -0.5 < x0 <= 0.5
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    assert any(len(set(tree.tree_.feature[[n for n in path]])) < len(path) for path in _paths(tree.tree_))
    x, background = np.array([0.1, 0.2, 0.3], dtype=np.float32), X[:7]
    assert float((tree_shap(tree, x, background) - _enumerated(tree, x, background)).abs().max()) < 1e-12


def _paths(tree):
    paths, stack = [], [(0, [])]
    while stack:
        node, path = stack.pop()
        if tree.children_left[node] == -1:
            paths.append(path)
        else:
            stack += [(tree.children_left[node], path + [node]), (tree.children_right[node], path + [node])]
    return paths


def test_the_predicted_class_by_default():
    X, y, rows = _data()
    forest = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, (y > 0.5) + (y > 1.5))
    x = rows[0]
    predicted = int(forest.predict_proba(x[None]).argmax())
    assert torch.equal(tree_shap(forest, x, rows[1:4]), tree_shap(forest, x, rows[1:4], target=predicted))


# --------------------------------------------------------------------------- the reference library


@pytest.fixture(scope="module")
def course_forest():
    from helpers.data import load_mnist
    from helpers.features import grid_segments
    from helpers.models import patch_means
    from helpers.trained import load_course_model

    forest = load_course_model("patch_forest")
    X_train, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    patches = grid_segments((28, 28), 7)
    return forest.classifier, patch_means(X_test[:6], patches).numpy(), patch_means(X_train[:40], patches).numpy()


def _shap_values(explainer, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(explainer.shap_values(rows, check_additivity=False))


def test_the_course_forest_equals_shaps_path_dependent_values_and_expected_values(course_forest):
    import shap

    classifier, rows, background = course_forest
    interventional = shap.TreeExplainer(classifier, data=background, feature_perturbation="interventional",
                                        model_output="probability")
    path = shap.TreeExplainer(classifier, feature_perturbation="tree_path_dependent")
    theirs_path = _shap_values(path, rows)  # [n, M, classes]
    for i, x in enumerate(rows):
        for c in (0, 3, 7):
            assert np.abs(tree_shap(classifier, x, target=c).numpy() - theirs_path[i, :, c]).max() < 1e-6
    for c in range(10):
        assert abs(tree_base_value(classifier, background, target=c) - interventional.expected_value[c]) < 1e-6
        assert abs(tree_base_value(classifier, target=c) - path.expected_value[c]) < 1e-6


def test_on_the_course_forest_ours_follows_the_model_where_shaps_interventional_values_do_not(course_forest):
    """Digit 0 against training digit 13: a split threshold of tree 5 rounds in float32 onto the digit's own
    patch mean; enumeration of the forest's predictions agrees with ours, shap's interventional values do not."""
    import shap

    classifier, rows, background = course_forest
    x, row = rows[0], background[13:14]
    ours = tree_shap(classifier, x, row, target=0)
    exact = _enumerated(classifier, x, row, 0)
    theirs = _shap_values(shap.TreeExplainer(classifier, data=row, feature_perturbation="interventional",
                                             model_output="probability"), x[None])[0, :, 0]
    assert float((ours - exact).abs().max()) < 1e-12
    assert np.abs(theirs - exact.numpy()).max() > 1e-3


def test_gradient_boosting_equals_shap_path_dependent_and_interventional_on_synthetic_data():
    import shap

    X, y, rows = _data(m=6, seed=4)
    boosted = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    background = X[:50]
    interventional = shap.TreeExplainer(boosted, data=background, feature_perturbation="interventional")
    path = shap.TreeExplainer(boosted, feature_perturbation="tree_path_dependent")
    ours_int = np.stack([tree_shap(boosted, x, background).numpy() for x in rows])
    ours_path = np.stack([tree_shap(boosted, x).numpy() for x in rows])
    assert np.abs(ours_int - _shap_values(interventional, rows)).max() < 1e-6
    assert np.abs(ours_path - _shap_values(path, rows)).max() < 1e-6
    assert abs(tree_base_value(boosted, background) - float(np.ravel(interventional.expected_value)[0])) < 1e-6
    assert abs(tree_base_value(boosted) - float(np.ravel(path.expected_value)[0])) < 1e-6


def test_a_binary_boosted_classifier_equals_shap_on_breast_cancer():
    import shap

    data = load_tabular("breast_cancer")
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(data.X_train.numpy(),
                                                                                       data.y_train.numpy())
    rows, background = data.X_test[:4].numpy(), data.X_train[:30].numpy()
    explainer = shap.TreeExplainer(model, data=background, feature_perturbation="interventional")
    ours = np.stack([tree_shap(model, x, background).numpy() for x in rows])
    assert np.abs(ours - _shap_values(explainer, rows)).max() < 1e-6


def test_on_gradient_boosting_ours_follows_the_model_where_shaps_interventional_values_do_not():
    """On the diabetes table one split threshold (1.47247571) rounds in float32 onto a background row's value
    (1.4724758): there shap's interventional values differ from enumeration of the model's predictions."""
    import shap

    data = load_tabular("diabetes")
    boosted = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(data.X_train.numpy(),
                                                                                         data.y_train.numpy())
    x, background = data.X_test[0].numpy(), data.X_train[:100].numpy()
    ours = tree_shap(boosted, x, background)
    exact = _enumerated(boosted, x, background)
    theirs = _shap_values(shap.TreeExplainer(boosted, data=background, feature_perturbation="interventional"), x[None])[0]
    assert float((ours - exact).abs().max()) < 1e-12
    assert np.abs(theirs - exact.numpy()).max() > 1e-4


# --------------------------------------------------------------------------- cost, checks, side effects


def test_steps_are_counted_from_the_trees():
    X, y, _ = _data()
    tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    leaves = tree.tree_.children_left == -1
    depths = np.zeros(tree.tree_.node_count, dtype=int)
    for node in range(tree.tree_.node_count):
        for child in (tree.tree_.children_left[node], tree.tree_.children_right[node]):
            if child != -1:
                depths[child] = depths[node] + 1
    assert tree_shap_steps(tree) == int(depths[leaves].sum())
    assert tree_shap_steps(tree, n_background=5) == 5 * int(depths[leaves].sum())
    assert prediction_steps(tree, X[:10]) == 10 * 4  # depth 3 everywhere: root plus 3 nodes


def test_bad_input_is_named():
    X, y, rows = _data()
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y > 0.5)
    with pytest.raises(TypeError, match="scikit-learn tree model"):
        tree_shap(torch.nn.Linear(5, 1), rows[0])
    with pytest.raises(ValueError, match="fitted"):
        tree_shap(RandomForestRegressor(), rows[0])
    with pytest.raises(ValueError, match=r"one row \[M\] with M = 5"):
        tree_shap(forest, rows[:2])
    with pytest.raises(ValueError, match=r"rows \[K, M\] with M = 5"):
        tree_shap(forest, rows[0], rows[0])
    with pytest.raises(ValueError, match="finite"):
        tree_shap(forest, np.full(5, np.nan))
    with pytest.raises(ValueError, match="target"):
        tree_shap(forest, rows[0], target=2)
    with pytest.raises(ValueError, match="target"):
        tree_shap(forest, rows[0], target=-1)
    with pytest.raises(TypeError, match="numbers"):
        tree_shap(forest, np.array(["a"] * 5))
    with pytest.raises(ValueError, match="target must be given"):
        tree_base_value(forest)
    regressor = DecisionTreeRegressor(max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="target"):
        tree_shap(regressor, rows[0], target=1)


def test_the_callers_arrays_and_the_rng_are_left_alone():
    X, y, rows = _data()
    forest = RandomForestRegressor(n_estimators=3, max_depth=4, random_state=0).fit(X, y)
    x, background = rows[0].copy(), rows[1:5].copy()
    state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state()
    tree_shap(forest, x, background)
    tree_shap(forest, torch.from_numpy(x))
    assert np.array_equal(x, rows[0]) and np.array_equal(background, rows[1:5])
    assert np.array_equal(np.random.get_state()[1], state) and torch.equal(torch.get_rng_state(), torch_state)
