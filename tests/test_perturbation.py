"""Learning without backprop: the lecture's "first ideas" (L-BP-2)."""

import numpy as np
import pytest

import feedforward as ff
from feedforward import perturbation as pt


def problem(hidden=4, seed=0):
    x = np.linspace(-2, 2, 32)[:, None]
    net = ff.nn.MLP([1, hidden, 1], activation="tanh", rng=seed, dtype=np.float64)
    return net, x, np.sin(2 * x)


@pytest.mark.parametrize("method", pt.METHODS)
def test_every_method_lowers_the_loss(method):
    net, X, Y = problem()
    res = pt.train(net, X, Y, method, lr=0.2, n_updates=40, rng=0)
    assert res.losses[-1] < 0.8 * res.losses[0]
    # the model now holds the trained weights
    final = pt.CountingLoss(net, X, Y)(pt.flat_parameters(net))
    assert final == pytest.approx(res.losses[-1])


@pytest.mark.parametrize("hidden", [2, 5, 9])
def test_forward_passes_per_update_grow_with_the_number_of_weights(hidden):
    net, X, Y = problem(hidden)
    P = net.num_parameters()
    assert P == 3 * hidden + 1
    want = {"backprop": 1, "finite_differences": P + 1, "weight_perturbation": 2 * P, "keep_if_better": P}
    for method, per_update in want.items():
        net, X, Y = problem(hidden)
        res = pt.train(net, X, Y, method, lr=0.1, n_updates=3, rng=0)
        assert res.passes_per_update == per_update
        assert np.diff(res.forward_passes).tolist() == [per_update] * 3  # counted, not declared


def test_finite_difference_gradient_approximates_backprop():
    net, X, Y = problem()
    theta = pt.flat_parameters(net)
    J = pt.CountingLoss(net, X, Y)
    g, _ = pt.finite_difference_gradient(J, theta, eps=1e-7)
    assert J.passes == theta.size + 1
    net.zero_grad()
    loss = ff.nn.Gaussian().nll(net(ff.Tensor(X)), Y)
    loss.backward()
    exact = np.concatenate([p.grad.ravel() for p in net.parameters()])
    np.testing.assert_allclose(g, exact, rtol=1e-4, atol=1e-6)


def test_weight_perturbation_estimate_points_downhill():
    net, X, Y = problem()
    theta = pt.flat_parameters(net)
    J = pt.CountingLoss(net, X, Y)
    exact, _ = pt.finite_difference_gradient(J, theta, eps=1e-7)
    est = pt.weight_perturbation_gradient(J, theta, 1e-6, 400, np.random.default_rng(0))
    cos = est @ exact / np.linalg.norm(est) / np.linalg.norm(exact)
    assert cos > 0.7


def test_bad_arguments():
    net, X, Y = problem()
    with pytest.raises(ValueError, match=r"method must be one of 'backprop', .*got 'genetic'"):
        pt.train(net, X, Y, "genetic")
    with pytest.raises(ValueError, match=r"n_updates must be an integer >= 0, got -1"):
        pt.train(net, X, Y, n_updates=-1)
    with pytest.raises(ValueError, match="theta must have shape"):
        pt.set_flat_parameters(net, np.zeros(3))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_updates": 2.0}, TypeError, r"n_updates must be an integer >= 0, got 2.0 \(float\)"),
        ({"lr": "0.1"}, TypeError, r"lr must be a finite number > 0, got '0.1' \(str\)"),
        ({"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
        ({"eps": 0.0}, ValueError, r"eps must be a finite number > 0 or None, got 0.0"),
        ({"n_directions": 0}, ValueError, r"n_directions must be an integer >= 1 or None, got 0"),
        ({"n_directions": 2.5}, TypeError, r"n_directions must be an integer >= 1 or None, got 2.5"),
        ({"step": -0.1}, ValueError, r"step must be a finite number > 0, got -0.1"),
        ({"method": None}, TypeError, r"method must be one of .*got None"),
    ],
)
def test_train_arguments_go_through_the_validation_layer(kwargs, error, message):
    """Issue 10: TypeError for a wrong type, ValueError for a bad value, the argument named."""
    net, X, Y = problem()
    with pytest.raises(error, match=message):
        pt.train(net, X, Y, **{"n_updates": 1, **kwargs})
