"""A small reader for the IDX format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0 0 <type> <ndim>``, then ``ndim``
big-endian int32 sizes, then the array in C order, big-endian. The files are
usually gzipped; :func:`read_idx` detects gzip from its magic bytes, not from
the file name.

:func:`read_idx` reads the header first and then exactly the bytes it
announces, after checking that the file can hold them (for a gzipped file:
at most :data:`GZIP_MAX_RATIO` times its compressed size), so neither a
device such as ``/dev/zero`` nor a small "gzip bomb" is read without bound.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ..io.files import open_regular, read_exactly

__all__ = ["read_idx", "parse_idx", "GZIP_MAX_RATIO"]

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
GZIP_MAX_RATIO = 1032  # deflate's best case: no gzip file expands more than this


def _header(head: bytes, name: str) -> tuple:
    """``(dtype, ndim)`` from the 4-byte magic number."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise ValueError(f"{name} is not an IDX file: it must start with two zero bytes, got {head[:4]!r}")
    type_code, ndim = head[2], head[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{name}: unknown IDX element type 0x{type_code:02x}; "
                         f"expected one of {[hex(k) for k in _IDX_TYPES]}")
    return _IDX_TYPES[type_code], ndim


def _data_bytes(shape: tuple, dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow


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
    dtype, ndim = _header(raw[:4], name)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = header + _data_bytes(shape, dtype)
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
    name = os.fspath(path)
    with open_regular(name, "IDX file") as f:
        size = os.fstat(f.fileno()).st_size
        gzipped = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f
        capacity = size * GZIP_MAX_RATIO if gzipped else size
        try:
            head = read_exactly(stream, 4, name, "IDX magic number")
            dtype, ndim = _header(head, name)
            dims = read_exactly(stream, 4 * ndim, name, "IDX header")
            shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">i4"))
            total = 4 + 4 * ndim + _data_bytes(shape, dtype)
            if total > capacity:
                held = f"a gzip file of {size} bytes can hold" if gzipped else f"the file's {size} bytes"
                raise ValueError(f"{name}: IDX header says shape {shape} of {dtype.name} ({total} bytes in all), "
                                 f"more than {held}: the file is truncated or not an IDX file")
            body = read_exactly(stream, total - 4 - 4 * ndim, name, "IDX data")
            if stream.read(1):
                raise ValueError(f"{name}: bytes follow the IDX data of shape {shape}: not an IDX file")
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{name}: corrupted gzip data ({exc})") from None
    return parse_idx(head + dims + body, name=name)
