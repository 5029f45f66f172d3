"""A test double of a GPU array library: NumPy underneath, but it refuses to mix with NumPy.

Its arrays (``StrictArray``) behave like CuPy's towards NumPy, only stricter: any NumPy function
or ufunc called on them (``np.exp(a)``, ``np.asarray(a)``, ``np.dot(a, b)``) raises, and its own
functions refuse NumPy arrays, except ``asarray``/``array`` (the explicit host-to-device
transfer). Host synchronisations (``float(a)``, ``a.item()``, ``bool(a)``, ``a.get()``) and
transfers are counted, so a test can bound them per training step. Registered as device
``"strict"`` by the ``strict`` fixture (tests/conftest.py): a NumPy-only call on the hot path
fails a CPU test.
"""

from __future__ import annotations

import numbers
import types
import weakref

import numpy as np

from feedforward.backend import Backend

__all__ = ["StrictArray", "strict_np", "StrictBackend", "counts"]

counts = {"syncs": 0, "to_device": 0, "to_host": 0}
_live: weakref.WeakValueDictionary[int, StrictArray] = weakref.WeakValueDictionary()


def _wrap(x):
    """Wrap NumPy arrays (one wrapper per live array, so identity and ``.base`` behave as in CuPy)."""
    if isinstance(x, np.ndarray):
        w = _live.get(id(x))
        if w is not None and w._a is x:
            return w
        w = StrictArray(x)
        _live[id(x)] = w
        return w
    if isinstance(x, np.generic):  # CuPy has no scalars: reductions give 0-d arrays
        return _wrap(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _unwrap(x, where: str):
    if isinstance(x, StrictArray):
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(f"strict device: {where} got a NumPy array (shape {x.shape}); move it with to_device first")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, where) for v in x)
    return x


def _call(fn, name, args, kwargs):
    args = _unwrap(args, name)
    kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
    return _wrap(fn(*args, **kwargs))


class _Flags:
    """CuPy's flags: no ``writeable``."""

    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata


def _binary(name):
    def op(self, other):
        if isinstance(other, np.ndarray):
            raise TypeError(f"strict device: operator {name} between a device array and a NumPy array")
        if not isinstance(other, (StrictArray, numbers.Number, np.generic)):
            return NotImplemented
        return _wrap(getattr(self._a, name)(_unwrap(other, name)))
    op.__name__ = name
    return op


class StrictArray:
    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray):
        self._a = a

    # -- NumPy must not touch it
    def __array__(self, *args, **kwargs):
        raise TypeError("strict device: implicit conversion to a NumPy array (use to_numpy / .get())")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(f"strict device: NumPy ufunc {ufunc.__name__}.{method} called on a device array")

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"strict device: numpy.{func.__name__} called on a device array")

    # -- host synchronisations
    def get(self):
        counts["to_host"] += 1
        return self._a.copy()

    def item(self):
        counts["syncs"] += 1
        return self._a.item()

    def tolist(self):
        counts["syncs"] += 1
        return self._a.tolist()

    def __bool__(self):
        counts["syncs"] += 1
        return bool(self._a)

    def __float__(self):
        counts["syncs"] += 1
        return float(self._a)

    def __int__(self):
        counts["syncs"] += 1
        return int(self._a)

    def __index__(self):
        counts["syncs"] += 1
        return self._a.__index__()

    def __iter__(self):
        raise TypeError("strict device: iterating over a device array (one sync per element)")

    # -- array facts
    @property
    def flags(self):
        return _Flags(self._a)

    @property
    def base(self):
        return _wrap(self._a.base)

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    def __getattr__(self, name):
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *a, **k: _call(attr, f"ndarray.{name}", a, k)
        return _wrap(attr)

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index, "indexing")])

    def __setitem__(self, index, value):
        self._a[_unwrap(index, "indexing")] = _unwrap(value, "assignment")

    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return self

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)

    for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
               "lt", "le", "gt", "ge", "eq", "ne"):
        for _f in (f"__{_n}__", f"__r{_n}__", f"__i{_n}__"):
            if hasattr(np.ndarray, _f):
                locals()[_f] = _binary(_f)
    del _n, _f
    __hash__ = None


class _Namespace(types.ModuleType):
    """``strict_np``: NumPy's functions, through the wrapper (``asarray`` and ``array`` transfer)."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, types.ModuleType):
            raise AttributeError(f"strict_np.{name}: submodules are not part of the device namespace")
        if isinstance(attr, np.ufunc):
            return _Ufunc(attr)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes (np.float32), constants (np.inf), errstate
        if name in ("asarray", "array", "ascontiguousarray", "asanyarray"):
            def transfer(a, *args, **kwargs):
                if isinstance(a, StrictArray):
                    return _call(attr, name, (a,) + args, kwargs)
                counts["to_device"] += 1
                return _wrap(attr(np.array(a), *args, **kwargs))
            return transfer
        if name in ("errstate", "dtype", "finfo", "iinfo", "result_type", "promote_types", "can_cast"):
            return attr
        return lambda *a, **k: _call(attr, name, a, k)


class _Ufunc:
    def __init__(self, u):
        self._u = u
        self.__name__ = u.__name__

    def __call__(self, *a, **k):
        return _call(self._u, self._u.__name__, a, k)

    def __getattr__(self, name):
        attr = getattr(self._u, name)
        return (lambda *a, **k: _call(attr, f"{self._u.__name__}.{name}", a, k)) if callable(attr) else attr


strict_np = _Namespace("strict_np")


class StrictBackend(Backend):
    type = "strict"
    xp = strict_np
    array_types = (StrictArray,)

    def _load(self):
        pass

    def asarray(self, a, index, dtype=None):
        if isinstance(a, StrictArray):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        counts["to_device"] += 1
        return _wrap(np.array(a, dtype=dtype))

    def to_numpy(self, a):
        counts["to_host"] += 1
        return a._a.copy()

    def index_of(self, a):
        return 0
