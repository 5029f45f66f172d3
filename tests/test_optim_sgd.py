"""Plain SGD is exactly ``w <- w - lr g`` (L-SGD-1..3, L-SGD-7; issue 10).

Issue 10 removed the update fused into the backward pass (it did not pay for itself through
SciPy's BLAS, see benchmarks/README.md): every weight now gets its ``.grad`` and ``SGD.step``
applies it. These tests pin the plain update bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_step_is_w_minus_lr_g_exactly(dtype):
    net = ff.nn.MLP([6, 9, 7, 3], output="categorical", rng=0, dtype=dtype)
    r = np.random.default_rng(0)
    X, y = r.standard_normal((32, 6)).astype(dtype), r.integers(0, 3, 32)
    opt = ff.optim.SGD(net.parameters(), lr=0.37)
    net.output.nll(net(ff.Tensor(X)), y).backward()
    arrays = [p.data for p in net.parameters()]
    before = [p.data.copy() for p in net.parameters()]
    grads = [p.grad.copy() for p in net.parameters()]
    opt.step()
    for p, arr, w, g in zip(net.parameters(), arrays, before, grads):
        assert p.data is arr  # in place: views of the weights see the update
        np.testing.assert_array_equal(p.data, w - 0.37 * g)  # bit for bit, in the parameter's dtype
        np.testing.assert_array_equal(p.grad, g)  # the gradient itself is never written to
        assert p.data.dtype == dtype
    assert opt.step_count == 1


def test_every_weight_gets_its_gradient_in_a_training_step():
    """No weight's .grad is held back during an epoch any more: a per-batch callback sees them all."""
    r = np.random.default_rng(1)
    X, y = r.standard_normal((64, 200)), r.integers(0, 3, 64)
    net = ff.nn.MLP([200, 128, 3], output="categorical", rng=0)
    seen = []

    def look(trainer, batch, logs):
        seen.append(all(p.grad is not None for p in net.parameters()))

    ff.fit(net, X, y, optimizer="sgd", lr=0.05, batch_size=16, max_epochs=1, rng=0, train_eval="batches",
           callbacks=[ff.training.LambdaCallback(on_batch_end=look)])
    assert seen == [True] * 4


def test_a_parameter_without_a_gradient_is_left_alone():
    net = ff.nn.MLP([3, 4, 2], rng=0)
    opt = ff.optim.SGD(net.parameters(), lr=0.1)
    before = [p.data.copy() for p in net.parameters()]
    net.parameters()[1].grad = np.ones(4, dtype=np.float32)
    opt.step()
    moved = [not np.array_equal(p.data, b) for p, b in zip(net.parameters(), before)]
    assert moved == [False, True, False, False]


def test_frozen_layers_are_left_alone_by_training():
    r = np.random.default_rng(0)
    X, y = r.standard_normal((64, 6)), r.integers(0, 3, 64)
    net = ff.nn.MLP([6, 8, 3], output="categorical", rng=0)
    frozen = net.linears[0]
    frozen.weight.requires_grad = False
    frozen.bias.requires_grad = False
    before = [frozen.weight.data.copy(), frozen.bias.data.copy()]
    other = net.linears[1].weight.data.copy()
    ff.fit(net, X, y, optimizer="sgd", lr=0.1, max_epochs=2, batch_size=16, rng=0)
    np.testing.assert_array_equal(frozen.weight.data, before[0])
    np.testing.assert_array_equal(frozen.bias.data, before[1])
    assert not np.array_equal(net.linears[1].weight.data, other)
    for p in net.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="no parameters to train"):
        ff.Trainer(net, optimizer="sgd")
