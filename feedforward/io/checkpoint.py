"""Training checkpoints: everything a run needs to continue bit-identically, in the model file's container.

Weights, optimizer state (buffers as tensors, counters as JSON), schedule
states, the random generators' states (the loop's and any inside the model,
as JSON), the history and the epoch. Written atomically like model files;
read with the same bounded, checksummed reader, and every field checked.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from .._rng import rng_from_json, rng_state_to_json
from .._validation import Int, check_int
from ..backend import to_numpy
from ..nn.module import Module
from .container import read_container, write_container
from .host import is_array
from .model import architecture, load_params, rebuild
from .schema import check_field, check_keys

__all__ = ["save_checkpoint", "load_checkpoint", "restore_model_rngs", "load_params_into", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "feedforward.checkpoint"
CHECKPOINT_VERSION = 2  # the architecture inside is a model file's, version 2
READABLE_VERSIONS = (1, 2)
_KEYS = {
    "format", "version", "sha256", "epoch", "param_names", "architecture", "model_rngs", "optimizer",
    "history", "rng", "lr_schedule", "batch_schedule", "extra",
}


def _module_rngs(model: Module) -> dict:
    """Every ``np.random.Generator`` attribute of ``model``'s modules (e.g. RReLU's), by dotted name."""
    out = {}
    for mname, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                out[f"{mname}.{attr}" if mname else attr] = value
    return out


def save_checkpoint(
    path,
    model: Module,
    *,
    optimizer=None,
    epoch: int = 0,
    history=None,
    rng=None,
    lr_schedule=None,
    batch_schedule=None,
    extra: dict | None = None,
    extra_arrays: dict | None = None,
) -> None:
    """Write everything needed to continue training exactly, atomically.

    Parameters
    ----------
    path : str or PathLike
    model : Module
        Its parameters (and the states of any random generators inside it, e.g. RReLU's).
    optimizer : Optimizer, optional
        Its ``state_dict()`` (buffers as tensors, the rest as JSON).
    epoch : int
        Epochs completed.
    history : History, optional
    rng : np.random.Generator, optional
        The training loop's generator (shuffling, sampling).
    lr_schedule, batch_schedule : optional
        Objects with ``state_dict()``.
    extra : dict, optional
        More JSON-able state. ``extra_arrays``: more arrays, by name.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint expects a Module, got {type(model).__name__}")
    epoch = check_int(epoch, "epoch", 0)
    # Host copies: a checkpoint written on a GPU resumes on any machine.
    tensors = {f"model/{n}": to_numpy(p.data) for n, p in model.named_parameters()}
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": epoch, "param_names": list(tensors)}
    try:
        doc["architecture"] = architecture(model)
    except (TypeError, ValueError):
        doc["architecture"] = None  # a custom model: weights by name only
    doc["model_rngs"] = {k: rng_state_to_json(g) for k, g in _module_rngs(model).items()}
    doc["optimizer"] = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        counters = []
        for i, s in enumerate(sd["state"]):
            c = {}
            for k, v in s.items():
                if is_array(v):
                    tensors[f"optimizer/{i}/{k}"] = to_numpy(v)
                else:
                    c[k] = v
            counters.append(c)
        doc["optimizer"] = {
            "type": sd["type"], "hyper": sd["hyper"], "step_count": sd["step_count"], "counters": counters,
        }
    doc["history"] = None if history is None else history.to_dict()
    doc["rng"] = None if rng is None else rng_state_to_json(rng)
    doc["lr_schedule"] = None if lr_schedule is None else lr_schedule.state_dict()
    doc["batch_schedule"] = None if batch_schedule is None else batch_schedule.state_dict()
    doc["extra"] = extra
    for k, v in (extra_arrays or {}).items():
        tensors[f"extra/{k}"] = to_numpy(v) if is_array(v) else np.asarray(v)
    write_container(path, tensors, doc)


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    dict
        ``model_state`` (OrderedDict name -> array), ``architecture`` (dict or
        None), ``model`` (the rebuilt model when the architecture is known, else
        None), ``model_rngs`` (name -> JSON state), ``optimizer`` (a
        ``state_dict`` or None), ``epoch``, ``history`` (a ``History`` or None),
        ``rng`` (a Generator in the saved state, or None), ``lr_schedule``,
        ``batch_schedule`` (state dicts), ``extra``, ``extra_arrays``.
    """
    tensors, doc, _ = read_container(path, CHECKPOINT_FORMAT, READABLE_VERSIONS)
    name = os.path.basename(os.fspath(path))
    check_keys(doc, _KEYS, _KEYS, f"{name}: checkpoint")
    epoch = check_field(Int(0), doc["epoch"], f"{name}: epoch")
    names = doc["param_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) and n.startswith("model/") for n in names):
        raise ValueError(f"{name}: param_names must be a list of 'model/...' names")
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ValueError(f"{name}: missing tensors {missing}")
    model_state = OrderedDict((n[len("model/") :], tensors[n]) for n in names)
    model = None
    if doc["architecture"] is not None:
        weights = {k: v for k, v in tensors.items() if k.startswith("model/")}
        model = rebuild(doc["architecture"], weights, "model/", name, doc["version"])
    if not isinstance(doc["model_rngs"], dict):
        raise ValueError(f"{name}: model_rngs must be an object")
    for key, state in doc["model_rngs"].items():
        try:
            rng_from_json(state)
        except ValueError as exc:
            raise ValueError(f"{name}: model_rngs[{key!r}]: {exc}") from None
    optimizer = _optimizer_state(name, doc["optimizer"], tensors)
    from ..training.history import History  # only for a file that has passed the checks so far

    try:
        history = None if doc["history"] is None else History.from_dict(doc["history"])
        rng = None if doc["rng"] is None else rng_from_json(doc["rng"])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    for key in ("lr_schedule", "batch_schedule"):
        if doc[key] is not None and not isinstance(doc[key], dict):
            raise ValueError(f"{name}: {key} state must be an object")
    extra_arrays = {k[len("extra/") :]: v for k, v in tensors.items() if k.startswith("extra/")}
    known = set(names) | {k for k in tensors if k.startswith(("optimizer/", "extra/"))}
    unknown = sorted(set(tensors) - known)
    if unknown:
        raise ValueError(f"{name}: unexpected tensors {unknown}")
    return {
        "model_state": model_state,
        "architecture": doc["architecture"],
        "model": model,
        "model_rngs": doc["model_rngs"],
        "optimizer": optimizer,
        "epoch": epoch,
        "history": history,
        "rng": rng,
        "lr_schedule": doc["lr_schedule"],
        "batch_schedule": doc["batch_schedule"],
        "extra": doc["extra"],
        "extra_arrays": extra_arrays,
    }


def _optimizer_state(name: str, o, tensors: dict):
    if o is None:
        return None
    if not isinstance(o, dict) or set(o) != {"type", "hyper", "step_count", "counters"}:
        raise ValueError(f"{name}: optimizer must have type, hyper, step_count and counters")
    if not isinstance(o["type"], str):
        raise ValueError(f"{name}: optimizer type must be a string, got {o['type']!r}")
    check_field(Int(0), o["step_count"], f"{name}: optimizer step_count")
    if not isinstance(o["counters"], list) or not all(isinstance(c, dict) for c in o["counters"]):
        raise ValueError(f"{name}: optimizer counters must be a list of objects")
    if not isinstance(o["hyper"], dict):
        raise ValueError(f"{name}: optimizer hyper must be an object")
    state = [dict(c) for c in o["counters"]]
    for key, arr in tensors.items():
        if key.startswith("optimizer/"):
            parts = key.split("/")
            if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(state):
                raise ValueError(f"{name}: unexpected optimizer tensor {key!r}")
            state[int(parts[1])][parts[2]] = arr
    return {"type": o["type"], "hyper": o["hyper"], "step_count": o["step_count"], "state": state}


def restore_model_rngs(model: Module, states: dict) -> None:
    """Put saved generator states (from :func:`load_checkpoint`'s ``model_rngs``) back into ``model``."""
    current = _module_rngs(model)
    if set(current) != set(states):
        raise ValueError(f"checkpoint has random generators {sorted(states)}, the model has {sorted(current)}")
    for key, gen in current.items():
        new = rng_from_json(states[key], gen)
        if new is not gen:  # a different bit generator type: replace the attribute
            mname, _, attr = key.rpartition(".")
            module = dict(model.named_modules())[mname] if mname else model
            setattr(module, attr, new)


def load_params_into(model: Module, state: dict, where: str = "checkpoint") -> None:
    """Copy ``state`` (name -> array) into ``model``'s parameters in place; strict names, shapes, dtypes."""
    load_params(model, dict(state), "", where)
