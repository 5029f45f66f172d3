"""The last good weights: what training goes back to when an epoch diverges.

Every epoch the trainer must (1) check that the weights are still finite and (2) keep a copy
of them and of the optimizer's state, so that a NaN loss later stops training with the last
good weights. Both are done in one pass: the weights are copied into one flat spare buffer and
that buffer is summed once (a NaN or an inf anywhere makes the sum NaN or inf); a finite
spare then becomes the snapshot by swapping buffers, with no second copy. For a tiny network
this is two NumPy calls per epoch instead of one per parameter.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_namespace
from .evaluation import all_finite

__all__ = ["Snapshot"]


def _copy_state(state):
    # Arrays of any device have .copy(); counters are ints.
    return [{k: (v if isinstance(v, (int, float)) else v.copy()) for k, v in st.items()} for st in state]


class Snapshot:
    """Weights and optimizer state of the end of the last good epoch.

    >>> import feedforward as ff
    >>> net = ff.nn.MLP([2, 3, 1], rng=0)
    >>> params = list(net.parameters())
    >>> snap = Snapshot(params, ff.optim.SGD(params))
    >>> params[0].data[0, 0] = float("nan")
    >>> snap.check()
    False
    >>> snap.restore()
    >>> bool(params[0].data[0, 0] == params[0].data[0, 0])
    True
    """

    def __init__(self, params, optimizer):
        self.params = list(params)
        self.optimizer = optimizer
        self._spare = None  # a _Buffer to copy the next epoch's weights into
        self._kept = None  # the _Buffer holding the snapshot
        self.state = None
        self.check()
        self.commit()

    @property
    def weights(self) -> list:
        """The snapshot's weights, one array per parameter."""
        return self._kept.arrays

    def check(self) -> bool:
        """Copy the current weights into the spare buffer; False if any of them is NaN or inf."""
        datas = [p.data for p in self.params]
        spare = self._spare
        if spare is None or not spare.fits(datas):  # first call, or a parameter's array changed
            spare = self._spare = _Buffer(datas)
        return spare.fill(datas)

    def commit(self) -> None:
        """The checked spare becomes the snapshot (with the optimizer's state as it is now);
        the old snapshot's buffer becomes the next spare: no copy, no allocation."""
        self._kept, self._spare = self._spare, self._kept
        opt = self.optimizer
        state = _copy_state(opt.state) if any(opt.state) else None  # plain SGD keeps no state
        self.state = (opt.step_count, state, opt.lr)

    def restore(self) -> None:
        """Put the snapshot's weights (in place) and optimizer state back."""
        for p, w in zip(self.params, self.weights):
            p.data[...] = w
        opt = self.optimizer
        opt.step_count, state, opt.lr = self.state
        opt.state = [{} for _ in opt.params] if state is None else _copy_state(state)

    def matches(self) -> bool:
        """True if the current weights equal the snapshot's."""
        return all(bool(array_namespace(w).array_equal(p.data, w)) for p, w in zip(self.params, self.weights))


class _Buffer:
    """Room for one copy of the weights: one flat array (with a view per parameter) when they
    share a dtype, else one array per parameter."""

    def __init__(self, datas):
        self.layout = [(d.shape, d.dtype) for d in datas]
        # The arrays last seen: the same objects again (the usual case, weights updated in
        # place) fit without a look at their shapes.
        self.seen = list(datas)
        dtypes = {d.dtype for d in datas}
        xp = self.xp = array_namespace(*datas)
        self.flat = None
        if len(dtypes) == 1:
            self.flat = xp.empty(sum(d.size for d in datas), dtype=dtypes.pop())
            self.arrays, offset = [], 0
            for d in datas:
                self.arrays.append(self.flat[offset:offset + d.size].reshape(d.shape))
                offset += d.size
        else:
            self.arrays = [xp.empty_like(d) for d in datas]

    def fits(self, datas) -> bool:
        seen = self.seen
        if len(datas) == len(seen):
            for d, s, (shape, dtype) in zip(datas, seen, self.layout):
                # NumPy lets an array's shape and dtype be reassigned in place: compare them too.
                if d is not s or d.shape != shape or d.dtype is not dtype:
                    break
            else:
                return True
        if [(d.shape, d.dtype) for d in datas] == self.layout and array_namespace(*datas) is self.xp:
            self.seen = list(datas)
            return True
        return False

    def fill(self, datas) -> bool:
        flat = self.flat
        if flat is None:
            for w, d in zip(self.arrays, datas):
                w[...] = d
            return all(all_finite(w) for w in self.arrays)
        self.xp.concatenate([d.reshape(-1) for d in datas], out=flat)
        return all_finite(flat)
