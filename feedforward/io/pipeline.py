"""The "pipeline" section of a model file: what turns raw inputs into the network's inputs, and back.

One model file serves ``ff.load``, the estimators and the command line, so it
carries, next to the network, what each of them needs to predict from raw
data (issue 14):

- ``columns``: the raw input columns in order, each ``{"name", "kind", "fill"}``
  with ``kind`` ``"numeric"`` or ``"categorical"`` (then ``"categories"``, the
  one-hot layout: category ``k`` is input ``k`` of the column's block);
  ``fill`` the value a missing cell takes (the training mean, the most
  frequent category), or None: a missing cell is an error;
- ``named``: whether the column names came from the user (a header, a DataFrame);
- ``x_mean`` / ``x_scale``: the standardisation of the encoded inputs, or None;
- ``task``, ``classes`` (JSON labels: text or whole numbers), ``multilabel``,
  ``target``, and ``y_mean`` / ``y_scale`` for a regression target;
- ``record``: the training record (a JSON object, shown by ``feedforward summary``).

A file is untrusted: :meth:`Pipeline.from_json` checks every field through
:mod:`feedforward._validation` and against the network, and a bad one is a
``ValueError`` naming the field, never NaN predictions. A category seen at
prediction time that training never saw becomes an all-zero block of its
one-hot inputs, with a ``UserWarning`` naming the column and the value.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._validation import Bool, Choice, List, Real, Text
from .schema import check_field, check_keys

__all__ = ["Pipeline", "MAX_CATEGORIES", "MISSING_TEXTS"]

MAX_CATEGORIES = 1000
#: Texts read as a missing cell (as in :mod:`feedforward.data.csv`).
MISSING_TEXTS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_KEYS = {"columns", "named", "x_mean", "x_scale", "task", "classes", "multilabel", "target", "y_mean",
         "y_scale", "record"}


def _text(value, where: str) -> str:
    return check_field(Text(1000), value, where)


def _label(value, where: str):
    # JSON labels: text or whole numbers (bool is not a label, a float not an exact one).
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise ValueError(f"{where} must be a text or whole-number label, got {value!r}")


def _reals(value, where: str, n: int, positive: bool = False) -> list:
    c = Real(0, low_open=True) if positive else Real(-_FLOAT32_MAX, _FLOAT32_MAX)
    return check_field(List(c, length=n, items="numbers"), value, where)


def _column(spec, where: str) -> dict:
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(spec).__name__}")
    kind = check_field(Choice("numeric", "categorical"), spec.get("kind"), f"{where}.kind")
    keys = {"name", "kind", "fill"} | ({"categories"} if kind == "categorical" else set())
    check_keys(spec, keys, keys, where)
    col = {"name": _text(spec["name"], f"{where}.name"), "kind": kind}
    if kind == "numeric":
        col["fill"] = check_field(Real(-_FLOAT32_MAX, _FLOAT32_MAX, none=True), spec["fill"], f"{where}.fill")
        return col
    cats = spec["categories"]
    if not isinstance(cats, list) or not 1 <= len(cats) <= MAX_CATEGORIES:
        raise ValueError(f"{where}.categories must be a list of 1 to {MAX_CATEGORIES} texts")
    col["categories"] = [_text(c, f"{where}.categories[{i}]") for i, c in enumerate(cats)]
    if len(set(col["categories"])) != len(cats):
        raise ValueError(f"{where}.categories repeats a category")
    fill = spec["fill"]
    if fill is not None and fill not in col["categories"]:
        raise ValueError(f"{where}.fill must be one of its categories or null, got {fill!r}")
    col["fill"] = fill
    return col


class Pipeline:
    """Raw inputs to network inputs (impute, one-hot, standardise) and network outputs to labels or values.

    Parameters
    ----------
    task : {"classification", "regression"}
    columns : list of dict
        The raw columns (see the module docstring); ``Pipeline.numeric(d)`` makes plain ones.
    named : bool
    x_mean, x_scale : list of float or None
        Standardisation of the encoded inputs, length :attr:`n_inputs`.
    classes : list of str or int, or None
    multilabel : bool
    target : str
    y_mean, y_scale : float
    record : dict or None

    Examples
    --------
    >>> import numpy as np, feedforward as ff
    >>> from feedforward.io import Pipeline
    >>> cols = Pipeline.numeric(["age"], fill=40.0) + [
    ...     {"name": "colour", "kind": "categorical", "categories": ["blue", "red"], "fill": "red"}]
    >>> pipe = Pipeline("classification", cols, named=True, classes=["no", "yes"])
    >>> pipe.input_names()
    ['age', 'colour=blue', 'colour=red']
    >>> pipe.transform([["", "blue"], [30, None]])  # (n, 2) raw rows -> (n, 3) inputs
    array([[40.,  1.,  0.],
           [30.,  0.,  1.]], dtype=float32)
    >>> net = ff.nn.MLP([3, 4, 1], output="bernoulli", rng=0)
    >>> pipe.predict(net, [[30, "red"]]).shape
    (1,)
    """

    def __init__(self, task, columns, *, named=False, x_mean=None, x_scale=None, classes=None,
                 multilabel=False, target="target", y_mean=0.0, y_scale=1.0, record=None):
        doc = {"task": task, "columns": columns, "named": named, "x_mean": x_mean, "x_scale": x_scale,
               "classes": classes, "multilabel": multilabel, "target": target, "y_mean": y_mean,
               "y_scale": y_scale, "record": record}
        self.__dict__.update(self._checked(doc, "pipeline"))

    @staticmethod
    def numeric(names, fill=None) -> list:
        """Numeric column specs for ``names`` (all with the same ``fill``)."""
        return [{"name": str(n), "kind": "numeric", "fill": fill} for n in names]

    # ------------------------------------------------------------- checks
    @staticmethod
    def _checked(doc, where) -> dict:
        if not isinstance(doc, dict):
            raise ValueError(f"{where} must be a JSON object, got {type(doc).__name__}")
        check_keys(doc, _KEYS, _KEYS, where)
        out = {"task": check_field(Choice("classification", "regression"), doc["task"], f"{where}.task")}
        cols = doc["columns"]
        if not isinstance(cols, list) or not cols:
            raise ValueError(f"{where}.columns must be a non-empty list")
        out["columns"] = [_column(c, f"{where}.columns[{i}]") for i, c in enumerate(cols)]
        out["named"] = check_field(Bool(), doc["named"], f"{where}.named")
        n = sum(1 if c["kind"] == "numeric" else len(c["categories"]) for c in out["columns"])
        if (doc["x_mean"] is None) != (doc["x_scale"] is None):
            raise ValueError(f"{where}: x_mean and x_scale must both be given or both be null")
        out["x_mean"] = None if doc["x_mean"] is None else _reals(doc["x_mean"], f"{where}.x_mean", n)
        out["x_scale"] = None if doc["x_scale"] is None else _reals(doc["x_scale"], f"{where}.x_scale", n, True)
        classes = doc["classes"]
        if out["task"] == "classification":
            if not isinstance(classes, list) or len(classes) < 2:
                raise ValueError(f"{where}.classes must list at least two labels for classification")
            out["classes"] = [_label(c, f"{where}.classes[{i}]") for i, c in enumerate(classes)]
            if len(set(out["classes"])) != len(classes):
                raise ValueError(f"{where}.classes repeats a label")
        elif classes is not None:
            raise ValueError(f"{where}.classes must be null for regression")
        else:
            out["classes"] = None
        out["multilabel"] = check_field(Bool(), doc["multilabel"], f"{where}.multilabel")
        out["target"] = _text(doc["target"], f"{where}.target")
        out["y_mean"] = float(check_field(Real(-_FLOAT32_MAX, _FLOAT32_MAX), doc["y_mean"], f"{where}.y_mean"))
        out["y_scale"] = float(check_field(Real(0, _FLOAT32_MAX, low_open=True), doc["y_scale"],
                                           f"{where}.y_scale"))
        if doc["record"] is not None and not isinstance(doc["record"], dict):
            raise ValueError(f"{where}.record must be a JSON object or null")
        out["record"] = doc["record"]
        return out

    def check_network(self, model, where: str = "pipeline") -> None:
        """The network takes :attr:`n_inputs` inputs and has the outputs the task and classes need."""
        lin = [m for m in model.modules() if type(m).__name__ == "Linear"]
        n_in, n_out = (lin[0].in_features, lin[-1].out_features) if lin else (None, None)
        if n_in != self.n_inputs:
            raise ValueError(f"{where}: the columns encode {self.n_inputs} inputs, the network takes {n_in}")
        unit = getattr(model, "output", None)
        name = None if unit is None else unit.name
        if self.task == "regression":
            if name not in (None, "gaussian"):
                raise ValueError(f"{where}: task regression but the output unit is {name!r}")
            return
        if name == "categorical":
            need = len(self.classes)
        elif name == "bernoulli":
            need = len(self.classes) if self.multilabel else 1
            if not self.multilabel and len(self.classes) != 2:
                raise ValueError(f"{where}.classes has {len(self.classes)} labels; a bernoulli output has two")
        else:
            raise ValueError(f"{where}: task classification needs a bernoulli or categorical output, got {name!r}")
        if n_out != need:
            raise ValueError(f"{where}.classes has {len(self.classes)} labels, the network has {n_out} outputs")

    @classmethod
    def from_json(cls, doc, model=None, where: str = "pipeline") -> "Pipeline":
        """A pipeline from a file's JSON, every field checked (and against ``model``)."""
        self = cls.__new__(cls)
        self.__dict__.update(cls._checked(doc, where))
        if model is not None:
            self.check_network(model, where)
        return self

    def to_json(self) -> dict:
        return {k: self.__dict__[k] for k in sorted(_KEYS)}

    # ----------------------------------------------------------- layout
    @property
    def n_inputs(self) -> int:
        """The network's input width: one per numeric column, one per category."""
        return sum(1 if c["kind"] == "numeric" else len(c["categories"]) for c in self.columns)

    @property
    def is_identity(self) -> bool:
        """True when raw inputs are the network's inputs and its outputs the targets' units."""
        return (self.x_mean is None and self.y_mean == 0.0 and self.y_scale == 1.0
                and all(c["kind"] == "numeric" and c["fill"] is None for c in self.columns))

    @property
    def column_names(self) -> list:
        return [c["name"] for c in self.columns]

    def input_names(self) -> list:
        """One name per network input: ``color=red`` for a category's one-hot input."""
        return [c["name"] if c["kind"] == "numeric" else f"{c['name']}={k}" for c in self.columns
                for k in (c.get("categories") or [None])]

    # ------------------------------------------------------- raw -> codes
    def codes(self, X) -> np.ndarray:
        """Raw rows (numbers, texts, a DataFrame) to float64 codes: NaN missing, a category's index, -1 unseen."""
        if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a DataFrame: columns by name
            missing = [n for n in self.column_names if n not in list(X.columns)]
            if self.named and missing:
                raise ValueError(f"the input lacks the columns {missing[:5]} that the model was trained on")
            X = X[self.column_names].to_numpy(dtype=object) if self.named else X.to_numpy(dtype=object)
        X = np.asarray(X, dtype=object if not isinstance(X, np.ndarray) or X.dtype.kind in "OUS" else None)
        if X.ndim != 2 or X.shape[1] != len(self.columns):
            raise ValueError(f"expected raw inputs of shape (n, {len(self.columns)}) (the columns "
                             f"{self.column_names[:6]}), got shape {X.shape}")
        if X.dtype.kind in "fiub":
            out = X.astype(np.float64)
            for j, c in enumerate(self.columns):
                if c["kind"] == "categorical":
                    out[:, j] = self._category_codes(c, [None if v != v else _plain(v) for v in X[:, j]])
            return out
        out = np.empty(X.shape, dtype=np.float64)
        for j, c in enumerate(self.columns):
            if c["kind"] == "numeric":
                out[:, j] = [_number(v, c["name"]) for v in X[:, j]]
            else:
                out[:, j] = self._category_codes(c, [_plain(v) for v in X[:, j]])
        return out

    @staticmethod
    def _category_codes(col, values) -> np.ndarray:
        index = {k: i for i, k in enumerate(col["categories"])}
        codes = np.array([np.nan if v is None else index.get(v, -1) for v in values], dtype=np.float64)
        if (codes == -1).any():
            unseen = next(v for v, c in zip(values, codes) if c == -1)
            warnings.warn(f"column {col['name']!r} has the category {unseen!r} that training never saw "
                          f"(known: {col['categories'][:10]}); its one-hot inputs are all zero",
                          UserWarning, stacklevel=4)
        return codes

    # ------------------------------------------------------ codes -> inputs
    def expand(self, codes) -> np.ndarray:
        """Codes to the encoded inputs (float64, not standardised): missing cells filled, categories one-hot."""
        codes = np.asarray(codes, dtype=np.float64)
        blocks = []
        for j, c in enumerate(self.columns):
            v = codes[:, j]
            gap = np.isnan(v)
            if gap.any():
                if c["fill"] is None:
                    raise ValueError(f"column {c['name']!r} has a missing value (row {int(np.argmax(gap)) + 1}) "
                                     "and the model records no fill value for it")
                fill = c["fill"] if c["kind"] == "numeric" else c["categories"].index(c["fill"])
                v = np.where(gap, fill, v)
            if c["kind"] == "numeric":
                blocks.append(v[:, None])
            else:
                blocks.append((v[:, None] == np.arange(len(c["categories"]))[None, :]).astype(np.float64))
        return np.concatenate(blocks, axis=1)

    def transform(self, X, dtype=np.float32) -> np.ndarray:
        """Raw rows to the network's inputs: :meth:`codes`, :meth:`expand`, standardised, in ``dtype``."""
        E = self.expand(self.codes(X))
        if self.x_mean is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                E = (E - np.asarray(self.x_mean)) / np.asarray(self.x_scale)
        bad = ~(np.abs(E) <= _FLOAT32_MAX)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"row {r + 1}, input {self.input_names()[c]!r}: the value leaves the float32 range")
        return E.astype(dtype)

    # ----------------------------------------------------- outputs -> labels
    def outputs(self, model, X):
        """``(labels or values in the original units, probabilities or None)`` for raw rows ``X``."""
        from ..autograd import no_grad
        from ..nn.module import eval_mode
        from .host import outputs_on_host

        dtype = next(iter(model.parameters())).dtype
        with no_grad(), eval_mode(model):
            z = outputs_on_host(model, self.transform(X, dtype))  # on the model's device, back as NumPy
        if not np.isfinite(z).all():
            raise ValueError(f"the network's output for row {int(np.argmax(~np.isfinite(z).all(1))) + 1} "
                             "is not finite")
        if self.task == "regression":
            values = z.astype(np.float64) * self.y_scale + self.y_mean
            return (values[:, 0] if values.shape[1] == 1 else values), None
        unit = model.output
        proba = np.asarray(unit.mean(z), dtype=np.float64)
        codes = np.asarray(unit.predict(z))
        if self.multilabel:
            return codes, proba
        if proba.shape[1] == 1:
            proba = np.column_stack([1 - proba[:, 0], proba[:, 0]])
        return np.asarray(self.classes, dtype=object)[codes.reshape(len(z))], proba

    def predict(self, model, X) -> np.ndarray:
        """Labels (classification) or values in the target's units, from raw rows."""
        return self.outputs(model, X)[0]

    def predict_proba(self, model, X) -> np.ndarray:
        """Class probabilities from raw rows (classification)."""
        if self.task != "classification":
            raise ValueError("predict_proba applies to classification models; this one does regression")
        return self.outputs(model, X)[1]


def _plain(v):
    """A raw cell as category text, or None when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    text = str(v).strip()
    return None if text.lower() in MISSING_TEXTS else text


def _number(v, name) -> float:
    shown = v
    if v is None:
        return math.nan
    if isinstance(v, str):
        if v.strip().lower() in MISSING_TEXTS:
            return math.nan
        try:
            v = float(v)
        except ValueError:
            raise ValueError(f"column {name!r} is numeric, got the value {v!r}") from None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"column {name!r} is numeric, got the value {v!r}") from None
    if math.isinf(x) or abs(x) > _FLOAT32_MAX:
        # It would become inf in float32, and every prediction from it NaN.
        raise ValueError(f"column {name!r} has the value {shown!r}, beyond the float32 range "
                         f"(|x| <= {_FLOAT32_MAX:.4g})")
    return x
