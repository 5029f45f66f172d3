"""The data-parallel parts of the training pipeline (L-DIST-1, L-DIST-2).

The single-process pipeline (:mod:`feedforward.training`) calls these from a few places when
``comm`` is given: :func:`prepare` for the data, :class:`ReducingEvaluator` and
:class:`ReducingGuard` for the epoch-end values, :func:`minibatch_epoch` for the updates of
minibatch and stochastic mode, :func:`agree_epoch` at the end of each epoch.

**What a run with K ranks computes.** The training set is the ranks' shards in rank order
(``N = n_0 + ... + n_{K-1}`` rows); ``J(w)`` is its mean loss (weighted: ``sum w_i l_i /
sum w_i``), so a shard's loss and gradient count with its share ``n_r / N`` (``W_r / W``):

``mode="batch"`` (Algorithm 2)
    Every rank computes the gradient of its shard; one Allreduce of the packed, share-scaled
    gradients gives ``grad J`` over all ``N`` rows; every rank applies the same update. This is
    single-process batch training on the whole set, up to float rounding.
``mode="minibatch"``
    Every rank draws the same permutation of the ``N`` global rows (the generator is rank 0's);
    the global minibatch ``b`` is rows ``order[b B : (b + 1) B]`` exactly as one process would
    take them, and each rank computes the part of it that lies in its shard (scaled by its
    count over ``B``). The union is the single-process minibatch, so the run equals
    single-process minibatch training on the concatenated shards with the same ``rng``, up to
    float rounding. ``batch_size`` is the global minibatch size.
``mode="stochastic"`` (Algorithm 1)
    The same with ``B = 1``: one update per pattern drawn uniformly from all ``N``; the rank
    holding it computes, the others add zeros. It equals single-process stochastic training
    and is no faster on K ranks (one Allreduce per pattern): use minibatch mode to scale.

The validation split (``validation_fraction``) is drawn over all ``N`` rows as one process
draws it, so it too is independent of K; with ``validation_data`` each rank passes its own
shard of the validation set. Metrics are exact over all rows: accuracy, MSE and MAE are
reduced as shares; any other metric gathers the predictions (one value per row, not ``X``).

With the same data, seed and options, a checkpoint written with K ranks resumes with any
other K (or in one process): the data's fingerprint (:func:`fingerprint`) does not depend on
how the rows are sharded. The model's own random units (RReLU) draw on each rank, so a run
with them does not equal the single-process one draw for draw.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..autograd import no_grad
from ..optim.clip import clip_grad_norm
from ..tensor import Tensor
from ..training.batching import epoch_order
from ..training.callbacks import call_hook
from ..training.data import Data, check_data, select, split_rows, stratify_labels
from ..training.divergence import Guard
from ..training.epoch import EpochResult
from ..training.evaluation import Evaluation, Evaluator
from ..training.metrics import METRICS, metric_name, metric_values
from .comm import PackedAllreduce

__all__ = ["prepare", "place_split", "fingerprint", "linear_fingerprint", "ReducingEvaluator", "ReducingGuard",
           "minibatch_epoch", "agree_epoch", "MEAN_METRICS"]

#: Metrics that are a (weighted) mean over rows: reduced as shares, no predictions moved.
MEAN_METRICS = frozenset({"accuracy", "mse", "mae"})


# ---------------------------------------------------------------- the data
def prepare(comm, model, output, dtype, X, y, *, sample_weight=None, validation_data=None,
            validation_fraction=None, rng=None) -> Data:
    """Check every rank's shard (an error anywhere is raised on every rank), then place the
    shards in the whole set and draw the validation split over all rows."""
    with comm.agree("the training data"):
        data = check_data(model, output, dtype, X, y, sample_weight=sample_weight,
                          validation_data=validation_data, validation_fraction=validation_fraction, shard=True)
    _place(comm, data.full, "X")
    has_val = comm.allgather(data.val is not None, "whether validation data were given")
    if any(has_val) and not all(has_val):
        raise ValueError(f"validation_data was given on ranks {[r for r, h in enumerate(has_val) if h]} only; "
                         "give every rank its shard of the validation set, or none")
    if data.val is not None:
        _place(comm, data.val, "X_val")
    if validation_fraction is not None:
        labels = stratify_labels(output, data.full)
        if labels is not None:  # a stratified split needs every row's label: one int per row
            labels = np.concatenate(comm.allgather(labels, "the labels for the validation split"))
        data.split = split_rows(data.full.n_total, validation_fraction, labels, rng)
        data.train, data.val = (select(data.full, rows) for rows in data.split)
        place_split(comm, data)
    if data.train.w is not None and not data.train.w_total_all > 0:
        raise ValueError("sample_weight of the training part sums to 0 over all ranks")
    if data.val is not None and data.val.w is not None and not data.val.w_total_all > 0:
        raise ValueError("the validation sample weights sum to 0 over all ranks")
    return data


def place_split(comm, data) -> None:
    """After a split of the whole set (drawn, or read from a checkpoint): the parts' counts."""
    _place(comm, data.train, "the training part")
    _place(comm, data.val, "the validation part")


