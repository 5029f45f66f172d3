"""Real time series and the sliding windows of forecasting (L-APP-2).

The series come with statsmodels' installed data files, read directly (no
pandas needed, nothing downloaded):

* ``load_sunspots("yearly")``: yearly mean sunspot numbers 1700-2008 (309 values);
* ``load_sunspots("monthly")``: monthly means Jan 1749 - Jun 2009 (3,126 values);
* ``load_co2()``: weekly Mauna Loa CO2 (ppm) 1958-2001, its missing weeks linearly interpolated.

Forecasting from the past ``m`` values to the next ``n``: :func:`windows`
turns a series into pairs, and :func:`chronological_split` cuts the series in
time *before* windowing, so that no test target is ever inside a training
window (no leakage), while the first test windows may still look back into
the training period for their inputs, as a real forecaster would.
"""

from __future__ import annotations

import importlib.util
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Series", "load_sunspots", "load_co2", "windows", "chronological_split"]


@dataclass
class Series:
    """A univariate time series.

    Attributes
    ----------
    values : ndarray of shape (T,), float32
    time : ndarray of shape (T,), float64
        Time of each value in decimal years (e.g. 1749.0 is January 1749).
    name : str
    period : int
        The main seasonal period in steps, for the seasonal naive baseline
        (sunspots: the ~11-year solar cycle; co2: one year).
    """

    values: np.ndarray
    time: np.ndarray
    name: str
    period: int
    unit: str = ""

    def __len__(self) -> int:
        return len(self.values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


def _statsmodels_data(*parts) -> Path:
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the time series come with statsmodels: pip install feedforward[data]")
    path = Path(list(spec.submodule_search_locations)[0], "datasets", *parts)
    if not path.exists():
        raise FileNotFoundError(f"statsmodels is installed but its data file {path} is missing; "
                                "reinstall it: pip install --force-reinstall statsmodels")
    return path


def _parse_monthly_sunspots(path: Path):
    # The file is a fixed table "YEAR v_jan ... v_dec" with blank lines and a
    # text header/footer; the last year (2009) has only six months.
    years, rows = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit() or len(fields[0]) != 4:
            continue
        years.append(int(fields[0]))
        rows.append([float(v) for v in fields[1:]])
    if not years or np.any(np.diff(years) != 1):
        raise ValueError(f"{path}: expected consecutive years of monthly values")
    if any(len(r) != 12 for r in rows[:-1]) or not 1 <= len(rows[-1]) <= 12:
        raise ValueError(f"{path}: expected 12 monthly values per year (fewer only in the last year)")
    values = np.array([v for r in rows for v in r], dtype=np.float32)
    time = years[0] + np.arange(len(values)) / 12.0
    return values, time


def load_sunspots(frequency: str = "monthly") -> Series:
    """Sunspot numbers, ``frequency="monthly"`` (1749-2009) or ``"yearly"`` (1700-2008).

    The seasonal period is the solar cycle of about 11 years (132 months).
    """
    if frequency not in ("monthly", "yearly"):
        raise ValueError(f"frequency must be 'monthly' or 'yearly', got {frequency!r}")
    if frequency == "yearly":
        path = _statsmodels_data("sunspots", "sunspots.csv")
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
        return Series(table[:, 1].astype(np.float32), table[:, 0], "sunspots (yearly)", period=11,
                      unit="mean sunspot number")
    values, time = _parse_monthly_sunspots(_statsmodels_data("sunspots", "src", "sunspots_monthly.dat"))
    return Series(values, time, "sunspots (monthly)", period=132, unit="mean sunspot number")


def load_co2() -> Series:
    """Weekly atmospheric CO2 at Mauna Loa (ppm), March 1958 - December 2001.

    The raw series has 59 missing weeks (empty cells); they are filled by
    linear interpolation in time between the neighbouring measurements.
    """
    path = _statsmodels_data("co2", "co2.csv")
    dates, values = [], []
    for line in path.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        date, _, value = line.partition(",")
        dates.append(date.strip())
        values.append(float(value) if value.strip() else np.nan)
    values = np.array(values, dtype=np.float64)
    if not all(len(s) == 8 and s.isdigit() for s in dates):
        raise ValueError(f"{path}: expected dates as YYYYMMDD")
    d = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in dates], dtype="datetime64[D]")
    days = (d - np.datetime64("1958-01-01", "D")).astype(np.float64)
    time = 1958.0 + days / 365.25
    known = np.isfinite(values)
    values = np.interp(time, time[known], values[known])
    return Series(values.astype(np.float32), time, "co2 (weekly)", period=52, unit="ppm")


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def windows(series, m: int, n: int = 1, *, step: int = 1):
    """Sliding windows: the past ``m`` values in, the next ``n`` out.

    Parameters
    ----------
    series : array of shape (T,) or Series
    m : int
        Input length (the lecture's "past m values").
    n : int
        Forecast horizon (number of next values).
    step : int
        Stride between consecutive windows.

    Returns
    -------
    X : ndarray of shape (k, m)
        ``X[i] = series[s : s + m]`` with ``s = i * step``.
    Y : ndarray of shape (k, n)
        ``Y[i] = series[s + m : s + m + n]``; ``k = (T - m - n) // step + 1``.

    Examples
    --------
    >>> X, Y = windows(np.arange(6), m=3, n=2)
    >>> X.tolist(), Y.tolist()
    ([[0, 1, 2], [1, 2, 3]], [[3, 4], [4, 5]])
    """
    values = np.asarray(getattr(series, "values", series))
    if values.ndim != 1:
        raise ValueError(f"windows needs a 1-D series, got shape {values.shape}")
    m, n, step = _check_count(m, "m"), _check_count(n, "n"), _check_count(step, "step")
    T = len(values)
    if T < m + n:
        raise ValueError(f"a series of length {T} is too short for windows of {m} inputs and {n} outputs "
                         f"(needs at least m + n = {m + n} values)")
    starts = np.arange(0, T - m - n + 1, step)
    X = values[starts[:, None] + np.arange(m)]
    Y = values[starts[:, None] + m + np.arange(n)]
    return X, Y


