"""Dead and saturated units, per-layer gradient norms, during training (L-ACT-7)."""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import ActivationProbe, activation_report, layer_grad_norms


def _data(n=40, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


def _mlp(activation, seed=0):
    return ff.nn.MLP([3, 6, 5, 2], activation=activation, output="categorical", dtype=np.float64, rng=seed)


def test_forced_dead_layer_reports_one():
    X, y = _data()
    net = _mlp("relu")
    net.layers[0].bias.data[:] = -100.0  # z = x W + b < 0 for every example: all 6 units dead
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.1, max_epochs=2, diagnostics=True, rng=0)
    diag = h.records[-1]["diagnostics"]
    assert diag["dead_fraction"]["layers.1"] == 1.0
    # Dead units pass no gradient: the first layer gets none.
    assert diag["grad_norm"]["layers.0"] == 0.0
    assert diag["grad_norm"]["layers.4"] > 0


def test_dead_fraction_matches_a_hand_count():
    X, y = _data()
    net = _mlp("relu", seed=3)
    net.layers[0].bias.data[:3] = -50.0  # three of six units dead, the others alive on some example
    report = activation_report(net, X)
    W1, b1 = net.layers[0].weight.data, net.layers[0].bias.data
    z1 = X @ W1 + b1
    W2, b2 = net.layers[2].weight.data, net.layers[2].bias.data
    z2 = np.maximum(z1, 0) @ W2 + b2
    assert report["dead_fraction"]["layers.1"] == pytest.approx(np.mean(~(z1 > 0).any(axis=0)))
    assert report["dead_fraction"]["layers.1"] == pytest.approx(0.5)
    assert report["dead_fraction"]["layers.3"] == pytest.approx(np.mean(~(z2 > 0).any(axis=0)))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturated_squashers(activation):
    X, y = _data()
    net = _mlp(activation)
    net.layers[0].bias.data[:] = 50.0  # pushed far into the flat part
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.01, max_epochs=1, diagnostics=True, rng=0)
    diag = h.records[-1]["diagnostics"]
    assert diag["saturated_fraction"]["layers.1"] == 1.0
    assert diag["saturation_rate"]["layers.1"] == 1.0
    assert diag["dead_fraction"] == {}
    # A fresh Glorot-initialised layer is not saturated on standardised inputs.
    fresh = activation_report(_mlp(activation), X)
    assert fresh["saturated_fraction"]["layers.1"] == 0.0
    assert fresh["saturation_rate"]["layers.1"] < 0.2


def test_saturation_rate_matches_a_hand_count():
    X, _ = _data()
    net = _mlp("tanh", seed=1)
    net.layers[0].weight.data *= 4
    report = activation_report(net, X, saturation_tol=0.1)
    z1 = X @ net.layers[0].weight.data + net.layers[0].bias.data
    t = np.tanh(z1)
    assert report["saturation_rate"]["layers.1"] == pytest.approx(np.mean(1 - t * t < 0.1))
    assert report["saturated_fraction"]["layers.1"] == pytest.approx(np.mean((1 - t * t < 0.1).all(axis=0)))


def test_layer_grad_norms_add_up_to_the_recorded_grad_norm():
    X, y = _data()
    net = _mlp("elu")
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.1, max_epochs=2, diagnostics=True, rng=0)
    per_layer = h.records[-1]["diagnostics"]["grad_norm"]
    assert sorted(per_layer) == ["layers.0", "layers.2", "layers.4"]
    total = np.sqrt(sum(v**2 for v in per_layer.values()))
    assert total == pytest.approx(h["grad_norm"][-1], rel=1e-12)
    # ... and equal the full-batch gradient by hand.
    for p in net.parameters():
        p.grad = None
    net.output.nll(net(ff.Tensor(X)), y).backward()
    assert layer_grad_norms(net)["layers.2"] == pytest.approx(per_layer["layers.2"], rel=1e-12)


def test_probe_leaves_no_trace():
    X, _ = _data()
    net = _mlp("relu")
    before = net(ff.Tensor(X)).data.copy()
    with ActivationProbe(net) as probe:
        inside = net(ff.Tensor(X)).data
    np.testing.assert_array_equal(inside, before)
    assert all("forward" not in vars(m) for m in net.modules())
    assert set(probe.report()["dead_fraction"]) == {"layers.1", "layers.3"}


def test_diagnostics_off_by_default_and_bad_tolerance():
    X, y = _data()
    h = ff.fit(_mlp("relu"), X, y, optimizer="sgd", max_epochs=1, rng=0)
    assert "diagnostics" not in h.records[0]
    with pytest.raises(ValueError, match="saturation_tol"):
        activation_report(_mlp("relu"), X, saturation_tol=1.5)
    with pytest.raises(ValueError, match="2-D"):
        activation_report(_mlp("relu"), X[0])


def test_a_unit_at_exactly_zero_everywhere_is_dead():
    """L-ACT-7, the boundary: z = 0 is inactive (a ReLU outputs 0 there and its derivative is the
    left one, 0), so a unit whose pre-activation is exactly 0 on every example is dead; a unit at
    0 on every example but one, where it is positive, is alive. `z >= 0` would call both alive,
    `z > 0 on some example` tells them apart."""
    X = np.zeros((6, 3))
    X[:, 1:] = np.random.default_rng(0).standard_normal((6, 2))
    X[4, 0] = 1.0  # x_0 is 0 on every row but one
    net = ff.nn.MLP([3, 2, 2], activation="relu", output="categorical", dtype=np.float64, rng=0)
    W, b = net.layers[0].weight.data, net.layers[0].bias.data
    W[:] = 0.0
    b[:] = 0.0
    W[0, 1] = 1.0  # unit 1: z = x_0, unit 0: z = 0 exactly
    z = X @ W + b
    assert (z[:, 0] == 0).all() and (z[:, 1] >= 0).all() and z[4, 1] > 0
    assert activation_report(net, X)["dead_fraction"]["layers.1"] == 0.5


def test_units_are_classified_by_their_declared_kind():
    """A squasher the package has never seen is watched because it declares kind="squasher"; its
    derivative comes from its own gradient rule (softsign: g'(z) = 1 / (1 + |z|)^2, g'(0) = 1)."""

    class Softsign(ff.nn.activation.Unit):
        name = "softsign-test"
        kind = "squasher"

        def forward(self, z):
            return z / (1 + z.abs())

    X, _ = _data()
    net = ff.nn.Sequential(ff.nn.Linear(3, 5, rng=0, dtype=np.float64), Softsign())
    net.layers[0].weight.data *= 3
    z = X @ net.layers[0].weight.data + net.layers[0].bias.data
    saturated = 1 / (1 + np.abs(z)) ** 2 < 0.1
    report = activation_report(net, X, saturation_tol=0.1)
    assert report["saturation_rate"]["layers.1"] == pytest.approx(saturated.mean())
    assert report["saturated_fraction"]["layers.1"] == pytest.approx(saturated.all(axis=0).mean())
    assert 0 < saturated.mean() < 1
