"""Plain SGD fused into the backward pass (functional/chain.py ``sgd_in_backward``, ``_blas``).

L-SGD-1..3, issue 6: the training loop may let the backward pass update the large weight
matrices itself, ``W <- W - lr h^T G`` as one accumulating BLAS product. It must be the same
update as ``loss.backward(); SGD.step()`` (to rounding), happen only when nothing can observe
the weight gradients, and change nothing when the direct BLAS is not there.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
import feedforward._blas as blas
from feedforward.functional.chain import sgd_in_backward
from feedforward.training import trainer as trainer_module

needs_blas = pytest.mark.skipif(not blas.available, reason="no direct BLAS in this NumPy build")


def _data(n=64, d=6, k=3, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, d)), r.integers(0, k, n)


@needs_blas
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_one_fused_step_equals_backward_then_sgd_step(dtype, rtol):
    X, y = _data()
    a = ff.nn.MLP([6, 9, 7, 3], output="categorical", rng=0, dtype=dtype)
    b = ff.nn.MLP([6, 9, 7, 3], output="categorical", rng=0, dtype=dtype)
    xa = ff.Tensor(X.astype(dtype), requires_grad=True)
    xb = ff.Tensor(X.astype(dtype), requires_grad=True)
    # reference: the ordinary gradient and update
    b.output.nll(b(xb), y).backward()
    ff.optim.SGD(b.parameters(), lr=0.1).step()
    # fused: the weights are updated inside backward, the biases through .grad
    weights = [layer.weight for layer in a.linears]
    with sgd_in_backward(weights, 0.1):
        a.output.nll(a(xa), y).backward()
    assert all(w.grad is None for w in weights)
    assert all(layer.bias.grad is not None for layer in a.linears)
    ff.optim.SGD(a.parameters(), lr=0.1).step()  # skips the weights (no .grad), updates biases
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=rtol)
    # the input gradient was computed with the weights from before the update
    np.testing.assert_allclose(xa.grad, xb.grad, rtol=rtol, atol=rtol)


@needs_blas
def test_outside_the_block_nothing_is_fused_and_blocks_nest():
    X, y = _data()
    net = ff.nn.MLP([6, 5, 3], output="categorical", rng=0, dtype=np.float64)
    w = net.linears[0].weight
    with sgd_in_backward([w], 0.1):
        with sgd_in_backward([], 0.1):  # an inner block without w: w gets an ordinary gradient
            net.output.nll(net(ff.Tensor(X)), y).backward()
        assert w.grad is not None
    w.grad = None
    net.output.nll(net(ff.Tensor(X)), y).backward()
    assert w.grad is not None


def _fit(net, X, y, **kw):
    return ff.fit(net, X, y, optimizer="sgd", lr=0.05, batch_size=16, max_epochs=3, rng=0,
                  train_eval="batches", **kw)


@needs_blas
def test_training_with_the_fused_step_follows_the_ordinary_trajectory(monkeypatch):
    X, y = _data(n=200, d=20, k=4)
    monkeypatch.setattr(trainer_module, "_FUSE_MIN_SIZE", 1)  # fuse even these small layers
    sizes = [20, 32, 32, 4]
    fused = ff.nn.MLP(sizes, output="categorical", rng=1, dtype=np.float64)
    t = ff.Trainer(fused, optimizer="sgd", lr=0.05, batch_size=16, max_epochs=3, rng=0, train_eval="batches")
    assert t._fused_sgd_weights() is not None
    h1 = t.fit(X, y)
    plain = ff.nn.MLP(sizes, output="categorical", rng=1, dtype=np.float64)
    seen = []  # a per-batch callback may read the gradients: the loop does not fuse then
    h2 = _fit(plain, X, y, callbacks=[ff.training.LambdaCallback(on_batch_end=lambda *a: seen.append(1))])
    assert len(seen) == 3 * 13
    for p, q in zip(fused.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(h1["train_loss"], h2["train_loss"], rtol=1e-11)


@pytest.mark.parametrize(
    "options",
    [
        {"momentum": 0.9},
        {"weight_decay": 1e-3},
        {"optimizer": "adam"},
        {"clip_norm": 1.0},
        {"mode": "batch"},
    ],
)
def test_the_loop_does_not_fuse_what_needs_the_gradients(options, monkeypatch):
    monkeypatch.setattr(trainer_module, "_FUSE_MIN_SIZE", 1)
    net = ff.nn.MLP([6, 8, 3], output="categorical", rng=0)
    kw = {"optimizer": "sgd", "lr": 0.05, "max_epochs": 1, **options}
    t = ff.Trainer(net, **kw)
    if "clip_norm" in options or options.get("mode") == "batch":
        # decided per epoch in _train_epoch: clipping and the full-batch gradient need .grad
        X, y = _data()
        calls = []
        real = trainer_module.sgd_in_backward
        monkeypatch.setattr(trainer_module, "sgd_in_backward", lambda *a: calls.append(1) or real(*a))
        t.fit(X, y)
        assert calls == []
    else:
        assert t._fused_sgd_weights() is None


def test_frozen_or_tied_weights_are_not_fused(monkeypatch):
    monkeypatch.setattr(trainer_module, "_FUSE_MIN_SIZE", 1)
    net = ff.nn.MLP([6, 8, 8, 3], output="categorical", rng=0)
    net.linears[0].weight.requires_grad = False
    fused = ff.Trainer(net, max_epochs=1)._fused_sgd_weights()
    if blas.available:
        assert [id(w) for w in fused] == [id(net.linears[1].weight), id(net.linears[2].weight)]
    shared = ff.nn.Linear(5, 5, rng=0)
    tied = ff.nn.Sequential(shared, ff.nn.ReLU(), shared)
    assert ff.Trainer(tied, output="gaussian", max_epochs=1)._fused_sgd_weights() is None


def test_small_weights_keep_the_ordinary_path():
    # The fixed cost of the direct call is more than it saves below _FUSE_MIN_SIZE entries.
    t = ff.Trainer(ff.nn.MLP([64, 32, 10], output="categorical", rng=0), max_epochs=1)
    assert t._fused_sgd_weights() is None


def test_without_the_direct_blas_training_is_unchanged(monkeypatch):
    X, y = _data(n=100, d=6)
    a = ff.nn.MLP([6, 16, 3], output="categorical", rng=0, dtype=np.float64)
    b = ff.nn.MLP([6, 16, 3], output="categorical", rng=0, dtype=np.float64)
    monkeypatch.setattr(trainer_module, "_FUSE_MIN_SIZE", 1)
    monkeypatch.setattr(blas, "_FUNCS", {})  # gemm_update now declines: the chain hands on .grad
    with sgd_in_backward([a.linears[0].weight], 0.1):
        a.output.nll(a(ff.Tensor(X)), y).backward()
    assert a.linears[0].weight.grad is not None
    _fit(a, X, y)
    monkeypatch.setattr(blas, "available", False)
    _fit(b, X, y)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


# ------------------------------------------------------------------- _blas
@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_update_is_c_plus_alpha_a_transpose_b(dtype):
    r = np.random.default_rng(3)
    A, B, C = (r.standard_normal(s).astype(dtype) for s in ((7, 4), (7, 5), (4, 5)))
    expected = C + 0.5 * A.T @ B
    assert blas.gemm_update(C, A, B, 0.5)
    np.testing.assert_allclose(C, expected, rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_gemm_update_declines_what_it_cannot_do_and_leaves_c_alone():
    r = np.random.default_rng(4)
    A, B = r.standard_normal((6, 4)), r.standard_normal((6, 3))
    C = r.standard_normal((4, 3))
    C0 = C.copy()
    assert not blas.gemm_update(C, A.astype(np.float32), B, 1.0)  # mixed dtypes
    assert not blas.gemm_update(C, np.asfortranarray(A), B, 1.0)  # not C-contiguous
    assert not blas.gemm_update(C, A, B[:5], 1.0)  # shapes do not agree
    assert not blas.gemm_update(C.astype(np.int64), A, B, 1.0)  # not a float BLAS type
    ro = C.copy()
    ro.flags.writeable = False
    assert not blas.gemm_update(ro, A, B, 1.0)
    np.testing.assert_array_equal(C, C0)


def test_frozen_layers_are_left_alone_by_training():
    X, y = _data()
    net = ff.nn.MLP([6, 8, 3], output="categorical", rng=0)
    frozen = net.linears[0]
    frozen.weight.requires_grad = False
    frozen.bias.requires_grad = False
    before = [frozen.weight.data.copy(), frozen.bias.data.copy()]
    other = net.linears[1].weight.data.copy()
    ff.fit(net, X, y, lr=0.1, max_epochs=2, batch_size=16, rng=0)
    np.testing.assert_array_equal(frozen.weight.data, before[0])
    np.testing.assert_array_equal(frozen.bias.data, before[1])
    assert not np.array_equal(net.linears[1].weight.data, other)
    for p in net.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="no parameters to train"):
        ff.Trainer(net)


def test_only_a_real_on_batch_end_counts_as_a_per_batch_hook():
    from feedforward.training.callbacks import Callback, LambdaCallback, has_hook

    class EpochsOnly(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            return None

    class Batches(Callback):
        def on_batch_end(self, trainer, batch, logs):
            return None

    class Duck:
        def on_batch_end(self, trainer, batch, logs):
            return None

    assert not has_hook(EpochsOnly(), "on_batch_end") and has_hook(EpochsOnly(), "on_epoch_end")
    assert has_hook(Batches(), "on_batch_end") and has_hook(Duck(), "on_batch_end")
    assert has_hook(LambdaCallback(on_batch_end=print), "on_batch_end")
    assert not has_hook(LambdaCallback(on_epoch_end=print), "on_batch_end")


@needs_blas
def test_the_estimator_uses_the_fused_step_for_plain_sgd(monkeypatch):
    from feedforward.estimators import MLPClassifier

    calls = []
    real = trainer_module.sgd_in_backward
    monkeypatch.setattr(trainer_module, "sgd_in_backward", lambda *a: calls.append(len(a[0])) or real(*a))
    X, y = _data(n=300, d=200, k=3)
    clf = MLPClassifier(hidden_layer_sizes=(128,), solver="sgd", momentum=0.0, alpha=0.0, batch_size=50,
                        max_iter=2, tol=0.0, n_iter_no_change=100, random_state=0)
    with pytest.warns(Warning):  # max_iter reached
        clf.fit(X, y)
    assert calls == [1, 1]  # the 200 x 128 first layer, every epoch
