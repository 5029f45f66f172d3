"""Stopping rules (L-SGD-5): the gradient-norm test, a monitor for early stopping, scikit-learn's rule.

The lecture's Algorithms 1 and 2 stop ``until ||grad J(w)|| < theta``, with
``J`` the training objective over the whole training set: the training loop
computes that norm at the end of every epoch (``grad_norm`` in the history)
and stops with ``stop_reason == "grad_norm"`` once it is below ``grad_tol``.

:class:`Monitor` tracks the best value of one history key (validation loss
by default) and counts the epochs since it last improved by more than
``min_delta``; early stopping ends the run when that count reaches
``patience`` and puts back the weights of the best epoch.

:class:`SklearnStopping` is scikit-learn's variant, used by the estimators:
``tol`` and ``n_iter_no_change`` on its loss curve (or validation score), and
the ``"adaptive"`` learning rate that is divided by 5 whenever training stalls.
It is a callback that keeps its own record; the caller reads it after ``fit``.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import Bool, Choice, Int, Real, check_int, check_real
from ..backend import array_namespace
from .callbacks import Callback
from .metrics import GREATER_IS_BETTER, greater_is_better

__all__ = ["Monitor", "SklearnStopping", "grad_norm_reached", "MONITORS"]

MONITORS = ("val_loss", "train_loss", "val_metric", "train_metric")


def grad_norm_reached(grad_norm: float, grad_tol) -> bool:
    """The lecture's test ``||grad J(w)||_2 < theta``."""
    return grad_tol is not None and grad_norm < grad_tol


