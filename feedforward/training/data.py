"""The data of a training run: ``X``, ``y``, ``sample_weight`` and the validation data, checked once.

Everything the loop reads is checked here, before the first epoch, in the model's dtype:
shapes, finite values (also after the cast: a float64 1e39 is inf in float32), targets the
output unit accepts (class labels in ``[0, C)``, 0/1 for Bernoulli), weights. The loop then
calls the losses without their per-batch checks (``OutputUnit._trusted_nll``).

Class labels of any kind are mapped to ``[0, C)`` here (:mod:`.labels`), ``data.classes``.

The validation part is either given (``validation_data``) or held out of ``X``
(``validation_fraction``) by the package's one splitter,
:func:`feedforward.data.split.split_indices`: ``ceil(fraction * n)`` rows, stratified by
class for classification.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from .._validation import Real, check_finite, check_labels, check_sample_weight
from ..autograd import no_grad
from ..backend import device_of, to_device
from ..data.split import split_indices
from ..nn.output import Bernoulli, Categorical
from ..tensor import Tensor
from .labels import encode_labels, to_indices

__all__ = ["Part", "Data", "prepare", "check_data", "select", "split_rows", "stratify_labels", "check_xy", "fingerprint"]


class Part:
    """One data set ready for the loop: ``X``, ``y``, weights ``w`` (or None), ``n`` rows.

    In a data-parallel run (:mod:`feedforward.distributed`) a part is one rank's shard of the
    set: ``n_total`` rows on all ranks together, this shard from row ``offset`` of them, and
    ``w_total_all`` the weight sum of all ranks. In one process they are ``n``, 0, ``w_total``.

    ``host`` is the part as checked, on the host (NumPy): the part itself, or for a part moved
    to a device (:meth:`to`, ``ff.fit(..., device=)``) the copy that the host-side work reads
    (metrics, a minibatch's weight sum, the inputs' bound) without a transfer per use.
    """

    __slots__ = ("X", "y", "w", "n", "w_total", "n_total", "offset", "w_total_all", "host")

    def __init__(self, X, y, w):
        self.X, self.y, self.w, self.n = X, y, w, len(X)
        self.w_total = None if w is None else float(w.sum(dtype=np.float64))
        self.n_total, self.offset, self.w_total_all = self.n, 0, self.w_total
        self.host = self

    def take(self, rows) -> Part:
        return Part(self.X[rows], self.y[rows], None if self.w is None else self.w[rows])

    def to(self, device) -> Part:
        """This (host) part with its arrays on ``device``: one transfer each, done once per run."""
        if self.host is not self:
            raise ValueError("Part.to: the part is on a device already; move its host part instead")
        moved = object.__new__(Part)
        moved.X, moved.y = to_device(self.X, device), to_device(self.y, device)
        moved.w = None if self.w is None else to_device(self.w, device)
        moved.n, moved.w_total, moved.n_total = self.n, self.w_total, self.n_total
        moved.offset, moved.w_total_all, moved.host = self.offset, self.w_total_all, self
        return moved


@dataclass
class Data:
    """The parts of one run. ``split``: ``(train_rows, val_rows)`` of ``full`` when held out;
    ``fingerprint``: of ``full``, when checkpoints need it (:func:`fingerprint`)."""

    train: Part
    val: Part | None
    full: Part
    n_outputs: int
    split: tuple | None = None
    fingerprint: str | None = None
    classes: np.ndarray | None = None

    def to(self, device) -> Data:
        """The same data with the training and validation parts on ``device`` (``full``, read
        only by fingerprints and checkpoints, stays on the host)."""
        if device is None:
            return self
        moved = {}
        for part in (self.train, self.val):
            if part is not None and id(part) not in moved:
                moved[id(part)] = part.to(device)
        train = moved[id(self.train)]
        val = None if self.val is None else moved[id(self.val)]
        return Data(train, val, self.full, self.n_outputs, self.split, self.fingerprint, self.classes)


def prepare(model, output, dtype, X, y, *, sample_weight=None, validation_data=None,
            validation_fraction=None, rng=None, classes=None) -> Data:
    """Check the data and split off the validation part (``rng`` draws the split).

    Class labels are mapped to ``[0, C)`` (:func:`encode_labels`; ``classes``: those of an
    earlier call, which ``y`` must keep to); ``data.classes`` records them.
    """
    data = check_data(model, output, dtype, X, y, sample_weight=sample_weight, validation_data=validation_data,
                      validation_fraction=validation_fraction, classes=classes if classes is not None else "auto")
    if validation_fraction is not None:
        labels = stratify_labels(output, data.full)
        data.split = split_rows(data.full.n, validation_fraction, labels, rng)
        data.train, data.val = (select(data.full, rows) for rows in data.split)
    if data.train.w is not None and not data.train.w_total > 0:
        raise ValueError("sample_weight of the training part sums to 0")
    return data


def select(full, rows) -> Part:
    """The rows ``rows`` (sorted, of the whole set) of ``full`` that this process holds.

    In one process: ``full.take(rows)``. In a data-parallel run ``full`` is a shard and
    ``rows`` count over every rank's rows: the result holds those in the shard, and knows
    its place among all of ``rows`` (its ``w_total_all`` is the caller's to fill in).
    """
    lo = full.offset
    part = full.take(rows[(rows >= lo) & (rows < lo + full.n)] - lo)
    part.n_total, part.offset = len(rows), int(np.searchsorted(rows, lo))
    return part


def stratify_labels(output, part):
    """The labels a held-out split is stratified by (single-label classification), or None."""
    return part.y if output.task == "classification" and part.y.ndim == 1 else None


def split_rows(n, validation_fraction, labels, rng) -> tuple:
    """``(train_rows, val_rows)`` of ``n``, each sorted (the parts keep the rows' order)."""
    fraction = Real(0, 1, low_open=True, high_open=True)(validation_fraction, "validation_fraction")
    train_rows, val_rows = split_indices(n, fraction, stratify=labels, rng=rng, name="validation_fraction")
    return np.sort(train_rows), np.sort(val_rows)


def check_data(model, output, dtype, X, y, *, sample_weight=None, validation_data=None,
               validation_fraction=None, shard=False, classes=None) -> Data:
    """The checks of :func:`prepare`, without the split: ``train`` is ``full``.

    ``shard``: ``X, y`` are one rank's shard of a data-parallel run, whose weights may all be
    0 (the sum over every rank is checked by the caller). ``classes``: ``"auto"`` maps any
    class labels to ``[0, C)`` (:func:`encode_labels`), an array maps them to its positions,
    None takes only labels in ``[0, C)`` (a shard cannot know the other ranks' labels).
    """
    X = _check_x(X, dtype, "X")
    n_out = _n_outputs(model, X[:1])  # the targets' shape depends on it
    if classes is not None:
        y, classes = encode_labels(output, n_out, y, None if isinstance(classes, str) else classes)
    y = _check_targets(output, dtype, n_out, y, "X", "y", len(X))
    full = Part(X, y, _sample_weight(sample_weight, len(X), dtype, shard))
    if classes is None and isinstance(output, Categorical) and y.ndim == 1:
        classes = np.arange(n_out)
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_fraction is not None:
        Real(0, 1, low_open=True, high_open=True)(validation_fraction, "validation_fraction")
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
        Xv, yv = validation_data[0], validation_data[1]
        wv = validation_data[2] if len(validation_data) == 3 else None
        if classes is not None:
            yv = to_indices(yv, classes, "y_val")
        val = check_xy(output, dtype, n_out, Xv, yv, None, what="X_val")
        val = Part(val.X, val.y, _sample_weight(wv, val.n, dtype, shard))
    return Data(full, val, full, n_out, classes=classes)


def _sample_weight(sample_weight, n, dtype, shard):
    if shard and sample_weight is not None:
        w = np.asarray(getattr(sample_weight, "data", sample_weight))
        if w.dtype.kind in "iuf" and w.shape == (n,) and not w.any():
            return w.astype(dtype)  # all 0: valid for a shard (finite, non-negative)
    return check_sample_weight(sample_weight, n, dtype)


def check_xy(output, dtype, n_outputs, X, y, sample_weight=None, what="X") -> Part:
    """``X`` (2-D, finite in ``dtype``), ``y`` (what ``output`` accepts for a model of ``n_outputs``
    outputs) and the weights, as a :class:`Part`."""
    X = _check_x(X, dtype, what)
    y = _check_targets(output, dtype, n_outputs, y, what, what.replace("X", "y"), len(X))
    return Part(X, y, check_sample_weight(sample_weight, len(X), dtype))


def _check_x(X, dtype, what) -> np.ndarray:
    X = np.asarray(getattr(X, "data", X))
    if X.dtype.kind not in "iufb":
        raise TypeError(f"{what} must be numeric, got an array of dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array of shape (n_samples, n_features), got shape {X.shape}")
    n = len(X)
    if n == 0:
        raise ValueError(f"{what} is empty (0 samples); training needs at least one example")
    _check_finite_fast(X, what)
    with np.errstate(over="ignore"):  # a float64 too large for the model's dtype is reported just below
        X_cast = np.ascontiguousarray(X, dtype=dtype)
    if X_cast.dtype != X.dtype:  # unchanged values need no second pass over the data
        _check_finite_fast(X_cast, f"{what} (as {dtype.name}, the model's dtype)")
    return X_cast


def _check_targets(output, dtype, n_out, y, what, name, n):
    y = np.asarray(getattr(y, "data", y))
    if y.ndim == 0 or len(y) != n:
        raise ValueError(
            f"{what} has {n} samples but {name} has "
            f"{'no axis' if y.ndim == 0 else len(y)}; they must have the same length"
        )
    if isinstance(output, Categorical):
        if y.ndim != 1:
            raise ValueError(f"{name} must be 1-D class labels for a categorical output, got shape {y.shape}")
        return check_labels(y, n_out, name)
    if y.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be numeric, got dtype {y.dtype}")
    check_finite(y, name)
    with np.errstate(over="ignore"):
        y = np.ascontiguousarray(y, dtype=dtype)
    check_finite(y, f"{name} (as {dtype.name}, the model's dtype)")
    if not ((y.ndim == 1 and n_out == 1) or (y.ndim == 2 and y.shape[1] == n_out)):
        raise ValueError(
            f"{name} has shape {y.shape} but the model has {n_out} outputs; expected "
            f"({n},{' or (' + str(n) + ', 1)' if n_out == 1 else ' ' + str(n_out)})"
        )
    if isinstance(output, Bernoulli) and ((y < 0) | (y > 1)).any():
        raise ValueError(f"{name} must lie in [0, 1] for a bernoulli output (0/1 labels)")
    return y


def _n_outputs(model, x1) -> int:
    was = model.training
    model.eval()
    try:
        with no_grad():
            # One row on the model's device (which may already be a GPU: a second ff.fit).
            params = list(model.parameters())
            z = model(Tensor(to_device(x1, device_of(params[0].data)) if params else x1))
    finally:
        model.train(was)
    return z.shape[-1] if z.ndim > 1 else 1


def _check_finite_fast(a, name) -> None:
    """``check_finite`` through one sum: a NaN or inf anywhere makes the sum NaN or inf.

    A sum that is not finite (which a finite array can also give, by overflow) goes to the
    exact check, which names the first bad value or passes. One reduction instead of an
    ``isfinite`` mask of the whole training set.
    """
    if a.dtype.kind == "f" and a.size:
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(a, axis=None)
        if math.isfinite(total):
            return
    check_finite(a, name)


def fingerprint(part: Part) -> str:
    """SHA-256 of ``X``, ``y`` and the weights: a checkpoint resumes on the same data only."""
    h = hashlib.sha256()
    for a in (part.X, part.y, part.w):
        if a is not None:
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
