"""``History``: what happened in each epoch of a training run, and why it stopped (L-SGD-5).

One record (a dict) per completed epoch, with at least the keys

==================  =============================================================
``epoch``           1, 2, ... (epochs completed, counting from the start of the run)
``train_loss``      ``J(w)``: the mean NLL over the whole training set, at the end of the epoch
``train_metric``    the first metric on the training set (accuracy, mse, ...)
``val_loss``        the same NLL on the validation set (``None`` without validation data)
``val_metric``      the first metric on the validation set (``None`` without validation data)
``grad_norm``       ``||grad J(w)||_2`` over the whole training set (the lecture's stopping test)
``lr``              the learning rate ``eta`` used during the epoch
``batch_size``      examples per update during the epoch
``n_updates``       optimizer steps taken during the epoch
``batch_loss_mean`` mean of the per-update losses during the epoch (scikit-learn's ``loss_curve_``)
``time``            wall-clock seconds since the run started (includes the epoch-end evaluation)
``epoch_time``      wall-clock seconds of this epoch
==================  =============================================================

plus ``train_<name>`` / ``val_<name>`` for every requested metric and
``diagnostics`` when they are switched on (L-ACT-7).
"""

from __future__ import annotations

import copy
import math

import numpy as np

__all__ = ["History", "STOP_REASONS"]

STOP_REASONS = ("grad_norm", "max_epochs", "early_stopping", "callback", "diverged")


