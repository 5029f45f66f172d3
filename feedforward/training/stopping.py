"""Stopping rules (L-SGD-5): the gradient-norm test, and a monitor for early stopping.

The lecture's Algorithms 1 and 2 stop ``until ||grad J(w)|| < theta``, with
``J`` the training objective over the whole training set: the training loop
computes that norm at the end of every epoch (``grad_norm`` in the history)
and stops with ``stop_reason == "grad_norm"`` once it is below ``grad_tol``.

:class:`Monitor` tracks the best value of one history key (validation loss
by default) and counts the epochs since it last improved by more than
``min_delta``; early stopping ends the run when that count reaches
``patience`` and puts back the weights of the best epoch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .metrics import GREATER_IS_BETTER

__all__ = ["Monitor", "grad_norm_reached", "MONITORS"]

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
        if key not in MONITORS:
            raise ValueError(f"unknown monitor {key!r}; expected one of {MONITORS}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.key = key
        self.greater_is_better = key.endswith("_metric") and GREATER_IS_BETTER[metric]
        self.min_delta = float(min_delta)
        self.keep_weights = keep_weights
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
            np.copyto(p.data, w)
        return True

    def state_dict(self) -> dict:
        """JSON-able state (the best weights are saved separately, as arrays)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict, best_weights=None) -> None:
        if not isinstance(state, dict) or set(state) != {"best", "best_epoch", "wait"}:
            raise ValueError(f"monitor state must have best, best_epoch, wait; got {state!r}")
        best, epoch, wait = state["best"], state["best_epoch"], state["wait"]
        if best is not None and (isinstance(best, bool) or not isinstance(best, numbers.Real)):
            raise ValueError(f"monitor state: best must be a number or None, got {best!r}")
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral)):
            raise ValueError(f"monitor state: best_epoch must be an integer or None, got {epoch!r}")
        if isinstance(wait, bool) or not isinstance(wait, numbers.Integral) or wait < 0:
            raise ValueError(f"monitor state: wait must be an integer >= 0, got {wait!r}")
        self.best = None if best is None else float(best)
        self.best_epoch = None if epoch is None else int(epoch)
        self.wait = int(wait)
        self.best_weights = None if best_weights is None else [np.array(w, copy=True) for w in best_weights]
