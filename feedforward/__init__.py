"""feedforward: deep feedforward networks from first principles.

``import feedforward as ff``. The engine (:class:`Tensor`, :func:`no_grad`),
:mod:`ff.functional`, :mod:`ff.nn`, and :func:`gradcheck` are here; see the
README for the rest.
"""

from . import backend, functional, nn
from .autograd import enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck, numeric_grad
from .backend import device
from .tensor import (
    DEFAULT_DTYPE, Tensor, abs, as_tensor, clip, concatenate, exp, log, matmul, maximum, minimum, stack,
    tensor, where,
)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "as_tensor", "DEFAULT_DTYPE", "no_grad", "enable_grad", "is_grad_enabled",
    "exp", "log", "abs", "maximum", "minimum", "where", "clip", "matmul", "concatenate", "stack",
    "gradcheck", "numeric_grad", "functional", "nn", "backend", "device",
]

# Sub-packages and names that pull in more code (or optional extras) load on
# first use, so `import feedforward` stays light and NumPy-only.
_LAZY = {
    "optim": ("feedforward.optim", None),
    "training": ("feedforward.training", None),
    "fit": ("feedforward.training", "fit"),
    "Trainer": ("feedforward.training", "Trainer"),
    "History": ("feedforward.training", "History"),
    "io": ("feedforward.io", None),
    "interop": ("feedforward.interop", None),
    "save": ("feedforward.io", "save"),
    "load": ("feedforward.io", "load"),
    "construct": ("feedforward.construct", None),
    "data": ("feedforward.data", None),
    "estimators": ("feedforward.estimators", None),
    "experiments": ("feedforward.experiments", None),
    "distributed": ("feedforward.distributed", None),
    "playground": ("feedforward.playground", None),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'feedforward' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
