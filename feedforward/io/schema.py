"""The architecture JSON of a model file: what a valid one is, checked without building anything.

A layer spec is one of

- ``{"type": "Linear", "in_features": 4, "out_features": 3, "bias": true}``
- ``{"type": "Sequential", "layers": [...]}``, ``{"type": "MLP", "sizes": [...], "layers": [...]}``
- a hidden unit: ``{"type": <its registry name>, "config": {...}}``, plus ``"state"`` when it has one.

Every number goes through a :mod:`feedforward._validation` constraint; in a
file a wrong type is a bad value, so it is a ``ValueError`` naming the field
(``model.layers[0].in_features``). A unit's config is checked by the unit's
own declared constraints when it is built (``Unit.from_config``).
"""

from __future__ import annotations

from .._validation import Bool, Int, check_sizes
from ..nn.activation import UNITS

__all__ = ["check_field", "check_keys", "validate_spec", "linear_shapes", "MAX_DEPTH"]

MAX_LAYERS = 10_000
MAX_DEPTH = 32
MAX_WIDTH = 100_000_000
_WIDTH = Int(1, MAX_WIDTH)
_STRUCTURES = ("Linear", "Sequential", "MLP")


def check_field(constraint, value, where: str):
    """A field of a file through a validation constraint: in a file, a wrong type is a bad value too."""
    try:
        return constraint(value, where)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def check_keys(spec: dict, allowed, required, where: str) -> None:
    unknown = set(spec) - set(allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}")
    missing = set(required) - set(spec)
    if missing:
        raise ValueError(f"{where}: missing keys {sorted(missing)}")


def validate_spec(spec, where: str, depth: int, counter: list) -> None:
    """Check one layer spec (recursively) without building anything."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: layers nested deeper than {MAX_DEPTH}")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a layer must be a JSON object, got {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str):
        raise ValueError(f"{where}: layer 'type' must be a string, got {kind!r}")
    counter[0] += 1
    if counter[0] > MAX_LAYERS:
        raise ValueError(f"architecture has more than {MAX_LAYERS} layers")
    if kind == "Linear":
        keys = {"type", "in_features", "out_features", "bias"}
        check_keys(spec, keys, keys, where)
        check_field(_WIDTH, spec["in_features"], f"{where}.in_features")
        check_field(_WIDTH, spec["out_features"], f"{where}.out_features")
        check_field(Bool(), spec["bias"], f"{where}.bias")
    elif kind in ("Sequential", "MLP"):
        keys = {"type", "layers"} | ({"sizes"} if kind == "MLP" else set())
        check_keys(spec, keys, keys, where)
        layers = spec["layers"]
        if not isinstance(layers, list) or not layers:
            raise ValueError(f"{where}.layers must be a non-empty list")
        for i, sub in enumerate(layers):
            validate_spec(sub, f"{where}.layers[{i}]", depth + 1, counter)
        if kind == "MLP":
            _validate_mlp(spec, where)
    elif kind in UNITS:
        check_keys(spec, {"type", "config", "state"}, {"type", "config"}, where)
        if not isinstance(spec["config"], dict):
            raise ValueError(f"{where}.config must be a JSON object, got {type(spec['config']).__name__}")
        # The hyper-parameters' values are checked by the unit's own constraints (from_config).
    else:
        raise ValueError(
            f"{where}: unknown layer type {kind!r}; expected one of {[*_STRUCTURES, *sorted(UNITS)]}"
        )


def _validate_mlp(spec: dict, where: str) -> None:
    sizes = check_field(check_sizes, spec["sizes"], f"{where}.sizes")
    for i, s in enumerate(sizes):
        check_field(_WIDTH, s, f"{where}.sizes[{i}]")
    layers = spec["layers"]
    if len(layers) != 2 * len(sizes) - 3:
        raise ValueError(
            f"{where}: sizes {sizes} need {2 * len(sizes) - 3} layers (Linear, unit, ..., Linear), got {len(layers)}"
        )
    for k in range(len(sizes) - 1):
        lin = layers[2 * k]
        if lin["type"] != "Linear" or [lin["in_features"], lin["out_features"]] != sizes[k : k + 2] or not lin["bias"]:
            raise ValueError(
                f"{where}.layers[{2 * k}] must be Linear({sizes[k]}, {sizes[k + 1]}, bias=true), got {lin}"
            )
        if k < len(sizes) - 2 and layers[2 * k + 1]["type"] not in UNITS:
            raise ValueError(f"{where}.layers[{2 * k + 1}] must be a hidden unit, got {layers[2 * k + 1]['type']!r}")


def linear_shapes(spec: dict, prefix: str, out: list) -> list:
    """``(name, shape)`` of every Linear parameter: known before anything is built."""
    if spec["type"] == "Linear":
        out.append((prefix + "weight", (spec["in_features"], spec["out_features"])))
        if spec["bias"]:
            out.append((prefix + "bias", (spec["out_features"],)))
    elif spec["type"] in ("Sequential", "MLP"):
        for i, sub in enumerate(spec["layers"]):
            linear_shapes(sub, f"{prefix}layers.{i}.", out)
    return out
