"""What :class:`MLPClassifier` and :class:`MLPRegressor` share: parameters, fitting, chunked prediction.

``fit`` reads top-down:

1. the parameters, checked by scikit-learn against ``_parameter_constraints``
   (through ``_fit_context``), the widths by :mod:`feedforward._validation`;
2. the data: ``validate_data``, then the dtype the network computes in (the
   input's float dtype unless ``dtype`` forces one), the targets (the
   subclass's ``_encode_targets``) and the weights;
3. on the first call, the network ``model_``;
4. with ``early_stopping``, a validation part held out by
   :func:`feedforward.data.split.split_indices` (stratified for single-label classes);
5. the run, by :class:`feedforward.training.Trainer` on ``device`` (the network and the
   data moved there once), with :class:`feedforward.training.stopping.SklearnStopping`
   keeping scikit-learn's record;
6. the record read into the fitted attributes (NumPy arrays and floats whatever the
   device), and a ``ConvergenceWarning`` when ``max_iter`` ran out or training diverged.

Prediction takes host rows and returns NumPy: each chunk's outputs come back from the
device in one explicit copy (:func:`feedforward.io.host.outputs_on_host`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np

try:
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("ff.estimators needs scikit-learn >= 1.6: pip install feedforward[sklearn]") from exc

from .. import backend
from ..autograd import no_grad
from ..data.split import split_indices
from ..distributed.comm import as_communicator
from ..io.host import model_device, on_host, outputs_on_host
from ..nn.activation import ACTIVATIONS
from ..nn.mlp import MLP
from ..nn.module import eval_mode
from ..optim.schedules import AdaptiveLR, InvScaling
from ..training import Trainer
from ..training.batching import MODES
from ..training.stopping import SklearnStopping
from ._data import as_dtype, column_to_1d, hidden_sizes, inputs_hint, max_abs, warn_if_huge
from ._modelfile import ModelFileMixin

@contextlib.contextmanager
def _alone(what):
    yield


_PREDICT_CHUNK = 8192  # rows per forward pass in predict: bounds the hidden activations' memory
_SEED = np.iinfo(np.int32).max
_STOP_MESSAGES = {
    "tol": "training loss did not improve more than tol for n_iter_no_change epochs",
    "early_stopping": "validation score did not improve more than tol for n_iter_no_change epochs",
    "grad_norm": "gradient norm fell below grad_tol",
    "max_epochs": "reached max_iter",
    "diverged": "training diverged (the weights from before it were kept)",
}


def _device(spec) -> backend.Device:
    """The ``device`` parameter as a usable Device: a ValueError for an unknown spelling, the
    backend's DeviceUnavailable (what to install) when this machine cannot give it."""
    try:
        dev = backend.device(spec)
    except ValueError as exc:
        raise ValueError(f"device={spec!r}: {exc}") from None
    backend.get_backend(dev)
    return dev


def _usable(spec) -> bool:
    try:
        return backend.is_available(spec)
    except ValueError:  # a device type not registered in this process
        return False


def _float_or_none(value):
    return None if value is None else float(value)


