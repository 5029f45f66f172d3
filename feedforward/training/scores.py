"""The scores behind the metrics, in NumPy, each checked against scikit-learn (L-IO-3).

Functions take scikit-learn's order, ``f(y_true, y_pred, sample_weight=None)``; ``y_pred`` is
the output unit's mean (the probabilities) for ROC AUC, log-loss and top-k. Where scikit-learn
divides by zero (a class never predicted) the value is 0, as its ``zero_division=0``; a ROC AUC
with one class present is NaN with an :class:`UndefinedMetricWarning`, as scikit-learn's.
:mod:`feedforward.training.metrics` names them, says which task each fits and which way is better.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import Choice, Int

__all__ = [
    "UndefinedMetricWarning", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro",
    "precision_weighted", "recall_macro", "recall_weighted", "f1_macro", "f1_weighted", "roc_auc", "roc_auc_ovr",
    "log_loss", "top_k_accuracy", "mse", "mae", "r2", "explained_variance", "confusion_matrix",
    "classification_report", "precision_recall_f1",
]


class UndefinedMetricWarning(UserWarning):
    """A metric undefined on the data given (a ROC AUC with one class present): its value is NaN."""


# ------------------------------------------------------------ arrays in
def _column_to_1d(a) -> np.ndarray:
    """``(n, 1)`` -> ``(n,)``: one output column is one label or value per row."""
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    return a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a


def _same_shape(y_true, y_pred, what):
    y, p = _column_to_1d(y_true), _column_to_1d(y_pred)
    if y.shape != p.shape or y.ndim not in (1, 2):
        raise ValueError(f"{what}: y_true has shape {y.shape} and y_pred {p.shape}; expected one shape, (n,) or (n, k)")
    return y, p


def _weights(sample_weight, n):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n},)")
    return w


def _average(values, sample_weight) -> float:
    values = np.asarray(values)
    if sample_weight is None:
        if values.dtype == bool and values.size:
            # A fraction of True: one counting pass, no float conversion (accuracy, every epoch).
            return np.count_nonzero(values) / values.size
        return float(values.mean())
    return float(np.average(values, weights=_weights(sample_weight, len(values))))


def _divide(num, den):
    """``num / den``, 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _class_index(y, n_classes, what) -> np.ndarray:
    """Labels as int64 indices into ``n_classes`` probability columns, or a ValueError."""
    ok = y.dtype.kind in "biu" or (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all())
    yi = y.astype(np.int64) if ok else None
    if yi is None or (yi.size and (yi.min() < 0 or yi.max() >= n_classes)):
        shown = np.unique(y)[:5].tolist() if y.dtype.kind in "biuf" else f"dtype {y.dtype}"
        raise ValueError(f"{what}: labels must be integers in [0, {n_classes}) (one per probability column), "
                         f"got {shown}")
    return yi


