"""``Linear``: the affine layer ``h = x W + b`` (L-ARCH-1)."""

from __future__ import annotations

import numpy as np

from .._rng import as_rng
from .._validation import check_bool, check_dtype, check_int
from ..functional.linear import linear
from .init import initialize
from .module import Module, Parameter, _as_input

__all__ = ["Linear"]


class Linear(Module):
    """Fully connected layer: ``x @ weight + bias``, the lecture's ``W^T x + b`` for row batches.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output (the layer's fan-in and width).
    bias : bool
        Whether to add a learned bias.
    init : str, number or callable
        Weight initialisation: ``"glorot_uniform"`` (default), ``"glorot_normal"``,
        ``"he_uniform"``, ``"he_normal"``, ``"zeros"``, a constant, or a callable.
    bias_init : float
        Constant for the bias; 0.1 keeps ReLU units active at the start (L-ACT-6).
    rng : int, Generator or None
        Source of randomness for the initial weights.
    dtype : float32 or float64
        The parameters' dtype (and the dtype input data is brought to).

    A size that is not an integer >= 1, a ``bias`` that is not a bool, an unknown ``init`` or
    a non-finite ``bias_init`` is refused (TypeError for the wrong type, ValueError for a bad
    value).

    Shapes: input ``(n, in_features)``, ``weight`` ``(in_features, out_features)``,
    ``bias`` ``(out_features,)``, output ``(n, out_features)``.

    Examples
    --------
    >>> import feedforward as ff
    >>> layer = ff.nn.Linear(3, 2, rng=0)
    >>> layer(ff.Tensor([[1.0, 2.0, 3.0]])).shape
    (1, 2)
    """

    _chain = "affine"  # Sequential may fuse it (functional/chain.py)

    mode_dependent = False

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 init="glorot_uniform", bias_init: float = 0.0, rng=None, dtype=np.float32):
        self.in_features = check_int(in_features, "Linear: in_features", low=1)
        self.out_features = check_int(out_features, "Linear: out_features", low=1)
        bias = check_bool(bias, "Linear: bias")
        dtype = check_dtype(dtype, "Linear: dtype")
        rng = as_rng(rng)
        shape = (self.in_features, self.out_features)
        self.weight = Parameter(initialize(init, shape, rng, dtype, name="Linear: init"))
        self.bias = (
            Parameter(initialize(bias_init, (self.out_features,), rng, dtype, name="Linear: bias_init"))
            if bias else None
        )

    def forward(self, x):
        # Data (not a graph node) is brought to the layer's dtype, as Keras does:
        # float64 arrays from scikit-learn must not silently make the whole network float64.
        return linear(_as_input(x, self.weight), self.weight, self.bias)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"
