"""``MLPClassifier``: scikit-learn's classifier on the feedforward engine."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from .._validation import check_real
from ._base import BaseMLP
from ._data import output_names

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multilayer perceptron classifier trained with backpropagation on the feedforward engine.

    The loss is the negative log-likelihood of the output unit (cross-entropy):
    softmax + categorical for more than two classes, sigmoid + Bernoulli for
    two classes and for multilabel targets (an indicator matrix).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Widths of the hidden layers (an empty tuple: no hidden layer, i.e. logistic regression).
    activation : str, default "relu"
        A hidden unit of :data:`feedforward.nn.activation.ACTIVATIONS`: ``relu``,
        ``abs``, ``leaky_relu``, ``prelu``, ``rrelu``, ``elu``, ``logistic`` (=
        ``sigmoid``), ``tanh``, ``identity`` ...
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty, as scikit-learn: each minibatch loss adds ``alpha / (2 B) ||w||^2``
        (here biases are penalised too).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` when "auto" (``mode="minibatch"`` only).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        ``solver="sgd"`` only, as in scikit-learn ("adaptive":
        :class:`feedforward.optim.schedules.AdaptiveLR`).
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
        ``n_iter_no_change`` consecutive epochs
        (:class:`feedforward.training.stopping.SklearnStopping`).
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
    dtype : {None, "float32", "float64"}, default None
        The float type the network computes in. ``None`` follows the input, as
        scikit-learn's MLP: float32 data stays float32, anything else is float64.
        ``"float32"`` forces the faster float32 network on float64 data.
    class_weight : dict, "balanced" or None
        Per-class weights multiplying ``sample_weight`` (single-label targets).
    device : str, default "cpu"
        Where the network trains and predicts: ``"cpu"`` (NumPy), ``"cuda"`` or
        ``"cuda:N"`` (CuPy: ``pip install "feedforward[gpu]"``; without CuPy or a GPU,
        ``fit`` raises :class:`feedforward.backend.DeviceUnavailable` saying what is
        missing). ``fit`` moves the data once; ``predict`` takes and returns NumPy
        arrays, and ``coefs_``, ``intercepts_`` and ``loss_curve_`` are NumPy / floats.
        A pickle or model file of an estimator fitted on a GPU loads on a CPU.

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

    _task = "classification"
    _metric = "accuracy"
    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "output": [StrOptions(output_names("classification"))],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, mode="minibatch",
                 grad_tol=None, batch_growth=None, output="auto", dtype=None, class_weight=None, device="cpu"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, mode=mode, grad_tol=grad_tol,
            batch_growth=batch_growth, output=output, dtype=dtype, device=device,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # ---------------------------------------------------------- targets
    def _encode_targets(self, y, dtype, *, first, incremental, classes):
        """Labels as codes ``0 .. n_classes - 1`` (a 0/1 column for Bernoulli, an indicator matrix as is)."""
        check_classification_targets(y)
        multilabel = type_of_target(y) == "multilabel-indicator"
        if first:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                all_classes = np.arange(y.shape[1]) if multilabel else unique_labels(classes)
            else:
                # classes: a data-parallel fit's labels of every rank (_all_labels)
                labels = y if classes is None else classes
                all_classes = np.arange(y.shape[1]) if multilabel else unique_labels(labels)
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
            return np.asarray(y, dtype=dtype)
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError(f"y contains labels {list(unknown)} not in classes {list(self.classes_)}; "
                             "every class must be given on the first call (classes=)")
        if len(self.classes_) < 2:
            raise ValueError("a classifier needs samples of at least 2 classes in the data, but it "
                             f"contains only one class: {self.classes_[0]!r}")
        codes = np.searchsorted(self.classes_, y)
        return codes.astype(dtype) if self.output_ == "bernoulli" else codes.astype(np.int64)

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
        return 1 if self.output_ == "bernoulli" else len(self.classes_)

    def _all_labels(self, y, comm):
        if type_of_target(y) == "multilabel-indicator":
            return None
        return unique_labels(*comm.allgather(unique_labels(y), "the class labels"))

    def _target_weights(self, y, w, comm=None):
        """``sample_weight`` times the ``class_weight`` of each example's class.

        With ``comm``, ``"balanced"`` counts the classes over every rank's ``y``.
        """
        if self.class_weight is not None:
            if self._multilabel:
                raise ValueError("class_weight is not supported for multilabel targets")
            cw = self._checked_class_weight(y)
            if comm is not None and isinstance(cw, str):  # "balanced": n / (C n_c), over all ranks
                counts = comm.sum([np.count_nonzero(y == c) for c in self.classes_], "the class counts")
                cw = {c: counts.sum() / (len(self.classes_) * k) for c, k in zip(self.classes_, counts) if k}
                cw = {c: v for c, v in cw.items() if np.isin(c, y)}
            w_class = compute_sample_weight(cw, y)
            w = w_class if w is None else w * w_class
            if comm is None and not w.any():
                raise ValueError("class_weight and sample_weight leave no example with a positive weight")
        if w is not None and not self._multilabel:
            alive = np.unique(y[w > 0])
            if comm is not None:
                alive = np.unique(np.concatenate(comm.allgather(alive, "the classes with weight")))
            if not len(alive):
                raise ValueError("class_weight and sample_weight leave no example with a positive weight")
            if len(alive) < 2:
                raise ValueError(f"only the class {alive[0]!r} has a positive sample_weight; "
                                 "a classifier needs at least two classes with positive weight")
        return w

    def _checked_class_weight(self, y):
        """``class_weight`` for ``compute_sample_weight``: a dict's labels known, its weights numbers >= 0.

        scikit-learn accepts negative weights and names the wrong classes for an unknown label;
        a dict is also cut to the labels in ``y`` (a partial_fit chunk may lack some).
        """
        cw = self.class_weight
        if not isinstance(cw, dict):
            return cw
        present = set(np.unique(y).tolist())
        for label, weight in cw.items():
            if not np.isin(label, self.classes_):
                raise ValueError(f"class_weight has the label {label!r}, which is not in classes "
                                 f"{list(self.classes_)}")
            check_real(weight, f"class_weight[{label!r}]", low=0)
        return {label: weight for label, weight in cw.items() if label in present}

    # -------------------------------------------------------- public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, comm=None):
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``; returns ``self``.

        ``y`` holds class labels of shape (n_samples,), or a 0/1 indicator
        matrix (n_samples, n_labels) for multilabel classification.
        ``sample_weight`` (n_samples,) weights each example's loss.
        ``comm`` (an mpi4py communicator): data-parallel training, each rank passing its shard
        of ``X, y`` (:mod:`feedforward.distributed`); the classes are those of every shard.
        """
        return self._fit(X, y, sample_weight, comm=comm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on ``(X, y)``, keeping the weights and the optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (n_labels for multilabel), in the network's dtype."""
        p = self._predict_rows(X, "mean")
        if self.output_ == "bernoulli" and not self._multilabel:
            p = np.column_stack([1 - p[:, 0], p[:, 0]])
        return p

    def predict_log_proba(self, X) -> np.ndarray:
        """``log predict_proba(X)``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,) (or an indicator matrix for multilabel)."""
        codes = self._predict_rows(X, "predict")
        if self._multilabel:
            return codes
        return self.classes_[codes[:, 0] if codes.ndim == 2 else codes]
