"""scikit-learn estimators on the feedforward engine: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's estimator contract: ``__init__`` only stores its
arguments, everything is validated in ``fit``, fitted attributes end in
``_``, ``random_state`` makes runs reproducible, and a run that hits
``max_iter`` warns with :class:`~sklearn.exceptions.ConvergenceWarning`.
They pass scikit-learn's own ``check_estimator`` suite and work in
``Pipeline``, ``GridSearchCV`` and ``cross_val_score``, pickle and clone.

The parameters a scikit-learn user knows from
:class:`sklearn.neural_network.MLPClassifier` mean the same here (``solver``
``"sgd"`` / ``"adam"``; ``"lbfgs"`` is not offered), with these additions
from the lecture:

``activation``
    Every hidden unit of the lecture: ``relu``, ``abs`` (absolute value
    rectification), ``leaky_relu``, ``prelu``, ``rrelu``, ``elu``,
    ``logistic`` (= ``sigmoid``), ``tanh``, ``identity``.
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
    The output unit, i.e. the conditional distribution ``p(y|x)``; ``"auto"``
    picks it from the target: ``categorical`` (softmax) for multiclass,
    ``bernoulli`` (sigmoid) for binary and multilabel, ``gaussian`` (linear)
    for regression.

Training runs on :class:`feedforward.training.Trainer`; the fitted network
is ``model_`` (an :class:`feedforward.nn.MLP`, savable with ``ff.save``) and
the run's record ``history_``. Arrays are converted to float32.
"""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("ff.estimators needs scikit-learn: pip install feedforward[sklearn]") from exc
try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6 has it as a method
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

from .autograd import no_grad
from .nn.activation import ACTIVATIONS
from .nn.mlp import MLP
from .optim.schedules import InvScaling, LRSchedule
from .tensor import Tensor
from .training.callbacks import Callback

__all__ = ["MLPClassifier", "MLPRegressor"]

_DTYPE = np.float32
_PREDICT_CHUNK = 8192  # rows per forward pass in predict (bounds memory on big inputs)
_STOP_MESSAGES = {
    "tol": "training loss did not improve more than tol for n_iter_no_change epochs",
    "early_stopping": "validation score did not improve more than tol for n_iter_no_change epochs",
    "grad_norm": "gradient norm fell below grad_tol",
    "max_epochs": "reached max_iter",
    "diverged": "the loss diverged (weights of the last finite epoch kept)",
}


class _AdaptiveLR(LRSchedule):
    """scikit-learn's ``learning_rate="adaptive"``: ``eta`` divided by 5 each time training stalls.

    The stopping callback decides when (same rule as scikit-learn: more than
    ``n_iter_no_change`` epochs without an improvement of ``tol``); this
    schedule only holds the count of divisions.
    """

    def __init__(self):
        self.divisions = 0

    def reset(self):
        self.divisions = 0

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr / 5.0 ** self.divisions

    def state_dict(self):
        return {"divisions": self.divisions}

    def load_state_dict(self, state):
        self.divisions = int(state["divisions"])


class _SklearnStopping(Callback):
    """Per-epoch bookkeeping with scikit-learn's semantics.

    Appends to ``loss_curve_`` (mean minibatch loss of the epoch plus the L2
    term), scores the validation part for ``early_stopping`` (accuracy or
    R^2), keeps the best weights, counts epochs without improvement, and
    stops (or divides the adaptive learning rate by 5) when the count exceeds
    ``n_iter_no_change``.
    """

    def __init__(self, estimator, validation=None, adaptive=None, l2=0.0):
        self.est = estimator
        self.validation = validation
        self.adaptive = adaptive
        self.l2 = l2
        self.reason = None
        self.best_weights = None

    def on_epoch_end(self, trainer, epoch, logs):
        est = self.est
        loss = logs.get("batch_loss_mean")
        if loss is None:  # no update this epoch (every weight in it was zero)
            loss = logs["train_loss"]
        if self.l2:
            sq = sum(float(np.dot(p.data.ravel(), p.data.ravel())) for p in trainer.params)
            loss += 0.5 * self.l2 * sq
        est.loss_curve_.append(float(loss))
        est.loss_ = float(loss)
        if est.verbose:
            print(f"Iteration {len(est.loss_curve_)}, loss = {loss:.8f}")
        if self.validation is not None:
            Xv, yv, wv = self.validation
            score = est._score_arrays(Xv, yv, wv)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if not score >= est.best_validation_score_ + est.tol:  # NaN counts as no improvement
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_weights = [p.data.copy() for p in trainer.params]
        else:
            if not loss <= est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = float(loss)
        if est._no_improvement_count > est.n_iter_no_change:
            if self.adaptive is not None and trainer.optimizer.lr > 1e-6:
                self.adaptive.divisions += 1
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"Setting learning rate to {trainer.optimizer.lr / 5:f}")
                return False
            self.reason = "early_stopping" if self.validation is not None else "tol"
            return True
        return False


