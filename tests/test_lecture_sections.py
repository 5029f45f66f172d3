"""The lecture's sections added or rebuilt in issue 11: their building blocks, each tested on its own.

(The whole report's quick run, every section and every check, is in test_lecture_report.py.)
"""

import numpy as np
import pytest

import feedforward as ff
from feedforward import perturbation as pt
from feedforward.experiments import (
    _html, _node_perturbation, _plot, cylinders, hidden_units, output_units, review, sgd_modes,
)


def test_node_perturbation_gradient_is_backprops_and_costs_one_pass_per_unit():
    """Issue 11 defect 3 (L-BP-2): perturbing each unit's net input gives dJ/dw = mean_p delta_jp z_ip."""
    net = ff.nn.MLP([2, 5, 4, 1], activation="tanh", rng=3, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(40, 2))
    Y = np.sin(X[:, :1]) + X[:, 1:] ** 2
    J, grads, passes = _node_perturbation.node_gradient(_node_perturbation.layers_of(net), X, Y)
    net.zero_grad()
    loss = pt._loss_tensor(net, ff.Tensor(X), Y)
    loss.backward()
    assert abs(J - float(loss.item())) < 1e-12
    assert passes == 1 + 5 + 4 + 1  # the clean pass and one per unit, not one per weight
    for (dW, db), lin in zip(grads, net.linears):
        np.testing.assert_allclose(dW, lin.weight.grad, atol=1e-5)
        np.testing.assert_allclose(db, lin.bias.grad, atol=1e-5)


def test_node_perturbation_training_lowers_the_loss_and_writes_the_weights_back():
    net = ff.nn.MLP([1, 6, 1], activation="tanh", rng=0, dtype=np.float64)
    X = np.linspace(-3, 3, 64)[:, None]
    before = net.linears[0].weight.data.copy()
    losses, passes, times = _node_perturbation.train_node_perturbation(net, X, np.sin(X), lr=0.1, n_updates=50)
    assert losses[-1] < 0.5 * losses[0] and passes[-1] == 50 * 8 and len(times) == 51
    assert not np.array_equal(before, net.linears[0].weight.data)


def test_square_cylinders_partition_the_square():
    """Issue 11 (constructions): away from the edges, exactly one square cylinder is on at each point."""
    P = cylinders._grid(64)
    for n in (2, 4, 8):
        feats, centres = cylinders.box_cylinders(P, n, 1e-3 * 2 / n)
        np.testing.assert_allclose(feats.sum(axis=1), 1.0, atol=1e-12)
        on = feats.argmax(axis=1)  # the cylinder that is on is the one whose cell holds the point
        assert np.all(np.abs(P - centres[on]).max(axis=1) <= 1.0 / n + 1e-12)


def test_tanh_net_approaches_its_linear_counterpart_like_s_squared():
    """Issue 11 (hidden units): w'tanh(U'tanh(V'x)) ~ w'U'V'x with relative error ~ s^2; sigmoid: no."""
    scales = np.array([0.01, 0.02, 0.04])
    tanh_err = hidden_units._linear_regime("tanh", scales)
    ratios = np.array(tanh_err[1:]) / np.array(tanh_err[:-1])
    np.testing.assert_allclose(ratios, 4.0, rtol=0.05)
    assert min(hidden_units._linear_regime("sigmoid", scales)) > 0.5


def test_least_squares_settle_demo():
    """Issue 11 defect 4: batch GD converges at the predicted rate; SGD at a constant step does not settle."""
    d = sgd_modes.settle_demo(600)
    assert abs(d["measured_rate"] - d["predicted_rate"]) < 0.02 * d["predicted_rate"]
    assert abs(d["batch_final_gap"]) < 1e-9 and d["sto_late_min_gap"] > 1e-4


def test_update_recorder_reads_the_whole_training_set_every_k_updates():
    X = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = ff.nn.MLP([4, 8, 2], output="categorical", rng=0)
    rec = sgd_modes.UpdateRecorder(X, y, every=5)
    rec.begin(net)
    ff.fit(net, X, y, optimizer="sgd", batch_size=10, max_epochs=2, callbacks=[rec], rng=0)
    assert rec.updates == [0, 5, 10, 15, 20] and len(rec.losses) == 5
    assert all(b >= a for a, b in zip(rec.times, rec.times[1:]))
    assert rec.losses[-1] == pytest.approx(rec.J(net))


def test_review_divergences():
    """Issue 11 (review): CE = KL + H(p) on the grid; the forward fit matches p's moments."""
    dx = review.GRID[1] - review.GRID[0]
    p = review.mixture(review.GRID)
    assert abs(np.sum(p) * dx - 1) < 1e-6
    q = review.gauss(review.GRID, 1.0, 2.0)
    ce = -np.sum(p * np.log(q)) * dx
    assert abs(ce - (review.kl(p, q, dx) - np.sum(p * np.log(p)) * dx)) < 1e-10
    assert review.kl(p, p, dx) == pytest.approx(0.0, abs=1e-12)


def test_output_unit_gradients_with_respect_to_z():
    """Issue 11 (output units): d/dz of the Bernoulli NLL is sigmoid(z) - y."""
    from feedforward.nn.output import Bernoulli

    z = np.array([-10.0, -1.0, 0.0, 2.0, 10.0])
    for target in (0.0, 1.0):
        def loss(t, target=target):
            return Bernoulli().nll(t.reshape(-1, 1), np.full((5, 1), target)) * 5

        g = output_units._grad_wrt_z(loss, z)
        np.testing.assert_allclose(g, 1 / (1 + np.exp(-z)) - target, atol=1e-12)


def test_palette_is_fixed_and_complete():
    """Issue 11 (figures): one colour per method across the report; unknown names are an error."""
    assert _plot.color("relu") == _plot.COLORS["relu"]
    for name in ("stochastic", "minibatch", "batch", "backprop", "node_perturbation", "MLP", "naive", "PCA"):
        assert _plot.color(name).startswith("#") or _plot.color(name) in ("black",)
    with pytest.raises(KeyError, match="COLORS"):
        _plot.color("no such method")


def test_html_inline_escapes_before_marking_up():
    assert _html.inline("a < b **bold** `x<y>`") == "a &lt; b <b>bold</b> <code>x&lt;y&gt;</code>"
    assert "<script>" not in _html.inline("<script>alert(1)</script>")
