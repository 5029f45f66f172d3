"""Every check of numbers, choices and arrays: one place, one convention.

- A value of the wrong **type** raises ``TypeError``; a value of the right type
  but outside what is allowed raises ``ValueError``.
- Every message names the argument, shows what was given and says what is expected:
  ``"batch_size must be an integer >= 1, got 2.5 (float)"``.
- Nothing is coerced quietly: ``True`` is not an integer, ``2.0`` is not an
  integer, ``"3"`` is not a number, NaN is never "in range".

The constraints are small objects (:class:`Int`, :class:`Real`, :class:`Choice`,
:class:`Bool`, :class:`Dtype`) so that a unit's hyper-parameters, an optimizer's
options and a model file's fields are all declared once and checked by the same
code; :func:`check_int`, :func:`check_real`, ... are the one-call forms.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = [
    "Int", "Real", "Choice", "Bool", "Dtype", "Path", "Text", "List", "Constraint",
    "check_int", "check_real", "check_choice", "check_bool", "check_dtype", "check_path",
    "check_finite", "check_labels", "check_sample_weight", "check_positive", "check_sizes",
    "FLOAT_DTYPES",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _shown(value) -> str:
    """``2.5 (float)``: the value and its type, so '2' and 2 are told apart."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _number_text(x) -> str:
    return str(x) if isinstance(x, numbers.Integral) else f"{x:g}"


