"""Checkpoints of a training run: written by the loop, read back by ``resume_from``.

A checkpoint (:func:`feedforward.io.save_checkpoint`) holds the weights, the random
generators inside the model (RReLU's), the optimizer's state, the loop's generator, the
schedules, the history, the early-stopping monitor and its best weights, the validation
split and the divergence rule's first loss: everything needed to continue the run
bit-identically.

Resuming continues *that* run, so the options that shape it must be the same: a different
optimizer, ``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``betas``, ``eps``, ``mode``,
``batch_size`` (in minibatch mode without a batch schedule), ``shuffle``, ``lr_schedule`` or
``clip_norm`` is refused with a ``ValueError`` naming the option and both values, as is a
``max_epochs`` below the checkpoint's epoch count and other training data. Nothing is silently
replaced by the checkpoint's value. (To change an option, start a new run from the weights:
``ff.load`` the model, or ``load_params_into``.)
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .. import io
from .data import select
from .history import History

__all__ = ["check_writable", "save", "read", "restore"]


def check_writable(path, name: str = "checkpoint_path") -> None:
    """Refuse, before the first epoch, a ``path`` whose folder is missing or not writable.

    Writing and removing a temporary file there is the only test that asks the file system
    itself (permission bits say nothing about root, a read-only mount or an ACL).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a folder; give a file name in it, e.g. {name}='run.ckpt'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"{name}={path!r}: its folder {folder!r} {what}; create the folder first")
    try:
        fd, probe = tempfile.mkstemp(prefix=".ff-write-check-", dir=folder)
    except OSError as exc:
        raise ValueError(f"{name}={path!r}: cannot write in its folder {folder!r} ({exc.strerror or exc})") from None
    os.close(fd)
    os.remove(probe)


def _run_options(trainer) -> dict:
    """The options that shape a run besides the optimizer's hyper-parameters (saved, compared)."""
    opts = trainer.options
    return {
        "mode": opts.mode,
        "batch_size": int(opts.batch_size),
        "shuffle": opts.shuffle,
        "lr_schedule": type(trainer.state.lr_schedule).__name__,
        "clip_norm": opts.clip_norm,
    }


def save(trainer, data) -> None:
    """Write ``trainer``'s run on ``data`` to its ``checkpoint_path`` (rank 0 only, with ``comm``:
    every rank holds the same run)."""
    comm = trainer.options.comm
    if comm is not None and not comm.is_root:
        return
    state = trainer.state
    monitor = state.monitor
    arrays = {}
    if monitor is not None and monitor.best_weights is not None:
        for (name, _), w in zip(trainer.model.named_parameters(), monitor.best_weights):
            arrays[f"best/{name}"] = w
    if data.split is not None:
        arrays["split/train"], arrays["split/val"] = data.split
    extra = {
        "samples_seen": state.samples_seen,
        "base_lr": state.base_lr,
        "monitor": None if monitor is None else monitor.state_dict(),
        "monitor_key": None if monitor is None else monitor.key,
        "fingerprint": data.fingerprint,
        "first_loss": state.first_loss,
        **_run_options(trainer),
    }
    io.save_checkpoint(
        trainer.options.checkpoint_path,
        trainer.model,
        optimizer=trainer.optimizer,
        epoch=trainer.epoch,
        history=trainer.history,
        rng=trainer.rng,
        lr_schedule=state.lr_schedule,
        batch_schedule=trainer.options.batch_schedule,
        extra=extra,
        extra_arrays=arrays,
    )


def read(path) -> dict:
    """The checkpoint at ``path`` (:func:`feedforward.io.load_checkpoint`), without the rebuilt
    model (the run has its own): what :func:`restore` needs, and what rank 0 sends the others."""
    ck = io.load_checkpoint(path)
    ck.pop("model", None)
    return ck


def restore(trainer, path, data, max_epochs: int, ck=None) -> None:
    """Put the run saved at ``path`` back into ``trainer`` (and its validation split into ``data``).

    ``ck``: the checkpoint already read (:func:`read`; in a data-parallel run rank 0 reads it).
    """
    ck = read(path) if ck is None else ck
    where = f"resume_from={os.fspath(path)!r}"
    extra = ck["extra"]
    if not isinstance(extra, dict) or "fingerprint" not in extra:
        raise ValueError(f"{where} is not a training checkpoint written by ff.fit / Trainer")
    _check_same_data(extra["fingerprint"], data, trainer.options.comm, where)
    _check_same_run(trainer, ck, max_epochs, where)
    model, state, opts = trainer.model, trainer.state, trainer.options
    io.load_params_into(model, ck["model_state"], where=os.fspath(path))
    io.restore_model_rngs(model, ck["model_rngs"])
    trainer.optimizer.load_state_dict(ck["optimizer"])
    if ck["rng"] is not None:
        trainer.rng = _continue(trainer.rng, ck["rng"])
    if ck["lr_schedule"] is not None:
        state.lr_schedule.load_state_dict(ck["lr_schedule"])
    if opts.batch_schedule is not None:
        if ck["batch_schedule"] is None:
            raise ValueError(f"{where}: the checkpoint has no batch_schedule state but this run uses one")
        opts.batch_schedule.load_state_dict(ck["batch_schedule"])
    trainer.history = ck["history"] or History()
    trainer.history.stop_reason = None  # the run goes on
    trainer.epoch = ck["epoch"]
    if trainer.history.epochs != trainer.epoch:
        raise ValueError(
            f"{where}: the checkpoint is inconsistent: epoch {trainer.epoch} but {trainer.history.epochs} records"
        )
    state.samples_seen = int(extra["samples_seen"])
    state.base_lr = float(extra["base_lr"])
    first = extra.get("first_loss")  # None: a checkpoint from before issue 10, or no update yet
    if first is not None and (isinstance(first, bool) or not isinstance(first, (int, float))):
        raise ValueError(f"{where}: the checkpoint's first_loss must be a number, got {first!r}")
    state.first_loss = first
    arrays = ck["extra_arrays"]
    if data.split is not None:
        _restore_split(data, arrays, where)
    if extra["monitor"] is not None:
        state.monitor = opts.make_monitor(trainer.metrics[0], data.val is not None)
        best = None
        if any(k.startswith("best/") for k in arrays):
            best = [arrays[f"best/{name}"] for name, _ in model.named_parameters()]
        state.monitor.load_state_dict(extra["monitor"], best)
        trainer.history.monitor = state.monitor.key


