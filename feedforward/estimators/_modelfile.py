"""The estimators' ``save`` / ``load``: one model file shared with ``ff.save`` and the command line (issue 14).

``save`` writes the network with a :class:`feedforward.io.Pipeline` (feature
names, classes, a record of the estimator and its run); ``load`` makes a fitted
estimator from any model file with a pipeline, ``feedforward train``'s included:
its ``predict`` then applies the file's preprocessing to raw rows
(``BaseMLP._predict_rows`` reads ``pipeline_``). Pickling and joblib are unchanged.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..nn.activation import ACTIVATIONS
from ..nn.mlp import MLP

__all__ = ["ModelFileMixin"]


def _json_label(label):
    """A class label as the model file stores it: text or a whole number."""
    if isinstance(label, (bool, np.bool_)):
        raise TypeError(f"cannot save the class label {label!r}: labels are saved as text or whole numbers")
    if isinstance(label, (Integral, np.integer)):
        return int(label)
    if isinstance(label, (Real, np.floating)) and float(label).is_integer():
        return int(label)  # 1.0 and 1 are the same label to NumPy's comparisons
    if isinstance(label, str):
        return str(label)
    raise TypeError(f"cannot save the class label {label!r} of type {type(label).__name__}: labels are saved "
                    "as text or whole numbers")


def _json_float(x):
    x = float(x)
    return x if math.isfinite(x) else None



class ModelFileMixin:
    """``save(path)`` and ``cls.load(path)`` for :class:`~feedforward.estimators._base.BaseMLP`."""

    def save(self, path) -> None:
        """Write the fitted estimator as one model file (safetensors + JSON), read by ``load``,
        ``ff.load`` and ``feedforward predict/evaluate/summary`` (issue 14).

        The file holds the network and a :class:`feedforward.io.Pipeline`: the feature names
        (``feature_names_in_``, else ``x0, x1, ...``), ``classes_``, and a record of the
        estimator and its run. Pickling and joblib keep working as well.
        """
        from ..io import save

        check_is_fitted(self, "model_")
        save(self.model_, path, pipeline=self._pipeline())

    def _pipeline(self):
        from ..io.pipeline import Pipeline

        pipe = getattr(self, "pipeline_", None)
        if pipe is not None:
            return pipe
        names = getattr(self, "feature_names_in_", None)
        columns = Pipeline.numeric(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)])
        classes = None
        if self._task == "classification":
            classes = [_json_label(c) for c in self.classes_]
        record = {"estimator": type(self).__name__, "n_iter": int(self.n_iter_),
                  "stop_reason": str(self.stop_reason_), "loss": _json_float(self.loss_),
                  "hidden_layer_sizes": [int(s) for s in self.model_.sizes[1:-1]],
                  "activation": str(self.activation)}
        return Pipeline(self._task, columns, named=names is not None, classes=classes,
                        multilabel=bool(getattr(self, "_multilabel", False)), record=record)

    @classmethod
    def load(cls, path, device=None):
        """An estimator from a model file: an estimator's ``save``, ``feedforward train``'s, or
        ``ff.save(..., pipeline=...)``'s. ``predict`` then takes raw rows: the file's
        preprocessing (scaling, one-hot categories, fill values) is applied, a regression
        target's scaling undone. Every field of the file is checked (``ValueError`` naming it).

        ``device`` (default: the CPU) is where the network is put and predicts, and the
        estimator's ``device`` parameter; the file itself holds host arrays, so one written
        from a GPU loads anywhere.
        """
        from ..io import load

        model = load(path, device=device)
        pipe = getattr(model, "pipeline", None)
        where = str(path)
        if pipe is None:
            raise ValueError(f"{where} has no pipeline section (classes, features): it is a bare network; "
                             "read it with ff.load")
        if pipe.task != cls._task:
            raise ValueError(f"{where} holds a {pipe.task} model; {cls.__name__} does {cls._task}")
        if type(model) is not MLP or model.output is None:
            raise ValueError(f"{where}: {cls.__name__} needs an MLP with an output unit, got "
                             f"{type(model).__name__} with output {getattr(model.output, 'name', None)!r}")
        self = cls(hidden_layer_sizes=tuple(model.sizes[1:-1]) or (1,), output=model.output.name,
                   device="cpu" if device is None else str(device))
        unit = model.layers[1] if len(model.layers) > 1 else None
        if unit is not None and type(unit).name in ACTIVATIONS:
            self.activation = type(unit).name
        self.model_ = model
        self.pipeline_ = pipe
        self.output_ = model.output.name
        self.n_features_in_ = len(pipe.columns)
        if pipe.named:
            self.feature_names_in_ = np.asarray(pipe.column_names, dtype=object)
        self.n_layers_ = len(model.sizes)
        self.n_outputs_ = model.sizes[-1]
        if cls._task == "classification":
            self._multilabel = pipe.multilabel
            self.classes_ = np.arange(len(pipe.classes)) if pipe.multilabel else np.asarray(pipe.classes)
        self.t_, self.n_iter_ = 0, int((pipe.record or {}).get("n_iter", 0) or 0)
        self.loss_curve_, self.loss_, self.best_loss_ = [], float("nan"), None
        self.validation_scores_ = self.best_validation_score_ = None
        self.stop_reason_, self.history_ = "loaded", None
        self._trainer = self._stopping = None
        return self
