"""``ff.fit`` driving the CUDA kernels end to end, on the CPU (issue 12, L-DEV-2).

tests/test_cuda_sources.py checks :class:`~feedforward.backend.cuda_kernels.CudaKernels` kernel by
kernel. Here the whole training step runs through it: device ``"hostcuda"`` is a backend whose
arrays are a NumPy subclass (:class:`HostArray`, so the registry maps them to it and every
``type(a) is np.ndarray`` shortcut takes the device path), whose array module is NumPy with CuPy's
kernel classes (the kernel sources compiled for the host with g++, from test_cuda_sources.py), and
whose kernels are ``CudaKernels`` itself with two stand-ins for what has no host build:

* ``cupy.cublas.gemm`` -> :func:`host_gemm`, ``alpha op(a) op(b) + beta out`` as cuBLAS defines it;
* ``cupy.RawModule`` (the softmax cross-entropy) -> :class:`HostRawModule`: the same CUDA source,
  compiled for the host and run one block after another with ONE thread per block (its tree
  reductions then reduce serially, and ``__syncthreads`` has nothing to wait for).

No method is delegated to the reference kernels (except in :class:`ReferenceLossKernels`, on
purpose, below). So ``ff.fit`` exercises, as on a GPU: the layer
chain's ``dot`` with transposed views (F-ordered -> the C-ordered base with a transpose flag),
``gemm`` with ``alpha``/``beta``/``out``, the fused bias+unit and unit-derivative kernels, the fused
softmax cross-entropy, plain SGD folded into the weight-gradient products, the one-launch group
updates of SGD with momentum and Adam, and capturable Adam's step counts in device arrays.

What is bit for bit and what is not (the weights are compared with the CPU run's, measured):

* With ReLU units and the cross-entropy taken from the reference (:class:`ReferenceLossKernels`),
  plain SGD (folded), SGD with momentum (group kernel) and Adam (group kernel, host step counts)
  give the CPU's weights and losses BIT FOR BIT: the products (transposed views and the folded
  ``alpha = -lr, beta = 1`` update included), the bias gradient ``1^T G``, the unit kernels and the
  updates are the same float32 operations in the same order.
* The fused cross-entropy kernel sums a row's exponentials in a loop with the C library's
  ``expf``/``logf`` (the reference: NumPy's loops and a BLAS product); tanh and sigmoid call
  ``tanhf``/``expf`` where NumPy has its own float32 loops; Adam with device step counts computes
  its bias corrections in double in the kernel (within 2 ulp, see test_cuda_sources.py). Each
  differs in the last bit here and there; after 14 updates the weights differ by at most
  2.1e-7 (a few ulp at their scale), hence :data:`RTOL` and :data:`ATOL`.

On a GPU the products are cuBLAS's, whose summation order is its own: there only the tolerances
hold (tests/test_backend_training.py, ``test_fit_on_cuda_matches_the_cpu``).
"""

from __future__ import annotations

import contextlib
import ctypes
import subprocess
import types
import typing

import numpy as np
import pytest
from test_cuda_sources import GXX, HostElementwiseKernel, HostRawKernel, _signature

import feedforward as ff
from feedforward import backend
from feedforward.backend import Backend
from feedforward.backend import cuda_kernels as ck
from feedforward.backend.kernels import Kernels

# float32 weights after 14 updates whose roundings differ in the last bit here and there (see
# the module docstring): measured, at most 2.1e-7 apart (sigmoid with Adam), the losses 7e-8
# relative. A wrong kernel (a missed transpose, a dropped bias) moves them by 1e-3 or more.
RTOL = 1e-6
ATOL = 3e-7


# --------------------------------------------------------------------------- the device array
class HostArray(np.ndarray):
    """A "device" array: NumPy memory, its own type (the registry maps it to ``hostcuda``).

    Like CuPy it has no scalars: a full reduction or an element read gives a 0-d array, so a
    value never leaves the device as a NumPy scalar (which the registry would call a CPU value).
    """

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return arr.view(HostArray)

    def __getitem__(self, index):
        r = super().__getitem__(index)
        return np.asarray(r).view(HostArray) if isinstance(r, np.generic) else r


