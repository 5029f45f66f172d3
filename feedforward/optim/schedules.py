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
``"adaptive"``        scikit-learn's: ``"plateau"`` with ``factor=0.2, patience=2``
====================  ========================================================
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "LRSchedule",
    "Constant",
    "StepLR",
    "ExponentialLR",
    "InvScaling",
    "CosineAnnealing",
    "ReduceLROnPlateau",
    "SCHEDULES",
    "get_schedule",
]


def _positive(value, name, *, integer=False, allow_zero=False, below_one=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero) or (below_one and value >= 1):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}{' and < 1' if below_one else ''}, got {value!r}")
    return int(value) if integer else float(value)


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
        self.step_size = _positive(step_size, "step_size", integer=True)
        self.gamma = _positive(gamma, "gamma")

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRSchedule):
    """``eta_e = base_lr * gamma ** e`` (as ``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, gamma: float = 0.95):
        self.gamma = _positive(gamma, "gamma")

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr * self.gamma**epoch


class InvScaling(LRSchedule):
    """scikit-learn's ``learning_rate="invscaling"``: ``eta = base_lr / (t + 1) ** power_t``.

    ``t`` is the number of training examples seen before the epoch starts
    (scikit-learn's ``t_``, updated once per epoch), so the first epoch runs
    at ``base_lr``.
    """

    def __init__(self, power_t: float = 0.5):
        self.power_t = _positive(power_t, "power_t", allow_zero=True)

    def get_lr(self, epoch, base_lr, samples_seen=0):
        return base_lr / (samples_seen + 1) ** self.power_t


class CosineAnnealing(LRSchedule):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``t_max`` epochs, then ``eta_min``.

    ``t_max=None`` means the run's ``max_epochs`` (the training loop fills it in).
    """

    def __init__(self, t_max: int | None = None, eta_min: float = 0.0):
        self.t_max = None if t_max is None else _positive(t_max, "t_max", integer=True)
        self.eta_min = _positive(eta_min, "eta_min", allow_zero=True)

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
        self.factor = _positive(factor, "factor", below_one=True)
        self.patience = _positive(patience, "patience", integer=True, allow_zero=True)
        self.threshold = _positive(threshold, "threshold", allow_zero=True)
        self.min_lr = _positive(min_lr, "min_lr", allow_zero=True)
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
        best = state["best"]
        if isinstance(best, bool) or not isinstance(best, numbers.Real):
            raise ValueError(f"ReduceLROnPlateau state: best must be a number, got {best!r}")
        for key in ("bad_epochs", "reductions"):
            v = state[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"ReduceLROnPlateau state: {key} must be an integer >= 0, got {v!r}")
        self._best = float(best)
        self._bad_epochs = int(state["bad_epochs"])
        self._reductions = int(state["reductions"])


SCHEDULES = {
    "constant": Constant,
    "step": StepLR,
    "exponential": ExponentialLR,
    "invscaling": InvScaling,
    "cosine": CosineAnnealing,
    "plateau": ReduceLROnPlateau,
    "adaptive": lambda: ReduceLROnPlateau(factor=0.2, patience=2),
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
