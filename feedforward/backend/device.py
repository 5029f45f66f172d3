"""``Device``: where a tensor's array lives, spelled as in PyTorch (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""

from __future__ import annotations

import numbers

__all__ = ["Device", "device"]


class Device:
    """A device type and, for accelerators, an index (``None``: the current one).

    Compares equal to its spelling: ``t.device == "cuda"`` holds on any GPU, ``t.device == "cuda:1"``
    only on the second. The type must be one a backend is registered for (:mod:`feedforward.backend`).
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        self.type = type
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device({str(self)!r})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and (self.index is None or other.index is None or self.index == other.index)

    def __hash__(self) -> int:
        return hash(self.type)


def device(spec) -> Device:
    """Parse ``"cpu"``, ``"cuda"``, ``"cuda:0"`` or a :class:`Device` (like ``torch.device``).

    Raises ``ValueError`` naming the spelling and the device types that exist.
    """
    from .registry import backend_types  # the registry knows which types exist

    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0' or a Device, got {type(spec).__name__}")
    kind, sep, index = spec.strip().lower().partition(":")
    types = backend_types()
    if kind not in types:
        raise ValueError(f"unknown device {spec!r}; expected one of {', '.join(map(repr, types))} (optionally 'cuda:N')")
    if not sep:
        return Device(kind)
    if kind == "cpu" or not index.isdigit():
        raise ValueError(f"device {spec!r}: expected {kind!r}" + ("" if kind == "cpu" else f" or '{kind}:N' with N a GPU number"))
    return Device(kind, int(index))


def _index(dev: Device, count: int) -> int:
    """The concrete index of ``dev`` among ``count`` devices (``None``: 0, the default one)."""
    i = 0 if dev.index is None else dev.index
    if not (isinstance(i, numbers.Integral) and 0 <= i < count):
        raise ValueError(f"device {str(dev)!r}: this machine has {count} {dev.type} device(s), numbered 0 to {count - 1}")
    return i
