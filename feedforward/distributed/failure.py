"""When one rank fails, every rank stops, with an error, within a bounded time; never a hang.

A collective (``Allreduce``, ``Bcast``) waits for every rank. If one rank leaves the run,
the others would wait forever. Three ways a rank leaves, and what ends the job:

``killed`` (SIGKILL, out of memory, a crashed node)
    Open MPI's launcher (``prterun``, behind ``mpiexec``) watches its processes: when one
    dies it kills the others and exits non-zero ("prterun noticed that process rank 1 ...
    exited on signal 9 (Killed)"), within a second or two here (tests/distributed).
an exception on one rank only (a full disk on rank 0, a bug in a callback)
    :func:`abort_on_error` wraps the training loop: it prints the rank, the error and its
    traceback to stderr and calls ``MPI_Abort``, which ends every rank (exit status 1).
    Without it the failed rank's ``MPI_Finalize`` and the others' ``Allreduce`` wait for
    each other forever (checked here with mpi4py 4 and Open MPI 5). For a user's own
    script, ``python -m mpi4py script.py`` (or :func:`install_excepthook`) does the same
    for errors outside training.
a rank that hangs (a deadlock in user code; a launcher that does not watch its processes)
    :class:`Watchdog`, with ``Communicator(comm, timeout=seconds)``: a daemon thread aborts
    the job when this rank has waited in one collective longer than ``timeout``.

Errors that every rank finds before training (bad data on one shard, a checkpoint that
does not fit) are not aborts: :meth:`Communicator.agree` raises the same exception on every
rank, naming the rank where it happened, and the caller can catch it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import traceback

__all__ = ["abort_on_error", "install_excepthook", "Watchdog"]


def _report(comm, what: str, exc: BaseException) -> None:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    head = (f"feedforward: rank {comm.rank} of {comm.size} failed during {what}: "
            f"{type(exc).__name__}: {exc}; aborting every rank")
    try:
        sys.stderr.write("".join(lines) + head + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stderr must not stop the abort
        pass


@contextlib.contextmanager
def abort_on_error(comm, what: str = "training"):
    """Run a block; if it raises on this rank, report the error and ``MPI_Abort`` every rank.

    Used around the training loop, where the other ranks are (or soon will be) blocked in a
    collective that this rank will never join. ``KeyboardInterrupt`` aborts too.
    """
    try:
        yield
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the other ranks must not hang
        if comm.size == 1:
            raise  # nobody waits for a single rank: the caller gets the exception as usual
        _report(comm, what, exc)
        comm.abort(1)
        raise  # pragma: no cover - MPI_Abort does not return


def install_excepthook(comm) -> None:
    """Make an uncaught exception on any rank abort the whole job (as ``python -m mpi4py`` does)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if comm.size > 1:
            try:
                sys.stderr.write(f"feedforward: rank {comm.rank} of {comm.size} ended with an uncaught "
                                 f"{kind.__name__}; aborting every rank\n")
                sys.stderr.flush()
            finally:
                comm.abort(1)

    sys.excepthook = hook


class Watchdog:
    """Abort the job when this rank waits in one collective longer than ``timeout`` seconds.

    :meth:`watch` marks the start and end of each wait; a daemon thread (started on the first
    wait) checks once a second. mpi4py releases the GIL inside blocking MPI calls and
    initialises MPI with ``MPI_THREAD_MULTIPLE``, so the thread runs and may call
    ``MPI_Abort`` while the main thread is blocked (checked with Open MPI 5).
    """

    def __init__(self, comm, timeout: float, poll: float = 1.0):
        self.comm, self.timeout, self.poll = comm, float(timeout), min(float(poll), float(timeout) / 4)
        self._since = None
        self._what = ""
        self._thread = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def watch(self, what: str):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="feedforward-watchdog", daemon=True)
            self._thread.start()
        with self._lock:
            self._since, self._what = time.monotonic(), what
        try:
            yield
        finally:
            with self._lock:
                self._since = None

    def _run(self) -> None:
        while True:
            time.sleep(self.poll)
            with self._lock:
                since, what = self._since, self._what
            if since is not None and time.monotonic() - since > self.timeout:
                comm = self.comm
                try:
                    sys.stderr.write(
                        f"feedforward: rank {comm.rank} of {comm.size} waited more than {self.timeout:g} s "
                        f"in {what} (another rank has stopped or hangs); aborting every rank\n")
                    sys.stderr.flush()
                finally:
                    comm.abort(1)
                return