def _dev(x):
    """NumPy results -> device arrays (0-d for scalars), recursively through tuples and lists."""
    if isinstance(x, np.ndarray):
        return x if type(x) is HostArray else x.view(HostArray)
    if isinstance(x, np.generic):
        return np.asarray(x).view(HostArray)
    if isinstance(x, (tuple, list)):
        return type(x)(_dev(v) for v in x)
    return x


# ---------------------------------------------------------------------------------- cuBLAS
gemm_calls: list = []  # (transa, transb, alpha, beta) of every cuBLAS product, for the tests to read


def host_gemm(transa, transb, a, b, out=None, alpha=1.0, beta=0.0):
    """The cuBLAS stand-in (:func:`gemm`), recording each call in :data:`gemm_calls`."""
    gemm_calls.append((transa, transb, float(alpha), float(beta)))
    return gemm(transa, transb, a, b, out=out, alpha=alpha, beta=beta)


def gemm(transa, transb, a, b, out=None, alpha=1.0, beta=0.0):
    """``cupy.cublas.gemm``: ``out = alpha op(a) op(b) + beta out`` with ``op(x) = x`` ("N") or
    ``x.T`` ("T"), in the arrays' dtype; ``out`` None: a new C-ordered array and ``beta = 0``.

    cuBLAS reads ``out`` only when ``beta != 0`` (a NaN in an output about to be overwritten does
    not leak in); ``alpha`` and ``beta`` are cast to the compute type (float32 for float32), as
    NumPy casts a Python float against a float32 array: the reference's roundings.
    """
    assert transa in ("N", "T") and transb in ("N", "T"), (transa, transb)
    assert a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    # cuBLAS takes the operands as they are in memory: a strided view would be read wrongly
    assert all(x.flags.c_contiguous or x.flags.f_contiguous for x in (a, b))
    A = a.T if transa == "T" else a
    B = b.T if transb == "T" else b
    assert A.shape[1] == B.shape[0], f"gemm: op(a) {A.shape} and op(b) {B.shape} do not chain"
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), dtype=a.dtype).view(HostArray)
        beta = 0.0
    assert out.shape == (A.shape[0], B.shape[1]) and out.dtype == a.dtype, (out.shape, out.dtype)
    assert out.flags.c_contiguous or out.flags.f_contiguous
    t = a.dtype.type
    r = np.dot(A.view(np.ndarray), B.view(np.ndarray))
    if alpha != 1.0:
        r *= t(alpha)
    if beta != 0.0:
        r += out.view(np.ndarray) if beta == 1.0 else t(beta) * out.view(np.ndarray)
    out[...] = r
    return out


class HostPlans:
    """``cuda_graph.PlannedMatmuls`` on the host: the planned products of a captured step."""

    def __init__(self):
        self.calls = 0

    def gemm(self, a, b, *, trans_a, trans_b, out, alpha, beta):
        self.calls += 1
        return gemm("T" if trans_a else "N", "T" if trans_b else "N", a, b, out=out, alpha=alpha, beta=beta)


# ------------------------------------------------------------- RawModule (softmax cross-entropy)
# The CUDA source compiled for the host: one thread per block (blockDim 1), the blocks of a grid
# run one after another (blockIdx set by the launcher), shared memory a static buffer.
MODULE_PRELUDE = """#include <cmath>
#include <cstring>
using std::exp; using std::log; using std::sqrt; using std::pow;
#define __global__
#define __device__
#define __shared__
#define __syncthreads()
struct ff_host_dim { long long x; };
static ff_host_dim blockIdx = {0};
static const ff_host_dim threadIdx = {0}, blockDim = {1}, gridDim = {1};
unsigned char shared_raw[64];  // one element of T: blockDim is 1
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, sizeof f); return f; }
static inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, sizeof d); return d; }
"""

_ARG = {np.int32: ctypes.c_int, np.int64: ctypes.c_longlong, np.float32: ctypes.c_float,
        np.float64: ctypes.c_double}


