"""safetensors files in torch's layout: ``save_torch`` writes one, ``load_torch`` reads one (L-IO-2).

``save_torch(model, path)`` writes ``to_torch(model).state_dict()``: torch's names
(``"0.weight"``) and shapes (``(out, in)``), so ``torch.nn.Sequential(...).load_state_dict(
safetensors.torch.load_file(path))`` takes it as it is. ff's architecture rides along
in the metadata entry ``"feedforward.torch"``, so :func:`load_torch` rebuilds the
model from the file alone.

``load_torch`` also reads a file torch wrote (``safetensors.torch.save_file(
seq.state_dict(), path)``), which names only the tensors: the Linear layers and
PReLU slopes follow from the names and shapes, and the parameter-free units between
them (ReLU, Tanh, ...) come from ``activation=``. The read is bounded as ff's own
model files are (:mod:`feedforward.io.container`): a regular file, the header's length
checked first, each tensor's byte range checked against the file before anything is
read, then the model checked by :func:`feedforward.io.model.rebuild` before it is built.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ..io.container import need_safetensors, parse_json, read_safetensors
from ..io.files import atomic_write_bytes
from ..io.host import host_copy
from ..io.model import architecture, rebuild
from ..io.schema import linear_shapes, validate_spec
from ..nn.activation import ACTIVATIONS, Unit
from ..nn.output import OUTPUTS, get_output
from .torch import ff_name, torch_name

__all__ = ["save_torch", "load_torch", "read_safetensors", "TORCH_META_KEY", "TORCH_FORMAT"]

TORCH_META_KEY = "feedforward.torch"
TORCH_FORMAT = "feedforward.torch"
TORCH_VERSION = 1
_INDEXED = re.compile(r"^(\d+)\.(weight|bias)$")


def save_torch(model, path) -> None:
    """Write ``model``'s parameters in torch's layout, with ff's architecture in the metadata.

    Parameters
    ----------
    model : ff.nn.MLP or ff.nn.Sequential
        What :func:`feedforward.save` accepts.
    path : str or PathLike
        Written atomically; usually ``*.safetensors``.

    Examples
    --------
    >>> import os, tempfile, torch, safetensors.torch, feedforward as ff
    >>> from feedforward.interop import save_torch
    >>> net = ff.nn.MLP([3, 4, 2], activation="relu", rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> save_torch(net, path)
    >>> seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> seq.load_state_dict(safetensors.torch.load_file(path))
    <All keys matched successfully>
    """
    arch = architecture(model)  # refuses what ff cannot describe, with the layer's name
    model = host_copy(model)  # a model on a GPU: its weights come to the host once, explicitly
    linear = {name for name, shape in linear_shapes(arch["model"], "", []) if len(shape) == 2}
    tensors = {}
    for name, p in model.named_parameters():
        if not np.isfinite(p.data).all():
            raise ValueError(f"save_torch: parameter {name!r} contains NaN or inf; refusing to save a broken model")
        tensors[torch_name(name)] = np.ascontiguousarray(p.data.T if name in linear else p.data)
    doc = {"format": TORCH_FORMAT, "version": TORCH_VERSION, "architecture": arch}
    st = need_safetensors()
    atomic_write_bytes(path, st.save(tensors, metadata={TORCH_META_KEY: json.dumps(doc, separators=(",", ":"))}))


def _unit_spec(spec, where) -> dict:
    """The architecture JSON of one parameter-free hidden unit given as a name or a Unit."""
    if isinstance(spec, Unit):
        return {"type": type(spec).name, "config": spec.config()}
    if isinstance(spec, str) and spec.lower() in ACTIVATIONS:
        cls = ACTIVATIONS[spec.lower()]
        return {"type": cls.name, "config": cls.build().config()}
    raise ValueError(f"load_torch: activation for {where} must be a hidden unit's name "
                     f"({sorted(ACTIVATIONS)}) or an ff unit, got {spec!r}")


def _infer_architecture(tensors, activation, output, name) -> dict:
    """The architecture of a flat torch Sequential from its tensor names and shapes alone."""
    layers, extra = {}, []
    for key, arr in tensors.items():
        m = _INDEXED.match(key)
        if m is None:
            extra.append(key)
            continue
        layers.setdefault(int(m[1]), {})[m[2]] = arr
    if extra or not layers:
        raise ValueError(
            f"{name}: expected the tensors of a flat torch.nn.Sequential ('0.weight', '0.bias', ...), found "
            f"{sorted(extra)[:5] or 'none'}; a file written by ff.interop.save_torch also carries its architecture"
        )
    gaps = [i for i in range(max(layers)) if i not in layers]
    units = [activation] * len(gaps) if not isinstance(activation, (list, tuple)) else list(activation)
    if gaps and activation is None:
        raise ValueError(f"{name}: the file does not say which units sit at positions {gaps} of the Sequential "
                         "(it has no feedforward metadata): pass activation='relu' (or a list, one per position)")
    if len(units) != len(gaps):
        raise ValueError(f"{name}: {len(units)} activations for the {len(gaps)} parameter-free positions {gaps}")
    specs, units = [], iter(units)
    for i in range(max(layers) + 1):
        t = layers.get(i)
        if t is None:
            specs.append(_unit_spec(next(units), f"position {i}"))
        elif t["weight"].ndim == 2:
            out_f, in_f = t["weight"].shape
            specs.append({"type": "Linear", "in_features": in_f, "out_features": out_f, "bias": "bias" in t})
        elif t["weight"].ndim == 1 and "bias" not in t:
            specs.append({"type": "prelu", "config": {"num_parameters": int(t["weight"].shape[0]), "init": 0.25}})
        else:
            raise ValueError(f"{name}: layer {i} has tensors {sorted(t)} of shapes "
                             f"{[v.shape for v in t.values()]}: neither a Linear nor a PReLU")
    dtypes = sorted({str(a.dtype) for a in tensors.values()})
    if len(dtypes) != 1:
        raise ValueError(f"{name}: the tensors mix dtypes {dtypes}; ff models are all float32 or all float64")
    model = {"type": "Sequential", "layers": specs}
    lin = specs[0::2]
    if len(specs) % 2 and all(s["type"] == "Linear" and s["bias"] for s in lin) and all(
            s["type"] != "Linear" for s in specs[1::2]):
        sizes = [lin[0]["in_features"]] + [s["out_features"] for s in lin]
        model = {"type": "MLP", "sizes": sizes, "layers": specs}
    return {"model": model, "output": output, "dtype": dtypes[0]}


def load_torch(path, *, activation=None, output=None):
    """An ff model from a safetensors file in torch's layout (by :func:`save_torch` or by torch).

    Parameters
    ----------
    path : str or PathLike
        A regular file; read within the bounds its header states.
    activation : str, Unit or list, optional
        For a file without ff's metadata: the hidden unit at each parameter-free
        position of the Sequential (one for all, or one per position). Ignored for a
        file written by :func:`save_torch`.
    output : str, optional
        The output unit (``"categorical"``, ...); default: the one saved, else none.

    Returns
    -------
    ff.nn.MLP or ff.nn.Sequential

    A file that does not describe a model ff can build (other tensor names, a shape
    that does not match, a dtype other than float32/float64, NaN) is a ValueError
    naming the file and the tensor.
    """
    tensors, meta = read_safetensors(path)
    name = os.path.basename(os.fspath(path))
    if output is not None:
        output = get_output(output).name
    if TORCH_META_KEY in meta:
        doc = parse_json(meta[TORCH_META_KEY], f"{name}: the {TORCH_META_KEY!r} metadata")
        if not isinstance(doc, dict) or doc.get("format") != TORCH_FORMAT or doc.get("version") != TORCH_VERSION:
            raise ValueError(f"{name}: the {TORCH_META_KEY!r} metadata is not format {TORCH_FORMAT} version "
                             f"{TORCH_VERSION}")
        arch = doc.get("architecture")
        if isinstance(arch, dict) and output is not None:
            arch = {**arch, "output": output}
    else:
        arch = _infer_architecture(tensors, activation, output, name)
    if not isinstance(arch, dict) or not isinstance(arch.get("model"), dict):
        raise ValueError(f"{name}: the architecture must be a JSON object with a 'model' entry")
    if arch.get("output") is not None and arch["output"] not in OUTPUTS:
        raise ValueError(f"{name}: unknown output unit {arch['output']!r}; expected one of {sorted(OUTPUTS)}")
    try:
        validate_spec(arch["model"], "model", 0, [0])  # before walking it: depth and layer count bounded
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    linear = {n for n, shape in linear_shapes(arch["model"], "", []) if len(shape) == 2}
    ours = {}
    for key, arr in tensors.items():
        fname = ff_name(key)
        # A 2-D Linear weight is (out, in) in torch; anything else of the wrong rank is rebuild()'s to refuse.
        ours[fname] = np.ascontiguousarray(arr.T) if fname in linear and arr.ndim == 2 else arr
    return rebuild(arch, ours, "", name, 2)
