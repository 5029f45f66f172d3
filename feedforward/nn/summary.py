"""``summary()``: each layer, its output shape and parameter count (L-ARCH-2)."""

from __future__ import annotations

import numbers
import sys

import numpy as np

from .._validation import check_int
from ..autograd import no_grad
from ..tensor import Tensor
from .linear import Linear
from .module import Sequential, eval_mode


def _leaf_layers(module):
    if isinstance(module, Sequential):
        for i, layer in enumerate(module.layers):
            yield str(i), layer
    else:
        yield type(module).__name__, module


def summary(module, input_shape=None, file=None) -> str:
    """Run a zero batch through ``module`` and tabulate what each layer produces.

    ``input_shape`` (without the batch axis: an integer or a sequence of integers >= 1) is
    inferred from the first ``Linear`` when not given.
    """
    layers = list(_leaf_layers(module))
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, (bool, np.bool_)):
        input_shape = (input_shape,)
    if input_shape is not None:
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, (tuple, list)):
            raise TypeError(
                f"summary(): input_shape must be a tuple of integers >= 1 (without the batch axis), "
                f"got {input_shape!r}"
            )
        if not input_shape:
            raise ValueError("summary(): input_shape must hold at least one size (the features), got ()")
        input_shape = tuple(check_int(d, f"summary(): input_shape[{i}]", low=1) for i, d in enumerate(input_shape))
    if input_shape is None:
        first = next((m for m in module.modules() if isinstance(m, Linear)), None)
        if first is None:
            raise ValueError("summary(): give input_shape, there is no Linear layer to infer it from")
        input_shape = (first.in_features,)
    dtype = next((p.dtype for p in module.parameters()), np.float32)
    # a probe row on the model's device: a model on a GPU is summarised there
    x = Tensor(np.zeros((1,) + tuple(input_shape), dtype=dtype), device=module.device)
    rows = []
    with eval_mode(module):
        with no_grad():
            for name, layer in layers:
                x = layer(x)
                n = sum(p.size for p in layer.parameters())
                shape = str(("n",) + tuple(x.shape[1:])).replace("'", "")
                rows.append((name, repr(layer).split("\n")[0], shape, n))
    w = [max(len(r[i]) for r in rows + [("#", "layer", "output shape", 0)]) for i in range(3)]
    header = f"{'#':<{w[0]}}  {'layer':<{w[1]}}  {'output shape':<{w[2]}}  {'params':>10}"
    lines = [header, "-" * len(header)]
    lines += [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d:>10,}" for a, b, c, d in rows]
    total = module.num_parameters()
    lines += ["-" * len(header), f"total parameters: {total:,}"]
    out = "\n".join(lines)
    print(out, file=file or sys.stdout)
    return out
