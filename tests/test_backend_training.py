"""Optimizers and the training loop on any backend (issue 12, L-DEV-1, L-DEV-2).

The ``strict`` device (tests/strict_backend.py) stands in for a GPU: it refuses NumPy on its
arrays and counts host synchronisations, so these tests fail if the optimizers or the loop
hand a device array to NumPy, or sync once per minibatch.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward import backend

OPTIMIZERS = {
    "sgd": lambda p: ff.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01, dampening=0.1),
    "nesterov": lambda p: ff.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda p: ff.optim.Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: ff.optim.Adam(p, lr=0.01, weight_decay=0.1, decoupled=True),
}


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, y


def _fit(device, **options):
    X, y = _data(options.pop("n", 64))
    net = ff.nn.MLP([4, 8, 3], activation="relu", output="categorical", rng=0)
    history = ff.fit(net, X, y, rng=0, device=device, **options)
    return [backend.to_numpy(p.data) for p in net.parameters()], history


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_on_a_device_equals_the_cpu_bit_for_bit_without_syncs(strict, name):
    """issue 12: the update runs on the parameter's device (its backend's kernels), state made
    there, the same numbers as on the CPU, and no host sync."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 3))
    grads = [rng.standard_normal((5, 3)) for _ in range(3)]
    host = ff.Tensor(w0.copy(), requires_grad=True)
    dev = ff.Tensor(w0.copy(), requires_grad=True, device="strict")
    opt_host, opt_dev = OPTIMIZERS[name]([host]), OPTIMIZERS[name]([dev])
    for g in grads:
        host.grad, dev.grad = g, backend.to_device(g, "strict")
        opt_host.step()
        opt_dev.step()
    assert dev.device == "strict"
    np.testing.assert_array_equal(backend.to_numpy(dev.data), host.data)
    assert strict["syncs"] == 0
    for state in opt_dev.state:
        for value in state.values():
            assert isinstance(value, int) or backend.device_of(value) == "strict"


@pytest.mark.parametrize("name", ["sgd_momentum", "adam"])
def test_optimizer_state_follows_a_parameter_that_moved(strict, name):
    """issue 12: a parameter moved between steps (model.to) takes its optimizer state along, so
    training goes on exactly as if it had not moved; a state dict loads onto the device."""
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((4, 2))
    grads = [rng.standard_normal((4, 2)) for _ in range(4)]
    stay = ff.Tensor(w0.copy(), requires_grad=True)
    move = ff.Tensor(w0.copy(), requires_grad=True)
    opt_stay, opt_move = OPTIMIZERS[name]([stay]), OPTIMIZERS[name]([move])
    for i, g in enumerate(grads):
        if i == 2:
            move.data = backend.to_device(move.data, "strict")
        stay.grad = g
        move.grad = g if i < 2 else backend.to_device(g, "strict")
        opt_stay.step()
        opt_move.step()
    np.testing.assert_array_equal(backend.to_numpy(move.data), stay.data)
    saved = opt_move.state_dict()
    assert all(isinstance(v, (int, np.ndarray)) for s in saved["state"] for v in s.values())
    opt_move.load_state_dict(saved)
    assert all(backend.device_of(v) == "strict" for s in opt_move.state for v in s.values() if not isinstance(v, int))


