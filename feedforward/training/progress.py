"""The progress report of ``progress=True``: a tqdm bar on a terminal, periodic lines elsewhere.

A progress bar redraws itself with carriage returns; written to a log file, a CI job or a
pipe it leaves one long line of overwritten updates per refresh (issue 14). When stderr is
not a terminal the run prints instead one plain line every ``max(1, total // 10)`` epochs and
at the last one, e.g. ``training: epoch 4/40, loss=0.3121, val_loss=0.3342, val_accuracy=0.91``.
"""

from __future__ import annotations

import sys

__all__ = ["Progress", "make_progress"]


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def _postfix(record, metric) -> dict:
    out = {"loss": f"{record['train_loss']:.4g}"}
    if record["val_loss"] is not None:
        out["val_loss"] = f"{record['val_loss']:.4g}"
        if record["val_metric"] is not None:
            out[f"val_{metric}"] = f"{record['val_metric']:.4g}"
    return out


class Progress:
    """Periodic lines on ``stream`` (stderr by default); :func:`make_progress` picks this or a bar.

    Parameters
    ----------
    total : int
        The epoch count the run may reach (``max_epochs``).
    initial : int
        Epochs already done (a resumed run).
    metric : str
        The first metric's name, for the validation value.
    """

    def __init__(self, total: int, initial: int, metric: str, stream=None):
        self.total, self.metric = total, metric
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(1, total // 10)
        self.epoch = initial

    def update(self, record: dict) -> None:
        self.epoch = record["epoch"]
        if self.epoch % self.every == 0 or self.epoch == self.total:
            self._line(record)

    def _line(self, record) -> None:
        values = ", ".join(f"{k}={v}" for k, v in _postfix(record, self.metric).items())
        print(f"training: epoch {self.epoch}/{self.total}, {values}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class _Bar:
    """tqdm's bar over epochs, with the last epoch's values."""

    def __init__(self, tqdm, total, initial, metric):
        self.bar, self.metric = tqdm(total=total, initial=initial, desc="training", unit="epoch"), metric

    def update(self, record: dict) -> None:
        self.bar.set_postfix(_postfix(record, self.metric), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def make_progress(total: int, initial: int, metric: str, stream=None):
    """A tqdm bar when ``stream`` (stderr) is a terminal, else :class:`Progress` lines."""
    stream = stream if stream is not None else sys.stderr
    if _is_terminal(stream):
        from .options import need_tqdm

        return _Bar(need_tqdm(), total, initial, metric)
    return Progress(total, initial, metric, stream)
