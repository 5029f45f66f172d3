"""Callbacks: user code run by the training loop, able to stop it.

A callback is any object with some of these methods (all optional; the
:class:`Callback` base class gives no-op defaults):

``on_train_begin(trainer)``
    Before the first epoch of a run.
``on_batch_end(trainer, batch, logs)``
    After every optimizer step. ``batch`` counts steps within the epoch
    (0-based); ``logs`` has ``epoch``, ``batch``, ``size``, ``loss`` and
    ``indices`` (the rows of the training set used, a read-only view that is
    only valid during the call: copy it to keep it).
``on_epoch_end(trainer, epoch, logs)``
    After each epoch; ``logs`` is that epoch's history record.
``on_train_end(trainer)``
    After the run, once ``trainer.stop_reason`` is set.

Returning ``True`` from ``on_batch_end`` or ``on_epoch_end``, or setting
``trainer.stop_training = True``, stops training with ``stop_reason ==
"callback"`` (after the current epoch has been evaluated and recorded).
"""

from __future__ import annotations

__all__ = ["Callback", "LambdaCallback", "call_hook", "check_callbacks", "has_hook"]

_HOOKS = ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_train_begin(self, trainer) -> None:
        pass

    def on_batch_end(self, trainer, batch: int, logs: dict):
        return None

    def on_epoch_end(self, trainer, epoch: int, logs: dict):
        return None

    def on_train_end(self, trainer) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda t, e, logs: e >= 3)``."""

    def __init__(self, on_train_begin=None, on_batch_end=None, on_epoch_end=None, on_train_end=None):
        for name, fn in zip(_HOOKS, (on_train_begin, on_batch_end, on_epoch_end, on_train_end)):
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
                setattr(self, name, fn)


def check_callbacks(callbacks) -> tuple:
    """A tuple of callbacks; each must have at least one of the hooks."""
    if callbacks is None:
        return ()
    if any(hasattr(callbacks, h) for h in _HOOKS):
        callbacks = (callbacks,)
    out = tuple(callbacks)
    for i, cb in enumerate(out):
        if not any(callable(getattr(cb, h, None)) for h in _HOOKS):
            raise TypeError(
                f"callbacks[{i}] ({type(cb).__name__}) has none of the hooks {_HOOKS}; "
                "subclass ff.training.Callback or use ff.training.LambdaCallback"
            )
    return out


def has_hook(cb, hook: str) -> bool:
    """True if ``cb`` has ``hook`` and it is not :class:`Callback`'s no-op.

    The training loop asks this once per epoch for ``on_batch_end``: a callback that only
    watches epochs must not make every step build its logs.
    """
    if getattr(cb, hook, None) is None:
        return False
    if hook in getattr(cb, "__dict__", {}):  # set on the instance (LambdaCallback)
        return True
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


def call_hook(callbacks, hook: str, *args) -> bool:
    """Call ``hook`` on every callback that has it; True if any asked to stop."""
    stop = False
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None and fn(*args) is True:
            stop = True
    return stop
