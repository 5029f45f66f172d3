"""Metrics against scikit-learn on random predictions, every name (issue 14, L-IO-3).

Each built-in metric is computed by ``METRICS[name](pred, y, sample_weight, proba=mean)``,
the training loop's call, and compared with the scikit-learn function its name comes
from, with and without sample weights, on every target kind it accepts; the kinds it
refuses raise a ValueError naming the metric. The per-class report is compared with
``sklearn.metrics.classification_report`` character for character.
"""

from __future__ import annotations

import numpy as np
import pytest

from feedforward.training import metrics as M

skm = pytest.importorskip("sklearn.metrics")

N, C, L = 60, 4, 3  # rows, classes, labels of the multilabel case


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _case(kind, seed):
    """``(y, pred, proba)`` for one target kind, random but seeded."""
    r = np.random.default_rng(seed)
    if kind == "binary":
        y = r.integers(0, 2, N)
        proba = 1 / (1 + np.exp(-(r.standard_normal(N) + y)))  # informative, not perfect
        return y, (proba > 0.5).astype(np.int64), proba
    if kind == "binary_ties":  # scores on a coarse grid: many ties for the ROC curve
        y, _, proba = _case("binary", seed)
        proba = np.round(proba, 1)
        return y, (proba > 0.5).astype(np.int64), proba
    if kind == "multiclass":
        y = r.integers(0, C, N)
        proba = _softmax(r.standard_normal((N, C)) + 1.5 * np.eye(C)[y])
        pred = r.integers(0, C - 1, N)  # class C-1 never predicted: precision's zero division
        return y, pred, proba
    if kind == "multilabel":
        y = r.integers(0, 2, (N, L))
        proba = 1 / (1 + np.exp(-(r.standard_normal((N, L)) + y)))
        return y, (proba > 0.5).astype(np.int64), proba
    if kind in ("regression", "regression2"):
        k = 1 if kind == "regression" else 2
        y = r.standard_normal((N, k))
        pred = y + 0.5 * r.standard_normal((N, k)) + 0.2
        return (y[:, 0], pred[:, 0], None) if k == 1 else (y, pred, None)
    raise AssertionError(kind)


_ZD = {"zero_division": 0}
_LAB = {"labels": list(range(C))}

# name -> (kinds it accepts, scikit-learn's value from (y, pred, proba, w), kinds it refuses)
SKLEARN = {
    "accuracy": (("binary", "multiclass", "multilabel"),
                 lambda y, p, q, w: skm.accuracy_score(y, p, sample_weight=w), ()),
    "balanced_accuracy": (("binary", "multiclass"),
                          lambda y, p, q, w: skm.balanced_accuracy_score(y, p, sample_weight=w), ("multilabel",)),
    "roc_auc": (("binary", "binary_ties", "multilabel"),
                lambda y, p, q, w: skm.roc_auc_score(y, q, sample_weight=w), ("multiclass",)),
    "roc_auc_ovr": (("multiclass", "binary"),
                    lambda y, p, q, w: skm.roc_auc_score(y, q, multi_class="ovr", sample_weight=w,
                                                         **(_LAB if q.ndim == 2 else {})), ("multilabel",)),
    "log_loss": (("binary", "multiclass"),
                 lambda y, p, q, w: skm.log_loss(y, q, sample_weight=w, **(_LAB if q.ndim == 2 else {})),
                 ("multilabel",)),
    "top_k_accuracy": (("multiclass",),
                       lambda y, p, q, w: skm.top_k_accuracy_score(y, q, k=2, sample_weight=w, **_LAB),
                       ("binary", "multilabel")),
    "mse": (("regression", "regression2"), lambda y, p, q, w: skm.mean_squared_error(y, p, sample_weight=w), ()),
    "mae": (("regression", "regression2"), lambda y, p, q, w: skm.mean_absolute_error(y, p, sample_weight=w), ()),
    "r2": (("regression", "regression2"), lambda y, p, q, w: skm.r2_score(y, p, sample_weight=w), ()),
    "explained_variance": (("regression", "regression2"),
                           lambda y, p, q, w: skm.explained_variance_score(y, p, sample_weight=w), ()),
}
for _score in ("precision", "recall", "f1"):
    _fn = getattr(skm, f"{_score}_score")
    SKLEARN[_score] = (("binary",), lambda y, p, q, w, f=_fn: f(y, p, sample_weight=w, **_ZD),
                       ("multiclass", "multilabel"))
    for _avg in ("macro", "weighted"):
        SKLEARN[f"{_score}_{_avg}"] = (
            ("binary", "multiclass", "multilabel"),
            lambda y, p, q, w, f=_fn, a=_avg: f(y, p, average=a, sample_weight=w, **_ZD), ())

CASES = [(name, kind) for name, (kinds, _, _) in SKLEARN.items() for kind in kinds]
REFUSED = [(name, kind) for name, (_, _, refused) in SKLEARN.items() for kind in refused]


def test_every_metric_name_is_checked_against_sklearn():
    """Issue 14: 'every name' — the table above covers the registry exactly, each on some data."""
    assert set(SKLEARN) == set(M.METRICS)
    assert {name for name, _ in CASES} == set(M.METRICS)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_metric_equals_sklearn(name, kind, weighted):
    """Issue 14, L-IO-3: the NumPy metric equals scikit-learn's on random predictions."""
    y, pred, proba = _case(kind, seed=sum(map(ord, name + kind)))
    w = np.random.default_rng(1).uniform(0.1, 2.0, N) if weighted else None
    ours = M.METRICS[name](pred, y, w, proba=proba)
    expected = SKLEARN[name][1](y, pred, proba, w)
    assert isinstance(ours, float)
    assert ours == pytest.approx(expected, rel=1e-10, abs=1e-12), (name, kind)
    # The functions take scikit-learn's order (truth first) and give the same number.
    fn = getattr(M, name)
    assert fn(y, proba if M.METRICS[name].needs_proba else pred, sample_weight=w) == ours


@pytest.mark.parametrize("name, kind", REFUSED, ids=[f"{n}-{k}" for n, k in REFUSED])
def test_metric_refuses_targets_it_does_not_define(name, kind):
    """Issue 14: a metric on targets it does not fit is a ValueError naming it, never a quiet number."""
    y, pred, proba = _case(kind, seed=3)
    with pytest.raises(ValueError, match=name.split("_")[0]):
        M.METRICS[name](pred, y, proba=proba)


def test_string_and_column_labels_and_float32_probabilities():
    """Label metrics accept any labels scikit-learn does; (n, 1) columns are one label per row;
    float32 probabilities of exactly 0 and 1 are clipped at float32's eps, as scikit-learn does."""
    y = np.array(["cat", "dog", "dog", "emu", "cat"])
    p = np.array(["cat", "dog", "emu", "emu", "dog"])
    assert M.f1_macro(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"), rel=1e-12)
    assert M.balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p), rel=1e-12)
    yb = np.array([[1], [0], [1]])
    assert M.METRICS["f1"](np.array([[1], [1], [1]]), yb) == pytest.approx(0.8)
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]], dtype=np.float32)
    yq = np.array([1, 0, 1])
    assert M.log_loss(yq, q) == pytest.approx(skm.log_loss(yq, q), rel=1e-6)
    eps = float(np.finfo(np.float32).eps)  # two rows at -log(eps32), not inf
    assert M.log_loss(yq, q) == pytest.approx((-2 * np.log(eps) - np.log(np.float32(0.7))) / 3, rel=1e-6)


def test_roc_auc_with_one_class_is_nan_with_a_warning():
    """As scikit-learn: ROC AUC is undefined with one class present."""
    with pytest.warns(M.UndefinedMetricWarning, match="one class"):
        assert np.isnan(M.roc_auc(np.ones(5, int), np.linspace(0, 1, 5)))


def test_bad_labels_and_shapes_are_named():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\)"):
        M.log_loss(np.array([0, 3]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="top_3_accuracy needs more than 3 classes, got 3"):
        M.top_k_accuracy(np.array([0, 1]), np.full((2, 3), 1 / 3), k=3)
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\) and y_pred \(2,\)"):
        M.mse(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(2,\), expected \(3,\)"):
        M.accuracy(np.zeros(3), np.zeros(3), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="needs the output unit's probabilities"):
        M.METRICS["roc_auc"](np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="scores contain NaN"):
        M.roc_auc(np.array([0, 1]), np.array([0.1, np.nan]))


# ------------------------------------------------------------ per-class report
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_classification_report_equals_sklearn(weighted):
    """Issue 14: `feedforward evaluate`'s per-class report is scikit-learn's, text and dict."""
    y, pred, _ = _case("multiclass", seed=5)
    w = np.random.default_rng(2).uniform(0.1, 2.0, N) if weighted else None
    names = ["setosa", "versicolor", "virginica", "other"]
    kw = dict(target_names=names, sample_weight=w, labels=range(C))
    assert M.classification_report(y, pred, **kw) == skm.classification_report(y, pred, zero_division=0, **kw)
    ours = M.classification_report(y, pred, output_dict=True, digits=4, **kw)
    theirs = skm.classification_report(y, pred, output_dict=True, zero_division=0, **kw)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-12), key
    # Fewer labels than the data hold: a micro average row instead of the accuracy.
    kw = dict(labels=[0, 2], sample_weight=w, digits=3)
    assert M.classification_report(y, pred, **kw) == skm.classification_report(y, pred, zero_division=0, **kw)


def test_classification_report_names_must_match_labels():
    with pytest.raises(ValueError, match="2 target_names for 3 labels"):
        M.classification_report([0, 1, 2], [0, 1, 1], target_names=["a", "b"])


def test_top_k_for_any_k_is_a_named_metric():
    """``top_k(k)``: scikit-learn's top_k_accuracy_score with that k, recorded as top_<k>_accuracy."""
    r = np.random.default_rng(7)
    y, proba = r.integers(0, 6, N), _softmax(r.standard_normal((N, 6)))
    metric = M.top_k(3)
    assert metric.name == "top_3_accuracy" and metric.needs_proba and metric.tasks == ("classification",)
    assert metric(None, y, proba=proba) == pytest.approx(skm.top_k_accuracy_score(y, proba, k=3), rel=1e-12)
    assert M.resolve_metrics(["accuracy", metric], "classification") == ["accuracy", metric]
    with pytest.raises(ValueError, match="metric 'top_3_accuracy' is for classification"):
        M.resolve_metrics([metric], "regression")