class HostRawModule:
    """``cupy.RawModule(code=, options=, name_expressions=)``: each template instance gets an
    ``extern "C"`` launcher that runs the grid's blocks in order."""

    _cache: typing.ClassVar[dict] = {}
    launches: typing.ClassVar[list] = []  # (instance name, grid, block)

    def __init__(self, code, options=(), name_expressions=()):
        assert "--fmad=false" in options  # rounds as NumPy does
        self.names = list(name_expressions)
        key = (code, tuple(self.names))
        lib = self._cache.get(key)
        if lib is None:
            launchers = []
            for i, name in enumerate(self.names):
                types_ = _signature(name)[1:-1].split(", ")
                params = ", ".join(f"{t} a{j}" for j, t in enumerate(types_))
                args = ", ".join(f"a{j}" for j in range(len(types_)))
                launchers.append(f'extern "C" void ff_launch{i}({params}, long long ff_grid) {{\n'
                                 f"    for (long long b = 0; b < ff_grid; ++b) {{ blockIdx.x = b; {name}({args}); }}\n}}")
            tmp = HostElementwiseKernel.tmp / f"module{len(self._cache)}"
            tmp.with_suffix(".cpp").write_text(MODULE_PRELUDE + code + "\n" + "\n".join(launchers))
            r = subprocess.run([GXX, "-std=c++17", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                                str(tmp.with_suffix(".so")), str(tmp.with_suffix(".cpp"))],
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0, r.stderr
            lib = self._cache[key] = ctypes.CDLL(str(tmp.with_suffix(".so")))
        self.lib = lib

    def get_function(self, name):
        fn = getattr(self.lib, f"ff_launch{self.names.index(name)}")

        def launch(grid, block, args, shared_mem=0):
            HostRawModule.launches.append((name, grid, block))
            call = []
            for a in args:
                if isinstance(a, np.ndarray):
                    assert a.flags.c_contiguous, f"{name}: a kernel reads its arrays as contiguous"
                    call.append(ctypes.c_void_p(a.ctypes.data))
                else:  # CuPy passes a NumPy scalar by value in its own type
                    assert type(a) in _ARG, f"{name}: kernel argument {a!r} is not a NumPy scalar"
                    call.append(_ARG[type(a)](a))
            fn(*call, ctypes.c_longlong(grid[0]))

        return launch


# ------------------------------------------------------------------------ the array module
class HostCudaNamespace:
    """NumPy's functions returning :class:`HostArray`, with CuPy's kernel classes."""

    ndarray = HostArray
    ElementwiseKernel = HostElementwiseKernel
    RawKernel = HostRawKernel
    RawModule = HostRawModule

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, (type, types.ModuleType)) or not callable(attr) or \
                name in ("dtype", "finfo", "iinfo", "result_type", "promote_types", "can_cast", "errstate"):
            return attr
        if name in ("asarray", "array", "ascontiguousarray", "asanyarray"):
            def transfer(a, *args, **kwargs):
                if not isinstance(a, HostArray):  # host -> device: a copy, never an alias
                    a = np.array(a)
                return _dev(attr(a, *args, **kwargs))
            return transfer
        return lambda *args, **kwargs: _dev(attr(*args, **kwargs))


class CountingCudaKernels(ck.CudaKernels):
    """CudaKernels with cuBLAS and the planned products on the host; counts the folded updates."""

    def __init__(self, xp):
        super().__init__(xp)
        self._cublas = types.SimpleNamespace(gemm=host_gemm)
        self.folds = {"weight": 0, "bias": 0}

    def weight_fold_(self, W, h, g, lr):
        self.folds["weight"] += 1
        return super().weight_fold_(W, h, g, lr)

    def bias_fold_(self, b, g, lr):
        self.folds["bias"] += 1
        return super().bias_fold_(b, g, lr)


class ReferenceLossKernels(CountingCudaKernels):
    """The CUDA kernels with the REFERENCE softmax cross-entropy: the one kernel whose float32
    roundings differ from the CPU's, taken out to show that everything else gives the same bits."""

    def softmax_cross_entropy(self, z, labels, weights=None):
        return Kernels.softmax_cross_entropy(self, z, labels, weights)


