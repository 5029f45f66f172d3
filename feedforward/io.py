"""Model files and training checkpoints: safetensors + a JSON architecture, written atomically.

``ff.save(model, path)`` writes the weights as safetensors tensors and the
architecture (layer types, sizes, activation hyper-parameters, output unit,
dtype) as JSON in the file's metadata; ``ff.load(path)`` rebuilds the model
from that JSON and copies the weights in, so predictions are bit-identical.

Loading never executes code: there is no pickle and no eval, only a JSON
parse and a fixed table of layer types. Every field is checked before
anything is built (unknown layer type or key, wrong type, shapes that do not
match the architecture, missing or extra tensors, a header larger than 100 MB
or than the file, truncated data, a checksum mismatch) and every problem is a
``ValueError`` naming it.

Writes are atomic: the bytes go to a temporary file in the same directory,
which is flushed and ``fsync``-ed, then renamed over the target with
``os.replace`` (atomic on POSIX and Windows). A crash or ``SIGKILL`` during a
save leaves either the old file or the new one, never a mixture.

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) use the same
container for everything a training run needs to continue bit-identically:
weights, optimizer state, schedule states, the random generator's state
(``bit_generator.state`` as JSON), the history and the epoch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections import OrderedDict

import numpy as np

from .nn.activation import ELU, AbsRectify, Identity, LeakyReLU, PReLU, ReLU, RReLU, Sigmoid, Tanh
from .nn.linear import Linear
from .nn.mlp import MLP
from .nn.module import Module, Sequential
from .nn.output import OUTPUTS, OutputUnit
from ._rng import rng_from_json, rng_state_to_json

__all__ = [
    "save",
    "load",
    "read_metadata",
    "architecture",
    "build",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state_to_json",
    "rng_from_json",
    "restore_model_rngs",
    "load_params_into",
    "atomic_write_bytes",
    "MAX_HEADER_BYTES",
]

FORMAT_VERSION = 1
MODEL_FORMAT = "feedforward.model"
CHECKPOINT_FORMAT = "feedforward.checkpoint"
META_KEY = "feedforward"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
_MAX_LAYERS = 10_000
_MAX_DEPTH = 32
_MAX_WIDTH = 100_000_000

# safetensors dtype codes we accept, and their NumPy dtypes.
_DTYPES = {
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
    "I8": np.int8,
    "I16": np.int16,
    "I32": np.int32,
    "I64": np.int64,
    "U8": np.uint8,
    "U16": np.uint16,
    "U32": np.uint32,
    "U64": np.uint64,
    "BOOL": np.bool_,
}
_FLOAT_NAMES = {"float32": np.float32, "float64": np.float64}

# Activation classes by name, with their hyper-parameters (name, kind) as constructor keywords.
_ACTIVATIONS = {
    "ReLU": (ReLU, {}),
    "AbsRectify": (AbsRectify, {}),
    "LeakyReLU": (LeakyReLU, {"negative_slope": "float"}),
    "PReLU": (PReLU, {"num_parameters": "int"}),
    "RReLU": (RReLU, {"lower": "float", "upper": "float"}),
    "ELU": (ELU, {"alpha": "float"}),
    "Sigmoid": (Sigmoid, {}),
    "Tanh": (Tanh, {}),
    "Identity": (Identity, {}),
}


def _need_safetensors():
    try:
        import safetensors.numpy as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("saving and loading models needs safetensors: pip install feedforward[io]") from exc
    return st


# ====================================================================== atomic write
def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, ``os.replace``)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    # Persist the rename itself (the directory entry); not possible on every platform.
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# =========================================================== strict JSON and header
def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _parse_json(text: str, what: str):
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be a feedforward file") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{what} is not valid JSON ({exc})") from None


def _read_container(path, expected_format: str):
    """Read and validate a safetensors file; return ``(tensors, our_json, user_metadata)``."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        blob = f.read()
    name = os.path.basename(path)
    if len(blob) < 8:
        raise ValueError(
            f"{name}: {len(blob)} bytes is too short for a safetensors file (truncated or empty)"
        )
    header_len = int.from_bytes(blob[:8], "little")
    if header_len > MAX_HEADER_BYTES:
        raise ValueError(
            f"{name}: header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit "
            "(corrupted or hostile file)"
        )
    if 8 + header_len > len(blob):
        raise ValueError(
            f"{name}: header length {header_len} is larger than the file ({len(blob)} bytes): "
            "the file is truncated or corrupted"
        )
    try:
        header_text = blob[8 : 8 + header_len].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: the header is not UTF-8 text (corrupted file)") from None
    header = _parse_json(header_text, f"{name}: the header")
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header must be a JSON object, got {type(header).__name__}")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise ValueError(
            f"{name}: no valid __metadata__ (a string-to-string map) in the header: not a feedforward file"
        )
    data_len = len(blob) - 8 - header_len
    for key, entry in header.items():
        _check_tensor_entry(name, key, entry, data_len)
    if META_KEY not in meta:
        raise ValueError(f"{name}: the metadata has no {META_KEY!r} entry: not a feedforward file")
    ours = _parse_json(meta[META_KEY], f"{name}: the {META_KEY!r} metadata")
    if not isinstance(ours, dict):
        raise ValueError(f"{name}: the {META_KEY!r} metadata must be a JSON object")
    fmt, version = ours.get("format"), ours.get("version")
    if fmt != expected_format:
        raise ValueError(f"{name}: format is {fmt!r}, expected {expected_format!r}")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{name}: format version {version!r} is not supported (this library reads version "
            f"{FORMAT_VERSION})"
        )
    st = _need_safetensors()
    try:
        tensors = st.load(blob)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ValueError(f"{name}: corrupted tensor data ({exc})") from None
    user = {k: v for k, v in meta.items() if k != META_KEY}
    expected_sum = ours.get("sha256")
    if not isinstance(expected_sum, str) or _checksum(tensors, ours, user) != expected_sum:
        raise ValueError(f"{name}: checksum mismatch: the file is corrupted (tensor data or metadata)")
    return tensors, ours, user


