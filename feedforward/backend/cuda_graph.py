"""Capture one training step as a CUDA graph and replay it (contract 3, the CUDA side).

A small network's step on a GPU is bound by kernel launches and Python, not arithmetic: replaying
the whole step (forward, loss, backward, update) as one CUDA graph removes both. Three traps, each
handled here:

* CuPy refuses every cuBLAS call during stream capture. The products go through nvmath-python's
  planned ``Matmul`` (cuBLASLt) instead, one plan per call site, bound to that call's arrays and
  re-pointed with ``reset_operands`` (:class:`PlannedMatmuls`); ``CudaKernels.gemm`` switches to it
  while capturing.
* A graph keeps the addresses it was captured with. Every array made during capture comes from a
  private memory pool (CuPy's default kind, ``cupy.cuda.MemoryPool``; with the asynchronous pool
  the graph's frees fail) that lives as long as the graph, so no later allocation reuses memory
  the graph still writes.
* The step is run once eagerly first, with the planned products: lazy state is created, kernels
  are compiled and the plans' workspaces allocated, outside the capture.

:func:`capture` returns ``None`` (after one warning) when nvmath-python is missing; the loop then
calls the step itself. A capture that fails falls back to the eager step, with one warning.
"""

from __future__ import annotations

import warnings

__all__ = ["GraphStep", "PlannedMatmuls", "capture", "nvmath_available"]

_WARNED: set = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def nvmath_available() -> bool:
    try:
        import nvmath.linalg.advanced  # noqa: F401
    except Exception:
        return False
    return True


class PlannedMatmuls:
    """``alpha op(a) op(b) + beta out`` through nvmath-python's cuBLASLt ``Matmul`` objects.

    One plan per call in the order the step makes them (the same every step), each bound in place
    to its ``out`` (``inplace=True``: no result is allocated) and re-pointed to the call's arrays
    before it runs. Products are in the inputs' precision: float32 with ``COMPUTE_32F``, no TF32.
    """

    def __init__(self, xp):
        self.xp = xp
        self._plans: list = []
        self._next = 0

    def rewind(self) -> None:
        """Start again at the first call site (before each run of the step)."""
        self._next = 0

    def gemm(self, a, b, *, trans_a, trans_b, out, alpha, beta):
        from nvmath.linalg.advanced import Matmul, MatmulComputeType

        a = a.T if trans_a else a
        b = b.T if trans_b else b
        key = (a.shape, a.strides, b.shape, b.strides, out.shape, out.strides, out.dtype.str,
               float(alpha), float(beta))
        stream = self.xp.cuda.get_current_stream()
        if self._next < len(self._plans) and self._plans[self._next][0] == key:
            mm = self._plans[self._next][1]
            mm.reset_operands(a=a, b=b, c=out, stream=stream)
        else:
            if self._next < len(self._plans):
                raise RuntimeError(
                    f"the step's product number {self._next} changed shape or scalars ({key} after "
                    f"{self._plans[self._next][0]}): a captured step must make the same products every call")
            compute = {"float32": MatmulComputeType.COMPUTE_32F,
                       "float64": MatmulComputeType.COMPUTE_64F}[out.dtype.name]
            try:
                mm = Matmul(a, b, c=out, alpha=alpha, beta=beta, stream=stream,
                            options={"inplace": True, "compute_type": compute, "blocking": "auto"})
                mm.plan(stream=stream)
            except Exception as e:  # a layout or dtype cuBLASLt does not take
                raise _PlanningError(f"{type(e).__name__}: {e}") from e
            self._plans.append((key, mm))
        self._next += 1
        mm.execute(stream=stream)
        return out

    def free(self) -> None:
        for _, mm in self._plans:
            mm.free()
        self._plans.clear()


class GraphStep:
    """``step`` replayed from a CUDA graph, captured on the second call.

    The loop fills its buffers before each call, so every call is a real step:

    1. the first runs ``step`` eagerly with the planned products (the warm-up: lazy state, kernel
       compiles, the plans and their workspaces);
    2. the second captures ``step`` on a side stream (recording runs nothing) and launches the graph;
    3. every later call launches the graph.

    When the capture fails (an operation that cannot be captured: a host sync, a cuBLAS call
    outside ``gemm``, Adam's step count on the host), one warning says why and ``step`` runs
    eagerly from then on. The graph's memory (a private pool) and plans live as long as this object.
    """

    def __init__(self, backend, step):
        self.backend = backend
        self.step = step
        self.plans = PlannedMatmuls(backend.xp)
        self.graph = None
        self.calls = 0
        self._pool = None
        self._eager = False

    def __call__(self) -> None:
        self.calls += 1
        if self.graph is not None:
            self.graph.launch()
        elif self._eager:
            self.step()
        elif self.calls == 1:
            self._warm_up()
        else:
            self._capture()
            if self.graph is not None:
                self.graph.launch()
            else:
                self.step()

    def _warm_up(self) -> None:
        kernels = self.backend.kernels
        self.plans.rewind()
        try:
            with kernels.planning(self.plans):
                self.step()
        except _PlanningError as e:
            self._give_up("warmup", f"the step's products cannot be planned ({e})")
            self.step()

    def _capture(self) -> None:
        cupy = self.backend.xp
        kernels = self.backend.kernels
        cupy.cuda.get_current_stream().synchronize()  # the loop's gather must be done
        stream = cupy.cuda.Stream(non_blocking=True)
        pool = cupy.cuda.MemoryPool()
        try:
            with stream, cupy.cuda.using_allocator(pool.malloc), kernels.planning(self.plans, capturing=True):
                self.plans.rewind()
                stream.begin_capture()
                try:
                    self.step()
                finally:
                    # end the capture even when the step failed, or the stream stays unusable
                    graph = stream.end_capture()
            graph.upload(stream)
            stream.synchronize()
        except Exception as e:
            self._give_up("capture", f"{type(e).__name__}: {e}")
            return
        self.graph, self._pool = graph, pool

    def _give_up(self, key: str, why: str) -> None:
        self._eager = True
        self.plans.free()
        _warn_once(key, f"CUDA graph capture of the training step failed ({why}); the step runs eagerly")


class _PlanningError(RuntimeError):
    """A product of the step could not be planned with nvmath-python."""


def capture(backend, step):
    """``step`` as a :class:`GraphStep` (captured on its second call), or ``None`` when
    nvmath-python, which the captured products need, is missing (one warning)."""
    if not nvmath_available():
        _warn_once("nvmath", "CUDA graph capture needs nvmath-python (pip install nvmath-python); "
                   "the step runs eagerly")
        return None
    return GraphStep(backend, step)
