"""A rank's shard of a data set, read without reading the rest of the file.

The ranks' shards, in rank order, make up the whole training set: rank ``r`` of ``K`` holds
rows ``[offset_r, offset_r + n_r)`` of it. Shards may be uneven; training weighs each by its
count (:mod:`feedforward.distributed.training`).

* :func:`shard_range`: rows ``[lo, hi)`` of ``n`` for one rank, as even as possible (the first
  ``n % K`` ranks get one row more, as ``np.array_split``).
* :func:`load_npy_shard`: those rows of a ``.npy`` file, through a memory map
  (``np.load(mmap_mode="r")``): only their pages are read; no pickled objects.
* :func:`load_csv_shard`: the rows of a CSV file whose first byte lies in the rank's share of
  the file's bytes (``[r S / K, (r + 1) S / K)``, ``S`` its size), as Dask and Hadoop split
  text files: a rank reads its byte range and one line past it, never the rest. Every row
  belongs to exactly one rank. The rows must not hold line breaks inside quoted fields.
  The task (classification or regression) and the class names are agreed between the
  ranks (one ``allgather`` of each shard's distinct target values), so class ``c`` means
  the same on every rank.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .._validation import Choice, Int
from ..data.csv import _FLOAT32_MAX, _SNIFF_LINES, MAX_LINE_CHARS, MISSING, _feature, _header, _number, _resolve_column
from ..data.datasets import Dataset
from ..io.files import open_regular

__all__ = ["shard_range", "load_npy_shard", "load_csv_shard"]


def shard_range(n: int, rank: int, size: int) -> tuple:
    """Rows ``[lo, hi)`` of ``n`` that rank ``rank`` of ``size`` holds.

    >>> [shard_range(10, r, 3) for r in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    n = Int(0)(n, "n")
    size = Int(1)(size, "size")
    rank = Int(0, size - 1)(rank, "rank")
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def _where(comm, rank, size) -> tuple:
    if comm is not None:
        return comm.rank, comm.size
    if rank is None or size is None:
        raise TypeError("give comm, or both rank and size")
    return rank, size


def load_npy_shard(path, comm=None, *, rank=None, size=None) -> np.ndarray:
    """Rank ``rank``'s rows (:func:`shard_range`) of the array in the ``.npy`` file ``path``.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file (``np.save``), at least 1-D; rows are its first axis.
    comm : Communicator or mpi4py communicator, optional
        Gives ``rank`` and ``size``; or pass them.

    Returns
    -------
    ndarray of shape (hi - lo, ...)
        A copy of the rows in memory; the rest of the file is never read.
    """
    from .comm import as_communicator

    rank, size = _where(as_communicator(comm), rank, size)
    path = os.fspath(path)
    with open_regular(path, ".npy file"):
        pass  # a clear error for a missing path, a folder or a device, before NumPy's
    try:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path} is not a .npy file of numbers: {exc}") from None
    if not isinstance(mm, np.ndarray) or mm.ndim == 0:
        raise ValueError(f"{path}: expected an array with rows (at least 1-D), got {getattr(mm, 'shape', mm)}")
    lo, hi = shard_range(len(mm), rank, size)
    return np.array(mm[lo:hi])


class _At(int):
    """A row's place in the file for error messages: its byte offset (line numbers would need
    the bytes before the shard)."""

    def __str__(self):
        return f"starting at byte {int(self)}"


def _shard_lines(raw, start: int, end: int, path):
    """``(byte offset, line)`` for each line whose first byte lies in ``[start, end)``."""
    pos = start
    raw.seek(start)
    if start > 0:
        raw.seek(start - 1)
        if raw.read(1) != b"\n":  # mid-line: that line belongs to the rank before
            pos += len(raw.readline(MAX_LINE_CHARS + 1))
    while pos < end:
        line = raw.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"{path}: the line at byte {pos} is longer than {MAX_LINE_CHARS} bytes; "
                             "expected a CSV file")
        yield pos, line
        pos += len(line)


def load_csv_shard(path, comm=None, *, target=None, task: str = "auto", max_classes: int = 20) -> Dataset:
    """This rank's rows of a CSV file, as :func:`feedforward.data.load_csv` reads the whole file.

    Same format, target and task rules as :func:`~feedforward.data.load_csv`; every rank
    reads the header (and the first lines, to detect the delimiter) and its own byte range.
    ``comm`` is needed: the ranks agree on the task and the classes.

    Returns
    -------
    Dataset
        ``X`` float32 (n_r, d) and ``y`` (class codes into the shared ``target_names``, or float32).
    """
    from .comm import as_communicator

    comm = as_communicator(comm)
    if comm is None:
        raise TypeError("load_csv_shard needs comm (the ranks agree on the classes)")
    task = Choice("auto", "classification", "regression")(task, "task")
    path = os.fspath(path)
    with comm.agree(f"the CSV file {path}"):
        header, features, t, X, raw = _read_shard(path, target, comm.rank, comm.size)
    with comm.agree(f"the target column of {path}"):
        summary = _summary(path, header[t], raw, max_classes, task)
    summaries = comm.allgather(summary, "the target values of every shard")
    task, codes, names = _agree_target(path, header[t], raw, summaries, task, max_classes)
    return Dataset(X, codes, task, name=Path(path).stem, feature_names=[header[i] for i in features],
                   target_names=names, target=header[t],
                   description=f"CSV file {path}, rank {comm.rank} of {comm.size}'s rows")