class History:
    """Per-epoch records of a run, its ``stop_reason`` and its ``best_epoch``.

    Attributes
    ----------
    records : list of dict
        One dict per epoch (see the module docstring for the keys).
    stop_reason : str or None
        ``"grad_norm"``, ``"max_epochs"``, ``"early_stopping"``, ``"callback"``,
        ``"diverged"``, or ``None`` while training has not stopped (``partial_fit``).
    best_epoch : int or None
        The epoch whose monitored value (validation loss by default, training
        loss without validation data) was best; the weights restored by early stopping.
    monitor : str
        The record key that ``best_epoch`` refers to.
    classes : ndarray or None
        Classification: the label of each output (``classes[net.predict(X)]`` are labels),
        as the trainer mapped them (:attr:`feedforward.training.Trainer.classes`).

    Examples
    --------
    >>> h = History()
    >>> h.append({"epoch": 1, "train_loss": 0.5})
    >>> h["train_loss"]
    [0.5]
    """

    def __init__(self, records=None, stop_reason=None, best_epoch=None, monitor="train_loss"):
        self.records = [dict(r) for r in records] if records else []
        self.stop_reason = stop_reason
        self.best_epoch = best_epoch
        self.monitor = monitor
        self.classes = None

    # ------------------------------------------------------------ access
    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.records)

    def append(self, record: dict) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key):
        """``history["train_loss"]``: one column as a list; ``history[i]``: the i-th record."""
        if isinstance(key, str):
            if self.records and key not in self.records[0] and not any(key in r for r in self.records):
                raise KeyError(f"no {key!r} in the history; keys are {sorted(self.keys())}")
            return [r.get(key) for r in self.records]
        return self.records[key]

    def keys(self) -> list:
        seen = {}
        for r in self.records:
            for k in r:
                seen.setdefault(k, None)
        return list(seen)

    @property
    def best(self) -> dict | None:
        """The record of :attr:`best_epoch`."""
        if self.best_epoch is None:
            return None
        return next((r for r in self.records if r["epoch"] == self.best_epoch), None)

    def to_dict(self) -> dict:
        """A JSON-serialisable copy: ``{"stop_reason", "best_epoch", "monitor", "epochs", "records"}``,
        and ``"classes"`` (a list) when there are classes."""
        d = {
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "epochs": self.epochs,
            "records": copy.deepcopy(self.records),
        }
        if self.classes is not None:
            d["classes"] = np.asarray(self.classes).tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Inverse of :meth:`to_dict` (used by checkpoints)."""
        if not isinstance(d, dict) or not isinstance(d.get("records"), list):
            raise ValueError("a History dict needs a 'records' list")
        if not all(isinstance(r, dict) for r in d["records"]):
            raise ValueError("every History record must be a dict")
        reason = d.get("stop_reason")
        if reason is not None and reason not in STOP_REASONS:
            raise ValueError(f"unknown stop_reason {reason!r}; expected one of {STOP_REASONS}")
        best = d.get("best_epoch")
        if best is not None and (isinstance(best, bool) or not isinstance(best, int)):
            raise ValueError(f"best_epoch must be an integer or None, got {best!r}")
        monitor = d.get("monitor", "train_loss")
        if not isinstance(monitor, str):
            raise ValueError(f"monitor must be a string, got {monitor!r}")
        history = cls(d["records"], reason, best, monitor)
        classes = d.get("classes")
        if classes is not None:
            if not isinstance(classes, list) or not classes:
                raise ValueError(f"classes must be a non-empty list, got {classes!r}")
            history.classes = np.asarray(classes)
        return history

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        loss = last.get("train_loss")
        loss = f", train_loss={loss:.4g}" if isinstance(loss, float) else ""
        return f"History(epochs={self.epochs}, stop_reason={self.stop_reason!r}{loss})"

    # -------------------------------------------------------------- plot
    def plot(self, path=None, ax=None, *, title: str | None = None):
        """Loss curves (and the metric) against epochs; returns the matplotlib ``Figure``.

        Without ``ax``: a new figure with two panels, the training and
        validation loss (log scale when positive) and the metric per epoch (or
        the gradient norm ``||grad J||`` when there is no metric). With ``ax``:
        the loss curves are drawn into that axes. ``path`` saves the figure
        (PNG, PDF, SVG... by extension). Uses matplotlib's object-oriented API
        (``matplotlib.figure.Figure``), so no pyplot state or GUI backend is touched.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("History.plot needs matplotlib: pip install feedforward[plot]") from exc
        if not self.records:
            raise ValueError("History.plot: the history is empty (no completed epoch)")
        epochs = self["epoch"]
        if ax is None:
            fig = Figure(figsize=(10, 4), layout="constrained")
            ax_loss, ax_other = fig.subplots(1, 2)
        else:
            fig, ax_loss, ax_other = ax.figure, ax, None
        self._plot_pair(ax_loss, epochs, "train_loss", "val_loss", "loss (mean NLL)")
        ax_loss.set_title(title or "Training and validation loss")
        if ax_other is not None:
            metric = self._metric_name()
            if metric is not None and (self._recorded(f"train_{metric}") or self._recorded(f"val_{metric}")):
                self._plot_pair(ax_other, epochs, f"train_{metric}", f"val_{metric}", metric, log=False)
                ax_other.set_title(f"{metric} per epoch")
            elif self._recorded("grad_norm"):
                self._plot_pair(ax_other, epochs, "grad_norm", None, "||grad J(w)||")
                ax_other.set_title("Gradient norm of the training objective")
            else:  # train_eval='batches' without validation data: nothing over a whole set to show
                ax_other.axis("off")
                ax_other.text(0.5, 0.5, "No metric recorded: the training loss is the epoch's mean\n"
                              "minibatch loss. Pass validation data, metrics=, or\ntrain_eval='loss' for one.",
                              ha="center", va="center", transform=ax_other.transAxes)
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig

    def _metric_name(self):
        first = self.records[0]
        for k in first:
            if k.startswith("train_") and k not in ("train_loss", "train_metric"):
                return k[len("train_") :]
        return None

    def _recorded(self, key) -> bool:
        return any(r.get(key) is not None for r in self.records)

    def _plot_pair(self, ax, epochs, train_key, val_key, ylabel, log=True):
        train = [v if v is not None else math.nan for v in self[train_key]]
        values = []
        if self._recorded(train_key):  # train_eval='batches' records no training metric
            ax.plot(epochs, train, label=train_key.replace("_", " "))
            values = list(train)
        if val_key is not None and any(r.get(val_key) is not None for r in self.records):
            val = [r.get(val_key) if r.get(val_key) is not None else math.nan for r in self.records]
            ax.plot(epochs, val, label=val_key.replace("_", " "))
            values += val
        # A "best epoch" means something only against held-out data: not marked for a training loss.
        if self.best_epoch is not None and train_key == "train_loss" and self.monitor.startswith("val_"):
            ax.axvline(self.best_epoch, color="grey", linestyle=":", label=f"best epoch ({self.best_epoch})")
        finite = [v for v in values if math.isfinite(v)]
        if log and finite and min(finite) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