def _check_tensor_entry(name, key, entry, data_len):
    where = f"{name}: tensor {key!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"{where}: entry must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise ValueError(f"{where}: unsupported dtype {dtype!r}; expected one of {sorted(_DTYPES)}")
    if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
        raise ValueError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise ValueError(
            f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}"
        )
    if offsets[1] > data_len:
        raise ValueError(
            f"{where}: its data ends at byte {offsets[1]} but the file holds only {data_len} "
            "bytes of data: the file is truncated"
        )
    nbytes = math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise ValueError(
            f"{where}: shape {shape} of {dtype} needs {nbytes} bytes, data_offsets give "
            f"{offsets[1] - offsets[0]}"
        )


def _checksum(tensors: dict, doc: dict, user: dict) -> str:
    """SHA-256 over the tensors, our JSON (without the checksum) and the user metadata.

    Any corruption that still parses (a flipped bit in a weight, a changed digit
    in a hyper-parameter) changes it.
    """
    h = hashlib.sha256()
    canonical = {k: v for k, v in doc.items() if k != "sha256"}
    h.update(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    h.update(json.dumps(user, sort_keys=True, separators=(",", ":")).encode())
    for key in sorted(tensors):
        a = np.ascontiguousarray(tensors[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _write_container(path, tensors: dict, ours: dict, user_metadata=None) -> None:
    st = _need_safetensors()
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    user = {}
    if user_metadata:
        if not isinstance(user_metadata, dict):
            raise TypeError(f"metadata must be a dict of strings, got {type(user_metadata).__name__}")
        for k, v in user_metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata must map strings to strings, got {k!r}: {type(v).__name__}")
            if k == META_KEY:
                raise ValueError(f"metadata key {META_KEY!r} is reserved")
            user[k] = v
    # Round-trip through JSON first so the checksum sees exactly what a reader will parse.
    ours = json.loads(json.dumps(ours, separators=(",", ":")))
    ours["sha256"] = _checksum(tensors, ours, user)
    metadata = {META_KEY: json.dumps(ours, separators=(",", ":")), **user}
    atomic_write_bytes(path, st.save(tensors, metadata=metadata))


# ============================================================ field checks (strict)
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _field_int(spec, key, where, low=1, high=_MAX_WIDTH):
    v = spec.get(key)
    if not _is_int(v) or not low <= v <= high:
        raise ValueError(f"{where}: {key} must be an integer in [{low}, {high}], got {v!r}")
    return v


def _field_float(spec, key, where):
    v = spec.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{where}: {key} must be a finite number, got {v!r}")
    return float(v)


def _check_keys(spec, allowed, required, where):
    unknown = set(spec) - set(allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}")
    missing = set(required) - set(spec)
    if missing:
        raise ValueError(f"{where}: missing keys {sorted(missing)}")


# ============================================================== architecture JSON
def _layer_spec(layer: Module, where: str) -> dict:
    kind = type(layer)
    if kind is Linear:
        return {
            "type": "Linear",
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "bias": layer.bias is not None,
        }
    if kind is Sequential:
        return {
            "type": "Sequential",
            "layers": [_layer_spec(m, f"{where}.{i}") for i, m in enumerate(layer.layers)],
        }
    for name, (cls, hyper) in _ACTIVATIONS.items():
        if kind is cls:
            spec = {"type": name}
            for key in hyper:
                spec[key] = layer.config()[key]
            if cls is RReLU:
                spec["rng_state"] = rng_state_to_json(layer.rng)
            return spec
    raise TypeError(
        f"cannot save layer {where} of type {kind.__name__}: ff.save supports MLP and Sequential models of "
        f"Linear, Sequential and the activations {sorted(_ACTIVATIONS)}; save its state_dict() instead"
    )


def architecture(model: Module) -> dict:
    """The JSON-able description of an ``MLP`` or a ``Sequential`` of supported layers."""
    if isinstance(model, MLP) and type(model) is MLP:
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
    if output is not None and not (isinstance(output, OutputUnit) and output.name in OUTPUTS):
        raise TypeError(f"cannot save output unit {output!r}: expected one of {sorted(OUTPUTS)}")
    dtypes = {p.dtype.name for m in model.modules() if type(m) is Linear for p in m.parameters()}
    if len(dtypes) > 1:
        raise ValueError(f"cannot save a model whose Linear layers mix dtypes {sorted(dtypes)}")
    return {
        "model": spec,
        "output": None if output is None else output.name,
        "dtype": dtypes.pop() if dtypes else "float32",
    }


def _validate_spec(spec, where: str, depth: int, counter: list) -> None:
    """Check one layer spec (recursively) without building anything."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: layers nested deeper than {_MAX_DEPTH}")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a layer must be a JSON object, got {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str):
        raise ValueError(f"{where}: layer 'type' must be a string, got {kind!r}")
    counter[0] += 1
    if counter[0] > _MAX_LAYERS:
        raise ValueError(f"architecture has more than {_MAX_LAYERS} layers")
    if kind == "Linear":
        _check_keys(
            spec,
            {"type", "in_features", "out_features", "bias"},
            {"type", "in_features", "out_features", "bias"},
            where,
        )
        _field_int(spec, "in_features", where)
        _field_int(spec, "out_features", where)
        if not isinstance(spec["bias"], bool):
            raise ValueError(f"{where}: bias must be true or false, got {spec['bias']!r}")
    elif kind in ("Sequential", "MLP"):
        keys = {"type", "layers"} | ({"sizes"} if kind == "MLP" else set())
        _check_keys(spec, keys, keys, where)
        layers = spec["layers"]
        if not isinstance(layers, list) or not layers:
            raise ValueError(f"{where}: layers must be a non-empty list")
        for i, sub in enumerate(layers):
            _validate_spec(sub, f"{where}.layers[{i}]", depth + 1, counter)
        if kind == "MLP":
            _validate_mlp(spec, where)
    elif kind in _ACTIVATIONS:
        hyper = _ACTIVATIONS[kind][1]
        allowed = {"type", *hyper} | ({"rng_state"} if kind == "RReLU" else set())
        _check_keys(spec, allowed, {"type", *hyper}, where)
        for key, typ in hyper.items():
            if typ == "int":
                _field_int(spec, key, where)
            else:
                _field_float(spec, key, where)
        if kind == "RReLU" and not 0 <= spec["lower"] <= spec["upper"]:
            raise ValueError(
                f"{where}: RReLU needs 0 <= lower <= upper, got {spec['lower']}, {spec['upper']}"
            )
        if "rng_state" in spec:
            rng_from_json(spec["rng_state"])  # validates
    else:
        raise ValueError(
            f"{where}: unknown layer type {kind!r}; expected one of "
            f"{sorted({'Linear', 'Sequential', 'MLP', *_ACTIVATIONS})}"
        )


def _validate_mlp(spec, where):
    sizes = spec["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(_is_int(s) and 1 <= s <= _MAX_WIDTH for s in sizes)
    ):
        raise ValueError(f"{where}: sizes must be a list of at least 2 positive integers, got {sizes!r}")
    layers = spec["layers"]
    if len(layers) != 2 * len(sizes) - 3:
        raise ValueError(
            f"{where}: sizes {sizes} need {2 * len(sizes) - 3} layers (Linear, activation, ..., Linear), "
            f"got {len(layers)}"
        )
    for k in range(len(sizes) - 1):
        lin = layers[2 * k]
        if (
            lin.get("type") != "Linear"
            or [lin["in_features"], lin["out_features"]] != sizes[k : k + 2]
            or not lin["bias"]
        ):
            raise ValueError(
                f"{where}: layers[{2 * k}] must be Linear({sizes[k]}, {sizes[k + 1]}, bias=true), got {lin}"
            )
        if k < len(sizes) - 2 and layers[2 * k + 1].get("type") not in _ACTIVATIONS:
            raise ValueError(
                f"{where}: layers[{2 * k + 1}] must be an activation, got {layers[2 * k + 1].get('type')!r}"
            )


def _expected_params(spec, prefix: str, out: list) -> list:
    kind = spec["type"]
    if kind == "Linear":
        out.append((prefix + "weight", (spec["in_features"], spec["out_features"]), "linear"))
        if spec["bias"]:
            out.append((prefix + "bias", (spec["out_features"],), "linear"))
    elif kind == "PReLU":
        out.append((prefix + "weight", (spec["num_parameters"],), "prelu"))
    elif kind in ("Sequential", "MLP"):
        for i, sub in enumerate(spec["layers"]):
            _expected_params(sub, f"{prefix}layers.{i}.", out)
    return out


def _build_layer(spec, dtype, prelu_dtypes: dict, prefix: str) -> Module:
    kind = spec["type"]
    if kind == "Linear":
        return Linear(spec["in_features"], spec["out_features"], bias=spec["bias"], init="zeros", dtype=dtype)
    if kind == "Sequential":
        return Sequential(
            [
                _build_layer(s, dtype, prelu_dtypes, f"{prefix}layers.{i}.")
                for i, s in enumerate(spec["layers"])
            ]
        )
    cls, hyper = _ACTIVATIONS[kind]
    kwargs = {k: spec[k] for k in hyper}
    if cls is PReLU:
        return PReLU(dtype=prelu_dtypes[prefix + "weight"], **kwargs)
    if cls is RReLU:
        layer = RReLU(**kwargs, rng=0)
        if "rng_state" in spec:
            layer.rng = rng_from_json(spec["rng_state"])
        return layer
    return cls(**kwargs)


def build(arch: dict, tensor_dtypes: dict | None = None) -> Module:
    """Validate an :func:`architecture` dict and build the (untrained) model it describes.

    ``tensor_dtypes`` maps PReLU weight names to their dtypes (default: the model dtype).
    """
    if not isinstance(arch, dict):
        raise ValueError(f"architecture must be a JSON object, got {type(arch).__name__}")
    _check_keys(arch, {"model", "output", "dtype"}, {"model", "output", "dtype"}, "architecture")
    dtype = _FLOAT_NAMES.get(arch["dtype"]) if isinstance(arch["dtype"], str) else None
    if dtype is None:
        raise ValueError(f"architecture: dtype must be one of {sorted(_FLOAT_NAMES)}, got {arch['dtype']!r}")
    output = arch["output"]
    if output is not None and (not isinstance(output, str) or output not in OUTPUTS):
        raise ValueError(f"architecture: output must be null or one of {sorted(OUTPUTS)}, got {output!r}")
    spec = arch["model"]
    _validate_spec(spec, "model", 0, [0])
    if spec["type"] not in ("MLP", "Sequential"):
        raise ValueError(f"architecture: the top-level model must be MLP or Sequential, got {spec['type']!r}")
    tensor_dtypes = tensor_dtypes or {}
    prelu_dtypes = {
        name: tensor_dtypes.get(name, dtype)
        for name, _, kind in _expected_params(spec, "", [])
        if kind == "prelu"
    }
    if spec["type"] == "MLP":
        acts = [
            _build_layer(s, dtype, prelu_dtypes, f"layers.{2 * k + 1}.")
            for k, s in enumerate(spec["layers"][1::2])
        ]
        model = MLP(
            spec["sizes"], activation=acts, output=output, init="zeros", bias_init=0.0, rng=0, dtype=dtype
        )
    else:
        model = _build_layer(spec, dtype, prelu_dtypes, "")
        if output is not None:
            model.output = OUTPUTS[output]()
    return model


def _load_params(model: Module, tensors: dict, prefix: str, where: str) -> None:
    """Copy ``tensors[prefix + name]`` into every parameter in place; names, shapes, dtypes strict."""
    params = OrderedDict(model.named_parameters())
    names = {k[len(prefix) :] for k in tensors if k.startswith(prefix)}
    missing = [n for n in params if n not in names]
    extra = sorted(names - set(params))
    if missing or extra:
        parts = ([f"missing tensors {missing}"] if missing else []) + (
            [f"unexpected tensors {extra}"] if extra else []
        )
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
        np.copyto(p.data, tensors[prefix + n])


# ============================================================================ models
def save(model: Module, path, metadata: dict | None = None) -> None:
    """Save an ``MLP`` (or a ``Sequential`` of Linear and activation layers) to ``path``, atomically.

    Parameters
    ----------
    model : MLP or Sequential
        Its architecture (sizes, activations with their hyper-parameters,
        output unit, dtype) goes into the metadata as JSON, its parameters
        into safetensors tensors named as in ``model.state_dict()``.
    path : str or PathLike
        Usually ``*.safetensors``.
    metadata : dict of str to str, optional
        Extra strings to store (read back with :func:`read_metadata`).

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
    tensors = {n: p.data for n, p in model.named_parameters()}
    for n, a in tensors.items():
        if not np.isfinite(a).all():
            raise ValueError(f"ff.save: parameter {n!r} contains NaN or inf; refusing to save a broken model")
    _write_container(
        path, tensors, {"format": MODEL_FORMAT, "version": FORMAT_VERSION, "architecture": arch}, metadata
    )


def load(path, *, return_metadata: bool = False):
    """Load a model written by :func:`save`: rebuild it from the JSON, copy the weights in.

    Returns the model (an ``MLP`` or ``Sequential``, with ``.output`` when one
    was saved), or ``(model, metadata)`` with ``return_metadata=True``. Raises
    ``ValueError`` naming the problem for any malformed, truncated, corrupted
    or mismatched file; never executes code from the file.
    """
    tensors, ours, user = _read_container(path, MODEL_FORMAT)
    name = os.path.basename(os.fspath(path))
    _check_keys(ours, {"format", "version", "architecture", "sha256"}, {"architecture"}, f"{name}: metadata")
    model = _model_from(ours["architecture"], tensors, "", name)
    return (model, user) if return_metadata else model


def _model_from(arch, tensors, prefix, name):
    if not isinstance(arch, dict) or not isinstance(arch.get("model"), dict):
        raise ValueError(f"{name}: the architecture must be a JSON object with a 'model' entry")
    try:
        _validate_spec(arch["model"], "model", 0, [0])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    # Compare the architecture with the stored tensors before building anything,
    # so a hostile size (say 10^8 units) never allocates memory.
    expected = _expected_params(arch["model"], "", [])
    stored = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    for pname, shape, _ in expected:
        if pname not in stored:
            raise ValueError(f"{name}: missing tensor {pname!r} required by the architecture")
        if tuple(stored[pname].shape) != shape:
            raise ValueError(
                f"{name}: tensor {pname!r} has shape {tuple(stored[pname].shape)}, "
                f"the architecture needs {shape}"
            )
    extra = sorted(set(stored) - {e[0] for e in expected})
    if extra:
        raise ValueError(f"{name}: unexpected tensors {extra} not in the architecture")
    dtypes = {pname: stored[pname].dtype for pname, _, _ in expected}
    for pname, _, _ in expected:
        if dtypes[pname] not in (np.float32, np.float64):
            raise ValueError(
                f"{name}: tensor {pname!r} has dtype {dtypes[pname]}, expected float32 or float64"
            )
    try:
        model = build(arch, tensor_dtypes=dtypes)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    _load_params(model, tensors, prefix, name)
    return model


def read_metadata(path) -> dict:
    """The user metadata strings stored by ``save(..., metadata=...)``."""
    return _read_container(path, MODEL_FORMAT)[2]


# ============================================================================= RNGs
def _module_rngs(model: Module) -> dict:
    """Every ``np.random.Generator`` attribute of ``model``'s modules (e.g. RReLU's), by dotted name."""
    out = {}
    for mname, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                out[f"{mname}.{attr}" if mname else attr] = value
    return out


# ====================================================================== checkpoints
def save_checkpoint(
    path,
    model: Module,
    *,
    optimizer=None,
    epoch: int = 0,
    history=None,
    rng=None,
    lr_schedule=None,
    batch_schedule=None,
    extra: dict | None = None,
    extra_arrays: dict | None = None,
) -> None:
    """Write everything needed to continue training exactly, atomically.

    Parameters
    ----------
    path : str or PathLike
    model : Module
        Its parameters (and the states of any random generators inside it, e.g. RReLU's).
    optimizer : Optimizer, optional
        Its ``state_dict()`` (buffers as tensors, the rest as JSON).
    epoch : int
        Epochs completed.
    history : History, optional
    rng : np.random.Generator, optional
        The training loop's generator (shuffling, sampling).
    lr_schedule, batch_schedule : optional
        Objects with ``state_dict()``.
    extra : dict, optional
        More JSON-able state. ``extra_arrays``: more arrays, by name.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint expects a Module, got {type(model).__name__}")
    if not _is_int(epoch) or epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
    tensors = {f"model/{n}": p.data for n, p in model.named_parameters()}
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": FORMAT_VERSION,
        "epoch": epoch,
        "param_names": list(tensors),
    }
    try:
        doc["architecture"] = architecture(model)
    except (TypeError, ValueError):
        doc["architecture"] = None  # a custom model: weights by name only
    doc["model_rngs"] = {k: rng_state_to_json(g) for k, g in _module_rngs(model).items()}
    if optimizer is not None:
        sd = optimizer.state_dict()
        counters = []
        for i, s in enumerate(sd["state"]):
            c = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    tensors[f"optimizer/{i}/{k}"] = v
                else:
                    c[k] = v
            counters.append(c)
        doc["optimizer"] = {
            "type": sd["type"],
            "hyper": sd["hyper"],
            "step_count": sd["step_count"],
            "counters": counters,
        }
    else:
        doc["optimizer"] = None
    doc["history"] = None if history is None else history.to_dict()
    doc["rng"] = None if rng is None else rng_state_to_json(rng)
    doc["lr_schedule"] = None if lr_schedule is None else lr_schedule.state_dict()
    doc["batch_schedule"] = None if batch_schedule is None else batch_schedule.state_dict()
    doc["extra"] = extra
    for k, v in (extra_arrays or {}).items():
        tensors[f"extra/{k}"] = np.asarray(v)
    _write_container(path, tensors, doc)


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    dict
        ``model_state`` (OrderedDict name -> array), ``architecture`` (dict or
        None), ``model`` (the rebuilt model when the architecture is known, else
        None), ``model_rngs`` (name -> JSON state), ``optimizer`` (a
        ``state_dict`` or None), ``epoch``, ``history`` (a ``History`` or None),
        ``rng`` (a Generator in the saved state, or None), ``lr_schedule``,
        ``batch_schedule`` (state dicts), ``extra``, ``extra_arrays``.
    """
    from .training.history import History

    tensors, doc, _ = _read_container(path, CHECKPOINT_FORMAT)
    name = os.path.basename(os.fspath(path))
    keys = {
        "format",
        "version",
        "sha256",
        "epoch",
        "param_names",
        "architecture",
        "model_rngs",
        "optimizer",
        "history",
        "rng",
        "lr_schedule",
        "batch_schedule",
        "extra",
    }
    _check_keys(doc, keys, keys, f"{name}: checkpoint")
    if not _is_int(doc["epoch"]) or doc["epoch"] < 0:
        raise ValueError(f"{name}: epoch must be an integer >= 0, got {doc['epoch']!r}")
    names = doc["param_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) and n.startswith("model/") for n in names):
        raise ValueError(f"{name}: param_names must be a list of 'model/...' names")
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ValueError(f"{name}: missing tensors {missing}")
    model_state = OrderedDict((n[len("model/") :], tensors[n]) for n in names)
    model = None
    if doc["architecture"] is not None:
        model = _model_from(
            doc["architecture"], {k: v for k, v in tensors.items() if k.startswith("model/")}, "model/", name
        )
    if not isinstance(doc["model_rngs"], dict):
        raise ValueError(f"{name}: model_rngs must be an object")
    for v in doc["model_rngs"].values():
        rng_from_json(v)  # validates
    optimizer = None
    if doc["optimizer"] is not None:
        o = doc["optimizer"]
        if not isinstance(o, dict) or set(o) != {"type", "hyper", "step_count", "counters"}:
            raise ValueError(f"{name}: optimizer must have type, hyper, step_count and counters")
        if not isinstance(o["counters"], list) or not all(isinstance(c, dict) for c in o["counters"]):
            raise ValueError(f"{name}: optimizer counters must be a list of objects")
        if not isinstance(o["hyper"], dict):
            raise ValueError(f"{name}: optimizer hyper must be an object")
        state = [dict(c) for c in o["counters"]]
        for key, arr in tensors.items():
            if key.startswith("optimizer/"):
                parts = key.split("/")
                if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(state):
                    raise ValueError(f"{name}: unexpected optimizer tensor {key!r}")
                state[int(parts[1])][parts[2]] = arr
        optimizer = {"type": o["type"], "hyper": o["hyper"], "step_count": o["step_count"], "state": state}
    history = None if doc["history"] is None else History.from_dict(doc["history"])
    rng = None if doc["rng"] is None else rng_from_json(doc["rng"])
    for key in ("lr_schedule", "batch_schedule"):
        if doc[key] is not None and not isinstance(doc[key], dict):
            raise ValueError(f"{name}: {key} state must be an object")
    extra_arrays = {k[len("extra/") :]: v for k, v in tensors.items() if k.startswith("extra/")}
    known = set(names) | {k for k in tensors if k.startswith(("optimizer/", "extra/"))}
    unknown = sorted(set(tensors) - known)
    if unknown:
        raise ValueError(f"{name}: unexpected tensors {unknown}")
    return {
        "model_state": model_state,
        "architecture": doc["architecture"],
        "model": model,
        "model_rngs": doc["model_rngs"],
        "optimizer": optimizer,
        "epoch": doc["epoch"],
        "history": history,
        "rng": rng,
        "lr_schedule": doc["lr_schedule"],
        "batch_schedule": doc["batch_schedule"],
        "extra": doc["extra"],
        "extra_arrays": extra_arrays,
    }


def restore_model_rngs(model: Module, states: dict) -> None:
    """Put saved generator states (from :func:`load_checkpoint`'s ``model_rngs``) back into ``model``."""
    current = _module_rngs(model)
    if set(current) != set(states):
        raise ValueError(
            f"checkpoint has random generators {sorted(states)}, the model has {sorted(current)}"
        )
    for key, gen in current.items():
        new = rng_from_json(states[key], gen)
        if new is not gen:  # a different bit generator type: replace the attribute
            mname, _, attr = key.rpartition(".")
            module = dict(model.named_modules())[mname] if mname else model
            setattr(module, attr, new)


def load_params_into(model: Module, state: dict, where: str = "checkpoint") -> None:
    """Copy ``state`` (name -> array) into ``model``'s parameters in place; strict names, shapes, dtypes."""
    _load_params(model, dict(state), "", where)
