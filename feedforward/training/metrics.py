"""Metrics: the scores practitioners read, each declaring the tasks it fits (L-IO-3).

Every metric has a name (scikit-learn's scoring string where one exists, so
``"f1_macro"``, ``"roc_auc_ovr"``, ``"balanced_accuracy"`` mean what they mean
there), a NumPy implementation, the tasks it applies to and its direction.
Losses are reported positive and named plainly (``"log_loss"``, ``"mse"``,
``"mae"``): lower is better, where scikit-learn's scorers say ``neg_*``.

=======================  ===============  =================  =================================
name                     task             reads              scikit-learn equivalent
=======================  ===============  =================  =================================
accuracy                 classification   labels             ``accuracy_score``
balanced_accuracy        classification   labels             ``balanced_accuracy_score``
precision/recall/f1      classification   labels             ``*_score`` (binary, pos_label=1)
*_macro, *_weighted      classification   labels             ``*_score(average=...)``
roc_auc                  classification   probabilities      ``roc_auc_score`` (binary, multilabel)
roc_auc_ovr              classification   probabilities      ``roc_auc_score(multi_class="ovr")``
log_loss                 classification   probabilities      ``log_loss``
top_k_accuracy           classification   probabilities      ``top_k_accuracy_score(k=2)``
mse, mae                 regression       values             ``mean_squared/absolute_error``
r2, explained_variance   regression       values             ``r2_score``, ``explained_variance_score``
=======================  ===============  =================  =================================

The functions take scikit-learn's order, ``f(y_true, y_pred, sample_weight=None)``
(``y_pred`` is the output unit's mean, the probabilities, for the probability
metrics). A :class:`Metric` is called the way the training loop calls it,
prediction first: ``metric(pred, y, sample_weight, proba=mean)``. Any callable
``f(y_true, y_pred)`` is a metric too (``metrics=[sklearn.metrics.matthews_corrcoef]``),
or ``Metric(f, name=..., greater_is_better=..., needs_proba=...)`` to say more.
Where scikit-learn divides by zero (a class never predicted) the value is 0, as
its ``zero_division=0``; a ROC AUC with one class present is NaN with an
:class:`UndefinedMetricWarning`, as scikit-learn's.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import Choice, Int
from .scores import (  # noqa: F401 - the scores are re-exported: part of this module's API
    UndefinedMetricWarning, _column_to_1d, accuracy, balanced_accuracy, classification_report,
    confusion_matrix, explained_variance, f1, f1_macro, f1_weighted, log_loss, mae, mse, precision,
    precision_macro, precision_recall_f1, precision_weighted, r2, recall, recall_macro, recall_weighted,
    roc_auc, roc_auc_ovr, top_k_accuracy,
)

__all__ = [
    "METRICS", "GREATER_IS_BETTER", "TASKS", "Metric", "UndefinedMetricWarning", "resolve_metrics",
    "get_metric", "metric_name", "greater_is_better", "needs_proba", "metric_values", "top_k",
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro", "precision_weighted",
    "recall_macro", "recall_weighted", "f1_macro", "f1_weighted", "roc_auc", "roc_auc_ovr", "log_loss",
    "top_k_accuracy", "mse", "mae", "r2", "explained_variance", "confusion_matrix", "classification_report",
    "precision_recall_f1",
]

TASKS = ("classification", "regression")


# scikit-learn's naming rule: *_score is maximised; *_error, *_loss, *_deviance are minimised.
_LOWER_IS_BETTER_SUFFIXES = ("_error", "_loss", "_deviance")


class Metric:
    """A metric: its function, name, tasks and direction.

    Parameters
    ----------
    func : callable
        ``func(y_true, y_pred)`` (and ``sample_weight=`` when the data are weighted),
        returning a number; ``y_pred`` is the output unit's prediction (labels or
        values), or its mean (class probabilities) with ``needs_proba=True``.
    name : str, optional
        The key in the training record (``train_<name>``, ``val_<name>``); default
        ``func.__name__``; must be a Python identifier.
    greater_is_better : bool, optional
        The direction early stopping reads. Default: scikit-learn's naming rule, False
        for a name ending in ``_error``, ``_loss`` or ``_deviance``, else True.
    needs_proba : bool
        Whether ``func`` reads probabilities instead of labels.
    tasks : sequence of str
        ``"classification"`` and/or ``"regression"``: a metric is refused on another task.

    Examples
    --------
    >>> import numpy as np
    >>> from feedforward.training.metrics import Metric
    >>> def hits(y_true, y_pred):
    ...     return float(np.sum(y_true == y_pred))
    >>> Metric(hits, tasks=["classification"])(np.array([1, 0, 1]), np.array([1, 1, 1]))
    2.0
    """

    def __init__(self, func, name=None, *, greater_is_better=None, needs_proba=False, tasks=TASKS):
        if not callable(func):
            raise TypeError(f"Metric: func must be callable, got {type(func).__name__}")
        name = getattr(func, "__name__", None) if name is None else name
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"Metric: name must be a Python identifier (it names train_<name> in the record), got {name!r}; "
                "give a lambda or a functools.partial one: Metric(func, name='my_score')"
            )
        if isinstance(tasks, str):
            tasks = (tasks,)
        self.tasks = tuple(Choice(*TASKS)(t, "Metric: tasks") for t in tasks)
        if not self.tasks:
            raise ValueError(f"Metric: tasks must name at least one of {TASKS}")
        if greater_is_better is None:
            greater_is_better = not name.endswith(_LOWER_IS_BETTER_SUFFIXES)
        if not isinstance(greater_is_better, (bool, np.bool_)) or not isinstance(needs_proba, (bool, np.bool_)):
            raise TypeError("Metric: greater_is_better and needs_proba must be bools")
        self.func, self.name = func, name
        self.greater_is_better, self.needs_proba = bool(greater_is_better), bool(needs_proba)

    def __call__(self, pred, y, sample_weight=None, *, proba=None) -> float:
        """The value on one data set; prediction first, as the training loop calls it.

        ``pred``: the output unit's ``predict`` (labels or values), shape (n,) or (n, k);
        ``y``: the targets; ``proba``: the output unit's ``mean`` (needed when
        :attr:`needs_proba`).
        """
        if self.needs_proba:
            if proba is None:
                raise ValueError(
                    f"metric {self.name!r} needs the output unit's probabilities (its mean): "
                    "call it with proba=output.mean(z)"
                )
            y_hat = proba
        else:
            y_hat = pred
        y, y_hat = _column_to_1d(y), _column_to_1d(y_hat)
        value = self.func(y, y_hat) if sample_weight is None else self.func(y, y_hat, sample_weight=sample_weight)
        if type(value) is float:  # the built-in metrics' answer: nothing to check
            return value
        arr = np.asarray(value)
        if arr.ndim != 0 or not isinstance(arr.item(), numbers.Real) or isinstance(arr.item(), bool):
            raise TypeError(f"metric {self.name!r} must return one number, got {value!r}")
        return float(arr)

    def __repr__(self) -> str:
        return (f"Metric({self.name!r}, tasks={list(self.tasks)}, greater_is_better={self.greater_is_better}, "
                f"needs_proba={self.needs_proba})")


def top_k(k: int) -> Metric:
    """The top-``k`` accuracy as a metric named ``top_<k>_accuracy`` (``"top_k_accuracy"`` is k = 2)."""
    k = Int(1)(k, "top_k: k")

    def score(y_true, proba, sample_weight=None):
        return top_k_accuracy(y_true, proba, k=k, sample_weight=sample_weight)

    return Metric(score, f"top_{k}_accuracy", greater_is_better=True, needs_proba=True, tasks=["classification"])


def _builtin(func, tasks, *, lower=False, proba=False):
    return Metric(func, greater_is_better=not lower, needs_proba=proba, tasks=[tasks])


METRICS: dict = {m.name: m for m in [
    _builtin(accuracy, "classification"),
    _builtin(balanced_accuracy, "classification"),
    *(_builtin(f, "classification") for f in (precision, recall, f1, precision_macro, recall_macro, f1_macro,
                                              precision_weighted, recall_weighted, f1_weighted)),
    _builtin(roc_auc, "classification", proba=True),
    _builtin(roc_auc_ovr, "classification", proba=True),
    _builtin(log_loss, "classification", lower=True, proba=True),
    _builtin(top_k_accuracy, "classification", proba=True),
    _builtin(mse, "regression", lower=True),
    _builtin(mae, "regression", lower=True),
    _builtin(r2, "regression"),
    _builtin(explained_variance, "regression"),
]}
"""Name -> :class:`Metric`, every built-in metric; ``METRICS[name](pred, y, sample_weight)``."""

GREATER_IS_BETTER = {name: m.greater_is_better for name, m in METRICS.items()}
"""Name -> whether a larger value is better (early stopping's direction)."""


def get_metric(metric) -> Metric:
    """The :class:`Metric` for a built-in name or a :class:`Metric` (as :func:`resolve_metrics` lists them)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str) and metric in METRICS:
        return METRICS[metric]
    raise ValueError(_unknown(metric))


def metric_name(metric) -> str:
    """The record key of a metric: the name itself, or a :class:`Metric`'s ``name``."""
    return metric if isinstance(metric, str) else get_metric(metric).name


def greater_is_better(metric) -> bool:
    """Whether larger values of ``metric`` (a name or a :class:`Metric`) are better."""
    return get_metric(metric).greater_is_better


def needs_proba(metrics) -> bool:
    """Whether any of ``metrics`` (names or :class:`Metric`) reads the output unit's probabilities."""
    return any(get_metric(m).needs_proba for m in metrics)


def metric_values(metrics, pred, y, sample_weight=None, *, proba=None) -> dict:
    """``{name: value}`` for ``metrics`` (as :func:`resolve_metrics` returns them) on one data set.

    ``pred`` is the output unit's ``predict``, ``proba`` its ``mean`` (only needed when
    :func:`needs_proba`).
    """
    return {metric_name(m): get_metric(m)(pred, y, sample_weight, proba=proba) for m in metrics}


def _unknown(m) -> str:
    text = f"unknown metric {m!r}; expected one of {sorted(METRICS)}, a callable or an ff Metric"
    if isinstance(m, str) and m.startswith("neg_"):
        text += f" (losses are positive here: {m[4:]!r} where scikit-learn says {m!r}; mse, mae, log_loss)"
    return text


def resolve_metrics(metrics, task: str) -> list:
    """The metrics a run records, checked against the output unit's ``task``.

    ``metrics``: None (accuracy for classification, mse for regression), a name, a
    callable, a :class:`Metric`, or a list of them. Returns a list with the built-in
    names as strings and a :class:`Metric` for each callable; the first is the
    record's ``*_metric``. A metric for another task (``"r2"`` on a classifier), an
    unknown name or a repeated name is a ``ValueError``; anything else a ``TypeError``.
    """
    task = Choice(*TASKS)(task, "task")
    if metrics is None:
        return ["accuracy" if task == "classification" else "mse"]
    items = [metrics] if isinstance(metrics, str) or callable(metrics) else metrics
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"metrics must be a name, a callable or a list of them, got {type(metrics).__name__}")
    if not items:
        raise ValueError("metrics is empty; give None (the default metric), a name or a list of names")
    out, names = [], []
    for m in items:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(_unknown(m))
            entry = metric = METRICS[m]
            entry = m
        elif isinstance(m, Metric) or callable(m):
            entry = metric = m if isinstance(m, Metric) else Metric(m)
            if metric.name in METRICS and METRICS[metric.name] is not metric:
                raise ValueError(f"metric name {metric.name!r} is a built-in metric's; give yours another name")
        else:
            raise TypeError(f"metrics: each must be a name, a callable or an ff Metric, got {type(m).__name__}")
        if task not in metric.tasks:
            fits = sorted(n for n, b in METRICS.items() if task in b.tasks)
            raise ValueError(
                f"metric {metric.name!r} is for {' or '.join(metric.tasks)}, but this output unit is for {task} "
                f"({'bernoulli or categorical' if task == 'classification' else 'gaussian'}); "
                f"{task} metrics: {fits}"
            )
        out.append(entry)
        names.append(metric.name)
    if len(set(names)) != len(names):
        raise ValueError(f"metrics has duplicates: {names}")
    return out

