"""The container of model files and checkpoints: safetensors with our JSON in its metadata, checksummed.

A file is safetensors' layout: 8 bytes (little-endian header length), a JSON
header (each tensor's dtype, shape and byte range, plus ``__metadata__``, a
string-to-string map), then the tensor bytes. Our own JSON document (format,
version, architecture, ...) is the metadata entry ``"feedforward"``; the
other entries are the user's strings.

Reading is bounded and strict (:func:`read_container`): a regular file only;
the 8-byte length first, checked against :data:`MAX_HEADER_BYTES` and the
file's size; then the header, checked entry by entry (supported dtype, shape,
byte ranges inside the file and matching the shape); then exactly the bytes
the header describes. Nothing is read that the header does not account for,
and every problem is a ``ValueError`` naming the file. A SHA-256 over the
tensors and all metadata catches corruption that still parses (a flipped bit
in a weight, a changed digit in a hyper-parameter).
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np

from .._validation import Int
from .files import atomic_write_bytes, open_regular, read_exactly

__all__ = ["MAX_HEADER_BYTES", "META_KEY", "read_safetensors", "read_container", "write_container", "checksum", "parse_json"]

META_KEY = "feedforward"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit

# safetensors dtype codes we accept, and their NumPy dtypes.
DTYPES = {
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
_OFFSET = Int(0)


def need_safetensors():
    try:
        import safetensors.numpy as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("saving and loading models needs safetensors: pip install feedforward[io]") from exc
    return st


# ------------------------------------------------------------------- JSON
def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_json(text: str, what: str):
    """Strict JSON: duplicate keys and pathological nesting are errors naming ``what``."""
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be a feedforward file") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{what} is not valid JSON ({exc})") from None


def checksum(tensors: dict, doc: dict, user: dict) -> str:
    """SHA-256 over the tensors, our JSON (without the checksum) and the user metadata."""
    h = hashlib.sha256()
    canonical = {k: v for k, v in doc.items() if k != "sha256"}
    h.update(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    h.update(json.dumps(user, sort_keys=True, separators=(",", ":")).encode())
    for key in sorted(tensors):
        a = np.ascontiguousarray(tensors[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- reading
def read_safetensors(path, what: str = "safetensors file", *, metadata_required: bool = False) -> tuple:
    """``(tensors, metadata)`` of a safetensors file, every read bounded by what its header states.

    The 8-byte header length first, then the header (at most :data:`MAX_HEADER_BYTES` and within
    the file), then exactly the tensor data the header describes; a regular file only
    (:func:`~feedforward.io.files.open_regular`). ``metadata_required``: a file without a
    ``__metadata__`` string map is refused (ours always has one).
    """
    path = os.fspath(path)
    name = os.path.basename(path) or path
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise ValueError(f"{name}: {size} bytes is too short for a safetensors file (truncated or empty)")
        prefix = read_exactly(f, 8, name, "header length")
        header_len = int.from_bytes(prefix, "little")
        if header_len > MAX_HEADER_BYTES:
            raise ValueError(
                f"{name}: header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit "
                "(corrupted or hostile file)"
            )
        if 8 + header_len > size:
            raise ValueError(
                f"{name}: header length {header_len} is larger than the file ({size} bytes): "
                "the file is truncated or corrupted"
            )
        header_bytes = read_exactly(f, header_len, name, "header")
        header, meta = _parse_header(name, header_bytes, size - 8 - header_len, metadata_required)
        data_len = max((entry["data_offsets"][1] for entry in header.values()), default=0)
        if 8 + header_len + data_len < size:
            raise ValueError(
                f"{name}: {size - 8 - header_len - data_len} bytes follow the last tensor's data: "
                "the file is corrupted"
            )
        data = read_exactly(f, data_len, name, "tensor data")
    try:
        tensors = need_safetensors().load(prefix + header_bytes + data)
    except Exception as exc:  # safetensors raises its own SafetensorError (gaps, overlaps)
        raise ValueError(f"{name}: corrupted tensor data ({exc})") from None
    return tensors, meta


def read_container(path, expected_format: str, versions) -> tuple:
    """Read and validate a file; return ``(tensors, our_json, user_metadata)``.

    ``versions`` are the format versions the caller can read.
    """
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    tensors, meta = read_safetensors(path, "feedforward model file", metadata_required=True)
    ours = _our_document(name, meta, expected_format, versions)
    user = {k: v for k, v in meta.items() if k != META_KEY}
    expected_sum = ours.get("sha256")
    if not isinstance(expected_sum, str) or checksum(tensors, ours, user) != expected_sum:
        raise ValueError(f"{name}: checksum mismatch: the file is corrupted (tensor data or metadata)")
    return tensors, ours, user


def _parse_header(name, header_bytes, data_len, metadata_required=True):
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: the header is not UTF-8 text (corrupted file)") from None
    header = parse_json(text, f"{name}: the header")
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header must be a JSON object, got {type(header).__name__}")
    meta = header.pop("__metadata__", None)
    if meta is None and not metadata_required:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError(
            f"{name}: no valid __metadata__ (a string-to-string map) in the header: not a feedforward file"
        )
    for key, entry in header.items():
        _check_tensor_entry(f"{name}: tensor {key!r}", entry, data_len)
    return header, meta


def _check_tensor_entry(where, entry, data_len):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"{where}: entry must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ValueError(f"{where}: unsupported dtype {dtype!r}; expected one of {sorted(DTYPES)}")
    if not isinstance(shape, list) or not all(_is_offset(s) for s in shape):
        raise ValueError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_offset(o) for o in offsets)) or (
        offsets[0] > offsets[1]
    ):
        raise ValueError(f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}")
    if offsets[1] > data_len:
        raise ValueError(
            f"{where}: its data ends at byte {offsets[1]} but the file holds only {data_len} "
            "bytes of data: the file is truncated"
        )
    nbytes = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise ValueError(
            f"{where}: shape {shape} of {dtype} needs {nbytes} bytes, data_offsets give {offsets[1] - offsets[0]}"
        )


def _is_offset(value) -> bool:
    try:
        _OFFSET(value, "offset")
    except (TypeError, ValueError):
        return False
    return True


def _our_document(name, meta, expected_format, versions) -> dict:
    if META_KEY not in meta:
        raise ValueError(f"{name}: the metadata has no {META_KEY!r} entry: not a feedforward file")
    ours = parse_json(meta[META_KEY], f"{name}: the {META_KEY!r} metadata")
    if not isinstance(ours, dict):
        raise ValueError(f"{name}: the {META_KEY!r} metadata must be a JSON object")
    fmt, version = ours.get("format"), ours.get("version")
    if fmt != expected_format:
        raise ValueError(f"{name}: format is {fmt!r}, expected {expected_format!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version not in versions:
        readable = ", ".join(map(str, sorted(versions)))
        raise ValueError(
            f"{name}: format version {version!r} is not supported (this library reads version {readable})"
        )
    return ours


# ---------------------------------------------------------------- writing
def write_container(path, tensors: dict, ours: dict, user_metadata=None) -> None:
    """Write ``tensors`` with ``ours`` (checksummed) and the user's strings, atomically."""
    st = need_safetensors()
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
    ours["sha256"] = checksum(tensors, ours, user)
    metadata = {META_KEY: json.dumps(ours, separators=(",", ":")), **user}
    atomic_write_bytes(path, st.save(tensors, metadata=metadata))
