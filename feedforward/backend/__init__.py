"""Backends: where arrays live and which array module computes on them.

``"cpu"`` is NumPy; ``"cuda"`` is CuPy (``pip install "feedforward[gpu]"``). Everything in
feedforward finds the module of the arrays it is handed with :func:`array_namespace` and moves
data only through :func:`to_device` and :func:`to_numpy`.

>>> import feedforward as ff
>>> ff.backend.device("cuda:1")
device('cuda:1')
>>> ff.backend.to_device([1.0, 2.0], "cpu")
array([1., 2.])
"""

from .cpu import CPU
from .cuda import CUDA, INSTALL
from .device import Device, device
from .registry import (
    Backend, DeviceUnavailable, array_namespace, backend_of, backend_types, device_of, get_backend,
    is_available, register, synchronize, to_device, to_numpy, unregister,
)

__all__ = [
    "Device", "device", "Backend", "DeviceUnavailable", "register", "unregister", "backend_types",
    "get_backend", "backend_of", "array_namespace", "device_of", "to_device", "to_numpy", "is_available",
    "synchronize", "INSTALL",
]

register(CPU())
register(CUDA())