def _check_same_data(saved, data, comm, where) -> None:
    """The checkpoint's data fingerprint against this run's.

    A data-parallel run's fingerprint (``"lin64:..."``) does not depend on the sharding, so its
    checkpoint resumes with any number of ranks, and in one process (which then computes that
    fingerprint of its data too). A one-process checkpoint holds a SHA-256 of the data, which
    ranks cannot compute without moving all of it to one: it resumes in one process only.
    """
    ours = data.fingerprint
    if isinstance(saved, str) and saved.startswith("lin64:") and not ours.startswith("lin64:"):
        from ..distributed.training import linear_fingerprint

        ours = linear_fingerprint(data.full)
    elif ours.startswith("lin64:") and isinstance(saved, str) and not saved.startswith("lin64:"):
        raise ValueError(
            f"{where}: the checkpoint was written by a one-process run; its data fingerprint (SHA-256) "
            "cannot be checked across ranks: resume it without comm (a checkpoint of a run with comm "
            "resumes with any number of ranks)"
        )
    if saved != ours:
        raise ValueError(
            f"{where}: the checkpoint was written for a different training set (X, y, sample_weight); "
            "resume with the same data"
        )


def _check_same_run(trainer, ck, max_epochs, where) -> None:
    """Refuse to resume with options other than the checkpoint's (module docstring)."""
    saved, opt, extra = ck["optimizer"], trainer.optimizer, ck["extra"]
    if saved is None:
        raise ValueError(f"{where}: the checkpoint holds no optimizer state")
    if saved["type"] != type(opt).__name__:
        raise ValueError(
            f"{where}: the checkpoint's optimizer state is for {saved['type']}, this run's optimizer is "
            f"{type(opt).__name__}; resume with the same optimizer"
        )
    # The optimizer's "lr" in a checkpoint is the scheduled rate of its last epoch; the run's
    # option is the base rate.
    ours = {**opt.hyperparameters(), "lr": trainer.state.base_lr, **_run_options(trainer)}
    theirs = {**saved["hyper"], "lr": extra.get("base_lr")}
    theirs.update({k: extra[k] for k in _run_options(trainer) if k in extra})
    if ours["mode"] != "minibatch" or trainer.options.batch_schedule is not None:
        theirs.pop("batch_size", None)  # the option has no effect on this run
    for name, value in ours.items():
        if name in theirs and theirs[name] != value:
            raise ValueError(
                f"{where}: the checkpoint was written with {name}={theirs[name]!r}, this run has "
                f"{name}={value!r}; a resumed run continues the saved one with the same options "
                "(start a new run to change them)"
            )
    if ck["epoch"] > max_epochs:
        raise ValueError(
            f"{where}: the checkpoint has completed {ck['epoch']} epochs, more than max_epochs={max_epochs}; "
            f"resume with max_epochs >= {ck['epoch']}"
        )


def _continue(rng, saved):
    """The loop's generator in the saved state: set in place when the bit generators are of one
    kind (a caller's Generator keeps advancing with the run), else the saved generator itself."""
    if type(saved.bit_generator) is type(rng.bit_generator):
        rng.bit_generator.state = saved.bit_generator.state
        return rng
    return saved


def _restore_split(data, arrays, where) -> None:
    if "split/train" not in arrays:
        raise ValueError(f"{where}: this run holds out validation_fraction but the checkpoint has no split")
    train_rows, val_rows = arrays["split/train"], arrays["split/val"]
    n = data.full.n_total  # the rows of every rank together: a split does not depend on the sharding
    for rows in (train_rows, val_rows):
        if rows.dtype.kind not in "iu" or rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
            raise ValueError(f"{where}: the checkpoint's validation split does not fit the data")
    data.split = (np.sort(train_rows), np.sort(val_rows))
    data.train, data.val = (select(data.full, rows) for rows in data.split)
