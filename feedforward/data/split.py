"""Splitting and standardising data without leaking the test set into training.

NumPy-only versions of what scikit-learn offers, so the command line and the
experiments need no extra to split a data set: :func:`train_test_split`
(optionally stratified by class) and :class:`Standardizer` (z-scores whose
mean and scale come from the training part only).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._rng import as_rng

__all__ = ["train_test_split", "Standardizer"]


def _n_test(n: int, test_size) -> int:
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction in (0, 1) or a count, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        k = int(test_size)
    elif 0 < test_size < 1:
        k = int(np.ceil(test_size * n))
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a positive count, got {test_size!r}")
    if not 1 <= k <= n - 1:
        raise ValueError(f"test_size={test_size!r} leaves {n - k} training and {k} test examples out of {n}; "
                         "both parts need at least one")
    return k


def train_test_split(X, y, test_size=0.2, *, stratify: bool = False, rng=None):
    """Shuffle and split ``(X, y)`` into training and test parts.

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
    k = _n_test(n, test_size)
    rng = as_rng(rng)
    if not stratify:
        perm = rng.permutation(n)
        test, train = perm[:k], perm[k:]
    else:
        if y.ndim != 1:
            raise ValueError(f"stratify=True needs labels of shape (n,), got y of shape {y.shape}")
        classes, codes = np.unique(y, return_inverse=True)
        counts = np.bincount(codes, minlength=len(classes))
        # Largest-remainder allocation of the k test slots, proportional to class sizes.
        share = counts * (k / n)
        alloc = np.floor(share).astype(int)
        order = np.argsort(-(share - alloc), kind="stable")
        alloc[order[: k - alloc.sum()]] += 1
        alloc = np.clip(alloc, (counts >= 2).astype(int), np.maximum(counts - 1, 0))
        test_parts, train_parts = [], []
        for c in range(len(classes)):
            idx = rng.permutation(np.flatnonzero(codes == c))
            test_parts.append(idx[: alloc[c]])
            train_parts.append(idx[alloc[c]:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
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
