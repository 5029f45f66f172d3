"""The lecture's XOR example (L-XOR-1..4, L-ARCH-3)."""

import numpy as np
import pytest

import feedforward as ff
from feedforward.construct import xor as X
from feedforward.nn.module import eval_mode


def test_data_and_loss_L_XOR_1():
    Xd, yd = X.xor_data()
    assert Xd.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert yd.ravel().tolist() == [0, 1, 1, 0]
    # J = 1/4 sum (f* - f)^2: all-zero output misses two points by 1
    assert X.xor_loss(np.zeros(4)) == pytest.approx(0.5)
    assert X.xor_loss(np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.25)
    out = ff.Tensor(np.array([[0.0], [0.5], [1.0], [1.0]]), requires_grad=True)
    J = X.xor_loss(out)
    J.backward()
    # dJ/df = -(f* - f) / 2
    np.testing.assert_allclose(out.grad.ravel(), [0.0, -0.25, 0.0, 0.5])
    with pytest.raises(ValueError, match="expected 4 outputs"):
        X.xor_loss(np.zeros(3))


def test_best_linear_model_is_w0_b_half_L_XOR_2():
    w, b = X.best_linear_model()
    np.testing.assert_allclose(w, [0.0, 0.0], atol=1e-12)
    assert b == pytest.approx(0.5, abs=1e-12)
    net = X.linear_network(w, b)
    out = net(ff.Tensor(X.xor_data()[0])).data.ravel()
    np.testing.assert_allclose(out, 0.5)
    # it is the least-squares optimum: any perturbation raises J above 1/4
    rng = np.random.default_rng(0)
    for _ in range(20):
        dw, db = rng.normal(size=2) * 0.1, rng.normal() * 0.1
        assert X.xor_loss(X.XOR_X @ (w + dw) + b + db) > 0.25


def test_hand_solution_outputs_exactly_0110_L_XOR_3():
    net = X.xor_network()
    assert isinstance(net, ff.nn.MLP) and net.sizes == [2, 2, 1]
    out = net(ff.Tensor(X.xor_data()[0])).data.ravel()
    assert out.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_slide_matrices_reproduced_L_XOR_3():
    m = X.xor_layers()
    # the matrices as printed on the slides
    assert m["XW"].tolist() == [[0, 0], [1, 1], [1, 1], [2, 2]]
    assert m["XW + c"].tolist() == [[0, -1], [1, 0], [1, 0], [2, 1]]
    assert m["max(0, XW + c)"].tolist() == [[0, 0], [1, 0], [1, 0], [2, 1]]
    assert m["output"].tolist() == [0, 1, 1, 0]


def test_hand_solution_is_an_ordinary_trainable_network():
    net = X.xor_network(np.float64)
    Xd, yd = X.xor_data(np.float64)
    loss = X.xor_loss(net(ff.Tensor(Xd)))
    loss.backward()
    assert loss.item() == 0.0
    for p in net.parameters():  # at the exact solution every gradient is zero
        np.testing.assert_array_equal(p.grad, 0.0)


def test_ensemble_training_matches_training_one_network_alone_L_XOR_4():
    res = X.train_xor_ensemble(3, [4, 7], bias_init=0.1, lr=0.1, epochs=50, dtype=np.float64)
    Xd, yd = X.xor_data(np.float64)
    for k, seed in enumerate([4, 7]):
        net = ff.nn.MLP([2, 3, 1], activation="relu", bias_init=0.1, rng=seed, dtype=np.float64)
        for _ in range(50):
            net.zero_grad()
            X.xor_loss(net(ff.Tensor(Xd))).backward()
            for p in net.parameters():
                p.data -= 0.1 * p.grad
        for got, want in zip(res["params"], net.parameters()):
            np.testing.assert_allclose(got[k], want.data, rtol=1e-10, atol=1e-12)


def test_learning_xor_succeeds_often_when_wide_L_XOR_4():
    wide = X.train_xor_ensemble(8, range(100), bias_init=0.1, lr=0.1, epochs=600)
    narrow = X.train_xor_ensemble(2, range(100), bias_init=0.0, lr=0.1, epochs=600)
    assert wide["success"].mean() >= 0.9
    assert narrow["success"].mean() < wide["success"].mean()
    solved = wide["outputs"][wide["success"]]
    assert np.all(np.abs(solved - X.XOR_Y) < 0.5)
    assert np.all(wide["loss"][wide["success"]] < 0.01)


