"""ff.fit / ff.Trainer: determinism, history, metrics, validation split, partial_fit, bad input.

Requirements L-SGD-3..5 and L-SGD-7.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import History, LambdaCallback
from helpers import blobs as _blobs


def _net(seed=0, dtype=np.float32, out=3, activation="relu"):
    return ff.nn.MLP([4, 8, out], activation=activation, output="categorical", dtype=dtype, rng=seed)


def _strip_time(records):
    return [{k: v for k, v in r.items() if k not in ("time", "epoch_time")} for r in records]


# ------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "options",
    [
        {"mode": "minibatch", "optimizer": "adam"},
        {"mode": "stochastic", "momentum": 0.9},
        {"mode": "minibatch", "validation_fraction": 0.2, "diagnostics": True, "lr_schedule": "step"},
    ],
)
def test_same_seed_is_bit_identical(options):
    options = {"optimizer": "sgd", **options}
    X, y = _blobs()
    runs = []
    for _ in range(2):
        net = _net(activation="rrelu")  # RReLU draws random slopes in training: its rng is seeded too
        h = ff.fit(net, X, y, lr=0.05, max_epochs=4, batch_size=16, rng=7, **options)
        runs.append((net, h))
    (a, ha), (b, hb) = runs
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert _strip_time(ha.records) == _strip_time(hb.records)
    # A different seed gives a different run.
    c = _net(activation="rrelu")
    hc = ff.fit(c, X, y, lr=0.05, max_epochs=4, batch_size=16, rng=8, **options)
    assert hc["train_loss"] != ha["train_loss"]


# ----------------------------------------------------------------- history
def test_history_records_keys_and_to_dict():
    X, y = _blobs()
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=3, validation_fraction=0.25, rng=0)
    for key in (
        "epoch",
        "train_loss",
        "val_loss",
        "val_metric",
        "train_metric",
        "grad_norm",
        "lr",
        "batch_size",
        "time",
        "epoch_time",
        "n_updates",
        "train_accuracy",
        "val_accuracy",
    ):
        assert key in h.records[0]
    assert h["val_metric"] == h["val_accuracy"]
    assert h.epochs == 3 and len(h["train_loss"]) == 3
    assert h.best_epoch == int(np.argmin(h["val_loss"])) + 1
    times = h["time"]
    assert all(t2 >= t1 for t1, t2 in zip(times, times[1:]))
    d = h.to_dict()
    assert d["stop_reason"] == "max_epochs" and d["epochs"] == 3
    again = History.from_dict(json.loads(json.dumps(d)))
    assert again.records == h.records and again.best_epoch == h.best_epoch
    with pytest.raises(KeyError, match="no 'accuracy'"):
        h["accuracy"]


def test_no_validation_gives_none():
    X, y = _blobs()
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=2, rng=0)
    assert h["val_loss"] == [None, None] and h["val_metric"] == [None, None]


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = _blobs()
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=3, validation_fraction=0.25, rng=0)
    path = tmp_path / "loss.png"
    fig = h.plot(path)
    assert path.stat().st_size > 1000
    ax_loss, ax_metric = fig.axes
    assert ax_loss.get_title() and ax_loss.get_xlabel() == "epoch" and ax_loss.get_ylabel()
    labels = [t.get_text() for t in ax_loss.get_legend().get_texts()]
    assert "train loss" in labels and "val loss" in labels
    assert ax_metric.get_ylabel() == "accuracy"
    np.testing.assert_allclose(ax_loss.get_lines()[0].get_ydata(), h["train_loss"])


# ----------------------------------------------------------------- metrics
def test_default_metrics_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    X, y = _blobs()
    net = _net()
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=2, train_eval="loss", rng=0)
    assert h["train_metric"][-1] == sk.accuracy_score(y, net.predict(X))
    r = np.random.default_rng(0)
    Xr = r.standard_normal((60, 4)).astype(np.float32)
    Y = np.c_[Xr[:, 0] - Xr[:, 1], Xr[:, 2]].astype(np.float32)
    reg = ff.nn.MLP([4, 8, 2], activation="tanh", output="gaussian", rng=0)
    h = ff.fit(
        reg, Xr, Y, optimizer="sgd", lr=0.05, max_epochs=2, metrics=["mse", "mae", "r2"],
        validation_data=(Xr, Y), train_eval="loss", rng=0,
    )
    pred = reg.predict(Xr)
    assert h["train_metric"][-1] == pytest.approx(sk.mean_squared_error(Y, pred), rel=1e-6)
    assert h["val_mae"][-1] == pytest.approx(sk.mean_absolute_error(Y, pred), rel=1e-6)
    assert h["val_r2"][-1] == pytest.approx(sk.r2_score(Y, pred), rel=1e-5)


def test_train_loss_is_the_full_objective_at_the_end_of_the_epoch():
    X, y = _blobs()
    net = _net()
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=2, train_eval="loss", rng=0)
    with ff.no_grad():
        assert float(net.output.nll(net(ff.Tensor(X)), y).data) == pytest.approx(
            h["train_loss"][-1], rel=1e-6
        )


# ---------------------------------------------------------- validation split
def test_validation_fraction_is_stratified():
    X, y = _blobs(n=60)
    y = np.r_[np.zeros(50, int), np.ones(7, int), np.full(3, 2)]  # imbalanced: 50 / 7 / 3
    trainer = ff.Trainer(_net(), optimizer="sgd", lr=0.05, max_epochs=1, rng=0)
    trainer.fit(X, y, validation_fraction=0.2)
    train_idx, val_idx = trainer.validation_split
    assert len(np.intersect1d(train_idx, val_idx)) == 0
    np.testing.assert_array_equal(np.sort(np.r_[train_idx, val_idx]), np.arange(60))
    for c in range(3):
        assert (y[val_idx] == c).sum() >= 1 and (y[train_idx] == c).sum() >= 1
    assert (y[val_idx] == 0).sum() == 10
    assert 10 <= len(val_idx) <= 14


# --------------------------------------------------------- Trainer features
def test_partial_fit_equals_fit_epoch_by_epoch():
    X, y = _blobs()
    a, b = _net(), _net()
    ha = ff.fit(a, X, y, optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, max_epochs=3, rng=4)
    trainer = ff.Trainer(b, optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, rng=4)
    for k in range(3):
        hb = trainer.partial_fit(X, y)
        assert hb.epochs == k + 1 and hb.stop_reason is None
    assert trainer.optimizer.step_count == sum(ha["n_updates"])
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert _strip_time(ha.records) == _strip_time(hb.records)


def test_trainer_fit_twice_starts_a_fresh_run():
    X, y = _blobs()
    trainer = ff.Trainer(_net(), optimizer="adam", lr=0.01, max_epochs=2, rng=0)
    trainer.fit(X, y)
    first_steps = trainer.optimizer.step_count
    h = trainer.fit(X, y, max_epochs=3)
    assert h.epochs == 3 and trainer.stop_reason == "max_epochs"
    assert trainer.optimizer.step_count == first_steps // 2 * 3  # reset, then three epochs


def test_optimizer_instance_and_mismatch():
    X, y = _blobs()
    net = _net()
    opt = ff.optim.Adam(net.parameters(), lr=0.02)
    h = ff.fit(net, X, y, optimizer=opt, max_epochs=2, rng=0)
    assert h["lr"] == [0.02, 0.02] and opt.step_count > 0
    with pytest.raises(ValueError, match="other parameters"):
        ff.fit(_net(), X, y, optimizer=ff.optim.SGD(_net(seed=2).parameters(), lr=0.1))


def test_clip_norm_bounds_every_update_gradient():
    X, y = _blobs()
    norms = []
    cb = LambdaCallback(on_batch_end=lambda t, b, logs: norms.append(ff.optim.global_grad_norm(t.params)))
    ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, clip_norm=0.01, max_epochs=2, callbacks=[cb], rng=0)
    assert len(norms) == 2 * 3 and max(norms) <= 0.01 * (1 + 1e-6)


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = _blobs()
    ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=2, progress=True, validation_fraction=0.2, rng=0)
    err = capsys.readouterr().err
    assert "training" in err and "loss=" in err and "val_accuracy=" in err


def test_progress_off_a_terminal_is_periodic_lines(capsys):
    """Issue 14: stderr not a terminal (a log, CI): one plain line every tenth of max_epochs and at
    the last epoch, no carriage-return updates; on a terminal, tqdm's bar."""
    pytest.importorskip("tqdm")
    import io

    from feedforward.training.progress import Progress, make_progress

    X, y = _blobs()
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=25, progress=True, validation_fraction=0.2,
               rng=0)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and [line.split(",")[0] for line in lines] == [
        f"training: epoch {e}/25" for e in (2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25)]
    last = h.records[-1]
    assert lines[-1] == (f"training: epoch 25/25, loss={last['train_loss']:.4g}, val_loss={last['val_loss']:.4g}, "
                         f"val_accuracy={last['val_metric']:.4g}")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(make_progress(5, 0, "accuracy", io.StringIO()), Progress)
    bar = make_progress(5, 0, "accuracy", Terminal())
    assert not isinstance(bar, Progress)
    bar.close()


def test_default_batch_size_on_tiny_data_and_output_resolution():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    net = ff.nn.Sequential(ff.nn.Linear(2, 4, rng=0), ff.nn.Tanh(), ff.nn.Linear(4, 2, rng=1))
    h = ff.fit(net, X, y, optimizer="sgd",
               output="categorical", max_epochs=2, rng=0)  # default batch_size 32 > 4 examples
    assert h["batch_size"] == [4, 4]
    with pytest.raises(ValueError, match="needs an output unit"):
        ff.fit(net, X, y, optimizer="sgd")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X, y: (X, y[:-1]), ValueError, "same length"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y), ValueError, "NaN"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), y), ValueError, "inf"),
        (lambda X, y: (X[:0], y[:0]), ValueError, "empty"),
        (lambda X, y: (X[:, 0], y), ValueError, "2-D"),
        (lambda X, y: (X[:, :, None], y), ValueError, "2-D"),
        (lambda X, y: (X.astype(str), y), TypeError, "numeric"),
        (
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, 1e300, X.astype(np.float64)), y),
            ValueError,
            "as float32",
        ),
        # Any labels are classes (issue 14), but 4 of them do not fit 3 outputs.
        (lambda X, y: (X, np.r_[y[:-1], 7]), ValueError, r"y has 4 distinct labels \(0, 1, 2, 7\) but the model has 3"),
        (lambda X, y: (X, y.reshape(-1, 1)), ValueError, "1-D class labels"),
    ],
)
def test_bad_data(change, error, message):
    X, y = _blobs()
    X, y = change(X, y)
    with pytest.raises(error, match=message):
        ff.fit(_net(), X, y, optimizer="sgd", max_epochs=1)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 91}, ValueError, "minibatch mode needs 1 <= batch_size <= 90"),
        ({"lr": -0.1}, ValueError, "lr"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"batch_size": 2.5}, TypeError, r"batch_size must be an integer >= 1, got 2\.5 \(float\)"),
        ({"batch_size": True}, TypeError, "batch_size must be an integer"),
        ({"mode": "online"}, ValueError, "mode must be one of 'stochastic', 'batch', 'minibatch', got 'online'"),
        ({"optimizer": "rmsprop"}, ValueError,
         "optimizer must be 'sgd', 'adam' or an ff.optim.Optimizer, got 'rmsprop'"),
        ({"optimizer": 3}, TypeError, "optimizer must be 'sgd', 'adam'"),
        ({"lr_schedule": "warmup"}, ValueError, "unknown lr_schedule 'warmup'"),
        ({"validation_fraction": 0.0}, ValueError, "validation_fraction must be a finite number > 0 and < 1"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be a finite number > 0 and < 1"),
        ({"validation_fraction": "0.2"}, TypeError, "validation_fraction must be a finite number"),
        ({"validation_fraction": 0.2, "validation_data": ([[0.0] * 4], [0])}, ValueError, "not both"),
        ({"max_epochs": 0}, ValueError, "max_epochs"),
        ({"max_epochs": 2.0}, TypeError, "max_epochs must be an integer"),
        ({"patience": 0}, ValueError, "patience must be an integer >= 1"),
        ({"early_stopping": 1}, TypeError, "early_stopping must be True or False"),
        ({"train_eval": "full"}, ValueError, "train_eval must be one of 'grad', 'loss', 'batches'"),
        ({"saturation_tol": 1.5}, ValueError, "saturation_tol must be a finite number > 0 and < 1"),
        ({"checkpoint_path": 3}, TypeError, "checkpoint_path must be a path"),
        ({"grad_tol": -1.0}, ValueError, "grad_tol"),
        ({"metrics": "f2"}, ValueError, "unknown metric 'f2'"),
        ({"checkpoint_every": 2}, ValueError, "checkpoint_path"),
        ({"callbacks": [object()]}, TypeError, "hooks"),
        ({"sample_weight": -np.ones(90)}, ValueError, "non-negative"),
    ],
)
def test_bad_options(options, error, message):
    X, y = _blobs()
    with pytest.raises(error, match=message):
        ff.fit(_net(), X, y, max_epochs=options.pop("max_epochs", 1), **{"optimizer": "sgd", **options})


