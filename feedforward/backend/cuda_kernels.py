"""The fused kernels of a training step on CUDA: one launch where the reference makes several.

:class:`CudaKernels` keeps the contract of :class:`~feedforward.backend.kernels.Kernels` (same
arguments, same results up to rounding) and replaces each method by CuPy kernels:

* ``bias_unit``: ``h = g(z + b)`` in one elementwise kernel per unit, built from the unit's CUDA
  expression (``UnitKernel.cuda_forward``, the only place the formula is spelled in CUDA);
* ``unit_backward``: ``g * g'(z)`` from the output ``y`` in one elementwise kernel;
* ``softmax_cross_entropy``: row max, exp-sum, loss and ``dz`` in one block per row, then one
  fixed-order reduction for the mean (no atomics: the same bits on every run);
* ``gemm``: cuBLAS (``cupy.cublas.gemm``); while a step is being captured as a CUDA graph it goes
  through nvmath-python's planned ``Matmul`` instead (:mod:`feedforward.backend.cuda_graph`), since
  CuPy refuses cuBLAS during stream capture;
* ``sgd_`` and ``adam_``: the whole update of one parameter in one elementwise kernel;
  ``sgd_group_`` and ``adam_group_`` (what the optimizers call): the same arithmetic for a whole
  parameter group in ONE launch per :data:`GROUP_SIZE` tensors (PyTorch's fused/foreach Adam).

The CUDA sources are plain strings built by the functions below, so ``tests/test_cuda_sources.py``
compiles every one of them with ``nvcc`` on a machine without a GPU.
"""

from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

import numpy as np

from .kernels import Kernels

__all__ = [
    "GROUP_SIZE",
    "SOFTMAX_CE_SOURCE",
    "CudaKernels",
    "ElementwiseSpec",
    "adam_spec",
    "group_layout",
    "group_update_source",
    "sgd_spec",
    "softmax_ce_names",
    "unit_backward_spec",
    "unit_forward_spec",
]


class ElementwiseSpec(NamedTuple):
    """The arguments of one ``cupy.ElementwiseKernel``: what it reads, writes and computes.

    ``T`` is the element type of the arrays; scalars declared ``T`` are cast to it by CuPy.
    """

    in_params: str
    out_params: str
    operation: str
    name: str
    preamble: str = ""


# ----------------------------------------------------------------------------- unit kernels
# Kernel-side names end in "_" so that no unit parameter (cuda_params) can shadow them; the unit's
# own expressions see exactly the names contract 1 gives them: z, g, y and their parameters.

def _param_decls(params) -> str:
    return "".join(f", T {name}" for name, _ in params)


def unit_forward_spec(expr: str, params=(), bias: bool = True) -> ElementwiseSpec:
    """``out_ = g(out_ + bias_)`` over an ``(n, units)`` array, ``bias_`` of shape ``(units,)``
    broadcast over the rows; ``expr`` is ``UnitKernel.cuda_forward`` (an expression in ``z``)."""
    names = [name for name, _ in params]
    head = "T bias_" if bias else ""
    in_params = (head + _param_decls(params)).lstrip(", ") or ""
    z = "out_ + bias_" if bias else "out_"
    op = f"const T z = {z};\nout_ = ({expr});"
    tag = "bias_" if bias else ""
    return ElementwiseSpec(in_params, "T out_", op, f"ff_{tag}unit_forward_{len(names)}")


def unit_backward_spec(expr: str, params=(), owned: bool = True) -> ElementwiseSpec:
    """``g * g'(z)`` from the output ``y``; written over ``g`` when ``owned`` (``g`` is then the
    kernel's output, read before it is written), else into a new array ``r_``.
    ``expr`` is ``UnitKernel.cuda_backward`` (an expression in ``g`` and ``y``)."""
    if owned:
        return ElementwiseSpec("T y" + _param_decls(params), "T g", f"g = ({expr});",
                               f"ff_unit_backward_owned_{len(params)}")
    return ElementwiseSpec("T g, T y" + _param_decls(params), "T r_", f"r_ = ({expr});",
                           f"ff_unit_backward_{len(params)}")


# ------------------------------------------------------------------------- optimizer updates
# Each follows the reference (backend/updates.py, optim/optimizers.py) operation for operation in
# the parameter's type T, so float32 gives float32 roundings as NumPy does; _OPTIONS keeps NVRTC
# from contracting a product and a sum into one fused multiply-add, which NumPy never does.

