"""Load a user's CSV file: one target column, numeric features (the command line's ``--data file.csv``).

Only the standard library's ``csv`` module and NumPy are used. Problems are
reported as ``ValueError`` naming the file, the column and the line, so the
command line can print them as one clear sentence.

* The first row is a header, unless every field in it is a number (then the
  columns are named ``column0``, ``column1``, ...).
* The target is the column named by ``target`` (a name, or an integer index
  such as ``-1``); by default a column called ``target``, ``label``, ``class``
  or ``y`` if there is one, else the last column.
* Features must be numbers that fit float32 (the dtype they are returned in).
  A target may be text (class names) or numbers.
* The task is inferred when ``task="auto"``: a text target, or a target of
  whole numbers with at most ``max_classes`` distinct values, is
  classification; anything else is regression.

The command line reads through :mod:`.table`, which also takes text feature
columns (categories) and empty cells, for the model file's pipeline.

The file is read as a stream (only regular files: not a device such as
``/dev/zero``, not a named pipe), row by row, and features are converted to
numbers as they come, so a large file is never held as text; a line longer
than :data:`MAX_LINE_CHARS` is refused.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import numpy as np

from .._validation import Choice
from ..io.files import open_regular
from .datasets import Dataset

__all__ = ["load_csv", "load_features_csv", "read_table", "MISSING", "MAX_LINE_CHARS"]

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
MAX_LINE_CHARS = 16 * 2**20
_DEFAULT_TARGETS = ("target", "label", "class", "y")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SNIFF_LINES = 20
_CHUNK_ROWS = 4096


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


# ----------------------------------------------------------------- reading
def _lines(text, path):
    """The file's lines, each bounded: a "CSV" without line breaks is not read whole into one string."""
    n = 0
    while True:
        line = text.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"{path}: line {n} is longer than {MAX_LINE_CHARS} characters; expected a CSV file")
        yield line


def _records(path):
    """Yield ``(line, fields)`` for each non-blank row, reading the file as a stream."""
    with open_regular(path, "CSV file") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = None
        try:
            lines = _lines(text, path)
            head = list(itertools.islice(lines, _SNIFF_LINES))
            sample = "".join(head)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(itertools.chain(head, lines), dialect)
            for row in reader:
                fields = [f.strip() for f in row]
                if any(fields):  # blank lines carry no data
                    yield reader.line_num, fields
        except UnicodeDecodeError:
            where = f" (line {reader.line_num + 1})" if reader is not None else ""
            raise ValueError(f"{path} is not a UTF-8 text file{where}; expected a CSV file") from None
        except csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num if reader else 1}: {exc}") from None


def _header(path, records):
    """``(header, data records)``: the first row names the columns unless it is all numbers."""
    first = next(records, None)
    if first is None:
        raise ValueError(f"{path} is empty; expected a header row and data rows")
    first_line, row = first
    if all(_number(f) is not None for f in row):
        return [f"column{i}" for i in range(len(row))], itertools.chain([first], records)
    empty = [i for i, h in enumerate(row) if not h]
    if empty:
        raise ValueError(f"{path}: column {empty[0] + 1} of the header (line {first_line}) has no name")
    seen = set()
    for h in row:
        if h in seen:
            raise ValueError(f"{path}: the header repeats the column name {h!r}; names must be unique")
        seen.add(h)
    return row, records


def _check_length(path, header, line, row) -> None:
    if len(row) != len(header):
        raise ValueError(f"{path}: line {line} has {len(row)} fields, expected {len(header)} "
                         f"(one per column of {header})")


def _feature(path, name, text, line) -> float:
    if text.lower() in MISSING:
        raise ValueError(f"{path}: missing value in column {name!r} at line {line}; "
                         "fill it in or remove the row (features must all be present)")
    value = _number(text)
    if value is None:
        raise ValueError(f"{path}: column {name!r} is not numeric (value {text!r} at line {line}); "
                         "features must be numbers: encode it as numbers or remove the column")
    if not np.isfinite(value):
        raise ValueError(f"{path}: column {name!r} has the non-finite value {text!r} at line {line}")
    if abs(value) > _FLOAT32_MAX:
        # It would become inf in float32, and every prediction from it NaN.
        raise ValueError(f"{path}: column {name!r} has the value {text!r} at line {line}, beyond the float32 "
                         f"range (|x| <= {_FLOAT32_MAX:.4g}); rescale the column")
    return value


def _columns(path, header, records, features, target=None):
    """Stream the data rows: ``(X float32 of the feature columns, target texts, line numbers)``."""
    names = [header[i] for i in features]
    chunks, block, targets, lines = [], [], [], []
    for line, row in records:
        _check_length(path, header, line, row)
        block.append([_feature(path, name, row[i], line) for name, i in zip(names, features)])
        if target is not None:
            targets.append(row[target])
        lines.append(line)
        if len(block) == _CHUNK_ROWS:
            chunks.append(np.array(block, dtype=np.float32).reshape(len(block), len(features)))
            block = []
    if not lines:
        raise ValueError(f"{path} has a header but no data rows")
    if block:
        chunks.append(np.array(block, dtype=np.float32).reshape(len(block), len(features)))
    return np.concatenate(chunks), targets, lines