class HostCuda(Backend):
    type = "hostcuda"
    xp = HostCudaNamespace()
    array_types = (HostArray,)

    def _load(self):
        pass

    kernel_class = CountingCudaKernels

    def _make_kernels(self):
        return self.kernel_class(self.xp)

    def asarray(self, a, index, dtype=None):
        if isinstance(a, HostArray):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        return np.array(a, dtype=dtype).view(HostArray)  # a copy: a transfer

    def to_numpy(self, a):
        return np.array(a.view(np.ndarray))

    def index_of(self, a):
        return 0


class CapturingHostCuda(HostCuda):
    """``hostcuda`` that 'captures' as ``cuda_graph.capture`` does: the first call runs eagerly
    with planned products, every later one with the capturing flag up (CudaKernels then refuses
    a host step count, the one thing a graph would freeze)."""

    type = "hostcapture"

    def capture(self, step):
        kernels = self.kernels
        plans = HostPlans()
        runs = []

        def replay():
            with kernels.planning(plans, capturing=bool(runs)):
                step()
            runs.append(1)

        self.plans, self.replays = plans, runs
        return replay


@contextlib.contextmanager
def _registered(tmp_path_factory, monkeypatch, device: Backend):
    if GXX is None:
        pytest.skip("g++ is not on PATH: the CUDA kernels are compiled for the host with it")
    if HostElementwiseKernel.tmp is None:
        HostElementwiseKernel.tmp = tmp_path_factory.mktemp("host_kernels")
    # NumPy addresses stand in for device pointers; one device, 0
    monkeypatch.setattr(ck, "_address", lambda a: a.ctypes.data)
    monkeypatch.setattr(ck, "_device_id", lambda a: 0)
    monkeypatch.setattr(ck, "_current_device", lambda xp: 0)
    # one at a time: both map HostArray to themselves
    backend.register(device)
    HostRawKernel.launches.clear()
    HostRawModule.launches.clear()
    gemm_calls.clear()
    try:
        yield device
    finally:
        backend.unregister(device.type)


@pytest.fixture
def hostcuda(tmp_path_factory, monkeypatch):
    """Device ``"hostcuda"`` (fresh each test); yields its kernels."""
    with _registered(tmp_path_factory, monkeypatch, HostCuda()) as device:
        yield device.kernels


@pytest.fixture
def hostcuda_reference_loss(tmp_path_factory, monkeypatch):
    """Device ``"hostcuda"`` with :class:`ReferenceLossKernels`; yields its kernels."""
    device = HostCuda()
    device.kernel_class = ReferenceLossKernels
    with _registered(tmp_path_factory, monkeypatch, device) as device:
        yield device.kernels


@pytest.fixture
def hostcapture(tmp_path_factory, monkeypatch):
    """Device ``"hostcapture"`` (fresh each test); yields the backend."""
    with _registered(tmp_path_factory, monkeypatch, CapturingHostCuda()) as device:
        yield device


# ------------------------------------------------------------------------------------ runs
N, BATCH, EPOCHS = 100, 16, 2  # 6 full minibatches and one of 4 per epoch
STEPS = EPOCHS * -(-N // BATCH)
SIZES = [20, 32, 32, 4]


def _data():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((N, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], N)
    return X, y


def _fit(device, activation="relu", optimizer="sgd", **options):
    X, y = _data()
    net = ff.nn.MLP(SIZES, activation=activation, output="categorical", rng=0)
    if callable(optimizer):
        optimizer = optimizer(net.parameters())
    history = ff.fit(net, X, y, rng=0, device=device, max_epochs=EPOCHS, batch_size=BATCH,
                     optimizer=optimizer, **options)
    params = [backend.to_numpy(p.data) for p in net.parameters()]
    if device != "cpu":  # the model stayed on the device: the run really was there
        assert all(type(p.data) is HostArray for p in net.parameters())
    return params, [r["train_loss"] for r in history.records]


def _close(got, want, bitwise: bool):
    (w_got, l_got), (w_want, l_want) = got, want
    assert len(w_got) == len(w_want) == 2 * (len(SIZES) - 1)
    for i, (a, b) in enumerate(zip(w_got, w_want)):
        assert a.dtype == b.dtype == np.float32
        if bitwise:
            np.testing.assert_array_equal(a, b, err_msg=f"parameter {i}")
        else:
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"parameter {i}")
    np.testing.assert_allclose(l_got, l_want, rtol=RTOL)
    # and training did something: the run is not trivially equal
    assert not np.array_equal(w_got[0], _fit_initial()[0])


def _fit_initial():
    return [p.data for p in ff.nn.MLP(SIZES, activation="relu", output="categorical", rng=0).parameters()]


def _launched(prefix):
    return [name for name, *_ in HostRawKernel.launches if name.startswith(prefix)]


# ----------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_plain_sgd_folds_the_update_into_the_products(hostcuda, activation):
    """issue 12 (L-DEV-2): ff.fit with plain SGD on the CUDA kernels folds every layer's update
    into its weight-gradient product (one gemm with alpha = -lr, beta = 1, into W) and its bias's
    (1^T G, the same): 3 layers x 7 minibatches x 2 epochs of each; the weights are the CPU's."""
    cpu = _fit("cpu", activation, optimizer="sgd", lr=0.1)
    dev = _fit("hostcuda", activation, optimizer="sgd", lr=0.1, capture=False)
    layers = len(SIZES) - 1
    assert hostcuda.folds == {"weight": layers * STEPS, "bias": layers * STEPS}
    folded = [c for c in gemm_calls if c[3] == 1.0]
    assert len(folded) == 2 * layers * STEPS and all(c[2] == -0.1 for c in folded)
    assert ("T", "N", 1.0, 0.0) not in gemm_calls  # no weight gradient was made apart from a fold
    # G W^T: the weight's transposed view went to cuBLAS as the weight with a transpose flag
    assert ("N", "T", 1.0, 0.0) in gemm_calls
    assert HostRawKernel.launches == []  # folded: the optimizer's step had nothing left to do
    assert len(HostRawModule.launches) == 3 * STEPS  # the cross-entropy's three kernels per step
    _close(dev, cpu, bitwise=False)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_sgd_with_momentum_is_one_group_launch_per_step(hostcuda, activation):
    """issue 12 (fused optimizer updates): SGD with momentum and weight decay updates the six
    parameters in one launch per step (none at the first, which makes the buffers); nothing is
    folded (the update needs the gradients), and the weights are the CPU's."""
    opt = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3}
    cpu = _fit("cpu", activation, **opt)
    dev = _fit("hostcuda", activation, capture=False, **opt)
    assert hostcuda.folds == {"weight": 0, "bias": 0}
    assert [name for name, *_ in HostRawKernel.launches] == ["ff_sgd_m_wd_group16"] * (STEPS - 1)
    # the weight gradients h^T G: the activations' transposed views, passed with a transpose flag
    assert gemm_calls.count(("T", "N", 1.0, 0.0)) == (len(SIZES) - 1) * STEPS
    _close(dev, cpu, bitwise=False)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_adam_is_one_group_launch_per_step(hostcuda, activation):
    """issue 12 (fused optimizer updates): Adam (L2 weight decay) updates the six parameters in
    one launch per step with the host's bias corrections as per-tensor kernel arguments."""
    opt = {"optimizer": lambda p: ff.optim.Adam(p, lr=0.01, weight_decay=1e-3)}
    cpu = _fit("cpu", activation, **opt)
    dev = _fit("hostcuda", activation, capture=False, **opt)
    assert [name for name, *_ in HostRawKernel.launches] == ["ff_adam_wd_group16"] * STEPS
    _close(dev, cpu, bitwise=False)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_capturable_adam_reads_its_step_counts_from_device_arrays(hostcapture, activation):
    """issue 12 (graph capture): where the backend captures, ff.fit makes Adam capturable: each
    parameter's step count lives in a one-element int64 device array, advanced on the device, and
    the group kernel reads it (the devstep variant, one launch per step) while every product goes
    through the planned matmuls; the full minibatches run with the capturing flag up, which
    CudaKernels' Adam would refuse with a host count. The weights are the CPU's."""
    opts = {"optimizer": "adam", "lr": 0.01, "weight_decay": 1e-3}
    cpu = _fit("cpu", activation, **opts)
    X, y = _data()
    net = ff.nn.MLP(SIZES, activation=activation, output="categorical", rng=0)
    trainer = ff.Trainer(net, rng=0, device="hostcapture", max_epochs=EPOCHS, batch_size=BATCH, **opts)
    history = trainer.fit(X, y)
    opt = trainer.optimizer
    assert opt.capturable
    for state in opt.state:
        assert type(state["device_step"]) is HostArray and state["device_step"].dtype == np.int64
        assert backend.to_numpy(state["device_step"]).tolist() == [STEPS]
    assert [name for name, *_ in HostRawKernel.launches] == ["ff_adam_wd_devstep_group16"] * STEPS
    full = EPOCHS * (N // BATCH)
    assert len(hostcapture.replays) == full  # the short last minibatch runs eagerly
    # 3 forward products, 3 weight and 3 bias gradients, 2 G W^T a step: planned in the captured
    # steps, cuBLAS in the short ones
    assert hostcapture.plans.calls == 11 * full and len(gemm_calls) == 11 * (STEPS - full)
    dev = [backend.to_numpy(p.data) for p in net.parameters()], [r["train_loss"] for r in history.records]
    _close(dev, cpu, bitwise=False)


@pytest.mark.parametrize("opts", [
    {"optimizer": "sgd", "lr": 0.1},
    {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3},
    {"optimizer": lambda p: ff.optim.Adam(p, lr=0.01, weight_decay=1e-3)},
], ids=["sgd_folded", "momentum_group", "adam_group"])
def test_relu_run_gives_the_cpus_bits_where_the_arithmetic_is_the_same(hostcuda_reference_loss, opts):
    """issue 12: with ReLU units and the reference cross-entropy, the CUDA kernels' run (chain
    products on transposed views, the folded update or the group kernels) gives the CPU's weights
    and losses bit for bit: each does the same float32 operations in the same order."""
    cpu = _fit("cpu", "relu", **opts)
    dev = _fit("hostcuda", "relu", capture=False, **opts)
    _close(dev, cpu, bitwise=True)
    assert dev[1] == cpu[1]
    assert HostRawModule.launches == []  # the loss was the reference's
    if opts["optimizer"] == "sgd" and "momentum" not in opts:
        assert hostcuda_reference_loss.folds["weight"] == (len(SIZES) - 1) * STEPS
    else:
        assert len(HostRawKernel.launches) in (STEPS, STEPS - 1)  # one per step (momentum: not the first)


def test_host_gemm_is_cublas_gemm():
    """issue 12: the cuBLAS stand-in computes alpha op(a) op(b) + beta out for every transpose
    pair, and ignores out's old values when beta = 0 (a NaN there does not leak in)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    for ta in (False, True):
        for tb in (False, True):
            A = np.ascontiguousarray(a.T) if ta else a
            B = np.ascontiguousarray(b.T) if tb else b
            out = rng.standard_normal((3, 5))
            want = 2.0 * a @ b - 0.5 * out
            got = host_gemm("T" if ta else "N", "T" if tb else "N", A, B, out=out.copy(), alpha=2.0, beta=-0.5)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    out = np.full((3, 5), np.nan)
    np.testing.assert_allclose(host_gemm("N", "N", a, b, out=out), a @ b, rtol=1e-12)


def test_cuda_dot_and_gemm_match_the_reference_on_transposed_views(hostcuda):
    """issue 12: CudaKernels.dot takes each F-ordered operand (a transposed view) as its C-ordered
    base with a transpose flag, and gemm honours alpha, beta and out, as the reference does."""
    from feedforward.backend.kernels import Kernels

    ref = Kernels(np)
    k = hostcuda
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 4)).astype(np.float32).view(HostArray)
    b = rng.standard_normal((5, 4)).astype(np.float32).view(HostArray)
    c = rng.standard_normal((6, 5)).astype(np.float32).view(HostArray)
    gemm_calls.clear()
    cases = [(a, b.T), (a.T, c), (c.T, a), (b, a.T)]
    for x, y in cases:
        got = k.dot(x, y)
        assert type(got) is HostArray and got.flags.c_contiguous
        np.testing.assert_allclose(got, ref.dot(x.view(np.ndarray), y.view(np.ndarray)), rtol=1e-6)
    assert [c_[:2] for c_ in gemm_calls] == [("N", "T"), ("T", "N"), ("T", "N"), ("N", "T")]
    out = c.copy()
    want = ref.gemm(a.view(np.ndarray), b.view(np.ndarray), trans_b=True, out=out.view(np.ndarray).copy(),
                    alpha=-0.3, beta=1.0)
    got = k.gemm(a, b, trans_b=True, out=out, alpha=-0.3, beta=1.0)
    assert got is out
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_cuda_softmax_cross_entropy_matches_the_reference(hostcuda, weighted):
    """issue 12: the fused softmax cross-entropy kernels (rows, weight sum, mean; run one block
    after another on the host) give the reference's loss and dz, an all -inf-but-one row and
    float64 included."""
    from feedforward.backend.kernels import Kernels

    ref = Kernels(np)
    rng = np.random.default_rng(2)
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        z = (rng.standard_normal((9, 7)) * 5).astype(dtype)
        z[0] = -np.inf
        z[0, 2] = 1.0
        labels = rng.integers(0, 7, 9)
        labels[0] = 2
        w = rng.random(9).astype(dtype) if weighted else None
        HostRawModule.launches.clear()
        loss, dz = hostcuda.softmax_cross_entropy(
            z.view(HostArray), labels.view(HostArray), None if w is None else w.view(HostArray))
        assert [name.split("<")[0] for name, *_ in HostRawModule.launches] == \
            ["ff_weight_sum", "ff_softmax_ce_rows", "ff_weighted_mean"]
        want_loss, want_dz = ref.softmax_cross_entropy(z, labels, w)
        assert type(loss) is HostArray and loss.shape == () and loss.dtype == dtype
        np.testing.assert_allclose(float(loss), float(want_loss), rtol=rtol)
        np.testing.assert_allclose(dz, want_dz, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float32, RTOL, ATOL), (np.float64, 1e-12, 1e-14)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weighted_fit_runs_the_weighted_loss_kernels(hostcuda, dtype, rtol, atol, optimizer):
    """issue 12: ff.fit with sample weights on the CUDA kernels: every minibatch runs the weighted
    cross-entropy (weight sum, rows, weighted mean) and the group update, in float32 and float64
    (the double instances of every kernel); the weights and losses are the CPU's within rounding
    (float64: the kernels' loops against NumPy's, a few ulp)."""
    X, y = _data()
    w = np.random.default_rng(3).random(N)
    runs = []
    for device in ("cpu", "hostcuda"):
        net = ff.nn.MLP(SIZES, activation="tanh", output="categorical", rng=0, dtype=dtype)
        history = ff.fit(net, X.astype(dtype), y, sample_weight=w, rng=0, device=device, max_epochs=EPOCHS,
                         batch_size=BATCH, optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0)
        runs.append(([backend.to_numpy(p.data) for p in net.parameters()], [r["train_loss"] for r in history.records]))
    ctype = {np.float32: "float", np.float64: "double"}[dtype]
    assert [name for name, *_ in HostRawModule.launches] == \
        [f"ff_weight_sum<{ctype}>", f"ff_softmax_ce_rows<{ctype}, long long>", f"ff_weighted_mean<{ctype}>"] * STEPS
    name = "ff_sgd_m_group16" if optimizer == "sgd" else "ff_adam_group16"
    assert _launched(name) == [name] * (STEPS - (optimizer == "sgd"))
    (w_dev, l_dev), (w_cpu, l_cpu) = runs[1], runs[0]
    for a, b in zip(w_dev, w_cpu):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(l_dev, l_cpu, rtol=rtol)
