"""Per-epoch metrics: accuracy, MSE, MAE, R^2 (computed from predictions, weighted like scikit-learn).

Each metric takes the output unit's predictions ``pred`` and the targets
``y`` (same number of rows) and optional ``sample_weight``. Multi-label
accuracy is subset accuracy (every label of a row right), as
``sklearn.metrics.accuracy_score``; MSE and MAE average over outputs equally.
"""

from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "GREATER_IS_BETTER", "accuracy", "mse", "mae", "r2", "resolve_metrics", "confusion_matrix"]


def _rows(pred, y):
    pred = np.asarray(pred)
    y = np.asarray(y)
    if pred.shape != y.shape:
        if pred.size == y.size:
            pred = pred.reshape(y.shape)
        else:
            raise ValueError(f"metric: predictions have shape {pred.shape}, targets {y.shape}")
    return pred, y


def _average(values, sample_weight):
    if sample_weight is None:
        # What np.average does without weights, minus its Python-level checks (every epoch).
        values = np.asarray(values)
        if values.dtype == bool and values.size:
            # A fraction of True: one counting pass, no float conversion (the accuracy).
            return np.count_nonzero(values) / values.size
        return float(values.mean())
    return float(np.average(values, weights=sample_weight))


def accuracy(pred, y, sample_weight=None) -> float:
    """Fraction of rows predicted exactly right."""
    pred, y = _rows(pred, y)
    right = pred == y
    if right.ndim > 1 and right.size != len(right):  # several labels per row: all must be right
        right = right.reshape(len(right), -1).all(axis=1)
    return _average(right, sample_weight)


def mse(pred, y, sample_weight=None) -> float:
    """Mean squared error, averaged over rows and outputs."""
    pred, y = _rows(pred, y)
    d = (pred.astype(np.float64) - y).reshape(len(y), -1)
    return _average((d * d).mean(axis=1), sample_weight)


def mae(pred, y, sample_weight=None) -> float:
    """Mean absolute error, averaged over rows and outputs."""
    pred, y = _rows(pred, y)
    d = np.abs(pred.astype(np.float64) - y).reshape(len(y), -1)
    return _average(d.mean(axis=1), sample_weight)


def r2(pred, y, sample_weight=None) -> float:
    """Coefficient of determination, averaged over outputs (``sklearn.metrics.r2_score``)."""
    pred, y = _rows(pred, y)
    p = pred.astype(np.float64).reshape(len(y), -1)
    t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    mean = np.average(t, axis=0, weights=w)
    ss_res = (w[:, None] * (t - p) ** 2).sum(axis=0)
    ss_tot = (w[:, None] * (t - mean) ** 2).sum(axis=0)
    # scikit-learn's conventions for a constant target: 1 if predicted exactly, else 0.
    score = np.where(
        ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0)
    )
    return float(score.mean())


METRICS = {"accuracy": accuracy, "mse": mse, "mae": mae, "r2": r2}
GREATER_IS_BETTER = {"accuracy": True, "mse": False, "mae": False, "r2": True}


def resolve_metrics(metrics, task: str) -> list:
    """Metric names from ``None`` (accuracy for classification, mse for regression), a name or a list."""
    if metrics is None:
        return ["accuracy" if task == "classification" else "mse"]
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError("metrics is empty; give None (the default metric), a name or a list of names")
    for m in names:
        if not isinstance(m, str) or m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; expected one of {sorted(METRICS)}")
        if m == "accuracy" and task != "classification":
            raise ValueError(
                "metric 'accuracy' needs a classification output unit (bernoulli or categorical)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"metrics has duplicates: {names}")
    return names


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples of true class ``i`` predicted as ``j``."""
    idx = n_classes * np.asarray(y_true, dtype=np.int64) + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
