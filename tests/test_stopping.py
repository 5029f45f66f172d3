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
    h = ff.fit(model, X, y, output="gaussian", mode="batch", lr=0.3, grad_tol=theta, max_epochs=5000)
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
    h = ff.fit(model, X, y, output="gaussian", mode="batch", lr=0.1, weight_decay=0.5, max_epochs=3)
    W, b = model.layers[0].weight.data[:, 0], model.layers[0].bias.data[0]
    r = y - X @ W - b
    grad = np.concatenate([-(X.T @ r) / len(X) + 0.5 * W, [-r.mean() + 0.5 * b]])
    assert h["grad_norm"][-1] == pytest.approx(np.linalg.norm(grad), rel=1e-10)


def test_max_epochs_reason():
    X, y = _least_squares()
    h = ff.fit(_linear(), X, y, output="gaussian", lr=0.01, max_epochs=3, rng=0)
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
        ff.fit(_linear(), X, y, output="gaussian", monitor="val_loss", early_stopping=True)


def test_callback_stops_training():
    X, y = _least_squares()
    stop_at_3 = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: epoch == 3)
    h = ff.fit(_linear(), X, y, output="gaussian", lr=0.01, max_epochs=50, callbacks=[stop_at_3], rng=0)
    assert h.stop_reason == "callback" and h.epochs == 3

    def flag(trainer, batch, logs):
        if logs["epoch"] == 2 and batch == 1:
            trainer.stop_training = True

    h = ff.fit(
        _linear(),
        X,
        y,
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
        h = ff.fit(model, X, y, output="gaussian", mode="batch", lr=3.0, max_epochs=1000, callbacks=[keep])
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
        with pytest.warns(DivergenceWarning):
            h = ff.fit(model, X, y, output="gaussian", lr=1e3, batch_size=5, max_epochs=5, rng=0)
    assert h.stop_reason == "diverged" and h.epochs == 0
    for p, w in zip(model.parameters(), start):
        np.testing.assert_array_equal(p.data, w)


def test_plateau_schedule_lowers_the_learning_rate():
    X, y = _least_squares()
    h = ff.fit(
        _linear(),
        X,
        y,
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
    h = ff.fit(_linear(), X, y, output="gaussian", lr=0.05, max_epochs=12, lr_schedule=name, rng=0)
    sched = ff.optim.get_schedule(name, max_epochs=12)
    if name in ("adaptive",):
        assert h["lr"][0] == 0.05
        return
    expected = [sched.get_lr(e, 0.05, samples_seen=e * len(X)) for e in range(12)]
    assert h["lr"] == expected
