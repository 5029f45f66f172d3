"""The training record inside a model file written by ``feedforward train``, and predictions from it.

Any of the three writers' files is read (:func:`load_bundle`): ``feedforward
train``'s carries this record and the pipeline section
(:class:`feedforward.io.Pipeline`: categories, fill values, scaling); an
estimator's ``save()`` and ``ff.save(..., pipeline=...)`` carry the pipeline only.

``feedforward train`` stores, next to the network, what is needed to use it
on raw data: the feature names and their standardisation, the task, the
classes, the target's scale, the split. A model file is untrusted input, so
the record is checked field by field when the file is read (:func:`load_bundle`),
with the validation layer's constraints, against itself and against the
network: a zero or NaN scale, a missing field, too few class names or a
network of another shape is an error naming the file and the field, never
NaN predictions or a traceback.

:func:`predict` then refuses rows whose standardised values leave the
float32 range, and outputs that are not finite, naming the row.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._validation import Bool, Choice, Int, List, Real, Text
from ..nn.output import OUTPUTS

__all__ = ["FORMAT", "META_KEY", "CLIError", "load_bundle", "check_record", "predict", "bundled_name"]

#: Marks model files written by ``feedforward train`` (key of the metadata entry).
FORMAT = "feedforward.cli/1"
META_KEY = "feedforward_cli"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def bundled_name(spec) -> str | None:
    """The canonical name of a bundled data set (``"mnist"`` is ``"mnist_5k"``), or None."""
    from ..data import DATASETS

    key = str(spec).strip().lower().replace("-", "_")
    key = "mnist_5k" if key == "mnist" else key
    return key if key in DATASETS else None


_REQUIRED = {
    "task": Choice("classification", "regression"),
    "data": Text(),
    "data_name": Text(),
    "feature_names": List(Text(), 1),
    "target": Text(),
    "target_names": List(Text(), 1),
    "x_mean": List(Real()),
    "x_scale": List(Real(0, low_open=True)),
    "y_mean": Real(),
    "y_scale": Real(0, low_open=True),
    "seed": Int(0),
    "test_size": Real(0, 1, low_open=True, high_open=True),
    "official_test_set": Bool(),
    "output": Choice(*OUTPUTS),
    # Shown by `feedforward summary`.
    "layers": List(Int(1)),
    "activation": Text(),
    "optimizer": Text(),
    "lr": Real(0, low_open=True),
    "mode": Text(),
    "batch_size": Int(1),
    "epochs_run": Int(0),
    "stop_reason": Text(),
    "train_seconds": Real(0),
}
_OPTIONAL = {"schedule": (Text(), "constant"), "test_metrics": (None, None)}
_METRICS = {
    "classification": {"accuracy": Real(0, 1), "correct": Int(0), "n": Int(0)},
    "regression": {"mae": Real(0), "rmse": Real(0), "r2": Real(), "n": Int(0)},
}


# ----------------------------------------------------------------- checks
def check_record(record, model, where: str) -> dict:
    """The record, every field checked (and against the network); ``CLIError`` naming the field."""
    try:
        return _checked(record, model)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{where}: the training record is invalid: {exc}") from None


def _checked(record, model) -> dict:
    if not isinstance(record, dict):
        raise ValueError(f"it must be a JSON object, got {type(record).__name__}")
    if record.get("format") != FORMAT:
        raise ValueError(f"format is {record.get('format')!r}, expected {FORMAT!r}")
    missing = sorted(set(_REQUIRED) - set(record))
    if missing:
        raise ValueError(f"it lacks the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    out = {"format": FORMAT}
    for key, constraint in _REQUIRED.items():
        out[key] = constraint(record[key], key)
    for key, (constraint, default) in _OPTIONAL.items():
        out[key] = record.get(key, default) if constraint is None else constraint(record.get(key, default), key)
    _check_against_network(out, model)
    if out["test_metrics"] is not None:
        out["test_metrics"] = _check_metrics(out["test_metrics"], out["task"])
    return out


def _check_metrics(metrics, task):
    schema = _METRICS[task]
    if not isinstance(metrics, dict) or set(metrics) != set(schema):
        raise ValueError(f"test_metrics must hold exactly {sorted(schema)} for {task}")
    return {k: c(metrics[k], f"test_metrics.{k}") for k, c in schema.items()}


def _check_against_network(record, model) -> None:
    from ..nn.mlp import MLP

    if type(model) is not MLP:
        raise ValueError(f"the network must be an MLP, got {type(model).__name__}")
    d = len(record["feature_names"])
    for key in ("x_mean", "x_scale"):
        if len(record[key]) != d:
            raise ValueError(f"{key} has {len(record[key])} entries for {d} features")
    if model.sizes[0] != d:
        raise ValueError(f"the network takes {model.sizes[0]} inputs but the record names {d} features")
    unit = model.output
    if unit is None or unit.name != record["output"]:
        got = None if unit is None else unit.name
        raise ValueError(f"output is {record['output']!r} but the network's output unit is {got!r}")
    if OUTPUTS[record["output"]].task != record["task"]:
        raise ValueError(f"output {record['output']!r} does not do {record['task']}")
    n_out, classes = model.sizes[-1], len(record["target_names"])
    if record["task"] == "classification":
        # Categorical: one output per class; Bernoulli: one output, two classes.
        needed = n_out if record["output"] == "categorical" else 2
        if record["output"] != "categorical" and n_out != 1:
            raise ValueError(f"the network has {n_out} outputs, a {record['output']} output unit needs 1")
        if needed < 2:
            raise ValueError(f"the network has {n_out} output for {record['output']} classification: no classes")
        if classes != needed:
            raise ValueError(f"target_names has {classes} names, the network predicts {needed} classes")
    elif n_out != 1:
        raise ValueError(f"the network has {n_out} outputs, a regression record needs 1")


# ------------------------------------------------------------------ loading
def load_bundle(spec: str, *, need_record: bool = True, device=None):
    """``(model, record)`` from any model file: ``feedforward train``'s, an estimator's, ``ff.save``'s.

    The network is put on ``device`` (``--device``; default the CPU): files hold host arrays.

    ``record["pipeline"]`` is the file's :class:`~feedforward.io.Pipeline` (for a file
    written before the pipeline section, one made from the training record). A file
    with a pipeline but no training record (an estimator's ``save``) gets a record of
    what the pipeline says. Record is None for a bare ``ff.save`` file (an error
    unless ``need_record=False``).
    """
    import feedforward as ff

    path = Path(spec)
    if path.is_dir():
        path = path / "model.safetensors"
        if not path.exists():
            raise CLIError(f"{spec} is a directory without a model.safetensors in it")
    try:
        model, meta = ff.load(path, return_metadata=True, device=device)
    except FileNotFoundError:
        raise CLIError(f"no such model file: {spec}") from None
    except ValueError as exc:
        raise CLIError(f"{spec} is not a compatible feedforward model file: {exc}") from None
    pipe = getattr(model, "pipeline", None)
    if META_KEY in meta:
        try:
            record = json.loads(meta[META_KEY])
        except ValueError:
            raise CLIError(f"{spec}: the training record is not valid JSON") from None
        record = check_record(record, model, os.fspath(spec))
        if pipe is None:
            pipe = _pipeline_of(record)
        elif pipe.input_names() != record["feature_names"] or pipe.task != record["task"] or (
                pipe.task == "classification" and [str(c) for c in pipe.classes] != record["target_names"]):
            raise CLIError(f"{spec}: the pipeline and the training record disagree on the features or classes")
    elif pipe is not None:
        record = _record_of(pipe, model, os.fspath(spec))
    elif need_record:
        raise CLIError(f"{spec} is a model file without the record of its training data (feature "
                       "scaling, classes, target); use a model written by 'feedforward train', an "
                       "estimator's save(), or ff.save(..., pipeline=...)")
    else:
        return model, None
    record["pipeline"] = pipe
    return model, record


def _pipeline_of(record):
    """The pipeline of a file that has only the training record (numeric columns, no fill)."""
    from ..io.pipeline import Pipeline

    classification = record["task"] == "classification"
    return Pipeline(record["task"], Pipeline.numeric(record["feature_names"]), named=True,
                    x_mean=record["x_mean"], x_scale=record["x_scale"],
                    classes=record["target_names"] if classification else None, target=record["target"],
                    y_mean=record["y_mean"], y_scale=record["y_scale"])


def _record_of(pipe, model, where):
    """What the commands read, from a pipeline without a training record (an estimator's file)."""
    n_out = [m for m in model.modules() if type(m).__name__ == "Linear"][-1].out_features
    if pipe.multilabel or (pipe.task == "regression" and n_out != 1):
        raise CLIError(f"{where}: the command line predicts one target; this model predicts {n_out}")
    classification = pipe.task == "classification"
    names = [str(c) for c in pipe.classes] if classification else [pipe.target]
    if len(set(names)) != len(names):
        raise CLIError(f"{where}: the class labels {pipe.classes} are not distinct as text")
    output = getattr(model, "output", None)
    return {"format": None, "task": pipe.task, "data": None, "data_name": None,
            "feature_names": pipe.input_names(), "target": pipe.target, "target_names": names,
            "x_mean": pipe.x_mean or [0.0] * pipe.n_inputs, "x_scale": pipe.x_scale or [1.0] * pipe.n_inputs,
            "y_mean": pipe.y_mean, "y_scale": pipe.y_scale, "output": "gaussian" if output is None else output.name,
            "test_metrics": None, "training": pipe.record}


# --------------------------------------------------------------- prediction
def _standardize(record, E, source, lines):
    """``(E - mean) / scale`` in float32, refusing any value that leaves float32's range."""
    from ..data import Standardizer

    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        Z = Standardizer(record["x_mean"], record["x_scale"]).transform(E, dtype=np.float64)
    bad = ~(np.abs(Z) <= _FLOAT32_MAX)  # NaN is bad too
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise CLIError(f"{source}: {_row(r, lines)}, column {record['feature_names'][c]!r}: the value "
                       f"{float(E[r, c]):g} is {Z[r, c]:.3g} training standard deviations from the mean, beyond the "
                       "float32 range the network computes in")
    return Z.astype(np.float32)


def _row(r: int, lines) -> str:
    return f"line {lines[r]}" if lines is not None else f"row {r + 1}"


def predict(model, record, X, *, source: str = "the input", lines=None):
    """``(labels or values in the original units, class probabilities or None)`` for raw rows ``X``.

    ``X`` holds the raw columns' codes (:meth:`feedforward.io.Pipeline.codes`;
    numbers for numeric columns); the pipeline fills missing cells and one-hot
    encodes categories, the record's scaling standardises, the output unit turns
    the network's output into probabilities and labels. A row the network cannot
    handle (an input beyond float32 after scaling, an output that is not finite)
    is a ``CLIError`` naming it (and its file line).
    """
    from ..autograd import no_grad
    from ..io.host import outputs_on_host
    from ..nn.module import eval_mode

    pipe = record.get("pipeline") or _pipeline_of(record)
    try:
        E = pipe.expand(np.asarray(X, dtype=np.float64))
    except ValueError as exc:
        raise CLIError(f"{source}: {exc}") from None
    Z = _standardize(record, E, source, lines)
    # Overflow inside the network is reported below, per row, not as NumPy warnings.
    with no_grad(), eval_mode(model), np.errstate(over="ignore", invalid="ignore"):
        # On the model's device (--device), the outputs back as NumPy in one copy.
        z = outputs_on_host(model, Z.astype(next(iter(model.parameters())).dtype))
    _check_finite_rows(z, source, lines)
    unit = model.output
    if record["task"] == "regression":
        with np.errstate(over="ignore"):  # checked just below
            values = z[:, 0].astype(np.float64) * record["y_scale"] + record["y_mean"]
        _check_finite_rows(values[:, None], source, lines)
        return values, None
    proba = np.asarray(unit.mean(z), dtype=np.float64)
    if proba.shape[1] == 1:  # Bernoulli: the mean is p(class 1)
        proba = np.column_stack([1 - proba[:, 0], proba[:, 0]])
    return np.asarray(unit.predict(z)).reshape(len(z)), proba


def _check_finite_rows(values, source, lines) -> None:
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise CLIError(f"{source}: {_row(r, lines)}: the network's output is not finite (the row is too far "
                       "outside the training data)")
