"""PyTorch modules from ff models and back: ``to_torch`` / ``from_torch`` (L-IO-2).

An ff ``MLP`` or ``Sequential`` of ``Linear`` layers and registered hidden units
becomes a ``torch.nn.Sequential`` computing the same pre-activation ``z`` (the
output unit is not a layer in ff; ``to_torch(model, mean=True)`` appends its mean,
``Softmax`` or ``Sigmoid``). The parameter names are then torch's own: ff's
``layers.2.weight`` of shape ``(in, out)`` (``h = x W + b``) is torch's
``2.weight`` of shape ``(out, in)`` (``h = x W^T + b``), so the weight is
transposed and every ``layers.`` dropped.

:data:`TORCH_UNITS` pairs each ff unit with its torch module, in both directions;
a unit registered in :mod:`feedforward.nn.activation` without an entry here is
refused by name (and the contract test lists it). ff's ``|z|`` unit has no torch
module, so :func:`torch_abs` provides one, which ``from_torch`` reads back.

PyTorch is imported on first use: ``pip install "feedforward[torch]"``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..io.host import host_copy
from ..nn import activation as A
from ..nn.linear import Linear
from ..nn.mlp import MLP
from ..nn.module import Module, Sequential
from ..nn.output import Bernoulli, Categorical, OutputUnit, get_output

__all__ = ["to_torch", "from_torch", "torch_abs", "TORCH_UNITS", "need_torch", "torch_name", "ff_name"]


def need_torch():
    """``torch``, or an ImportError saying how to install it (it is an optional extra)."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError('ff.interop needs PyTorch for this: pip install "feedforward[torch]"') from exc
    return torch


@functools.cache
def torch_abs():
    """The torch module class for ff's ``abs`` unit (``|z|``, the generalised ReLU with a = -1)."""
    torch = need_torch()

    class AbsRectify(torch.nn.Module):
        """``|z|``: ff's ``abs`` hidden unit as a torch module."""

        def forward(self, z):
            return torch.abs(z)

    return AbsRectify


def _prelu_to_torch(unit, nn, torch):
    m = nn.PReLU(unit.slopes, dtype=getattr(torch, unit.weight.data.dtype.name))
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(unit.weight.data.copy()))
    return m


def _prelu_from_torch(m, rng):
    w = _numpy(m.weight, "PReLU.weight")
    unit = A.PReLU(num_parameters=int(w.shape[0]), dtype=w.dtype)
    np.copyto(unit.weight.data, w)
    return unit


# ff unit name -> (torch class name in torch.nn, ff unit -> torch module, torch module -> ff unit).
TORCH_UNITS = {
    "relu": ("ReLU", lambda u, nn, t: nn.ReLU(), lambda m, rng: A.ReLU()),
    "abs": (None, lambda u, nn, t: torch_abs()(), lambda m, rng: A.AbsRectify()),
    "leaky_relu": ("LeakyReLU", lambda u, nn, t: nn.LeakyReLU(u.negative_slope),
                   lambda m, rng: A.LeakyReLU(float(m.negative_slope))),
    "prelu": ("PReLU", _prelu_to_torch, _prelu_from_torch),
    # Agrees in evaluation (the slope is the interval's mean); training draws from different generators.
    "rrelu": ("RReLU", lambda u, nn, t: nn.RReLU(u.lower, u.upper),
              lambda m, rng: A.RReLU(float(m.lower), float(m.upper), rng=rng)),
    "elu": ("ELU", lambda u, nn, t: nn.ELU(u.alpha), lambda m, rng: A.ELU(float(m.alpha))),
    "sigmoid": ("Sigmoid", lambda u, nn, t: nn.Sigmoid(), lambda m, rng: A.Sigmoid()),
    "tanh": ("Tanh", lambda u, nn, t: nn.Tanh(), lambda m, rng: A.Tanh()),
    "identity": ("Identity", lambda u, nn, t: nn.Identity(), lambda m, rng: A.Identity()),
}


def torch_name(ff_param_name: str) -> str:
    """ff's parameter name as torch's: ``layers.1.layers.0.weight`` -> ``1.0.weight``."""
    return ".".join(t for t in ff_param_name.split(".") if t != "layers")