def _column_to_1d(y):
    """A column vector ``(n, 1)`` becomes ``(n,)`` with scikit-learn's DataConversionWarning."""
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of "
                      "y to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=5)
        return y.ravel()
    return y


def _check_int(value, name, low=1, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_real(value, name, low=0.0, high=None, low_inclusive=True, allow_none=False):
    if allow_none and value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= low if low_inclusive else value > low
        if high is not None:
            ok = ok and value < high
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low:g}" + (f" and < {high:g}" if high is not None else "")
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


class _BaseMLP(BaseEstimator):
    """Shared fitting machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _outputs: tuple = ()

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, mode="minibatch",
                 grad_tol=None, batch_growth=None, output="auto"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.mode = mode
        self.grad_tol = grad_tol
        self.batch_growth = batch_growth
        self.output = output

    # ------------------------------------------------------------ checks
    def _check_params(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") \
                from None
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        if not isinstance(self.activation, str) or self.activation.lower() not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not offered by feedforward; use solver='adam' or 'sgd'")
        _check_choice(self.solver, "solver", ("sgd", "adam"))
        _check_real(self.alpha, "alpha")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_int(self.batch_size, "batch_size ('auto' or)")
        _check_choice(self.learning_rate, "learning_rate", ("constant", "invscaling", "adaptive"))
        _check_real(self.learning_rate_init, "learning_rate_init", low_inclusive=False)
        _check_real(self.power_t, "power_t")
        _check_int(self.max_iter, "max_iter")
        _check_real(self.tol, "tol")
        _check_real(self.momentum, "momentum", high=1.0)
        _check_real(self.validation_fraction, "validation_fraction", low_inclusive=False, high=1.0)
        _check_real(self.beta_1, "beta_1", high=1.0)
        _check_real(self.beta_2, "beta_2", high=1.0)
        _check_real(self.epsilon, "epsilon", low_inclusive=False)
        _check_int(self.n_iter_no_change, "n_iter_no_change")
        _check_choice(self.mode, "mode", ("minibatch", "stochastic", "batch"))
        _check_real(self.grad_tol, "grad_tol", low_inclusive=False, allow_none=True)
        if self.batch_growth is not None:
            if not callable(getattr(self.batch_growth, "size", None)):
                raise ValueError("batch_growth must be None or a feedforward.training.GrowingBatch, "
                                 f"got {self.batch_growth!r}")
            if self.mode != "minibatch":
                raise ValueError(f"batch_growth needs mode='minibatch', got mode={self.mode!r}")
        _check_choice(self.output, "output", ("auto",) + self._outputs)
        return list(sizes)

    def _sample_weight(self, sample_weight, n):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
        if not np.isfinite(w).all():
            raise ValueError("sample_weight contains NaN or infinity")
        if (w < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
        if not w.any():
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return w

    # ----------------------------------------------------------- fitting
    def _initialize(self, n_features, n_outputs, rs):
        sizes = [n_features, *self._sizes, n_outputs]
        self.model_ = MLP(sizes, activation=self.activation.lower(), output=self.output_,
                          rng=rs.randint(np.iinfo(np.int32).max))
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.loss_curve_ = []
        self.t_ = 0
        self._no_improvement_count = 0
        self._trainer = None
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _make_trainer(self, n_train, w_mean, rs):
        from .training import Trainer

        if self.mode == "minibatch":
            bs = min(200, n_train) if self.batch_size == "auto" else int(self.batch_size)
            if bs > n_train:
                warnings.warn("Got `batch_size` larger than sample size. It is going to be clipped",
                              UserWarning, stacklevel=4)
            bs = int(np.clip(bs, 1, n_train))
        else:
            bs = 1 if self.mode == "stochastic" else n_train
        growth = copy.deepcopy(self.batch_growth)  # never mutate a parameter (it has state)
        effective = bs if growth is None else min(getattr(growth, "start", bs), n_train)
        # scikit-learn adds alpha / (2 * sum of the batch's sample weights) * ||W||^2 to each
        # minibatch loss, i.e. an L2 gradient of alpha / (B * mean weight) on the mean loss.
        l2 = self.alpha / (effective * w_mean)
        adaptive = _AdaptiveLR() if self.solver == "sgd" and self.learning_rate == "adaptive" else None
        if self.solver == "sgd":
            # learning_rate applies to sgd only, as in scikit-learn.
            schedule = adaptive
            if self.learning_rate == "invscaling":
                schedule = InvScaling(self.power_t)
            opt = dict(optimizer="sgd", momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        else:
            schedule = None
            opt = dict(optimizer="adam", betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        stopper = _SklearnStopping(self, adaptive=adaptive, l2=l2)
        trainer = Trainer(
            self.model_, lr=self.learning_rate_init, weight_decay=l2, mode=self.mode, batch_size=bs,
            max_epochs=self.max_iter, grad_tol=self.grad_tol, lr_schedule=schedule, batch_schedule=growth,
            callbacks=[stopper], rng=rs.randint(np.iinfo(np.int32).max),
            # scikit-learn's loss_curve_ is the epoch's mean minibatch loss: no extra pass over the
            # data, unless the lecture's gradient-norm test needs the full gradient.
            train_eval="batches" if self.grad_tol is None else "grad", **opt,
        )
        return trainer, stopper

    def _as_model_dtype(self, X):
        """X as a C-contiguous float32 array; notes whether that left the checked values as they were."""
        with np.errstate(over="ignore"):  # a float64 too large for float32: the trainer names it
            out = np.ascontiguousarray(X, dtype=_DTYPE)
        self._x_unchanged = X.dtype == _DTYPE
        return out

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        self._sizes = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y, w = self._validate_fit_data(X, y, sample_weight, first=first or not hasattr(self, "model_"),
                                          incremental=incremental, classes=classes)
        rs = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], self._n_outputs_for(Y), rs)
        elif self.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
        elif not self.early_stopping and self.best_loss_ is None:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf

        validation = None
        if self.early_stopping:
            X, Y, w, validation = self._split_validation(X, Y, w, rs)
        w_mean = 1.0 if w is None else float(w.mean())
        if incremental and self._trainer is not None:
            trainer, stopper = self._trainer, self._stopper
        else:
            trainer, stopper = self._make_trainer(len(X), w_mean, rs)
        stopper.validation = validation
        stopper.reason = None
        stopper.best_weights = None
        self._no_improvement_count = 0 if not incremental else self._no_improvement_count
        # validate_data checked X for NaN and inf; unless the cast to float32 changed it (a huge
        # float64 becomes inf) the trainer need not read the whole array once more.
        trainer._finite_checked = self._x_unchanged
        try:
            if incremental:
                history = trainer.partial_fit(X, Y, sample_weight=w)
                epochs = 1
            else:
                val_data = None if validation is None else (
                    validation[:2] if validation[2] is None else validation)
                history = trainer.fit(X, Y, sample_weight=w, validation_data=val_data)
                epochs = len(history.records)
        finally:
            trainer._finite_checked = False
        self._trainer, self._stopper = trainer, stopper
        self.history_ = history
        self.n_iter_ = epochs
        self.t_ += epochs * len(X)
        if stopper.best_weights is not None:
            for p, best in zip(trainer.params, stopper.best_weights):
                np.copyto(p.data, best)
        reason = stopper.reason or trainer.stop_reason
        self.stop_reason_ = reason if reason is not None else "partial_fit"
        if self.verbose and reason is not None:
            print(f"Stopped after {epochs} epochs: {_STOP_MESSAGES.get(reason, reason)}.")
        if not incremental and trainer.stop_reason == "max_epochs":
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        return self

    def _split_validation(self, X, Y, w, rs):
        from .data.split import train_test_split

        n = len(X)
        stratify = self._stratify(Y)
        idx = np.arange(n)
        too_small = ("The validation set is too small. Increase 'validation_fraction' or the size of your "
                     f"dataset (n_samples={n}, validation_fraction={self.validation_fraction}).")
        try:
            tr, va, _, _ = train_test_split(idx, Y if stratify else idx, self.validation_fraction,
                                            stratify=stratify, rng=rs.randint(np.iinfo(np.int32).max))
        except ValueError:
            raise ValueError(too_small) from None
        if len(va) < 2:
            raise ValueError(too_small)
        tr, va = np.sort(tr), np.sort(va)
        wt = None if w is None else w[tr]
        wv = None if w is None else w[va]
        if wt is not None and not wt.any():
            raise ValueError("sample_weight is zero on the whole training part left by early_stopping's "
                             "validation split")
        return X[tr], Y[tr], wt, (X[va], Y[va], wv)

    # -------------------------------------------------------- prediction
    def _forward(self, X) -> np.ndarray:
        """Logits ``z`` of the network for validated float32 ``X`` (eval mode, no graph)."""
        model = self.model_
        was = model.training
        model.eval()
        try:
            with no_grad():
                parts = [np.asarray(model(Tensor(X[s:s + _PREDICT_CHUNK])).data)
                         for s in range(0, len(X), _PREDICT_CHUNK)]
        finally:
            model.train(was)
        if not parts:
            return np.zeros((0, self.n_outputs_), dtype=_DTYPE)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _validate_predict_X(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return np.ascontiguousarray(X, dtype=_DTYPE)

    @property
    def coefs_(self) -> list:
        """Weight matrices ``W(k)`` of shape (fan_in, fan_out), as in scikit-learn (views of ``model_``)."""
        check_is_fitted(self, "model_")
        return [layer.weight.data for layer in self.model_.linears]

    @property
    def intercepts_(self) -> list:
        """Bias vectors ``b(k)``, as in scikit-learn (views of ``model_``)."""
        check_is_fitted(self, "model_")
        return [layer.bias.data for layer in self.model_.linears]

    def __getstate__(self):
        # The trainer (optimizer buffers, snapshots) is not part of the fitted model;
        # after unpickling, partial_fit starts a fresh optimizer state.
        state = dict(super().__getstate__())
        state.pop("_trainer", None)
        state.pop("_stopper", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state:
            self._trainer = None


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained with backpropagation on the feedforward engine.

    The loss is the negative log-likelihood of the output unit (cross-entropy):
    softmax + categorical for more than two classes, sigmoid + Bernoulli for
    two classes and for multilabel targets (an indicator matrix).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Widths of the hidden layers (an empty tuple: no hidden layer, i.e. logistic regression).
    activation : str, default "relu"
        Hidden unit: ``relu``, ``abs``, ``leaky_relu``, ``prelu``, ``rrelu``,
        ``elu``, ``logistic``/``sigmoid``, ``tanh`` or ``identity``.
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty, as scikit-learn: each minibatch loss adds ``alpha / (2 B) ||w||^2``
        (here biases are penalised too).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` when "auto" (``mode="minibatch"`` only).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        ``solver="sgd"`` only, as in scikit-learn.
    learning_rate_init, power_t, momentum, nesterovs_momentum, beta_1, beta_2, epsilon :
        As in scikit-learn.
    max_iter : int, default 200
        Maximum number of epochs.
    shuffle : bool, default True
        Kept for compatibility; minibatches are always reshuffled every epoch (L-SGD-3).
    random_state : int, RandomState or None
        Initialisation, shuffling and the early-stopping split.
    tol, n_iter_no_change : float, int
        Stop when the training loss (or the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs.
    verbose, warm_start, early_stopping, validation_fraction :
        As in scikit-learn.
    mode : {"minibatch", "stochastic", "batch"}, default "minibatch"
        The lecture's ways of going through the data.
    grad_tol : float or None
        The lecture's stopping threshold ``theta`` on ``||grad J(w)||``.
    batch_growth : GrowingBatch or None
        A growing minibatch size (L-SGD-4).
    output : {"auto", "categorical", "bernoulli"}, default "auto"
        ``bernoulli`` for binary / multilabel, ``categorical`` for multiclass
        (``categorical`` also works for binary targets).
    class_weight : dict, "balanced" or None
        Per-class weights multiplying ``sample_weight`` (single-label targets).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : feedforward.nn.MLP
        The trained network (``model_.output`` is the output unit).
    output_ : str
        The output unit used.
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_ :
        As in scikit-learn.
    n_iter_ : int
        Epochs run by the last call to ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training samples seen.
    stop_reason_ : str
        ``"tol"``, ``"early_stopping"``, ``"grad_norm"``, ``"max_epochs"``,
        ``"diverged"`` or ``"partial_fit"``.
    history_ : feedforward.training.History
        Per-epoch records (loss, gradient norm, learning rate, time ...).
    n_features_in_, feature_names_in_, n_outputs_, n_layers_, coefs_, intercepts_ :
        As in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from feedforward.estimators import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _outputs = ("categorical", "bernoulli")

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, mode="minibatch",
                 grad_tol=None, batch_growth=None, output="auto", class_weight=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, mode=mode, grad_tol=grad_tol,
            batch_growth=batch_growth, output=output,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multilabel": True}

    # ---------------------------------------------------------- targets
    def _validate_fit_data(self, X, y, sample_weight, *, first, incremental, classes):
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True)
        X = self._as_model_dtype(X)
        y = _column_to_1d(y)
        check_classification_targets(y)
        kind = type_of_target(y)
        multilabel = kind == "multilabel-indicator"
        if first:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                all_classes = unique_labels(classes) if not multilabel else np.arange(y.shape[1])
            else:
                all_classes = np.arange(y.shape[1]) if multilabel else unique_labels(y)
            self._multilabel = multilabel
            self.classes_ = np.asarray(all_classes)
            self.output_ = self._choose_output(len(self.classes_), multilabel)
        else:
            if multilabel != self._multilabel:
                raise ValueError("the type of target changed between calls (multilabel vs single label)")
            if classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
                raise ValueError(f"`classes={list(classes)}` is not the same as on the first call to "
                                 f"partial_fit, was: {list(self.classes_)}")
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(f"y has {y.shape[1]} labels, the model was fitted with {len(self.classes_)}")
            Y = np.asarray(y, dtype=_DTYPE)
            codes = None
        else:
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unknown):
                raise ValueError(f"y contains labels {list(unknown)} not in classes {list(self.classes_)}; "
                                 "every class must be given on the first call (classes=)")
            if len(self.classes_) < 2:
                raise ValueError("a classifier needs samples of at least 2 classes in the data, but it "
                                 f"contains only one class: {self.classes_[0]!r}")
            codes = np.searchsorted(self.classes_, y)
            Y = codes.astype(_DTYPE) if self.output_ == "bernoulli" else codes.astype(np.int64)
        w = self._sample_weight(sample_weight, len(X))
        if self.class_weight is not None:
            if multilabel:
                raise ValueError("class_weight is not supported for multilabel targets")
            cw = self._class_weights(codes)
            w = cw[codes] if w is None else w * cw[codes]
            if not w.any():
                raise ValueError("class_weight and sample_weight leave no example with a positive weight")
        if w is not None and not multilabel:
            alive = np.unique(codes[w > 0])
            if len(alive) < 2:
                raise ValueError(f"only the class {self.classes_[alive[0]]!r} has a positive sample_weight; "
                                 "a classifier needs at least two classes with positive weight")
        return X, Y, w

    def _class_weights(self, codes):
        k = len(self.classes_)
        cw = self.class_weight
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
            counts = np.bincount(codes, minlength=k).astype(np.float64)
            out = np.where(counts > 0, len(codes) / (k * np.maximum(counts, 1)), 1.0)
            return out
        if not isinstance(cw, dict):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {type(cw).__name__}")
        out = np.ones(k)
        for label, weight in cw.items():
            where = np.flatnonzero(self.classes_ == label)
            if not len(where):
                raise ValueError(f"class_weight has the label {label!r}, which is not in classes "
                                 f"{list(self.classes_)}")
            out[where[0]] = _check_real(weight, f"class_weight[{label!r}]")
        return out

    def _choose_output(self, n_classes, multilabel):
        if self.output == "auto":
            return "bernoulli" if multilabel or n_classes <= 2 else "categorical"
        if self.output == "bernoulli" and not multilabel and n_classes > 2:
            raise ValueError(f"output='bernoulli' models binary or multilabel targets; this target has "
                             f"{n_classes} classes: use output='categorical' (or 'auto')")
        if self.output == "categorical" and multilabel:
            raise ValueError("output='categorical' models one class per example; multilabel targets need "
                             "output='bernoulli' (or 'auto')")
        return self.output

    def _n_outputs_for(self, Y):
        if Y.ndim == 2:
            return Y.shape[1]
        if self.output_ == "bernoulli":
            return 1
        return len(self.classes_)

    def _stratify(self, Y):
        return Y.ndim == 1

    # -------------------------------------------------------- public API
    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``; returns ``self``.

        ``y`` holds class labels of shape (n_samples,), or a 0/1 indicator
        matrix (n_samples, n_labels) for multilabel classification.
        ``sample_weight`` (n_samples,) weights each example's loss.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on ``(X, y)``, keeping the weights and the optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (float32), shape (n_samples, n_classes) (n_labels for multilabel)."""
        # Computed in float64 from the float32 logits, returned in float32: the
        # network's precision (scikit-learn compares float32 results with rtol=1e-4).
        z = self._forward(self._validate_predict_X(X)).astype(np.float64)
        if self.output_ == "bernoulli":
            p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, without overflow for large |z|
            if not self._multilabel:
                p = np.column_stack([1.0 - p[:, 0], p[:, 0]])
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        return p.astype(_DTYPE)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log predict_proba(X)``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,) (or an indicator matrix for multilabel)."""
        z = self._forward(self._validate_predict_X(X))
        if self.output_ == "bernoulli":
            if self._multilabel:
                return (z > 0).astype(np.int64)
            return self.classes_[(z[:, 0] > 0).astype(np.int64)]
        return self.classes_[np.argmax(z, axis=1)]

    def _score_arrays(self, X, Y, w):
        """Accuracy on already encoded arrays (early stopping's validation score)."""
        z = self._forward(X)
        if self.output_ == "bernoulli":
            pred = (z > 0).astype(_DTYPE)
            pred = pred if self._multilabel else pred[:, 0]
        else:
            pred = np.argmax(z, axis=1)
        return float(accuracy_score(Y, pred, sample_weight=w))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: a linear (Gaussian) output unit and the squared error.

    The loss is ``1/2 ||y - f(x)||^2`` averaged over examples, the negative
    log-likelihood of a unit-variance Gaussian (L-OUT-1). Targets of shape
    (n_samples,) or (n_samples, n_outputs).

    Parameters
    ----------
    Same as :class:`MLPClassifier` except ``class_weight``; ``output`` is
    ``"auto"`` or ``"gaussian"``.

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

    _outputs = ("gaussian",)

    def _validate_fit_data(self, X, y, sample_weight, *, first, incremental, classes):
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True)
        X = self._as_model_dtype(X)
        y = _column_to_1d(y)
        if first:
            self.output_ = "gaussian"
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(f"y has shape {y.shape}, but the model was fitted with {self.n_outputs_} "
                             "outputs")
        Y = np.ascontiguousarray(y, dtype=_DTYPE)
        return X, Y, self._sample_weight(sample_weight, len(X))

    def _n_outputs_for(self, Y):
        return 1 if Y.ndim == 1 else Y.shape[1]

    def _stratify(self, Y):
        return False

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch on ``(X, y)``, keeping the weights and the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values (float32), shape (n_samples,) or (n_samples, n_outputs)."""
        z = self._forward(self._validate_predict_X(X))
        return z[:, 0] if self.n_outputs_ == 1 else z

    def _score_arrays(self, X, Y, w):
        z = self._forward(X).astype(np.float64)
        pred = z[:, 0] if Y.ndim == 1 else z
        return float(r2_score(Y, pred, sample_weight=w))
