"""The CUDA sources of the fused kernels, checked on a machine without a GPU (issue 12, L-DEV-2).

No GPU here and none in CI, so the GPU's math is checked in the two ways the CPU allows:

* every source :mod:`feedforward.backend.cuda_kernels` hands to CuPy (each unit's forward and
  backward elementwise kernel, the softmax cross-entropy, the SGD and Adam updates) is compiled
  with ``nvcc`` (skipped where nvcc is not on PATH), laid out as CuPy lays out an elementwise
  kernel: inputs read into locals of type ``T``, outputs bound by reference, scalars by value;
* the optimizer kernels' bodies are compiled as C++ for the host with ``g++`` (no fused
  multiply-add, as the kernels are compiled) and run against :mod:`feedforward.optim`'s NumPy
  updates: the same float32 numbers, bit for bit;
* the group update kernels (one launch for many parameters) are compiled with ``nvcc`` as they
  are generated, and the same sources run on the host (a 1x1 grid: the grid-stride loop runs
  serially) through ``CudaKernels.sgd_group_`` / ``adam_group_`` against the per-parameter kernels.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import shutil
import subprocess
import typing

import numpy as np
import pytest

import feedforward as ff
from feedforward.backend import cuda_kernels as ck
from feedforward.functional import activations

NVCC = shutil.which("nvcc")
GXX = shutil.which("g++")

# The spec's array arguments (everything else is a scalar passed by value); "bias_" is broadcast
# over the rows, as CuPy broadcasts a (units,) input against an (n, units) output.
ARRAYS = {"g", "y", "w", "m", "v", "buf", "bias_", "out_", "r_"}
C_TYPES = {"float64": "double", "float32": "float", "int64": "long long"}


def all_units():
    """Every unit kernel of the registry with CUDA expressions: the module's UnitKernel constants
    and one instance of each ``*_kernel(value)`` factory (slopes, ELU's alpha)."""
    units = {}
    for name, obj in vars(activations).items():
        if isinstance(obj, activations.UnitKernel):
            units[name] = obj
        elif name.endswith("_kernel") and inspect.isfunction(getattr(obj, "__wrapped__", obj)):
            units[f"{name}(0.25)"] = obj(0.25)
    return {k: u for k, u in units.items() if u.cuda_forward is not None}


def standalone(spec: ck.ElementwiseSpec, name: str, host: bool = False) -> str:
    """``spec`` as one loop over the elements, in CuPy's layout, for nvcc (or g++ when ``host``)."""
    params, reads = [], []
    for decl in filter(None, (p.strip() for p in spec.in_params.split(","))):
        parts = decl.split()
        raw = parts[0] == "raw"
        typ, var = parts[-2], parts[-1]
        ctype = C_TYPES.get(typ) or typ
        if raw:
            params.append(f"const long long* {var}")
        elif var in ARRAYS:
            params.append(f"const {ctype}* {var}_ptr")
            index = "i % cols" if var == "bias_" else "i"
            reads.append(f"const {ctype} {var} = {var}_ptr[{index}];")
        else:
            params.append(f"{ctype} {var}")
    for decl in (p.strip() for p in spec.out_params.split(",")):
        var = decl.split()[-1]
        params.append(f"T* {var}_ptr")
        reads.append(f"T& {var} = {var}_ptr[i];")
    body = "\n        ".join(reads + spec.operation.splitlines())
    qualifier = 'extern "C"' if host else 'extern "C" __global__'
    loop = ("for (long long i = 0; i < n; ++i)" if host else
            "for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; "
            "i += (long long)blockDim.x * gridDim.x)")
    return (f"{qualifier} void {name}({', '.join(params)}, long long n, long long cols) {{\n"
            f"    {loop} {{\n        {body}\n    }}\n}}\n")


def unit_specs():
    for label, unit in all_units().items():
        params = tuple(unit.cuda_params)
        yield label, ck.unit_forward_spec(unit.cuda_forward, params, bias=True)
        yield label, ck.unit_forward_spec(unit.cuda_forward, params, bias=False)
        yield label, ck.unit_backward_spec(unit.cuda_backward, params, owned=True)
        yield label, ck.unit_backward_spec(unit.cuda_backward, params, owned=False)


def update_specs():
    for momentum in (False, True):
        for wd in (False, True):
            for nesterov in ((False, True) if momentum else (False,)):
                yield ck.sgd_spec(momentum, wd, nesterov)
    for wd, decoupled in ((False, False), (True, False), (True, True)):
        for device_step in (False, True):
            yield ck.adam_spec(wd, decoupled, device_step)


def nvcc(tmp_path, source: str, name: str):
    path = tmp_path / f"{name}.cu"
    path.write_text(source)
    r = subprocess.run([NVCC, "-std=c++17", "--ptx", "--fmad=false", "-o", str(tmp_path / f"{name}.ptx"),
                        str(path)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"nvcc failed on {name}:\n{r.stderr}\n--- source ---\n{source}"
    return (tmp_path / f"{name}.ptx").read_text()


def test_the_registry_has_units_with_cuda_expressions():
    """issue 12: the unit kernels compiled below come from the unit registry (contract 1)."""
    units = all_units()
    assert "RELU" in units and "TANH" in units and "SIGMOID" in units, sorted(units)


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_every_elementwise_kernel_compiles_with_nvcc(tmp_path, ctype):
    """issue 12: each unit's forward (with and without bias) and backward (owned or not) and every
    SGD/Adam variant compiles as CUDA for float and double; one kernel per spec in the PTX."""
    specs = [spec for _, spec in unit_specs()] + list(update_specs())
    names = [f"k{i}_{spec.name}" for i, spec in enumerate(specs)]
    source = f"typedef {ctype} T;\ntypedef long long S;\n" + "\n".join(
        standalone(spec, name) for spec, name in zip(specs, names))
    ptx = nvcc(tmp_path, source, f"elementwise_{ctype}")
    for name in names:
        assert f".entry {name}(" in ptx, name


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
def test_softmax_cross_entropy_source_compiles_with_nvcc(tmp_path):
    """issue 12: the fused softmax cross-entropy (rows, weight sum, weighted mean) compiles for every
    (dtype, label dtype) instance CudaKernels asks NVRTC for."""
    instances = sorted({name for d in ("float32", "float64") for lab in ("int32", "int64")
                        for name in ck.softmax_ce_names(d, lab)})
    source = ck.SOFTMAX_CE_SOURCE + "\n" + "\n".join(
        f"template __global__ void {name}{_signature(name)};" for name in instances)
    ptx = nvcc(tmp_path, source, "softmax_ce")
    for kernel in ("ff_softmax_ce_rows", "ff_weight_sum", "ff_weighted_mean"):
        assert kernel in ptx
    assert ptx.count(".entry") == len(instances)


def _signature(instance: str) -> str:
    """The parameter list of a template instance, for its explicit instantiation."""
    args = instance[instance.index("<") + 1:-1].split(", ")
    T = args[0]
    if instance.startswith("ff_softmax_ce_rows"):
        L = args[1]
        return (f"(const {T}*, const {L}*, const {T}*, int, const {T}*, {T}*, {T}*, long long, "
                "long long)")
    if instance.startswith("ff_weight_sum"):
        return f"(const {T}*, int, {T}*, long long)"
    return f"(const {T}*, const {T}*, int, const {T}*, {T}*, long long)"


def group_variants():
    """Every (spec, per-tensor scalars) pair CudaKernels launches as a group kernel."""
    for spec in update_specs():
        host_adam = spec.name.startswith("ff_adam") and "devstep" not in spec.name
        yield spec, ("step_size", "eps_c") if host_adam else ()


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("ctype", ["float", "double"])
@pytest.mark.parametrize("k", [1, 5, ck.GROUP_SIZE])
def test_group_update_kernels_compile_with_nvcc(tmp_path, ctype, k):
    """issue 12 (fused optimizer updates, one launch per group): every SGD/Adam group kernel
    compiles as generated for float and double, with 1, 5 and GROUP_SIZE (the one CudaKernels
    launches) tensor slots; its parameters fit CUDA's 4 KiB of kernel arguments."""
    for spec, per_tensor in group_variants():
        source = ck.group_update_source(spec, k, ctype, per_tensor)
        name = ck.group_kernel_name(spec, k)
        ptx = nvcc(tmp_path, source, f"{name}_{ctype}")
        assert f".entry {name}(" in ptx
        # at most 8 bytes an argument: slots, the k ends, shared scalars and the total
        n_args = sum(k if slot.per_tensor else 1 for slot in ck.group_layout(spec, per_tensor)) + k + 1
        assert 8 * n_args < 4096


def test_group_kernel_source_rejects_zero_slots():
    """issue 12: a group kernel with no tensor slot is a caller's error, said plainly."""
    with pytest.raises(ValueError, match="k >= 1"):
        ck.group_update_source(ck.sgd_spec(False, False, False), 0, "float")


# ------------------------------------------------------------ the update kernels on the host
@pytest.fixture(scope="module")
def host_updates(tmp_path_factory):
    """The SGD and Adam kernel bodies compiled for the host with T = float (no FMA contraction)."""
    if GXX is None:
        pytest.skip("g++ is not on PATH")
    tmp = tmp_path_factory.mktemp("host_updates")
    specs = {spec.name: spec for spec in update_specs()}
    source = "#include <cmath>\nusing std::sqrt; using std::pow;\ntypedef float T;\ntypedef long long S;\n" \
        + "\n".join(standalone(spec, spec.name, host=True) for spec in specs.values())
    (tmp / "updates.cpp").write_text(source)
    lib = tmp / "updates.so"
    r = subprocess.run([GXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib),
                        str(tmp / "updates.cpp")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return specs, ctypes.CDLL(str(lib))


def call_host(host_updates, spec, arrays: dict, scalars: dict):
    """Run ``spec``'s host build on float32 arrays in place (the kernel's argument order)."""
    _, lib = host_updates
    args = []
    n = next(iter(arrays.values())).size
    for decl in filter(None, (p.strip() for p in (spec.in_params + "," + spec.out_params).split(","))):
        parts = decl.split()
        typ, var = parts[-2], parts[-1]
        if parts[0] == "raw" or var in ARRAYS:
            args.append(arrays[var].ctypes.data_as(ctypes.c_void_p))
        elif typ == "float64":
            args.append(ctypes.c_double(scalars[var]))
        else:
            args.append(ctypes.c_float(np.float32(scalars[var])))  # CuPy casts a scalar to T
    getattr(lib, spec.name)(*args, ctypes.c_longlong(n), ctypes.c_longlong(n))


def _param(rng, shape=(7, 5)):
    return ff.nn.Parameter(rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("momentum, weight_decay, nesterov, dampening", [
    (0.0, 0.0, False, 0.0), (0.0, 0.01, False, 0.0), (0.9, 0.0, False, 0.0),
    (0.9, 0.01, False, 0.1), (0.9, 0.01, True, 0.0),
])
def test_sgd_kernel_matches_the_numpy_optimizer_bit_for_bit(host_updates, momentum, weight_decay,
                                                            nesterov, dampening):
    """issue 12 (fused optimizer updates): the SGD kernel's body, run on the host in float32, gives
    the same bits as ff.optim.SGD over three steps (momentum buffer seeded as SGD seeds it)."""
    rng = np.random.default_rng(0)
    p = _param(rng)
    opt = ff.optim.SGD([p], lr=0.05, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov,
                       dampening=dampening)
    w = p.data.copy()
    buf = None
    spec = ck.sgd_spec(bool(momentum), bool(weight_decay), nesterov)
    for _ in range(3):
        g = rng.standard_normal(p.shape).astype(np.float32)
        p.grad = g.copy()
        opt.step()
        if momentum and buf is None:
            # The first step seeds the buffer with the (decayed) gradient itself, outside the
            # kernel; the kernel runs from the second step on.
            buf = (g + np.float32(weight_decay) * w if weight_decay else g).astype(np.float32)
            d = buf + np.float32(momentum) * buf if nesterov else buf
            w -= d * np.float32(0.05)
            continue
        arrays = {"g": g, "w": w}
        if momentum:
            arrays["buf"] = buf
        call_host(host_updates, spec, arrays, {"lr": 0.05, "weight_decay": weight_decay,
                                               "momentum": momentum, "one_minus_dampening": 1 - dampening})
    np.testing.assert_array_equal(w, p.data)


@pytest.mark.parametrize("weight_decay, decoupled", [(0.0, False), (0.01, False), (0.01, True)])
@pytest.mark.parametrize("device_step", [False, True])
def test_adam_kernel_matches_the_numpy_optimizer(host_updates, weight_decay, decoupled, device_step):
    """issue 12 (fused optimizer updates): the Adam kernel's body, run on the host in float32, gives
    ff.optim.Adam's numbers over five steps: bit for bit with the host's bias corrections, within
    2 ulp with the step read from a device array (bias corrections computed in the kernel)."""
    rng = np.random.default_rng(1)
    p = _param(rng)
    lr, (b1, b2), eps = 1e-2, (0.9, 0.999), 1e-8
    opt = ff.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, decoupled=decoupled)
    w, m, v = p.data.copy(), np.zeros(p.shape, np.float32), np.zeros(p.shape, np.float32)
    spec = ck.adam_spec(bool(weight_decay), decoupled, device_step)
    for t in range(1, 6):
        g = rng.standard_normal(p.shape).astype(np.float32)
        p.grad = g.copy()
        opt.step()
        c = math.sqrt(1 - b2**t)
        scalars = {"one_minus_beta1": 1 - b1, "beta2": b2, "one_minus_beta2": 1 - b2,
                   "weight_decay": weight_decay, "decay": 1 - lr * weight_decay,
                   "step_size": lr * c / (1 - b1**t), "eps_c": eps * c,
                   "lr_": lr, "beta1_": b1, "beta2_": b2, "eps_": eps}
        arrays = {"g": g, "w": w, "m": m, "v": v, "step": np.array([t], np.int64)}
        call_host(host_updates, spec, arrays, scalars)
    if device_step:
        np.testing.assert_array_max_ulp(w, p.data, maxulp=2)
    else:
        np.testing.assert_array_equal(w, p.data)


# --------------------------------------------- CudaKernels end to end on a host "CuPy"
class HostElementwiseKernel:
    """``cupy.ElementwiseKernel`` for NumPy arrays: the spec compiled with g++ for the host.

    Inputs are broadcast to the output's shape (as CuPy broadcasts a bias over the rows), ``T`` is
    the outputs' dtype, ``S`` a raw array's; scalars are cast to their declared type, as CuPy does.
    """

    _cache: typing.ClassVar[dict] = {}  # source -> compiled function, shared by all kernels
    tmp = None

    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", no_return=False,
                 options=()):
        assert "--fmad=false" in options  # every update and unit kernel rounds as NumPy does
        self.ins = [p.split() for p in in_params.split(",") if p.strip()]
        self.outs = [p.split() for p in out_params.split(",") if p.strip()]
        self.operation, self.name = operation, name

    def __call__(self, *args):
        assert len(args) == len(self.ins) + len(self.outs), (self.name, len(args))
        outs = args[len(self.ins):]
        shape, dtype = outs[0].shape, outs[0].dtype
        ctype = {"float32": "float", "float64": "double"}[dtype.name]
        params, reads, call = [], [], []
        for decl, arg in zip(self.ins + self.outs, args):
            raw, typ, var = decl[0] == "raw", decl[-2], decl[-1]
            is_out = decl in self.outs
            if raw:
                params.append(f"const long long* {var}")
                call.append(np.ascontiguousarray(arg, np.int64).ctypes.data_as(ctypes.c_void_p))
            elif isinstance(arg, np.ndarray) and not is_out:
                a = np.ascontiguousarray(np.broadcast_to(arg, shape), dtype)
                call.append(a.ctypes.data_as(ctypes.c_void_p))
                call[-1]._keep = a
                params.append(f"const T* {var}_ptr")
                reads.append(f"const T {var} = {var}_ptr[i];")
            elif is_out:
                assert arg.flags.c_contiguous and arg.dtype == dtype
                params.append(f"T* {var}_ptr")
                reads.append(f"T& {var} = {var}_ptr[i];")
                call.append(arg.ctypes.data_as(ctypes.c_void_p))
            elif typ == "float64":
                params.append(f"double {var}")
                call.append(ctypes.c_double(arg))
            else:
                params.append(f"T {var}")
                call.append((ctypes.c_float if ctype == "float" else ctypes.c_double)(dtype.type(arg)))
        body = "\n        ".join(reads + self.operation.splitlines())
        source = (f"#include <cmath>\nusing namespace std;\ntypedef {ctype} T;\n"
                  f'extern "C" void k({", ".join(params)}, long long n) {{\n'
                  f"    for (long long i = 0; i < n; ++i) {{\n        {body}\n    }}\n}}\n")
        fn = self._cache.get(source)
        if fn is None:
            tmp = self.tmp / f"k{len(self._cache)}"
            tmp.with_suffix(".cpp").write_text(source)
            r = subprocess.run([GXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                                str(tmp.with_suffix(".so")), str(tmp.with_suffix(".cpp"))],
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0, f"{r.stderr}\n{source}"
            fn = self._cache[source] = ctypes.CDLL(str(tmp.with_suffix(".so"))).k
        fn(*call, ctypes.c_longlong(int(np.prod(shape))))


# A CUDA source compiled for the host: __global__ means nothing and the grid is one thread, so a
# grid-stride loop visits every element in order.
HOST_PRELUDE = """#include <cmath>
using std::sqrt; using std::pow;
#define __global__
struct ff_host_dim { long long x; };
static const ff_host_dim blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
"""

_CTYPES_OF = {np.uint64: ctypes.c_uint64, np.int64: ctypes.c_longlong, np.float32: ctypes.c_float,
              np.float64: ctypes.c_double}


class HostRawKernel:
    """``cupy.RawKernel`` on the host: the source compiled with g++ after :data:`HOST_PRELUDE`; the
    arguments must be NumPy scalars (as CuPy passes them by value), addresses as ``numpy.uint64``."""

    _cache: typing.ClassVar[dict] = {}
    launches: typing.ClassVar[list] = []  # (kernel name, grid, block) of every call

    def __init__(self, code, name, options=()):
        assert "--fmad=false" in options  # rounds as the per-parameter kernels do
        self.name = name
        key = (code, name)
        fn = self._cache.get(key)
        if fn is None:
            tmp = HostElementwiseKernel.tmp / f"raw{len(self._cache)}"
            tmp.with_suffix(".cpp").write_text(HOST_PRELUDE + code)
            r = subprocess.run([GXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                                str(tmp.with_suffix(".so")), str(tmp.with_suffix(".cpp"))],
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0, f"{r.stderr}\n{code}"
            fn = self._cache[key] = getattr(ctypes.CDLL(str(tmp.with_suffix(".so"))), name)
        self.fn = fn

    def __call__(self, grid, block, args, shared_mem=0):
        for a in args:  # CuPy would pass a Python number with a type of its choosing: refuse
            assert type(a) in _CTYPES_OF, f"{self.name}: kernel argument {a!r} is not a NumPy scalar"
        self.launches.append((self.name, grid, block))
        self.fn(*(_CTYPES_OF[type(a)](a) for a in args))


class HostCupy:
    """NumPy with CuPy's ElementwiseKernel and RawKernel: what CudaKernels needs of its array
    module here."""

    ElementwiseKernel = HostElementwiseKernel
    RawKernel = HostRawKernel

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    if GXX is None:
        pytest.skip("g++ is not on PATH")
    HostElementwiseKernel.tmp = tmp_path_factory.mktemp("host_kernels")
    return ck.CudaKernels(HostCupy())


@pytest.fixture
def reference():
    from feedforward.backend.kernels import Kernels

    return Kernels(np)


@pytest.mark.parametrize("with_bias", [True, False])
def test_cuda_bias_unit_and_backward_match_the_reference(host_kernels, reference, with_bias):
    """issue 12: CudaKernels.bias_unit / unit_backward (the kernel specs and the arguments it passes
    them, run on the host) give the reference kernels' numbers for every unit of the registry."""
    rng = np.random.default_rng(3)
    z = (rng.standard_normal((6, 5)) * 3).astype(np.float64)
    z[0, :3] = (0.0, -0.0, 1e-300)
    b = rng.standard_normal(5) if with_bias else None
    g = rng.standard_normal((6, 5))
    for name, unit in all_units().items():
        got = host_kernels.bias_unit(z.copy(), b, unit)
        want = reference.bias_unit(z.copy(), b, unit)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, err_msg=name)
        for owned in (True, False):
            g_in = g.copy()
            got_g = host_kernels.unit_backward(g_in, want, unit, owned)
            assert (got_g is g_in) == owned
            np.testing.assert_allclose(got_g, reference.unit_backward(g.copy(), want, unit, False),
                                       rtol=1e-14, atol=0, err_msg=name)


@pytest.mark.parametrize("momentum, weight_decay, nesterov, dampening", [
    (0.0, 0.0, False, 0.0), (0.0, 0.01, False, 0.0), (0.9, 0.01, False, 0.1), (0.9, 0.0, True, 0.0),
])
def test_cuda_sgd_matches_the_reference_bit_for_bit(host_kernels, reference, momentum, weight_decay,
                                                     nesterov, dampening):
    """issue 12: CudaKernels.sgd_ (one kernel per parameter) returns the buffer and gives the
    reference's float32 bits over four steps, the first (buffer creation) included."""
    rng = np.random.default_rng(4)
    p1 = rng.standard_normal((9, 4)).astype(np.float32)
    p2 = p1.copy()
    b1 = b2 = None
    hyper = {"momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov, "dampening": dampening}
    for _ in range(4):
        g = rng.standard_normal(p1.shape).astype(np.float32)
        b1 = host_kernels.sgd_(p1, g, 0.05, buf=b1, **hyper)
        b2 = reference.sgd_(p2, g, 0.05, buf=b2, **hyper)
    np.testing.assert_array_equal(p1, p2)
    if momentum:
        np.testing.assert_array_equal(b1, b2)


@pytest.mark.parametrize("weight_decay, decoupled", [(0.0, False), (0.01, False), (0.01, True)])
def test_cuda_adam_matches_the_reference_bit_for_bit(host_kernels, reference, weight_decay, decoupled):
    """issue 12: CudaKernels.adam_ gives the reference's float32 bits over five steps with a host
    step count, and within 2 ulp with the step count in a device array."""
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((9, 4)).astype(np.float32)
    runs = {kind: (p0.copy(), np.zeros_like(p0), np.zeros_like(p0)) for kind in ("ref", "host", "device")}
    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay, "decoupled": decoupled}
    for t in range(1, 6):
        g = rng.standard_normal(p0.shape).astype(np.float32)
        reference.adam_(*runs["ref"][:1], g, *runs["ref"][1:], step=t, **hyper)
        host_kernels.adam_(*runs["host"][:1], g, *runs["host"][1:], step=t, **hyper)
        host_kernels.adam_(*runs["device"][:1], g, *runs["device"][1:], step=np.array([t]), **hyper)
    for i in range(3):  # p, m, v
        np.testing.assert_array_equal(runs["host"][i], runs["ref"][i])
        np.testing.assert_array_max_ulp(runs["device"][i], runs["ref"][i], maxulp=2)


def test_adam_refuses_a_host_step_count_while_capturing(host_kernels):
    """issue 12 (graph capture): a host step count would be frozen into the graph, so adam_ refuses
    it while capturing (the capture then falls back to the eager step) and takes a device one."""
    p, g, m, v = (np.ones((2, 2), np.float32) for _ in range(4))
    with host_kernels.planning(object(), capturing=True):
        with pytest.raises(ValueError, match="step as a one-element device array"):
            host_kernels.adam_(p, g, m, v, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, step=3)
        host_kernels.adam_(p, g, m, v, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, step=np.array([3]))
    assert host_kernels.capturing is False and host_kernels.planned is None


# --------------------------------------------- group updates: one launch for many parameters
# Sizes chosen so that a launch holds tensors of very different lengths (1 element to 2,400), a
# group of 20 needs two launches (16 + 4), and one is empty.
GROUP_SHAPES = [(7, 5), (5,), (40, 60), (1,), (3, 3), (0, 4), (13,), (2, 2, 2), (64,), (9, 11),
                (4,), (30, 2), (1, 1), (17,), (6, 6), (50,), (8, 3), (2,), (31,), (12, 12)]


@pytest.fixture
def group_kernels(host_kernels, monkeypatch):
    """The host CudaKernels with NumPy addresses standing in for device pointers."""
    monkeypatch.setattr(ck, "_address", lambda a: a.ctypes.data)
    monkeypatch.setattr(ck, "_device_id", lambda a: 0)
    monkeypatch.setattr(ck, "_current_device", lambda xp: 0)
    HostRawKernel.launches.clear()
    return host_kernels


def _group(rng, dtype=np.float32, shapes=GROUP_SHAPES):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def _copies(arrays):
    return [a.copy() for a in arrays]


@pytest.mark.parametrize("momentum, weight_decay, nesterov, dampening", [
    (0.0, 0.0, False, 0.0), (0.0, 0.01, False, 0.0), (0.9, 0.01, False, 0.1), (0.9, 0.0, True, 0.0),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_group_equals_the_per_parameter_kernels_bit_for_bit(group_kernels, reference, momentum,
                                                                weight_decay, nesterov, dampening, dtype):
    """issue 12 (fused optimizer updates): CudaKernels.sgd_group_ (the generated group source run on
    the host) gives the bits of one sgd_ kernel per parameter and of the reference, over four steps
    of 20 parameters of different sizes: two launches a step (16 + 4 tensors), none on the first
    momentum step (the buffers are made then, as sgd_ makes them)."""
    rng = np.random.default_rng(6)
    p_group = _group(rng, dtype)
    p_single, p_ref = _copies(p_group), _copies(p_group)
    b_group = b_single = b_ref = None
    hyper = {"momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov, "dampening": dampening}
    for step in range(4):
        grads = _group(rng, dtype)
        HostRawKernel.launches.clear()
        b_group = group_kernels.sgd_group_(p_group, grads, 0.05, bufs=b_group, **hyper)
        first = momentum and step == 0
        assert len(HostRawKernel.launches) == (0 if first else 2)
        b_single = [group_kernels.sgd_(p, g, 0.05, buf=b, **hyper)
                    for p, g, b in zip(p_single, grads, b_single or [None] * len(grads))]
        b_ref = reference.sgd_group_(p_ref, grads, 0.05, bufs=b_ref, **hyper)
    for i in range(len(p_group)):
        np.testing.assert_array_equal(p_group[i], p_single[i], err_msg=f"parameter {i}")
        np.testing.assert_array_equal(p_group[i], p_ref[i], err_msg=f"parameter {i}")
        if momentum:
            np.testing.assert_array_equal(b_group[i], b_single[i])


@pytest.mark.parametrize("weight_decay, decoupled", [(0.0, False), (0.01, False), (0.01, True)])
@pytest.mark.parametrize("device_step", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_group_equals_the_per_parameter_kernels_bit_for_bit(group_kernels, reference, weight_decay,
                                                                 decoupled, device_step, dtype):
    """issue 12 (fused optimizer updates): CudaKernels.adam_group_ gives the bits of one adam_
    kernel per parameter over five steps of 20 parameters, in two launches a step. The step counts
    differ between parameters (as when one had no gradient for a while), so each tensor gets its
    own bias corrections (host steps) or its own step array (device steps); with host steps the
    result is also the reference's, bit for bit."""
    rng = np.random.default_rng(7)
    p0 = _group(rng, dtype)
    runs = {kind: (_copies(p0), [np.zeros_like(p) for p in p0], [np.zeros_like(p) for p in p0])
            for kind in ("group", "single", "ref")}
    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay,
             "decoupled": decoupled}
    offsets = [i % 3 for i in range(len(p0))]
    for t in range(1, 6):
        grads = _group(rng, dtype)
        host_steps = [t + o for o in offsets]
        steps = [np.array([s], np.int64) for s in host_steps] if device_step else host_steps
        HostRawKernel.launches.clear()
        group_kernels.adam_group_(*runs["group"][:1], grads, *runs["group"][1:], steps=steps, **hyper)
        assert len(HostRawKernel.launches) == 2
        for p, g, m, v, step in zip(*runs["single"][:1], grads, *runs["single"][1:], steps):
            group_kernels.adam_(p, g, m, v, step=step, **hyper)
        reference.adam_group_(*runs["ref"][:1], grads, *runs["ref"][1:], steps=host_steps, **hyper)
    for kind in ("single",) + (() if device_step else ("ref",)):
        for i in range(3):  # p, m, v
            for a, b in zip(runs["group"][i], runs[kind][i]):
                np.testing.assert_array_equal(a, b, err_msg=kind)


def test_group_falls_back_per_parameter_where_the_kernel_cannot_go(group_kernels, reference):
    """issue 12: a broadcast gradient, a non-contiguous gradient (a transposed view) and a parameter
    of another dtype take the per-parameter path; the rest of the group is still one launch, and
    every parameter gets the reference's numbers."""
    rng = np.random.default_rng(8)
    params = [rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 6)).astype(np.float32),
              rng.standard_normal((4, 3)).astype(np.float32),
              rng.standard_normal(7).astype(np.float64), rng.standard_normal(9).astype(np.float32)]
    grads = [rng.standard_normal((5, 3)).astype(np.float32),
             rng.standard_normal((6, 4)).astype(np.float32).T,  # not C-contiguous
             rng.standard_normal(3).astype(np.float32),  # broadcast over the rows
             rng.standard_normal(7), rng.standard_normal(9).astype(np.float32)]
    want = _copies(params)
    for p, g in zip(want, grads):
        reference.sgd_(p, g, 0.1)
    group_kernels.sgd_group_(params, grads, 0.1)
    assert [name for name, *_ in HostRawKernel.launches] == ["ff_sgd_group16"]
    for got, expected in zip(params, want):
        np.testing.assert_array_equal(got, expected)


def test_adam_group_refuses_host_steps_while_capturing(group_kernels):
    """issue 12 (graph capture): as adam_, the group update refuses a host step count during
    capture (it would be frozen into the graph) before launching anything."""
    p, g, m, v = (np.ones((2, 2), np.float32) for _ in range(4))
    hyper = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    with group_kernels.planning(object(), capturing=True):
        with pytest.raises(ValueError, match="step as a one-element device array"):
            group_kernels.adam_group_([p, p.copy()], [g, g], [m, m.copy()], [v, v.copy()],
                                      steps=[np.array([1]), 1], **hyper)
        assert HostRawKernel.launches == []
        group_kernels.adam_group_([p], [g], [m], [v], steps=[np.array([1], np.int64)], **hyper)
    assert len(HostRawKernel.launches) == 1


# ------------------------------------------------- the capture sequence on a fake CuPy
class FakeGraph:
    def __init__(self, log):
        self.log = log

    def upload(self, stream):
        self.log.append("upload")

    def launch(self):
        self.log.append("launch")


class FakeStream:
    """Records what CuPy's capture API is asked to do; a capture records without running."""

    def __init__(self, log, non_blocking=False):
        self.log = log
        assert non_blocking  # the legacy default stream cannot be captured

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def begin_capture(self):
        self.log.append("begin_capture")

    def end_capture(self):
        self.log.append("end_capture")
        return FakeGraph(self.log)

    def synchronize(self):
        pass


def fake_backend(log):
    import contextlib
    import types

    cuda = types.SimpleNamespace(
        Stream=lambda non_blocking=False: FakeStream(log, non_blocking),
        MemoryPool=lambda: types.SimpleNamespace(malloc=None),
        using_allocator=lambda malloc: contextlib.nullcontext(),
        get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None),
    )
    xp = types.SimpleNamespace(cuda=cuda, dot=np.dot)
    return types.SimpleNamespace(xp=xp, kernels=ck.CudaKernels(xp))


def test_capture_without_nvmath_warns_and_returns_none(monkeypatch):
    """issue 12 (graph capture): no nvmath-python, no capture: None (the loop runs eagerly) and a
    warning that names what to install."""
    from feedforward.backend import cuda_graph

    monkeypatch.setattr(cuda_graph, "nvmath_available", lambda: False)
    monkeypatch.setattr(cuda_graph, "_WARNED", set())
    with pytest.warns(RuntimeWarning, match="pip install nvmath-python"):
        assert cuda_graph.capture(fake_backend([]), lambda: None) is None


def test_graph_step_warms_up_captures_once_then_replays(monkeypatch):
    """issue 12 (graph capture): call 1 runs the step eagerly with planned products, call 2 records
    it (products planned, capturing flag up) and launches the graph, later calls only launch."""
    from feedforward.backend import cuda_graph

    monkeypatch.setattr(cuda_graph, "nvmath_available", lambda: True)
    log = []
    backend = fake_backend(log)
    k = backend.kernels

    def step():
        log.append(("step", k.planned is not None, k.capturing))

    replay = cuda_graph.capture(backend, step)
    for _ in range(4):
        replay()
    assert log == [("step", True, False),
                   "begin_capture", ("step", True, True), "end_capture", "upload", "launch",
                   "launch", "launch"]
    assert k.planned is None and k.capturing is False


def test_a_failed_capture_warns_once_and_runs_eagerly(monkeypatch):
    """issue 12 (graph capture): a step that cannot be captured (here it raises while recording)
    ends the capture, warns once with the reason, and runs eagerly from then on."""
    from feedforward.backend import cuda_graph

    monkeypatch.setattr(cuda_graph, "nvmath_available", lambda: True)
    monkeypatch.setattr(cuda_graph, "_WARNED", set())
    log = []
    backend = fake_backend(log)

    def step():
        if backend.kernels.capturing:
            raise RuntimeError("cannot sync while capturing")
        log.append("eager")

    replay = cuda_graph.capture(backend, step)
    replay()  # the warm-up
    with pytest.warns(RuntimeWarning, match="cannot sync while capturing"):
        replay()
    replay()
    assert log == ["eager", "begin_capture", "end_capture", "eager", "eager"]
    assert replay.graph is None