def ff_name(torch_param_name: str) -> str:
    """torch's parameter name as ff's: ``1.0.weight`` -> ``layers.1.layers.0.weight``."""
    return ".".join(f"layers.{t}" if t.isdigit() else t for t in torch_param_name.split("."))


def _numpy(t, where) -> np.ndarray:
    a = t.detach().cpu().numpy()
    if a.dtype not in (np.float32, np.float64):
        raise ValueError(f"from_torch: {where} has dtype {a.dtype}; ff models are float32 or float64 "
                         "(convert with module.float() or module.double())")
    return a.copy()


# ------------------------------------------------------------------ ff -> torch
def _layer_to_torch(layer, nn, torch, where):
    if type(layer) is Linear:
        w = layer.weight.data
        m = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                      dtype=getattr(torch, w.dtype.name))
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            if layer.bias is not None:
                m.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        return m
    if type(layer) in (Sequential, MLP):
        return nn.Sequential(*(_layer_to_torch(m, nn, torch, f"{where}.{i}") for i, m in enumerate(layer.layers)))
    if isinstance(layer, A.Unit) and A.UNITS.get(type(layer).name) is type(layer):
        if layer.name not in TORCH_UNITS:
            raise TypeError(f"to_torch: layer {where}: the unit {layer.name!r} has no torch counterpart in "
                            "ff.interop.TORCH_UNITS")
        return TORCH_UNITS[layer.name][1](layer, nn, torch)
    raise TypeError(
        f"to_torch: layer {where} is a {type(layer).__name__}; supported: Linear, Sequential and the "
        f"registered hidden units {sorted(TORCH_UNITS)}"
    )


def to_torch(model: Module, *, mean: bool = False):
    """A ``torch.nn.Sequential`` computing the same ``z`` as ``model`` (or its mean).

    Parameters
    ----------
    model : ff.nn.MLP or ff.nn.Sequential
        Of ``Linear`` layers and registered hidden units, float32 or float64.
    mean : bool
        Append the output unit's mean (``Softmax(dim=-1)`` for a categorical output,
        ``Sigmoid`` for a Bernoulli one, nothing for a Gaussian): the module then
        returns probabilities, as ``model.predict_proba``.

    Returns
    -------
    torch.nn.Sequential
        Input ``(n, in_features)``, output ``(n, out_features)``; parameters named
        ``"0.weight"`` of shape ``(out, in)``, in ``model``'s dtype, in its
        train/eval mode. The weights are copies.

    Examples
    --------
    >>> import numpy as np, torch, feedforward as ff
    >>> from feedforward.interop import to_torch
    >>> net = ff.nn.MLP([3, 5, 2], activation="tanh", output="categorical", rng=0).eval()
    >>> x = np.ones((4, 3), np.float32)
    >>> bool(np.allclose(to_torch(net)(torch.from_numpy(x)).detach().numpy(), net(x).data, atol=1e-6))
    True
    """
    torch = need_torch()
    if not isinstance(model, Module):
        raise TypeError(f"to_torch expects an ff Module, got {type(model).__name__}")
    if type(model) not in (MLP, Sequential):
        raise TypeError(f"to_torch supports ff.nn.MLP and ff.nn.Sequential models, got {type(model).__name__}")
    model = host_copy(model)  # a model on a GPU: its weights come to the host once, explicitly
    seq = _layer_to_torch(model, torch.nn, torch, "model")
    if mean:
        output = getattr(model, "output", None)
        if not isinstance(output, OutputUnit):
            raise ValueError("to_torch(mean=True) needs a model with an output unit "
                             "(e.g. MLP(..., output='categorical'))")
        if type(output) is Categorical:
            seq.append(torch.nn.Softmax(dim=-1))
        elif type(output) is Bernoulli:
            seq.append(torch.nn.Sigmoid())
    return seq.train(bool(model.training))


# ------------------------------------------------------------------ torch -> ff
def _from_torch_unit(m, nn, rng):
    for cls_name, _, back in TORCH_UNITS.values():
        cls = torch_abs() if cls_name is None else getattr(nn, cls_name)
        if type(m) is cls:
            return back(m, rng)
    return None


