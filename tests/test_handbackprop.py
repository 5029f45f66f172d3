"""The lecture's worked backprop example by hand, against the autodiff engine (L-BP-1)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feedforward as ff
import feedforward.functional as F
from feedforward import handbackprop as hb


def engine_grads(X, Y, params, reduction="sum"):
    """The same network and loss through the engine: the oracle."""
    T = [ff.Tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2 = T
    y_hat = F.tanh(ff.Tensor(X) @ W1 + b1) @ W2 + b2
    diff = y_hat - Y
    loss = (diff * diff).sum() * 0.5
    if reduction == "mean":
        loss = loss * (1.0 / len(X))
    loss.backward()
    return loss.item(), [t.grad for t in T]


def test_worked_example_single_output_by_the_slide_formulas():
    # one example, d = 2 inputs, m = 2 hidden units, one output: every number by hand
    x, y = np.array([[1.0, -2.0]]), np.array([[0.5]])
    W1, b1 = np.array([[0.1, -0.3], [0.2, 0.4]]), np.array([0.0, 0.1])
    W2, b2 = np.array([[0.7], [-0.5]]), np.array([0.2])
    a = np.array([0.1 * 1 + 0.2 * -2 + 0.0, -0.3 * 1 + 0.4 * -2 + 0.1])  # a_j = sum_i w_ij x_i
    z = np.tanh(a)
    y_hat = 0.7 * z[0] - 0.5 * z[1] + 0.2
    delta = y_hat - 0.5  # delta = y_hat - y
    delta_j = (1 - z**2) * np.array([0.7, -0.5]) * delta  # delta_j = (1 - z_j^2) w_j delta
    g = hb.backward(x, y, (W1, b1, W2, b2))
    np.testing.assert_allclose(g["a"].ravel(), a)
    np.testing.assert_allclose(g["y_hat"].ravel(), [y_hat])
    np.testing.assert_allclose(g["delta"].ravel(), [delta])
    np.testing.assert_allclose(g["delta_hidden"].ravel(), delta_j)
    np.testing.assert_allclose(g["W1"], np.outer(x.ravel(), delta_j))  # delta_j x_i
    np.testing.assert_allclose(g["W2"].ravel(), delta * z)  # delta z_j (the corrected sign)
    # the slides' printed sign, (y - y_hat) z_j, is the negative of the true gradient
    _, (_, _, gW2, _) = engine_grads(x, y, (W1, b1, W2, b2))
    np.testing.assert_allclose(gW2.ravel(), delta * z)
    assert np.all(np.sign((0.5 - y_hat) * z) == -np.sign(gW2.ravel()))


@settings(max_examples=30, deadline=None)
@given(d=st.integers(1, 5), m=st.integers(1, 6), K=st.integers(1, 4), n=st.integers(1, 7),
       seed=st.integers(0, 2**31 - 1), reduction=st.sampled_from(["sum", "mean"]))
def test_hand_backprop_equals_autodiff_on_random_networks(d, m, K, n, seed, reduction):
    rng = np.random.default_rng(seed)
    params = hb.init_params(d, m, K, rng=rng)
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, K))
    loss, want = engine_grads(X, Y, params, reduction)
    got = hb.backward(X, Y, params, reduction)
    assert hb.loss(X, Y, params, reduction) == pytest.approx(loss, rel=1e-13, abs=1e-15)
    for name, w in zip(["W1", "b1", "W2", "b2"], want):
        np.testing.assert_allclose(got[name], w, rtol=1e-12, atol=1e-14)


def test_matches_the_library_mlp_and_its_gaussian_loss():
    net = ff.nn.MLP([3, 5, 2], activation="tanh", output="gaussian", rng=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    loss = net.output.nll(net(ff.Tensor(X)), Y)  # mean over examples of 1/2 ||y - y_hat||^2
    loss.backward()
    params = hb.params_from_mlp(net)
    g = hb.backward(X, Y, params, reduction="mean")
    assert hb.loss(X, Y, params, "mean") == pytest.approx(loss.item(), rel=1e-13)
    for name, p in zip(["W1", "b1", "W2", "b2"], net.parameters()):
        np.testing.assert_allclose(g[name], p.grad, rtol=1e-12, atol=1e-14)


def test_sgd_step_uses_eta_as_the_learning_rate_and_lowers_the_loss():
    rng = np.random.default_rng(3)
    params = hb.init_params(2, 4, 1, rng=rng, scale=0.5)
    X = rng.uniform(-1, 1, (32, 2))
    Y = np.sin(X[:, :1] * 2) * X[:, 1:]
    start = hb.loss(X, Y, params)
    g = hb.backward(X, Y, params)
    new = hb.sgd_step(params, g, lr=0.01)
    np.testing.assert_allclose(new[0], params[0] - 0.01 * g["W1"])
    assert hb.loss(X, Y, new) < start
    with pytest.raises(ValueError, match=r"lr \(the learning rate eta\) must be a finite number > 0, got -1.0"):
        hb.sgd_step(params, g, lr=-1.0)
    with pytest.raises(TypeError, match=r"lr \(the learning rate eta\) must be .*got '0.1' \(str\)"):
        hb.sgd_step(params, g, lr="0.1")


def test_bad_shapes_are_rejected():
    params = hb.init_params(2, 3, 1, rng=0)
    with pytest.raises(ValueError, match="X must be"):
        hb.backward(np.zeros((4, 3)), np.zeros((4, 1)), params)
    with pytest.raises(ValueError, match="params must be"):
        hb.forward(np.zeros((4, 2)), (params[0], params[1], params[2].T, params[3]))


def test_bad_numbers_and_choices_are_rejected():
    """Issue 10: TypeError for a wrong type, ValueError for a bad value, the argument named."""
    params = hb.init_params(2, 3, 1, rng=0)
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"reduction must be one of 'sum', 'mean', got 'avg'"):
        hb.loss(X, Y, params, reduction="avg")
    with pytest.raises(ValueError, match=r"reduction must be one of 'sum', 'mean', got 'max'"):
        hb.backward(X, Y, params, reduction="max")
    with pytest.raises(TypeError, match=r"m must be an integer >= 1, got 3.0"):
        hb.init_params(2, 3.0)
    with pytest.raises(ValueError, match=r"d must be an integer >= 1, got 0"):
        hb.init_params(0, 3)
    with pytest.raises(ValueError, match=r"scale must be a finite number >= 0, got nan"):
        hb.init_params(2, 3, scale=float("nan"))
