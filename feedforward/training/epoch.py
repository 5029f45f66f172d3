"""One epoch of updates: the lecture's algorithms, step by step (L-SGD-1..3).

``mode="batch"`` (Algorithm 2): one update from the gradient of the objective over the whole
training set. ``"stochastic"`` (Algorithm 1) and ``"minibatch"`` (L-SGD-3): one update per
pattern or per minibatch, in the order :func:`feedforward.training.batching.epoch_order` draws.
Each update is ``zero_grad``, forward, the loss, ``backward``, (clipping), ``optimizer.step()``.
The epoch returns what it did (:class:`EpochResult`); the loop decides what follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import array_namespace, device_of, get_backend, to_device, to_numpy
from ..optim.clip import clip_grad_norm, clip_grad_norm_
from ..tensor import Tensor
from .batching import epoch_order
from .callbacks import call_hook, has_hook
from .evaluation import Evaluation

__all__ = ["EpochResult", "train_epoch"]


@dataclass
class EpochResult:
    """What one epoch of updates did: ``loss_sum`` is the sum of loss x batch size over the
    ``seen`` examples of its ``n_updates`` updates; ``first_loss`` the first update's loss;
    ``problem`` why it stopped early (divergence) and ``stop`` whether a callback asked to."""

    n_updates: int
    loss_sum: float
    seen: int
    first_loss: float | None
    problem: str | None = None
    stop: bool = False


def train_epoch(t, evaluator, train, epoch: int, batch_size: int, cached: Evaluation | None) -> EpochResult:
    """One epoch of updates. ``cached``: the last evaluation, when its full gradient (left in
    ``.grad``) is at the current weights and may serve as batch mode's update."""
    callbacks = t.options.callbacks
    hooks = bool(callbacks) and any(has_hook(cb, "on_batch_end") for cb in callbacks)
    if t.options.mode == "batch":
        return _full_batch_step(t, evaluator, train, epoch, hooks, cached)
    if t.options.comm is not None:  # data-parallel: each rank computes its part of each minibatch
        from ..distributed.training import minibatch_epoch

        return minibatch_epoch(t, train, epoch, batch_size, hooks)
    return _minibatches(t, train, epoch, batch_size, hooks)


def _full_batch_step(t, evaluator, train, epoch, hooks, cached) -> EpochResult:
    """Batch mode (Algorithm 2): one update from the gradient over the whole training set (over
    every rank's shard in a data-parallel run: the evaluator reduces it)."""
    if cached is None:
        cached = evaluator(train, grad=True, metrics=False, train_mode=True)
    loss = cached.loss
    if not math.isfinite(loss):
        return EpochResult(0, 0.0, 0, loss, f"the loss became {loss}")
    clip = t.options.clip_norm
    if clip is not None and not math.isfinite(clip_grad_norm(t.params, clip)):
        return EpochResult(0, 0.0, 0, loss, "the gradient norm became infinite")
    t.optimizer.step()
    stop = False
    if hooks:
        n = train.n_total
        logs = {"epoch": epoch, "batch": 0, "size": n, "loss": loss, "indices": _all_rows(n)}
        stop = call_hook(t.options.callbacks, "on_batch_end", t, 0, logs)
    return EpochResult(1, loss * train.n_total, train.n_total, loss, stop=stop)


