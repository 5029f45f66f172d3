"""MLPClassifier / MLPRegressor: scikit-learn semantics, the lecture's extras, and integration."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import feedforward as ff  # noqa: E402
from feedforward.estimators import MLPClassifier, MLPRegressor  # noqa: E402
from feedforward.nn.activation import ACTIVATIONS, UNITS  # noqa: E402
from feedforward.nn.output import OUTPUTS  # noqa: E402
from feedforward.training import GrowingBatch  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_output_unit_follows_the_target(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    assert clf.output_ == "categorical" and clf.model_.sizes == [4, 8, 3]
    assert isinstance(clf.model_.output, ff.nn.Categorical)
    binary = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y == 2)
    assert binary.output_ == "bernoulli" and binary.model_.sizes[-1] == 1
    proba = binary.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(binary.predict(X)) <= {False, True}
    as_cat = MLPClassifier((8,), max_iter=5, output="categorical", random_state=0).fit(X, y == 2)
    assert as_cat.model_.sizes[-1] == 2 and as_cat.predict_proba(X).shape == (150, 2)
    Y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)  # multilabel indicator
    ml = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, Y)
    assert ml.output_ == "bernoulli"
    assert ml.predict(X).shape == (150, 3) and ml.predict_proba(X).shape == (150, 3)
    reg = MLPRegressor((8,), max_iter=5, random_state=0).fit(X, X[:, :2])
    assert reg.output_ == "gaussian" and reg.predict(X).shape == (150, 2)
    with pytest.raises(ValueError, match="output='categorical'"):
        MLPClassifier(output="bernoulli").fit(X, y)


def test_string_labels_round_trip(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((16,), max_iter=200, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(X, names) > 0.9


@pytest.fixture(scope="module")
def circles():
    """Two concentric rings: no linear boundary separates them (held-out half for scoring)."""
    from sklearn.datasets import make_circles
    from sklearn.model_selection import train_test_split

    X, y = make_circles(300, noise=0.08, factor=0.5, random_state=0)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def _circles_accuracy(circles, activation):
    X_tr, X_te, y_tr, y_te = circles
    # n_iter_no_change=max_iter: every unit gets the same 300 epochs (a squashing unit can sit on a
    # plateau early on, which is not what this test is about).
    clf = MLPClassifier((16,), activation=activation, learning_rate_init=0.02, max_iter=300,
                        n_iter_no_change=300, random_state=0)
    return clf.fit(X_tr, y_tr).score(X_te, y_te)


def test_identity_units_cannot_separate_the_rings(circles):
    """The bar of the next test means something: a network of identity units is a linear model (issue 10)."""
    assert _circles_accuracy(circles, "identity") < 0.65


@pytest.mark.parametrize("activation", sorted(n for n, unit in UNITS.items() if unit.kind != "linear"))
def test_every_hidden_unit_learns(circles, activation):
    """Issue 10: every registered non-linear unit separates the rings, which a linear model cannot (L-ACT-1..5).

    Parametrized over the unit registry: a new unit is tested the moment it is registered.
    """
    assert _circles_accuracy(circles, activation) > 0.9


def test_activation_choices_are_the_registry():
    """Issue 10: the estimators accept every registered unit name (aliases included) and nothing else."""
    constraint = MLPClassifier._parameter_constraints["activation"][0]
    assert set(constraint.options) == set(ACTIVATIONS)
    outputs = MLPClassifier._parameter_constraints["output"][0].options
    assert outputs == {"auto"} | {n for n, unit in OUTPUTS.items() if unit.task == "classification"}
    assert MLPRegressor._parameter_constraints["output"][0].options == {"auto", "gaussian"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sample_weight_is_repetition(dtype):
    """Weighting an example by k is training on k copies of it: to float64 precision when the network
    computes in float64 (scikit-learn's check asks rtol=1e-7), to float32 precision in float32."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    rtol, atol = (1e-7, 0) if dtype == "float64" else (1e-5, 1e-6)
    for est, target in ((MLPClassifier(random_state=0, dtype=dtype), y),
                        (MLPRegressor(random_state=0, dtype=dtype), y.astype(float))):
        rep = clone(est).fit(X.repeat(sw, axis=0), target.repeat(sw))
        wei = clone(est).fit(X, target, sample_weight=sw)
        method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
        np.testing.assert_allclose(getattr(wei, method)(X), getattr(rep, method)(X), rtol=rtol, atol=atol)
        assert wei.n_iter_ == rep.n_iter_


def test_sample_and_class_weight_shift_the_decision():
    X, y = make_classification(400, 4, n_informative=2, weights=[0.9, 0.1], class_sep=0.5, random_state=0)
    base = MLPClassifier((16,), max_iter=100, random_state=0).fit(X, y)
    balanced = MLPClassifier((16,), max_iter=100, random_state=0, class_weight="balanced").fit(X, y)
    assert balanced.predict(X).sum() > base.predict(X).sum() + 20  # many more minority predictions
    heavy = MLPClassifier((16,), max_iter=100, random_state=0)
    heavy.fit(X, y, sample_weight=np.where(y == 1, 9.0, 1.0))
    assert heavy.predict(X).sum() > base.predict(X).sum() + 20
    with pytest.raises(ValueError, match="not in classes"):
        MLPClassifier(class_weight={7: 2.0}).fit(X, y)


def test_pipeline_gridsearch_cross_val(iris):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85
    grid = GridSearchCV(pipe, {"mlpclassifier__activation": ["relu", "tanh"],
                               "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.85
    assert grid.best_params_["mlpclassifier__activation"] in ("relu", "tanh")


def test_pickle_and_clone_keep_predictions(iris):
    X, y = iris
    clf = MLPClassifier((8, 4), activation="rrelu", max_iter=20, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert not hasattr(fresh, "model_") and fresh.get_params() == clf.get_params()
    again.partial_fit(X, y)  # continues after unpickling (with a fresh optimizer state)
    assert again.n_iter_ == 1


def test_model_is_an_ff_network_that_saves(tmp_path, iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    path = tmp_path / "clf.safetensors"
    ff.save(clf.model_, path)
    net = ff.load(path)
    np.testing.assert_array_equal(net.predict(X.astype(np.float32)), clf.predict(X))
    assert [w.shape for w in clf.coefs_] == [(4, 8), (8, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (3,)]


def test_stopping_rules():
    X, y = make_regression(200, 5, noise=0.1, random_state=0)
    y = y / y.std()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        short = MLPRegressor((16,), max_iter=3, random_state=0).fit(X, y)
    assert short.stop_reason_ == "max_epochs" and short.n_iter_ == 3 and len(short.loss_curve_) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        plateau = MLPRegressor((16,), max_iter=2000, tol=1e-2, n_iter_no_change=3, random_state=0).fit(X, y)
        assert plateau.stop_reason_ == "tol" and plateau.n_iter_ < 2000
        # sklearn's rule: stop after more than n_iter_no_change epochs without a tol improvement.
        curve = np.array(plateau.loss_curve_)
        assert curve[-4:].min() > plateau.best_loss_ - 1e-2
        theta = MLPRegressor((16,), mode="batch", learning_rate_init=0.01, grad_tol=0.5, max_iter=2000,
                             tol=0, n_iter_no_change=10**6, random_state=0).fit(X, y)
        assert theta.stop_reason_ == "grad_norm"
        assert theta.history_.records[-1]["grad_norm"] < 0.5 <= theta.history_.records[-2]["grad_norm"]


def test_early_stopping_keeps_the_best_validation_weights():
    X, y = make_classification(300, 10, n_informative=3, flip_y=0.3, random_state=1)
    clf = MLPClassifier((64,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=5,
                        max_iter=300, random_state=0).fit(X, y)
    assert clf.stop_reason_ == "early_stopping" and clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ - 1 - int(np.argmax(clf.validation_scores_)) > 5  # stopped after the patience ran out
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, y)


def test_partial_fit_and_warm_start(iris):
    X, y = iris
    clf = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])  # only class 0 in this chunk
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 31 and clf.loss_curve_[-1] < clf.loss_curve_[1]
    assert clf.score(X, y) > 0.8
    warm = MLPClassifier((16,), max_iter=10, warm_start=True, random_state=0).fit(X, y)
    first = list(warm.loss_curve_)
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 20 and warm.loss_curve_[10] < first[0]
    cold = MLPClassifier((16,), max_iter=10, random_state=0).fit(X, y).fit(X, y)
    assert cold.loss_curve_ == first  # without warm_start a refit starts again, identically


def test_learning_rate_schedules_follow_sklearn():
    X, y = make_regression(100, 3, random_state=0)
    y = y / y.std()
    inv = MLPRegressor((8,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.01, power_t=0.5,
                       batch_size=25, max_iter=4, random_state=0).fit(X, y)
    lrs = inv.history_["lr"]
    np.testing.assert_allclose(lrs, [0.01 / (100 * e + 1) ** 0.5 for e in range(4)], rtol=1e-12)
    ada = MLPRegressor((8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01, tol=10.0,
                       n_iter_no_change=1, max_iter=12, random_state=0).fit(X, y)
    # tol=10: only the first epoch improves (on best_loss_ = inf); then every time more than
    # n_iter_no_change=1 epochs in a row fail to improve, eta is divided by 5 and the count restarts.
    np.testing.assert_allclose(ada.history_["lr"][:7], [0.01, 0.01, 0.01, 0.002, 0.002, 0.0004, 0.0004])


def test_lecture_modes_and_growing_batch(iris):
    X, y = iris
    stoch = MLPClassifier((8,), mode="stochastic", max_iter=3, random_state=0).fit(X, y)
    assert stoch.history_["n_updates"] == [150] * 3
    batch = MLPClassifier((8,), mode="batch", max_iter=3, random_state=0).fit(X, y)
    assert batch.history_["n_updates"] == [1] * 3
    growth = GrowingBatch(10, factor=2, every=1)
    grow = MLPClassifier((8,), batch_growth=growth, max_iter=5, random_state=0).fit(X, y)
    assert grow.history_["batch_size"] == [10, 20, 40, 80, 150]
    # The parameter object itself is never advanced (clone and get_params must see the same thing).
    assert growth.state_dict() == GrowingBatch(10, factor=2, every=1).state_dict()


def test_verbose_prints_sklearn_lines(iris, capsys):
    X, y = iris
    MLPClassifier((4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and out[1].startswith("Iteration 2, loss = ")


@pytest.mark.parametrize("params,match", [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"activation": "swish"}, "activation"),
    ({"activation": "ReLU"}, "activation"),
    ({"solver": "lbfgs"}, "solver"),
    ({"mode": "online"}, "mode"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"batch_size": 0}, "batch_size"),
    ({"momentum": 1.5}, "momentum"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"batch_growth": 3}, "batch_growth"),
    ({"mode": "batch", "batch_growth": GrowingBatch(4)}, "minibatch"),
    ({"output": "gaussian"}, "output"),
    ({"dtype": "float16"}, "dtype"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"class_weight": "even"}, "class_weight"),
    ({"class_weight": {0: -1.0}}, "class_weight"),
])
def test_bad_parameters_fail_in_fit_with_the_name(iris, params, match):
    X, y = iris
    clf = MLPClassifier(**params)  # __init__ stores, fit validates
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


@pytest.mark.parametrize("params", [{"hidden_layer_sizes": (4, 2.5)}, {"hidden_layer_sizes": (True,)},
                                    {"class_weight": {0: "2"}}])
def test_wrong_types_in_parameters_are_type_errors(iris, params):
    """Issue 10, one validation layer: a width of 2.5 or True, a weight "2" are TypeErrors naming the argument."""
    X, y = iris
    with pytest.raises(TypeError, match="hidden_layer_sizes|class_weight"):
        MLPClassifier(**params).fit(X, y)


def test_matches_sklearn_quality_on_a_real_task():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    ours = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=100, random_state=0)).fit(X_tr, y_tr)
    theirs = make_pipeline(StandardScaler(), SkMLP((32,), max_iter=100, random_state=0)).fit(X_tr, y_tr)
    assert ours.score(X_te, y_te) >= theirs.score(X_te, y_te) - 0.02
    assert ours.score(X_te, y_te) > 0.95
