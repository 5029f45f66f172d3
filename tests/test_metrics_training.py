"""Metrics as training options (issue 14, L-IO-3): checked against the task, recorded per epoch.

A metric for another task (``r2`` on a classifier) is a ValueError when the options are checked,
before any training; label metrics, probability metrics and any callable are recorded under
``train_<name>`` / ``val_<name>`` with the value scikit-learn gives on the trained model.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward.training.metrics import METRICS, Metric, greater_is_better, resolve_metrics
from helpers import blobs

skm = pytest.importorskip("sklearn.metrics")


# ------------------------------------------------------------ resolve_metrics
@pytest.mark.parametrize("metrics, task, match", [
    (["r2"], "classification", r"metric 'r2' is for regression, but this output unit is for classification"),
    ("mse", "classification", r"metric 'mse' is for regression"),
    (["accuracy"], "regression", r"metric 'accuracy' is for classification.*regression metrics: \['explained"),
    ("log_loss", "regression", r"metric 'log_loss' is for classification"),
    (["neg_log_loss"], "classification", r"losses are positive here: 'log_loss' where scikit-learn says"),
    (["f2"], "classification", r"unknown metric 'f2'; expected one of \['accuracy'"),
    (["f1_macro", "f1_macro"], "classification", "duplicates"),
    ([], "classification", "metrics is empty"),
    ([lambda y, p: 0.0], "classification", "name must be a Python identifier.*got '<lambda>'"),
    ([Metric(lambda y, p: 0.0, name="accuracy")], "classification", "is a built-in metric's"),
    ([Metric(lambda y, p: 0.0, name="s", tasks="regression")], "classification", "metric 's' is for regression"),
])
def test_resolve_metrics_refuses_with_the_reason(metrics, task, match):
    """Issue 14: a regression metric on a classifier (and vice versa) is a ValueError naming both."""
    with pytest.raises(ValueError, match=match):
        resolve_metrics(metrics, task)


def test_resolve_metrics_types():
    with pytest.raises(TypeError, match="a name, a callable or an ff Metric, got int"):
        resolve_metrics(["accuracy", 3], "classification")
    with pytest.raises(TypeError, match="metrics must be a name, a callable or a list"):
        resolve_metrics(3, "classification")
    assert resolve_metrics(None, "classification") == ["accuracy"]
    assert resolve_metrics(None, "regression") == ["mse"]
    got = resolve_metrics(["f1_macro", skm.matthews_corrcoef], "classification")
    assert got[0] == "f1_macro" and isinstance(got[1], Metric) and got[1].name == "matthews_corrcoef"


def test_direction_follows_scikit_learns_naming_rule():
    """*_score is maximised; *_error, *_loss, *_deviance minimised; ff's losses are positive and minimised."""
    assert greater_is_better(Metric(skm.matthews_corrcoef)) is True
    assert greater_is_better(Metric(skm.mean_squared_error)) is False
    assert greater_is_better(Metric(skm.hinge_loss, needs_proba=True)) is False
    assert [n for n, m in METRICS.items() if not m.greater_is_better] == ["log_loss", "mse", "mae"]


def test_a_callable_must_return_one_number():
    with pytest.raises(TypeError, match="metric 'pair' must return one number, got"):
        Metric(lambda y, p: (1.0, 2.0), name="pair")(np.zeros(2), np.zeros(2))


# -------------------------------------------------------------- in training
def _net(seed=0):
    return ff.nn.MLP([4, 16, 3], activation="tanh", output="categorical", rng=seed)


def test_a_regression_metric_on_a_classifier_fails_before_training():
    """Issue 14: train_r2 = -1.03 on class indices was the bug; now it is refused up front."""
    X, y = blobs()
    net = _net()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match="metric 'r2' is for regression"):
        ff.fit(net, X, y, optimizer="sgd", metrics=["accuracy", "r2"], max_epochs=1, rng=0)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, net.parameters()))