def sgd_spec(momentum: bool, weight_decay: bool, nesterov: bool) -> ElementwiseSpec:
    """``w <- w - lr d`` with ``d`` the (momentum) direction of ``g + weight_decay w``; the momentum
    buffer ``buf`` is updated in place: ``buf <- momentum buf + (1 - dampening) d``."""
    lines = ["T d = g;"]
    if weight_decay:
        lines.append("d = d + weight_decay * w;")
    if momentum:
        lines.append("buf = buf * momentum + one_minus_dampening * d;")
        lines.append("d = d + momentum * buf;" if nesterov else "d = buf;")
    lines.append("w = w - d * lr;")
    ins = ["T g", "T lr"]
    outs = ["T w"]
    if weight_decay:
        ins.append("T weight_decay")
    if momentum:
        ins += ["T momentum", "T one_minus_dampening"]
        outs.append("T buf")
    name = "ff_sgd" + "_m" * momentum + "_wd" * weight_decay + "_nesterov" * nesterov
    return ElementwiseSpec(", ".join(ins), ", ".join(outs), "\n".join(lines), name)


def adam_spec(weight_decay: bool, decoupled: bool, device_step: bool) -> ElementwiseSpec:
    """One Adam step of one parameter (``torch.optim.Adam``/``AdamW``), as the reference folds it::

        m <- m + (1 - beta1)(g - m);   v <- beta2 v + (1 - beta2) g^2
        w <- w - step_size m / (sqrt(v) + eps_c),
        c = sqrt(1 - beta2^t),  step_size = lr c / (1 - beta1^t),  eps_c = eps c

    The scalars come from the host in double and are cast to ``T`` once, as NumPy casts the
    reference's Python floats. With ``device_step`` the step ``t`` is read from a one-element
    device array (``raw S step``) and the scalars are computed in double in the kernel: a captured
    graph then replays with the current ``t``, not the one it was captured with.
    """
    ins = ["T g", "T one_minus_beta1", "T beta2", "T one_minus_beta2"]
    lines = ["T grad = g;"]
    if weight_decay and decoupled:
        ins.append("T decay")  # 1 - lr weight_decay (AdamW)
        lines.append("w = w * decay;")
    elif weight_decay:
        ins.append("T weight_decay")
        lines.append("grad = grad + weight_decay * w;")
    if device_step:
        ins += ["float64 lr_", "float64 beta1_", "float64 beta2_", "float64 eps_", "raw S step"]
        lines += [
            "const double t_ = (double)step[0];",
            "const double c_ = sqrt(1.0 - pow(beta2_, t_));",
            "const T step_size = T(lr_ * c_ / (1.0 - pow(beta1_, t_)));",
            "const T eps_c = T(eps_ * c_);",
        ]
    else:
        ins += ["T step_size", "T eps_c"]
    lines += [
        "m = m + (grad - m) * one_minus_beta1;",
        "v = v * beta2 + (grad * grad) * one_minus_beta2;",
        "w = w - (m / (sqrt(v) + eps_c)) * step_size;",
    ]
    name = "ff_adam" + "_wd" * weight_decay + "_decoupled" * (weight_decay and decoupled) \
        + "_devstep" * device_step
    return ElementwiseSpec(", ".join(ins), "T w, T m, T v", "\n".join(lines), name)


# ------------------------------------------------------------------ one launch per group
# A group update runs an update spec over up to GROUP_SIZE tensors at once. The tensors' elements
# form one index space 0 <= i < total (tensor j holds [end_{j-1}, end_j)); a grid-stride loop walks
# it and each element finds its tensor by comparing i with the cumulative ends: a chain of K
# tests on kernel arguments, all in registers. Pointers, ends and per-tensor scalars are kernel
# arguments passed by value (numpy.uint64 / int64 / T scalars): no pointer table is copied to the
# device per step, so a launch costs no transfer and no host synchronisation. Unused slots are
# null pointers with end = total, never selected. The element's body is the spec's operation
# text itself, with the inputs read into locals of type T and the outputs bound by reference as
# CuPy binds them in an ElementwiseKernel, so the numbers are the per-parameter kernel's, bit for bit.

GROUP_SIZE = 16  # tensors per launch: the kernel's parameters stay well under CUDA's 4 KiB

_GROUP_INPUTS = ("g",)  # the update specs' array inputs; their other inputs are scalars


class GroupSlot(NamedTuple):
    """One argument of a group kernel: ``kind`` is "in" (an input array, read into a local), "out"
    (an output array, bound by reference), "raw" (a pointer the body indexes itself) or "scalar";
    ``per_tensor``: one argument per tensor slot (else one shared by all)."""

    kind: str
    ctype: str
    name: str
    per_tensor: bool