def _minibatches(t, train, epoch, batch_size, hooks) -> EpochResult:
    """The stochastic and minibatch modes' updates of one epoch (Algorithm 1 and L-SGD-3).

    The data may live on a device (``ff.fit(..., device=)``). The epoch's order is drawn on the
    host and moved once; each minibatch is gathered on the device into fixed buffers and its
    update is one call of a step over those buffers (:class:`_Step`), replayed from a capture
    when the backend offers one. Each update's loss goes into a vector on the device, read once
    at the end of the epoch; on the host (syncs are free there) or when a callback wants each
    loss, it is read after each update and the epoch stops at the first that is not finite.
    """
    callbacks = t.options.callbacks
    X, y, w = train.X, train.y, train.w
    n = train.n
    xp = array_namespace(X)
    on_host = xp is np
    order = epoch_order(t.options.mode, n, t.rng, shuffle=t.options.shuffle, batch_size=batch_size)
    order.flags.writeable = False  # callbacks see views of it
    rows = order if on_host else to_device(order, device_of(X))  # one transfer per epoch
    stochastic = batch_size == 1
    step = t.state.step
    if step is None or not step.fits(X, None if stochastic else batch_size):
        # Made once per run (and batch size): a captured step is captured once, not every epoch.
        step = t.state.step = _Step(t, X, y, None if stochastic else batch_size)
    w_host = None if w is None else train.host.w
    w_mean = None if w is None else train.w_total / n
    per_update = on_host or hooks
    n_batches = -(-n // batch_size)
    clipping = t.options.clip_norm is not None
    losses = norms = None
    if not per_update:  # each update's loss (and gradient norm), read at the end of the epoch
        losses = xp.empty(n_batches, dtype=xp.float64)
        norms = xp.empty(n_batches, dtype=xp.float64) if clipping else None
    n_updates, loss_sum, seen, first = 0, 0.0, 0, None
    sizes = []
    for b, s in enumerate(range(0, n, batch_size)):
        idx = order[s : s + batch_size]
        m = len(idx)
        scale = None
        if w is not None:
            # The batch's weight sum, from the host copy of the weights: no device round trip.
            wsum = float(w_host[idx].sum(dtype=np.float64))
            if wsum == 0:
                continue  # all-zero weights: nothing to learn from this batch
            # nll normalises by the batch's weight sum; rescale so the expected
            # update is the gradient of the weighted objective over the whole set.
            scale = wsum / (m * w_mean)
        step(rows[s : s + batch_size], int(idx[0]) if stochastic else None, m,
             None if w is None else w[rows[s : s + batch_size]], scale)
        n_updates += 1
        if not per_update:  # kept on the device, read at the end of the epoch
            losses[n_updates - 1] = step.loss
            if norms is not None:
                norms[n_updates - 1] = step.norm
            sizes.append((b, m))
        else:
            value = float(step.loss)
            if first is None:
                first = value
            if not math.isfinite(value):
                return EpochResult(n_updates, loss_sum, seen, first, f"the loss of update {b} became {value}")
            if clipping and not math.isfinite(float(step.norm)):
                return EpochResult(n_updates, loss_sum, seen, first,
                                   f"the gradient norm of update {b} became infinite")
            loss_sum += value * m
            seen += m
            if hooks:
                logs = {"epoch": epoch, "batch": b, "size": m, "loss": value, "indices": idx}
                if call_hook(callbacks, "on_batch_end", t, b, logs):
                    return EpochResult(n_updates, loss_sum, seen, first, stop=True)
        if t.stop_training:
            break
    if per_update:
        return EpochResult(n_updates, loss_sum, seen, first)
    # One transfer for the epoch: every update's loss (and gradient norm), checked in order.
    values = to_numpy(losses[:n_updates]).tolist()
    grad_norms = None if norms is None else to_numpy(norms[:n_updates]).tolist()
    for k, (b, m) in enumerate(sizes):
        value = values[k]
        if first is None:
            first = value
        if not math.isfinite(value):
            return EpochResult(k, loss_sum, seen, first, f"the loss of update {b} became {value}")
        if grad_norms is not None and not math.isfinite(grad_norms[k]):
            return EpochResult(k, loss_sum, seen, first, f"the gradient norm of update {b} became infinite")
        loss_sum += value * m
        seen += m
    return EpochResult(n_updates, loss_sum, seen, first)


class _Step:
    """One update over fixed buffers: ``zero_grad``, forward, loss, ``backward``, clipping,
    ``optimizer.step()`` (contract: :meth:`feedforward.backend.Backend.capture`).

    Minibatches of the full ``batch_size`` are gathered into ``xbuf`` / ``ybuf`` and run the
    step as one zero-argument callable, whose loss (and gradient norm, when clipping) land in
    fixed 0-d device buffers: a backend that can capture it replays the capture instead
    (``capture`` option). A shorter last minibatch, a weighted one and stochastic mode's single
    rows run eagerly on views.
    """

    def __init__(self, t, X, y, batch_size):
        self.t, self.X, self.y, self.size = t, X, y, batch_size
        xp = self.xp = array_namespace(X)
        opt = t.optimizer
        # The SGD update folded into the weight-gradient products where that pays (the
        # backend says so: CUDA) and nothing needs the gradients themselves.
        self.fold = (get_backend(device_of(X)).kernels.fold_update and getattr(opt, "foldable", False)
                     and t.options.clip_norm is None and not any(has_hook(cb, "on_batch_end") for cb in t.options.callbacks))
        self.loss = xp.zeros((), dtype=t.dtype)
        self.norm = xp.zeros((), dtype=xp.float64)
        self.replay = None
        if batch_size is None:  # stochastic mode: one row, a view
            return
        # Minibatches are gathered into buffers reused for the whole epoch: each batch's
        # graph is freed by backward() before the next gather overwrites them.
        self.xbuf = xp.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
        self.ybuf = xp.empty((batch_size,) + y.shape[1:], dtype=y.dtype)
        self.replay = _replay(t.options.capture, device_of(X), self._full, t.optimizer)

    def fits(self, X, batch_size) -> bool:
        return X is self.X and batch_size == self.size

    def __call__(self, rows, row, m, wb, scale):
        X, y = self.X, self.y
        if row is not None:
            self._run(X[row : row + 1], y[row : row + 1], wb, scale)  # views: no copy for one pattern
            return
        full = m == self.size
        xb, yb = (self.xbuf, self.ybuf) if full else (self.xbuf[:m], self.ybuf[:m])
        if self.xp is np:
            # mode="clip": with out=, the default "raise" gathers into a temporary first;
            # the indices come from a permutation of range(n), so clipping never happens.
            X.take(rows, axis=0, out=xb, mode="clip")
            y.take(rows, axis=0, out=yb, mode="clip")
        else:
            self.xp.take(X, rows, axis=0, out=xb)
            self.xp.take(y, rows, axis=0, out=yb)
        if full and wb is None:
            self.replay()
        else:
            self._run(xb, yb, wb, scale)

    def _full(self):
        self._run(self.xbuf, self.ybuf, None, None)

    def _run(self, xb, yb, wb, scale):
        t = self.t
        opt = t.optimizer
        opt.zero_grad()
        z = t.model(Tensor(xb))
        if wb is None:
            loss = t.output._trusted_nll(z, yb)  # y was checked once, before epoch 1
        else:
            loss = t.output._trusted_nll(z, yb, sample_weight=wb) * scale
        self.loss[...] = loss.data
        if self.fold:
            with opt.folded():
                loss.backward()
        else:
            loss.backward()
        clip = t.options.clip_norm
        if clip is not None:
            self.norm[...] = clip_grad_norm_(t.params, clip)
        opt.step()


def _replay(capture, dev, step, opt):
    """``step``, or the backend's replay of it (``capture``: 'auto', True or False).

    'auto' captures only where it is safe: the backend can capture and the optimizer reads nothing
    from the host that changes between steps (:attr:`Optimizer.capturable`); a learning rate that
    changes between epochs (a schedule) is captured again (:class:`_Replay`).
    """
    if capture is False:
        return step
    backend = get_backend(dev)
    why = None
    if not backend.can_capture:
        why = f"the {dev.type!r} backend cannot capture a training step"
    elif not getattr(opt, "capturable", False):
        why = (f"{type(opt).__name__} reads a host value that changes every step"
               + (" (build it with capturable=True)" if "capturable" in vars(opt) else ""))
    if why is None:
        return _Replay(backend, step, opt)
    if capture is True:
        raise ValueError(f"capture=True: {why}; use capture='auto' (capture where it is safe) or capture=False")
    return step


class _Replay:
    """A captured step, captured again when ``lr`` changes (the graph holds the rate it was captured
    with); the optimizer's host counters advance on replays, where none of its Python runs."""

    def __init__(self, backend, step, opt):
        self.backend, self.step, self.opt = backend, step, opt
        self.lr = None
        self.replay = None

    def __call__(self):
        opt = self.opt
        if opt.lr != self.lr or self.replay is None:
            self.lr = opt.lr
            self.replay = self.backend.capture(self.step)
            if self.replay is None:  # the backend declined this step: run it as it is from now on
                self.replay = self.step
        before = opt.step_count
        self.replay()
        if opt.step_count == before:
            opt._replayed()


def _all_rows(n):
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows
