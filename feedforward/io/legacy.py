"""Model files of format version 1, written before the unit registry, read in version 2's terms.

Version 1 wrote a hidden unit as its class name with flat hyper-parameters
(``{"type": "LeakyReLU", "negative_slope": 0.2}``), RReLU's generator as
``"rng_state"`` and PReLU without ``"init"``. Version 2 writes the registry
name with ``"config"`` and ``"state"``. The translation only rearranges; the
result is checked like any version 2 file.
"""

from __future__ import annotations

import inspect

from ..nn.activation import UNITS
from .schema import MAX_DEPTH

__all__ = ["upgrade_v1"]


def upgrade_v1(arch):
    """A version-1 architecture in version 2's terms (anything malformed is left for the checks)."""
    if not isinstance(arch, dict) or not isinstance(arch.get("model"), dict):
        return arch
    return {**arch, "model": _upgrade_layer(arch["model"], 0)}


def _upgrade_layer(spec, depth: int):
    if not isinstance(spec, dict) or depth > MAX_DEPTH:
        return spec
    kind = spec.get("type")
    if kind in ("Sequential", "MLP") and isinstance(spec.get("layers"), list):
        return {**spec, "layers": [_upgrade_layer(s, depth + 1) for s in spec["layers"]]}
    by_class = {cls.__name__: cls for cls in UNITS.values()}
    cls = by_class.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return spec
    # Version 1: {"type": "LeakyReLU", "negative_slope": 0.2}; RReLU's generator as "rng_state";
    # PReLU without "init" (only the starting slope, the slopes are in the weights).
    config = {k: v for k, v in spec.items() if k not in ("type", "rng_state")}
    defaults = inspect.signature(cls.__init__).parameters
    for key in cls.hparams:
        if key not in config and key in defaults and defaults[key].default is not inspect.Parameter.empty:
            config[key] = defaults[key].default
    new = {"type": cls.name, "config": config}
    if "rng_state" in spec:
        new["state"] = {"rng": spec["rng_state"]}
    return new