def group_layout(spec: ElementwiseSpec, per_tensor_scalars=()) -> list[GroupSlot]:
    """The arguments of ``spec``'s group kernel in order (per-tensor ones first, then the shared
    scalars); ``per_tensor_scalars``: the scalars that differ from tensor to tensor (Adam's host
    bias corrections, ``step_size`` and ``eps_c``: each parameter has its own step count)."""
    slots, shared = [], []
    for decl in filter(None, (d.strip() for d in spec.in_params.split(","))):
        parts = decl.split()
        ctype = _C_TYPES.get(parts[-2], parts[-2])
        name = parts[-1]
        if parts[0] == "raw":
            slots.append(GroupSlot("raw", ctype, name, True))
        elif name in _GROUP_INPUTS:
            slots.append(GroupSlot("in", ctype, name, True))
        elif name in per_tensor_scalars:
            slots.append(GroupSlot("scalar", ctype, name, True))
        else:
            shared.append(GroupSlot("scalar", ctype, name, False))
    for decl in filter(None, (d.strip() for d in spec.out_params.split(","))):
        parts = decl.split()
        slots.append(GroupSlot("out", _C_TYPES.get(parts[-2], parts[-2]), parts[-1], True))
    return slots + shared


def group_kernel_name(spec: ElementwiseSpec, k: int) -> str:
    return f"{spec.name}_group{k}"


def group_update_source(spec: ElementwiseSpec, k: int, ctype: str, per_tensor_scalars=()) -> str:
    """The CUDA source of ``spec`` over up to ``k`` tensors in one launch, for element type
    ``ctype`` ("float" or "double"); kernel :func:`group_kernel_name`, arguments
    :func:`group_layout` with each per-tensor argument repeated ``k`` times (slots 0..k-1), then
    the ``k`` cumulative ends, then the shared scalars, then ``total`` (long long).

    Compiled for the host (a prelude defining ``__global__`` away and a 1x1 grid) the same source
    runs the loop serially: what ``tests/test_cuda_sources.py`` checks against the reference.
    """
    if k < 1:
        raise ValueError(f"a group kernel needs k >= 1 tensor slots, got {k}")
    layout = group_layout(spec, per_tensor_scalars)
    params = []
    for slot in layout:
        if not slot.per_tensor:
            continue
        decl = {"in": f"const T* ff_{slot.name}", "out": f"T* ff_{slot.name}",
                "raw": f"const {slot.ctype}* ff_{slot.name}", "scalar": f"{slot.ctype} ff_{slot.name}"}[slot.kind]
        params += [f"{decl}{j}" for j in range(k)]
    params += [f"long long ff_end{j}" for j in range(k)]
    params += [f"{slot.ctype} {slot.name}" for slot in layout if not slot.per_tensor]
    params.append("long long ff_total")

    per = [slot for slot in layout if slot.per_tensor]
    # Per slot kind: the local pointer (or value) picked for the element's tensor, and the name
    # the update's operation reads, bound to it.
    local = {"in": "const T* ff_{n}_;", "out": "T* ff_{n}_;", "raw": "const {c}* ff_{n}_;",
             "scalar": "{c} ff_{n}_;"}
    bind = {"in": "const T {n} = ff_{n}_[ff_k];", "out": "T& {n} = ff_{n}_[ff_k];",
            "raw": "const {c}* {n} = ff_{n}_;", "scalar": "const {c} {n} = ff_{n}_;"}
    locals_ = [local[slot.kind].format(n=slot.name, c=slot.ctype) for slot in per]
    branches = []
    for j in range(k):
        pick = " ".join(f"ff_{slot.name}_ = ff_{slot.name}{j};" for slot in per)
        offset = "ff_i" if j == 0 else f"ff_i - ff_end{j - 1}"
        test = "" if j == k - 1 else f"if (ff_i < ff_end{j}) "
        head = "" if j == 0 else "else "
        branches.append(f"{head}{test}{{ ff_k = {offset}; {pick} }}")
    binds = [bind[slot.kind].format(n=slot.name, c=slot.ctype) for slot in per]
    body = "\n".join("        " + line for line in
                     ["long long ff_k;", *locals_, *branches, *binds, *spec.operation.splitlines()])
    sep = ",\n    "
    return (f"typedef {ctype} T;\ntypedef long long S;\n"
            f'extern "C" __global__ void {group_kernel_name(spec, k)}(\n    {sep.join(params)}) {{\n'
            "    for (long long ff_i = blockIdx.x * (long long)blockDim.x + threadIdx.x; ff_i < ff_total;\n"
            "         ff_i += (long long)blockDim.x * gridDim.x) {\n"
            f"{body}\n    }}\n}}\n")


