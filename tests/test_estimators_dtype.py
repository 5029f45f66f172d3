"""The estimators' dtype (issue 10): the input's float dtype by default, float32 on request, and no
silent nonsense from values that do not fit it, from inputs far too large, or from a diverged run."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from feedforward.estimators import MLPClassifier, MLPRegressor  # noqa: E402
from feedforward.training import DivergenceWarning  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    return X, (X[:, 0] > 0).astype(int), X @ np.array([1.0, 2.0, -1.0])


def _dtype(est):
    return est.coefs_[0].dtype


@pytest.mark.parametrize("x_dtype, param, expected", [
    (np.float64, None, np.float64),
    (np.float32, None, np.float32),
    (np.int64, None, np.float64),
    (np.float64, "float32", np.float32),
    (np.float32, "float64", np.float64),
    (np.float64, np.float32, np.float32),
])
def test_network_computes_in_the_inputs_float_dtype(data, x_dtype, param, expected):
    """Issue 10: as scikit-learn's MLP, float32 stays float32 and the rest is float64; dtype= forces one."""
    X, y, t = data
    X = (X * 10).astype(x_dtype)
    clf = MLPClassifier((4,), max_iter=3, random_state=0, dtype=param).fit(X, y)
    reg = MLPRegressor((4,), max_iter=3, random_state=0, dtype=param).fit(X, t)
    for est in (clf, reg):
        assert _dtype(est) == expected
        assert all(p.data.dtype == expected for p in est.model_.parameters())
    assert clf.predict_proba(X).dtype == expected and reg.predict(X).dtype == expected
    assert clf.predict(X).dtype == y.dtype


def test_warm_start_and_partial_fit_keep_the_networks_dtype(data):
    X, y, _ = data
    clf = MLPClassifier((4,), max_iter=3, warm_start=True, random_state=0).fit(X.astype(np.float32), y)
    clf.fit(X, y)  # float64 data now: the float32 network goes on in float32
    clf.partial_fit(X, y)
    assert _dtype(clf) == np.float32 and clf.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((4,), max_iter=3, random_state=0, dtype="float32"),
    lambda: MLPRegressor((4,), max_iter=3, random_state=0, dtype="float32"),
])
def test_values_beyond_float32_are_an_error_not_class_0(data, make):
    """Issue 10 (audit): 1e39 cast to float32 became inf; predict gave class 0, predict_proba a NaN row,
    MLPRegressor.predict inf. Now fit and every predict method name the value, its place and the dtype."""
    X, y, t = data
    est = make()
    target = y if isinstance(est, MLPClassifier) else t
    est.fit(X, target)
    bad = X.copy()
    bad[3, 1] = 1e39
    for method in ("predict", "predict_proba", "predict_log_proba", "score"):
        if hasattr(est, method):
            args = (bad, target) if method == "score" else (bad,)
            with pytest.raises(ValueError, match=r"X holds 1e\+39 at index \(3, 1\).*float32"):
                getattr(est, method)(*args)
    with pytest.raises(ValueError, match=r"X holds 1e\+39 at index \(3, 1\).*float32"):
        make().fit(bad, target)


def test_regression_targets_beyond_float32_are_an_error(data):
    X, _, t = data
    t = t.copy()
    t[7] = -1e39
    with pytest.raises(ValueError, match=r"y holds -1e\+39 at index 7.*float32"):
        MLPRegressor((4,), max_iter=3, dtype="float32").fit(X, t)


def test_float64_inputs_beyond_float32_are_fine_in_float64(data):
    """The default network follows float64 input: 1e39 is a (huge but) representable input there."""
    X, y, _ = data
    clf = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    bad = X.copy()
    bad[3, 1] = 1e39
    proba = clf.predict_proba(bad)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)


def test_an_overflow_inside_the_network_is_an_error(data):
    """3e38 fits float32, but the first layer's product does not: an error naming the row, not class 0."""
    X, y, t = data
    big = X.astype(np.float32)
    big[5] = 3e38
    for est in (MLPClassifier((4,), max_iter=3, random_state=0).fit(X.astype(np.float32), y),
                MLPRegressor((4,), max_iter=3, random_state=0).fit(X.astype(np.float32), t)):
        with pytest.raises(ValueError, match="output for row 5 of X is not finite: float32 overflowed"):
            est.predict(big)


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_huge_inputs_are_named_before_training(data, dtype):
    """Issue 10 (audit): fit on data holding 1e30 'diverged' (float32) or stopped on nonsense (float64)
    without naming the data. Now a warning names max |X|, where it is, and suggests StandardScaler."""
    X, _, t = data
    X = X.copy()
    X[5, 2] = 1e30
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = MLPRegressor(random_state=0, dtype=dtype).fit(X, t)
    texts = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert any("max |X| = 1e+30, at row 5, column 2" in m and "StandardScaler" in m for m in texts), texts
    if dtype == "float32":  # the run diverges there, and that warning names the inputs too
        assert reg.stop_reason_ == "diverged"
        assert any("diverged" in m and "max |X| = 1e+30" in m for m in texts), texts
        assert any(issubclass(w.category, DivergenceWarning) for w in caught)


def test_moderate_inputs_give_no_such_warning(data):
    X, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPClassifier((4,), max_iter=50, tol=1.0, random_state=0).fit(X * 100, y)


def test_unscaled_inputs_are_named_when_max_iter_runs_out(data):
    X, y, _ = data
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\).*max \|X\| = 5e\+03.*StandardScaler"):
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X / np.abs(X).max() * 5e3, y)


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_predictions_after_a_diverged_fit_are_finite(data, dtype):
    """Issue 10 (audit): MLPRegressor(solver="sgd", learning_rate_init=1e6) said the weights were restored,
    yet most predictions were inf. Restored weights must give finite outputs (the trainer's restore)."""
    X, _, t = data
    with pytest.warns(DivergenceWarning):
        reg = MLPRegressor(solver="sgd", learning_rate_init=1e6, random_state=0, dtype=dtype).fit(X, t)
    assert reg.stop_reason_ == "diverged"
    assert np.isfinite(reg.predict(X)).all()