def _bounds_text(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_number_text(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_number_text(high)}")
    return " and ".join(parts)


class Constraint:
    """A check of one argument: ``constraint(value, name)`` returns the clean value or raises."""

    none_ok = False

    def __call__(self, value, name: str):
        if value is None and self.none_ok:
            return None
        return self._check(value, name)

    def _check(self, value, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _or_none(self, text: str) -> str:
        return f"{text} or None" if self.none_ok else text


class Int(Constraint):
    """An integer (not a bool) in ``[low, high]``; returned as a Python ``int``."""

    def __init__(self, low=None, high=None, *, none: bool = False):
        self.low, self.high, self.none_ok = low, high, none

    def describe(self) -> str:
        bounds = _bounds_text(self.low, self.high, False, False)
        return self._or_none("an integer" + (f" {bounds}" if bounds else ""))

    def _check(self, value, name):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be {self.describe()}, got {_shown(value)}")
        value = int(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{name} must be {self.describe()}, got {value}")
        return value


class Real(Constraint):
    """A finite real number (ints accepted, bools not) in a range; returned as a Python ``float``.

    ``low_open`` / ``high_open`` make the bound strict: ``Real(0, low_open=True)`` is ``> 0``.
    """

    def __init__(self, low=None, high=None, *, low_open=False, high_open=False, none=False):
        self.low, self.high = low, high
        self.low_open, self.high_open, self.none_ok = low_open, high_open, none

    def describe(self) -> str:
        bounds = _bounds_text(self.low, self.high, self.low_open, self.high_open)
        return self._or_none("a finite number" + (f" {bounds}" if bounds else ""))

    def _check(self, value, name):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {self.describe()}, got {_shown(value)}")
        value = float(value)
        ok = math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.high_open else value <= self.high
        if not ok:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return value


class Bool(Constraint):
    """``True`` or ``False`` (NumPy's bool too); 0, 1 and strings are refused."""

    def __init__(self, *, none: bool = False):
        self.none_ok = none

    def describe(self) -> str:
        return self._or_none("True or False")

    def _check(self, value, name):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be {self.describe()}, got {_shown(value)}")
        return bool(value)


class Choice(Constraint):
    """One of a fixed set of strings, compared case-insensitively; returned in the set's spelling."""

    def __init__(self, *options: str, none: bool = False):
        self.options, self.none_ok = tuple(options), none
        self._lower = {o.lower(): o for o in options}

    def describe(self) -> str:
        return self._or_none("one of " + ", ".join(repr(o) for o in self.options))

    def _check(self, value, name):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be {self.describe()}, got {_shown(value)}")
        found = self._lower.get(value.lower())
        if found is None:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return found


class Dtype(Constraint):
    """A floating dtype the engine computes in: float32 or float64 (names, types or dtypes)."""

    def __init__(self, allowed=FLOAT_DTYPES, *, none: bool = False):
        self.allowed, self.none_ok = tuple(np.dtype(d) for d in allowed), none

    def describe(self) -> str:
        return self._or_none("one of " + ", ".join(d.name for d in self.allowed))

    def _check(self, value, name):
        if value is None:  # np.dtype(None) is float64: never a silent default
            raise TypeError(f"{name} must be a dtype, {self.describe()}, got None")
        try:
            dtype = np.dtype(value)
        except Exception:
            if isinstance(value, str):  # a name, but not of a dtype: a bad value
                raise ValueError(f"{name} must be {self.describe()}, got {value!r}") from None
            raise TypeError(f"{name} must be a dtype, {self.describe()}, got {_shown(value)}") from None
        if dtype not in self.allowed:
            raise ValueError(f"{name} must be {self.describe()}, got {dtype.name}")
        return dtype


class Path(Constraint):
    """A file-system path (``str`` or ``os.PathLike``); returned as ``str``."""

    def __init__(self, *, none: bool = False):
        self.none_ok = none

    def describe(self) -> str:
        return self._or_none("a path (str or os.PathLike)")

    def _check(self, value, name):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be {self.describe()}, got {_shown(value)}")
        path = os.fspath(value)
        if not isinstance(path, str):
            raise TypeError(f"{name} must be {self.describe()}, got bytes {path!r}")
        if not path or "\x00" in path:
            raise ValueError(f"{name} must be a non-empty path without NUL bytes, got {path!r}")
        return path


class Text(Constraint):
    """A string without control characters (printed to terminals, written into CSV headers),
    of at most ``max_len`` characters when given."""

    def __init__(self, max_len: int | None = None, *, none: bool = False):
        self.max_len, self.none_ok = max_len, none

    def describe(self) -> str:
        limit = "" if self.max_len is None else f" of at most {self.max_len} characters"
        return self._or_none("printable text" + limit)

    def _check(self, value, name):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be {self.describe()}, got {type(value).__name__}")
        if not value.isprintable() or (self.max_len is not None and len(value) > self.max_len):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return value


class List(Constraint):
    """A JSON list whose items each pass ``item``: exactly ``length`` of them when given, else at
    least ``min_len``; ``items`` names them in messages ("numbers")."""

    def __init__(self, item: Constraint, min_len: int = 0, *, length: int | None = None, items: str | None = None,
                 none: bool = False):
        self.item, self.min_len, self.length, self.items, self.none_ok = item, min_len, length, items, none

    def describe(self) -> str:
        if self.length is not None:
            return self._or_none(f"a list of {self.length} {self.items or 'items'}")
        return self._or_none(f"a list of at least {self.min_len} of {self.items or self.item.describe()}")

    def _check(self, value, name):
        if not isinstance(value, list):
            raise TypeError(f"{name} must be {self.describe()}, got {type(value).__name__}")
        if len(value) < self.min_len or (self.length is not None and len(value) != self.length):
            raise ValueError(f"{name} must be {self.describe()}, got {len(value)} items")
        return [self.item(v, f"{name}[{i}]") for i, v in enumerate(value)]


def check_int(value, name: str, low=None, high=None, *, none: bool = False):
    """``value`` as an ``int`` in ``[low, high]`` (TypeError for a non-integer, ValueError out of range)."""
    return Int(low, high, none=none)(value, name)


def check_real(value, name: str, low=None, high=None, *, low_open=False, high_open=False, none=False):
    """``value`` as a finite ``float`` in the range (TypeError for a non-number, ValueError otherwise)."""
    return Real(low, high, low_open=low_open, high_open=high_open, none=none)(value, name)


def check_bool(value, name: str, *, none: bool = False):
    return Bool(none=none)(value, name)


def check_choice(value, name: str, options, *, none: bool = False):
    return Choice(*options, none=none)(value, name)


def check_dtype(value, name: str = "dtype", allowed=FLOAT_DTYPES, *, none: bool = False):
    return Dtype(allowed, none=none)(value, name)


def check_path(value, name: str, *, none: bool = False):
    return Path(none=none)(value, name)


def check_positive(value, name: str, *, allow_zero: bool = False, integer: bool = False):
    """A number ``> 0`` (``>= 0`` with ``allow_zero``); an ``int`` with ``integer``."""
    if integer:
        return check_int(value, name, low=0 if allow_zero else 1)
    return check_real(value, name, low=0, low_open=not allow_zero)


def check_sizes(sizes, name: str = "sizes", *, min_len: int = 2) -> list:
    """A list of layer widths: a sequence (not a string) of at least ``min_len`` integers >= 1."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or not hasattr(sizes, "__iter__"):
        raise TypeError(
            f"{name} must be a list of integer layer widths such as [2, 8, 1], got {_shown(sizes)}"
        )
    sizes = list(sizes)
    if len(sizes) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} widths (input and output), got {sizes}")
    return [check_int(s, f"{name}[{i}]", low=1) for i, s in enumerate(sizes)]


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN or inf in ``a``."""
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains {a[where]!r} at index {where if len(where) > 1 else where[0]}; "
            "expected finite numbers (remove or impute NaN/inf first)"
        )


def check_labels(y: np.ndarray, n_classes: int, name: str = "labels") -> np.ndarray:
    """Integer class labels in ``[0, n_classes)``, returned as an int64 array."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        check_finite(y, name)
        if not np.all(y == np.round(y)):
            row = int(np.argmax(y != np.round(y)))
            raise ValueError(f"{name} must be integers in [0, {n_classes}), got {y[row]!r} at row {row}")
        y = y.astype(np.int64)
    elif y.dtype.kind == "b" or y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers in [0, {n_classes}), got an array of dtype {y.dtype}")
    if y.size:
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= n_classes:
            row = int(np.argmax((y < 0) | (y >= n_classes)))
            raise ValueError(f"{name} must be integers in [0, {n_classes}), got {y.flat[row]} at row {row}")
    return y


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray | None:
    """Per-example weights of shape (n,), finite, non-negative, not all zero."""
    if sample_weight is None:
        return None
    w = np.asarray(getattr(sample_weight, "data", sample_weight))
    if w.dtype.kind not in "iuf":
        raise TypeError(f"sample_weight must be numeric, got an array of dtype {w.dtype}")
    w = w.astype(dtype, copy=False)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one weight per example), got {w.shape}")
    check_finite(w, "sample_weight")
    if (w < 0).any():
        row = int(np.argmax(w < 0))
        raise ValueError(f"sample_weight must be non-negative, got {w[row]} at row {row}")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to 0: at least one example needs a positive weight")
    return w
