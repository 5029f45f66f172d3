"""Model files: ``ff.save`` / ``ff.load``, the architecture as JSON, read from the unit registries.

Units are saved and rebuilt only through the registry
(:data:`feedforward.nn.activation.UNITS`: ``Unit.config`` / ``from_config`` /
``state`` / ``load_state``), the output unit by its name in
:data:`feedforward.nn.output.OUTPUTS`; a unit's fields in a file are checked
by the constraints the unit declares, so a newly registered unit needs no
change here. The layer specs are described in :mod:`.schema`.

Loading never executes code (a JSON parse and the registries) and builds
nothing before the file is checked: the layer tree's keys and numbers, the
Linear shapes against the stored tensors (a hostile width of 10^8 never
allocates), each unit's parameter shapes (``Unit.param_shapes``) bounded by the
largest stored dimension; after building, every parameter's name, shape, dtype and
finiteness. Every problem is a ``ValueError`` naming the file and the field.
Version 1 files are translated first (:mod:`.legacy`).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from .._validation import Choice, Dtype
from ..backend import device as parse_device
from ..backend import device_of, get_backend, to_device, to_numpy
from ..nn.activation import UNITS, Unit
from ..nn.linear import Linear
from ..nn.mlp import MLP
from ..nn.module import Module, Sequential
from ..nn.output import OUTPUTS, OutputUnit
from .container import read_container, write_container
from .legacy import upgrade_v1
from .pipeline import Pipeline
from .schema import MAX_WIDTH, check_field, check_keys, linear_shapes, validate_spec

__all__ = ["save", "load", "load_pipeline", "read_metadata", "architecture", "build", "MODEL_FORMAT",
           "MODEL_VERSION"]

MODEL_FORMAT = "feedforward.model"
MODEL_VERSION = 2
READABLE_VERSIONS = (1, 2)


# ================================================================= writing
def _is_registered_unit(layer) -> bool:
    # A subclass of a registered unit inherits its name but would be rebuilt as the parent.
    return isinstance(layer, Unit) and UNITS.get(type(layer).name) is type(layer)


def _layer_spec(layer: Module, where: str) -> dict:
    if type(layer) is Linear:
        return {
            "type": "Linear",
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "bias": layer.bias is not None,
        }
    if type(layer) is Sequential:
        return {"type": "Sequential", "layers": [_layer_spec(m, f"{where}.{i}") for i, m in enumerate(layer.layers)]}
    if _is_registered_unit(layer):
        spec = {"type": type(layer).name, "config": layer.config()}
        state = layer.state()
        if state is not None:
            spec["state"] = state
        return spec
    raise TypeError(
        f"cannot save layer {where} of type {type(layer).__name__}: ff.save supports MLP and Sequential "
        f"models of Linear, Sequential and the registered hidden units {sorted(UNITS)}; "
        "save its state_dict() instead"
    )


def architecture(model: Module) -> dict:
    """The JSON-able description of an ``MLP`` or a ``Sequential`` of supported layers."""
    if type(model) is MLP:
        spec = {
            "type": "MLP",
            "sizes": list(model.sizes),
            "layers": [_layer_spec(m, f"layers.{i}") for i, m in enumerate(model.layers)],
        }
    elif type(model) is Sequential:
        spec = _layer_spec(model, "model")
    else:
        raise TypeError(f"ff.save supports ff.nn.MLP and ff.nn.Sequential models, got {type(model).__name__}")
    output = getattr(model, "output", None)
    if output is not None and not (isinstance(output, OutputUnit) and OUTPUTS.get(output.name) is type(output)):
        raise TypeError(f"cannot save output unit {output!r}: expected one of {sorted(OUTPUTS)}")
    dtypes = {p.dtype.name for m in model.modules() if type(m) is Linear for p in m.parameters()}
    if len(dtypes) > 1:
        raise ValueError(f"cannot save a model whose Linear layers mix dtypes {sorted(dtypes)}")
    return {
        "model": spec,
        "output": None if output is None else output.name,
        "dtype": dtypes.pop() if dtypes else "float32",
    }


def save(model: Module, path, metadata: dict | None = None, *, pipeline: Pipeline | None = None) -> None:
    """Save an ``MLP`` (or a ``Sequential`` of Linear layers and hidden units) to ``path``, atomically.

    Parameters
    ----------
    model : MLP or Sequential
        Its architecture (sizes, units with their hyper-parameters, output
        unit, dtype) goes into the metadata as JSON, its parameters into
        safetensors tensors named as in ``model.state_dict()``.
    path : str or PathLike
        Usually ``*.safetensors``.
    metadata : dict of str to str, optional
        Extra strings to store (read back with :func:`read_metadata`).
    pipeline : Pipeline, optional
        The preprocessing, task, classes and training record
        (:class:`~feedforward.io.pipeline.Pipeline`); default: ``model.pipeline``
        when the model has one (a model read by :func:`load`). Checked against
        the network before anything is written.

    Examples
    --------
    >>> import os, tempfile, numpy as np, feedforward as ff
    >>> net = ff.nn.MLP([2, 3, 2], output="categorical", rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> ff.save(net, path)
    >>> x = np.ones((1, 2), np.float32)
    >>> bool((ff.load(path).predict_proba(x) == net.predict_proba(x)).all())
    True
    """
    if not isinstance(model, Module):
        raise TypeError(f"ff.save expects a Module, got {type(model).__name__}")
    arch = architecture(model)
    # A model on a GPU is written from host copies: the file loads on any machine.
    tensors = {n: to_numpy(p.data) for n, p in model.named_parameters()}
    for n, a in tensors.items():
        if not np.isfinite(a).all():
            raise ValueError(f"ff.save: parameter {n!r} contains NaN or inf; refusing to save a broken model")
    doc = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "architecture": arch}
    if pipeline is None:
        pipeline = getattr(model, "pipeline", None)
    if pipeline is not None:
        if not isinstance(pipeline, Pipeline):
            raise TypeError(f"pipeline must be a feedforward.io.Pipeline, got {type(pipeline).__name__}")
        pipeline.check_network(model)
        doc["pipeline"] = pipeline.to_json()
    write_container(path, tensors, doc, metadata)


# ================================================================ building
def _build_unit(spec: dict, dtype, max_count: int, where: str) -> Unit:
    cls = UNITS[spec["type"]]
    config = spec["config"]
    try:
        checked = cls._checked(**config) if isinstance(config, dict) else config
        shapes = cls.param_shapes(checked) if isinstance(config, dict) and set(cls.hparams) <= set(config) else {}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    for pname, shape in shapes.items():
        # A parameter's size comes from the file: bound it before the unit allocates it.
        if any(d > max_count for d in shape):
            raise ValueError(
                f"{where}: parameter {pname!r} would have shape {shape}, larger than any stored tensor "
                f"(largest dimension {max_count})"
            )
    try:
        unit = cls.from_config(config, dtype=dtype, rng=0)
        if "state" in spec:
            unit.load_state(spec["state"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    return unit


def _build_layer(spec: dict, dtype, unit_dtypes: dict, max_count: int, prefix: str, where: str) -> Module:
    kind = spec["type"]
    if kind == "Linear":
        return Linear(spec["in_features"], spec["out_features"], bias=spec["bias"], init="zeros", dtype=dtype)
    if kind == "Sequential":
        return Sequential([
            _build_layer(s, dtype, unit_dtypes, max_count, f"{prefix}layers.{i}.", f"{where}.layers[{i}]")
            for i, s in enumerate(spec["layers"])
        ])
    # A unit's parameters (PReLU's slopes) may be stored in another float dtype than the Linear layers.
    return _build_unit(spec, unit_dtypes.get(prefix, dtype), max_count, where)


def build(arch: dict, tensor_dtypes: dict | None = None, *, max_count: int = MAX_WIDTH) -> Module:
    """Validate an :func:`architecture` dict (version 2) and build the untrained model it describes.

    ``tensor_dtypes`` maps parameter names to their stored dtypes (a unit's
    parameters are built in them; default: the model dtype). ``max_count``
    bounds the units' integer hyper-parameters.
    """
    if not isinstance(arch, dict):
        raise ValueError(f"architecture must be a JSON object, got {type(arch).__name__}")
    check_keys(arch, {"model", "output", "dtype"}, {"model", "output", "dtype"}, "architecture")
    dtype = check_field(Dtype(), arch["dtype"], "architecture: dtype")
    output = check_field(Choice(*OUTPUTS, none=True), arch["output"], "architecture: output")
    spec = arch["model"]
    validate_spec(spec, "model", 0, [0])
    if spec["type"] not in ("MLP", "Sequential"):
        raise ValueError(f"architecture: the top-level model must be MLP or Sequential, got {spec['type']!r}")
    unit_dtypes = {name.rpartition(".")[0] + ".": dt for name, dt in (tensor_dtypes or {}).items()}
    if spec["type"] == "MLP":
        units = [
            _build_layer(s, dtype, unit_dtypes, max_count, f"layers.{2 * k + 1}.", f"model.layers[{2 * k + 1}]")
            for k, s in enumerate(spec["layers"][1::2])
        ]
        model = MLP(spec["sizes"], activation=units, output=output, init="zeros", bias_init=0.0, rng=0, dtype=dtype)
    else:
        model = _build_layer(spec, dtype, unit_dtypes, max_count, "", "model")
        if output is not None:
            model.output = OUTPUTS[output]()
    return model


def load_params(model: Module, tensors: dict, prefix: str, where: str) -> None:
    """Copy ``tensors[prefix + name]`` into every parameter in place; names, shapes, dtypes strict."""
    params = OrderedDict(model.named_parameters())
    names = {k[len(prefix) :] for k in tensors if k.startswith(prefix)}
    missing = [n for n in params if n not in names]
    extra = sorted(names - set(params))
    if missing or extra:
        parts = ([f"missing tensors {missing}"] if missing else []) + ([f"unexpected tensors {extra}"] if extra else [])
        raise ValueError(f"{where}: the weights do not match the architecture: " + "; ".join(parts))
    for n, p in params.items():
        arr = tensors[prefix + n]
        if arr.shape != p.shape or arr.dtype != p.dtype:
            raise ValueError(
                f"{where}: tensor {n!r} has shape {arr.shape} and dtype {arr.dtype}, the architecture "
                f"needs {p.shape} and {p.dtype}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{where}: tensor {n!r} contains NaN or inf")
    for n, p in params.items():
        # In place (an optimizer holds these arrays), on whatever device the parameter lives.
        p.data[...] = to_device(tensors[prefix + n], device_of(p.data))


def rebuild(arch, tensors: dict, prefix: str, name: str, version: int) -> Module:
    """The model a file describes, with its weights: every check before anything is built."""
    if version == 1:
        arch = upgrade_v1(arch)
    if not isinstance(arch, dict) or not isinstance(arch.get("model"), dict):
        raise ValueError(f"{name}: the architecture must be a JSON object with a 'model' entry")
    try:
        validate_spec(arch["model"], "model", 0, [0])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    stored = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    for pname, shape in linear_shapes(arch["model"], "", []):
        if pname not in stored:
            raise ValueError(f"{name}: missing tensor {pname!r} required by the architecture")
        if tuple(stored[pname].shape) != shape:
            raise ValueError(
                f"{name}: tensor {pname!r} has shape {tuple(stored[pname].shape)}, the architecture needs {shape}"
            )
    for pname, arr in stored.items():
        if arr.dtype not in (np.float32, np.float64):
            raise ValueError(f"{name}: tensor {pname!r} has dtype {arr.dtype}, expected float32 or float64")
    max_count = max((d for arr in stored.values() for d in arr.shape), default=1)
    try:
        model = build(arch, tensor_dtypes={k: v.dtype for k, v in stored.items()}, max_count=max(max_count, 1))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    load_params(model, tensors, prefix, name)
    return model


# ================================================================= reading
def _checked_device(spec):
    """``spec`` as a Device whose backend is usable here (ValueError / DeviceUnavailable otherwise)."""
    dev = parse_device(spec)
    get_backend(dev)
    return dev


def load(path, *, return_metadata: bool = False, device=None):
    """Load a model written by :func:`save`: rebuild it from the JSON, copy the weights in.

    The model is built on the CPU, then moved to ``device`` (``"cuda"``, ...) when one is
    given: a file written from a GPU loads on a CPU and back (files hold host arrays).

    Returns the model (an ``MLP`` or ``Sequential``, with ``.output`` when one
    was saved, and ``.pipeline``, a checked :class:`~feedforward.io.pipeline.Pipeline`,
    when the file has one: ``model.pipeline.predict(model, X_raw)``), or
    ``(model, metadata)`` with ``return_metadata=True``. Raises
    ``ValueError`` naming the problem for any malformed, truncated, corrupted
    or mismatched file, and for a path that is not a regular file; reads no
    more than the file's header accounts for; never executes code from the file.
    """
    if device is not None:
        device = _checked_device(device)  # a bad spelling or a missing GPU before the file is read
    tensors, doc, user = read_container(path, MODEL_FORMAT, READABLE_VERSIONS)
    name = os.path.basename(os.fspath(path))
    check_keys(doc, {"format", "version", "architecture", "sha256", "pipeline"}, {"architecture"},
               f"{name}: metadata")
    model = rebuild(doc["architecture"], tensors, "", name, doc["version"])
    if "pipeline" in doc:
        model.pipeline = Pipeline.from_json(doc["pipeline"], model, f"{name}: pipeline")
    if device is not None and device != "cpu":  # built on the host
        model.to(device)
    return (model, user) if return_metadata else model


def load_pipeline(path) -> Pipeline | None:
    """The checked pipeline section of a model file (None when it has none)."""
    return getattr(load(path), "pipeline", None)


def read_metadata(path) -> dict:
    """The user metadata strings stored by ``save(..., metadata=...)`` (the file is checked in full)."""
    return read_container(path, MODEL_FORMAT, READABLE_VERSIONS)[2]
