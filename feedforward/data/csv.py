"""Load a user's CSV file: one target column, numeric features (the command line's ``--data file.csv``).

Only the standard library's ``csv`` module and NumPy are used. Problems are
reported as ``ValueError`` naming the file, the column and the line, so the
command line can print them as one clear sentence.

* The first row is a header, unless every field in it is a number (then the
  columns are named ``column0``, ``column1``, ...).
* The target is the column named by ``target`` (a name, or an integer index
  such as ``-1``); by default a column called ``target``, ``label``, ``class``
  or ``y`` if there is one, else the last column.
* Features must be numbers. A target may be text (class names) or numbers.
* The task is inferred when ``task="auto"``: a text target, or a target of
  whole numbers with at most ``max_classes`` distinct values, is
  classification; anything else is regression.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .datasets import Dataset

__all__ = ["load_csv", "load_features_csv", "read_table", "MISSING"]

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
_DEFAULT_TARGETS = ("target", "label", "class", "y")


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def read_table(path):
    """Read a CSV file into ``(header, rows, first_data_line)`` of strings.

    Raises ``FileNotFoundError`` / ``ValueError`` with the file's name for a
    missing file, an empty file, or rows of the wrong length.
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, expected a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a UTF-8 text file (byte {exc.start}); expected a CSV file") from None
    lines = text.splitlines()
    sample = "\n".join(lines[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
    except csv.Error:
        dialect = csv.excel
    records = [(i + 1, [f.strip() for f in row]) for i, row in enumerate(csv.reader(lines, dialect))]
    records = [(n, row) for n, row in records if any(row)]  # blank lines carry no data
    if not records:
        raise ValueError(f"{path} is empty; expected a header row and data rows")
    first_line, first = records[0]
    if all(_number(f) is not None for f in first):
        header, body = [f"column{i}" for i in range(len(first))], records
    else:
        header, body = first, records[1:]
        empty = [i for i, h in enumerate(header) if not h]
        if empty:
            raise ValueError(f"{path}: column {empty[0] + 1} of the header (line {first_line}) has no name")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise ValueError(f"{path}: the header repeats the column name {dupes[0]!r}; names must be unique")
    if not body:
        raise ValueError(f"{path} has a header but no data rows")
    for line, row in body:
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line} has {len(row)} fields, expected {len(header)} "
                             f"(one per column of {header})")
    return header, body


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


def _numeric_column(path, name, cells) -> np.ndarray:
    out = np.empty(len(cells), dtype=np.float64)
    for k, (line, text) in enumerate(cells):
        if text.lower() in MISSING:
            raise ValueError(f"{path}: missing value in column {name!r} at line {line}; "
                             "fill it in or remove the row (features must all be present)")
        value = _number(text)
        if value is None:
            raise ValueError(f"{path}: column {name!r} is not numeric (value {text!r} at line {line}); "
                             "features must be numbers: encode it as numbers or remove the column")
        if not np.isfinite(value):
            raise ValueError(f"{path}: column {name!r} has the non-finite value {text!r} at line {line}")
        out[k] = value
    return out


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
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    header, body = read_table(path)
    if len(header) < 2:
        raise ValueError(f"{path} has only one column ({header[0]!r}); expected features and a target column")
    t = _resolve_column(path, header, target)
    target_name = header[t]
    features = [h for i, h in enumerate(header) if i != t]
    X = np.column_stack([
        _numeric_column(path, header[i], [(line, row[i]) for line, row in body])
        for i in range(len(header)) if i != t
    ]).astype(np.float32)

    raw = [(line, row[t]) for line, row in body]
    for line, text in raw:
        if text.lower() in MISSING:
            raise ValueError(f"{path}: missing target value in column {target_name!r} at line {line}; "
                             "fill it in or remove the row")
    numbers_ = [_number(text) for _, text in raw]
    numeric = all(v is not None and np.isfinite(v) for v in numbers_)
    if task == "auto":
        if not numeric:
            task = "classification"
        else:
            values = np.array(numbers_)
            whole = np.all(values == np.round(values))
            task = "classification" if whole and len(np.unique(values)) <= max_classes else "regression"
    if task == "regression":
        if not numeric:
            line, text = next((line, text) for (line, text), v in zip(raw, numbers_)
                              if v is None or not np.isfinite(v))
            raise ValueError(f"{path}: target column {target_name!r} is not numeric (value {text!r} at line "
                             f"{line}); regression needs numbers (or use classification)")
        y = np.array(numbers_, dtype=np.float32)
        names = [target_name]
    else:
        if numeric:
            values = np.array(numbers_)
            labels = [str(int(v)) if v == round(v) else repr(float(v)) for v in values]
            order = sorted(set(labels), key=lambda s: float(s))
        else:
            labels = [text for _, text in raw]
            order = sorted(set(labels))
        if len(order) < 2:
            raise ValueError(f"{path}: target column {target_name!r} has a single class {order[0]!r}; "
                             "classification needs at least two")
        code = {label: c for c, label in enumerate(order)}
        y = np.array([code[s] for s in labels], dtype=np.int64)
        names = order
    return Dataset(X, y, task, name=Path(path).stem, feature_names=features, target_names=names,
                   target=target_name, description=f"CSV file {path}")


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
    header, body = read_table(path)
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
    X = np.column_stack([_numeric_column(path, header[i], [(line, row[i]) for line, row in body])
                         for i in idx]).astype(np.float32)
    return X, [line for line, _ in body]
