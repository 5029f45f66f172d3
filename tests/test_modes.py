"""The lecture's three ways through the data (L-SGD-1, L-SGD-2, L-SGD-3) and a growing batch (L-SGD-4).

Each mode is checked against what the lecture says it does, by recording
every update through a callback and replaying the same updates by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import GrowingBatch, LambdaCallback


def _data(n=24, d=3, classes=3, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, classes, size=n)
    return X, y


def _net(seed=1, sizes=(3, 5, 3)):
    return ff.nn.MLP(list(sizes), activation="tanh", output="categorical", dtype=np.float64, rng=seed)


class Recorder(LambdaCallback):
    """Keeps (epoch, indices copy, size) for every update."""

    def __init__(self):
        self.updates = []

    def on_batch_end(self, trainer, batch, logs):
        self.updates.append((logs["epoch"], np.array(logs["indices"]), logs["size"]))


class CountingSGD(ff.optim.SGD):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def step(self):
        self.calls += 1
        super().step()


def _replay(net, X, y, updates, lr):
    """Plain SGD by hand: one step per recorded batch, gradient of that batch's mean NLL."""
    params = net.parameters()
    for _, idx, _ in updates:
        for p in params:
            p.grad = None
        net.output.nll(net(ff.Tensor(X[idx])), y[idx]).backward()
        for p in params:
            p.data -= lr * p.grad


# ------------------------------------------------------------------ batch
def test_batch_mode_one_update_per_epoch_equal_to_full_batch_gradient_step():
    """L-SGD-1 (Algorithm 2): one update per epoch, equal to one full-batch gradient step."""
    X, y = _data()
    net, ref = _net(), _net()
    opt = CountingSGD(net.parameters(), lr=0.3)
    rec = Recorder()
    h = ff.fit(net, X, y, optimizer=opt, mode="batch", max_epochs=4, callbacks=[rec], rng=0)
    assert opt.calls == 4
    assert h["n_updates"] == [1, 1, 1, 1]
    assert h["batch_size"] == [len(X)] * 4
    assert [len(idx) for _, idx, _ in rec.updates] == [len(X)] * 4
    # Four full-batch gradient steps by hand, from the same initial weights.
    _replay(ref, X, y, [(e, np.arange(len(X)), len(X)) for e in range(4)], lr=0.3)
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_batch_mode_in_chunks_equals_one_pass():
    # The full gradient accumulated over chunks of 7 rows equals the one-pass gradient.
    X, y = _data(n=30)
    a, b = _net(), _net()
    ff.fit(a, X, y, optimizer="sgd", mode="batch", lr=0.3, max_epochs=3, rng=0)
    h = ff.fit(b, X, y, optimizer="sgd", mode="batch", lr=0.3, max_epochs=3, rng=0, eval_chunk_size=7)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-13, atol=1e-15)
    assert h["n_updates"] == [1, 1, 1]


def test_batch_mode_does_not_reuse_a_stale_gradient_after_a_callback_changes_weights():
    X, y = _data()
    net, ref = _net(), _net()

    def shrink(trainer, epoch, logs):
        for p in trainer.params:
            p.data *= 0.5

    ff.fit(net, X, y, optimizer="sgd",
           mode="batch", lr=0.3, max_epochs=2, callbacks=[LambdaCallback(on_epoch_end=shrink)])
    _replay(ref, X, y, [(0, np.arange(len(X)), 0)], lr=0.3)
    for p in ref.parameters():
        p.data *= 0.5
    _replay(ref, X, y, [(1, np.arange(len(X)), 0)], lr=0.3)
    for p in ref.parameters():
        p.data *= 0.5
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------------- stochastic
def test_stochastic_mode_n_updates_each_from_one_pattern():
    """L-SGD-2 (Algorithm 1): n updates per epoch, each from one randomly chosen pattern."""
    X, y = _data(n=20)
    net, ref = _net(), _net()
    opt = CountingSGD(net.parameters(), lr=0.1)
    rec = Recorder()
    h = ff.fit(net, X, y, optimizer=opt, mode="stochastic", max_epochs=3, callbacks=[rec], rng=5)
    n = len(X)
    assert opt.calls == 3 * n
    assert h["n_updates"] == [n] * 3
    assert h["batch_size"] == [1] * 3
    assert all(size == 1 and idx.shape == (1,) for _, idx, size in rec.updates)
    # Each update is the gradient step of that single pattern.
    _replay(ref, X, y, rec.updates, lr=0.1)
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # Patterns are drawn at random with replacement: some epoch repeats a pattern
    # (a draw of 20 out of 20 being a permutation has probability 2e-8).
    per_epoch = [np.concatenate([idx for e, idx, _ in rec.updates if e == k]) for k in (1, 2, 3)]
    assert any(len(np.unique(p)) < n for p in per_epoch)
    assert all(p.min() >= 0 and p.max() < n for p in per_epoch)


