"""The communicator of a data-parallel run: an mpi4py communicator and the collectives training needs.

Every rank runs the same program on its own shard of the data. Training stays in step
because every decision is taken on values that are identical on every rank:

* the weights start equal: :meth:`Communicator.broadcast_params` copies rank 0's into every
  rank, in one ``Bcast`` of one packed buffer (Horovod's ``broadcast_parameters``);
* each update's gradient is the sum of the ranks' shares, in ONE ``Allreduce`` of a packed
  buffer holding every parameter's gradient and a few scalars (the loss, the weight sum, a
  stop flag): :class:`PackedAllreduce`, not one call per parameter;
* the epoch-end values (``J(w)``, ``||grad J||``, metrics, finite checks, stop requests) are
  reduced too, so early stopping, the divergence rule and the checkpoints decide alike.

Open MPI returns the same bits on every rank from an ``Allreduce`` (each element is combined
by one rank, then distributed); the tests check that the weights stay bit-identical across
ranks after 20 epochs.

``mpi4py`` is imported only when a communicator is wrapped: NumPy stays the only runtime
dependency (``pip install "feedforward[mpi]"`` brings mpi4py and Open MPI).
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from .failure import Watchdog, abort_on_error

__all__ = ["Communicator", "as_communicator", "world", "PackedAllreduce", "MPI_HINT"]

MPI_HINT = 'data-parallel training needs mpi4py and an MPI library: pip install "feedforward[mpi]"'

# What an mpi4py communicator has that training uses (duck-typed: a subclass or a wrapper works).
_NEEDED = ("Get_rank", "Get_size", "Allreduce", "Bcast", "allgather", "bcast", "Abort")


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(MPI_HINT) from exc
    return MPI


class Communicator:
    """An mpi4py communicator with the collectives of data-parallel training.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        ``MPI.COMM_WORLD`` or any intracommunicator; every rank of it trains.
    timeout : float, optional
        Seconds a rank may wait in one collective before it aborts the whole run with an
        error naming the collective (:class:`~feedforward.distributed.failure.Watchdog`).
        ``None`` (default): no limit. A rank that dies is already detected by Open MPI's
        launcher, which ends the job; the timeout is for a rank that hangs (a deadlock in
        user code, a launcher that does not watch its processes).

    Attributes
    ----------
    rank, size : int
    is_root : bool
        ``rank == 0``: the rank that prints, plots and writes checkpoints and models.
    """

    def __init__(self, comm, timeout=None):
        missing = [name for name in _NEEDED if not callable(getattr(comm, name, None))]
        if missing:
            raise TypeError(
                f"comm must be an mpi4py communicator (e.g. mpi4py.MPI.COMM_WORLD) or an "
                f"ff.distributed.Communicator, got {type(comm).__name__} (no {missing[0]})"
            )
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
                raise ValueError(f"timeout must be a number of seconds > 0 or None, got {timeout!r}")
        self.MPI = _mpi()
        self.comm = comm
        self.rank = int(comm.Get_rank())
        self.size = int(comm.Get_size())
        self.is_root = self.rank == 0
        self.timeout = None if timeout is None else float(timeout)
        self._watchdog = Watchdog(self, self.timeout) if self.timeout is not None else None

    def __repr__(self):
        return f"Communicator(rank={self.rank}, size={self.size}, timeout={self.timeout})"

    # ------------------------------------------------------------ plumbing
    def _waiting(self, what: str):
        """Context of one collective: watched by the watchdog when there is a timeout."""
        return self._watchdog.watch(what) if self._watchdog is not None else contextlib.nullcontext()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (``MPI_Abort``)."""
        self.comm.Abort(code)

    # ----------------------------------------------------------- collectives
    def allreduce_(self, buf: np.ndarray, op: str = "sum", what: str = "Allreduce") -> np.ndarray:
        """Reduce ``buf`` in place across the ranks (``op``: ``"sum"``, ``"max"`` or ``"min"``)."""
        MPI = self.MPI
        with self._waiting(what):
            self.comm.Allreduce(MPI.IN_PLACE, buf, op={"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op])
        return buf

    def allgather(self, obj, what: str = "allgather") -> list:
        """Every rank's ``obj`` (pickled), in rank order."""
        with self._waiting(what):
            return self.comm.allgather(obj)

    def bcast(self, obj, what: str = "bcast"):
        """Rank 0's ``obj`` (pickled) on every rank."""
        with self._waiting(what):
            return self.comm.bcast(obj, root=0)

    def any(self, flag: bool, what: str = "a stop request") -> bool:
        """True on every rank if ``flag`` is true on any."""
        return bool(self.allreduce_(np.array([1.0 if flag else 0.0]), "max", what)[0] > 0)

    def sum(self, values, what: str = "a sum") -> np.ndarray:
        """The float64 sums of ``values`` over the ranks."""
        return self.allreduce_(np.array(values, dtype=np.float64).reshape(-1), "sum", what)

    def max(self, values, what: str = "a maximum") -> np.ndarray:
        return self.allreduce_(np.array(values, dtype=np.float64).reshape(-1), "max", what)

    # -------------------------------------------------------------- weights
    def broadcast_params(self, params) -> None:
        """Copy rank 0's parameter values into every rank's ``params`` (one ``Bcast``)."""
        datas = [p.data for p in params]
        shapes = self.allgather([(d.shape, d.dtype.str) for d in datas], "the parameter shapes")
        if any(s != shapes[0] for s in shapes):
            bad = next(r for r, s in enumerate(shapes) if s != shapes[0])
            raise ValueError(f"the model differs between ranks: rank {bad} has parameters "
                             f"{shapes[bad]}, rank 0 has {shapes[0]}; build the same model on every rank")
        buf = _pack([d for d in datas], _common_dtype(datas))
        with self._waiting("the broadcast of the initial weights"):
            self.comm.Bcast(buf, root=0)
        _unpack(buf, datas)

    def same_rng(self, rng: np.random.Generator) -> np.random.Generator:
        """``rng`` in rank 0's state on every rank (shuffling and splits must agree)."""
        state = self.bcast(rng.bit_generator.state, "the random generator's state")
        if state["bit_generator"] == type(rng.bit_generator).__name__:
            rng.bit_generator.state = state
            return rng
        bitgen = getattr(np.random, state["bit_generator"])()
        bitgen.state = state
        return np.random.Generator(bitgen)

    # ------------------------------------------------------ agreement, failure
    @contextlib.contextmanager
    def agree(self, what: str):
        """Run a block on every rank; if it raised on any, raise the same error on every rank.

        For the checks before training (data, options, files): each rank checks its own
        shard, then one ``allgather`` of the outcomes; no rank goes on to the first collective
        of training alone. The error names the rank where it happened.
        """
        failure = None
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
            failure = _described(exc)
        outcomes = self.allgather(failure, f"the check of {what}")
        for rank, outcome in enumerate(outcomes):
            if outcome is not None:
                where = f"rank {rank} of {self.size}: " if self.size > 1 else ""
                raise _rebuilt(outcome, where) from None

    def from_root(self, fn, *args, what: str = "a file read by rank 0"):
        """``fn(*args)`` run on rank 0 only, its result (or its error) on every rank."""
        result = failure = None
        if self.is_root:
            try:
                result = fn(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
                failure = _described(exc)
        result, failure = self.bcast((result, failure), what)
        if failure is not None:
            raise _rebuilt(failure, "") from None
        return result

    def failures_abort(self, what: str = "training"):
        """Context: an exception on this rank prints it and aborts every rank (no hang)."""
        return abort_on_error(self, what)


class PackedAllreduce:
    """One buffer for every parameter's gradient and ``n_scalars`` numbers: one ``Allreduce`` a step.

    :meth:`__call__` packs each ``p.grad`` times ``scale`` (zeros where a rank has none),
    reduces, and points each ``p.grad`` at its slice of the sum (no copy back). The
    buffer has the parameters' dtype (float64 when they differ): the bytes on the wire are
    the model's own size.
    """

    def __init__(self, comm: Communicator, params, n_scalars: int, dtype=None):
        self.comm, self.params = comm, list(params)
        datas = [p.data for p in self.params]
        self.dtype = np.dtype(dtype) if dtype is not None else _common_dtype(datas)
        self.sizes = [d.size for d in datas]
        self.n_grad = sum(self.sizes)
        self.n_scalars = n_scalars
        self._buf = np.empty(self.n_grad + n_scalars, dtype=self.dtype)
        self._spare = np.empty_like(self._buf)

    @property
    def nbytes(self) -> int:
        return self._buf.nbytes

    def __call__(self, scalars, scale: float = 1.0, what: str = "the gradient Allreduce") -> np.ndarray:
        """Reduce the gradients (times ``scale``) and ``scalars``; returns the reduced scalars (float64)."""
        # Two buffers in turn: the gradients handed out by the last call stay valid until the
        # optimizer is done with them, whatever the next pack writes.
        buf, self._spare = self._spare, self._buf
        self._buf = buf
        offset = 0
        for p, size in zip(self.params, self.sizes):
            out = buf[offset:offset + size]
            if p.grad is None:
                out.fill(0)
            elif scale == 1.0:
                out[...] = p.grad.reshape(-1)
            else:
                np.multiply(p.grad.reshape(-1), scale, out=out, casting="unsafe")
            offset += size
        buf[offset:] = scalars
        self.comm.allreduce_(buf, "sum", what)
        offset = 0
        for p, size in zip(self.params, self.sizes):
            g = buf[offset:offset + size].reshape(p.data.shape)
            p.grad = g if g.dtype == p.data.dtype else g.astype(p.data.dtype)
            offset += size
        return buf[offset:].astype(np.float64)


def _described(exc: Exception) -> tuple:
    """An exception as plain strings (its class need not be picklable): module, name, message."""
    return type(exc).__module__, type(exc).__qualname__, str(exc)


def _rebuilt(described: tuple, prefix: str) -> Exception:
    """The exception of :func:`_described`, with ``prefix`` before its message; a class that
    cannot be found or built again becomes a RuntimeError naming it."""
    module, name, message = described
    kind = sys.modules.get(module)
    for part in name.split("."):
        kind = getattr(kind, part, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(f"{prefix}{message}")
        except Exception:  # noqa: BLE001 - an exception class with another signature
            pass
    return RuntimeError(f"{prefix}{name}: {message}")


def _common_dtype(datas) -> np.dtype:
    dtypes = {d.dtype for d in datas}
    return dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float64)


def _pack(datas, dtype) -> np.ndarray:
    return np.concatenate([d.reshape(-1) for d in datas], dtype=dtype) if datas else np.empty(0, dtype)


def _unpack(buf, datas) -> None:
    offset = 0
    for d in datas:
        np.copyto(d, buf[offset:offset + d.size].reshape(d.shape), casting="unsafe")
        offset += d.size


def as_communicator(comm, name: str = "comm"):
    """``None``, an :class:`Communicator`, or an mpi4py communicator wrapped in one (checked)."""
    if comm is None or isinstance(comm, Communicator):
        return comm
    return Communicator(comm)


# Environment variables by which MPI launchers tell a process how many ranks there are.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_size() -> int:
    """The number of ranks an MPI launcher (mpiexec) started, from its environment; 1 if none."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def world(timeout=None):
    """``Communicator(MPI.COMM_WORLD)`` when launched by ``mpiexec -n K`` with K > 1, else None.

    Nothing is imported (and MPI is not initialised) in a plain one-process run; launched on
    K > 1 ranks without mpi4py, an ImportError says what to install.
    """
    if launched_size() <= 1:
        return None
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    return Communicator(comm, timeout=timeout) if comm.Get_size() > 1 else None
