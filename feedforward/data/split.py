"""Splitting and standardising data without leaking the test set into training.

NumPy-only versions of what scikit-learn offers, so the command line and the
experiments need no extra to split a data set: :func:`train_test_split`
(optionally stratified by class) and :class:`Standardizer` (z-scores whose
mean and scale come from the training part only).
"""

from __future__ import annotations

import math

import numpy as np

from .._rng import as_rng
from .._validation import Int, Real

__all__ = ["split_indices", "train_test_split", "Standardizer"]


def _n_test(n: int, test_size, name: str) -> int:
    """How many of ``n`` rows go to the test part: a fraction rounded UP, or a count."""
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, (bool, np.bool_)):
        k = Int(1)(test_size, name)
    else:
        k = math.ceil(Real(0, 1, low_open=True, high_open=True)(test_size, name) * n)
    if not 1 <= k <= n - 1:
        raise ValueError(f"{name}={test_size!r} leaves {n - k} training and {k} test examples out of {n}; "
                         "both parts need at least one")
    return k


def _per_class(counts: np.ndarray, k: int) -> np.ndarray:
    """Test rows per class: ``k`` shared in proportion to the class sizes (largest remainder),
    then every class with at least two rows keeps at least one in each part."""
    share = counts * (k / counts.sum())
    alloc = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - alloc), kind="stable")
    alloc[order[: k - alloc.sum()]] += 1
    return np.clip(alloc, (counts >= 2).astype(np.int64), np.maximum(counts - 1, 0))


def split_indices(n: int, test_size, *, stratify=None, rng=None, name: str = "test_size"):
    """The rows of a random train/test split: ``(train_rows, test_rows)``, each in random order.

    The one splitter of the package: :func:`train_test_split`, the training loop's
    ``validation_fraction`` and the scikit-learn estimators' ``early_stopping`` all use it.

    Rounding: a fraction ``f`` puts ``ceil(f * n)`` rows in the test part (scikit-learn's
    rule); an integer is the count itself. Stratified, that count is shared between the
    classes in proportion to their sizes by largest remainders, and then every class with at
    least two rows keeps at least one in each part (which can move the total by a row or two).

    Parameters
    ----------
    n : int
        Number of rows.
    test_size : float in (0, 1) or int
        Fraction (rounded up) or number of test rows.
    stratify : array of shape (n,), optional
        Class labels: keep each class's share the same in both parts.
    rng : int, Generator or None
    name : str
        The argument's name in error messages (``"validation_fraction"`` for the training loop).

    Returns
    -------
    train_rows, test_rows : int arrays

    Examples
    --------
    >>> train, test = split_indices(10, 0.25, rng=0)
    >>> len(train), len(test), sorted([*train, *test]) == list(range(10))
    (7, 3, True)
    """
    n = Int(1)(n, "n")
    k = _n_test(n, test_size, name)
    rng = as_rng(rng)
    if stratify is None:
        perm = rng.permutation(n)
        return perm[k:], perm[:k]
    labels = np.asarray(stratify)
    if labels.shape != (n,):
        raise ValueError(f"stratify needs one label per row, shape ({n},), got shape {labels.shape}")
    classes, codes = np.unique(labels, return_inverse=True)
    alloc = _per_class(np.bincount(codes, minlength=len(classes)), k)
    test_parts, train_parts = [], []
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(codes == c))
        test_parts.append(rows[: alloc[c]])
        train_parts.append(rows[alloc[c]:])
    test = rng.permutation(np.concatenate(test_parts))
    train = rng.permutation(np.concatenate(train_parts))
    if len(test) == 0 or len(train) == 0:
        raise ValueError(
            f"{name}={test_size!r} of {n} examples leaves an empty "
            f"{'test' if len(test) == 0 else 'training'} part once every class is kept in both parts; "
            "give more examples or another split"
        )
    return train, test


def train_test_split(X, y, test_size=0.2, *, stratify: bool = False, rng=None):
    """Shuffle and split ``(X, y)`` into training and test parts (rows chosen by :func:`split_indices`).

    Parameters
    ----------
    X : array of shape (n, ...)
    y : array of shape (n, ...)
    test_size : float in (0, 1) or int
        Fraction (rounded up) or number of test examples.
    stratify : bool
        Keep each class's share the same in both parts (``y`` must be labels of shape (n,)).
        Each class with at least two examples gets at least one in each part.
    rng : int, Generator or None

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}; they must match")
    if stratify and y.ndim != 1:
        raise ValueError(f"stratify=True needs labels of shape (n,), got y of shape {y.shape}")
    train, test = split_indices(n, test_size, stratify=y if stratify else None, rng=rng)
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """Z-scores ``(x - mean) / scale`` per feature, fitted on the training data only.

    Constant features get scale 1 (they become 0) instead of a division by zero.

    Attributes
    ----------
    mean_ : ndarray of shape (d,)
    scale_ : ndarray of shape (d,)
    """

    def __init__(self, mean=None, scale=None):
        self.mean_ = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale_ = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fit(self, X) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"Standardizer.fit needs a non-empty 2-D array (n, d), got shape {X.shape}")
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(self.mean_)), scale, 1.0)
        return self

    def transform(self, X, dtype=np.float32) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("Standardizer is not fitted: call fit(X_train) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.mean_):
            raise ValueError(f"Standardizer was fitted on {len(self.mean_)} features, got an array of shape "
                             f"{X.shape}")
        return ((X - self.mean_) / self.scale_).astype(dtype)

    def fit_transform(self, X, dtype=np.float32) -> np.ndarray:
        return self.fit(X).transform(X, dtype=dtype)

    def inverse_transform(self, Z, dtype=np.float32) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("Standardizer is not fitted: call fit(X_train) first")
        return (np.asarray(Z, dtype=np.float64) * self.scale_ + self.mean_).astype(dtype)
