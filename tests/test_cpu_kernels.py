"""The CPU's fused optimizer updates (issue 12: "an Adam step <= 1.3x a plain SGD step").

:mod:`feedforward.backend.cpu_kernels` compiles ``adam_`` and ``sgd_`` into one numba loop per
parameter. They must give the NumPy reference's numbers bit for bit (same dtype for every
scalar, same order of operations, no fastmath), fall back to the reference for what they do
not take, and leave the reference in charge when numba is not installed.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import feedforward as ff
from feedforward import backend
from feedforward.backend import cpu_kernels
from feedforward.backend.kernels import Kernels

HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba (the `fast` extra) is not installed: "
                                                       "no fused loops to test")

ADAM = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
# (weight_decay, decoupled): none, L2 in the gradient (Adam), shrinking the weights (AdamW)
DECAYS = [(0.0, False), (0.05, False), (0.05, True)]
# (momentum, nesterov, dampening, weight_decay)
SGDS = [(0.0, False, 0.0, 0.0), (0.0, False, 0.0, 0.01), (0.9, False, 0.0, 0.0),
        (0.9, False, 0.1, 0.01), (0.9, True, 0.0, 0.01)]


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of the compiled loops: proof that the fused path (not the reference) ran."""
    loops = cpu_kernels._loops()
    counts = {"adam": 0, "sgd": 0}
    for name in counts:
        loop = getattr(loops, name)

        def counted(*args, _loop=loop, _name=name):
            counts[_name] += 1
            return _loop(*args)

        monkeypatch.setattr(loops, name, counted)
    return counts


def _adam_both(shape, dtype, weight_decay, decoupled, steps=5, seed=0):
    """``steps`` Adam steps of the fused and of the reference kernels from the same start."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [(rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 2)).astype(dtype) for _ in range(steps)]
    out = []
    for kernels in (cpu_kernels.CpuKernels(), Kernels(np)):
        p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        for t, g in enumerate(grads, start=1):
            kernels.adam_(p, g, m, v, step=t, weight_decay=weight_decay, decoupled=decoupled, **ADAM)
        out.append((p, m, v))
    return out


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay, decoupled", DECAYS)
@pytest.mark.parametrize("shape", [(cpu_kernels.ADAM_MIN,), (96, 70), (300, 257)])
def test_fused_adam_equals_the_reference_bit_for_bit(calls, dtype, weight_decay, decoupled, shape):
    """issue 12: one compiled pass gives the twelve NumPy passes' numbers exactly (p, m and v),
    over float32 and float64, with and without weight decay in both modes, over several steps."""
    (p, m, v), (p_ref, m_ref, v_ref) = _adam_both(shape, dtype, weight_decay, decoupled)
    assert calls["adam"] == 5
    assert p.dtype == m.dtype == v.dtype == dtype
    np.testing.assert_array_equal(p, p_ref)
    np.testing.assert_array_equal(m, m_ref)
    np.testing.assert_array_equal(v, v_ref)


@needs_numba
@given(dtype=st.sampled_from([np.float32, np.float64]), lr=st.floats(1e-6, 1.0), beta1=st.floats(0.0, 0.999),
       beta2=st.floats(0.0, 0.99999), eps=st.floats(1e-12, 1e-2), step=st.integers(1, 10_000),
       weight_decay=st.sampled_from([0.0, 1e-4, 0.3]), decoupled=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_fused_adam_equals_the_reference_for_any_hyperparameters(dtype, lr, beta1, beta2, eps, step,
                                                                   weight_decay, decoupled, seed):
    """issue 12: bit for bit whatever the scalars (each is cast to the parameter's dtype as NumPy
    casts it), from any state (m of any sign, v >= 0) at any step."""
    rng = np.random.default_rng(seed)
    shape = (cpu_kernels.ADAM_MIN // 32, 32)
    p0, g, m0 = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v0 = (rng.standard_normal(shape) ** 2).astype(dtype)
    options = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "step": step,
               "weight_decay": weight_decay, "decoupled": decoupled}
    results = []
    for kernels in (cpu_kernels.CpuKernels(), Kernels(np)):
        p, m, v = p0.copy(), m0.copy(), v0.copy()
        kernels.adam_(p, g, m, v, **options)
        results.append((p, m, v))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum, nesterov, dampening, weight_decay", SGDS)
def test_fused_sgd_equals_the_reference_bit_for_bit(calls, dtype, momentum, nesterov, dampening,
                                                    weight_decay):
    """issue 12: the fused SGD update (plain, momentum with its first step, dampening, Nesterov,
    weight decay) gives the reference's parameter and momentum buffer exactly."""
    rng = np.random.default_rng(2)
    shape = (cpu_kernels.SGD_MIN // 64, 64)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(4)]
    results = []
    for kernels in (cpu_kernels.CpuKernels(), Kernels(np)):
        p, buf = p0.copy(), None
        for g in grads:
            buf = kernels.sgd_(p, g, 0.05, momentum=momentum, buf=buf, weight_decay=weight_decay,
                               nesterov=nesterov, dampening=dampening)
        results.append((p, buf))
    (p, buf), (p_ref, buf_ref) = results
    assert calls["sgd"] == 4
    np.testing.assert_array_equal(p, p_ref)
    if momentum:
        assert buf.dtype == dtype
        np.testing.assert_array_equal(buf, buf_ref)
    else:
        assert buf is None and buf_ref is None


@needs_numba
def test_fused_updates_leave_the_gradient_alone(calls):
    """issue 12: the gradient is only read (it may be shared with the caller), even with weight decay."""
    rng = np.random.default_rng(3)
    p = rng.standard_normal(cpu_kernels.SGD_MIN).astype(np.float32)
    g = rng.standard_normal(p.shape).astype(np.float32)
    g0 = g.copy()
    kernels = cpu_kernels.CpuKernels()
    kernels.adam_(p, g, np.zeros_like(p), np.zeros_like(p), step=1, weight_decay=0.1, **ADAM)
    kernels.sgd_(p, g, 0.1, momentum=0.9, weight_decay=0.1)
    assert calls == {"adam": 1, "sgd": 1}
    np.testing.assert_array_equal(g, g0)


def _odd_cases():
    """Updates the loops do not take: (p, g) pairs and why."""
    rng = np.random.default_rng(4)
    n = cpu_kernels.SGD_MIN
    big = rng.standard_normal((n // 64, 64))
    yield "small", rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    yield "broadcast gradient", big.copy(), rng.standard_normal(64)
    yield "gradient of another dtype", big.astype(np.float32), big.copy()
    yield "transposed parameter", big.copy().T, rng.standard_normal(big.T.shape)
    yield "float16", big.astype(np.float16), big.astype(np.float16)
    yield "strided gradient", big.copy(), rng.standard_normal((n // 64, 128))[:, ::2]


@needs_numba
@pytest.mark.parametrize("case", list(_odd_cases()), ids=lambda c: c[0])
def test_what_the_loops_do_not_take_runs_the_reference(calls, case):
    """issue 12: small parameters, broadcast, other-dtype or non-contiguous arrays and float16 fall
    back to the NumPy reference: same numbers, the compiled loops not called."""
    _, p0, g = case
    for update in ("adam", "sgd"):
        p, p_ref = p0.copy(order="K"), p0.copy(order="K")
        if p0.flags.f_contiguous and not p0.flags.c_contiguous:  # keep the transposed layout
            p, p_ref = np.asfortranarray(p0), np.asfortranarray(p0)
        if update == "adam":
            states = [(np.zeros_like(p), np.zeros_like(p)) for _ in range(2)]
            options = {**ADAM, "eps": 1e-3}  # an eps float16 can hold
            cpu_kernels.CpuKernels().adam_(p, g, *states[0], step=1, weight_decay=0.01, **options)
            Kernels(np).adam_(p_ref, g, *states[1], step=1, weight_decay=0.01, **options)
        else:
            cpu_kernels.CpuKernels().sgd_(p, g, 0.1, momentum=0.9, weight_decay=0.01)
            Kernels(np).sgd_(p_ref, g, 0.1, momentum=0.9, weight_decay=0.01)
        np.testing.assert_array_equal(p, p_ref)
    assert calls == {"adam": 0, "sgd": 0}


def _train(kernels, optimizer, monkeypatch):
    """20 minibatch steps of ff.fit on a 64-96-10 MLP (its 64 x 96 weight is above ADAM_MIN) with the
    CPU backend's kernels replaced by ``kernels``."""
    monkeypatch.setattr(backend.get_backend("cpu"), "kernels", kernels)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20 * 16, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=len(X))
    net = ff.nn.MLP([64, 96, 10], activation="relu", output="categorical", rng=0)
    ff.fit(net, X, y, optimizer=optimizer, max_epochs=1, batch_size=16, rng=0)
    return [p.data.copy() for p in net.parameters()]


@needs_numba
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_with_the_fused_updates_gives_the_reference_weights(calls, monkeypatch, optimizer):
    """issue 12: 20 steps of ff.fit with the CPU's fused kernels end on the same weights, bit for
    bit, as with the reference kernels."""
    assert cpu_kernels.ADAM_MIN <= 64 * 96
    fused = _train(cpu_kernels.CpuKernels(), optimizer, monkeypatch)
    reference = _train(Kernels(np), optimizer, monkeypatch)
    if optimizer == "adam":
        assert calls["adam"] == 20  # the one weight above ADAM_MIN, once per step
    for w, w_ref in zip(fused, reference, strict=True):
        np.testing.assert_array_equal(w, w_ref)


def test_the_cpu_backend_uses_the_cpu_kernels():
    """issue 12: ``backend.get_backend("cpu").kernels`` is the CPU's, so ff.fit's updates are fused."""
    assert isinstance(backend.get_backend("cpu").kernels, cpu_kernels.CpuKernels)


def test_without_numba_the_reference_runs(monkeypatch):
    """issue 12: numba is an optional extra: without it a large update runs the NumPy reference
    with its numbers, and nothing warns."""
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    monkeypatch.setattr(cpu_kernels, "_state", cpu_kernels._UNSET)
    rng = np.random.default_rng(6)
    p0 = rng.standard_normal(cpu_kernels.SGD_MIN).astype(np.float32)
    g = rng.standard_normal(p0.shape).astype(np.float32)
    p, p_ref = p0.copy(), p0.copy()
    cpu_kernels.CpuKernels().adam_(p, g, np.zeros_like(p), np.zeros_like(p), step=1, **ADAM)
    Kernels(np).adam_(p_ref, g, np.zeros_like(p), np.zeros_like(p), step=1, **ADAM)
    cpu_kernels.CpuKernels().sgd_(p, g, 0.1)
    Kernels(np).sgd_(p_ref, g, 0.1)
    assert cpu_kernels._state is None
    np.testing.assert_array_equal(p, p_ref)


@needs_numba
def test_loops_compile_without_a_writable_cache(monkeypatch):
    """issue 12: a read-only install with no writable cache directory still gets the fused loops
    (compiled in memory): numba's 'no locator available' error is not the user's problem."""
    import numba
    from numba.core import caching

    def read_only(self):
        raise PermissionError(13, "Permission denied", self.get_cache_path())

    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", read_only)
    with pytest.raises(RuntimeError, match="no locator"):  # what numba does with cache=True alone
        numba.njit(cache=True)(cpu_kernels._adam_loop)
    loop = cpu_kernels._compile(numba, cpu_kernels._adam_loop)
    p = np.ones(4)
    loop(p, np.ones(4), np.zeros(4), np.zeros(4), 0.1, 0.001, 0.999, 1e-8, 1.0, False, 0.0, False, 1.0)
    assert np.all(p < 1.0)  # it ran: a positive gradient lowered every weight