def chronological_split(series, test_size, *, context: int = 0):
    """Cut a series in time: the past for training, the future for testing.

    Parameters
    ----------
    series : array of shape (T,) or Series
    test_size : float in (0, 1) or int
        Fraction (rounded up) or number of final values whose *targets* are held out.
    context : int
        Number of values before the cut prepended to the test part, so that
        windows of ``m = context`` inputs can forecast from the very first test
        value on. Use ``context=m`` with :func:`windows`.

    Returns
    -------
    train : ndarray of shape (T - t,)
        ``series[:T - t]``.
    test : ndarray of shape (context + t,)
        ``series[T - t - context:]``. Every window built from ``test`` has all
        its targets in the last ``t`` values, none of which appear in ``train``.
    """
    values = np.asarray(getattr(series, "values", series))
    if values.ndim != 1:
        raise ValueError(f"chronological_split needs a 1-D series, got shape {values.shape}")
    T = len(values)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction in (0, 1) or a count, got {test_size!r}")
    t = int(test_size) if isinstance(test_size, numbers.Integral) else int(np.ceil(test_size * T))
    if not (isinstance(test_size, numbers.Integral) or 0 < test_size < 1) or not 1 <= t < T:
        raise ValueError(f"test_size={test_size!r} must leave at least one value on each side of the cut "
                         f"of a series of length {T}")
    if isinstance(context, bool) or not isinstance(context, numbers.Integral) or not 0 <= context <= T - t:
        raise ValueError(f"context must be an integer in [0, {T - t}] (the training part's length), "
                         f"got {context!r}")
    cut = T - t
    return values[:cut], values[cut - context:]