# -------------------------------------------------------------- minibatch
def test_minibatch_visits_every_example_once_per_epoch():
    """L-SGD-3: shuffle each epoch, minibatches in order, every example exactly once."""
    X, y = _data(n=23)
    net, ref = _net(), _net()
    rec = Recorder()
    h = ff.fit(net, X, y, optimizer="sgd", mode="minibatch", batch_size=5, lr=0.2, max_epochs=3, callbacks=[rec], rng=3)
    orders = []
    for k in (1, 2, 3):
        batches = [idx for e, idx, _ in rec.updates if e == k]
        assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
        order = np.concatenate(batches)
        np.testing.assert_array_equal(np.sort(order), np.arange(23))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch
    assert h["n_updates"] == [5, 5, 5]
    # The reused gather buffers give exactly the updates of the recorded minibatches.
    _replay(ref, X, y, rec.updates, lr=0.2)
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_batch_loss_mean_is_the_average_of_the_update_losses():
    X, y = _data(n=23)
    losses = []
    cb = LambdaCallback(on_batch_end=lambda t, b, logs: losses.append((logs["loss"], logs["size"])))
    h = ff.fit(_net(), X, y, optimizer="sgd", batch_size=5, lr=0.2, max_epochs=1, callbacks=[cb], rng=3)
    expected = sum(v * m for v, m in losses) / 23
    assert h["batch_loss_mean"][0] == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------- growing batch
def test_growing_batch_sizes_recorded_as_configured():
    """L-SGD-4: batch sizes start small and grow by a factor every k epochs, up to a cap."""
    X, y = _data(n=50)
    rec = Recorder()
    sched = GrowingBatch(4, factor=2, every=2, max_size=24)
    h = ff.fit(_net(), X, y, optimizer="sgd", batch_schedule=sched, lr=0.1, max_epochs=8, callbacks=[rec], rng=0)
    expected = [4, 4, 8, 8, 16, 16, 24, 24]
    assert h["batch_size"] == expected
    assert h["n_updates"] == [math.ceil(50 / b) for b in expected]
    for k, size in enumerate(expected, start=1):
        sizes = [s for e, _, s in rec.updates if e == k]
        assert max(sizes) == size and sum(sizes) == 50


def test_growing_batch_grows_into_full_batch():
    sched = GrowingBatch(3, factor=3, every=1)
    assert [sched.size(e, n=40) for e in range(1, 6)] == [3, 9, 27, 40, 40]


def test_growing_batch_on_plateau():
    sched = GrowingBatch(8, factor=2, on_plateau=True, patience=2, min_delta=0.01)
    sizes = []
    for epoch, loss in enumerate([1.0, 0.5, 0.499, 0.498, 0.3, 0.299, 0.2999], start=1):
        sizes.append(sched.size(epoch, n=1000))
        sched.observe(epoch, loss)
    # Two epochs without a 1% improvement (0.499, 0.498) double the size once.
    assert sizes == [8, 8, 8, 8, 16, 16, 16]
    assert sched.size(8, n=1000) == 32
    state = sched.state_dict()
    other = GrowingBatch(8, factor=2, on_plateau=True, patience=2, min_delta=0.01)
    other.load_state_dict(state)
    assert other.size(8, n=1000) == 32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start": 0}, "start"),
        ({"start": 4, "factor": 1.0}, "factor"),
        ({"start": 4, "every": 0}, "every"),
        ({"start": 8, "max_size": 4}, "max_size"),
    ],
)
def test_growing_batch_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GrowingBatch(**kwargs)


def test_batch_schedule_needs_minibatch_mode_and_fitting_start():
    X, y = _data(n=10)
    with pytest.raises(ValueError, match="batch_schedule needs mode='minibatch'"):
        ff.fit(_net(), X, y, optimizer="sgd", mode="batch", batch_schedule=GrowingBatch(2))
    with pytest.raises(ValueError, match="batch_schedule starts at 16"):
        ff.fit(_net(), X, y, optimizer="sgd", batch_schedule=GrowingBatch(16))


# ---------------------------------------------------------- sample weights
def test_integer_sample_weights_equal_repeated_rows_in_batch_mode():
    X, y = _data(n=12)
    w = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 2, 1], dtype=float)
    a, b = _net(), _net()
    ff.fit(a, X, y, optimizer="sgd", sample_weight=w, mode="batch", lr=0.5, max_epochs=3)
    rep = np.repeat(np.arange(12), w.astype(int))
    ff.fit(b, X[rep], y[rep], optimizer="sgd", mode="batch", lr=0.5, max_epochs=3)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)


def test_zero_weight_batches_are_skipped_in_stochastic_mode():
    X, y = _data(n=10)
    w = np.zeros(10)
    w[3] = 1.0
    rec = Recorder()
    h = ff.fit(_net(), X, y, optimizer="sgd",
                    sample_weight=w, mode="stochastic", lr=0.1, max_epochs=2, callbacks=[rec], rng=0)
    assert all(idx[0] == 3 for _, idx, _ in rec.updates)
    assert sum(h["n_updates"]) == len(rec.updates)


def test_batch_mode_partial_fit_on_new_data_uses_the_new_gradient():
    # partial_fit with a different data set must not reuse the gradient cached for the old one.
    X, y = _data(n=24)
    X2, y2 = _data(n=24, seed=9)
    net, ref = _net(), _net()
    trainer = ff.Trainer(net, optimizer="sgd", mode="batch", lr=0.3)
    trainer.partial_fit(X, y)
    trainer.partial_fit(X2, y2)
    _replay(ref, X, y, [(0, np.arange(24), 24)], lr=0.3)
    _replay(ref, X2, y2, [(1, np.arange(24), 24)], lr=0.3)
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
