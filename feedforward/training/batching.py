"""The lecture's three ways of going through the data, and a growing batch size (L-SGD-1..4).

``"stochastic"`` (Algorithm 1, stochastic backpropagation)
    Each update uses ONE randomly chosen pattern ``x^m``: ``n`` updates per
    epoch, each pattern drawn uniformly at random with replacement (so an
    epoch may see one pattern twice and miss another, as in Duda et al.).
``"batch"`` (Algorithm 2, batch backpropagation)
    The gradient of the whole training set (the updates of all ``n``
    patterns added up) is applied once: one update per epoch. The objective
    is the mean NLL, so the step is ``eta/n`` times the lecture's sum (the same
    algorithm with the learning rate rescaled).
``"minibatch"``
    Shuffle the training set every epoch and take consecutive minibatches of
    ``batch_size`` in that order: every example exactly once per epoch (the
    last minibatch is smaller when ``batch_size`` does not divide ``n``).

In every mode one epoch is one pass's worth of the training set.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import Bool, Int, Real

__all__ = [
    "MODES", "SHUFFLES", "DEFAULT_BATCH_SIZE", "GrowingBatch", "epoch_order", "fixed_minibatch_order",
    "check_batch_size", "batch_size_for",
]

MODES = ("stochastic", "batch", "minibatch")
SHUFFLES = ("examples", "batches")

_count = Int(1)


class _DefaultBatchSize(int):
    """The default ``batch_size=32``; on a data set of fewer than 32 examples it means ``n``.

    An explicit ``batch_size`` larger than the data is an error; the default is
    not, so ``ff.fit(model, X_xor, y_xor)`` works on the lecture's 4 patterns.
    """

    def __repr__(self):
        return "32"


DEFAULT_BATCH_SIZE = _DefaultBatchSize(32)


def check_batch_size(batch_size, n: int, mode: str) -> int:
    """``batch_size`` checked for ``mode`` on ``n`` training examples.

    Only ``"minibatch"`` uses it: there it must satisfy ``1 <= batch_size <= n``.
    """
    size = _count(batch_size, "batch_size")
    if mode == "minibatch" and size > n:
        raise ValueError(
            f"batch_size={size} is larger than the training set ({n} examples): minibatch mode needs "
            f"1 <= batch_size <= {n}; use mode='batch' for full-batch gradient descent"
        )
    return size


def epoch_order(mode: str, n: int, rng: np.random.Generator, *, shuffle: str = "examples", batch_size=None):
    """The rows in the order one epoch visits them (``None`` for batch mode: all at once).

    ``shuffle`` (minibatch mode): ``"examples"`` draws a new permutation of the rows every epoch
    (so the minibatches change); ``"batches"`` is the lecture's variant, fixed minibatches of
    ``batch_size`` visited in a new order (:func:`fixed_minibatch_order`).
    """
    if mode == "minibatch":
        if shuffle == "batches":
            return fixed_minibatch_order(n, batch_size, rng)
        return rng.permutation(n)
    if mode == "stochastic":
        return rng.integers(0, n, size=n)
    return None


def fixed_minibatch_order(n: int, batch_size: int, rng: np.random.Generator, partition_seed: int = 0):
    """The lecture's minibatch SGD: fixed minibatches visited in a new random order each epoch (L-SGD-3).

    "把训练集合切分成多个mini-batches. 在每个epoch中，随机排列mini-batches，并按顺序取一个小批": the
    training set is cut into minibatches ONCE (consecutive chunks of ``batch_size`` of one
    permutation drawn from ``partition_seed``: the same in every epoch, every run and after a
    resume), and each epoch permutes the ORDER of those minibatches with ``rng``. The library's
    default (:func:`epoch_order`) reshuffles the examples instead, so its minibatches change
    every epoch. Returns the rows in visiting order: its consecutive chunks of ``batch_size``
    are the fixed minibatches. When ``batch_size`` does not divide ``n`` the short minibatch is
    visited last in every epoch (the epoch loop cuts the order into consecutive chunks; a short
    chunk in the middle would shift every later boundary).
    """
    base = np.random.default_rng(partition_seed).permutation(n)
    full = n // batch_size
    chunks = [base[i * batch_size:(i + 1) * batch_size] for i in rng.permutation(full)]
    return np.concatenate(chunks + [base[full * batch_size:]])


class GrowingBatch:
    """A minibatch size that starts small and grows (L-SGD-4; the lecture's advice).

    Either by epochs: ``size(e) = min(max_size, start * factor ** ((e - 1) // every))``
    for epoch ``e = 1, 2, ...``; or, with ``on_plateau=True``, multiplied by
    ``factor`` whenever the training loss has not improved by more than
    ``min_delta`` (relative) for ``patience`` epochs. Sizes are rounded down
    to integers and never exceed ``max_size`` or the number of training examples.

    Parameters
    ----------
    start : int
        Batch size of the first epoch.
    factor : float
        Growth factor ``rho > 1``.
    every : int
        Grow every ``every`` epochs (ignored with ``on_plateau``).
    max_size : int, optional
        Cap (default: the training set size, i.e. growing into full batch).
    on_plateau : bool
        Grow when the training loss stalls instead of on a fixed timetable.
    patience, min_delta :
        The plateau test (``on_plateau`` only).

    Examples
    --------
    >>> sched = GrowingBatch(8, factor=2, every=3, max_size=40)
    >>> [sched.size(e, n=1000) for e in range(1, 11)]
    [8, 8, 8, 16, 16, 16, 32, 32, 32, 40]
    """

    def __init__(
        self,
        start: int,
        factor: float = 2,
        every: int = 1,
        max_size: int | None = None,
        on_plateau: bool = False,
        patience: int = 2,
        min_delta: float = 1e-3,
    ):
        self.start = _count(start, "GrowingBatch start")
        self.factor = Real(1, low_open=True)(factor, "GrowingBatch factor")
        self.every = _count(every, "GrowingBatch every")
        self.max_size = Int(1, none=True)(max_size, "GrowingBatch max_size")
        if self.max_size is not None and self.max_size < self.start:
            raise ValueError(f"GrowingBatch max_size={self.max_size} is smaller than start={self.start}")
        self.on_plateau = Bool()(on_plateau, "GrowingBatch on_plateau")
        self.patience = _count(patience, "GrowingBatch patience")
        self.min_delta = Real(0, 1, high_open=True)(min_delta, "GrowingBatch min_delta")
        self.reset()

    def reset(self) -> None:
        """Back to the start (a new training run)."""
        self._growths = 0
        self._best = math.inf
        self._bad = 0

    def size(self, epoch: int, n: int) -> int:
        """Batch size for ``epoch`` (1-based) on ``n`` training examples."""
        k = self._growths if self.on_plateau else (epoch - 1) // self.every
        cap = n if self.max_size is None else min(self.max_size, n)
        # Multiply step by step (not start * factor**k) so that the sizes do
        # not depend on float rounding of a large power.
        size = float(self.start)
        for _ in range(k):
            size *= self.factor
            if size >= cap:
                return cap
        return min(int(size), cap)

    def observe(self, epoch: int, train_loss: float) -> None:
        """See the training loss at the end of ``epoch`` (drives ``on_plateau``)."""
        if not self.on_plateau:
            return
        if train_loss < self._best * (1 - self.min_delta) or self._best == math.inf:
            self._best = float(train_loss)
            self._bad = 0
            return
        self._bad += 1
        if self._bad >= self.patience:
            self._growths += 1
            self._bad = 0

    def state_dict(self) -> dict:
        return {"growths": self._growths, "best": self._best, "bad": self._bad}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != {"growths", "best", "bad"}:
            raise ValueError(f"GrowingBatch state must have growths, best, bad; got {state!r}")
        # A checkpoint is a file: every bad field is a bad value (ValueError), whatever its type.
        try:
            growths = Int(0)(state["growths"], "GrowingBatch state: growths")
            bad = Int(0)(state["bad"], "GrowingBatch state: bad")
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        best = state["best"]  # inf until the first epoch has been seen: not a finite-number check
        if isinstance(best, bool) or not isinstance(best, numbers.Real) or math.isnan(best):
            raise ValueError(f"GrowingBatch state: best must be a number, got {best!r}")
        self._growths, self._best, self._bad = growths, float(best), bad

    def __repr__(self) -> str:
        how = f"on_plateau=True, patience={self.patience}" if self.on_plateau else f"every={self.every}"
        return f"GrowingBatch(start={self.start}, factor={self.factor:g}, {how}, max_size={self.max_size})"


def batch_size_for(mode: str, batch_size, batch_schedule, epoch: int, n: int) -> int:
    """Examples per update in ``epoch`` (1-based) on ``n`` training examples."""
    if mode == "stochastic":
        return 1
    if mode == "batch":
        return n
    if batch_schedule is not None:
        start = getattr(batch_schedule, "start", 1)
        if start > n:
            raise ValueError(f"batch_schedule starts at {start}, larger than the training set ({n} examples)")
        return int(batch_schedule.size(epoch, n))
    if batch_size is DEFAULT_BATCH_SIZE:
        return min(int(batch_size), n)
    return check_batch_size(batch_size, n, mode)