def read_table(path):
    """Read a CSV file into ``(header, rows)``: the column names and ``(line, fields)`` of strings.

    Raises ``FileNotFoundError`` / ``ValueError`` with the file's name for a
    missing file, a path that is not a regular file, an empty file, or rows of
    the wrong length. (:func:`load_csv` does not keep the text; this does.)
    """
    records = _records(path)
    header, body = _header(path, records)
    rows = []
    for line, row in body:
        _check_length(path, header, line, row)
        rows.append((line, row))
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    return header, rows


# ------------------------------------------------------------------ target
def _resolve_column(path, header, target) -> int:
    if target is None:
        lowered = [h.lower() for h in header]
        for name in _DEFAULT_TARGETS:
            if name in lowered:
                return lowered.index(name)
        return len(header) - 1
    if isinstance(target, str) and target in header:
        return header.index(target)
    try:
        index = int(target)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: no column named {target!r}; the columns are {header}") from None
    if not -len(header) <= index < len(header):
        raise ValueError(f"{path}: target column index {index} is out of range for the {len(header)} "
                         f"columns {header}")
    return index % len(header)


def _target(path, name, raw, lines, task, max_classes):
    """``(task, y, target_names)`` from the target column's texts."""
    for line, text in zip(lines, raw):
        if text.lower() in MISSING:
            raise ValueError(f"{path}: missing target value in column {name!r} at line {line}; "
                             "fill it in or remove the row")
    values = [_number(text) for text in raw]
    numeric = all(v is not None and np.isfinite(v) for v in values)
    if task == "auto":
        whole = numeric and all(v == round(v) for v in values)
        task = "classification" if not numeric or (whole and len(set(values)) <= max_classes) else "regression"
    if task == "regression":
        for line, text, v in zip(lines, raw, values):
            if v is None or not np.isfinite(v):
                raise ValueError(f"{path}: target column {name!r} is not numeric (value {text!r} at line "
                                 f"{line}); regression needs numbers (or use classification)")
            if abs(v) > _FLOAT32_MAX:
                raise ValueError(f"{path}: target column {name!r} has the value {text!r} at line {line}, "
                                 f"beyond the float32 range (|y| <= {_FLOAT32_MAX:.4g}); rescale it")
        return task, np.array(values, dtype=np.float32), [name]
    if numeric:
        labels = [str(int(v)) if v == round(v) else repr(float(v)) for v in values]
        order = sorted(set(labels), key=float)
    else:
        labels = list(raw)
        order = sorted(set(labels))
    if len(order) < 2:
        raise ValueError(f"{path}: target column {name!r} has a single class {order[0]!r}; "
                         "classification needs at least two")
    code = {label: c for c, label in enumerate(order)}
    return task, np.array([code[s] for s in labels], dtype=np.int64), order


# ------------------------------------------------------------------ public
def load_csv(path, target=None, *, task: str = "auto", max_classes: int = 20) -> Dataset:
    """Load a CSV file of numeric features and one target column.

    Parameters
    ----------
    path : str or Path
    target : str, int or None
        Target column: a header name or an index (``-1`` is the last column).
    task : {"auto", "classification", "regression"}
    max_classes : int
        With ``task="auto"``, a numeric target of whole numbers with at most
        this many distinct values is taken as class labels.

    Returns
    -------
    Dataset
        ``X`` float32 of shape (n, d); ``y`` int64 class codes into
        ``target_names`` (classification) or float32 values (regression).
    """
    task = Choice("auto", "classification", "regression")(task, "task")
    records = _records(path)
    header, body = _header(path, records)
    if len(header) < 2:
        raise ValueError(f"{path} has only one column ({header[0]!r}); expected features and a target column")
    t = _resolve_column(path, header, target)
    features = [i for i in range(len(header)) if i != t]
    X, raw, lines = _columns(path, header, body, features, target=t)
    task, y, names = _target(path, header[t], raw, lines, task, max_classes)
    return Dataset(X, y, task, name=Path(path).stem, feature_names=[header[i] for i in features],
                   target_names=names, target=header[t], description=f"CSV file {path}")


def load_features_csv(path, feature_names=None) -> tuple:
    """Read the feature matrix of a CSV file for prediction.

    Parameters
    ----------
    path : str or Path
    feature_names : list of str or None
        The features a model was trained on. With a header, the columns are
        matched by name (in any order; other columns, such as the target, are
        ignored); without a header, the file must have exactly these many columns.

    Returns
    -------
    X : ndarray of shape (n, d), float32
    lines : list of int
        The file line of each row.
    """
    records = _records(path)
    header, body = _header(path, records)
    headerless = header == [f"column{i}" for i in range(len(header))]
    if feature_names is None:
        idx = list(range(len(header)))
    elif headerless:
        if len(header) != len(feature_names):
            raise ValueError(f"{path} has {len(header)} columns and no header, but the model expects "
                             f"{len(feature_names)} features {list(feature_names)}")
        idx = list(range(len(header)))
    else:
        missing = [f for f in feature_names if f not in header]
        if missing:
            shown = f"{missing[:5]}{' ...' if len(missing) > 5 else ''}"
            raise ValueError(f"{path} lacks the feature column{'s' if len(missing) > 1 else ''} {shown} "
                             "that the model was trained on")
        idx = [header.index(f) for f in feature_names]
    X, _, lines = _columns(path, header, body, idx)
    return X, lines