# ------------------------------------------------------------------- softmax cross-entropy
# One block per row i of z (n, C): m = max_j z_ij, s = sum_j e^(z_ij - m),
#   loss_i = log s - (z_i,label - m)            (= -log softmax(z_i)_label)
#   dz_ij  = (e^(z_ij - m) / s - [j == label]) * scale_i,  scale_i = w_i / denom (1 / n unweighted)
# then one block sums w_i loss_i over the rows in a fixed order and divides by denom. Tree
# reductions in shared memory, no atomics: the same bits on every run, captured or not.
SOFTMAX_CE_SOURCE = r"""
// NVRTC has no <cmath>: INFINITY and NAN are not defined there, so infinity is spelled in bits.
template <typename T> __device__ T ff_inf();
template <> __device__ float ff_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ double ff_inf<double>() { return __longlong_as_double(0x7ff0000000000000LL); }

template <typename T>
__device__ T ff_block_reduce(T v, T* shared, bool take_max) {
    const unsigned int tid = threadIdx.x;
    shared[tid] = v;
    __syncthreads();
    for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (tid < stride) {
            const T other = shared[tid + stride];
            shared[tid] = take_max ? (other > shared[tid] ? other : shared[tid]) : shared[tid] + other;
        }
        __syncthreads();
    }
    const T result = shared[0];
    __syncthreads();  // shared is reused by the next reduction
    return result;
}

// dynamic shared memory: blockDim.x elements of T (blockDim.x a power of two)
template <typename T, typename L>
__global__ void ff_softmax_ce_rows(const T* z, const L* labels, const T* weights, int weighted,
                                   const T* denom, T* loss_rows, T* dz, long long n, long long C) {
    extern __shared__ unsigned char shared_raw[];
    T* shared = reinterpret_cast<T*>(shared_raw);
    const long long i = blockIdx.x;
    if (i >= n) return;
    const T* zi = z + i * C;
    T* dzi = dz + i * C;
    const L label = labels[i];
    // NOTE: labels are checked once on the host before training; an out-of-range one here gives
    // a NaN loss (which the divergence check reports) instead of reading outside the row.
    const bool valid = label >= 0 && label < C;

    T m = -ff_inf<T>();
    for (long long j = threadIdx.x; j < C; j += blockDim.x) m = zi[j] > m ? zi[j] : m;
    m = ff_block_reduce<T>(m, shared, true);
    if (!(m > -ff_inf<T>())) m = T(0);  // an all -inf row: avoid inf - inf, as the reference does

    T s = T(0);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += exp(zi[j] - m);
    s = ff_block_reduce<T>(s, shared, false);

    const T scale = (weighted ? weights[i] : T(1)) / denom[0];
    for (long long j = threadIdx.x; j < C; j += blockDim.x) {
        const T p = exp(zi[j] - m) / s;
        dzi[j] = (p - (j == (long long)label ? T(1) : T(0))) * scale;
    }
    if (threadIdx.x == 0) loss_rows[i] = valid ? log(s) - (zi[label] - m) : ff_inf<T>() - ff_inf<T>();  // NaN
}

// One block: denom[0] = sum_i w_i (n when unweighted); the rows kernel reads it.
template <typename T>
__global__ void ff_weight_sum(const T* weights, int weighted, T* denom, long long n) {
    extern __shared__ unsigned char shared_raw[];
    T* shared = reinterpret_cast<T*>(shared_raw);
    T acc = T(0);
    for (long long i = threadIdx.x; i < n; i += blockDim.x) acc += weighted ? weights[i] : T(1);
    acc = ff_block_reduce<T>(acc, shared, false);
    if (threadIdx.x == 0) denom[0] = acc;
}

// One block: loss[0] = sum_i w_i loss_i / denom[0].
template <typename T>
__global__ void ff_weighted_mean(const T* loss_rows, const T* weights, int weighted, const T* denom,
                                 T* loss, long long n) {
    extern __shared__ unsigned char shared_raw[];
    T* shared = reinterpret_cast<T*>(shared_raw);
    T acc = T(0);
    for (long long i = threadIdx.x; i < n; i += blockDim.x)
        acc += weighted ? weights[i] * loss_rows[i] : loss_rows[i];
    acc = ff_block_reduce<T>(acc, shared, false);
    if (threadIdx.x == 0) loss[0] = acc / denom[0];
}
"""

# Every elementwise kernel: no fused multiply-add, so each operation rounds as NumPy's does.
_OPTIONS = ("--fmad=false",)

_C_TYPES = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long"}


def softmax_ce_names(dtype: str, label_dtype: str) -> tuple[str, str, str]:
    """The template instances (rows, weight sum, mean) for ``dtype`` and the labels' dtype."""
    t, lab = _C_TYPES[dtype], _C_TYPES[label_dtype]
    return (f"ff_softmax_ce_rows<{t}, {lab}>", f"ff_weight_sum<{t}>", f"ff_weighted_mean<{t}>")


_REDUCE_THREADS = 256  # one block for the sums over rows: n is a batch, a few thousand at most


def _row_threads(C: int) -> int:
    """Threads per row: a power of two, one warp for small C, at most 256."""
    t = 32
    while t < C and t < 256:
        t *= 2
    return t


