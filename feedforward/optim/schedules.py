"""Learning-rate schedules: ``eta`` as a function of the epoch (L-SGD-7).

A schedule maps the epoch about to run (0-based ``epoch``) and the base
learning rate ``base_lr`` to that epoch's ``eta``; the training loop sets
``optimizer.lr`` once per epoch. Schedules that react to the training run
(:class:`ReduceLROnPlateau`) also see each epoch's monitored loss through
:meth:`LRSchedule.observe`, and keep that state in :meth:`state_dict` so a
resumed run continues exactly.

====================  ========================================================
name                  ``eta`` for epoch ``e`` (0-based)
====================  ========================================================
``"constant"``        ``base_lr``
``"step"``            ``base_lr * gamma ** (e // step_size)``
``"exponential"``     ``base_lr * gamma ** e``
``"invscaling"``      ``base_lr / (t + 1) ** power_t``, ``t`` = examples seen (scikit-learn)
``"cosine"``          ``eta_min + (base_lr - eta_min) (1 + cos(pi e / t_max)) / 2``
``"plateau"``         ``base_lr``, multiplied by ``factor`` after ``patience`` epochs without improvement
``"adaptive"``        scikit-learn's: ``base_lr / 5 ** k`` after the ``k``-th stall of training
====================  ========================================================

Every number a schedule takes is checked by :mod:`feedforward._validation`
(``TypeError`` for a wrong type, ``ValueError`` for a value out of range).
"""

from __future__ import annotations

import math
import numbers

from .._validation import check_int, check_real

__all__ = [
    "LRSchedule",
    "Constant",
    "StepLR",
    "ExponentialLR",
    "InvScaling",
    "CosineAnnealing",
    "ReduceLROnPlateau",
    "AdaptiveLR",
    "SCHEDULES",
    "get_schedule",
]


def _best_loss(value, name) -> float:
    """The best loss in a saved state: a number, ``inf`` allowed (nothing seen yet), NaN not.

    ``check_real`` asks for a finite number, hence this one check of its own.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number (inf allowed), got {value!r} ({type(value).__name__})")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number (inf allowed), got nan")
    return float(value)


class LRSchedule:
    """Base class: ``get_lr(epoch, base_lr, samples_seen=0) -> float``.

    Stateless schedules only override :meth:`get_lr`; stateful ones also
    :meth:`observe`, :meth:`state_dict` and :meth:`load_state_dict`.
    """

    def get_lr(self, epoch: int, base_lr: float, samples_seen: int = 0) -> float:
        raise NotImplementedError

    def observe(self, epoch: int, value: float) -> None:
        """See the monitored loss at the end of ``epoch`` (0-based); most schedules ignore it."""

    def reset(self) -> None:
        """Forget what :meth:`observe` has seen (a new training run)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(LRSchedule):
    """The same ``eta`` every epoch."""

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr


class StepLR(LRSchedule):
    """Multiply ``eta`` by ``gamma`` every ``step_size`` epochs (as ``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, step_size: int = 10, gamma: float = 0.5):
        self.step_size = check_int(step_size, "step_size", low=1)
        self.gamma = check_real(gamma, "gamma", low=0, low_open=True)

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRSchedule):
    """``eta_e = base_lr * gamma ** e`` (as ``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, gamma: float = 0.95):
        self.gamma = check_real(gamma, "gamma", low=0, low_open=True)

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr * self.gamma**epoch


class InvScaling(LRSchedule):
    """scikit-learn's ``learning_rate="invscaling"``: ``eta = base_lr / (t + 1) ** power_t``.

    ``t`` is the number of training examples seen before the epoch starts
    (scikit-learn's ``t_``, updated once per epoch), so the first epoch runs
    at ``base_lr``.
    """

    def __init__(self, power_t: float = 0.5):
        self.power_t = check_real(power_t, "power_t", low=0)

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr / (samples_seen + 1) ** self.power_t


