"""ONNX export: ``to_onnx(model, path)``, the output unit's mean as the graph's output (L-IO-2).

The graph is built node by node with the ``onnx`` package's helpers (no torch,
no tracing): each ``Linear`` is a ``Gemm`` with ff's ``(in, out)`` weight as it is,
each hidden unit its ONNX operator, and the output unit's mean ends the graph:
``Softmax(axis=-1)`` for a categorical output (the output is named
``probabilities``), ``Sigmoid`` for a Bernoulli one (``probabilities``: p(y=1) per
column), nothing for a Gaussian (``mean``); a model without an output unit
outputs ``z``. The input ``x`` has shape ``(batch, in_features)`` with a free
batch size, in the model's dtype. Optional affine steps put a training-time
scaling into the graph, so it reads raw inputs: ``(x - input_mean) / input_scale``
before the network, ``mean * target_scale + target_mean`` after a Gaussian output.

The export is the evaluation-mode network: RReLU's slope is the interval's mean.
The model is checked with ``onnx.checker.check_model(full_check=True)`` before it is
written; opset 17 and IR version 8, which onnxruntime reads from 1.12 on.

Needs the ``onnx`` extra: ``pip install "feedforward[onnx]"`` (onnxruntime runs the result).
"""

from __future__ import annotations

import numpy as np

from ..io.files import atomic_write_bytes
from ..io.host import host_copy
from ..nn import activation as A
from ..nn.linear import Linear
from ..nn.mlp import MLP
from ..nn.module import Module, Sequential
from ..nn.output import Bernoulli, Categorical, Gaussian

__all__ = ["to_onnx", "export_onnx_file", "need_onnx", "OPSET", "IR_VERSION"]

OPSET = 17
IR_VERSION = 8


def need_onnx():
    """The ``onnx`` package, or an ImportError saying how to install it (an optional extra)."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('ONNX export needs the onnx package: pip install "feedforward[onnx]"') from exc
    return onnx


class _Graph:
    """Nodes and initializers appended in order; ``self.x`` is the name of the current value."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes, self.inits, self.x = [], [], "x"

    def const(self, name, array) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=self.dtype), name))
        return name

    def op(self, op_type, inputs, name, **attrs) -> str:
        out = f"{name}_out"
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def apply(self, op_type, name, *extra, **attrs) -> None:
        self.x = self.op(op_type, [self.x, *extra], name, **attrs)


def _rectifier(g, name, slope):
    """``max(0, z) + slope * min(0, z)`` for a fixed slope."""
    if g.dtype == np.float32:
        g.apply("LeakyRelu", name, alpha=float(slope))
    else:
        # An ONNX float attribute is 32-bit: a float64 model's slope goes in as a tensor of its dtype.
        g.apply("PRelu", name, g.const(f"{name}_slope", [slope]))


def _elu(g, name, alpha):
    if g.dtype == np.float32:
        g.apply("Elu", name, alpha=float(alpha))
        return
    # onnxruntime has no float64 Elu kernel: z if z > 0 else alpha (e^z - 1), from ops it has.
    x = g.x
    positive = g.op("Greater", [x, g.const(f"{name}_zero", 0.0)], f"{name}_positive")
    expm1 = g.op("Sub", [g.op("Exp", [x], f"{name}_exp"), g.const(f"{name}_one", 1.0)], f"{name}_expm1")
    negative = g.op("Mul", [expm1, g.const(f"{name}_alpha", alpha)], f"{name}_negative")
    g.x = g.op("Where", [positive, x, negative], name)


# Registry name -> how the unit goes into the graph (g, node name, unit).
ONNX_UNITS = {
    "relu": lambda g, n, u: g.apply("Relu", n),
    "abs": lambda g, n, u: g.apply("Abs", n),
    "leaky_relu": lambda g, n, u: _rectifier(g, n, u.negative_slope),
    "prelu": lambda g, n, u: g.apply("PRelu", n, g.const(f"{n}_slope", u.weight.data)),
    "rrelu": lambda g, n, u: _rectifier(g, n, (u.lower + u.upper) / 2),  # evaluation mode
    "elu": lambda g, n, u: _elu(g, n, u.alpha),
    "sigmoid": lambda g, n, u: g.apply("Sigmoid", n),
    "tanh": lambda g, n, u: g.apply("Tanh", n),
    "identity": lambda g, n, u: None,
}


def _add_layer(g, layer, where):
    if type(layer) is Linear:
        inputs = [g.const(f"{where}.weight", layer.weight.data)]
        if layer.bias is not None:
            inputs.append(g.const(f"{where}.bias", layer.bias.data))
        g.apply("Gemm", where, *inputs)
    elif type(layer) in (Sequential, MLP):
        for i, m in enumerate(layer.layers):
            _add_layer(g, m, f"{where}.{i}" if where else str(i))
    elif isinstance(layer, A.Unit) and A.UNITS.get(type(layer).name) is type(layer) and layer.name in ONNX_UNITS:
        ONNX_UNITS[layer.name](g, where, layer)
    else:
        raise TypeError(f"to_onnx: layer {where} is a {type(layer).__name__}; supported: Linear, Sequential and "
                        f"the hidden units {sorted(ONNX_UNITS)}")


def _vector(value, n, what):
    if value is None:
        return None
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape not in ((1,), (n,)) or not np.isfinite(v).all():
        raise ValueError(f"to_onnx: {what} must be {n} (or 1) finite numbers, got shape {np.shape(value)}")
    return v


