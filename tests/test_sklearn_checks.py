"""scikit-learn's own estimator checks on MLPClassifier and MLPRegressor (issue 5).

No check is skipped. The default instances are used as they are: every
check is a small data set (tens to hundreds of rows), so the default
``max_iter=200`` stays fast.
"""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from feedforward.estimators import MLPClassifier, MLPRegressor  # noqa: E402

# The checks train on tiny random data with the default max_iter; whether
# that converges is not what they test, so the ConvergenceWarning that a
# scikit-learn MLP also gives there is not an error here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _expected_failed_checks(estimator):
    # Weighting an example by k IS training on k copies of it here (the weighted mean
    # loss and the L2 term are normalised by the weights' sum, and `batch_size="auto"`
    # puts both data sets in one minibatch), but the network computes in float32: the
    # two fits add the same terms in a different order and agree to about 1 float32
    # ulp (max relative difference 7e-7 measured), while this check demands rtol=1e-7,
    # float64 precision. tests/test_estimators.py checks the same equivalence at
    # float32 precision (rtol=1e-5), so a real weighting bug still fails a test.
    reason = "equivalent to repeating samples only to float32 precision; the check asks rtol=1e-7"
    return {"check_sample_weight_equivalence_on_dense_data": reason}


@parametrize_with_checks([MLPClassifier(), MLPRegressor()], expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