def _read_shard(path, target, rank, size):
    with open_regular(path, "CSV file") as raw:
        total = os.fstat(raw.fileno()).st_size
        head = [raw.readline(MAX_LINE_CHARS + 1) for _ in range(_SNIFF_LINES)]
        text = b"".join(head)
        try:
            sample = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a UTF-8 text file; expected a CSV file") from None
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
        except csv.Error:
            dialect = csv.excel
        first = head[0]
        fields = next(csv.reader([first.decode("utf-8-sig")], dialect), []) if first else []
        fields = [f.strip() for f in fields]
        has_header = not all(_number(f) is not None for f in fields)
        header, _ = _header(path, iter([(1, fields)] if any(fields) else []))
        if len(header) < 2:
            raise ValueError(f"{path} has only one column ({header[0]!r}); expected features and a target column")
        t = _resolve_column(path, header, target)
        features = [i for i in range(len(header)) if i != t]
        start, end = (rank * total) // size, ((rank + 1) * total) // size
        if has_header:
            start = max(start, len(first))  # the header row is nobody's data
        rows, targets = [], []
        for pos, line in _shard_lines(raw, start, end, path):
            try:
                decoded = line.decode("utf-8-sig" if pos == 0 else "utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{path} is not a UTF-8 text file (byte {pos}); expected a CSV file") from None
            fields = [f.strip() for f in next(csv.reader([decoded], dialect), [])]
            if not any(fields):
                continue
            at = _At(pos)
            if len(fields) != len(header):
                raise ValueError(f"{path}: the line {at} has {len(fields)} fields, expected {len(header)} "
                                 f"(one per column of {header})")
            rows.append([_feature(path, header[i], fields[i], at) for i in features])
            targets.append((at, fields[t]))
    X = np.array(rows, dtype=np.float32).reshape(len(rows), len(features))
    return header, features, t, X, targets


def _summary(path, name, raw, max_classes, task) -> dict:
    """What the other ranks need to agree on the task and classes: small, whatever the shard."""
    for at, text in raw:
        if text.lower() in MISSING:
            raise ValueError(f"{path}: missing target value in column {name!r} at the line {at}; "
                             "fill it in or remove the row")
    values = [_number(text) for _, text in raw]
    numeric = all(v is not None and np.isfinite(v) for v in values)
    whole = numeric and all(v == round(v) for v in values)
    distinct = [] if task == "regression" else sorted(set(_labels(raw, values, numeric)))
    # "auto" only asks whether there are more than max_classes: max_classes + 1 labels tell.
    if task == "auto" and numeric and len(distinct) > max_classes:
        distinct = distinct[: max_classes + 1]
    return {"numeric": numeric, "whole": whole, "labels": distinct}


def _labels(raw, values, numeric):
    if numeric:
        return [str(int(v)) if v == round(v) else repr(float(v)) for v in values]
    return [text for _, text in raw]


def _agree_target(path, name, raw, summaries, task, max_classes):
    numeric = all(s["numeric"] for s in summaries)
    whole = all(s["whole"] for s in summaries)
    labels = sorted(set().union(*(s["labels"] for s in summaries)))
    if task == "auto":
        task = "classification" if not numeric or (whole and len(labels) <= max_classes) else "regression"
    values = [_number(text) for _, text in raw]
    if task == "regression":
        if not numeric:
            raise ValueError(f"{path}: target column {name!r} is not numeric on every rank; regression "
                             "needs numbers (or use classification)")
        for (at, text), v in zip(raw, values):
            if abs(v) > _FLOAT32_MAX:
                raise ValueError(f"{path}: target column {name!r} has the value {text!r} at the line {at}, "
                                 f"beyond the float32 range (|y| <= {_FLOAT32_MAX:.4g}); rescale it")
        return task, np.array(values, dtype=np.float32), [name]
    order = sorted(labels, key=float) if numeric else labels
    if len(order) < 2:
        raise ValueError(f"{path}: target column {name!r} has a single class {order[0]!r}; "
                         "classification needs at least two")
    code = {label: c for c, label in enumerate(order)}
    mine = _labels(raw, values, numeric)
    return task, np.array([code[s] for s in mine], dtype=np.int64), order