class BaseMLP(ModelFileMixin, BaseEstimator):
    """Shared fitting machinery of :class:`MLPClassifier` and :class:`MLPRegressor` (see their docs).

    A subclass sets ``_task`` and ``_metric`` (early stopping's score) and defines
    ``_encode_targets``, ``_n_outputs_for`` and, if it has them, ``_target_weights``.
    """

    _task = ""
    _metric = ""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "mode": [StrOptions(set(MODES))],
        "grad_tol": [None, Interval(Real, 0, None, closed="neither")],
        "batch_growth": [None, HasMethods(["size", "state_dict"])],
        "dtype": [None, StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
        # Any spelling of a registered backend ("cpu", "cuda", "cuda:1"): checked by _device in fit.
        "device": [str, backend.Device],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, mode="minibatch",
                 grad_tol=None, batch_growth=None, output="auto", dtype=None, device="cpu"):
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
        self.dtype = dtype
        self.device = device

    # ------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None, comm=None):
        comm = as_communicator(comm)
        dev = _device(self.device)
        sizes = hidden_sizes(self.hidden_layer_sizes)
        if self.batch_growth is not None and self.mode != "minibatch":
            raise ValueError(f"batch_growth needs mode='minibatch', got mode={self.mode!r}")
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        if not first and getattr(self, "pipeline_", None) is not None and not self.pipeline_.is_identity:
            raise ValueError(f"{type(self).__name__} was loaded from a model file whose inputs are encoded "
                             "(scaling, categories or fill values): predict with it, or fit a new estimator "
                             "(warm_start=False)")
        # With comm, each rank checks its shard and an error on one is raised on all (no rank
        # goes on alone into the collectives that follow).
        agreed = comm.agree if comm is not None else _alone

        with agreed("X and y"):
            X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True,
                                 y_numeric=self._task == "regression")
            y = column_to_1d(y)
            if first:
                dtype = X.dtype if self.dtype is None else np.dtype(self.dtype)
            else:
                dtype = self._dtype()
            X = as_dtype(X, dtype, "X")
            largest = max_abs(X)
            warn_if_huge(X, largest, type(self).__name__)
        if comm is not None and first and not incremental:
            classes = self._all_labels(y, comm)  # every class, whichever shards hold it
        w = None
        with agreed("the targets and sample_weight"):
            Y = self._encode_targets(y, dtype, first=first, incremental=incremental, classes=classes)
            if sample_weight is not None:
                w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        w = self._target_weights(y, w, comm)
        # Sizes over every rank's shard: the batch size and the L2 scaling are the whole set's.
        n_all, w_all = len(X), (None if w is None else float(w.sum()))
        if comm is not None:
            n_all, w_all = comm.sum([len(X), 0.0 if w is None else w.sum()], "the training set size")
            n_all, w_all = int(n_all), (None if w is None else float(w_all))

        rs = check_random_state(self.random_state)
        if first:
            self.pipeline_ = None  # a fit on raw inputs: nothing to encode
            # Drawn on the host from the seed (the trainer moves it to `device`): the same
            # random_state gives the same network on every device.
            self.model_ = MLP([X.shape[1], *sizes, self._n_outputs_for(Y)], activation=self.activation,
                              output=self.output_, rng=rs.randint(_SEED), dtype=dtype)
            self.n_layers_ = len(sizes) + 2
            self.n_outputs_ = self.model_.sizes[-1]
            self.t_ = 0
            self._trainer = self._stopping = None
        validation = fraction = None
        if self.early_stopping and comm is None:
            X, Y, w, validation = self._split_validation(X, Y, w, rs)
            n_all, w_all = len(X), (None if w is None else float(w.sum()))
        elif self.early_stopping:
            # The trainer draws the split over every rank's rows, as one process would.
            fraction = self.validation_fraction
            n_val = math.ceil(fraction * n_all)  # what split_indices holds out
            # The training part's mean weight is taken as the whole set's (it only scales alpha).
            n_all, w_all = n_all - n_val, (None if w_all is None else w_all * (n_all - n_val) / n_all)
        if incremental and self._trainer is not None and self._trainer_device == dev:
            trainer, stopping = self._trainer, self._stopping
        else:
            # The trainer moves the network (in place; it stays there) and the data to dev once.
            trainer, stopping = self._make_trainer(n_all, w_all, rs, previous=None if first else self._stopping,
                                                   comm=comm, device=dev)
        if incremental:
            history = trainer.partial_fit(X, Y, sample_weight=w)
        else:
            history = trainer.fit(X, Y, sample_weight=w, validation_data=validation, validation_fraction=fraction)
        self._trainer, self._stopping, self._trainer_device = trainer, stopping, dev
        self._read_run(trainer, stopping, history, n_all, largest, incremental)
        return self

    def _all_labels(self, y, comm):
        """The labels of every rank's ``y`` (None: no classes to agree on)."""
        return None

    def _target_weights(self, y, w, comm=None):
        """The weights of the examples, given their targets (a classifier's ``class_weight``)."""
        return w

    def _split_validation(self, X, Y, w, rs):
        stratify = Y if self._task == "classification" and Y.ndim == 1 else None
        too_small = ("The validation set is too small. Increase 'validation_fraction' or the size of your "
                     f"dataset (n_samples={len(X)}, validation_fraction={self.validation_fraction}).")
        try:
            train, val = split_indices(len(X), self.validation_fraction, stratify=stratify,
                                       rng=rs.randint(_SEED), name="validation_fraction")
        except ValueError:
            raise ValueError(too_small) from None
        if len(val) < 2:
            raise ValueError(too_small)
        train, val = np.sort(train), np.sort(val)
        if w is None:
            return X[train], Y[train], None, (X[val], Y[val])
        if not w[train].any():
            raise ValueError("sample_weight is zero on the whole training part left by early_stopping's "
                             "validation split")
        return X[train], Y[train], w[train], (X[val], Y[val], w[val])

    def _make_trainer(self, n_train, w_total, rs, previous, comm=None, device="cpu"):
        if self.mode == "minibatch":
            batch = min(200, n_train) if self.batch_size == "auto" else self.batch_size
            if batch > n_train:
                warnings.warn("Got `batch_size` larger than sample size. It is going to be clipped",
                              UserWarning, stacklevel=5)
            batch = min(batch, n_train)
        else:
            batch = 1 if self.mode == "stochastic" else n_train
        growth = copy.deepcopy(self.batch_growth)  # never change a parameter (it has state)
        first_batch = batch if growth is None else min(getattr(growth, "start", batch), n_train)
        # scikit-learn adds alpha / (2 * the batch's weight sum) * ||W||^2 to each minibatch loss:
        # on the trainer's weighted mean loss, an L2 coefficient alpha / (B * mean weight).
        l2 = self.alpha / (first_batch * (1.0 if w_total is None else w_total / n_train))
        schedule = None
        if self.solver == "sgd":  # learning_rate applies to sgd only, as in scikit-learn
            if self.learning_rate == "invscaling":
                schedule = InvScaling(self.power_t)
            elif self.learning_rate == "adaptive":
                schedule = AdaptiveLR(n_iter_no_change=None)  # stepped down by the stopping rule
            optimizer = dict(optimizer="sgd", momentum=self.momentum,
                             nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        else:
            optimizer = dict(optimizer="adam", betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        stopping = SklearnStopping(
            self.tol, self.n_iter_no_change, early_stopping=self.early_stopping, metric=self._metric, l2=l2,
            adaptive=schedule if isinstance(schedule, AdaptiveLR) else None, verbose=self.verbose,
            previous=previous,
        )
        trainer = Trainer(
            self.model_, lr=self.learning_rate_init, weight_decay=l2, mode=self.mode, batch_size=batch,
            max_epochs=self.max_iter, grad_tol=self.grad_tol, lr_schedule=schedule, batch_schedule=growth,
            metrics=[self._metric], callbacks=[stopping], rng=rs.randint(_SEED),
            # scikit-learn's loss_curve_ is the epoch's mean minibatch loss: no extra pass over the
            # data, unless the lecture's gradient-norm test needs the full gradient.
            train_eval="batches" if self.grad_tol is None else "grad", comm=comm, device=device, **optimizer,
        )
        return trainer, stopping

    def _read_run(self, trainer, stopping, history, n_train, largest, incremental):
        """The fitted attributes from the run's record; a ConvergenceWarning if it did not converge."""
        epochs = 1 if incremental else len(history.records)
        self.history_ = history
        self.n_iter_ = epochs
        self.t_ += epochs * n_train
        # Python floats whatever the device (what a scikit-learn user plots and pickles).
        self.loss_curve_ = [float(v) for v in stopping.loss_curve]
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")
        self.best_loss_ = _float_or_none(stopping.best_loss)
        scores = stopping.validation_scores
        self.validation_scores_ = None if scores is None else [float(v) for v in scores]
        self.best_validation_score_ = _float_or_none(stopping.best_validation_score)
        reason = stopping.reason or trainer.stop_reason
        self.stop_reason_ = reason if reason is not None else "partial_fit"
        if self.verbose and reason is not None:
            print(f"Stopped after {epochs} epochs: {_STOP_MESSAGES.get(reason, reason)}.")
        # stacklevel 5: _read_run, _fit, fit, scikit-learn's _fit_context, the caller.
        if trainer.stop_reason == "diverged":
            warnings.warn(
                f"{type(self).__name__}: training diverged in epoch {len(history.records) + 1} and stopped "
                "with the weights from before that epoch; lower learning_rate_init "
                f"(={self.learning_rate_init:g})." + inputs_hint(largest),
                ConvergenceWarning, stacklevel=5,
            )
        elif not incremental and trainer.stop_reason == "max_epochs":
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet." + inputs_hint(largest), ConvergenceWarning,
                          stacklevel=5)

    # ------------------------------------------------------ prediction
    def _predict_rows(self, X, what: str) -> np.ndarray:
        """The output unit's ``what`` (``"predict"`` or ``"mean"``) for checked ``X``, a chunk of rows at a time.

        The output unit turns the network's logits into labels, probabilities or values.
        Chunks bound the memory of the hidden activations whatever the number of rows; the
        logits are checked, so an overflow inside the network is an error, not class 0.
        ``X`` is a host array; the network runs where it lives (``device``) and its outputs
        come back as NumPy, one chunk's logits at a time.
        """
        check_is_fitted(self, "model_")
        pipe = getattr(self, "pipeline_", None)
        if pipe is not None and not pipe.is_identity:
            # Loaded from a file with preprocessing (feedforward train's): raw rows, text included.
            X = pipe.transform(X, self._dtype())
        else:
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
            X = as_dtype(X, self._dtype(), "X")
        model, unit = self.model_, self.model_.output
        parts = []
        # An overflow is reported below as one clear error, not as NumPy's RuntimeWarning first.
        with no_grad(), eval_mode(model), np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, len(X), _PREDICT_CHUNK):
                z = outputs_on_host(model, X[start:start + _PREDICT_CHUNK])
                if not np.isfinite(z).all():
                    row = start + int(np.argwhere(~np.isfinite(z))[0][0])
                    wider = " or compute in float64 (dtype='float64')" if z.dtype != np.float64 else ""
                    raise ValueError(
                        f"{type(self).__name__}: the network's output for row {row} of X is not finite: "
                        f"{z.dtype.name} overflowed inside the network (max |X| = {max_abs(X):.3g}); "
                        f"scale the inputs{wider}"
                    )
                parts.append(np.asarray(getattr(unit, what)(z)))
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if pipe is not None and self._task == "regression" and (pipe.y_scale, pipe.y_mean) != (1.0, 0.0):
            out = (out * pipe.y_scale + pipe.y_mean).astype(out.dtype)
        return out

    def _dtype(self) -> np.dtype:
        """The float dtype the fitted network computes in."""
        return self.model_.linears[0].weight.data.dtype

    @property
    def coefs_(self) -> list:
        """Weight matrices ``W(k)`` of shape (fan_in, fan_out), as in scikit-learn, as NumPy arrays:
        views of ``model_`` on the CPU, host copies of a network on a device."""
        check_is_fitted(self, "model_")
        return [backend.to_numpy(layer.weight.data) for layer in self.model_.linears]

    @property
    def intercepts_(self) -> list:
        """Bias vectors ``b(k)``, as in scikit-learn, as NumPy arrays (as ``coefs_``)."""
        check_is_fitted(self, "model_")
        return [backend.to_numpy(layer.bias.data) for layer in self.model_.linears]

    def __getstate__(self):
        # The trainer (optimizer buffers, snapshots) is not part of the fitted model; after
        # unpickling, partial_fit starts a fresh optimizer state (the stopping record goes on).
        state = dict(super().__getstate__())
        state.pop("_trainer", None)
        model = state.get("model_")
        if model is not None and model_device(model) != "cpu":
            # Host arrays in the pickle (the network's, and any the stopping record holds): it
            # loads on a machine without the device.
            state = on_host(state)
            state["_model_device"] = str(model_device(model))
        return state

    def __setstate__(self, state):
        where = state.pop("_model_device", None)
        super().__setstate__(state)
        if "model_" in state:
            self._trainer = None
        if where is not None and _usable(where):
            # Back on the device it was fitted on when this machine has it; else it stays on
            # the CPU, where predict works (a refit asks for `device` again).
            self.model_.to(where)
