"""A small reader for the IDX format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0 0 <type> <ndim>``, then ``ndim``
big-endian int32 sizes, then the array in C order, big-endian. The files are
usually gzipped; :func:`read_idx` detects gzip from its magic bytes, not from
the file name.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["read_idx", "parse_idx"]

# The type byte of the magic number -> big-endian NumPy dtype.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode the (already decompressed) bytes of an IDX file into an array.

    Parameters
    ----------
    raw : bytes
        The whole file content.
    name : str
        Used in error messages (usually the file path).

    Returns
    -------
    ndarray of shape ``(d_1, ..., d_ndim)`` in native byte order.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name} is not an IDX file: it must start with two zero bytes, got {raw[:4]!r}")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX element type 0x{type_code:02x}; "
                         f"expected one of {[hex(k) for k in _IDX_TYPES]}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{name}: IDX header says shape {shape} of {dtype.name} ({expected} bytes in all), "
                         f"but the file has {len(raw)} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native order


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array.

    Examples
    --------
    >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    return parse_idx(raw, name=path)