def test_label_metrics_are_recorded_as_sklearn_computes_them():
    X, y = blobs()
    net = _net()
    names = ["f1_macro", "balanced_accuracy", "precision_weighted", "recall_macro"]
    h = ff.fit(net, X, y, optimizer="sgd",
               lr=0.05, max_epochs=3, metrics=names, validation_data=(X[:40], y[:40]), rng=0)
    pred = net.predict(X)
    assert h["train_metric"][-1] == h["train_f1_macro"][-1]
    assert h["train_f1_macro"][-1] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert h["train_balanced_accuracy"][-1] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert h["train_precision_weighted"][-1] == pytest.approx(
        skm.precision_score(y, pred, average="weighted", zero_division=0))
    assert h["val_recall_macro"][-1] == pytest.approx(skm.recall_score(y[:40], pred[:40], average="macro"))


def test_probability_metrics_and_callables_are_recorded():
    """Issue 14: roc_auc_ovr, log_loss and top-k read the output unit's mean; a callable
    f(y_true, y_pred) is a metric under its own name (needs evaluation.py to pass the mean)."""
    X, y = blobs()
    net = _net()
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=3, rng=0,
               metrics=["log_loss", "roc_auc_ovr", "top_k_accuracy", skm.matthews_corrcoef])
    proba, pred = net.predict_proba(X), net.predict(X)
    assert h["train_metric"][-1] == h["train_log_loss"][-1]
    assert h["train_log_loss"][-1] == pytest.approx(skm.log_loss(y, proba), rel=1e-5)
    assert h["train_log_loss"][-1] == pytest.approx(h["train_loss"][-1], rel=1e-5)  # the categorical NLL
    assert h["train_roc_auc_ovr"][-1] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"), rel=1e-6)
    assert h["train_top_k_accuracy"][-1] == pytest.approx(skm.top_k_accuracy_score(y, proba, k=2))
    assert h["train_matthews_corrcoef"][-1] == pytest.approx(skm.matthews_corrcoef(y, pred))


def test_early_stopping_reads_a_loss_metric_as_lower_is_better():
    """monitor='val_metric' with log_loss: the best epoch is the one with the smallest value."""
    X, y = blobs()
    h = ff.fit(_net(), X, y, optimizer="sgd",
                    lr=0.05, max_epochs=8, metrics="log_loss", validation_data=(X[:40], y[:40]),
               monitor="val_metric", early_stopping=True, patience=8, rng=0)
    values = h["val_log_loss"]
    assert h.best_epoch == int(np.argmin(values)) + 1


def test_bernoulli_probability_metrics_read_sigmoid_z():
    """A sigmoid output: roc_auc and log_loss read p(y=1), f1 the 0/1 labels (needs the mean passed)."""
    r = np.random.default_rng(0)
    X = r.standard_normal((80, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * r.standard_normal(80) > 0).astype(int)
    net = ff.nn.MLP([3, 8, 1], output="bernoulli", rng=0)
    h = ff.fit(net, X, y, optimizer="sgd", max_epochs=3, lr=0.1, metrics=["roc_auc", "log_loss", "f1"], rng=0)
    p = net.predict_proba(X)[:, 0]
    assert h["train_roc_auc"][-1] == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert h["train_log_loss"][-1] == pytest.approx(skm.log_loss(y, p), rel=1e-6)
    assert h["train_f1"][-1] == pytest.approx(skm.f1_score(y, net.predict(X).ravel()), rel=1e-12)


def test_the_clis_regression_scores_are_sklearns():
    """The functions take scikit-learn's order (y_true, y_pred): R^2 is not symmetric, so a caller
    with the arguments the other way round gets another number. The CLI's report is checked here."""
    from feedforward.cli.commands import _metrics

    r = np.random.default_rng(4)
    y = r.standard_normal(50)
    pred = 0.5 * y + r.standard_normal(50)
    got = _metrics("regression", y, pred)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