def _place(comm, part, what) -> None:
    """Set ``part``'s ``n_total``, ``offset`` and ``w_total_all`` from every rank's counts."""
    counts = comm.allgather((part.n, part.w_total), f"the row counts of {what}")
    ns = [c[0] for c in counts]
    part.n_total, part.offset = sum(ns), sum(ns[: comm.rank])
    if part.w is not None:
        part.w_total_all = math.fsum(c[1] or 0.0 for c in counts)
    if part.n_total == 0:
        raise ValueError(f"{what} has no rows on any rank")


# --------------------------------------------------------- the fingerprint
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic): a pseudo-random
    coefficient for each element position."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _linear_sum(a: np.ndarray, offset: int, salt: int, chunk: int = 8192) -> int:
    """``sum_e c(e) (bits_e + 1) mod 2^64`` over the elements of the rows of ``a``, ``e`` the
    element's position in the whole set (rows before this shard: ``offset``)."""
    rows = a.reshape(len(a), -1)
    cols = rows.shape[1]
    bits = rows.view(f"u{rows.dtype.itemsize}") if rows.dtype.itemsize in (1, 2, 4, 8) else None
    if bits is None:
        bits = np.ascontiguousarray(rows).view(np.uint8)
        cols = bits.shape[1]
    total = np.uint64(0)
    salt = np.uint64(salt)
    for s in range(0, len(bits), chunk):
        block = bits[s:s + chunk].astype(np.uint64)
        pos = (np.arange(s + offset, s + offset + len(block), dtype=np.uint64)[:, None] * np.uint64(cols)
               + np.arange(cols, dtype=np.uint64)[None, :])
        total += np.add.reduce((_mix(pos ^ salt) * (block + np.uint64(1))).reshape(-1), dtype=np.uint64)
    return int(total)


def _header(part) -> bytes:
    arrays = (part.X, part.y, part.w)
    return repr([(None if a is None else (a.dtype.str, a.shape[1:])) for a in arrays] + [part.n_total]).encode()


def linear_fingerprint(part, comm=None) -> str:
    """A fingerprint of the whole set that does not depend on its sharding (``"lin64:..."``).

    A keyed linear hash of every element's bits (``sum c(e) (bits_e + 1) mod 2^64``, the
    coefficient from the element's position in the whole set): each rank hashes its shard,
    the sums add up. It catches a resumption on other data; it is no defence against a
    forged data set (SHA-256 of a stream cannot be split over ranks).
    """
    sums = [_linear_sum(a, part.offset, salt) for salt, a in enumerate((part.X, part.y, part.w)) if a is not None]
    if comm is not None:
        sums = [sum(col) % 2**64 for col in zip(*comm.allgather(sums, "the data fingerprint"))]
    digest = hashlib.sha256(_header(part) + b"".join(v.to_bytes(8, "little") for v in sums)).hexdigest()
    return f"lin64:{digest}"


