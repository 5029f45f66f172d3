"""The CUDA backend: CuPy arrays, loaded on first use.

``pip install "feedforward[gpu]"`` installs CuPy. Without CuPy, or with CuPy but no usable GPU,
asking for ``"cuda"`` raises :class:`~feedforward.backend.DeviceUnavailable` saying which.
"""

from __future__ import annotations

import numpy as np

from .registry import Backend, DeviceUnavailable

__all__ = ["CUDA", "INSTALL"]

INSTALL = 'pip install "feedforward[gpu]"'


class CUDA(Backend):
    type = "cuda"

    def _load(self) -> None:
        try:
            import cupy
        except ImportError as e:
            raise DeviceUnavailable(
                f"device 'cuda' needs CuPy, which is not installed ({e}); install it with: {INSTALL}"
            ) from None
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDARuntimeError, or a missing driver library
            raise DeviceUnavailable(
                f"device 'cuda': CuPy is installed but cannot reach a CUDA GPU ({type(e).__name__}: {e}); "
                "check the NVIDIA driver (nvidia-smi) and that the CuPy wheel matches its CUDA version "
                f"({INSTALL} installs CuPy for CUDA 12)"
            ) from None
        if n < 1:
            raise DeviceUnavailable("device 'cuda': CuPy is installed but this machine has no CUDA GPU")
        self._count = n
        self.xp = cupy
        self.array_types = (cupy.ndarray,)

    def count(self) -> int:
        return self._count

    def asarray(self, a, index: int, dtype=None):
        cupy = self.xp
        if isinstance(a, cupy.ndarray) and a.device.id == index:
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        with cupy.cuda.Device(index):
            if isinstance(a, cupy.ndarray):  # another GPU: peer copy
                return cupy.array(a, dtype=dtype, copy=True)
            return cupy.asarray(np.asarray(a), dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return a.get()

    def index_of(self, a) -> int:
        return a.device.id

    def _make_kernels(self):
        from .cuda_kernels import CudaKernels

        return CudaKernels(self.load().xp)

    def capture(self, step):
        """``step`` captured as a CUDA graph (products through nvmath-python's cuBLASLt), or
        ``None`` when nvmath-python is missing or the capture fails (with one warning).
        ``step`` runs once eagerly first: see :func:`feedforward.backend.cuda_graph.capture`."""
        from .cuda_graph import capture

        return capture(self.load(), step)

    def synchronize(self, index: int | None = None) -> None:
        cupy = self.xp
        if index is None:
            cupy.cuda.get_current_stream().synchronize()
        else:
            with cupy.cuda.Device(index):
                cupy.cuda.get_current_stream().synchronize()