def test_clip_grad_norm_on_a_device_equals_the_cpu_without_syncs(strict):
    """issue 12: the device clipping (norm and factor kept on the device) gives the same
    gradients as clip_grad_norm, clipped or not."""
    from feedforward.optim.clip import clip_grad_norm, clip_grad_norm_

    rng = np.random.default_rng(3)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    for max_norm in (0.5, 100.0):
        host = [ff.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
        dev = [ff.Tensor(np.zeros_like(g), requires_grad=True, device="strict") for g in grads]
        for h, d, g in zip(host, dev, grads):
            h.grad, d.grad = g.copy(), backend.to_device(g, "strict")
        total = clip_grad_norm(host, max_norm)
        before = strict["syncs"]
        total_dev = clip_grad_norm_(dev, max_norm)
        assert strict["syncs"] == before
        assert float(total_dev) == total
        for h, d in zip(host, dev):
            np.testing.assert_array_equal(backend.to_numpy(d.grad), h.grad)


@pytest.mark.parametrize("options", [
    {},
    {"optimizer": "sgd", "momentum": 0.9, "clip_norm": 0.5},
    {"shuffle": "batches", "validation_fraction": 0.25},
    {"mode": "stochastic", "optimizer": "sgd", "lr": 0.05},
    {"train_eval": "loss", "metrics": "accuracy"},
])
def test_fit_on_a_device_gives_the_cpus_weights_and_history(strict, options):
    """issue 12: ff.fit(..., device=) moves the model and the data once and trains on the device:
    same seed, the same weights and history as on the CPU, bit for bit."""
    w_cpu, h_cpu = _fit("cpu", max_epochs=3, batch_size=16, **options)
    w_dev, h_dev = _fit("strict", max_epochs=3, batch_size=16, **options)
    for a, b in zip(w_cpu, w_dev):
        np.testing.assert_array_equal(a, b)
    for r_cpu, r_dev in zip(h_cpu.records, h_dev.records):
        for key in ("train_loss", "val_loss", "train_metric", "batch_loss_mean", "n_updates"):
            assert r_cpu[key] == r_dev[key], key


def test_fit_with_sample_weight_on_a_device(strict):
    """issue 12: weighted minibatches (weights on the device, their sums from the host copy)."""
    X, y = _data()
    w = np.random.default_rng(4).uniform(0, 2, len(X))
    w[:20] = 0  # some all-zero minibatches are skipped on both
    out = []
    for device in ("cpu", "strict"):
        net = ff.nn.MLP([4, 8, 3], output="categorical", rng=0)
        ff.fit(net, X, y, sample_weight=w, max_epochs=2, batch_size=8, rng=0, device=device)
        out.append([backend.to_numpy(p.data) for p in net.parameters()])
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_host_syncs_per_epoch_do_not_grow_with_the_number_of_minibatches(strict):
    """issue 12: no host sync per update: 4 and 16 minibatches per epoch sync equally often, and
    only a few times per epoch."""
    syncs = {}
    for batch_size in (16, 4):
        strict["syncs"] = 0
        _fit("strict", max_epochs=3, batch_size=batch_size)
        syncs[batch_size] = strict["syncs"]
    assert syncs[4] == syncs[16]
    assert syncs[16] <= 3 * 3


def test_model_stays_on_the_device_after_fit(strict):
    """issue 12: fit moves the model in place; it stays there and a second fit continues there."""
    X, y = _data()
    net = ff.nn.MLP([4, 8, 3], output="categorical", rng=0)
    ff.fit(net, X, y, max_epochs=1, rng=0, device="strict")
    assert all(p.device == "strict" for p in net.parameters())
    ff.fit(net, X, y, max_epochs=1, rng=0)  # device=None: where the model is
    assert all(p.device == "strict" for p in net.parameters())


def test_device_option_is_checked():
    """issue 12: a bad device spelling names the option and what was expected."""
    X, y = _data()
    net = ff.nn.MLP([4, 8, 3], output="categorical", rng=0)
    with pytest.raises(ValueError, match="device: unknown device 'gpu'"):
        ff.fit(net, X, y, device="gpu")
    with pytest.raises(TypeError, match="device: device must be a string"):
        ff.fit(net, X, y, device=3)
    with pytest.raises(ValueError, match="capture must be 'auto', True or False"):
        ff.fit(net, X, y, capture="yes")


def test_cuda_without_cupy_or_gpu_says_what_is_missing():
    """issue 12: device='cuda' where it cannot run: a clear error with the install hint."""
    if backend.is_available("cuda"):
        pytest.skip("a CUDA device is available here")
    X, y = _data()
    net = ff.nn.MLP([4, 8, 3], output="categorical", rng=0)
    with pytest.raises(backend.DeviceUnavailable, match="feedforward\\[gpu\\]|GPU|CUDA"):
        ff.fit(net, X, y, device="cuda")


# ------------------------------------------------------------------ capture
@pytest.fixture
def recording(strict):
    """A strict backend that 'captures' a step: its replay calls the step and counts."""
    from strict_backend import StrictBackend

    calls = {"captured": 0, "replays": 0}

    class Recording(StrictBackend):
        type = "recording"

        def capture(self, step):
            calls["captured"] += 1

            def replay():
                calls["replays"] += 1
                step()

            return replay

    backend.register(Recording())
    try:
        yield calls
    finally:
        backend.unregister("recording")


def test_captured_steps_replay_over_refilled_buffers_bit_for_bit(recording):
    """issue 12 (graph capture): full minibatches replay the captured step over buffers refilled
    for each batch, the shorter last one runs eagerly, and the result equals the eager run's
    bit for bit (weights and losses)."""
    options = dict(max_epochs=2, batch_size=16, n=70)  # 4 full minibatches and one of 6 per epoch
    w_eager, h_eager = _fit("recording", capture=False, **options)
    assert recording == {"captured": 0, "replays": 0}
    w_cap, h_cap = _fit("recording", capture=True, **options)
    assert recording["replays"] == 2 * 4
    assert recording["captured"] == 1  # once per run (and batch size), replayed in every epoch
    for a, b in zip(w_eager, w_cap):
        np.testing.assert_array_equal(a, b)
    assert [r["train_loss"] for r in h_eager.records] == [r["train_loss"] for r in h_cap.records]
    w_cpu, _ = _fit("cpu", **options)
    for a, b in zip(w_cpu, w_cap):
        np.testing.assert_array_equal(a, b)


def test_a_changing_learning_rate_is_captured_again(recording):
    """issue 12: a captured graph holds the rate it was captured with, so a schedule that changes
    lr every epoch gets one capture per epoch, and the weights still equal the eager run's."""
    options = dict(max_epochs=3, batch_size=16, optimizer="sgd", lr=0.1, lr_schedule="exponential")
    w_eager, _ = _fit("recording", capture=False, **options)
    w_cap, _ = _fit("recording", capture="auto", **options)
    assert recording["captured"] == 3 and recording["replays"] == 3 * 4
    for a, b in zip(w_eager, w_cap):
        np.testing.assert_array_equal(a, b)


def test_adam_is_captured_with_its_step_count_on_the_device(recording):
    """issue 12: Adam's bias corrections change every step; fit makes it capturable (the step
    count kept on the device too) where the backend captures, and the weights equal the eager run's."""
    w_eager, _ = _fit("recording", capture=False, max_epochs=2, batch_size=16, optimizer="adam")
    X, y = _data(64)
    net = ff.nn.MLP([4, 8, 3], activation="relu", output="categorical", rng=0)
    trainer = ff.Trainer(net, rng=0, device="recording", max_epochs=2, batch_size=16, optimizer="adam")
    trainer.fit(X, y)
    assert recording["captured"] == 1 and recording["replays"] == 2 * 4
    opt = trainer.optimizer
    assert opt.capturable and opt.step_count == 2 * 4
    assert [backend.to_numpy(s["device_step"]).tolist() for s in opt.state] == [[8]] * len(opt.state)
    assert "device_step" not in opt.state_dict()["state"][0]
    for a, p in zip(w_eager, net.parameters()):
        np.testing.assert_array_equal(a, backend.to_numpy(p.data))


def test_an_optimizer_that_cannot_be_captured_runs_eagerly_or_says_why(recording):
    """issue 12: capture='auto' leaves a step alone when its optimizer reads a host value that
    changes every step (an Adam built without capturable=True); capture=True says why."""
    X, y = _data(64)
    net = ff.nn.MLP([4, 8, 3], activation="relu", output="categorical", rng=0)
    ff.fit(net, X, y, optimizer=ff.optim.Adam(net.parameters()), device="recording", max_epochs=1,
           batch_size=16)
    assert recording["captured"] == 0
    with pytest.raises(ValueError, match=r"capture=True: Adam .*capturable=True"):
        ff.fit(net, X, y, optimizer=ff.optim.Adam(net.parameters()), device="recording", max_epochs=1,
               batch_size=16, capture=True)


def test_replayed_steps_advance_the_host_counters():
    """issue 12: a replayed graph runs no Python, so the loop advances the optimizer's host
    counters itself (step_count, Adam's per-parameter step)."""
    p = ff.Tensor(np.ones((2, 2)), requires_grad=True)
    opt = ff.optim.Adam([p])
    p.grad = np.ones((2, 2))
    opt.step()
    opt._replayed()
    assert opt.step_count == 2 and opt.state[0]["step"] == 2


def test_capture_true_where_the_backend_cannot_is_an_error():
    """issue 12: capture=True asks for capture; a backend without it says so."""
    X, y = _data()
    net = ff.nn.MLP([4, 8, 3], output="categorical", rng=0)
    with pytest.raises(ValueError, match="capture=True: the 'cpu' backend cannot capture"):
        ff.fit(net, X, y, capture=True, max_epochs=1)


@pytest.mark.skipif(not backend.is_available("cuda"), reason="needs a CUDA GPU and CuPy (issue 12)")
def test_fit_on_cuda_matches_the_cpu():
    """issue 12: on a real GPU the run gives the CPU's weights within float32 rounding."""
    w_cpu, _ = _fit("cpu", max_epochs=2, batch_size=16)
    w_gpu, _ = _fit("cuda", max_epochs=2, batch_size=16)
    for a, b in zip(w_cpu, w_gpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ the folded SGD update
@pytest.fixture
def folding(strict):
    """A strict backend whose kernels fold plain SGD into the products (as CUDA's do); counts the folds."""
    from strict_backend import StrictBackend

    from feedforward.backend.kernels import Kernels

    calls = {"weight": 0, "bias": 0}

    class FoldingKernels(Kernels):
        fold_update = True

        def weight_fold_(self, W, h, g, lr):
            calls["weight"] += 1
            return super().weight_fold_(W, h, g, lr)

        def bias_fold_(self, b, g, lr):
            calls["bias"] += 1
            return super().bias_fold_(b, g, lr)

    class Folding(StrictBackend):
        type = "folding"

        def _make_kernels(self):
            return FoldingKernels(self.xp)

    backend.register(Folding())
    try:
        yield calls
    finally:
        backend.unregister("folding")


def test_plain_sgd_folded_into_the_products_gives_the_unfolded_weights(folding):
    """issue 12 (L-DEV-2): where the backend folds the update into the weight-gradient product
    (CUDA: one cuBLAS call with beta = 1), plain SGD in ff.fit gives the CPU's weights bit for
    bit; every layer's weight and bias took the folded step (2 layers x 4 minibatches x 2 epochs)."""
    options = dict(max_epochs=2, batch_size=16, optimizer="sgd", lr=0.1)
    w_cpu, h_cpu = _fit("cpu", **options)
    w_fold, h_fold = _fit("folding", capture=False, **options)
    assert folding == {"weight": 2 * 4 * 2, "bias": 2 * 4 * 2}
    for a, b in zip(w_cpu, w_fold):
        np.testing.assert_array_equal(a, b)
    assert [r["train_loss"] for r in h_cpu.records] == [r["train_loss"] for r in h_fold.records]


@pytest.mark.parametrize("options", [{"momentum": 0.9}, {"weight_decay": 1e-3}, {"clip_norm": 1.0}])
def test_what_needs_the_gradient_is_never_folded(folding, options):
    """issue 12: momentum, weight decay and clipping read the gradient: no fold, same weights."""
    opts = dict(max_epochs=1, batch_size=16, optimizer="sgd", lr=0.1, **options)
    w_cpu, _ = _fit("cpu", **opts)
    w_dev, _ = _fit("folding", **opts)
    assert folding == {"weight": 0, "bias": 0}
    for a, b in zip(w_cpu, w_dev):
        np.testing.assert_array_equal(a, b)


def test_sgd_folded_updates_chain_weights_and_leaves_the_rest_to_step(rng):
    """issue 12: inside SGD.folded() the chain's backward applies the step to its weights (no
    .grad); a parameter outside the chain (a scale on the logits) keeps its gradient for step()."""
    from feedforward.nn.module import Parameter

    X = rng.standard_normal((8, 3))
    y = rng.integers(0, 2, 8)
    runs = []
    for folded in (False, True):
        mlp = ff.nn.MLP([3, 4, 2], rng=0, dtype=np.float64)
        scale = Parameter(np.array([1.5]))
        params = list(mlp.parameters()) + [scale]
        opt = ff.optim.SGD(params, lr=0.5)
        loss = ff.functional.cross_entropy(mlp(ff.Tensor(X)) * scale, y)
        if folded:
            with opt.folded():
                loss.backward()
            assert [p.grad is not None for p in params] == [False] * 4 + [True]
        else:
            loss.backward()
        opt.step()
        runs.append(params)
    for a, b in zip(*runs):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    assert all(p.fold is None for p in runs[1])
    with pytest.raises(ValueError, match="only a plain step"):
        with ff.optim.SGD(runs[1], lr=0.1, momentum=0.9).folded():
            pass
