"""``MLPRegressor``: scikit-learn's regressor on the feedforward engine."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions

from ._base import BaseMLP
from ._data import as_dtype, output_names

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor: a linear (Gaussian) output unit and the squared error.

    The loss is ``1/2 ||y - f(x)||^2`` averaged over examples, the negative
    log-likelihood of a unit-variance Gaussian (L-OUT-1). Targets of shape
    (n_samples,) or (n_samples, n_outputs).

    Parameters
    ----------
    Same as :class:`MLPClassifier` (``device`` included) except ``class_weight``;
    ``output`` is ``"auto"`` or ``"gaussian"``.

    Attributes
    ----------
    Same as :class:`MLPClassifier` except ``classes_``.

    Examples
    --------
    >>> import numpy as np
    >>> from feedforward.estimators import MLPRegressor
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> reg = MLPRegressor((32,), activation="tanh", max_iter=500, tol=1e-6, random_state=0)
    >>> reg.fit(X, X[:, 0] ** 2).score(X, X[:, 0] ** 2) > 0.9
    True
    """

    _task = "regression"
    _metric = "r2"
    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "output": [StrOptions(output_names("regression"))],
    }

    def _encode_targets(self, y, dtype, *, first, incremental, classes):
        """The targets in the network's dtype (a value beyond it is an error, not an inf)."""
        if first:
            self.output_ = "gaussian" if self.output == "auto" else self.output
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(f"y has shape {y.shape}, but the model was fitted with {self.n_outputs_} "
                             "outputs")
        return as_dtype(np.asarray(y), dtype, "y")

    def _n_outputs_for(self, Y):
        return 1 if Y.ndim == 1 else Y.shape[1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, comm=None):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or (n_samples, n_outputs).

        ``comm`` (an mpi4py communicator): data-parallel training, each rank passing its shard
        of ``X, y`` (:mod:`feedforward.distributed`).
        """
        return self._fit(X, y, sample_weight, comm=comm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch on ``(X, y)``, keeping the weights and the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs), in the network's dtype."""
        z = self._predict_rows(X, "predict")
        return z[:, 0] if self.n_outputs_ == 1 else z
