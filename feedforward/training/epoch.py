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

from ..optim.clip import clip_grad_norm
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
    hooks = any(has_hook(cb, "on_batch_end") for cb in t.options.callbacks)
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
    """The stochastic and minibatch modes' updates of one epoch (Algorithm 1 and L-SGD-3)."""
    model, output, opt = t.model, t.output, t.optimizer
    clip, params, callbacks = t.options.clip_norm, t.params, t.options.callbacks
    X, y, w = train.X, train.y, train.w
    n = train.n
    order = epoch_order(t.options.mode, n, t.rng, shuffle=t.options.shuffle, batch_size=batch_size)
    order.flags.writeable = False  # callbacks see views of it
    stochastic = batch_size == 1
    if not stochastic:
        # Minibatches are gathered into buffers reused for the whole epoch: each batch's
        # graph is freed by backward() before the next gather overwrites them.
        xbuf = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
        ybuf = np.empty((batch_size,) + y.shape[1:], dtype=y.dtype)
    w_mean = None if w is None else train.w_total / n
    n_updates, loss_sum, seen, first = 0, 0.0, 0, None
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
        if first is None:
            first = value
        if not math.isfinite(value):
            return EpochResult(n_updates, loss_sum, seen, first, f"the loss of update {b} became {value}")
        loss.backward()
        if clip is not None and not math.isfinite(clip_grad_norm(params, clip)):
            return EpochResult(n_updates, loss_sum, seen, first,
                               f"the gradient norm of update {b} became infinite")
        opt.step()
        n_updates += 1
        loss_sum += value * m
        seen += m
        if hooks:
            logs = {"epoch": epoch, "batch": b, "size": m, "loss": value, "indices": idx}
            if call_hook(callbacks, "on_batch_end", t, b, logs):
                return EpochResult(n_updates, loss_sum, seen, first, stop=True)
        if t.stop_training:
            break
    return EpochResult(n_updates, loss_sum, seen, first)


def _all_rows(n):
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows
