"""The CUDA backend on a real GPU (issue 12): fused kernels, graph capture, ``fit`` on ``"cuda"``.

Every test here needs CuPy and a CUDA GPU and is skipped, with the reason, where either is
missing (as in CI). The CPU-side checks of the same code are in ``tests/test_cuda_sources.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import feedforward as ff
from feedforward import backend
from feedforward.backend.kernels import Kernels


def _gpu_reason() -> str | None:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "CuPy is not installed (pip install \"feedforward[gpu]\")"
    if not backend.is_available("cuda"):
        return "CuPy is installed but no CUDA GPU is reachable"
    return None


REASON = _gpu_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture
def cp():
    import cupy

    return cupy


@pytest.fixture
def kernels():
    from feedforward.backend.cuda_kernels import CudaKernels

    k = backend.get_backend("cuda").kernels
    assert isinstance(k, CudaKernels)
    return k


@pytest.fixture
def reference(cp):
    """The reference kernels on CuPy arrays: the contract the fused ones must keep."""
    return Kernels(cp)


def _units():
    from tests.test_cuda_sources import all_units

    return all_units()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_unit_matches_the_reference_for_every_unit(cp, kernels, reference, dtype, with_bias):
    """issue 12: bias + unit forward in one kernel equals the reference for every unit of the registry."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((33, 17)).astype(dtype) * 3
    b = rng.standard_normal(17).astype(dtype) if with_bias else None
    for name, unit in _units().items():
        got = kernels.bias_unit(cp.asarray(z), None if b is None else cp.asarray(b), unit)
        want = reference.bias_unit(cp.asarray(z), None if b is None else cp.asarray(b), unit)
        np.testing.assert_allclose(cp.asnumpy(got), cp.asnumpy(want), rtol=1e-6 if dtype == np.float32 else 1e-13,
                                   atol=1e-7, err_msg=name)


@pytest.mark.parametrize("owned", [True, False])
def test_unit_backward_matches_the_reference_for_every_unit(cp, kernels, reference, owned):
    """issue 12: the unit's backward in one kernel, in place when owned, equals the reference."""
    rng = np.random.default_rng(1)
    for name, unit in _units().items():
        y = reference.bias_unit(cp.asarray(rng.standard_normal((20, 9))), None, unit)
        g = cp.asarray(rng.standard_normal((20, 9)))
        want = reference.unit_backward(g.copy(), y, unit, False)
        g_in = g.copy()
        got = kernels.unit_backward(g_in, y, unit, owned)
        assert (got is g_in) == owned, name
        np.testing.assert_allclose(cp.asnumpy(got), cp.asnumpy(want), rtol=1e-13, err_msg=name)


@pytest.mark.parametrize("shape", [(5, 3), (64, 10), (7, 1000), (3, 5000)])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy_matches_the_reference(cp, kernels, reference, shape, weighted):
    """issue 12: the fused softmax cross-entropy gives the reference's loss and dz (float64)."""
    rng = np.random.default_rng(2)
    n, C = shape
    z = cp.asarray(rng.standard_normal(shape) * 4)
    labels = cp.asarray(rng.integers(0, C, n))
    w = cp.asarray(rng.uniform(0.5, 2, n)) if weighted else None
    loss, dz = kernels.softmax_cross_entropy(z, labels, w)
    loss_ref, dz_ref = reference.softmax_cross_entropy(z, labels, w)
    assert loss.shape == () and dz.shape == shape
    np.testing.assert_allclose(float(loss), float(loss_ref), rtol=1e-12)
    np.testing.assert_allclose(cp.asnumpy(dz), cp.asnumpy(dz_ref), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
def test_gemm_matches_the_reference(cp, kernels, reference, trans_a, trans_b):
    """issue 12: cuBLAS gemm with alpha/beta into out, as the reference computes it."""
    rng = np.random.default_rng(3)
    a = cp.asarray(rng.standard_normal((6, 4) if not trans_a else (4, 6)))
    b = cp.asarray(rng.standard_normal((4, 5) if not trans_b else (5, 4)))
    out = cp.asarray(rng.standard_normal((6, 5)))
    want = reference.gemm(a, b, trans_a=trans_a, trans_b=trans_b, out=out.copy(), alpha=-0.5, beta=1.0)
    got = kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b, out=out.copy(), alpha=-0.5, beta=1.0)
    np.testing.assert_allclose(cp.asnumpy(got), cp.asnumpy(want), rtol=1e-12)
    fresh = kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert fresh.flags.c_contiguous
    np.testing.assert_allclose(cp.asnumpy(fresh), cp.asnumpy(reference.gemm(a, b, trans_a=trans_a, trans_b=trans_b)),
                               rtol=1e-12)


def test_folded_sgd_is_one_product_with_the_references_numbers(cp, kernels, reference):
    """issue 12 (L-DEV-2): W <- W - lr h^T G and b <- b - lr 1^T G as products with beta = 1."""
    rng = np.random.default_rng(8)
    h, G = cp.asarray(rng.standard_normal((32, 6))), cp.asarray(rng.standard_normal((32, 5)))
    W, b = cp.asarray(rng.standard_normal((6, 5))), cp.asarray(rng.standard_normal(5))
    assert kernels.fold_update and not reference.fold_update
    got_W, want_W = kernels.weight_fold_(W.copy(), h, G, 0.1), reference.weight_fold_(W.copy(), h, G, 0.1)
    got_b, want_b = kernels.bias_fold_(b.copy(), G, 0.1), reference.bias_fold_(b.copy(), G, 0.1)
    np.testing.assert_allclose(cp.asnumpy(got_W), cp.asnumpy(want_W), rtol=1e-12)
    np.testing.assert_allclose(cp.asnumpy(got_b), cp.asnumpy(want_b), rtol=1e-12)


def test_bias_grad_matches_the_reference(cp, kernels, reference):
    """issue 12: dL/db as a product with a row of ones."""
    g = cp.asarray(np.random.default_rng(4).standard_normal((31, 7)))
    np.testing.assert_allclose(cp.asnumpy(kernels.bias_grad(g)), cp.asnumpy(reference.bias_grad(g)), rtol=1e-12)


@pytest.mark.parametrize("momentum, weight_decay, nesterov", [(0, 0, False), (0.9, 0.01, False), (0.9, 0, True)])
def test_sgd_kernel_matches_the_reference(cp, kernels, reference, momentum, weight_decay, nesterov):
    """issue 12: one fused SGD kernel per parameter gives the reference's numbers over three steps."""
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((8, 3)).astype(np.float32)
    p1, p2 = cp.asarray(p0), cp.asarray(p0)
    b1 = b2 = None
    for _ in range(3):
        g = cp.asarray(rng.standard_normal((8, 3)).astype(np.float32))
        b1 = kernels.sgd_(p1, g, 0.1, momentum=momentum, buf=b1, weight_decay=weight_decay, nesterov=nesterov)
        b2 = reference.sgd_(p2, g, 0.1, momentum=momentum, buf=b2, weight_decay=weight_decay, nesterov=nesterov)
    np.testing.assert_array_max_ulp(cp.asnumpy(p1), cp.asnumpy(p2), maxulp=1)


@pytest.mark.parametrize("weight_decay, decoupled", [(0, False), (0.01, False), (0.01, True)])
@pytest.mark.parametrize("device_step", [False, True])
def test_adam_kernel_matches_the_reference(cp, kernels, reference, weight_decay, decoupled, device_step):
    """issue 12: one fused Adam kernel per parameter gives the reference's numbers over five steps."""
    rng = np.random.default_rng(6)
    p0 = rng.standard_normal((8, 3)).astype(np.float32)
    p1, p2 = cp.asarray(p0), cp.asarray(p0)
    m1, v1, m2, v2 = (cp.zeros_like(p1) for _ in range(4))
    for t in range(1, 6):
        g = cp.asarray(rng.standard_normal((8, 3)).astype(np.float32))
        step = cp.asarray([t]) if device_step else t
        hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay, "decoupled": decoupled}
        kernels.adam_(p1, g, m1, v1, step=step, **hyper)
        reference.adam_(p2, g, m2, v2, step=t, **hyper)
    np.testing.assert_array_max_ulp(cp.asnumpy(p1), cp.asnumpy(p2), maxulp=2)


