"""feedforward: deep feedforward networks from first principles.

``import feedforward as ff``. The engine (:class:`Tensor`, :func:`no_grad`),
:mod:`ff.functional`, :mod:`ff.nn`, and :func:`gradcheck` are here; see the
README for the rest.
"""

from . import functional, nn
from .autograd import enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck, numeric_grad
from .tensor import (
    DEFAULT_DTYPE, Tensor, abs, as_tensor, clip, concatenate, exp, log, matmul, maximum, minimum, stack,
    tensor, where,
)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "as_tensor", "DEFAULT_DTYPE", "no_grad", "enable_grad", "is_grad_enabled",
    "exp", "log", "abs", "maximum", "minimum", "where", "clip", "matmul", "concatenate", "stack",
    "gradcheck", "numeric_grad", "functional", "nn",
]
