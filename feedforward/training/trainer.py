"""The training loop: ``ff.fit`` and ``ff.Trainer`` (L-SGD-1..5, L-SGD-7, L-ACT-7).

One epoch goes through the training set in the chosen ``mode`` (see
:mod:`feedforward.training.batching`), updating the weights with the
optimizer. At the end of every epoch the loop evaluates the training
objective ``J(w)`` (mean NLL of the output unit) and its gradient over the
**whole** training set, in chunks, as both of the lecture's algorithms do
for their stopping test ``||grad J(w)|| < theta``; then the validation data,
the metrics and (optionally) the dead/saturated-unit diagnostics. Everything
goes into a :class:`~feedforward.training.history.History` record.

Safety nets: a loss that becomes NaN/inf stops the run (``"diverged"``) with
the weights of the last finite epoch put back and a :class:`DivergenceWarning`;
checkpoints let a run resume bit-identically.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import time
import warnings

import numpy as np

from .._rng import as_rng
from .._validation import check_finite, check_labels, check_sample_weight
from ..autograd import no_grad
from ..nn.activation import RReLU
from .. import _blas
from ..functional.chain import sgd_in_backward
from ..nn.module import Module, Sequential
from ..nn.output import Bernoulli, Categorical, OutputUnit, get_output
from ..optim.clip import clip_grad_norm
from ..optim.optimizers import SGD, Adam, Optimizer
from ..optim.schedules import get_schedule
from ..tensor import Tensor
from .batching import check_batch_size, check_mode, epoch_order
from .callbacks import call_hook, check_callbacks, has_hook
from .diagnostics import ActivationProbe, layer_grad_norms
from .history import History
from .metrics import METRICS, resolve_metrics
from .snapshot import Snapshot
from .stopping import MONITORS, Monitor, grad_norm_reached

__all__ = ["Trainer", "fit", "DivergenceWarning", "DEFAULT_BATCH_SIZE"]


class DivergenceWarning(RuntimeWarning):
    """The loss became NaN or infinite; training stopped and the last finite weights were restored."""


class _DefaultBatchSize(int):
    """The default ``batch_size=32``; on a data set of fewer than 32 examples it means ``n``.

    An explicit ``batch_size`` larger than the data is an error; the default is
    not, so ``ff.fit(model, X_xor, y_xor)`` works on the lecture's 4 patterns.
    """

    def __repr__(self):
        return "32"


DEFAULT_BATCH_SIZE = _DefaultBatchSize(32)


class _Part:
    """One data set (training or validation) ready for the loop."""

    __slots__ = ("X", "y", "w", "n", "w_total")

    def __init__(self, X, y, w):
        self.X, self.y, self.w, self.n = X, y, w, len(X)
        self.w_total = None if w is None else float(w.sum(dtype=np.float64))

    def take(self, idx):
        return _Part(self.X[idx], self.y[idx], None if self.w is None else self.w[idx])


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_real(value, name, allow_none=True):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (value > 0 and math.isfinite(value))
    ):
        raise ValueError(
            f"{name} must be a finite number > 0{' or None' if allow_none else ''}, got {value!r}"
        )
    return float(value)


class Trainer:
    """Train a model with the lecture's gradient descent variants, and keep the record.

    Parameters
    ----------
    model : Module
        Returns the pre-activation (logits) ``z`` of the output unit.
    output : str or OutputUnit, optional
        ``"gaussian"``, ``"bernoulli"``, ``"categorical"`` or an instance;
        default ``model.output`` (an ``MLP`` built with ``output=`` has one).
    optimizer : {"sgd", "adam"} or Optimizer
        A name (built on ``model.parameters()`` with ``lr``, ``momentum``,
        ``nesterov``, ``weight_decay``, ``betas``, ``eps``) or an optimizer
        already built on exactly the model's trainable parameters (its ``lr`` when the trainer is
        made is the base rate; :meth:`Trainer.fit` resets its state, :meth:`Trainer.partial_fit`
        keeps it). Parameters with ``requires_grad=False`` are left alone. With plain SGD (no
        momentum, no weight decay), no ``clip_norm`` and no ``on_batch_end`` callback, the
        stochastic and minibatch modes update the large weight matrices inside the backward pass
        (:class:`feedforward.functional.chain.sgd_in_backward`): the same update, and those
        matrices' ``.grad`` stays ``None`` during the epoch.
    lr : float
        Learning rate ``eta > 0`` (the lecture's erratum calls it "weight decay").
    momentum, nesterov, weight_decay : SGD options (``weight_decay`` is the L2 penalty ``lambda``).
    betas, eps : Adam options.
    mode : {"minibatch", "stochastic", "batch"}
        How an epoch goes through the data (:mod:`feedforward.training.batching`).
    batch_size : int
        Minibatch size (``"minibatch"`` mode only; ``1 <= batch_size <= n``).
        The default 32 becomes ``n`` on data sets of fewer than 32 examples.
    max_epochs : int
        Upper bound on epochs (``stop_reason == "max_epochs"``).
    grad_tol : float, optional
        The lecture's ``theta``: stop when ``||grad J(w)||_2 < theta``, ``J`` the
        training objective over the whole training set at the end of the epoch
        (including the L2 penalty when ``weight_decay > 0``).
    lr_schedule : str or LRSchedule, optional
        ``"constant"``, ``"step"``, ``"exponential"``, ``"invscaling"``,
        ``"cosine"``, ``"plateau"``, ``"adaptive"`` or an object from
        :mod:`feedforward.optim.schedules`; applied once per epoch.
    batch_schedule : GrowingBatch, optional
        A growing minibatch size (L-SGD-4); needs ``mode="minibatch"``.
    early_stopping : bool
        Stop after ``patience`` epochs without an improvement larger than
        ``min_delta`` in ``monitor``; with ``restore_best`` put back the best weights.
    monitor : str, optional
        ``"val_loss"`` (default with validation data), ``"train_loss"``
        (default without), ``"val_metric"`` or ``"train_metric"``.
    metrics : str or list of str, optional
        ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"``; default accuracy for
        classification output units, mse for the Gaussian. The first is ``*_metric``.
    callbacks : sequence
        Objects with ``on_epoch_end`` / ``on_batch_end`` ... (:mod:`feedforward.training.callbacks`).
    progress : bool
        A tqdm progress bar over epochs with the loss and validation metric.
    diagnostics : bool
        Per epoch and layer: dead rectifier units, saturated sigmoid/tanh units,
        gradient norms (L-ACT-7), under ``record["diagnostics"]``.
    clip_norm : float, optional
        Clip each update's gradient to this global norm.
    checkpoint_path, checkpoint_every :
        Write a checkpoint every ``checkpoint_every`` epochs and when the run
        stops (``checkpoint_every=None``: only when it stops).
    resume_from : str, optional
        Continue a run from a checkpoint; the result is bit-identical to an
        uninterrupted run with the same options and data.
    rng : int, Generator or None
        Randomness of the shuffling, the stochastic sampling and the validation split.
    eval_chunk_size : int
        Rows per forward pass in the epoch-end evaluation (memory vs speed).
    train_eval : {"grad", "loss", "batches"}, optional
        What the end of each epoch computes on the training set. ``"grad"``: ``J(w)``, the
        metrics and ``||grad J(w)||`` over the whole set (a forward and a backward pass);
        ``"loss"``: ``J(w)`` and the metrics (a forward pass; ``grad_norm`` is ``None``);
        ``"batches"``: no extra pass, ``train_loss`` is the mean of the epoch's minibatch
        losses (as scikit-learn's ``loss_curve_`` and Keras), ``train_metric`` and
        ``grad_norm`` are ``None``. Default ``"grad"``: the lecture's algorithms test
        ``||grad J(w)||`` every epoch, and the history records it. ``"batches"`` is the fast
        choice (the scikit-learn estimators use it; about a third less work per epoch on
        big data). In ``mode="batch"`` the full gradient is the next update's gradient,
        computed anyway: all three record ``J``, the metrics and ``||grad J||``.
    saturation_tol : float
        Threshold of the saturation diagnostic (:mod:`feedforward.training.diagnostics`).

    Attributes
    ----------
    history : History
    optimizer : Optimizer
    stop_reason : str or None
    epoch : int
        Epochs completed in this run.
    validation_split : (train_rows, val_rows) or None
        The rows of ``X`` used for training and validation when ``validation_fraction`` was given.
    stop_training : bool
        Set it in a callback to stop after the current epoch.
    """

    def __init__(
        self,
        model,
        output=None,
        *,
        optimizer="sgd",
        lr=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=0.0,
        betas=(0.9, 0.999),
        eps=1e-8,
        mode="minibatch",
        batch_size=DEFAULT_BATCH_SIZE,
        max_epochs=100,
        grad_tol=None,
        lr_schedule=None,
        batch_schedule=None,
        early_stopping=False,
        patience=10,
        min_delta=0.0,
        restore_best=True,
        monitor=None,
        metrics=None,
        callbacks=(),
        progress=False,
        diagnostics=False,
        clip_norm=None,
        checkpoint_path=None,
        checkpoint_every=None,
        resume_from=None,
        rng=None,
        eval_chunk_size=4096,
        saturation_tol=0.1,
        train_eval=None,
    ):
        if not isinstance(model, Module):
            raise TypeError(f"model must be an ff.nn.Module, got {type(model).__name__}")
        self.model = model
        # Frozen parameters (requires_grad=False) are left alone, as a PyTorch user filters them.
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no parameters to train (none with requires_grad=True)")
        unit = get_output(output) if output is not None else getattr(model, "output", None)
        if not isinstance(unit, OutputUnit):
            raise ValueError(
                "training needs an output unit: pass output='categorical' / 'bernoulli' / 'gaussian' "
                "(or an OutputUnit), or build the model with one, e.g. ff.nn.MLP(sizes, output='categorical')"
            )
        self.output = unit
        self.mode = check_mode(mode)
        _positive_int(batch_size, "batch_size")
        # Keep the default's type: it shrinks to n on small data sets instead of raising.
        self.batch_size = batch_size if isinstance(batch_size, _DefaultBatchSize) else int(batch_size)
        self.max_epochs = _positive_int(max_epochs, "max_epochs")
        self.grad_tol = _positive_real(grad_tol, "grad_tol")
        self.optimizer = self._make_optimizer(optimizer, lr, momentum, nesterov, weight_decay, betas, eps)
        self._initial_lr = self.optimizer.lr  # schedules change optimizer.lr; every fit() starts from this
        self._lr_spec = lr_schedule
        get_schedule(lr_schedule, max_epochs=self.max_epochs)  # validate the name now
        if batch_schedule is not None:
            if self.mode != "minibatch":
                raise ValueError(f"batch_schedule needs mode='minibatch', got mode={self.mode!r}")
            if not (
                callable(getattr(batch_schedule, "size", None)) and hasattr(batch_schedule, "state_dict")
            ):
                raise TypeError(
                    "batch_schedule must be a GrowingBatch (or have size(epoch, n), observe, "
                    "state_dict, load_state_dict, reset)"
                )
        self.batch_schedule = batch_schedule
        self.early_stopping = bool(early_stopping)
        self.patience = _positive_int(patience, "patience")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        if monitor is not None and monitor not in MONITORS:
            raise ValueError(f"unknown monitor {monitor!r}; expected one of {MONITORS}")
        self.monitor_key = monitor
        self.metrics = resolve_metrics(metrics, unit.task)
        self.callbacks = check_callbacks(callbacks)
        self.progress = bool(progress)
        if self.progress:
            _need_tqdm()
        self.diagnostics = bool(diagnostics)
        self.clip_norm = _positive_real(clip_norm, "clip_norm")
        if checkpoint_every is not None:
            checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every")
            if checkpoint_path is None:
                raise ValueError("checkpoint_every needs checkpoint_path")
        if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
            raise TypeError(f"checkpoint_path must be a path, got {type(checkpoint_path).__name__}")
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        if resume_from is not None and not isinstance(resume_from, (str, os.PathLike)):
            raise TypeError(f"resume_from must be a path, got {type(resume_from).__name__}")
        self.resume_from = resume_from
        self.rng = as_rng(rng)
        self.eval_chunk_size = _positive_int(eval_chunk_size, "eval_chunk_size")
        if not 0 < saturation_tol < 1:
            raise ValueError(f"saturation_tol must be in (0, 1), got {saturation_tol!r}")
        self.saturation_tol = float(saturation_tol)
        self.train_eval = self._check_train_eval(train_eval)
        self.dtype = self.params[0].dtype
        # Gradient of the L2 penalty, added to the stopping test's gradient (not for AdamW).
        decoupled = getattr(self.optimizer, "decoupled", False)
        self._l2 = 0.0 if decoupled else float(getattr(self.optimizer, "weight_decay", 0.0) or 0.0)
        self._deterministic = not any(
            isinstance(m, RReLU) or any(isinstance(v, np.random.Generator) for v in vars(m).values())
            for m in model.modules()
        )
        self.history = History()
        self.stop_reason = None
        self.stop_training = False
        self.epoch = 0
        self.validation_split = None
        self._started = False
        # Set by a caller that has already checked X for NaN and inf in the model's dtype (the
        # scikit-learn estimators, through validate_data): one pass less over a large X.
        self._finite_checked = False

    # ------------------------------------------------------------ set-up
    def _check_train_eval(self, train_eval):
        choices = ("grad", "loss", "batches")
        if train_eval is None:
            return "grad"
        if train_eval not in choices:
            raise ValueError(f"train_eval must be one of {choices} or None, got {train_eval!r}")
        if self.mode != "batch":
            if train_eval != "grad" and self.grad_tol is not None:
                raise ValueError(
                    f"grad_tol needs ||grad J(w)|| over the whole training set every epoch: "
                    f"train_eval='grad', not {train_eval!r}"
                )
            if train_eval != "grad" and self.diagnostics:
                raise ValueError(f"diagnostics need train_eval='grad', not {train_eval!r}")
            if train_eval == "batches" and self.monitor_key == "train_metric":
                raise ValueError("monitor='train_metric' needs train_eval='grad' or 'loss', not 'batches'")
        return train_eval

    def _make_optimizer(self, optimizer, lr, momentum, nesterov, weight_decay, betas, eps):
        if isinstance(optimizer, Optimizer):
            ours = {id(p) for p in self.params}
            theirs = {id(p) for p in optimizer.params}
            if ours != theirs:
                raise ValueError("the optimizer was built on other parameters than model.parameters()")
            return optimizer
        if not isinstance(optimizer, str) or optimizer.lower() not in ("sgd", "adam"):
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected 'sgd', 'adam' or an ff.optim.Optimizer"
            )
        if optimizer.lower() == "sgd":
            return SGD(self.params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        return Adam(self.params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _check_xy(self, X, y, sample_weight, what="X"):
        X = np.asarray(getattr(X, "data", X))
        if X.dtype.kind not in "iufb":
            raise TypeError(f"{what} must be numeric, got an array of dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(
                f"{what} must be a 2-D array of shape (n_samples, n_features), got shape {X.shape}"
            )
        n = len(X)
        if n == 0:
            raise ValueError(f"{what} is empty (0 samples); training needs at least one example")
        if not (self._finite_checked and X.dtype == self.dtype):
            _check_finite_fast(X, what)
        with np.errstate(over="ignore"):  # a float64 too large for float32 is reported just below
            X_cast = np.ascontiguousarray(X, dtype=self.dtype)
        if X_cast.dtype != X.dtype:  # unchanged values need no second pass over the data
            _check_finite_fast(X_cast, f"{what} (as {self.dtype.name}, the model's dtype)")
        X = X_cast
        y = np.asarray(getattr(y, "data", y))
        yname = "y" if what == "X" else what.replace("X", "y")
        if y.ndim == 0 or len(y) != n:
            raise ValueError(
                f"{what} has {n} samples but {yname} has "
                f"{'no axis' if y.ndim == 0 else len(y)}; they must have the same length"
            )
        n_out = self._n_outputs(X[:1])
        if isinstance(self.output, Categorical):
            if y.ndim != 1:
                raise ValueError(
                    f"{yname} must be 1-D class labels for a categorical output, got shape {y.shape}"
                )
            y = check_labels(y, n_out, yname)
        else:
            if y.dtype.kind not in "iufb":
                raise TypeError(f"{yname} must be numeric, got dtype {y.dtype}")
            check_finite(y, yname)
            with np.errstate(over="ignore"):
                y = np.ascontiguousarray(y, dtype=self.dtype)
            check_finite(y, f"{yname} (as {self.dtype.name}, the model's dtype)")
            ok = (y.ndim == 1 and n_out == 1) or (y.ndim == 2 and y.shape[1] == n_out)
            if not ok:
                raise ValueError(
                    f"{yname} has shape {y.shape} but the model has {n_out} outputs; expected "
                    f"({n},{' or (' + str(n) + ', 1)' if n_out == 1 else ' ' + str(n_out)})"
                )
            if isinstance(self.output, Bernoulli) and ((y < 0) | (y > 1)).any():
                raise ValueError(f"{yname} must lie in [0, 1] for a bernoulli output (0/1 labels)")
        w = check_sample_weight(sample_weight, n, self.dtype)
        return X, y, w

    def _n_outputs(self, x1):
        was = self.model.training
        self.model.eval()
        try:
            with no_grad():
                z = self.model(Tensor(x1))
        finally:
            self.model.train(was)
        return z.shape[-1] if z.ndim > 1 else 1

    def _split(self, X, y, w, fraction):
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction!r}")
        n = len(X)
        stratify = self.output.task == "classification" and y.ndim == 1
        if stratify:
            classes, inverse = np.unique(y, return_inverse=True)
            val = []
            for c in range(len(classes)):
                idx = np.flatnonzero(inverse == c)
                idx = idx[self.rng.permutation(len(idx))]
                k = int(round(fraction * len(idx)))
                # Every class in both parts when it has at least 2 examples.
                k = min(max(k, 1), len(idx) - 1) if len(idx) >= 2 else 0
                val.append(idx[:k])
            val_idx = np.sort(np.concatenate(val))
        else:
            k = max(1, int(round(fraction * n)))
            val_idx = np.sort(self.rng.permutation(n)[:k])
        if len(val_idx) == 0 or len(val_idx) >= n:
            raise ValueError(
                f"validation_fraction={fraction} of {n} examples leaves an empty "
                f"{'validation' if len(val_idx) == 0 else 'training'} set"
            )
        mask = np.ones(n, dtype=bool)
        mask[val_idx] = False
        return np.flatnonzero(mask), val_idx

    def _prepare(self, X, y, sample_weight, validation_data, validation_fraction):
        X, y, w = self._check_xy(X, y, sample_weight)
        full = _Part(X, y, w)
        split = None
        if validation_data is not None and validation_fraction is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        if validation_fraction is not None:
            split = self._split(X, y, w, validation_fraction)
            train, val = full.take(split[0]), full.take(split[1])
        else:
            train, val = full, None
            if validation_data is not None:
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                    raise ValueError(
                        "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight)"
                    )
                Xv, yv = validation_data[0], validation_data[1]
                wv = validation_data[2] if len(validation_data) == 3 else None
                val = _Part(*self._check_xy(Xv, yv, wv, what="X_val"))
        if train.w is not None and not train.w_total > 0:
            raise ValueError("sample_weight of the training part sums to 0")
        return {"train": train, "val": val, "full": full, "split": split}

    def _batch_size_for(self, epoch, n):
        if self.mode == "stochastic":
            return 1
        if self.mode == "batch":
            return n
        if self.batch_schedule is not None:
            start = getattr(self.batch_schedule, "start", 1)
            if start > n:
                raise ValueError(
                    f"batch_schedule starts at {start}, larger than the training set ({n} examples)"
                )
            return int(self.batch_schedule.size(epoch, n))
        if isinstance(self.batch_size, _DefaultBatchSize):
            return min(int(self.batch_size), n)
        return check_batch_size(self.batch_size, n, self.mode)

    # ------------------------------------------------------------ public
    def fit(
        self,
        X,
        y,
        validation_data=None,
        sample_weight=None,
        max_epochs=None,
        *,
        validation_fraction=None,
        resume_from=None,
    ) -> History:
        """Train from the model's current weights with a fresh optimizer state and history.

        Parameters
        ----------
        X : array, shape (n, n_features)
        y : array, shape (n,) or (n, n_outputs)
            Class labels in ``[0, C)`` (categorical), 0/1 (bernoulli) or values (gaussian).
        validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
        sample_weight : array, shape (n,), optional
            Per-example weights; ``J = sum_i w_i l_i / sum_i w_i``.
        max_epochs : int, optional
            Overrides the trainer's ``max_epochs`` for this call.
        validation_fraction : float in (0, 1), optional
            Hold out this fraction of ``X`` (stratified by class for classification).
        resume_from : path, optional
            Overrides the trainer's ``resume_from``.
        """
        max_epochs = self.max_epochs if max_epochs is None else _positive_int(max_epochs, "max_epochs")
        data = self._prepare(X, y, sample_weight, validation_data, validation_fraction)
        self._reset_run(max_epochs)
        resume_from = self.resume_from if resume_from is None else resume_from
        if self.checkpoint_path is not None or resume_from is not None:
            data["fingerprint"] = _fingerprint(data["full"])
        if resume_from is not None:
            self._restore(resume_from, data)
        return self._run(data, max_epochs, partial=False)

    def partial_fit(self, X, y, sample_weight=None) -> History:
        """Run exactly one more epoch on ``(X, y)``, keeping the optimizer state and the history.

        For scikit-learn's ``partial_fit`` and warm starts; no validation, no early stopping.
        """
        data = self._prepare(X, y, sample_weight, None, None)
        if not self._started:
            self._reset_run(self.max_epochs)
        self.stop_reason = None
        return self._run(data, self.epoch + 1, partial=True)

    # ------------------------------------------------------------ state
    def _reset_run(self, max_epochs):
        self.lr_schedule = get_schedule(self._lr_spec, max_epochs=max_epochs)
        self.lr_schedule.reset()
        if self.batch_schedule is not None:
            self.batch_schedule.reset()
        self.optimizer.reset()
        self.base_lr = self._initial_lr
        self.history = History()
        self.stop_reason = None
        self.epoch = 0
        self.samples_seen = 0
        self._monitor = None
        self._grad_cache_epoch = None
        self._started = True

    def _make_monitor(self, has_val):
        key = self.monitor_key or ("val_loss" if has_val else "train_loss")
        if key.startswith("val_") and not has_val:
            raise ValueError(f"monitor={key!r} needs validation_data or validation_fraction")
        keep = self.early_stopping and self.restore_best
        return Monitor(key, self.metrics[0], self.min_delta, keep_weights=keep)

    # ------------------------------------------------------------- loop
    def _run(self, data, max_epochs, partial):
        train, val = data["train"], data["val"]
        self.validation_split = data["split"]
        self._grad_cache_epoch = None  # a gradient cached by an earlier call may be for other data
        if self._monitor is None:
            self._monitor = self._make_monitor(val is not None)
            self.history.monitor = self._monitor.key
        monitor = self._monitor
        self.stop_training = False
        call_hook(self.callbacks, "on_train_begin", self)
        was_training = self.model.training
        self.model.train()
        modules = list(self.model.modules())
        # The epoch-end evaluation switches to eval mode and back every epoch: set the flags
        # on a list made once, unless a module overrides train()/eval() (then call them).
        plain = all(type(m).train is Module.train and type(m).eval is Module.eval for m in modules)
        self._mode_modules = modules if plain else None
        # Built-in layers that compute the same thing in both modes: no flags to flip at all
        # (a tiny network's epoch is ~80 us; flipping them twice costs a few).
        self._mode_free = all(type(m) in _MODE_FREE for m in modules)
        snapshot = Snapshot(self.params, self.optimizer)
        bar = None
        if self.progress and not partial:
            bar = _need_tqdm()(total=max_epochs, initial=self.epoch, desc="training", unit="epoch")
        elapsed = self.history.records[-1].get("time", 0.0) if self.history.records else 0.0
        elapsed = float(elapsed) if isinstance(elapsed, (int, float)) else 0.0
        t_start = time.perf_counter() - elapsed
        reason = None
        user_fp = np.geterr()
        # Overflow and invalid operations are caught by the divergence checks and reported as
        # one DivergenceWarning, not as NumPy RuntimeWarnings: the loop runs with them quiet
        # (entered once per run: np.errstate costs microseconds, a tiny network's whole epoch
        # is ~100), and the user's callbacks run with the user's own settings.
        quiet = _quiet_fp()
        quiet.__enter__()
        try:
            while self.epoch < max_epochs:
                epoch = self.epoch + 1
                lr = self.lr_schedule.get_lr(epoch - 1, self.base_lr, samples_seen=self.samples_seen)
                if lr != self.optimizer.lr:  # the setter validates; an unchanged rate was valid
                    self.optimizer.lr = lr
                batch_size = self._batch_size_for(epoch, train.n)
                t0 = time.perf_counter()
                n_updates, loss_sum, bad, cb_stop = self._train_epoch(train, epoch, batch_size)
                if bad is None:
                    ev = self._end_of_epoch(train, loss_sum)
                    gn = ev["grad_norm"]
                    if not (math.isfinite(ev["loss"]) and (gn is None or math.isfinite(gn))):
                        bad = f"the training loss at the end of the epoch is {ev['loss']}"
                    elif not snapshot.check():  # copies the weights for the snapshot below, too
                        bad = "the weights are no longer finite"
                if bad is None:
                    record = self._record(epoch, ev, val, lr, batch_size, n_updates, loss_sum)
                if bad is not None:
                    snapshot.restore()
                    self._grad_cache_epoch = None
                    restored = f"the end of epoch {self.epoch}" if self.epoch else "the start"
                    warnings.warn(
                        f"training diverged in epoch {epoch}: {bad}. Stopped and restored the weights "
                        f"from {restored}. Lower the learning rate (lr={lr:g}) or set clip_norm.",
                        DivergenceWarning,
                        stacklevel=3,
                    )
                    reason = "diverged"
                    break
                now = time.perf_counter()
                record["time"] = now - t_start
                record["epoch_time"] = now - t0
                self.history.append(record)
                self.epoch = epoch
                self.samples_seen += train.n
                snapshot.commit()
                if self.mode == "batch" and self._deterministic:
                    self._grad_cache_epoch = (epoch, snapshot)
                if not partial:
                    monitor.update(epoch, record, self.params)
                    self.history.best_epoch = monitor.best_epoch
                self.lr_schedule.observe(
                    epoch - 1, record["val_loss"] if val is not None else record["train_loss"]
                )
                if self.batch_schedule is not None:
                    self.batch_schedule.observe(epoch, record["train_loss"])
                if self.callbacks:
                    with np.errstate(**user_fp):
                        cb_stop = call_hook(self.callbacks, "on_epoch_end", self, epoch, record) or cb_stop
                cb_stop = cb_stop or self.stop_training
                if bar is not None:
                    bar.set_postfix(_postfix(record, self.metrics[0]), refresh=False)
                    bar.update(1)
                if grad_norm_reached(record["grad_norm"], self.grad_tol):
                    reason = "grad_norm"
                elif self.early_stopping and not partial and monitor.wait >= self.patience:
                    reason = "early_stopping"
                elif cb_stop:
                    reason = "callback"
                elif self.epoch >= max_epochs and not partial:
                    reason = "max_epochs"
                self.history.stop_reason = reason
                if (
                    self.checkpoint_path is not None
                    and not partial
                    and (reason is not None or (self.checkpoint_every and epoch % self.checkpoint_every == 0))
                ):
                    self._save_checkpoint(data)
                if reason is not None:
                    break
            else:
                if not partial:
                    reason = "max_epochs"
        finally:
            quiet.__exit__(None, None, None)
            if bar is not None:
                bar.close()
            self.model.train(was_training)
        if reason not in (None, "diverged") and self.early_stopping and self.restore_best and not partial:
            if monitor.best_epoch is not None and monitor.best_epoch != self.epoch:
                monitor.restore(self.params)
                self._grad_cache_epoch = None
        self.stop_reason = reason
        self.history.stop_reason = reason
        call_hook(self.callbacks, "on_train_end", self)
        return self.history

    def _train_epoch(self, train, epoch, batch_size):
        """One epoch of updates.

        Returns ``(n_updates, (sum of loss * batch size, examples used), problem or None, callback stop)``.
        """
        opt = self.optimizer
        hooks = any(has_hook(cb, "on_batch_end") for cb in self.callbacks)
        clip = self.clip_norm
        if self.mode == "batch":
            cached = self._grad_cache_epoch
            # Only a callback can change the weights between the end-of-epoch evaluation and
            # this update: without callbacks the cached gradient is for the current weights.
            if not (
                cached is not None
                and cached[0] == self.epoch
                and (
                    not self.callbacks
                    or cached[1].matches()
                )
            ):
                self._evaluate(train, grad=True, diagnostics=False, train_mode=True, metrics=False)
            loss = self._last_eval_loss
            self._grad_cache_epoch = None
            if not math.isfinite(loss):
                return 0, (0.0, 0), f"the loss became {loss}", False
            if clip is not None and not math.isfinite(clip_grad_norm(self.params, clip)):
                return 0, (0.0, 0), "the gradient norm became infinite", False
            opt.step()
            stop = False
            if hooks:
                logs = {
                    "epoch": epoch,
                    "batch": 0,
                    "size": train.n,
                    "loss": loss,
                    "indices": _all_rows(train.n),
                }
                stop = call_hook(self.callbacks, "on_batch_end", self, 0, logs)
            return 1, (loss * train.n, train.n), None, stop

        fused = None if hooks or clip is not None else self._fused_sgd_weights()
        if fused:
            # Plain SGD and nobody reads the weight gradients: the backward pass updates the
            # weights itself (functional/chain.py, sgd_in_backward), a tenth of a big step.
            with sgd_in_backward(fused, opt.lr):
                return self._minibatches(train, epoch, batch_size, hooks)
        return self._minibatches(train, epoch, batch_size, hooks)

    def _fused_sgd_weights(self):
        """The weight matrices whose plain-SGD update can be fused into the backward pass, or None.

        Only for the optimizer ``SGD`` itself without momentum or weight decay, a model that runs
        as one fused chain (``Sequential``/``MLP`` of Linear and units), weights the optimizer
        updates and that appear once in the chain, and a BLAS that can accumulate (``_blas``);
        matrices with fewer than ``_FUSE_MIN_SIZE`` entries keep the ordinary path.
        """
        opt = self.optimizer
        if type(opt) is not SGD or opt.momentum != 0 or opt.weight_decay != 0 or not _blas.available:
            return None
        model = self.model
        if not isinstance(model, Sequential) or type(model).forward is not Sequential.forward:
            return None
        plan = model._chain_plan()
        if plan is None:
            return None
        updated = {id(p) for p in opt.params}
        weights = [W for W, _, _ in plan if id(W) in updated and W.requires_grad and W.data.size >= _FUSE_MIN_SIZE]
        if len({id(W) for W, _, _ in plan}) != len(plan):
            return None  # a weight used twice: its second use must see it before the update
        return weights or None

    def _minibatches(self, train, epoch, batch_size, hooks):
        """The stochastic and minibatch modes' updates of one epoch (see ``_train_epoch``)."""
        model, output, opt = self.model, self.output, self.optimizer
        clip = self.clip_norm
        X, y, w = train.X, train.y, train.w
        n = train.n
        order = epoch_order(self.mode, n, self.rng)
        order.flags.writeable = False  # callbacks see views of it
        stochastic = batch_size == 1
        if not stochastic:
            # Minibatches are gathered into buffers reused for the whole epoch: each batch's
            # graph is freed by backward() before the next gather overwrites them.
            xbuf = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
            ybuf = np.empty((batch_size,) + y.shape[1:], dtype=y.dtype)
        w_mean = None if w is None else train.w_total / n
        n_updates, loss_sum, seen, stop = 0, 0.0, 0, False
        for b, s in enumerate(range(0, n, batch_size)):
            idx = order[s : s + batch_size]
            m = len(idx)
            if stochastic:
                i = int(idx[0])
                xb, yb = X[i : i + 1], y[i : i + 1]  # views: no copy for one pattern
            else:
                xb, yb = xbuf[:m], ybuf[:m]
                # mode="clip": with out=, the default "raise" gathers into a temporary first;
                # the indices come from a permutation of range(n), so clipping never happens.
                X.take(idx, axis=0, out=xb, mode="clip")
                y.take(idx, axis=0, out=yb, mode="clip")
            opt.zero_grad()
            z = model(Tensor(xb))
            if w is None:
                loss = output._trusted_nll(z, yb)  # y was checked once, before epoch 1
            else:
                wb = w[idx]
                wsum = float(wb.sum(dtype=np.float64))
                if wsum == 0:
                    continue  # all-zero weights: nothing to learn from this batch
                # nll normalises by the batch's weight sum; rescale so the expected
                # update is the gradient of the weighted objective over the whole set.
                loss = output._trusted_nll(z, yb, sample_weight=wb) * (wsum / (m * w_mean))
            value = float(loss.data)
            if not math.isfinite(value):
                return n_updates, (loss_sum, seen), f"the loss of update {b} became {value}", stop
            loss.backward()
            if clip is not None and not math.isfinite(clip_grad_norm(self.params, clip)):
                return n_updates, (loss_sum, seen), f"the gradient norm of update {b} became infinite", stop
            opt.step()
            n_updates += 1
            loss_sum += value * m
            seen += m
            if hooks:
                logs = {"epoch": epoch, "batch": b, "size": m, "loss": value, "indices": idx}
                if call_hook(self.callbacks, "on_batch_end", self, b, logs):
                    stop = True
                    break
            if self.stop_training:
                break
        return n_updates, (loss_sum, seen), None, stop

    def _evaluate(self, part, grad, diagnostics, train_mode=False, metrics=True):
        """Loss (and gradient, metrics, diagnostics) of the objective over a whole data set, in chunks.

        With ``grad``, the full gradient is left in ``p.grad`` (batch mode reuses it
        for the next update when the weights have not changed).
        """
        model, output = self.model, self.output
        n, chunk = part.n, self.eval_chunk_size
        if not train_mode:
            self._set_training(False)
        probe = ActivationProbe(model, self.saturation_tol) if diagnostics else None
        preds, total = [], 0.0
        try:
            if grad:
                self.optimizer.zero_grad()
            if probe is not None:
                probe.__enter__()
            for s in range(0, n, chunk):
                if n <= chunk:  # one chunk (small data sets, batch mode): no slicing
                    xc, yc, wc = part.X, part.y, part.w
                else:
                    xc, yc = part.X[s : s + chunk], part.y[s : s + chunk]
                    wc = None if part.w is None else part.w[s : s + chunk]
                m = len(xc)
                if wc is None:
                    scale = 1.0 if m == n else m / n
                else:
                    wsum = float(wc.sum(dtype=np.float64))
                    scale = wsum / part.w_total
                if grad:
                    z = model(Tensor(xc))
                    if scale > 0:
                        loss = output._trusted_nll(z, yc, sample_weight=wc)
                        total += float(loss.data) * scale
                        # One chunk: no rescaling node, so batch mode equals one full-batch gradient exactly.
                        (loss if scale == 1.0 else loss * scale).backward()
                else:
                    with no_grad():
                        z = model(Tensor(xc))
                        if scale > 0:
                            total += float(output._trusted_nll(z, yc, sample_weight=wc).data) * scale
                if metrics:
                    preds.append(output.predict(z.data))
        finally:
            if probe is not None:
                probe.__exit__(None, None, None)
            self._set_training(True)
        self._last_eval_loss = total
        out = {"loss": total}
        if metrics:
            pred = np.concatenate(preds) if len(preds) > 1 else preds[0]
            out["metrics"] = {m: METRICS[m](pred, part.y, part.w) for m in self.metrics}
        if grad:
            # ||grad J||_2 in float64 over all parameters at once (one concatenation and one
            # dot instead of a cast and a dot per parameter: this runs every epoch).
            l2 = self._l2
            gs = [p.grad.ravel() if p.grad is not None else np.zeros(p.data.size, p.data.dtype)
                  for p in self.params if p.grad is not None or l2]
            sq = 0.0
            if gs:
                g = np.concatenate(gs, dtype=np.float64) if len(gs) > 1 else gs[0].astype(np.float64)
                if l2:
                    g += l2 * np.concatenate([p.data.ravel() for p in self.params], dtype=np.float64)
                sq = float(np.dot(g, g))
            out["grad_norm"] = math.sqrt(sq)
        if probe is not None:
            report = probe.report()
            report["grad_norm"] = layer_grad_norms(model)
            out["diagnostics"] = report
        return out

    def _set_training(self, flag):
        if getattr(self, "_mode_free", False):
            return
        modules = getattr(self, "_mode_modules", None)
        if modules is None:
            self.model.train(flag)
        else:
            for m in modules:
                m.training = flag

    def _end_of_epoch(self, train, loss_sum):
        """The training set's record entries for this epoch, as ``train_eval`` asks."""
        how = self.train_eval if self.mode != "batch" else "grad"
        if how == "batches" and loss_sum[1]:
            return {
                "loss": loss_sum[0] / loss_sum[1],
                "metrics": dict.fromkeys(self.metrics),
                "grad_norm": None,
            }
        ev = self._evaluate(train, grad=how == "grad", diagnostics=self.diagnostics)
        ev.setdefault("grad_norm", None)
        return ev

    def _record(self, epoch, ev, val, lr, batch_size, n_updates, loss_sum):
        first = self.metrics[0]
        record = {
            "epoch": epoch,
            "train_loss": ev["loss"],
            "val_loss": None,
            "val_metric": None,
            "train_metric": ev["metrics"][first],
            "grad_norm": ev["grad_norm"],
            "lr": lr,
            "batch_size": batch_size,
            "n_updates": n_updates,
            "batch_loss_mean": loss_sum[0] / loss_sum[1] if loss_sum[1] else None,
        }
        for name, value in ev["metrics"].items():
            record[f"train_{name}"] = value
        if val is not None:
            vev = self._evaluate(val, grad=False, diagnostics=False)
            record["val_loss"] = vev["loss"]
            record["val_metric"] = vev["metrics"][first]
            for name, value in vev["metrics"].items():
                record[f"val_{name}"] = value
        if "diagnostics" in ev:
            record["diagnostics"] = ev["diagnostics"]
        return record

    # ------------------------------------------------------- checkpoints
    def _save_checkpoint(self, data):
        from .. import io

        arrays = {}
        if self._monitor is not None and self._monitor.best_weights is not None:
            for (name, _), w in zip(self.model.named_parameters(), self._monitor.best_weights):
                arrays[f"best/{name}"] = w
        if data["split"] is not None:
            arrays["split/train"], arrays["split/val"] = data["split"]
        extra = {
            "samples_seen": self.samples_seen,
            "base_lr": self.base_lr,
            "monitor": None if self._monitor is None else self._monitor.state_dict(),
            "monitor_key": None if self._monitor is None else self._monitor.key,
            "fingerprint": data.get("fingerprint"),
            "mode": self.mode,
        }
        io.save_checkpoint(
            self.checkpoint_path,
            self.model,
            optimizer=self.optimizer,
            epoch=self.epoch,
            history=self.history,
            rng=self.rng,
            lr_schedule=self.lr_schedule,
            batch_schedule=self.batch_schedule,
            extra=extra,
            extra_arrays=arrays,
        )

    def _restore(self, path, data):
        from .. import io

        ck = io.load_checkpoint(path)
        extra = ck["extra"]
        if not isinstance(extra, dict) or "fingerprint" not in extra:
            raise ValueError(f"{os.fspath(path)!r} is not a training checkpoint written by ff.fit / Trainer")
        if extra["fingerprint"] != data["fingerprint"]:
            raise ValueError(
                "the checkpoint was written for a different training set (X, y, sample_weight); "
                "resume with the same data"
            )
        if extra.get("mode") != self.mode:
            raise ValueError(f"the checkpoint was written with mode={extra.get('mode')!r}, not {self.mode!r}")
        io.load_params_into(self.model, ck["model_state"], where=os.fspath(path))
        io.restore_model_rngs(self.model, ck["model_rngs"])
        if ck["optimizer"] is None:
            raise ValueError("the checkpoint holds no optimizer state")
        self.optimizer.load_state_dict(ck["optimizer"])
        if ck["rng"] is not None:
            self.rng = io.rng_from_json(io.rng_state_to_json(ck["rng"]), self.rng)
        if ck["lr_schedule"] is not None:
            self.lr_schedule.load_state_dict(ck["lr_schedule"])
        if self.batch_schedule is not None:
            if ck["batch_schedule"] is None:
                raise ValueError("the checkpoint has no batch_schedule state but this run uses one")
            self.batch_schedule.load_state_dict(ck["batch_schedule"])
        self.history = ck["history"] or History()
        self.history.stop_reason = None  # the run goes on
        self.epoch = ck["epoch"]
        if self.history.epochs != self.epoch:
            raise ValueError(
                f"checkpoint is inconsistent: epoch {self.epoch} but {self.history.epochs} records"
            )
        self.samples_seen = int(extra["samples_seen"])
        self.base_lr = float(extra["base_lr"])
        arrays = ck["extra_arrays"]
        if data["split"] is not None:
            if "split/train" not in arrays:
                raise ValueError("this run holds out validation_fraction but the checkpoint has no split")
            train_idx, val_idx = arrays["split/train"], arrays["split/val"]
            full = data["full"]
            for idx in (train_idx, val_idx):
                if (
                    idx.dtype.kind not in "iu"
                    or idx.ndim != 1
                    or (len(idx) and (idx.min() < 0 or idx.max() >= full.n))
                ):
                    raise ValueError("the checkpoint's validation split does not fit the data")
            data["split"] = (train_idx, val_idx)
            data["train"], data["val"] = full.take(train_idx), full.take(val_idx)
        if extra["monitor"] is not None:
            self._monitor = self._make_monitor(data["val"] is not None)
            best = None
            if any(k.startswith("best/") for k in arrays):
                best = [arrays[f"best/{name}"] for name, _ in self.model.named_parameters()]
            self._monitor.load_state_dict(extra["monitor"], best)
            self.history.monitor = self._monitor.key


def _mode_free_classes():
    from ..nn import activation as A
    from ..nn.linear import Linear
    from ..nn.mlp import MLP
    from ..nn.module import Sequential
    from ..nn.output import OUTPUTS

    return {MLP, Sequential, Linear, A.ReLU, A.AbsRectify, A.LeakyReLU, A.PReLU, A.ELU, A.Sigmoid, A.Tanh,
            A.Identity, *OUTPUTS.values()}


_MODE_FREE = _mode_free_classes()
# Below this many weights the direct BLAS call's fixed cost (~7 us through ctypes) is more than
# the two passes over the gradient it saves (measured: 64 x 32 slower, 128 x 128 and up faster).
_FUSE_MIN_SIZE = 1 << 14  # not RReLU: its slopes are random in training, the mean in eval


def _check_finite_fast(a, name):
    """``check_finite`` through one sum: a NaN or inf anywhere makes the sum NaN or inf.

    A sum that is not finite (which a finite array can also give, by overflow) goes to the
    exact check, which names the first bad value or passes. One reduction instead of an
    ``isfinite`` mask of the whole training set: half the time on 60,000 x 784 float32.
    """
    if a.dtype.kind == "f" and a.size:
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(a, axis=None)
        if math.isfinite(total):
            return
    check_finite(a, name)


def _quiet_fp():
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _all_rows(n):
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


def _fingerprint(part: _Part) -> str:
    h = hashlib.sha256()
    for a in (part.X, part.y, part.w):
        if a is not None:
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _need_tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("progress=True needs tqdm: pip install feedforward[progress]") from exc
    return tqdm


def _postfix(record, metric):
    out = {"loss": f"{record['train_loss']:.4g}"}
    if record["val_loss"] is not None:
        out["val_loss"] = f"{record['val_loss']:.4g}"
        out[f"val_{metric}"] = f"{record['val_metric']:.4g}"
    return out


def fit(
    model,
    X,
    y,
    *,
    output=None,
    optimizer="sgd",
    lr=0.01,
    momentum=0.0,
    nesterov=False,
    weight_decay=0.0,
    betas=(0.9, 0.999),
    eps=1e-8,
    mode="minibatch",
    batch_size=DEFAULT_BATCH_SIZE,
    max_epochs=100,
    grad_tol=None,
    lr_schedule=None,
    batch_schedule=None,
    validation_data=None,
    validation_fraction=None,
    early_stopping=False,
    patience=10,
    min_delta=0.0,
    restore_best=True,
    metrics=None,
    sample_weight=None,
    callbacks=(),
    progress=False,
    diagnostics=False,
    clip_norm=None,
    checkpoint_path=None,
    checkpoint_every=None,
    resume_from=None,
    rng=None,
    **more,
) -> History:
    """Train ``model`` on ``(X, y)``; returns the :class:`History` (``ff.fit``).

    The options are those of :class:`Trainer` (see there; ``**more`` takes its
    further ones: ``monitor``, ``eval_chunk_size``, ``saturation_tol``), and the
    data arguments of :meth:`Trainer.fit`: ``validation_data``,
    ``validation_fraction`` and ``sample_weight``.

    Examples
    --------
    >>> import numpy as np, feedforward as ff
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0])
    >>> net = ff.nn.MLP([2, 8, 2], activation="tanh", output="categorical", rng=0)
    >>> h = ff.fit(net, X, y, optimizer="adam", lr=0.05, mode="batch", max_epochs=300, rng=0)
    >>> h.stop_reason, bool((net.predict(X) == y).all())
    ('max_epochs', True)
    """
    trainer = Trainer(
        model,
        output,
        optimizer=optimizer,
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
        betas=betas,
        eps=eps,
        mode=mode,
        batch_size=batch_size,
        max_epochs=max_epochs,
        grad_tol=grad_tol,
        lr_schedule=lr_schedule,
        batch_schedule=batch_schedule,
        early_stopping=early_stopping,
        patience=patience,
        min_delta=min_delta,
        restore_best=restore_best,
        metrics=metrics,
        callbacks=callbacks,
        progress=progress,
        diagnostics=diagnostics,
        clip_norm=clip_norm,
        checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every,
        resume_from=resume_from,
        rng=rng,
        **more,
    )
    return trainer.fit(
        X,
        y,
        validation_data=validation_data,
        sample_weight=sample_weight,
        validation_fraction=validation_fraction,
    )