def _layer_from_torch(m, nn, rng, where):
    if type(m) is nn.Linear:
        w = _numpy(m.weight, f"{where}.weight")
        layer = Linear(m.in_features, m.out_features, bias=m.bias is not None, init="zeros", dtype=w.dtype)
        np.copyto(layer.weight.data, w.T)
        if m.bias is not None:
            np.copyto(layer.bias.data, _numpy(m.bias, f"{where}.bias").astype(w.dtype, copy=False))
        return layer
    if type(m) is nn.Sequential:
        return Sequential([_layer_from_torch(c, nn, rng, f"{where}.{i}") for i, c in enumerate(m)])
    unit = _from_torch_unit(m, nn, rng)
    if unit is None:
        names = sorted({"Linear", "Sequential", *(c for c, *_ in TORCH_UNITS.values() if c)})
        raise TypeError(
            f"from_torch: layer {where} is a {type(m).__name__}, which ff has no layer for; supported: {names}, "
            "ff.interop.torch_abs() and a final Softmax(dim=-1) (the categorical output unit)"
        )
    return unit


def _as_mlp(layers):
    """An ``MLP`` when ``layers`` is Linear, unit, Linear, ..., Linear with biases and matching sizes."""
    lin, units = layers[0::2], layers[1::2]
    if len(layers) % 2 == 0 or not all(type(m) is Linear and m.bias is not None for m in lin):
        return None
    if not all(isinstance(u, A.Unit) for u in units):
        return None
    if any(a.out_features != b.in_features for a, b in zip(lin, lin[1:])):
        raise ValueError(
            "from_torch: consecutive Linear layers do not fit: "
            + ", ".join(f"({m.in_features} -> {m.out_features})" for m in lin)
        )
    dtype = lin[0].weight.data.dtype
    if any(m.weight.data.dtype != dtype for m in lin):
        raise ValueError("from_torch: the Linear layers mix float32 and float64; convert with .float() or .double()")
    sizes = [lin[0].in_features] + [m.out_features for m in lin]
    model = MLP(sizes, activation=units, init="zeros", bias_init=0.0, rng=0, dtype=dtype)
    for ours, theirs in zip(model.linears, lin):
        np.copyto(ours.weight.data, theirs.weight.data)
        np.copyto(ours.bias.data, theirs.bias.data)
    return model


def from_torch(module, *, output=None, rng=None) -> Module:
    """An ff model computing what the ``torch.nn.Sequential`` ``module`` computes.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of ``Linear``, ``ReLU``, ``LeakyReLU``, ``PReLU``, ``RReLU`` (agrees in
        evaluation mode), ``ELU``, ``Sigmoid``, ``Tanh``, ``Identity``,
        :func:`torch_abs` and nested ``Sequential``; float32 or float64. A final
        ``Softmax(dim=-1)`` becomes the categorical output unit: the ff model then
        returns ``z`` and its ``predict_proba`` what the torch module returned.
    output : str or OutputUnit, optional
        The output unit to attach (``"categorical"``, ``"bernoulli"``, ``"gaussian"``).
    rng : int, Generator or None
        For an ``RReLU``'s slopes in training mode.

    Returns
    -------
    ff.nn.MLP when the layers are Linear, unit, ..., Linear with biases; else ff.nn.Sequential.
    The weights are copies; the train/eval mode is ``module``'s.
    """
    torch = need_torch()
    nn = torch.nn
    if type(module) is not nn.Sequential:
        raise TypeError(
            f"from_torch expects a torch.nn.Sequential, got {type(module).__name__}; a custom module "
            "converts through the Sequential it holds"
        )
    output = get_output(output)
    layers = list(module)
    if layers and type(layers[-1]) is nn.Softmax:
        if layers[-1].dim not in (-1, 1):
            raise ValueError(f"from_torch: the final Softmax must be over the features (dim=-1), "
                             f"got dim={layers[-1].dim}")
        if output is not None and type(output) is not Categorical:
            raise ValueError(f"from_torch: the module ends in a Softmax (categorical) but output={output.name!r}")
        output, layers = Categorical(), layers[:-1]
    if not layers:
        raise ValueError("from_torch: the Sequential has no layers to convert")
    ff_layers = [_layer_from_torch(m, nn, rng, str(i)) for i, m in enumerate(layers)]
    model = _as_mlp(ff_layers) or Sequential(ff_layers)
    model.output = output
    return model.train(bool(module.training))