class CosineAnnealing(LRSchedule):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``t_max`` epochs, then ``eta_min``.

    ``t_max=None`` means the run's ``max_epochs`` (the training loop fills it in).
    """

    def __init__(self, t_max: int | None = None, eta_min: float = 0.0):
        self.t_max = check_int(t_max, "t_max", low=1, none=True)
        self.eta_min = check_real(eta_min, "eta_min", low=0)

    def get_lr(self, epoch, base_lr, samples_seen=0):
        if self.t_max is None:
            raise ValueError("CosineAnnealing needs t_max (number of epochs of the decay)")
        e = min(epoch, self.t_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2


class ReduceLROnPlateau(LRSchedule):
    """Multiply ``eta`` by ``factor`` when the monitored loss stops improving.

    The loss improves when it falls below ``best * (1 - threshold)`` (relative
    threshold, as PyTorch's default). After ``patience`` epochs in a row without
    improvement ``eta`` is reduced (never below ``min_lr``) and the count restarts.
    The training loop observes the validation loss when there is validation
    data, the training loss otherwise.
    """

    def __init__(self, factor: float = 0.5, patience: int = 5, threshold: float = 1e-4, min_lr: float = 0.0):
        self.factor = check_real(factor, "factor", low=0, high=1, low_open=True, high_open=True)
        self.patience = check_int(patience, "patience", low=0)
        self.threshold = check_real(threshold, "threshold", low=0)
        self.min_lr = check_real(min_lr, "min_lr", low=0)
        self.reset()

    def reset(self):
        self._best = math.inf
        self._bad_epochs = 0
        self._reductions = 0

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return max(base_lr * self.factor**self._reductions, self.min_lr)

    def observe(self, epoch, value):
        value = float(value)
        if value < self._best * (1 - self.threshold) or (self._best == math.inf and math.isfinite(value)):
            self._best = value
            self._bad_epochs = 0
            return
        self._bad_epochs += 1
        if self._bad_epochs > self.patience:
            self._reductions += 1
            self._bad_epochs = 0

    def state_dict(self):
        return {"best": self._best, "bad_epochs": self._bad_epochs, "reductions": self._reductions}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or set(state) != {"best", "bad_epochs", "reductions"}:
            raise ValueError(f"ReduceLROnPlateau state must have best, bad_epochs, reductions; got {state!r}")
        best = _best_loss(state["best"], "ReduceLROnPlateau state: best")
        bad = check_int(state["bad_epochs"], "ReduceLROnPlateau state: bad_epochs", low=0)
        self._reductions = check_int(state["reductions"], "ReduceLROnPlateau state: reductions", low=0)
        self._best, self._bad_epochs = best, bad


class AdaptiveLR(LRSchedule):
    """scikit-learn's ``learning_rate="adaptive"``: ``eta`` divided by 5 each time training stalls.

    Training has stalled when the observed loss has not fallen to ``best - tol`` or
    below (an absolute ``tol``; ``best`` the lowest loss so far) for more than
    ``n_iter_no_change`` epochs in a row. Then ``eta`` is divided by 5 and the count
    starts again. Once ``eta <= min_lr`` a stall lowers it no more: scikit-learn
    stops training there, and :meth:`stall` returns False to say so.

    The training loop feeds :meth:`observe` with each epoch's loss. A stopping rule
    that watches another quantity -- :class:`feedforward.training.stopping.SklearnStopping`
    watches scikit-learn's loss with its L2 term, or the validation score -- builds
    the schedule with ``n_iter_no_change=None`` (``observe`` then does nothing) and
    calls :meth:`stall` itself, so the rate follows that one count.

    Parameters
    ----------
    tol : float
        The improvement that counts (absolute, >= 0).
    n_iter_no_change : int or None
        Epochs without improvement that are tolerated; ``None``: stalls come from :meth:`stall`.
    min_lr : float
        No division once ``eta`` is at or below this (scikit-learn: 1e-6).

    Examples
    --------
    >>> s = AdaptiveLR(tol=0.1, n_iter_no_change=1)
    >>> for epoch, loss in enumerate([1.0, 0.95, 0.94, 0.93]):
    ...     _ = s.get_lr(epoch, 0.5)
    ...     s.observe(epoch, loss)
    >>> s.get_lr(4, 0.5)
    0.1
    """

    def __init__(self, tol: float = 1e-4, n_iter_no_change: int | None = 10, min_lr: float = 1e-6):
        self.tol = check_real(tol, "tol", low=0)
        self.n_iter_no_change = check_int(n_iter_no_change, "n_iter_no_change", low=1, none=True)
        self.min_lr = check_real(min_lr, "min_lr", low=0)
        self.reset()

    def reset(self):
        self._best = math.inf
        self._bad_epochs = 0
        self._divisions = 0
        self._lr = None  # this epoch's eta, to tell whether it is already at min_lr

    def get_lr(self, epoch, base_lr, samples_seen=0):
        self._lr = base_lr / 5.0**self._divisions
        return self._lr

    def stall(self) -> bool:
        """Training has stalled: divide ``eta`` by 5 from the next epoch on; False if it is at ``min_lr``."""
        if self._lr is not None and self._lr <= self.min_lr:
            return False
        self._divisions += 1
        return True

    def observe(self, epoch, value):
        if self.n_iter_no_change is None:
            return
        value = float(value)
        # Written so that NaN counts as no improvement and never becomes the best.
        if value <= self._best - self.tol:
            self._bad_epochs = 0
        else:
            self._bad_epochs += 1
        if value < self._best:
            self._best = value
        if self._bad_epochs > self.n_iter_no_change and self.stall():
            self._bad_epochs = 0

    def state_dict(self):
        return {"best": self._best, "bad_epochs": self._bad_epochs, "divisions": self._divisions}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or set(state) != {"best", "bad_epochs", "divisions"}:
            raise ValueError(f"AdaptiveLR state must have best, bad_epochs, divisions; got {state!r}")
        best = _best_loss(state["best"], "AdaptiveLR state: best")
        bad = check_int(state["bad_epochs"], "AdaptiveLR state: bad_epochs", low=0)
        self._divisions = check_int(state["divisions"], "AdaptiveLR state: divisions", low=0)
        self._best, self._bad_epochs = best, bad


SCHEDULES = {
    "constant": Constant,
    "step": StepLR,
    "exponential": ExponentialLR,
    "invscaling": InvScaling,
    "cosine": CosineAnnealing,
    "plateau": ReduceLROnPlateau,
    "adaptive": AdaptiveLR,
}


def get_schedule(spec, *, max_epochs: int | None = None) -> LRSchedule:
    """A schedule from a name (see the module table), an :class:`LRSchedule`, or ``None`` (constant).

    ``max_epochs`` fills in the cosine schedule's ``t_max`` when it was not given.
    """
    if spec is None:
        return Constant()
    if isinstance(spec, str):
        key = spec.lower()
        if key not in SCHEDULES:
            raise ValueError(
                f"unknown lr_schedule {spec!r}; expected one of {sorted(SCHEDULES)} or an LRSchedule"
            )
        schedule = SCHEDULES[key]()
    elif isinstance(spec, LRSchedule):
        schedule = spec
    else:
        raise TypeError(f"lr_schedule must be a name or an LRSchedule, got {type(spec).__name__}")
    if isinstance(schedule, CosineAnnealing) and schedule.t_max is None:
        if max_epochs is None:
            raise ValueError("the cosine schedule needs t_max: give CosineAnnealing(t_max=...) or max_epochs")
        schedule = CosineAnnealing(t_max=max_epochs, eta_min=schedule.eta_min)
    return schedule