_GROUP_THREADS = 256
_GROUP_MAX_BLOCKS = 1024  # the grid-stride loop covers the rest: about 4 blocks per SM on an H100


def _group_dtype(params):
    """The dtype of a group kernel for ``params``: the first one's, when a group kernel exists for
    it (float32, float64); None: every parameter takes the per-parameter kernel."""
    for p in params:
        return p.dtype if p.dtype.name in ("float32", "float64") else None
    return None


def _address(a) -> int:
    """The device address of ``a``'s first element (CuPy: ``a.data.ptr``, the view's offset included)."""
    return a.data.ptr


def _device_id(a) -> int:
    """The CUDA device holding ``a``."""
    return a.data.device_id


def _current_device(xp) -> int:
    """The current CUDA device: where a kernel launched now runs."""
    return xp.cuda.runtime.getDevice()


# -------------------------------------------------------------------------------- the kernels
class CudaKernels(Kernels):
    """The :class:`~feedforward.backend.kernels.Kernels` contract with fused CuPy kernels.

    Kernels are compiled on first use and cached (CuPy caches each compiled kernel per device and
    dtype, on disk too); the unit kernels are shared by every unit with the same expressions, its
    parameters being kernel arguments.
    """

    def __init__(self, xp):
        super().__init__(xp)
        self._elementwise: dict[ElementwiseSpec, object] = {}
        self._groups: dict[tuple, object] = {}  # (spec, per-tensor scalars, dtype) -> group RawKernel
        # (unit, variant) -> (kernel, parameter values): the hot path's one dictionary lookup
        self._units: dict[tuple, tuple] = {}
        self._cublas = None
        self._softmax_ce = None
        self._ones: dict[tuple, object] = {}  # (n, dtype) -> a (1, n) row of ones, for bias_grad
        # While a step is captured (or planned for capture): the planned products of
        # cuda_graph.PlannedMatmuls; None: cuBLAS.
        self.planned = None
        self.capturing = False

    def _kernel(self, spec: ElementwiseSpec):
        k = self._elementwise.get(spec)
        if k is None:
            k = self._elementwise[spec] = self.xp.ElementwiseKernel(
                spec.in_params, spec.out_params, spec.operation, spec.name, preamble=spec.preamble,
                no_return=True, options=_OPTIONS)
        return k

    # -- the layer chain
    def dot(self, a, b):
        """``a @ b`` through :meth:`gemm` (cuBLAS, or the planned product while capturing); a
        transposed view (F-ordered) is passed as its C-ordered base with the transpose flag."""
        ta = a.ndim == 2 and not a.flags.c_contiguous and a.flags.f_contiguous
        tb = b.ndim == 2 and not b.flags.c_contiguous and b.flags.f_contiguous
        return self.gemm(a.T if ta else a, b.T if tb else b, trans_a=ta, trans_b=tb)

    def gemm(self, a, b, *, trans_a: bool = False, trans_b: bool = False, out=None,
             alpha: float = 1.0, beta: float = 0.0):
        """``alpha op(a) op(b) + beta out`` with cuBLAS, or the planned cuBLASLt product while a
        step is being captured (:mod:`feedforward.backend.cuda_graph`)."""
        if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.kind != "f":
            return super().gemm(a, b, trans_a=trans_a, trans_b=trans_b, out=out, alpha=alpha, beta=beta)
        if out is None:
            m = a.shape[1] if trans_a else a.shape[0]
            n = b.shape[0] if trans_b else b.shape[1]
            out = self.xp.empty((m, n), dtype=a.dtype)  # C order, like the reference's result
            beta = 0.0
        if self.planned is not None:
            return self.planned.gemm(a, b, trans_a=trans_a, trans_b=trans_b, out=out, alpha=alpha, beta=beta)
        if self._cublas is None:
            from cupy import cublas

            self._cublas = cublas
        return self._cublas.gemm("T" if trans_a else "N", "T" if trans_b else "N", a, b, out=out,
                                 alpha=alpha, beta=beta)

    def bias_unit(self, z, bias, unit):
        """``g(z + b)`` over ``z`` in one kernel (``bias`` broadcast over the rows)."""
        if unit is None:
            if bias is not None:
                self.xp.add(z, bias, out=z)
            return z
        found = self._unit_kernel(unit, "bias" if bias is not None else "forward")
        if found is None:  # a unit with no CUDA expression: the reference, op by op
            return super().bias_unit(z, bias, unit)
        kernel, values = found
        if bias is None:
            kernel(*values, z)
        else:
            kernel(bias, *values, z)
        return z

    def unit_backward(self, g, y, unit, owned: bool):
        """``g * g'(z)`` from the output ``y`` in one kernel, over ``g`` when ``owned``."""
        found = self._unit_kernel(unit, "owned" if owned else "backward")
        if found is None:
            return super().unit_backward(g, y, unit, owned)
        kernel, values = found
        if owned:
            kernel(y, *values, g)
            return g
        r = self.xp.empty_like(g)
        kernel(g, y, *values, r)
        return r

    def _unit_kernel(self, unit, variant: str):
        """``(kernel, parameter values)`` of ``unit``'s forward ("bias", "forward") or backward
        ("owned", "backward") kernel, or ``None`` when the unit has no CUDA expression for it."""
        key = (unit, variant)
        found = self._units.get(key)
        if found is None and key not in self._units:
            backward = variant in ("owned", "backward")
            expr = getattr(unit, "cuda_backward" if backward else "cuda_forward", None)
            if expr is not None:
                params = tuple(unit.cuda_params)
                spec = (unit_backward_spec(expr, params, variant == "owned") if backward
                        else unit_forward_spec(expr, params, variant == "bias"))
                found = (self._kernel(spec), tuple(value for _, value in params))
            self._units[key] = found
        return found

    fold_update = True
    fuses_groups = True

    def weight_fold_(self, W, h, g, lr):
        """``W <- W - lr h^T g`` as ONE cuBLAS product (``alpha = -lr``, ``beta = 1``) (L-DEV-2)."""
        if W.ndim != 2 or W.dtype != g.dtype or not W.flags.c_contiguous:
            return super().weight_fold_(W, h, g, lr)
        return self.gemm(h, g, trans_a=True, out=W, alpha=-lr, beta=1.0)

    def bias_fold_(self, b, g, lr):
        """``b <- b - lr 1^T g`` as one product with the cached row of ones."""
        if b.dtype != g.dtype or not b.flags.c_contiguous:
            return super().bias_fold_(b, g, lr)
        key = (g.shape[0], g.dtype.str)
        ones = self._ones.get(key)
        if ones is None:
            ones = self._ones[key] = self.xp.ones((1, g.shape[0]), dtype=g.dtype)
        self.gemm(ones, g, out=b.reshape(1, -1), alpha=-lr, beta=1.0)
        return b

    def bias_grad(self, g):
        """``dL/db = 1^T g`` as a product with a cached row of ones (so a captured step plans it
        with the other products), shape ``(out,)``."""
        key = (g.shape[0], g.dtype.str)
        ones = self._ones.get(key)
        if ones is None:
            ones = self._ones[key] = self.xp.ones((1, g.shape[0]), dtype=g.dtype)
        return self.gemm(ones, g).reshape(g.shape[1])

    # -- the loss
    def softmax_cross_entropy(self, z, labels, weights=None):
        """``(loss, dz)``: ``loss`` the 0-d (weighted) mean of ``-log softmax(z)_label`` over the
        rows (``sum_i w_i l_i / sum_i w_i``; ``1/n`` unweighted), ``dz = d loss / d z`` (n, C)."""
        xp = self.xp
        if z.ndim != 2 or z.dtype.name not in ("float32", "float64") or \
                labels.dtype.name not in ("int32", "int64"):
            return super().softmax_cross_entropy(z, labels, weights)
        n, C = z.shape
        z = xp.ascontiguousarray(z)
        labels = xp.ascontiguousarray(labels)
        if weights is not None:
            weights = xp.ascontiguousarray(weights, dtype=z.dtype)
        if self._softmax_ce is None:
            names = [name for d in ("float32", "float64") for lab in ("int32", "int64")
                     for name in softmax_ce_names(d, lab)]
            self._softmax_ce = xp.RawModule(code=SOFTMAX_CE_SOURCE, options=("-std=c++17",) + _OPTIONS,
                                            name_expressions=sorted(set(names)))
        rows, wsum, mean = (self._softmax_ce.get_function(name)
                            for name in softmax_ce_names(z.dtype.name, labels.dtype.name))
        item = z.dtype.itemsize
        dz = xp.empty_like(z)
        loss_rows = xp.empty(n, dtype=z.dtype)
        loss = xp.empty((), dtype=z.dtype)
        denom = xp.empty(1, dtype=z.dtype)
        # A kernel argument cannot be a null pointer from Python: unweighted, the weights slot gets
        # a harmless array (never read) and the flag says so.
        weighted = np.int32(weights is not None)
        w = weights if weights is not None else denom
        n_, C_ = np.int64(n), np.int64(C)
        wsum((1,), (_REDUCE_THREADS,), (w, weighted, denom, n_), shared_mem=_REDUCE_THREADS * item)
        threads = _row_threads(C)
        if n:
            rows((n,), (threads,), (z, labels, w, weighted, denom, loss_rows, dz, n_, C_),
                 shared_mem=threads * item)
        mean((1,), (_REDUCE_THREADS,), (loss_rows, w, weighted, denom, loss, n_),
             shared_mem=_REDUCE_THREADS * item)
        return loss, dz

    # -- optimizer updates
    def sgd_(self, p, g, lr, *, momentum=0.0, buf=None, weight_decay=0.0, nesterov=False, dampening=0.0):
        """SGD on ``p`` in place in one kernel (``buf``, the momentum buffer, in place too); returns
        the buffer. The first momentum step (``buf`` None: the buffer is made) is the reference's."""
        if g.shape != p.shape or g.dtype != p.dtype or (momentum and buf is None):
            return super().sgd_(p, g, lr, momentum=momentum, buf=buf, weight_decay=weight_decay,
                                nesterov=nesterov, dampening=dampening)
        kernel = self._kernel(sgd_spec(bool(momentum), bool(weight_decay), bool(nesterov)))
        args = [g, lr]
        if weight_decay:
            args.append(weight_decay)
        if momentum:
            args += [momentum, 1 - dampening]
            kernel(*args, p, buf)
        else:
            kernel(*args, p)
        return buf

    def adam_(self, p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
        """Adam on ``p``, ``m`` and ``v`` in place in one kernel (the reference's numbers).

        ``step`` is the step number ``t`` (1 at the first update): a Python int, or a one-element
        device array read by the kernel (what a captured step needs: the host value would be
        frozen into the graph).
        """
        if g.shape != p.shape or g.dtype != p.dtype:
            return super().adam_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                                 weight_decay=weight_decay, decoupled=decoupled)
        device_step = isinstance(step, self.xp.ndarray)
        if self.capturing and not device_step:
            # A graph would replay this step's bias corrections forever after.
            raise ValueError("adam_ during graph capture needs step as a one-element device array "
                             f"(got {type(step).__name__} {step!r}): a host step count is frozen into the graph")
        decoupled = bool(weight_decay) and bool(decoupled)
        kernel = self._kernel(adam_spec(bool(weight_decay), decoupled, device_step))
        args = [g, 1 - beta1, beta2, 1 - beta2]
        if decoupled:
            args.append(1 - lr * weight_decay)
        elif weight_decay:
            args.append(weight_decay)
        if device_step:
            args += [float(lr), float(beta1), float(beta2), float(eps), step]
        else:
            c = math.sqrt(1 - beta2**step)
            args += [lr * c / (1 - beta1**step), eps * c]
        kernel(*args, p, m, v)

    # -- optimizer updates, one launch per parameter group
    def sgd_group_(self, params, grads, lr, *, momentum=0.0, bufs=None, weight_decay=0.0, nesterov=False,
                   dampening=0.0):
        """:meth:`sgd_` on a group of parameters in one launch per :data:`GROUP_SIZE` tensors;
        returns the momentum buffers. Parameters the fused kernel cannot take (first momentum
        step, another dtype, a broadcast or non-contiguous array) take :meth:`sgd_` one by one."""
        bufs = [None] * len(params) if bufs is None else list(bufs)
        fused, dtype, device = [], _group_dtype(params), _current_device(self.xp)
        for i, (p, g) in enumerate(zip(params, grads)):
            arrays = (g, p, bufs[i]) if momentum else (g, p)
            if (momentum and bufs[i] is None) or not self._fusable(dtype, device, arrays):
                bufs[i] = self.sgd_(p, g, lr, momentum=momentum, buf=bufs[i], weight_decay=weight_decay,
                                    nesterov=nesterov, dampening=dampening)
            elif p.size:
                fused.append({"g": g, "w": p, "buf": bufs[i]})
        if fused:
            spec = sgd_spec(bool(momentum), bool(weight_decay), bool(nesterov))
            shared = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                      "one_minus_dampening": 1 - dampening}
            self._launch_group(spec, (), fused, shared, dtype)
        return bufs

    def adam_group_(self, params, grads, ms, vs, *, lr, beta1, beta2, eps, steps, weight_decay=0.0,
                    decoupled=False):
        """:meth:`adam_` on a group of parameters in one launch per :data:`GROUP_SIZE` tensors.

        ``steps``: each parameter's ``t``, Python ints (the bias corrections are then per-tensor
        kernel arguments, computed on the host as :meth:`adam_` does) or one-element int64 device
        arrays (read by the kernel: a captured graph replays with the current ``t``). Parameters
        the fused kernel cannot take, and a group mixing the two kinds of steps, take
        :meth:`adam_` one by one.
        """
        xp = self.xp
        device = [isinstance(t, xp.ndarray) for t in steps]
        if self.capturing and not all(device):
            t = steps[device.index(False)]
            raise ValueError("adam_ during graph capture needs step as a one-element device array "
                             f"(got {type(t).__name__} {t!r}): a host step count is frozen into the graph")
        device_step = all(device)
        mixed = any(device) and not device_step
        decoupled = bool(weight_decay) and bool(decoupled)
        fused, dtype, device = [], _group_dtype(params), _current_device(xp)
        for p, g, m, v, t in zip(params, grads, ms, vs, steps):
            step_ok = not device_step or (t.dtype == np.int64 and t.size >= 1 and _device_id(t) == device)
            if mixed or not step_ok or not self._fusable(dtype, device, (g, p, m, v)):
                self.adam_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=t,
                           weight_decay=weight_decay, decoupled=decoupled)
                continue
            if not p.size:
                continue
            tensor = {"g": g, "w": p, "m": m, "v": v}
            if device_step:
                tensor["step"] = t
            else:
                c = math.sqrt(1 - beta2**t)
                tensor["step_size"], tensor["eps_c"] = lr * c / (1 - beta1**t), eps * c
            fused.append(tensor)
        if fused:
            spec = adam_spec(bool(weight_decay), decoupled, device_step)
            shared = {"one_minus_beta1": 1 - beta1, "beta2": beta2, "one_minus_beta2": 1 - beta2,
                      "decay": 1 - lr * weight_decay, "weight_decay": weight_decay,
                      "lr_": float(lr), "beta1_": float(beta1), "beta2_": float(beta2), "eps_": float(eps)}
            self._launch_group(spec, () if device_step else ("step_size", "eps_c"), fused, shared, dtype)

    def _fusable(self, dtype, device, arrays) -> bool:
        """Whether ``arrays`` (gradient, parameter, state) can be one tensor of a group kernel: all
        of the parameter's shape and the group's dtype, C-contiguous (one flat index walks them all
        alike) and on the current device (where the kernel runs, as the per-parameter ones do)."""
        if dtype is None:
            return False
        p = arrays[1]
        for a in arrays:
            if not isinstance(a, self.xp.ndarray) or a.shape != p.shape or a.dtype != dtype or \
                    not a.flags.c_contiguous or _device_id(a) != device:
                return False
        return True

    def _launch_group(self, spec: ElementwiseSpec, per_tensor_scalars, tensors: list, shared: dict, dtype):
        """Run ``spec``'s group kernel over ``tensors`` (dicts: slot name -> array or scalar), one
        launch per :data:`GROUP_SIZE` of them.

        NOTE on graph capture: the launch bakes the arrays' addresses into the graph, as the
        per-parameter kernels do. That is sound because a captured step reads and writes fixed
        buffers (parameters, moments, gradients made during capture and kept alive), and the
        host scalars baked in are those of a capturable step (lr, on which the loop captures
        again; Adam's ``t`` must then be a device array, checked in :meth:`adam_group_`).
        """
        key = (spec, tuple(per_tensor_scalars), dtype.name)
        kernel = self._groups.get(key)
        if kernel is None:
            source = group_update_source(spec, GROUP_SIZE, _C_TYPES[dtype.name], per_tensor_scalars)
            kernel = self._groups[key] = self.xp.RawKernel(source, group_kernel_name(spec, GROUP_SIZE),
                                                           options=_OPTIONS)
        layout = group_layout(spec, per_tensor_scalars)
        scalar = {"T": dtype.type, "float": np.float32, "double": np.float64, "long long": np.int64}
        for start in range(0, len(tensors), GROUP_SIZE):
            chunk = tensors[start:start + GROUP_SIZE]
            pad = GROUP_SIZE - len(chunk)
            ends = np.cumsum([t["w"].size for t in chunk], dtype=np.int64)
            total = int(ends[-1])
            args = []
            for slot in layout:
                if not slot.per_tensor:
                    continue
                if slot.kind == "scalar":
                    cast = scalar[slot.ctype]
                    args += [cast(t[slot.name]) for t in chunk] + [cast(0)] * pad
                else:  # an address, by value: no pointer table on the device
                    args += [np.uint64(_address(t[slot.name])) for t in chunk] + [np.uint64(0)] * pad
            args += [np.int64(e) for e in ends] + [np.int64(total)] * pad
            args += [scalar[slot.ctype](shared[slot.name]) for slot in layout if not slot.per_tensor]
            args.append(np.int64(total))
            blocks = min(-(-total // _GROUP_THREADS), _GROUP_MAX_BLOCKS)
            kernel((blocks,), (_GROUP_THREADS,), tuple(args))

    # -- capture
    @contextlib.contextmanager
    def planning(self, plans, capturing: bool = False):
        """Route :meth:`gemm` through ``plans`` (a ``cuda_graph.PlannedMatmuls``) inside the block;
        ``capturing``: a graph is being recorded (host values are frozen into it)."""
        before = self.planned, self.capturing
        self.planned, self.capturing = plans, capturing
        try:
            yield plans
        finally:
            self.planned, self.capturing = before
