"""Input checks shared across the package: specific errors, nothing coerced quietly."""

from __future__ import annotations

import numbers

import numpy as np


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN or inf in ``a``."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains {a[where]!r} at index {where if len(where) > 1 else where[0]}; "
            "expected finite numbers (remove or impute NaN/inf first)"
        )


def check_labels(y: np.ndarray, n_classes: int, name: str = "labels") -> np.ndarray:
    """Integer class labels in ``[0, n_classes)``, returned as an int64 array."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        check_finite(y, name)
        if not np.all(y == np.round(y)):
            row = int(np.argmax(y != np.round(y)))
            raise ValueError(f"{name} must be integers in [0, {n_classes}), got {y[row]!r} at row {row}")
        y = y.astype(np.int64)
    elif y.dtype.kind == "b" or y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers in [0, {n_classes}), got an array of dtype {y.dtype}")
    if y.size:
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= n_classes:
            row = int(np.argmax((y < 0) | (y >= n_classes)))
            raise ValueError(f"{name} must be integers in [0, {n_classes}), got {y.flat[row]} at row {row}")
    return y


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray | None:
    """Per-example weights of shape (n,), finite, non-negative, not all zero."""
    if sample_weight is None:
        return None
    w = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one weight per example), got {w.shape}")
    check_finite(w, "sample_weight")
    if (w < 0).any():
        row = int(np.argmax(w < 0))
        raise ValueError(f"sample_weight must be non-negative, got {w[row]} at row {row}")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to 0: at least one example needs a positive weight")
    return w


def check_positive(value, name: str, *, allow_zero: bool = False, integer: bool = False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value