# Twenty tensors of very different sizes (two launches of a group kernel), one of them large
# enough for the grid-stride loop to wrap (more elements than 1,024 blocks of 256 threads).
_GROUP_SHAPES = [(7, 5), (5,), (600, 700), (1,), (3, 3), (0, 4), (13,), (2, 2, 2), (64,), (9, 11),
                 (4,), (30, 2), (1, 1), (17,), (6, 6), (50,), (8, 3), (2,), (31,), (12, 12)]


@pytest.mark.parametrize("momentum, weight_decay, nesterov", [(0, 0, False), (0.9, 0.01, False), (0.9, 0, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_group_kernel_equals_the_per_parameter_kernels(cp, kernels, momentum, weight_decay, nesterov, dtype):
    """issue 12 (fused optimizer updates): sgd_group_ (one launch per 16 tensors) gives the bits of
    one sgd_ kernel per parameter over three steps of 20 parameters."""
    rng = np.random.default_rng(11)
    host = [rng.standard_normal(s).astype(dtype) for s in _GROUP_SHAPES]
    group, single = [cp.asarray(a) for a in host], [cp.asarray(a) for a in host]
    bg = bs = None
    hyper = {"momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov}
    for _ in range(3):
        grads = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in _GROUP_SHAPES]
        bg = kernels.sgd_group_(group, grads, 0.1, bufs=bg, **hyper)
        bs = [kernels.sgd_(p, g, 0.1, buf=b, **hyper) for p, g, b in zip(single, grads, bs or [None] * 20)]
    for a, b in zip(group, single):
        np.testing.assert_array_equal(cp.asnumpy(a), cp.asnumpy(b))


@pytest.mark.parametrize("weight_decay, decoupled", [(0, False), (0.01, False), (0.01, True)])
@pytest.mark.parametrize("device_step", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_group_kernel_equals_the_per_parameter_kernels(cp, kernels, weight_decay, decoupled, device_step, dtype):
    """issue 12 (fused optimizer updates): adam_group_ gives the bits of one adam_ kernel per
    parameter over five steps of 20 parameters with different step counts (host or device)."""
    rng = np.random.default_rng(12)
    host = [rng.standard_normal(s).astype(dtype) for s in _GROUP_SHAPES]
    runs = [([cp.asarray(a) for a in host], [cp.zeros(s, dtype) for s in _GROUP_SHAPES],
             [cp.zeros(s, dtype) for s in _GROUP_SHAPES]) for _ in range(2)]
    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay, "decoupled": decoupled}
    for t in range(1, 6):
        grads = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in _GROUP_SHAPES]
        steps = [t + i % 3 for i in range(20)]
        if device_step:
            steps = [cp.asarray([s], dtype=np.int64) for s in steps]
        (pg, mg, vg), (ps, ms, vs) = runs
        kernels.adam_group_(pg, grads, mg, vg, steps=steps, **hyper)
        for p, g, m, v, step in zip(ps, grads, ms, vs, steps):
            kernels.adam_(p, g, m, v, step=step, **hyper)
    for group, single in zip(*runs):
        for a, b in zip(group, single):
            np.testing.assert_array_equal(cp.asnumpy(a), cp.asnumpy(b))


def test_adam_on_cuda_launches_one_group_kernel_per_step(cp, kernels, monkeypatch):
    """issue 12: Adam.step on a CUDA model calls adam_group_ once (one launch for its 6 parameters)."""
    net = ff.nn.MLP([784, 256, 256, 10], rng=0).to("cuda")
    opt = ff.optim.Adam(net.parameters(), lr=1e-3)
    calls = []
    group = kernels.adam_group_
    monkeypatch.setattr(kernels, "adam_group_", lambda *a, **k: calls.append(len(a[0])) or group(*a, **k))
    for p in net.parameters():
        p.grad = cp.ones_like(p.data)
    opt.step()
    opt.step()
    assert calls == [6, 6]


def _mlp_step(cp, kernels, sizes=(20, 32, 32, 4), n=64, lr=0.05, seed=0):
    """A hand-rolled training step over fixed device buffers through the kernels only (contract 3):
    forward (gemm + bias_unit), softmax cross-entropy, backward, SGD folded into the products."""
    from feedforward.functional.activations import RELU

    rng = np.random.default_rng(seed)
    Ws = [cp.asarray(rng.standard_normal((a, b)).astype(np.float32) * (2 / a) ** 0.5)
          for a, b in itertools.pairwise(sizes)]
    bs = [cp.zeros(b, np.float32) for b in sizes[1:]]
    xbuf = cp.asarray(rng.standard_normal((n, sizes[0])).astype(np.float32))
    ybuf = cp.asarray(rng.integers(0, sizes[-1], n))
    loss_buf = cp.zeros((), np.float32)

    def step():
        hs = [xbuf]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = kernels.gemm(hs[-1], W)
            hs.append(kernels.bias_unit(z, b, RELU if i < len(Ws) - 1 else None))
        loss, g = kernels.softmax_cross_entropy(hs[-1], ybuf)
        loss_buf[...] = loss
        for i in reversed(range(len(Ws))):
            if i < len(Ws) - 1:
                g = kernels.unit_backward(g, hs[i + 1], RELU, True)
            g_prev = kernels.gemm(g, Ws[i], trans_b=True) if i else None
            kernels.sgd_(bs[i], kernels.bias_grad(g), lr)
            kernels.gemm(hs[i], g, trans_a=True, out=Ws[i], alpha=-lr, beta=1.0)  # W <- W - lr h^T g
            g = g_prev

    return step, Ws, bs, loss_buf


def test_captured_step_is_bit_identical_to_the_eager_planned_step(cp, kernels):
    """issue 12 (graph capture): replaying the captured step gives, bit for bit, the weights of the
    same step run uncaptured with the same (planned) products."""
    pytest.importorskip("nvmath.linalg.advanced", reason="graph capture needs nvmath-python")
    from feedforward.backend.cuda_graph import PlannedMatmuls

    step_a, Ws_a, bs_a, _ = _mlp_step(cp, kernels)
    replay = backend.get_backend("cuda").capture(step_a)
    assert replay is not None
    for _ in range(10):  # warm-up, capture and launch, then eight replays
        replay()
    assert replay.graph is not None, "the capture fell back to the eager step"
    step_b, Ws_b, bs_b, _ = _mlp_step(cp, kernels)
    plans = PlannedMatmuls(cp)
    with kernels.planning(plans):
        for _ in range(10):
            plans.rewind()
            step_b()
    cp.cuda.Device().synchronize()
    for a, b in zip(Ws_a + bs_a, Ws_b + bs_b):
        np.testing.assert_array_equal(cp.asnumpy(a), cp.asnumpy(b))


def test_captured_step_matches_the_cublas_step(cp, kernels):
    """issue 12: the captured step (cuBLASLt products) and the eager cuBLAS step agree to 1e-5 after
    10 steps, and the loss buffer is refreshed by every replay."""
    pytest.importorskip("nvmath.linalg.advanced", reason="graph capture needs nvmath-python")
    step_a, Ws_a, _, loss_a = _mlp_step(cp, kernels)
    replay = backend.get_backend("cuda").capture(step_a)
    losses = []
    for _ in range(10):
        replay()
        losses.append(float(loss_a))
    assert replay.graph is not None
    step_b, Ws_b, _, _ = _mlp_step(cp, kernels)
    for _ in range(10):
        step_b()
    assert len(set(losses[2:])) > 1  # each replay really recomputed the loss
    for a, b in zip(Ws_a, Ws_b):
        np.testing.assert_allclose(cp.asnumpy(a), cp.asnumpy(b), rtol=1e-5, atol=1e-6)


def test_fit_on_cuda_matches_cpu(cp):
    """issue 12: ff.fit(..., device="cuda") ends with the weights of the same fit on the CPU (1e-4)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((256, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    models = []
    for dev in ("cpu", "cuda"):
        model = ff.nn.MLP([10, 16, 2], rng=0)
        ff.fit(model, X, y, max_epochs=3, batch_size=32, lr=0.1, optimizer="sgd", rng=0,
               device=dev)
        models.append(model)
    for (name, p_cpu), (_, p_gpu) in zip(models[0].named_parameters(), models[1].named_parameters()):
        assert str(p_gpu.device).startswith("cuda"), name
        np.testing.assert_allclose(p_gpu.to("cpu").numpy(), p_cpu.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
