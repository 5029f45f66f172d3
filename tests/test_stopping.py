"""Stopping rules (L-SGD-5): ||grad J(w)|| < theta, max_epochs, early stopping, callbacks, divergence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import DivergenceWarning, LambdaCallback


def _least_squares(n=80, seed=0, dtype=np.float64):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 3)).astype(dtype)
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.5 * r.standard_normal(n)).astype(dtype)
    return X, y


def _linear(dtype=np.float64, seed=0):
    return ff.nn.Sequential(ff.nn.Linear(3, 1, rng=seed, dtype=dtype))


def test_grad_norm_stop_on_least_squares():
    """L-SGD-5: batch gradient descent on least squares stops once ||grad J(w)||_2 < theta."""
    X, y = _least_squares()
    model = _linear()
    theta = 1e-6
    h = ff.fit(model, X, y, optimizer="sgd", output="gaussian", mode="batch", lr=0.3, grad_tol=theta, max_epochs=5000)
    assert h.stop_reason == "grad_norm"
    assert h.epochs < 5000
    assert h["grad_norm"][-1] < theta <= h["grad_norm"][-2]
    # The recorded norm is the gradient of J = mean 1/2 (y - Xw - b)^2 at the final weights.
    W, b = model.layers[0].weight.data[:, 0], model.layers[0].bias.data[0]
    r = y - X @ W - b
    grad = np.concatenate([-(X.T @ r) / len(X), [-r.mean()]])
    assert h["grad_norm"][-1] == pytest.approx(np.linalg.norm(grad), rel=1e-6, abs=1e-12)
    # ... and the weights are the least-squares solution.
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)
    np.testing.assert_allclose(np.r_[W, b], coef, atol=1e-5)


def test_grad_norm_stop_on_logistic_regression_minibatch():
    # Separable-but-noisy labels: the logistic loss has a finite minimiser.
    r = np.random.default_rng(1)
    X = r.standard_normal((200, 2))
    y = (X @ np.array([2.0, -1.0]) + r.standard_normal(200) > 0).astype(np.float64)
    model = ff.nn.Sequential(ff.nn.Linear(2, 1, dtype=np.float64, rng=0))
    h = ff.fit(
        model,
        X,
        y,
        optimizer="sgd",
        output="bernoulli",
        mode="minibatch",
        batch_size=200,
        lr=1.0,
        grad_tol=1e-4,
        max_epochs=3000,
        rng=0,
    )
    assert h.stop_reason == "grad_norm"
    assert h["grad_norm"][-1] < 1e-4
    assert h["train_accuracy"][-1] > 0.7


def test_grad_norm_includes_the_l2_penalty():
    X, y = _least_squares()
    model = _linear()
    h = ff.fit(model, X, y, optimizer="sgd", output="gaussian", mode="batch", lr=0.1, weight_decay=0.5, max_epochs=3)
    W, b = model.layers[0].weight.data[:, 0], model.layers[0].bias.data[0]
    r = y - X @ W - b
    grad = np.concatenate([-(X.T @ r) / len(X) + 0.5 * W, [-r.mean() + 0.5 * b]])
    assert h["grad_norm"][-1] == pytest.approx(np.linalg.norm(grad), rel=1e-10)


def test_max_epochs_reason():
    X, y = _least_squares()
    h = ff.fit(_linear(), X, y, optimizer="sgd", output="gaussian", lr=0.01, max_epochs=3, rng=0)
    assert h.stop_reason == "max_epochs"
    assert h.epochs == 3
    assert h["epoch"] == [1, 2, 3]


def _overfit_problem():
    r = np.random.default_rng(0)
    X = r.standard_normal((40, 5))
    y = (X[:, 0] + 1.0 * r.standard_normal(40) > 0).astype(int)
    Xv = r.standard_normal((200, 5))
    yv = (Xv[:, 0] > 0).astype(int)
    return X, y, Xv, yv


def test_early_stopping_restores_the_best_weights():
    """L-SGD-5: early stopping on a validation plateau returns the best validation weights."""
    X, y, Xv, yv = _overfit_problem()
    model = ff.nn.MLP([5, 64, 64, 2], activation="relu", output="categorical", dtype=np.float64, rng=0)
    h = ff.fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=0.003,
        batch_size=8,
        max_epochs=300,
        validation_data=(Xv, yv),
        early_stopping=True,
        patience=5,
        rng=0,
    )
    assert h.stop_reason == "early_stopping"
    best = h.best_epoch
    assert 1 < best < h.epochs
    assert h.epochs - best == 5
    assert h.best["val_loss"] == min(h["val_loss"])
    # The returned model's validation loss is exactly the best recorded one.
    with ff.no_grad():
        val_loss = float(model.output.nll(model(ff.Tensor(Xv)), yv).data)
    assert val_loss == h.best["val_loss"]
    assert val_loss < h["val_loss"][-1]


def test_early_stopping_without_restore_keeps_last_weights():
    X, y, Xv, yv = _overfit_problem()
    model = ff.nn.MLP([5, 64, 64, 2], activation="relu", output="categorical", dtype=np.float64, rng=0)
    h = ff.fit(
        model,
        X,
        y,
        optimizer="adam",
        lr=0.003,
        batch_size=8,
        max_epochs=300,
        validation_data=(Xv, yv),
        early_stopping=True,
        patience=5,
        restore_best=False,
        rng=0,
    )
    with ff.no_grad():
        val_loss = float(model.output.nll(model(ff.Tensor(Xv)), yv).data)
    assert val_loss == h["val_loss"][-1]


def test_early_stopping_on_validation_accuracy_and_min_delta():
    X, y, Xv, yv = _overfit_problem()
    model = ff.nn.MLP([5, 16, 2], activation="relu", output="categorical", dtype=np.float64, rng=0)
    h = ff.fit(
        model,
        X,
        y,
        optimizer="sgd",
        lr=0.05,
        max_epochs=200,
        validation_data=(Xv, yv),
        early_stopping=True,
        monitor="val_metric",
        patience=3,
        min_delta=0.5,
        rng=0,
    )
    # No accuracy gain can exceed 0.5 after the first epoch: stop after patience epochs.
    assert h.stop_reason == "early_stopping"
    assert h.epochs == 4 and h.best_epoch == 1
    assert h.monitor == "val_metric"


def test_monitor_without_validation_is_an_error():
    X, y = _least_squares()
    with pytest.raises(ValueError, match="needs validation_data"):
        ff.fit(_linear(), X, y, optimizer="sgd", output="gaussian", monitor="val_loss", early_stopping=True)


def test_callback_stops_training():
    X, y = _least_squares()
    stop_at_3 = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: epoch == 3)
    h = ff.fit(_linear(), X, y, optimizer="sgd",
                       output="gaussian", lr=0.01, max_epochs=50, callbacks=[stop_at_3], rng=0)
    assert h.stop_reason == "callback" and h.epochs == 3

    def flag(trainer, batch, logs):
        if logs["epoch"] == 2 and batch == 1:
            trainer.stop_training = True

    h = ff.fit(
        _linear(),
        X,
        y,
        optimizer="sgd",
        output="gaussian",
        lr=0.01,
        batch_size=10,
        max_epochs=50,
        callbacks=[LambdaCallback(on_batch_end=flag)],
        rng=0,
    )
    assert h.stop_reason == "callback" and h.epochs == 2
    assert h["n_updates"] == [8, 2]


def test_divergence_stops_and_keeps_last_finite_weights():
    """A huge learning rate: stop_reason 'diverged', a warning, and the last good epoch's weights."""
    X, y = _least_squares(n=50, dtype=np.float32)
    model = _linear(dtype=np.float32)
    good = []
    keep = LambdaCallback(on_epoch_end=lambda t, e, logs: good.append([p.data.copy() for p in t.params]))
    with pytest.warns(DivergenceWarning, match="diverged in epoch") as caught:
        h = ff.fit(model, X, y, optimizer="sgd",
                   output="gaussian", mode="batch", lr=3.0, max_epochs=1000, callbacks=[keep])
    assert len(caught) == 1
    assert h.stop_reason == "diverged"
    assert 1 < h.epochs < 1000
    assert all(np.isfinite(h["train_loss"]))
    assert len(good) == h.epochs
    for p, w in zip(model.parameters(), good[-1]):
        assert np.isfinite(p.data).all()
        np.testing.assert_array_equal(p.data, w)


