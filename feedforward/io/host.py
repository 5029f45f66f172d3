"""What leaves a device: host copies of a model for files, pickles and exports, and outputs as NumPy.

A model may live on a GPU (``model.to("cuda")``); a model file, a pickle, an ONNX or
PyTorch export and a printed prediction are host things. Each of those goes through
here, so the device-to-host copy is explicit (:func:`feedforward.backend.to_numpy`) and
happens once, and a file written from a GPU loads on a machine without one.
"""

from __future__ import annotations

import copy
import numbers
import types

import numpy as np

from .. import backend
from ..backend import Device

__all__ = ["model_device", "host_copy", "on_host", "is_array", "outputs_on_host"]


def model_device(model) -> Device:
    """Where ``model``'s parameters live (:attr:`Module.device`; the CPU for a model without parameters)."""
    return model.device or backend.device("cpu")


def host_copy(model):
    """``model`` itself when it is on the CPU, else a deep copy of it whose arrays are NumPy."""
    if model_device(model) == "cpu":
        return model
    return on_host(model)


def on_host(obj):
    """A deep copy of ``obj`` (a model, an estimator's state) with every device array a NumPy array.

    Each device array is copied to the host once, straight from the device (the copy never
    duplicates it on the device), and objects shared inside ``obj`` stay shared: a stopping
    rule holding the model's parameters holds the copy's.
    """
    found = _device_arrays(obj)
    memo = {key: backend.to_numpy(a) for key, a in found.items()}
    return copy.deepcopy(obj, memo)


def _device_arrays(obj) -> dict:
    """``{id: array}`` of the arrays of other backends than NumPy reachable from ``obj``."""
    found, seen, stack = {}, set(), [obj]
    while stack:  # an explicit stack: no recursion limit on deep structures
        o = stack.pop()
        if id(o) in seen or isinstance(o, _LEAVES):
            continue
        seen.add(id(o))
        if is_array(o):
            found[id(o)] = o
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        else:
            stack.extend(getattr(o, "__dict__", {}).values())
            for cls in type(o).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if isinstance(name, str) and hasattr(o, name):
                        stack.append(getattr(o, name))
    return found


# Never walked into: host values, and what holds no arrays of a model (an array module's namespace).
_LEAVES = (np.ndarray, np.generic, numbers.Number, str, bytes, type(None), type, types.ModuleType,
           types.FunctionType, types.BuiltinFunctionType)


def is_array(value) -> bool:
    """Whether ``value`` is an array of any backend (NumPy scalars and Python numbers are not)."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (np.generic, numbers.Number, str, bytes, list, tuple, dict, type(None))):
        return False
    try:
        backend.backend_of(value)
    except TypeError:
        return False
    return True


def outputs_on_host(model, X: np.ndarray) -> np.ndarray:
    """The network's output ``f(X)``, shape (n, n_outputs), for host rows ``X``, as a NumPy array.

    ``X`` goes to the model's device, the forward pass runs there, and the outputs come
    back in one explicit copy. The caller holds ``no_grad`` and ``eval_mode``.
    """
    from ..tensor import Tensor

    dev = model_device(model)
    x = Tensor(X) if dev == "cpu" else Tensor(X, device=dev)
    return backend.to_numpy(model(x).data)