def test_batch_size_larger_than_data_is_fine_in_batch_and_stochastic_modes():
    X, y = _blobs()
    for mode in ("batch", "stochastic"):
        h = ff.fit(_net(), X, y, optimizer="sgd", mode=mode, batch_size=1000, max_epochs=1, rng=0)
        assert h["batch_size"] == [90 if mode == "batch" else 1]


def test_regression_target_shape_checked():
    r = np.random.default_rng(0)
    X = r.standard_normal((20, 4)).astype(np.float32)
    reg = ff.nn.MLP([4, 8, 2], output="gaussian", rng=0)
    with pytest.raises(ValueError, match="2 outputs"):
        ff.fit(reg, X, X[:, 0], optimizer="sgd", max_epochs=1)
    bern = ff.nn.MLP([4, 8, 1], output="bernoulli", rng=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ff.fit(bern, X, np.full(20, 2.0), optimizer="sgd", max_epochs=1)


def test_second_fit_starts_from_the_initial_learning_rate():
    X, y = _blobs()
    trainer = ff.Trainer(_net(), optimizer="sgd", lr=0.1, lr_schedule="exponential", max_epochs=3, rng=0)
    h1 = trainer.fit(X, y)
    h2 = trainer.fit(X, y)
    assert h1["lr"] == h2["lr"] and h2["lr"][0] == 0.1 and h2["lr"][-1] < 0.1


def test_fit_signature_lists_the_options():
    import inspect

    params = inspect.signature(ff.fit).parameters
    for name in (
        "output",
        "optimizer",
        "lr",
        "mode",
        "batch_size",
        "max_epochs",
        "grad_tol",
        "lr_schedule",
        "batch_schedule",
        "validation_fraction",
        "early_stopping",
        "metrics",
        "sample_weight",
        "callbacks",
        "progress",
        "diagnostics",
        "clip_norm",
        "checkpoint_path",
        "resume_from",
        "rng",
    ):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(TypeError, match="unexpected keyword argument 'epochs'"):
        ff.fit(_net(), *_blobs(), optimizer="sgd", epochs=3)
