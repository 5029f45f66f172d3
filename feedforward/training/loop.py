"""The training loop: epochs -> batches -> step (L-SGD-1..5).

:func:`run` is the whole algorithm. Every epoch it sets the learning rate from the schedule,
goes through the training set in the chosen ``mode`` (:mod:`~feedforward.training.epoch`: one
full-batch step, or the minibatches of :mod:`~feedforward.training.batching`), evaluates the
end of the epoch (:mod:`~feedforward.training.evaluation`), checks for divergence
(:mod:`~feedforward.training.divergence`), records the epoch in the
:class:`~feedforward.training.history.History`, updates the early-stopping monitor and the
schedules, calls the callbacks, decides whether to stop, and writes a checkpoint
(:mod:`~feedforward.training.checkpoint`).

The loop reads the run's :class:`~feedforward.training.trainer.Trainer` (its options, model,
optimizer and the :class:`RunState` it carries from epoch to epoch) and writes back only what
a run changes: the weights, ``epoch``, ``history``, ``stop_reason`` and that state.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import checkpoint
from .batching import batch_size_for
from .callbacks import call_hook
from .divergence import DivergenceWarning, Guard
from .epoch import train_epoch
from .metrics import metric_name
from .evaluation import Evaluation, Evaluator
from .progress import make_progress
from .snapshot import Snapshot
from .stopping import Monitor, grad_norm_reached

__all__ = ["RunState", "run"]


@dataclass
class RunState:
    """What a run carries from epoch to epoch besides the weights, the optimizer's state and the
    history; a checkpoint saves it. ``first_loss``: the loss of the run's first update, for
    the divergence rule."""

    lr_schedule: object
    base_lr: float
    samples_seen: int = 0
    monitor: Monitor | None = None
    first_loss: float | None = None
    step: object = None  # the minibatch step over its device buffers, kept while the batch size holds


# ---------------------------------------------------------------- the epochs
def run(trainer, data, max_epochs: int, *, partial: bool):
    """Train until ``trainer.epoch == max_epochs`` or a stopping rule fires; returns the history.

    ``partial`` (``Trainer.partial_fit``): no early stopping, no checkpoint, no progress bar,
    and reaching ``max_epochs`` is not a stop.
    """
    t, opts = trainer, trainer.options
    model, opt, state, history = t.model, t.optimizer, t.state, t.history
    train, val = data.train, data.val
    callbacks = opts.callbacks
    t.validation_split = data.split
    if state.monitor is None:
        state.monitor = opts.make_monitor(t.metrics[0], val is not None)
        history.monitor = state.monitor.key
    monitor = state.monitor
    t.stop_training = False
    call_hook(callbacks, "on_train_begin", t)
    was_training = model.training
    model.train()
    comm = opts.comm
    evaluation = (model, t.output, t.params, t.metrics)
    settings = dict(chunk_size=opts.eval_chunk_size, l2=t.l2, saturation_tol=opts.saturation_tol)
    if comm is None:
        evaluator = Evaluator(*evaluation, **settings)
        guard = Guard(evaluator, train, t.dtype, t.output, data.n_outputs, state.first_loss)
    else:  # data-parallel: the same values, over every rank's shard (feedforward.distributed)
        from ..distributed.training import ReducingEvaluator, ReducingGuard, agree_epoch

        evaluator = ReducingEvaluator(comm, *evaluation, **settings)
        guard = ReducingGuard(comm, evaluator, train, t.dtype, t.output, data.n_outputs, state.first_loss)
    snapshot = Snapshot(t.params, opt)  # the initial weights: what a diverged first epoch goes back to
    # Batch mode: the epoch-end pass computes the full gradient at the weights the next update
    # starts from; it can stand in for that update's gradient unless train and eval differ.
    reuse_grad = opts.mode == "batch" and not evaluator.switch_modes
    last_eval = None
    bar = None
    if opts.progress and not partial and (comm is None or comm.is_root):
        bar = make_progress(max_epochs, t.epoch, metric_name(t.metrics[0]))  # periodic lines off a terminal
    elapsed = history.records[-1].get("time", 0.0) if history.records else 0.0
    t_start = time.perf_counter() - (float(elapsed) if isinstance(elapsed, (int, float)) else 0.0)
    reason = None
    user_fp = np.geterr()
    # Overflow and invalid operations are caught by the divergence checks and reported as one
    # DivergenceWarning, not as NumPy RuntimeWarnings: the loop runs with them quiet (entered
    # once per run: np.errstate costs more than a tiny network's step), and the user's
    # callbacks run with the user's own settings.
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    quiet.__enter__()
    try:
        while t.epoch < max_epochs:
            epoch = t.epoch + 1
            lr = state.lr_schedule.get_lr(epoch - 1, state.base_lr, samples_seen=state.samples_seen)
            if lr != opt.lr:  # the setter validates; an unchanged rate was valid
                opt.lr = lr
            batch_size = batch_size_for(opts.mode, opts.batch_size, opts.batch_schedule, epoch, train.n_total)
            t0 = time.perf_counter()
            # Only a callback can change the weights between the last evaluation and this update.
            cached = last_eval if last_eval is not None and (not callbacks or snapshot.matches()) else None
            step = train_epoch(t, evaluator, train, epoch, batch_size, cached)
            last_eval = None
            if guard.first is None:
                guard.first_loss(step.first_loss)
            problem = step.problem
            if problem is None:
                ev = _end_of_epoch(t, evaluator, train, step)
                problem = guard.problem(ev, snapshot.check)  # check() also copies the weights
            if problem is not None:
                snapshot.restore()
                _warn_diverged(t, epoch, problem, lr, train)
                reason = "diverged"
                break
            record = _record(t, evaluator, epoch, ev, val, lr, batch_size, step)
            now = time.perf_counter()
            record["time"] = now - t_start
            record["epoch_time"] = now - t0
            history.append(record)
            t.epoch = epoch
            state.samples_seen += train.n_total
            snapshot.commit()
            if reuse_grad:
                last_eval = ev
            if not partial:
                monitor.update(epoch, record, t.params)
                history.best_epoch = monitor.best_epoch
            state.lr_schedule.observe(epoch - 1, record["val_loss"] if val is not None else record["train_loss"])
            if opts.batch_schedule is not None:
                opts.batch_schedule.observe(epoch, record["train_loss"])
            stop = step.stop
            if callbacks:
                with np.errstate(**user_fp):
                    stop = call_hook(callbacks, "on_epoch_end", t, epoch, record) or stop
            stop = stop or t.stop_training
            if comm is not None:  # any rank's stop request; the slowest rank's times
                stop = agree_epoch(comm, stop, record)
            if bar is not None:
                bar.update(record)
            if grad_norm_reached(record["grad_norm"], opts.grad_tol):
                reason = "grad_norm"
            elif opts.early_stopping and not partial and monitor.wait >= opts.patience:
                reason = "early_stopping"
            elif stop:
                reason = "callback"
            elif t.epoch >= max_epochs and not partial:
                reason = "max_epochs"
            history.stop_reason = reason
            if opts.checkpoint_path is not None and not partial and (
                reason is not None or (opts.checkpoint_every and epoch % opts.checkpoint_every == 0)
            ):
                checkpoint.save(t, data)
            if reason is not None:
                break
        else:
            if not partial:
                reason = "max_epochs"
    finally:
        quiet.__exit__(None, None, None)
        if bar is not None:
            bar.close()
        model.train(was_training)
        state.first_loss = guard.first
    if reason not in (None, "diverged") and opts.early_stopping and opts.restore_best and not partial:
        if monitor.best_epoch is not None and monitor.best_epoch != t.epoch:
            monitor.restore(t.params)
    t.stop_reason = reason
    history.stop_reason = reason
    call_hook(callbacks, "on_train_end", t)
    return history


def _end_of_epoch(t, evaluator, train, step) -> Evaluation:
    """The training set's values for this epoch's record, as ``train_eval`` asks."""
    how = t.options.train_eval if t.options.mode != "batch" else "grad"
    if how == "batches" and step.seen:
        return Evaluation(step.loss_sum / step.seen, dict.fromkeys(map(metric_name, t.metrics)))
    return evaluator(train, grad=how == "grad", diagnostics=t.options.diagnostics)


def _record(t, evaluator, epoch, ev, val, lr, batch_size, step) -> dict:
    first = metric_name(t.metrics[0])
    record = {
        "epoch": epoch,
        "train_loss": ev.loss,
        "val_loss": None,
        "val_metric": None,
        "train_metric": ev.metrics[first],
        "grad_norm": ev.grad_norm,
        "lr": lr,
        "batch_size": batch_size,
        "n_updates": step.n_updates,
        "batch_loss_mean": step.loss_sum / step.seen if step.seen else None,
    }
    for name, value in ev.metrics.items():
        record[f"train_{name}"] = value
    if val is not None:
        vev = evaluator(val)
        record["val_loss"] = vev.loss
        record["val_metric"] = vev.metrics[first]
        for name, value in vev.metrics.items():
            record[f"val_{name}"] = value
    if ev.diagnostics is not None:
        record["diagnostics"] = ev.diagnostics
    return record


def _warn_diverged(t, epoch, problem, lr, train) -> None:
    restored = f"the end of epoch {t.epoch}" if t.epoch else "the start"
    hint = "Lower the learning rate (lr={:g}) or set clip_norm.".format(lr)
    # No |X| temporary of the data's size; a data-parallel rank's part may be empty.
    X = train.host.X
    x_max = max(float(X.max()), -float(X.min())) if train.n else 0.0
    if x_max > 1e2:
        hint += (f" The inputs are large (max |x| = {x_max:.3g}): standardise them first "
                 "(ff.data.Standardizer, or scikit-learn's StandardScaler).")
    warnings.warn(
        f"training diverged in epoch {epoch}: {problem}. Stopped and restored the weights from "
        f"{restored}. {hint}",
        DivergenceWarning,
        stacklevel=4,
    )