def test_divergence_in_the_first_minibatch_epoch_restores_the_initial_weights():
    X, y = _least_squares(n=50, dtype=np.float32)
    X = X * 1e3
    model = _linear(dtype=np.float32)
    start = [p.data.copy() for p in model.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow RuntimeWarning may escape
        # Inputs x 1000: ff.fit also says they look unscaled (issue 14).
        with pytest.warns(ff.training.UnscaledInputWarning), pytest.warns(DivergenceWarning):
            h = ff.fit(model, X, y, optimizer="sgd", output="gaussian", lr=1e3, batch_size=5, max_epochs=5, rng=0)
    assert h.stop_reason == "diverged" and h.epochs == 0
    for p, w in zip(model.parameters(), start):
        np.testing.assert_array_equal(p.data, w)


def test_plateau_schedule_lowers_the_learning_rate():
    X, y = _least_squares()
    h = ff.fit(
        _linear(),
        X,
        y,
        optimizer="sgd",
        output="gaussian",
        mode="batch",
        lr=0.3,
        max_epochs=60,
        lr_schedule=ff.optim.ReduceLROnPlateau(factor=0.5, patience=2, threshold=0.01),
    )
    lrs = h["lr"]
    assert lrs[0] == 0.3 and lrs[-1] < 0.3
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("name", ["step", "exponential", "invscaling", "cosine", "constant", "adaptive"])
def test_named_schedules_drive_the_recorded_lr(name):
    X, y = _least_squares()
    h = ff.fit(_linear(), X, y, optimizer="sgd", output="gaussian", lr=0.05, max_epochs=12, lr_schedule=name, rng=0)
    sched = ff.optim.get_schedule(name, max_epochs=12)
    if name in ("adaptive",):
        assert h["lr"][0] == 0.05
        return
    expected = [sched.get_lr(e, 0.05, samples_seen=e * len(X)) for e in range(12)]
    assert h["lr"] == expected


# ----------------------------------------------------- scikit-learn's rule (issue 10)
def _sklearn_reference(values, tol, n_iter_no_change, early_stopping, adaptive, base_lr=0.1):
    """scikit-learn's own bookkeeping (its MLP's method and its SGD optimizer) over a sequence of values."""
    from types import SimpleNamespace

    from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    scores = iter(values)
    sk = SimpleNamespace(loss_curve_=[], best_loss_=np.inf, validation_scores_=[], best_validation_score_=-np.inf,
                         tol=tol, _no_improvement_count=0, verbose=False, coefs_=[], intercepts_=[],
                         _score=lambda X, y, sample_weight=None: next(scores))
    opt = SGDOptimizer([], base_lr, "adaptive" if adaptive else "constant")
    counts, lrs, stop = [], [], None
    for epoch, value in enumerate(values, start=1):
        lrs.append(opt.learning_rate)
        sk.loss_curve_.append(value)
        BaseMultilayerPerceptron._update_no_improvement_count(sk, early_stopping, None, None, None)
        if sk._no_improvement_count > n_iter_no_change:
            if opt.trigger_stopping("", False):
                counts.append(sk._no_improvement_count)
                stop = epoch
                break
            sk._no_improvement_count = 0
        counts.append(sk._no_improvement_count)
    best = sk.best_validation_score_ if early_stopping else sk.best_loss_
    return counts, lrs, stop, best


def _drive(rule, values, schedule=None, base_lr=0.1, model=None):
    """Run ``rule`` over one value per epoch as the training loop would (the value is the loss or score)."""
    from types import SimpleNamespace

    model = model or _linear()
    trainer = SimpleNamespace(model=model, optimizer=SimpleNamespace(lr=base_lr))
    rule.on_train_begin(trainer)
    counts, lrs, stop = [], [], None
    for epoch, value in enumerate(values, start=1):
        if schedule is not None:
            trainer.optimizer.lr = schedule.get_lr(epoch - 1, base_lr)
        lrs.append(trainer.optimizer.lr)
        logs = {"batch_loss_mean": value, "train_loss": value, "val_metric": value}
        stopped = rule.on_epoch_end(trainer, epoch, logs)
        counts.append(rule.no_improvement_count)
        if stopped:
            stop = epoch
            break
    rule.on_train_end(trainer)
    return counts, lrs, stop


def _plateau_values(seed, greater_is_better):
    """Values that improve, stall, tie exactly with best -/+ tol (tol = 0.25) and improve by less than tol."""
    r = np.random.default_rng(seed)
    steps = r.choice([-0.5, -0.25, -0.125, 0.0, 0.125, 0.25], size=60, p=[0.1, 0.15, 0.2, 0.25, 0.15, 0.15])
    values = 8.0 + np.cumsum(steps)  # multiples of 1/8: best - 0.25 is exact, ties are real ties
    return list(-values if greater_is_better else values)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_sklearn_stopping_counts_as_scikit_learn_does(early_stopping, adaptive, seed):
    """Issue 10: SklearnStopping's no-improvement count, best value, stop epoch and (with AdaptiveLR) the
    learning rate equal scikit-learn's own MLP bookkeeping and SGD optimizer, epoch by epoch."""
    from feedforward.optim.schedules import AdaptiveLR
    from feedforward.training.stopping import SklearnStopping

    values = _plateau_values(seed, greater_is_better=early_stopping)
    tol, n = 0.25, 2
    schedule = AdaptiveLR(n_iter_no_change=None) if adaptive else None
    metric = "accuracy" if early_stopping else "mse"
    rule = SklearnStopping(tol, n, early_stopping=early_stopping, metric=metric, adaptive=schedule)
    counts, lrs, stop = _drive(rule, values, schedule, base_lr=1e-4)
    ref_counts, ref_lrs, ref_stop, ref_best = _sklearn_reference(values, tol, n, early_stopping, adaptive,
                                                                 base_lr=1e-4)
    assert stop == ref_stop and stop is not None
    assert counts == ref_counts
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    best = rule.best_validation_score if early_stopping else rule.best_loss
    assert best == ref_best
    assert rule.reason == ("early_stopping" if early_stopping else "tol")
    assert (rule.validation_scores is not None) == early_stopping


def test_sklearn_stopping_loss_curve_adds_the_l2_term():
    """loss_curve = mean minibatch loss + l2 / 2 * ||w||^2 (worked example: ||w||^2 = 1 + 4 + 9 = 14)."""
    from feedforward.training.stopping import SklearnStopping

    model = _linear()
    layer = model.layers[0]
    layer.weight.data[:] = np.array([[1.0], [2.0], [0.0]])
    layer.bias.data[:] = 3.0
    rule = SklearnStopping(l2=0.1)
    _drive(rule, [0.5, 0.25], model=model)
    assert rule.loss_curve == pytest.approx([0.5 + 0.7, 0.25 + 0.7], rel=1e-15)
    assert rule.best_loss == pytest.approx(0.95) and rule.best_validation_score is None


def test_sklearn_stopping_puts_back_the_best_validation_weights():
    from types import SimpleNamespace

    from feedforward.training.stopping import SklearnStopping

    model = _linear()
    W = model.layers[0].weight
    rule = SklearnStopping(tol=0.0, n_iter_no_change=50, early_stopping=True, metric="r2")
    trainer = SimpleNamespace(model=model, optimizer=SimpleNamespace(lr=0.1))
    rule.on_train_begin(trainer)
    for epoch, score in enumerate([0.1, 0.5, 0.4, 0.45], start=1):
        W.data[:] = epoch  # the weights "learned" in this epoch
        rule.on_epoch_end(trainer, epoch, {"batch_loss_mean": 1.0, "val_metric": score})
    rule.on_train_end(trainer)
    assert (W.data == 2).all()  # epoch 2 had the best score
    assert rule.validation_scores == [0.1, 0.5, 0.4, 0.45] and rule.best_validation_score == 0.5


def test_sklearn_stopping_never_counts_nan_as_an_improvement():
    """A deliberate difference from scikit-learn, whose comparisons count a NaN loss as an improvement."""
    from feedforward.training.stopping import SklearnStopping

    rule = SklearnStopping(tol=0.0, n_iter_no_change=1)
    counts, _, stop = _drive(rule, [1.0, float("nan"), float("nan")])
    assert counts == [0, 1, 2] and stop == 3 and rule.best_loss == 1.0


def test_sklearn_stopping_continues_a_previous_record():
    from feedforward.training.stopping import SklearnStopping

    first = SklearnStopping(tol=0.0, n_iter_no_change=5)
    _drive(first, [3.0, 2.0])
    again = SklearnStopping(tol=0.0, n_iter_no_change=5, previous=first)
    counts, _, _ = _drive(again, [2.5])
    assert again.loss_curve == [3.0, 2.0, 2.5] and again.best_loss == 2.0 and counts == [1]
    switched = SklearnStopping(early_stopping=True, previous=first)  # a different quantity: a new best
    assert switched.loss_curve == [3.0, 2.0] and switched.best_validation_score == -np.inf


def test_sklearn_stopping_checks_its_arguments():
    from feedforward.training.stopping import SklearnStopping

    with pytest.raises(ValueError, match="n_iter_no_change"):
        SklearnStopping(n_iter_no_change=0)
    with pytest.raises(TypeError, match="tol"):
        SklearnStopping(tol="0.1")
    with pytest.raises(ValueError, match="metric"):
        SklearnStopping(metric="f2")
    with pytest.raises(TypeError, match="adaptive"):
        SklearnStopping(adaptive="adaptive")
    assert SklearnStopping(n_iter_no_change=np.inf).n_iter_no_change == np.inf


def test_sklearn_stopping_stops_ff_fit():
    """As a callback of ff.fit: the rule stops the run; the trainer reports 'callback', the rule why."""
    from feedforward.training.stopping import SklearnStopping

    X, y = _least_squares()
    rule = SklearnStopping(tol=1e-3, n_iter_no_change=2)
    h = ff.fit(_linear(), X, y, optimizer="sgd", output="gaussian", lr=0.05, max_epochs=500, callbacks=[rule], rng=0)
    assert h.stop_reason == "callback" and rule.reason == "tol"
    assert len(rule.loss_curve) == h.epochs == len(h.records)
    assert rule.loss_curve == h["batch_loss_mean"]
