"""The playground's data sets and input features, drawn on the plane ``[-2, 2]^2``.

Each data set is one function ``(n, noise, rng) -> (X, y)`` registered in :data:`DATASETS`
with what the page needs to know about it: the task (classification or regression), the
number of classes and the input dimension (1 for the regression curves, 2 otherwise).
The lecture's regions (polygon, union of two pentagons, star) are labelled by the same
geometry that :mod:`feedforward.construct` builds its exact networks from.

Input features (TensorFlow Playground's ``x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2``) are
computed by :func:`featurize`; the model sees only the chosen columns, in :data:`FEATURES`
order, and a model file exported from the playground records them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..construct.geometry import points_in_polygon, regular_polygon, star_pieces, two_pentagons

__all__ = ["Dataset", "DATASETS", "FEATURES", "EXTENT", "featurize", "features_for", "make_dataset"]

EXTENT = 2.0
"""The plane shown on the page is ``[-EXTENT, EXTENT]^2`` (and the 1-D data live on ``[-EXTENT, EXTENT]``)."""

# Feature name -> function of (x1, x2); x2 is None for 1-D data sets.
FEATURES = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sin x1": lambda x1, x2: np.sin(x1),
    "sin x2": lambda x1, x2: np.sin(x2),
}
_ONE_D = ("x1", "x1^2", "sin x1")  # the features a 1-D data set has


@dataclass(frozen=True)
class Dataset:
    """A data set of the page: ``make(n, noise, rng) -> (X (n, dim), y (n,))``."""

    name: str
    label: str
    task: str  # "classification" or "regression"
    classes: int  # 0 for regression
    dim: int
    make: object


def featurize(X: np.ndarray, features) -> np.ndarray:
    """The columns ``features`` (names in :data:`FEATURES`) of the points ``X`` (n, 1 or 2), float32."""
    x1 = X[:, 0]
    x2 = X[:, 1] if X.shape[1] > 1 else None
    return np.column_stack([FEATURES[f](x1, x2) for f in features]).astype(np.float32)


def features_for(dataset: Dataset, features) -> list:
    """The chosen features a data set has (a 1-D data set has no ``x2`` columns)."""
    return [f for f in FEATURES if f in features and (dataset.dim == 2 or f in _ONE_D)]


# ----------------------------------------------------------------- the sets
def _uniform(n, rng):
    return rng.uniform(-EXTENT * 0.95, EXTENT * 0.95, size=(n, 2))


def _jitter(X, noise, rng):
    # Noise moves the points (as in TensorFlow Playground), so labels near a border get mixed.
    return X + rng.normal(0.0, noise * 0.5, size=X.shape) if noise > 0 else X


def _xor4(n, noise, rng):
    X = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def _xor(n, noise, rng):
    X = _uniform(n, rng)
    X += np.sign(X) * 0.15  # a gap along the axes, as TensorFlow Playground's XOR has
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    return _jitter(X, noise, rng), y


def _circles(n, noise, rng):
    y = np.arange(n) % 2
    r = np.where(y == 1, rng.uniform(0, 0.7, n), rng.uniform(1.1, 1.6, n))
    a = rng.uniform(0, 2 * np.pi, n)
    return _jitter(np.c_[r * np.cos(a), r * np.sin(a)], noise, rng), y


def _moons(n, noise, rng):
    y = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    X = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    X = (X - [0.5, 0.25]) * 1.4
    return _jitter(X, noise, rng), y


def _spirals(n, noise, rng):
    y = np.arange(n) % 2
    t = rng.uniform(0.25, 1.0, n) * 3 * np.pi
    r = t / (3 * np.pi) * 1.8
    a = t + np.pi * y
    return _jitter(np.c_[r * np.cos(a), r * np.sin(a)], noise, rng), y


def _gaussians(k):
    def make(n, noise, rng):
        y = np.arange(n) % k
        angles = np.pi / 4 + 2 * np.pi * np.arange(k) / k
        centres = 1.1 * np.c_[np.cos(angles), np.sin(angles)]
        X = centres[y] + rng.normal(0, 0.3 + noise * 0.5, size=(n, 2))
        return X, y
    return make


def _region(pieces):
    def make(n, noise, rng):
        X = _uniform(n, rng)
        y = np.zeros(n, dtype=np.int64)
        for p in pieces():
            y |= points_in_polygon(X, p).astype(np.int64)
        return _jitter(X, noise, rng), y
    return make


def _curve(f):
    def make(n, noise, rng):
        x = np.sort(rng.uniform(-EXTENT, EXTENT, n))
        return x[:, None], f(x) + rng.normal(0, noise, n)
    return make


def _plane(n, noise, rng):
    X = _uniform(n, rng)
    return X, X[:, 0] / 2 + X[:, 1] / 4 + rng.normal(0, noise, n)


def _bumps(n, noise, rng):
    X = _uniform(n, rng)
    y = np.exp(-np.sum((X - [0.8, 0.8]) ** 2, 1) * 2) - np.exp(-np.sum((X + [0.8, 0.8]) ** 2, 1) * 2)
    return X, y + rng.normal(0, noise, n)


_SETS = [
    Dataset("circles", "circles", "classification", 2, 2, _circles),
    Dataset("xor", "XOR blobs", "classification", 2, 2, _xor),
    Dataset("xor4", "XOR (4 points)", "classification", 2, 2, _xor4),
    Dataset("moons", "two moons", "classification", 2, 2, _moons),
    Dataset("spirals", "spirals", "classification", 2, 2, _spirals),
    *(Dataset(f"gaussians{k}", f"{k} Gaussian clusters", "classification", k, 2, _gaussians(k)) for k in (2, 3, 4, 5)),
    Dataset("polygon", "polygon (lecture)", "classification", 2, 2, _region(lambda: [regular_polygon(6, 1.3)])),
    Dataset("union", "two pentagons (lecture)", "classification", 2, 2,
            _region(lambda: [2 * p for p in two_pentagons()])),
    Dataset("star", "star (lecture)", "classification", 2, 2,
            _region(lambda: star_pieces(5, outer=1.7, inner=0.75)[1])),
    Dataset("sine", "sine (1-D)", "regression", 0, 1, _curve(lambda x: np.sin(np.pi * x / 1.5))),
    Dataset("step", "step (1-D)", "regression", 0, 1, _curve(lambda x: np.where(x > 0, 1.0, -1.0))),
    Dataset("plane", "plane", "regression", 0, 2, _plane),
    Dataset("bumps", "two Gaussian bumps", "regression", 0, 2, _bumps),
]

DATASETS = {d.name: d for d in _SETS}
"""Name -> :class:`Dataset`, in the order the page lists them."""


def make_dataset(name: str, n: int, noise: float, seed: int):
    """``(X, y)`` of the data set ``name``: ``n`` points (``xor4`` always has its 4), float64 / int64."""
    d = DATASETS[name]
    X, y = d.make(n, noise, np.random.default_rng(seed))
    if d.task == "regression":
        return X.astype(np.float64), y.astype(np.float32)
    return X.astype(np.float64), y.astype(np.int64)