def test_three_ways_of_choosing_phi_L_ARCH_3():
    Xd, yd = X.xor_data(np.float64)
    # a linear model on the raw inputs cannot fit; on phi it can
    w, b = X.fit_linear(Xd, yd)
    assert X.xor_loss(Xd @ w + b) == pytest.approx(0.25)
    w, b = X.fit_linear(X.hand_features(Xd), yd)
    np.testing.assert_allclose(w, [1.0, 1.0, -2.0], atol=1e-10)  # x1 + x2 - 2 x1 x2
    assert abs(b) < 1e-10
    w, b = X.fit_linear(X.rbf_features(Xd), yd)
    assert X.xor_loss(X.rbf_features(Xd) @ w + b) < 1e-20
    assert X.rbf_features(Xd).shape == (4, 9)


def test_ensemble_training_takes_the_same_steps_as_ff_fit_L_XOR_4():
    # ff.fit minimises the Gaussian NLL 1/2 mean (y - f)^2 = J / 2: lr 2 eta on it is lr eta on J
    res = X.train_xor_ensemble(2, [3], bias_init=0.1, lr=0.1, epochs=40, dtype=np.float64)
    net = ff.nn.MLP([2, 2, 1], activation="relu", bias_init=0.1, rng=3, dtype=np.float64)
    Xd, yd = X.xor_data(np.float64)
    ff.fit(net, Xd, yd, output="gaussian", optimizer="sgd", lr=0.2, mode="batch", max_epochs=40, rng=0,
           progress=False)
    for got, want in zip(res["params"], net.parameters()):
        np.testing.assert_allclose(got[0], want.data, rtol=1e-10, atol=1e-12)


def _train_alone(width, seed, activation, epochs, lr=0.1):
    """One network trained by hand on J, in float64: the reference for the ensemble."""
    net = ff.nn.MLP([2, width, 1], activation=activation, rng=seed, dtype=np.float64)
    Xd, _ = X.xor_data(np.float64)
    for _ in range(epochs):
        net.zero_grad()
        X.xor_loss(net(ff.Tensor(Xd))).backward()
        for p in net.parameters():
            p.data -= lr * p.grad
    return net


@pytest.mark.parametrize("activation", ["prelu", "rrelu", "leaky_relu", "tanh"])
def test_ensemble_of_any_unit_matches_each_network_alone(activation):
    """Issue 10 (audit): activation="prelu" failed (parameters taken by index; PReLU adds its
    slope), and one activation module (seed 0's) served every seed, so a PReLU's slope or an
    RReLU's generator was shared. Each seed's result must be that seed trained alone."""
    seeds = [0, 1, 5]
    res = X.train_xor_ensemble(3, seeds, activation=activation, lr=0.1, epochs=30, dtype=np.float64)
    for k, seed in enumerate(seeds):
        net = _train_alone(3, seed, activation, 30)
        params = net.parameters()
        assert len(res["params"]) == len(params)
        for got, want in zip(res["params"], params):
            np.testing.assert_allclose(got[k], want.data, rtol=1e-10, atol=1e-12)
        with ff.no_grad(), eval_mode(net):
            out = net(ff.Tensor(X.xor_data(np.float64)[0])).data.ravel()
        np.testing.assert_allclose(res["outputs"][k], out, rtol=1e-10, atol=1e-12)


def test_ensemble_prelu_slopes_are_trained_per_seed():
    res = X.train_xor_ensemble(2, [0, 1], activation="prelu", lr=0.1, epochs=20, dtype=np.float64)
    slopes = res["params"][2]  # after W1 and b1, in MLP.parameters() order
    assert slopes.shape == (2, 1)
    assert not np.allclose(slopes, 0.25) and slopes[0, 0] != slopes[1, 0]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"width": 0}, ValueError, r"width must be an integer >= 1, got 0"),
        ({"width": 2.0}, TypeError, r"width must be an integer >= 1, got 2.0"),
        ({"seeds": 5}, TypeError, r"seeds must be a sequence of integers >= 0"),
        ({"seeds": [0, 1.5]}, TypeError, r"seeds\[1\] must be an integer >= 0, got 1.5"),
        ({"seeds": [-1]}, ValueError, r"seeds\[0\] must be an integer >= 0, got -1"),
        ({"seeds": []}, ValueError, r"at least one seed"),
        ({"activation": "swish"}, ValueError, r"activation must be one of .*'relu'.*got 'swish'"),
        ({"activation": ff.nn.ReLU()}, TypeError, r"activation must be one of .*\(ReLU\)"),
        ({"lr": 0.0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
        ({"epochs": -1}, ValueError, r"epochs must be an integer >= 0, got -1"),
        ({"epochs": 1e3}, TypeError, r"epochs must be an integer >= 0, got 1000.0"),
        ({"dtype": np.float16}, ValueError, r"dtype must be one of float32, float64"),
    ],
)
def test_ensemble_arguments_are_checked(kwargs, error, message):
    args = {"width": 2, "seeds": [0], **kwargs}
    with pytest.raises(error, match=message):
        X.train_xor_ensemble(args.pop("width"), args.pop("seeds"), epochs=args.pop("epochs", 1), **args)
