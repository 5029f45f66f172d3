"""BLAS's accumulating product ``C <- C + alpha A^T B``, from the BLAS library NumPy itself uses.

NumPy exposes matrix products (``np.dot``) but not the general form of BLAS ``gemm``,
``C <- alpha op(A) op(B) + beta C``. With ``beta = 1`` and ``alpha = -lr`` one call is a
whole plain-SGD update of a weight matrix, ``W <- W - lr h^T G``, without ever writing the
gradient ``h^T G`` to memory and reading it back twice (scale, subtract): on a 784-256-256-10
step that is a tenth of the time (see ``functional/chain.py``, which uses it).

The library is the OpenBLAS that NumPy's wheels ship (``scipy-openblas``), opened by path, so
it is the very same library and thread pool as ``np.dot``'s. Anything else (another NumPy
build, a BLAS we cannot find, a self-test that disagrees with ``np.dot``) leaves
:data:`available` False and the callers take their NumPy path: nothing depends on it.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["available", "gemm_update"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_FUNCS: dict = {}  # dtype -> ctypes function


def _candidates():
    root = os.path.dirname(os.path.dirname(np.__file__))  # site-packages
    for pattern in ("numpy.libs/libscipy_openblas*", "numpy/.dylibs/libscipy_openblas*", "numpy.libs/*openblas*"):
        yield from sorted(glob.glob(os.path.join(root, pattern)))


def _load() -> None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, int_t in (("scipy_cblas_", "64_", ctypes.c_int64), ("scipy_cblas_", "", ctypes.c_int),
                                      ("cblas_", "64_", ctypes.c_int64), ("cblas_", "", ctypes.c_int)):
            found = {}
            for dtype, letter, real_t in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
                fn = getattr(lib, f"{prefix}{letter}gemm{suffix}", None)
                if fn is None:
                    break
                fn.restype = None
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t, int_t, real_t,
                               ctypes.c_void_p, int_t, ctypes.c_void_p, int_t, real_t, ctypes.c_void_p, int_t]
                found[np.dtype(dtype)] = fn
            if len(found) == 2:
                _FUNCS.update(found)
                if _self_test():
                    return
                _FUNCS.clear()


def gemm_update(C: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float) -> bool:
    """``C += alpha * A.T @ B`` in place, for ``A`` (m, k), ``B`` (m, n), ``C`` (k, n); True if done.

    Returns False (and leaves ``C`` alone) when the BLAS is not available or the arrays are
    not all C-contiguous, aligned and of one float dtype: the caller then uses NumPy.
    """
    fn = _FUNCS.get(C.dtype)
    if fn is None or A.dtype != C.dtype or B.dtype != C.dtype:
        return False
    if A.ndim != 2 or B.ndim != 2 or C.ndim != 2:
        return False
    m, k = A.shape
    n = B.shape[1]
    if B.shape[0] != m or C.shape != (k, n) or m == 0 or k == 0 or n == 0:
        return False
    for a in (A, B, C):
        if not (a.flags.c_contiguous and a.flags.aligned):
            return False
    if not C.flags.writeable:
        return False
    # Row-major C (k x n) = alpha * A^T (k x m) B (m x n) + 1 * C; leading dimensions = row lengths.
    fn(_ROW_MAJOR, _TRANS, _NO_TRANS, k, n, m, alpha, A.ctypes.data, k, B.ctypes.data, n, 1.0, C.ctypes.data, n)
    return True


def _self_test() -> bool:
    r = np.random.default_rng(0)
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for m, k, n in ((5, 3, 4), (1, 7, 2), (33, 17, 9)):
            A = r.standard_normal((m, k)).astype(dtype)
            B = r.standard_normal((m, n)).astype(dtype)
            C = r.standard_normal((k, n)).astype(dtype)
            expected = C - 0.25 * np.dot(A.T, B)
            got = C.copy()
            if not gemm_update(got, A, B, -0.25):
                return False
            if not np.allclose(got, expected, rtol=tol, atol=tol):
                return False
    return True


try:
    _load()
except Exception:  # any surprise in an unknown environment: no direct BLAS, NumPy paths only
    _FUNCS.clear()

available = bool(_FUNCS)