def fingerprint(comm, part) -> str:
    return linear_fingerprint(part, comm)


# ------------------------------------------------------- epoch-end values
def _share(part) -> float:
    """The shard's share of the whole set's mean: ``n_r / N``, weighted ``W_r / W``."""
    if part.w is None:
        return part.n / part.n_total
    return part.w_total / part.w_total_all if part.w_total_all else 0.0


class ReducingEvaluator(Evaluator):
    """An :class:`~feedforward.training.evaluation.Evaluator` whose values are over all ranks.

    Each rank evaluates its shard; then ONE Allreduce (float64) of the share-scaled loss, the
    count of shards with non-finite outputs, the mean metrics and, with ``grad=True``, the
    packed gradients. Other metrics gather the predictions (one ``allgather``).
    """

    def __init__(self, comm, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.comm = comm
        self._mean = [m for m in self.metrics if isinstance(m, str) and m in MEAN_METRICS]
        self._gathered = [m for m in self.metrics if m not in self._mean]
        self._reducer = None

    def _evaluation(self, part, loss, preds, finite, grad, probe, probas=None) -> Evaluation:
        share = _share(part)
        pred = None
        if preds is not None and part.n:
            pred = np.concatenate(preds) if len(preds) > 1 else preds[0]
        local = [loss * share, 0.0 if finite else 1.0]
        if preds is not None:
            local += [METRICS[m](pred, part.y, part.w) * share if share else 0.0 for m in self._mean]
        if grad:
            if self._reducer is None:
                self._reducer = PackedAllreduce(self.comm, self.params, 2 + len(self._mean), dtype=np.float64)
            # Without metrics the scalars are fewer: zeros fill their places.
            local += [0.0] * (2 + len(self._mean) - len(local))
            total = self._reducer(local, scale=share, what="the epoch-end Allreduce")
        else:
            total = self.comm.sum(local, "the epoch-end Allreduce")
        values = dict.fromkeys(map(metric_name, self.metrics))
        if preds is not None:
            values.update(zip(self._mean, (float(v) for v in total[2:2 + len(self._mean)])))
            if self._gathered:
                proba = None
                if probas is not None and part.n:
                    proba = np.concatenate(probas) if len(probas) > 1 else probas[0]
                values.update(self._gather(pred, proba, part))
        ev = Evaluation(float(total[0]), values, outputs_finite=bool(total[1] == 0))
        if grad:
            ev.grad_norm = self._grad_norm()
        return ev

    def _gather(self, pred, proba, part) -> dict:
        """Metrics that are not means over rows (and those reading probabilities), on every
        rank's predictions in rank order."""
        mine = (pred, proba, part.y, part.w) if part.n else None
        shards = [s for s in self.comm.allgather(mine, "the predictions for the metrics") if s is not None]
        p, y = (np.concatenate([s[i] for s in shards]) for i in (0, 2))
        pr = None if shards[0][1] is None else np.concatenate([s[1] for s in shards])
        w = None if part.w is None else np.concatenate([s[3] for s in shards])
        return metric_values(self._gathered, p, y, w, proba=pr)

    def outputs_finite(self, part) -> bool:
        mine = super().outputs_finite(part) if part.n else True
        return not self.comm.any(not mine, "the finite-output check")


class ReducingGuard(Guard):
    """The divergence rule with its references over every rank's shard."""

    def __init__(self, comm, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.comm = comm

    def _input_bound(self) -> float:
        mine = super()._input_bound() if self.train.n else 0.0
        return float(self.comm.max([mine], "the bound on the inputs")[0])

    def _uninformed_loss(self) -> float:
        part, output, n_out = self.train, self.output, self.n_outputs
        z = np.zeros((part.n, n_out), dtype=part.X.dtype)
        if output.task == "regression":
            # The whole set's (weighted) mean target: sums over the ranks, then divided.
            y = part.y.reshape(part.n, -1).astype(np.float64)
            w = np.ones(part.n) if part.w is None else part.w.astype(np.float64)
            sums = self.comm.sum(np.append(w @ y, w.sum()), "the mean target")
            z += (sums[:-1] / sums[-1]).astype(z.dtype)
        loss = 0.0
        share = _share(part)
        if part.n and share:
            with no_grad():
                loss = float(output._trusted_nll(Tensor(z), part.y, sample_weight=part.w).data) * share
        return float(self.comm.sum([loss], "the uninformed loss")[0])


# ------------------------------------------------------------- the updates
def minibatch_epoch(t, train, epoch: int, batch_size: int, hooks: bool) -> EpochResult:
    """One epoch of minibatch (or stochastic) updates over all ranks' rows (module docstring).

    Mirrors :func:`feedforward.training.epoch._minibatches`; the differences: the order is
    over the whole set, each rank computes its part of each minibatch, and one packed
    Allreduce per update sums the gradients with the loss, the weight sum and a stop flag
    (a callback on one rank that asks to stop is seen by all at the next update).
    """
    comm, model, output, opt = t.options.comm, t.model, t.output, t.optimizer
    clip, params, callbacks = t.options.clip_norm, t.params, t.options.callbacks
    X, y, w = train.X, train.y, train.w
    N, lo, hi = train.n_total, train.offset, train.offset + train.n
    reducer = PackedAllreduce(comm, params, 3)
    # The same on every rank: rank 0's generator.
    order = epoch_order(t.options.mode, N, t.rng, shuffle=t.options.shuffle, batch_size=batch_size)
    order.flags.writeable = False
    w_mean = None if w is None else train.w_total_all / N
    n_updates, loss_sum, seen, first, stop = 0, 0.0, 0, None, False
    for b, s in enumerate(range(0, N, batch_size)):
        idx = order[s : s + batch_size]
        m = len(idx)
        mine = idx[(idx >= lo) & (idx < hi)] - lo  # this rank's rows of the global minibatch
        opt.zero_grad()
        value = wsum = 0.0
        if len(mine):
            z = model(Tensor(X[mine]))
            if w is None:
                loss = output._trusted_nll(z, y[mine]) * (len(mine) / m)
            else:
                wb = w[mine]
                wsum = float(wb.sum(dtype=np.float64))
                # sum_i w_i l_i / (m w_mean), as one process scales a weighted minibatch.
                loss = output._trusted_nll(z, y[mine], sample_weight=wb) * (wsum / (m * w_mean)) if wsum else None
            if loss is not None:
                loss.backward()
                value = float(loss.data)
        value, wsum, stop_flag = reducer([value, wsum, 1.0 if stop else 0.0])
        if stop_flag:  # a rank's callback asked to stop after the previous update
            return EpochResult(n_updates, loss_sum, seen, first, stop=True)
        if w is not None and wsum == 0:
            continue  # all-zero weights: nothing to learn from this batch
        if first is None:
            first = value
        if not math.isfinite(value):
            return EpochResult(n_updates, loss_sum, seen, first, f"the loss of update {b} became {value}")
        if clip is not None and not math.isfinite(clip_grad_norm(params, clip)):
            return EpochResult(n_updates, loss_sum, seen, first, f"the gradient norm of update {b} became infinite")
        opt.step()
        n_updates += 1
        loss_sum += value * m
        seen += m
        if hooks:
            logs = {"epoch": epoch, "batch": b, "size": m, "loss": value, "indices": idx}
            stop = bool(call_hook(callbacks, "on_batch_end", t, b, logs))
        if t.stop_training:
            stop = True
    # A stop asked in the last update is agreed at the end of the epoch (agree_epoch).
    return EpochResult(n_updates, loss_sum, seen, first, stop=stop)


def agree_epoch(comm, stop: bool, record: dict) -> bool:
    """End of an epoch: stop if any rank asks to; the record's times become the slowest
    rank's, so the history is identical on every rank. One small Allreduce."""
    buf = comm.max([1.0 if stop else 0.0, record["time"], record["epoch_time"]], "the end-of-epoch agreement")
    record["time"], record["epoch_time"] = float(buf[1]), float(buf[2])
    return bool(buf[0] > 0)
