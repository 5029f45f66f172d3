"""The speed work of issue 6 keeps the semantics: each fast path against its plain definition.

No timing here: only that the shortcuts (train_eval, reused buffers, fused checks) give
the same numbers and the same errors as the straightforward computation.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
import feedforward.functional as F
from helpers import blobs as _blobs


def _net(seed=0):
    return ff.nn.MLP([4, 8, 3], activation="relu", output="categorical", rng=seed)


# ------------------------------------------------------------------ train_eval
def _fit(train_eval, **kw):
    X, y = _blobs()
    net = _net()
    h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=3, batch_size=16, rng=0, train_eval=train_eval,
               **kw)
    return net, h


def test_train_eval_changes_only_the_record_not_the_training():
    runs = {te: _fit(te) for te in ("grad", "loss", "batches")}
    ref = runs["grad"][0].parameters()
    for te in ("loss", "batches"):
        for p, q in zip(ref, runs[te][0].parameters()):
            np.testing.assert_array_equal(p.data, q.data)
    hg, hl, hb = runs["grad"][1], runs["loss"][1], runs["batches"][1]
    assert hg["train_loss"] == hl["train_loss"] and hg["train_metric"] == hl["train_metric"]
    assert all(g > 0 for g in hg["grad_norm"]) and hl["grad_norm"] == [None] * 3
    # "batches": the loss curve is the mean of the minibatch losses, as scikit-learn's loss_curve_.
    assert hb["train_loss"] == hb["batch_loss_mean"] and hb["train_metric"] == [None] * 3
    assert hb["grad_norm"] == [None] * 3 and hb["train_loss"] != hl["train_loss"]


def test_default_train_eval_computes_the_whole_set_pass_only_when_asked():
    """Issue 14 (practitioner defaults; L-SGD-5): the whole-set J(w) and ||grad J(w)|| are computed
    only for a theta-stop, the diagnostics or an explicit train_eval; by default the record is
    the minibatch losses' mean, as scikit-learn's loss_curve_."""
    X, y = _blobs()
    assert ff.Trainer(_net(), optimizer="sgd", max_epochs=1).options.train_eval == "batches"
    assert ff.Trainer(_net(), optimizer="sgd", max_epochs=1, grad_tol=1e-3).options.train_eval == "grad"
    assert ff.Trainer(_net(), optimizer="sgd", max_epochs=1, diagnostics=True).options.train_eval == "grad"
    assert ff.Trainer(_net(), optimizer="sgd", max_epochs=1, monitor="train_metric").options.train_eval == "loss"
    assert ff.Trainer(_net(), optimizer="sgd", max_epochs=1, mode="batch").options.train_eval == "grad"
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=2, batch_size=16, rng=0)
    assert h["grad_norm"] == [None, None] and h["train_metric"] == [None, None]
    assert h["train_loss"] == h["batch_loss_mean"]
    # A theta-stop asks for the whole-set gradient, which is then recorded every epoch.
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=2, batch_size=16, grad_tol=1e-9, rng=0)
    assert len(h["grad_norm"]) == 2 and all(g is not None and g > 0 for g in h["grad_norm"])
    # Batch mode always has them: the full gradient is its update's.
    h = ff.fit(_net(), X, y, optimizer="sgd", lr=0.05, max_epochs=2, mode="batch", rng=0)
    assert all(g is not None and g > 0 for g in h["grad_norm"]) and None not in h["train_metric"]


def test_grad_norm_recorded_by_train_eval_grad_is_the_full_gradient():
    X, y = _blobs()
    net, h = _fit("grad")
    for p in net.parameters():
        p.grad = None
    net.output.nll(net(ff.Tensor(X)), y).backward()
    by_hand = np.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in net.parameters()))
    assert h["grad_norm"][-1] == pytest.approx(by_hand, rel=1e-6)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"train_eval": "loss", "grad_tol": 1e-3}, "grad_tol needs"),
        ({"train_eval": "batches", "diagnostics": True}, "diagnostics need"),
        ({"train_eval": "batches", "monitor": "train_metric"}, "train_metric"),
        ({"train_eval": "full"}, "train_eval must be one of"),
    ],
)
def test_train_eval_rejects_what_it_cannot_record(options, match):
    with pytest.raises(ValueError, match=match):
        ff.Trainer(_net(), max_epochs=1, **options)


def test_batch_mode_records_the_gradient_whatever_train_eval_says():
    X, y = _blobs(n=30)
    norms = []
    for te in ("grad", "batches"):
        net = _net()
        h = ff.fit(net, X, y, optimizer="sgd", mode="batch", lr=0.1, max_epochs=3, train_eval=te)
        norms.append(h["grad_norm"])
    assert norms[0] == norms[1] and all(g is not None for g in norms[0])


def test_divergence_restores_the_last_finite_epoch_with_reused_snapshots():
    X, y = _blobs()
    net = _net()
    kept = []
    cb = ff.training.LambdaCallback(on_epoch_end=lambda t, e, logs: kept.append(
        [p.data.copy() for p in t.params]))
    # Inputs x 1000: ff.fit also says they look unscaled (issue 14).
    with pytest.warns(ff.training.UnscaledInputWarning), pytest.warns(ff.training.DivergenceWarning):
        h = ff.fit(net, X * 1e3, y, optimizer="sgd", lr=1e4, max_epochs=50, batch_size=16, rng=0, callbacks=[cb],
                   train_eval="batches")
    assert h.stop_reason == "diverged"
    last = kept[-1] if kept else [p.data for p in _net().parameters()]
    for p, w in zip(net.parameters(), last):
        np.testing.assert_array_equal(p.data, w)


# ------------------------------------------------------------------- engine
def test_sgd_update_through_the_buffer_equals_w_minus_lr_g():
    r = np.random.default_rng(0)
    w0 = r.standard_normal((5, 3)).astype(np.float32)
    g = r.standard_normal((5, 3)).astype(np.float32)
    p = ff.nn.Parameter(w0.copy())
    opt = ff.optim.SGD([p], lr=0.3)
    for k in range(3):
        p.grad = g * (k + 1)
        expected = p.data - 0.3 * p.grad
        opt.step()
        np.testing.assert_array_equal(p.data, expected)
    np.testing.assert_array_equal(p.grad, g * 3)  # the gradient itself is never written to


def test_relu_gradient_is_the_left_derivative_mask():
    z = ff.Tensor(np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.0]], dtype=np.float32), requires_grad=True)
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    F.relu(z).backward(g)
    np.testing.assert_array_equal(z.grad, g * (z.data > 0))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.uint64])
def test_cross_entropy_accepts_any_integer_labels(dtype):
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    ref = F.cross_entropy(ff.Tensor(z), y)
    got = F.cross_entropy(ff.Tensor(z), y.astype(dtype))
    assert float(got.data) == float(ref.data)


@pytest.mark.parametrize("bad, shown", [(-1, "-1"), (3, "3"), (2**63, str(2**63))])
def test_cross_entropy_one_reduction_check_still_names_the_bad_label(bad, shown):
    dtype = np.uint64 if bad >= 2**63 else np.int64
    y = np.array([0, bad, 1], dtype=dtype)
    with pytest.raises(ValueError, match=rf"got {shown} at row 1"):
        F.cross_entropy(ff.Tensor(np.zeros((3, 3), np.float32)), y)


def test_bce_range_check_still_reports_nan_targets_as_non_finite():
    z = ff.Tensor(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match=r"target contains .*nan.* at index \(1, 0\)"):
        F.binary_cross_entropy_with_logits(z, np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got .*2\.0"):
        F.binary_cross_entropy_with_logits(z, np.array([[0.0], [2.0], [1.0]]))


def test_loss_derivative_is_only_computed_by_backward():
    # The lazy derivative gives the same gradient as the formula sigmoid(z) - y.
    r = np.random.default_rng(1)
    z = ff.Tensor(r.standard_normal((6, 2)), requires_grad=True)
    y = (r.random((6, 2)) > 0.5).astype(np.float64)
    F.binary_cross_entropy_with_logits(z, y).backward()
    np.testing.assert_allclose(z.grad, (1 / (1 + np.exp(-z.data)) - y) / 12, rtol=1e-12)


def test_no_grad_decorator_is_reentrant():
    w = ff.Tensor([1.0], requires_grad=True)

    @ff.no_grad
    def depth(k):
        inner = w * 2
        return [inner.requires_grad] + (depth(k - 1) if k else [])

    assert depth(3) == [False] * 4
    assert ff.is_grad_enabled() and (w * 2).requires_grad


# ------------------------------------------------------------------ snapshot
def _snap_params(dtypes=(np.float32, np.float32)):
    r = np.random.default_rng(0)
    return [ff.nn.Parameter(r.standard_normal((3, 2)).astype(dtypes[0])),
            ff.nn.Parameter(r.standard_normal(4).astype(dtypes[1]))]


@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64)])
def test_snapshot_keeps_the_committed_weights_while_the_spare_is_refilled(dtypes):
    from feedforward.training.snapshot import Snapshot

    params = _snap_params(dtypes)
    snap = Snapshot(params, ff.optim.SGD(params, lr=0.1))
    first = [p.data.copy() for p in params]
    for epoch in range(3):  # check + commit cycles reuse two buffers; the kept one never moves
        for p in params:
            p.data += 1
        assert snap.check()
        snap.commit()
    kept = [p.data.copy() for p in params]
    for p in params:
        p.data[...] = np.nan
    assert not snap.check()  # writes into the spare only
    snap.restore()
    for p, w, w0 in zip(params, kept, first):
        np.testing.assert_array_equal(p.data, w)
        np.testing.assert_array_equal(p.data, w0 + 3)
    assert snap.matches()


def test_snapshot_finiteness_is_exact_for_float64_weights_whose_sum_overflows():
    from feedforward.training.snapshot import Snapshot

    p = ff.nn.Parameter(np.array([1e308, 1e308, 1e308]))
    snap = Snapshot([p], ff.optim.SGD([p]))
    assert snap.check()  # the float64 sum is inf, every weight is finite
    p.data[1] = np.inf
    assert not snap.check()


def test_snapshot_restores_the_optimizer_state_and_follows_a_shape_change():
    from feedforward.training.snapshot import Snapshot

    params = _snap_params()
    opt = ff.optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.step()
    snap = Snapshot(params, opt)
    buf = [st["momentum_buffer"].copy() for st in opt.state]
    opt.step()
    snap.restore()
    assert opt.step_count == 1
    for st, b in zip(opt.state, buf):
        np.testing.assert_array_equal(st["momentum_buffer"], b)
    params[1].data = np.zeros(7, np.float32)  # a replaced array of another shape
    assert snap.check()
    snap.commit()
    params[1].data[:] = 5
    snap.restore()
    np.testing.assert_array_equal(params[1].data, np.zeros(7, np.float32))


@pytest.mark.parametrize("shape", [(1, 3), (32, 10), (128, 256), (0, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_gradient_as_a_product_with_ones_is_the_row_sum(shape, dtype):
    from feedforward.functional.linear import bias_grad

    g = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    got = bias_grad(g)
    assert got.dtype == dtype and got.shape == (shape[1],)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, g.sum(axis=0, dtype=np.float64), rtol=rtol, atol=rtol * np.sqrt(shape[0] + 1))


# -------------------------------------------------- targets checked once per fit
@pytest.mark.parametrize("unit, y", [
    ("categorical", np.array([0, 2, 1, 2])),
    ("bernoulli", np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)),
    ("gaussian", np.array([[0.5], [-1.0], [2.0], [0.0]], np.float32)),
])
def test_trusted_nll_equals_the_checked_nll(unit, y):
    out = ff.nn.get_output(unit)
    C = 3 if unit == "categorical" else 1
    z = ff.Tensor(np.random.default_rng(0).standard_normal((4, C)).astype(np.float32), requires_grad=True)
    a, b = out.nll(z, y), out._trusted_nll(z, y)
    assert a.data == b.data
    a.backward()
    g = z.grad.copy()
    z.grad = None
    b.backward()
    np.testing.assert_array_equal(z.grad, g)


def test_training_still_rejects_bad_targets_once_before_the_first_epoch():
    X, y = _blobs()
    # Any labels are classes (issue 14): 7 is refused only as a fourth class for 3 outputs.
    with pytest.raises(ValueError, match=r"y has 4 distinct labels \(0, 1, 2, 7\) but the model has 3 outputs"):
        ff.fit(_net(), X, np.r_[7, y[1:]], optimizer="sgd", max_epochs=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ff.fit(ff.nn.MLP([4, 3, 1], output="bernoulli", rng=0), X, (y[:, None] * 2.0), optimizer="sgd", max_epochs=1)


def test_a_subclass_overriding_nll_is_what_training_minimises():
    calls = []

    class Counted(ff.nn.Categorical):
        def nll(self, z, y, sample_weight=None):
            calls.append(len(y))
            return super().nll(z, y, sample_weight)

    X, y = _blobs()
    net = ff.nn.MLP([4, 8, 3], output=Counted(), rng=0)
    ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=1, batch_size=16, rng=0, train_eval="batches")
    assert sum(calls) >= len(X)


@pytest.mark.parametrize("shape", [(1, 3), (32, 10), (128, 10), (4096, 10), (7, 33), (0, 4)])
def test_row_max_is_numpys_row_max(shape):
    from feedforward.backend import get_backend

    _row_max = get_backend("cpu").kernels._row_max  # the softmax kernel's row maximum (issue 12)
    z = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    if shape[0]:
        z[0, -1] = np.inf
    np.testing.assert_array_equal(_row_max(z), np.max(z, axis=1, keepdims=True))


def test_fit_and_partial_fit_check_x_in_the_models_dtype():
    """issue 10: the estimators no longer tell the trainer X was checked (no private flag): the
    trainer checks X itself, once per call, before and after the cast to the model's dtype."""
    X, y = _blobs()
    big = X.astype(np.float64)
    big[3, 1] = 1e300  # finite in float64, inf in the model's float32
    nan = X.astype(np.float32)
    nan[0, 0] = np.nan
    for call in (lambda X_: ff.fit(_net(), X_, y, optimizer="sgd", max_epochs=1),
                 lambda X_: ff.Trainer(_net(), optimizer="sgd").partial_fit(X_, y)):
        with pytest.raises(ValueError, match=r"X \(as float32, the model's dtype\) contains .*inf.* at index \(3, 1\)"):
            call(big)
        with pytest.raises(ValueError, match=r"X contains .*nan.* at index \(0, 0\)"):
            call(nan)


