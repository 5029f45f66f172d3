"""scikit-learn's own estimator checks on MLPClassifier and MLPRegressor (issues 5 and 10).

No check is skipped and none is expected to fail: the default instances are
used as they are. Every check is a small data set (tens to hundreds of rows),
so the default ``max_iter=200`` stays fast. The network computes in the input's
float dtype (issue 10), so weighting an example by k equals repeating it k times
to float64 precision, as ``check_sample_weight_equivalence_on_dense_data`` asks.
"""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from feedforward.estimators import MLPClassifier, MLPRegressor  # noqa: E402

# The checks train on tiny random data with the default max_iter; whether
# that converges is not what they test, so the ConvergenceWarning that a
# scikit-learn MLP also gives there is not an error here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