# ------------------------------------------------------- label metrics
def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Fraction of rows predicted exactly right; with several labels per row all must be right."""
    y, p = _same_shape(y_true, y_pred, "accuracy")
    right = y == p
    if right.ndim > 1:
        right = right.all(axis=1)
    return _average(right, sample_weight)


def _class_counts(y, p, sample_weight):
    """``labels, tp, predicted, true`` per label: the union of both arrays' labels, or the columns
    of multilabel indicators; weighted sums (float) or counts (int) without weights."""
    w = _weights(sample_weight, len(y))
    if y.ndim == 2:
        yb, pb = y.astype(bool), p.astype(bool)
        sums = (lambda m: m.sum(axis=0)) if w is None else (lambda m: w @ m)
        return np.arange(y.shape[1]), sums(yb & pb), sums(pb), sums(yb)
    labels, inv = np.unique(np.concatenate([y, p]), return_inverse=True)
    yi, pi = inv[: len(y)], inv[len(y) :]
    hit = yi == pi
    count = lambda idx, ww: np.bincount(idx, weights=ww, minlength=len(labels))
    return (labels, count(yi[hit], None if w is None else w[hit]), count(pi, w), count(yi, w))


def precision_recall_f1(y_true, y_pred, sample_weight=None, *, average="macro"):
    """``(precision, recall, f1, support)``, as scikit-learn's ``precision_recall_fscore_support``.

    ``average``: ``"binary"`` (the class 1; labels must be 0/1), ``"macro"`` (mean over the
    labels present in either array), ``"weighted"`` (by support) or None (per label, sorted).
    """
    Choice("binary", "macro", "weighted", none=True)(average, "average")
    y, p = _same_shape(y_true, y_pred, f"precision/recall/f1 ({average})")
    labels, tp, pred, true = _class_counts(y, p, sample_weight)
    if average == "binary":
        if y.ndim == 2 or not all(v in (0, 1) for v in labels.tolist()):
            raise ValueError(
                f"precision, recall and f1 are for binary labels 0/1 (positive class 1), got labels "
                f"{labels.tolist()[:10] if y.ndim == 1 else 'multilabel'}; use the '_macro' or '_weighted' names"
            )
        keep = [i for i, v in enumerate(labels.tolist()) if v == 1]
        tp, pred, true = tp[keep].sum(), pred[keep].sum(), true[keep].sum()
    prec, rec, f = _divide(tp, pred), _divide(tp, true), _divide(2 * tp, pred + true)
    if average in (None, "binary"):
        return (prec, rec, f, true) if average is None else (float(prec), float(rec), float(f), true)
    if average == "macro":
        return float(prec.mean()), float(rec.mean()), float(f.mean()), true.sum()
    total = true.sum()
    mean = (lambda v: float(np.dot(v, true) / total)) if total > 0 else (lambda v: 0.0)
    return mean(prec), mean(rec), mean(f), total


def balanced_accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Mean recall over the classes present in ``y_true`` (``balanced_accuracy_score``)."""
    y, p = _same_shape(y_true, y_pred, "balanced_accuracy")
    if y.ndim != 1:
        raise ValueError("balanced_accuracy is for one label per row, got multilabel targets")
    _, tp, _, true = _class_counts(y, p, sample_weight)
    present = true > 0
    return float(np.mean(tp[present] / true[present]))


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples of true class ``i`` predicted as ``j``."""
    idx = n_classes * np.asarray(y_true, dtype=np.int64) + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


# ------------------------------------------------- probability metrics
def _binary_auc(positive, score, w) -> float:
    """``P(score_pos > score_neg) + P(tie) / 2``, weighted: the area under the ROC curve."""
    if positive.all() or not positive.any():
        warnings.warn("only one class is present in y_true: ROC AUC is not defined (NaN)",
                      UndefinedMetricWarning, stacklevel=3)
        return float("nan")
    w = np.ones(len(score)) if w is None else w
    _, group = np.unique(score, return_inverse=True)
    pos = np.bincount(group, weights=w * positive)
    neg = np.bincount(group, weights=w * ~positive)
    neg_below = np.cumsum(neg) - neg  # negatives with a lower score than each group
    return float(np.dot(pos, neg_below + 0.5 * neg) / (pos.sum() * neg.sum()))


def _scores(y_score, what) -> np.ndarray:
    s = _column_to_1d(np.asarray(y_score, dtype=np.float64))
    if not np.isfinite(s).all():
        raise ValueError(f"{what}: the scores contain NaN or inf")
    return s


def roc_auc(y_true, y_score, sample_weight=None) -> float:
    """Area under the ROC curve: binary labels 0/1 with the positive class's probability
    (or both columns), or multilabel indicators (macro mean over labels), as ``roc_auc_score``."""
    y, s = _column_to_1d(y_true), _scores(y_score, "roc_auc")
    if y.ndim == 1 and s.ndim == 2:
        if s.shape[1] != 2:
            raise ValueError(f"roc_auc is for binary or multilabel targets; with {s.shape[1]} classes "
                             "use 'roc_auc_ovr'")
        s = s[:, 1]
    if y.shape != s.shape:
        raise ValueError(f"roc_auc: y_true has shape {y.shape}, the scores {s.shape}")
    w = _weights(sample_weight, len(y))
    if y.ndim == 1:
        _class_index(y, 2, "roc_auc")
        return _binary_auc(y == 1, s, w)
    _class_index(y, 2, "roc_auc (multilabel)")
    return float(np.mean([_binary_auc(y[:, j] == 1, s[:, j], w) for j in range(y.shape[1])]))


def roc_auc_ovr(y_true, y_score, sample_weight=None) -> float:
    """One-vs-rest ROC AUC, the macro mean over the classes (``roc_auc_score(multi_class="ovr")``);
    ``y_score`` has one probability column per class (two columns or one: the binary AUC)."""
    y, s = _column_to_1d(y_true), _scores(y_score, "roc_auc_ovr")
    if y.ndim != 1:
        raise ValueError("roc_auc_ovr is for one label per row (a categorical output); for multilabel use 'roc_auc'")
    if s.ndim == 1 or s.shape[1] <= 2:
        return roc_auc(y, s, sample_weight)
    yi = _class_index(y, s.shape[1], "roc_auc_ovr")
    w = _weights(sample_weight, len(y))
    return float(np.mean([_binary_auc(yi == c, s[:, c], w) for c in range(s.shape[1])]))


def log_loss(y_true, y_proba, sample_weight=None) -> float:
    """Mean ``-log p(y_true)``: one probability column per class, or the positive class's alone.

    Probabilities are clipped to ``[eps, 1 - eps]`` of their dtype, as ``sklearn.metrics.log_loss``.
    """
    y = _column_to_1d(y_true)
    p = np.asarray(y_proba)
    p = _column_to_1d(p if p.dtype.kind == "f" else p.astype(np.float64))
    if y.ndim != 1 or p.ndim not in (1, 2) or len(p) != len(y):
        raise ValueError(f"log_loss needs one label per row and (n,) or (n, classes) probabilities, got "
                         f"shapes {y.shape} and {p.shape}")
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
    yi = _class_index(y, p.shape[1], "log_loss")
    eps = np.finfo(p.dtype).eps
    q = np.clip(p[np.arange(len(yi)), yi], eps, 1 - eps)
    return _average(-np.log(q.astype(np.float64)), sample_weight)


def top_k_accuracy(y_true, y_score, k: int = 2, sample_weight=None) -> float:
    """Fraction of rows whose true class is among the ``k`` highest scores (``top_k_accuracy_score``;
    ties go to the higher class index, as there)."""
    k = Int(1)(k, "top_k_accuracy: k")
    y, s = _column_to_1d(y_true), np.asarray(y_score)
    if y.ndim != 1 or s.ndim != 2 or len(s) != len(y):
        raise ValueError(f"top_k_accuracy needs one label per row and a probability column per class (a "
                         f"categorical output), got shapes {y.shape} and {s.shape}")
    if k >= s.shape[1]:
        raise ValueError(f"top_{k}_accuracy needs more than {k} classes, got {s.shape[1]}: every row would be a hit")
    yi = _class_index(y, s.shape[1], "top_k_accuracy")
    top = np.argsort(s, axis=1, kind="stable")[:, ::-1][:, :k]
    return _average((top == yi[:, None]).any(axis=1), sample_weight)


# ------------------------------------------------------ regression
def _values(y_true, y_pred, what):
    y, p = _same_shape(y_true, y_pred, what)
    return y.astype(np.float64).reshape(len(y), -1), p.astype(np.float64).reshape(len(y), -1)


def mse(y_true, y_pred, sample_weight=None) -> float:
    """Mean squared error, averaged over rows and outputs (``mean_squared_error``)."""
    y, p = _values(y_true, y_pred, "mse")
    d = p - y
    return _average((d * d).mean(axis=1), sample_weight)


def mae(y_true, y_pred, sample_weight=None) -> float:
    """Mean absolute error, averaged over rows and outputs (``mean_absolute_error``)."""
    y, p = _values(y_true, y_pred, "mae")
    return _average(np.abs(p - y).mean(axis=1), sample_weight)


def _one_minus_ratio(num, den) -> float:
    # scikit-learn's force_finite: a constant target scores 1 if predicted exactly, else 0.
    score = np.where(den > 0, 1 - num / np.where(den > 0, den, 1), np.where(num == 0, 1.0, 0.0))
    return float(score.mean())


def r2(y_true, y_pred, sample_weight=None) -> float:
    """Coefficient of determination, averaged over outputs (``r2_score``)."""
    y, p = _values(y_true, y_pred, "r2")
    w = np.ones(len(y)) if sample_weight is None else _weights(sample_weight, len(y))
    mean = np.average(y, axis=0, weights=w)
    return _one_minus_ratio((w[:, None] * (y - p) ** 2).sum(axis=0), (w[:, None] * (y - mean) ** 2).sum(axis=0))


def explained_variance(y_true, y_pred, sample_weight=None) -> float:
    """``1 - Var(y - pred) / Var(y)``, averaged over outputs (``explained_variance_score``)."""
    y, p = _values(y_true, y_pred, "explained_variance")
    w = None if sample_weight is None else _weights(sample_weight, len(y))
    d = y - p
    num = np.average((d - np.average(d, axis=0, weights=w)) ** 2, axis=0, weights=w)
    den = np.average((y - np.average(y, axis=0, weights=w)) ** 2, axis=0, weights=w)
    return _one_minus_ratio(num, den)


# ------------------------------------------------------ the per-class report
def classification_report(y_true, y_pred, *, labels=None, target_names=None, sample_weight=None, digits=2,
                          output_dict=False):
    """Precision, recall, F1 and support per class, then accuracy and the macro and weighted means.

    The text (or, with ``output_dict=True``, the dict) of scikit-learn's
    ``classification_report(..., zero_division=0)``. ``labels``: the classes to list, in
    order (default: every label in either array, sorted); ``target_names``: their names.

    Examples
    --------
    >>> from feedforward.training.metrics import classification_report
    >>> print(classification_report([0, 1, 1, 2], [0, 1, 2, 2], target_names=["a", "b", "c"]))
                  precision    recall  f1-score   support
    <BLANKLINE>
               a       1.00      1.00      1.00         1
               b       1.00      0.50      0.67         2
               c       0.50      1.00      0.67         1
    <BLANKLINE>
        accuracy                           0.75         4
       macro avg       0.83      0.83      0.78         4
    weighted avg       0.88      0.75      0.75         4
    <BLANKLINE>
    """
    y, p = _same_shape(y_true, y_pred, "classification_report")
    if y.ndim != 1:
        raise ValueError("classification_report is for one label per row, got multilabel targets")
    digits = Int(0, 15)(digits, "classification_report: digits")
    found, tp_all, pred_all, true_all = _class_counts(y, p, sample_weight)
    labels = found if labels is None else np.asarray(list(labels))
    if labels.ndim != 1 or len(labels) == 0 or len(np.unique(labels)) != len(labels):
        raise ValueError(f"classification_report: labels must be distinct, got {labels.tolist()}")
    where = {v: i for i, v in enumerate(found.tolist())}
    pick = lambda a: np.array([a[where[v]] if v in where else 0 * a[:1].sum() for v in labels.tolist()])
    tp, pred, true = pick(tp_all), pick(pred_all), pick(true_all)
    names = [str(v) for v in labels.tolist()] if target_names is None else [str(n) for n in target_names]
    if len(names) != len(labels):
        raise ValueError(f"classification_report: {len(names)} target_names for {len(labels)} labels {labels.tolist()}")
    prec, rec, f = _divide(tp, pred), _divide(tp, true), _divide(2 * tp, pred + true)
    total = true.sum()
    rows = {n: (prec[i], rec[i], f[i], true[i]) for i, n in enumerate(names)}
    tp_sum, pred_sum, true_sum = tp.sum(), pred.sum(), true.sum()
    micro = (_divide(tp_sum, pred_sum), _divide(tp_sum, true_sum), _divide(2 * tp_sum, pred_sum + true_sum))
    weighted = [float(np.dot(v, true) / total) if total > 0 else 0.0 for v in (prec, rec, f)]
    averages = {
        # Every label listed: micro-averaged precision = recall = F1 = the accuracy.
        "accuracy" if set(found.tolist()) <= set(labels.tolist()) else "micro avg": (*micro, total),
        "macro avg": (prec.mean(), rec.mean(), f.mean(), total),
        "weighted avg": (*weighted, total),
    }
    headers = ("precision", "recall", "f1-score", "support")
    if output_dict:
        out = {n: dict(zip(headers, map(float, r))) for n, r in {**rows, **averages}.items()}
        if "accuracy" in out:
            out["accuracy"] = out["accuracy"]["precision"]
        return out
    width = max(max(len(n) for n in names), len("weighted avg"), digits)
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    for n, r in rows.items():
        text += row.format(n, *r, width=width, digits=digits)
    text += "\n"
    for n, r in averages.items():
        if n == "accuracy":
            text += ("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
                n, "", "", float(r[2]), r[3], width=width, digits=digits)
        else:
            text += row.format(n, *r, width=width, digits=digits)
    return text


def _prf(which, average):
    def score(y_true, y_pred, sample_weight=None):
        return precision_recall_f1(y_true, y_pred, sample_weight, average=average)[which]

    score.__name__ = ("precision", "recall", "f1")[which] + ("" if average == "binary" else f"_{average}")
    how = "of the class 1, labels 0/1" if average == "binary" else f"{average} average over the labels"
    score.__doc__ = (f"{('Precision', 'Recall', 'F1')[which]} ({how}), as scikit-learn's "
                     f"``{('precision', 'recall', 'f1')[which]}_score(average={average!r})``.")
    return score


precision, recall, f1 = _prf(0, "binary"), _prf(1, "binary"), _prf(2, "binary")
precision_macro, recall_macro, f1_macro = _prf(0, "macro"), _prf(1, "macro"), _prf(2, "macro")
precision_weighted, recall_weighted, f1_weighted = _prf(0, "weighted"), _prf(1, "weighted"), _prf(2, "weighted")
