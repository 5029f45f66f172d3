"""One registry of array backends: NumPy on the CPU, CuPy on CUDA GPUs, and any test double.

An array carries its backend in its type, so every function finds the array module
(``xp``, NumPy or CuPy) from the data it is given, as scikit-learn's ``get_namespace`` and
array-api-compat's ``array_namespace`` do; nothing on the hot path names ``numpy`` for an
array it did not make. Moving data between devices is explicit (:func:`to_device`,
:func:`to_numpy`): there is no hidden host copy.
"""

from __future__ import annotations

import functools

import numpy as np

from .device import Device, _index, device

__all__ = [
    "Backend", "DeviceUnavailable", "register", "backend_types", "get_backend", "backend_of",
    "array_namespace", "device_of", "to_device", "to_numpy", "is_available", "synchronize",
]


class DeviceUnavailable(RuntimeError):
    """A device was asked for that this machine cannot give; the message says what is missing."""


class Backend:
    """How to reach one kind of device: its array module and its transfers.

    Subclasses set ``type`` and implement :meth:`_load` (import the array module, check the
    hardware; raise :class:`DeviceUnavailable` with what to install), after which ``xp`` and
    ``array_types`` are set.
    """

    type: str = ""
    xp = None
    array_types: tuple = ()

    def __init__(self):
        self._error: DeviceUnavailable | None = None

    @functools.cached_property
    def kernels(self):
        """The fused operations of a training step on this backend (:mod:`feedforward.backend.kernels`);
        made on first use, then a plain attribute (read once per layer chain and optimizer step)."""
        return self._make_kernels()

    def _make_kernels(self):
        from .kernels import Kernels

        return Kernels(self.load().xp)

    # -- to implement
    def _load(self) -> None:
        raise NotImplementedError

    def count(self) -> int:
        """How many devices of this type the machine has."""
        return 1

    def asarray(self, a, index: int, dtype=None):
        """``a`` (a NumPy array or an array of this backend) on device ``index``."""
        raise NotImplementedError

    def to_numpy(self, a) -> np.ndarray:
        raise NotImplementedError

    def index_of(self, a) -> int | None:
        return None

    def synchronize(self, index: int | None = None) -> None:
        """Wait for the device's queued work (a no-op where work runs synchronously)."""

    @property
    def can_capture(self) -> bool:
        """Whether this backend overrides :meth:`capture` (it may still decline one step)."""
        return type(self).capture is not Backend.capture

    def capture(self, step):
        """A callable that replays ``step`` (one training step over fixed buffers) faster than calling
        it, or ``None`` when this backend cannot capture: the loop then calls ``step`` itself."""
        return

    # -- shared
    def load(self) -> Backend:
        if self.xp is None:
            if self._error is not None:
                raise self._error
            try:
                self._load()
            except DeviceUnavailable as e:
                self._error = e
                raise
            for t in self.array_types:
                _BY_TYPE[t] = self
                _XP[t] = self.xp
        return self


_BACKENDS: dict[str, Backend] = {}
_BY_TYPE: dict[type, Backend] = {}
_XP: dict[type, object] = {}  # array type -> its module: the hot path's one dictionary lookup


def register(backend: Backend) -> Backend:
    """Add a backend under ``backend.type`` (``"cpu"`` and ``"cuda"`` come built in)."""
    _BACKENDS[backend.type] = backend
    if backend.xp is not None:
        for t in backend.array_types:
            _BY_TYPE[t] = backend
            _XP[t] = backend.xp
    return backend


def unregister(type_: str) -> None:
    """Remove a registered backend (for test doubles)."""
    backend = _BACKENDS.pop(type_, None)
    for t in getattr(backend, "array_types", ()):
        _BY_TYPE.pop(t, None)
        _XP.pop(t, None)


def backend_types() -> tuple:
    return tuple(_BACKENDS)


def get_backend(dev) -> Backend:
    """The loaded backend of ``dev``; :class:`DeviceUnavailable` says what is missing."""
    dev = device(dev)
    return _BACKENDS[dev.type].load()


def backend_of(a) -> Backend:
    """The backend whose array ``a`` is (NumPy arrays and scalars: the CPU)."""
    b = _BY_TYPE.get(type(a))
    if b is not None:
        return b
    if isinstance(a, (np.ndarray, np.generic)):
        return _BACKENDS["cpu"]
    for b in _BACKENDS.values():
        if b.xp is not None and isinstance(a, b.array_types):
            return b
    raise TypeError(f"{type(a).__module__}.{type(a).__name__} is not an array of any backend "
                    f"({', '.join(backend_types())})")


def array_namespace(*arrays):
    """The array module (NumPy, CuPy, ...) of ``arrays``, which must all live on one backend."""
    xp = None
    for a in arrays:
        m = _XP.get(type(a))
        if m is None:
            m = backend_of(a).xp
        if xp is None:
            xp = m
        elif m is not xp:
            raise ValueError(
                f"arrays on different devices ({device_of(arrays[0])} and {device_of(a)}): move them to one "
                "device first (Tensor.to / Module.to)"
            )
    return np if xp is None else xp


def device_of(a) -> Device:
    b = backend_of(a)
    return Device(b.type, b.index_of(a))


def to_device(a, dev, dtype=None):
    """``a`` on ``dev`` (no copy when it is there already and ``dtype`` matches).

    ``a`` may be a NumPy array, nested lists of numbers or an array of any backend. Between two
    accelerators the data goes through the host.
    """
    dev = device(dev)
    target = get_backend(dev)
    src = _BY_TYPE.get(type(a))
    if src is None:
        src = backend_of(a) if isinstance(a, (np.ndarray, np.generic)) or any(
            b.xp is not None and isinstance(a, b.array_types) for b in _BACKENDS.values()) else None
    if src is None:  # lists and numbers
        a = np.asarray(a, dtype=dtype)
    elif src is not target:
        a = src.to_numpy(a)
    return target.asarray(a, _index(dev, target.count()), dtype)


def to_numpy(a) -> np.ndarray:
    """A NumPy array with ``a``'s values: the one explicit device-to-host copy (no copy on the CPU)."""
    if type(a) is np.ndarray:
        return a
    return backend_of(a).to_numpy(a)


def is_available(dev="cuda") -> bool:
    """Whether ``dev`` can be used here (``ff.backend.is_available("cuda")``, as ``torch.cuda.is_available()``)."""
    try:
        b = get_backend(dev)
        dev = device(dev)
        return dev.index is None or dev.index < b.count()
    except DeviceUnavailable:
        return False


def synchronize(dev=None) -> None:
    """Wait until ``dev``'s queued work is done (every loaded backend's when ``None``): for timings."""
    if dev is None:
        for b in _BACKENDS.values():
            if b.xp is not None:
                b.synchronize()
        return
    dev = device(dev)
    get_backend(dev).synchronize(dev.index)