def _in_features(model) -> int:
    first = next((m for m in model.modules() if type(m) is Linear), None)
    if first is None:
        raise ValueError("to_onnx: the model has no Linear layer, so its input size is unknown")
    return first.in_features


def to_onnx(model: Module, path=None, *, input_mean=None, input_scale=None, target_mean=None, target_scale=None,
            metadata=None):
    """The ONNX model of ``model`` (evaluation mode), checked, and written to ``path`` when given.

    Parameters
    ----------
    model : ff.nn.MLP or ff.nn.Sequential
        Of ``Linear`` layers and registered hidden units, with its output unit (or none:
        the graph outputs ``z``).
    path : str or PathLike, optional
        Where to write it (atomically), usually ``*.onnx``.
    input_mean, input_scale : array of shape (in_features,), optional
        Standardise raw inputs in the graph: ``(x - input_mean) / input_scale``.
    target_mean, target_scale : float, optional
        For a Gaussian output: return ``mean * target_scale + target_mean``.
    metadata : dict of str to str, optional
        Stored as the model's ``metadata_props`` (class names, feature names, ...).

    Returns
    -------
    onnx.ModelProto
        Input ``x`` of shape ``(batch, in_features)``; one output, ``probabilities``
        ``(batch, classes)`` / ``(batch, labels)``, ``mean`` or ``z``.

    Examples
    --------
    >>> import numpy as np, onnxruntime, feedforward as ff
    >>> from feedforward.interop import to_onnx
    >>> net = ff.nn.MLP([3, 5, 2], output="categorical", rng=0)
    >>> sess = onnxruntime.InferenceSession(to_onnx(net).SerializeToString())
    >>> x = np.ones((4, 3), np.float32)
    >>> bool(np.allclose(sess.run(None, {"x": x})[0], net.predict_proba(x), atol=1e-6))
    True
    """
    onnx = need_onnx()
    if type(model) not in (MLP, Sequential):
        raise TypeError(f"to_onnx supports ff.nn.MLP and ff.nn.Sequential models, got {type(model).__name__}")
    model = host_copy(model)  # a model on a GPU: its weights come to the host once, explicitly
    dtypes = {p.data.dtype for p in model.parameters()}
    if len(dtypes) != 1:
        raise ValueError(f"to_onnx: the parameters mix dtypes {sorted(d.name for d in dtypes)}")
    dtype = dtypes.pop()
    g = _Graph(onnx, dtype)
    n_in = _in_features(model)
    mean, scale = _vector(input_mean, n_in, "input_mean"), _vector(input_scale, n_in, "input_scale")
    if mean is not None:
        g.apply("Sub", "input_mean", g.const("input_mean_value", mean))
    if scale is not None:
        if (scale == 0).any():
            raise ValueError("to_onnx: input_scale must not contain 0")
        g.apply("Div", "input_scale", g.const("input_scale_value", scale))
    _add_layer(g, model, "")
    output = getattr(model, "output", None)
    if output is not None and type(output) not in (Categorical, Bernoulli, Gaussian):
        raise TypeError(f"to_onnx: unknown output unit {output!r}; expected categorical, bernoulli or gaussian")
    out_name = "z" if output is None else "mean" if type(output) is Gaussian else "probabilities"
    if type(output) is Categorical:
        g.apply("Softmax", "output_mean", axis=-1)
    elif type(output) is Bernoulli:
        g.apply("Sigmoid", "output_mean")
    if target_mean is not None or target_scale is not None:
        if type(output) is not Gaussian:
            raise ValueError("to_onnx: target_mean / target_scale apply to a Gaussian (regression) output only")
        if target_scale is not None:
            g.apply("Mul", "target_scale", g.const("target_scale_value", [_vector(target_scale, 1, "target_scale")[0]]))
        if target_mean is not None:
            g.apply("Add", "target_mean", g.const("target_mean_value", [_vector(target_mean, 1, "target_mean")[0]]))
    g.nodes.append(onnx.helper.make_node("Identity", [g.x], [out_name], name="output"))
    n_out = _out_features(model)
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    graph = onnx.helper.make_graph(
        g.nodes, "feedforward",
        [onnx.helper.make_tensor_value_info("x", elem, ["batch", n_in])],
        [onnx.helper.make_tensor_value_info(out_name, elem, ["batch", n_out])],
        g.inits,
    )
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="feedforward", doc_string=repr(model))
    proto.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"to_onnx: metadata must map strings to strings, got {key!r}: {type(value).__name__}")
    if metadata:
        onnx.helper.set_model_props(proto, dict(metadata))
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write_bytes(path, proto.SerializeToString())
    return proto


def _out_features(model) -> int:
    last = [m for m in model.modules() if type(m) is Linear][-1]
    return last.out_features


def export_onnx_file(model_path, out_path):
    """``feedforward export MODEL --onnx OUT``: a model file to an ONNX file that reads raw rows.

    A model written by ``feedforward train`` carries its training record: the feature
    scaling (and a regression target's) goes into the graph, the feature and class names
    into its metadata. A bare ``ff.save`` file is exported as it is. Returns the
    ``onnx.ModelProto``.
    """
    import json

    from ..cli.record import load_bundle

    model, record = load_bundle(str(model_path), need_record=False)
    if record is None:
        return to_onnx(model, out_path)
    regression = record["task"] == "regression"
    return to_onnx(
        model, out_path, input_mean=record["x_mean"], input_scale=record["x_scale"],
        target_mean=record["y_mean"] if regression else None, target_scale=record["y_scale"] if regression else None,
        metadata={"feature_names": json.dumps(record["feature_names"]),
                  "target_names": json.dumps(record["target_names"]), "task": record["task"]},
    )
