"""Elementwise work of large arrays on every core (NumPy releases the GIL inside its loops).

BLAS already spreads a matrix product over the cores; the elementwise work around it (bias and
unit, the unit's derivative, an optimizer's update) runs on one thread in plain NumPy. For
arrays of at least ``MIN_ELEMENTS`` values, :func:`map_rows` cuts them into one block of rows per
core and runs the same in-place NumPy code on each block in a thread pool; smaller arrays run
inline, so small networks pay nothing. ``FEEDFORWARD_NUM_THREADS`` (or ``OMP_NUM_THREADS``)
caps the threads, as it caps BLAS's.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["map_rows", "num_threads", "MIN_ELEMENTS"]

MIN_ELEMENTS = 1 << 16  # below this a thread hand-off costs more than the loop it saves
_pool: ThreadPoolExecutor | None = None
_threads: int | None = None


def num_threads() -> int:
    global _threads
    if _threads is None:
        env = os.environ.get("FEEDFORWARD_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        try:
            n = int(env) if env else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                      else os.cpu_count() or 1)
        except ValueError:
            n = os.cpu_count() or 1
        _threads = max(1, n)
    return _threads


def map_rows(fn, *arrays) -> None:
    """``fn(*blocks)`` on matching blocks of rows of ``arrays`` (same first dimension), in parallel.

    ``fn`` must write its results in place into the blocks (views) and return nothing; blocks are
    disjoint, so no two threads write the same element. 1-D arrays are cut the same way.
    """
    global _pool
    n = arrays[0].shape[0] if arrays[0].ndim else 1
    k = num_threads()
    if k == 1 or arrays[0].size < MIN_ELEMENTS or n < 2 * k:
        fn(*arrays)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="feedforward")
    bounds = [n * i // k for i in range(k + 1)]
    futures = [
        _pool.submit(fn, *(a[bounds[i]:bounds[i + 1]] for a in arrays)) for i in range(1, k)
    ]
    fn(*(a[bounds[0]:bounds[1]] for a in arrays))  # this thread takes the first block
    for f in futures:
        f.result()