class Monitor:
    """The best value of ``key`` so far, the epoch it came from and (optionally) its weights.

    Parameters
    ----------
    key : str
        A history key: ``"val_loss"``, ``"train_loss"``, ``"val_metric"`` or ``"train_metric"``.
    metric : str
        Name of the first metric (decides the direction for the ``*_metric`` keys).
    min_delta : float
        An improvement must exceed this (absolute, in the monitored quantity).
    keep_weights : bool
        Copy the parameters whenever the value improves (for ``restore_best``).
    """

    def __init__(self, key: str, metric: str, min_delta: float = 0.0, keep_weights: bool = False):
        self.key = Choice(*MONITORS)(key, "monitor")
        self.greater_is_better = self.key.endswith("_metric") and greater_is_better(metric)
        self.min_delta = check_real(min_delta, "min_delta", low=0)
        self.keep_weights = Bool()(keep_weights, "keep_weights")
        self.reset()

    def reset(self) -> None:
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None

    def update(self, epoch: int, record: dict, params) -> bool:
        """Look at one epoch's record; True if it is a new best."""
        value = record.get(self.key)
        if value is None or not math.isfinite(value):
            self.wait += 1
            return False
        sign = -1.0 if self.greater_is_better else 1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.best_epoch, self.wait = float(value), int(epoch), 0
            if self.keep_weights:
                self.best_weights = [p.data.copy() for p in params]
            return True
        self.wait += 1
        return False

    def restore(self, params) -> bool:
        """Copy the best weights back into ``params`` in place; False if there are none."""
        if self.best_weights is None:
            return False
        for p, w in zip(params, self.best_weights):
            p.data[...] = w  # a checkpoint's host arrays into device weights too: an explicit copy
        return True

    def state_dict(self) -> dict:
        """JSON-able state (the best weights are saved separately, as arrays)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict, best_weights=None) -> None:
        if not isinstance(state, dict) or set(state) != {"best", "best_epoch", "wait"}:
            raise ValueError(f"monitor state must have best, best_epoch, wait; got {state!r}")
        # Only finite values ever become the best (see update), so a saved best is finite too.
        best = Real(none=True)(state["best"], "monitor state: best")
        epoch = Int(low=1, none=True)(state["best_epoch"], "monitor state: best_epoch")
        wait = check_int(state["wait"], "monitor state: wait", low=0)
        self.best, self.best_epoch, self.wait = best, epoch, wait
        self.best_weights = None if best_weights is None else [np.array(w, copy=True) for w in best_weights]


def _squared_norm(params) -> float:
    """``sum_p ||p||^2``, in float64: float32 weights of a run going astray overflow float32."""
    total = 0.0
    for p in params:
        flat = p.data.ravel()
        if flat.dtype != np.float64:
            flat = flat.astype(np.float64)
        total += float(array_namespace(flat).dot(flat, flat))
    return total


class SklearnStopping(Callback):
    """scikit-learn's stopping rule for its MLP estimators, as a callback that keeps its own record.

    After every epoch it appends scikit-learn's loss to :attr:`loss_curve`: the
    epoch's mean minibatch loss (the record's ``batch_loss_mean``) plus the L2 term
    ``l2 / 2 * ||w||^2``. It watches that loss or, with ``early_stopping``, the
    validation score (the record's ``val_metric``: accuracy or R^2) and then keeps
    the weights of the best score. An epoch improves when the loss falls to
    ``best - tol`` or below (the score rises to ``best + tol`` or above), ``best``
    the best value before it. After more than ``n_iter_no_change`` epochs in a row
    without improvement training has stalled: an ``adaptive`` schedule divides the
    learning rate by 5 and the count starts again; without one, or once the rate is
    at the schedule's floor, training stops (:attr:`reason` ``"tol"`` or
    ``"early_stopping"``). With ``early_stopping`` the best weights are put back
    when the run ends. A NaN loss or score never counts as an improvement.

    Parameters
    ----------
    tol : float
        The improvement that counts (absolute, >= 0).
    n_iter_no_change : int or inf
        Epochs without improvement that are tolerated.
    early_stopping : bool
        Watch the validation score instead of the loss (the run needs validation data).
    metric : str
        The validation score's metric (``"accuracy"`` or ``"r2"``): which way is better.
    l2 : float
        The L2 penalty's coefficient in the loss (the optimizer's ``weight_decay``).
    adaptive : AdaptiveLR, optional
        The schedule to step down when training stalls (built with ``n_iter_no_change=None``).
    verbose : bool
        Print scikit-learn's lines (``Iteration 3, loss = ...``).
    previous : SklearnStopping, optional
        A rule whose curves and best values this one continues (a warm start).

    Attributes
    ----------
    loss_curve : list of float
    validation_scores : list of float, or None without early_stopping
    best_loss : float or None
        The lowest loss so far (``inf`` before the first epoch); ``None`` with early_stopping.
    best_validation_score : float or None
        The highest score so far (``-inf`` before the first epoch); ``None`` without early_stopping.
    no_improvement_count : int
    reason : None, "tol" or "early_stopping"
        Why this rule stopped the last run; ``None`` if it did not.
    """

    def __init__(self, tol=1e-4, n_iter_no_change=10, *, early_stopping=False, metric="accuracy", l2=0.0,
                 adaptive=None, verbose=False, previous=None):
        self.tol = check_real(tol, "tol", low=0)
        # scikit-learn allows n_iter_no_change=np.inf: never stop on the loss.
        self.n_iter_no_change = n_iter_no_change if n_iter_no_change == math.inf else check_int(
            n_iter_no_change, "n_iter_no_change", low=1)
        self.early_stopping = Bool()(early_stopping, "early_stopping")
        self.l2 = check_real(l2, "l2", low=0)
        if adaptive is not None and not callable(getattr(adaptive, "stall", None)):
            raise TypeError(f"adaptive must be an AdaptiveLR or None, got {type(adaptive).__name__}")
        self.adaptive = adaptive
        self.verbose = verbose
        metric = Choice(*GREATER_IS_BETTER)(metric, "metric")
        key = "val_metric" if self.early_stopping else "train_loss"
        self._best = Monitor(key, metric, keep_weights=self.early_stopping)
        self.loss_curve = []
        self.validation_scores = [] if self.early_stopping else None
        if previous is not None:
            self.loss_curve = list(previous.loss_curve)
            if previous.early_stopping == self.early_stopping:
                self._best = previous._best
                if self.early_stopping:
                    self.validation_scores = list(previous.validation_scores)
        self.no_improvement_count = 0
        self.reason = None
        self._params = []

    @property
    def best_loss(self):
        if self.early_stopping:
            return None
        return math.inf if self._best.best is None else self._best.best

    @property
    def best_validation_score(self):
        if not self.early_stopping:
            return None
        return -math.inf if self._best.best is None else self._best.best

    def on_train_begin(self, trainer):
        self.reason = None
        self._params = list(trainer.model.parameters())

    def on_epoch_end(self, trainer, epoch, logs):
        loss = logs.get("batch_loss_mean")
        if loss is None:  # no update this epoch (every weight in it was zero)
            loss = logs["train_loss"]
        if self.l2:
            loss += 0.5 * self.l2 * _squared_norm(self._params)
        self.loss_curve.append(float(loss))
        if self.verbose:
            print(f"Iteration {len(self.loss_curve)}, loss = {loss:.8f}")
        if self.early_stopping:
            value = logs["val_metric"]
            if value is None:
                raise ValueError("SklearnStopping(early_stopping=True) needs validation data in the run")
            self.validation_scores.append(float(value))
            if self.verbose:
                print(f"Validation score: {value:f}")
        else:
            value = float(loss)
        best = self._best.best
        if best is None:
            improved = math.isfinite(value)
        elif self._best.greater_is_better:
            improved = value >= best + self.tol
        else:
            improved = value <= best - self.tol
        self._best.update(epoch, {self._best.key: value}, self._params)
        self.no_improvement_count = 0 if improved else self.no_improvement_count + 1
        if self.no_improvement_count <= self.n_iter_no_change:
            return False
        if self.adaptive is not None and self.adaptive.stall():
            self.no_improvement_count = 0
            if self.verbose:
                print(f"Setting learning rate to {trainer.optimizer.lr / 5:f}")
            return False
        self.reason = "early_stopping" if self.early_stopping else "tol"
        return True

    def on_train_end(self, trainer):
        # scikit-learn's estimators end with the weights of the best validation score.
        if self.early_stopping:
            self._best.restore(self._params)
