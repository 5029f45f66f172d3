"""Differentiable functions: hidden units, softmax family, losses.

Mirrors ``torch.nn.functional``. Primitive ops (``+``, ``@``, ``exp``,
``maximum``...) live on :class:`feedforward.Tensor`; this package composes
and fuses them into the lecture's units.
"""

from .activations import (
    abs_rectify, elu, generalized_relu, identity, leaky_relu, log_softmax, logsumexp, prelu, relu,
    rrelu, sigmoid, softmax, softplus, tanh,
)
from .chain import linear_chain
from .linear import linear
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss

__all__ = [
    "relu", "abs_rectify", "generalized_relu", "leaky_relu", "prelu", "rrelu", "elu",
    "sigmoid", "tanh", "softplus", "logsumexp", "log_softmax", "softmax", "identity",
    "linear", "linear_chain", "mse_loss", "binary_cross_entropy_with_logits", "cross_entropy",
]
