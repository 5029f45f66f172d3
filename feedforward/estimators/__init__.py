"""scikit-learn estimators on the feedforward engine: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's estimator contract: ``__init__`` only stores its
arguments, everything is validated in ``fit`` (scikit-learn's
``_parameter_constraints``), fitted attributes end in ``_``, ``random_state``
makes runs reproducible, and a run that hits ``max_iter`` warns with
:class:`~sklearn.exceptions.ConvergenceWarning`. They pass scikit-learn's own
``check_estimator`` suite and work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``, pickle and clone.

The parameters a scikit-learn user knows from
:class:`sklearn.neural_network.MLPClassifier` mean the same here (``solver``
``"sgd"`` / ``"adam"``; ``"lbfgs"`` is not offered), with these additions
from the lecture:

``activation``
    Every hidden unit of the registry :data:`feedforward.nn.activation.ACTIVATIONS`:
    ``relu``, ``abs`` (absolute value rectification), ``leaky_relu``, ``prelu``,
    ``rrelu``, ``elu``, ``logistic`` (= ``sigmoid``), ``tanh``, ``identity``.
``mode``
    ``"minibatch"`` (scikit-learn's behaviour), ``"stochastic"`` (the
    lecture's Algorithm 1: one random pattern per update) or ``"batch"``
    (Algorithm 2: the whole training set per update).
``grad_tol``
    The lecture's ``theta``: stop once ``||grad J(w)|| < theta`` over the
    whole training set (``stop_reason_ == "grad_norm"``).
``batch_growth``
    A :class:`feedforward.training.GrowingBatch`: a minibatch size that grows.
``output``
    The output unit of :data:`feedforward.nn.output.OUTPUTS`, i.e. the conditional
    distribution ``p(y|x)``; ``"auto"`` picks it from the target: ``categorical``
    (softmax) for multiclass, ``bernoulli`` (sigmoid) for binary and multilabel,
    ``gaussian`` (linear) for regression. Predictions come from that unit.
``dtype``
    The network computes in the input's float dtype, as scikit-learn's MLP
    (float32 stays float32, anything else is float64); ``dtype="float32"``
    forces the faster float32 network.

Training runs on :class:`feedforward.training.Trainer` with scikit-learn's
stopping rule :class:`feedforward.training.stopping.SklearnStopping`; the fitted
network is ``model_`` (an :class:`feedforward.nn.MLP`, savable with ``ff.save``)
and the run's record ``history_``.

Layout: ``_base.py`` (parameters, fit, chunked prediction), ``classifier.py``,
``regressor.py``.
"""

from . import _base  # noqa: F401  (first: without scikit-learn, its ImportError says what to install)
from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
