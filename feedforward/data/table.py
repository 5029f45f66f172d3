"""CSV files with text categories and empty cells, read for a model file's pipeline (issue 14).

The command line trains on such files: :func:`load_csv_table` finds each
feature column's kind (a column with any text that is not a number is
categorical, its categories sorted) and returns codes
(:meth:`feedforward.io.Pipeline.codes`: numbers, a category's index, NaN for an
empty cell); :func:`fit_fill_values` then records, from the training rows only,
the value an empty cell takes: the mean of a numeric column, the most frequent
category. :func:`read_features_table` and :func:`load_csv_with` read new files
for a trained model's pipeline. The file is streamed twice (kinds, then codes),
never held as text; the parsing rules are :mod:`.csv`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validation import Choice
from ..io.pipeline import MAX_CATEGORIES, Pipeline
from .csv import _CHUNK_ROWS, _FLOAT32_MAX, MISSING, _check_length, _feature, _header, _number, _records, \
    _resolve_column, _target
from .datasets import Dataset

__all__ = ["load_csv_table", "fit_fill_values", "read_features_table", "load_csv_with", "MAX_CATEGORIES"]


def _column_kinds(path, header, body, features):
    """Pass 1: for each feature column, None (numeric) or the sorted set of its texts (categorical)."""
    texts = [set() for _ in features]
    numeric = [True] * len(features)
    n = 0
    for line, row in body:
        _check_length(path, header, line, row)
        n += 1
        for k, i in enumerate(features):
            cell = row[i]
            if cell.lower() in MISSING:
                continue
            v = _number(cell) if numeric[k] else None
            if v is not None and np.isfinite(v) and abs(v) <= _FLOAT32_MAX:
                if len(texts[k]) <= MAX_CATEGORIES:  # its texts are categories if a later cell is text
                    texts[k].add(cell)
                continue
            if numeric[k] and v is not None:  # a number, but inf or beyond float32: an error, not a category
                _feature(path, header[i], cell, line)
            numeric[k] = False
            texts[k].add(cell)
            if len(texts[k]) > MAX_CATEGORIES:
                raise ValueError(f"{path}: column {header[i]!r} has more than {MAX_CATEGORIES} distinct text "
                                 "values: not a category column (an identifier?); remove it")
    if n == 0:
        raise ValueError(f"{path} has a header but no data rows")
    kinds = []
    for k, i in enumerate(features):
        if numeric[k]:
            kinds.append({"name": header[i], "kind": "numeric", "fill": None})
        else:
            kinds.append({"name": header[i], "kind": "categorical", "categories": sorted(texts[k]), "fill": None})
    return kinds


def _codes(path, header, body, idx, pipeline, target=None):
    """Pass 2: the float32 codes of the columns ``idx`` (:meth:`Pipeline.codes`), target texts, lines."""
    chunks, block, targets, lines = [], [], [], []
    for line, row in body:
        _check_length(path, header, line, row)
        block.append([row[i] for i in idx])
        if target is not None:
            targets.append(row[target])
        lines.append(line)
        if len(block) == _CHUNK_ROWS:
            chunks.append(_encode_block(path, pipeline, block, lines[-len(block):]))
            block = []
    if not lines:
        raise ValueError(f"{path} has a header but no data rows")
    if block:
        chunks.append(_encode_block(path, pipeline, block, lines[-len(block):]))
    return np.concatenate(chunks), targets, lines


def _encode_block(path, pipeline, block, lines):
    # float32 as load_csv's features (values are checked to fit): half the memory of float64 codes.
    try:
        return pipeline.codes(np.array(block, dtype=object)).astype(np.float32)
    except ValueError as exc:
        for row, line in zip(block, lines):  # only on an error: find its line
            try:
                pipeline.codes(np.array([row], dtype=object))
            except ValueError as exc_row:
                raise ValueError(f"{path}: line {line}: {exc_row}") from None
        raise ValueError(f"{path}: {exc}") from None


def load_csv_table(path, target=None, *, task: str = "auto", max_classes: int = 20):
    """Load a CSV file whose features may be text categories and have empty cells.

    Returns
    -------
    dataset : Dataset
        ``X`` float32 codes of shape (n, d): numbers, a category's index, NaN
        for an empty cell (see :meth:`feedforward.io.Pipeline.codes`).
    columns : list of dict
        The pipeline's column specs (``fill`` None: the caller fits it on the
        training rows); a column with any non-numeric text is categorical,
        its categories sorted.
    """
    task = Choice("auto", "classification", "regression")(task, "task")
    header, body = _header(path, _records(path))
    if len(header) < 2:
        raise ValueError(f"{path} has only one column ({header[0]!r}); expected features and a target column")
    t = _resolve_column(path, header, target)
    features = [i for i in range(len(header)) if i != t]
    columns = _column_kinds(path, header, body, features)
    header, body = _header(path, _records(path))
    pipe = Pipeline("regression", columns)
    X, raw, lines = _codes(path, header, body, features, pipe, target=t)
    task, y, names = _target(path, header[t], raw, lines, task, max_classes)
    ds = Dataset(X, y, task, name=Path(path).stem, feature_names=[header[i] for i in features],
                 target_names=names, target=header[t], description=f"CSV file {path}")
    return ds, columns


def _feature_index(path, header, pipeline) -> list:
    """The file's column of each of the pipeline's columns: by name, or in order without names."""
    names = pipeline.column_names
    headerless = header == [f"column{i}" for i in range(len(header))]
    if not headerless and all(n in header for n in names):
        return [header.index(n) for n in names]
    if pipeline.named and not headerless:
        missing = [f for f in names if f not in header]
        raise ValueError(f"{path} lacks the feature column{'s' if len(missing) > 1 else ''} {missing[:5]} "
                         "that the model was trained on")
    if len(header) != len(names):
        raise ValueError(f"{path} has {len(header)} columns, but the model expects the {len(names)} "
                         f"features {names[:6]}")
    return list(range(len(header)))


def fit_fill_values(columns, X_tr) -> Pipeline:
    """The columns with their fill values from the training codes: the mean, the most frequent category."""
    fitted = []
    for j, col in enumerate(columns):
        v = X_tr[:, j][~np.isnan(X_tr[:, j])]
        if col["kind"] == "numeric":
            fill = float(np.mean(v, dtype=np.float64)) if len(v) else 0.0
        else:
            counts = np.bincount(v.astype(np.int64), minlength=len(col["categories"]))
            fill = col["categories"][int(np.argmax(counts))]  # a tie goes to the first in sorted order
        fitted.append({**col, "fill": fill})
    return Pipeline("regression", fitted)


def read_features_table(path, pipeline) -> tuple:
    """The codes of a CSV file's feature columns for ``pipeline``: ``(codes, lines)``.

    With a header the columns are matched by name (other columns are ignored);
    without one (or for a model that never knew names) the file has exactly its columns.
    """
    header, body = _header(path, _records(path))
    X, _, lines = _codes(path, header, body, _feature_index(path, header, pipeline), pipeline)
    return X, lines


def load_csv_with(path, pipeline, target=None, *, task: str = "auto", max_classes: int = 20) -> Dataset:
    """A labelled CSV file read for a model: ``X`` the codes of ``pipeline``'s columns, ``y`` as :func:`load_csv`."""
    header, body = _header(path, _records(path))
    t = _resolve_column(path, header, target)
    idx = _feature_index(path, [h for i, h in enumerate(header) if i != t], pipeline)
    idx = [i + (i >= t) for i in idx]  # back to the file's columns, around the target
    X, raw, lines = _codes(path, header, body, idx, pipeline, target=t)
    task, y, names = _target(path, header[t], raw, lines, task, max_classes)
    return Dataset(X, y, task, name=Path(path).stem, feature_names=[header[i] for i in idx],
                   target_names=names, target=header[t], description=f"CSV file {path}")