# ------------------------------------------------------------ fixed cost per step (issue 12)
def test_snapshot_follows_an_array_whose_shape_was_reassigned_in_place():
    """Issue 12: the snapshot reuses its buffer while the parameters hold the same arrays; an
    array reshaped in place (``a.shape = ...``) is the same object, and must still be followed."""
    from feedforward.training.snapshot import Snapshot

    p = ff.nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
    snap = Snapshot([p], ff.optim.SGD([p]))
    p.data.shape = (3, 2)
    assert snap.check()
    snap.commit()
    p.data[...] = np.nan
    snap.restore()
    np.testing.assert_array_equal(p.data, np.arange(6, dtype=np.float32).reshape(3, 2))


def test_an_infinite_clipped_gradient_norm_stops_a_host_minibatch_epoch(monkeypatch):
    """Issue 12: on the host each update's gradient norm is read as it is made (no device
    buffer of the epoch's norms); a non-finite one still stops the run as diverged."""
    from feedforward.training import DivergenceWarning
    from feedforward.training import epoch as epoch_module

    monkeypatch.setattr(epoch_module, "clip_grad_norm_", lambda params, clip: float("inf"))
    X, y = _blobs()
    net = _net()
    with pytest.warns(DivergenceWarning, match="the gradient norm of update 0 became infinite"):
        h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=3, batch_size=16, rng=0, clip_norm=1.0)
    assert h.stop_reason == "diverged"
