"""Data-parallel training over MPI (L-DIST-1, L-DIST-2): ``ff.fit(..., comm=comm)``.

Run the same script on K processes with ``mpiexec -n K python train.py``; each process
(rank) passes its own shard of the data and the communicator::

    from mpi4py import MPI
    import feedforward as ff
    from feedforward.distributed import load_npy_shard

    comm = MPI.COMM_WORLD
    X = load_npy_shard("X.npy", comm)          # this rank's rows only (memory-mapped read)
    y = load_npy_shard("y.npy", comm)
    net = ff.nn.MLP([784, 1024, 1024, 10], output="categorical", rng=0)
    history = ff.fit(net, X, y, mode="minibatch", batch_size=1024, comm=comm, rng=0)
    if comm.rank == 0:
        ff.save(net, "model.safetensors")

or from the command line, ``mpiexec -n K feedforward train ...`` (each rank reads its shard
of a CSV file). Installation: ``pip install "feedforward[mpi]"`` (mpi4py and Open MPI from
the package registry; as root, ``mpiexec --allow-run-as-root``).

* :mod:`.comm`: :class:`Communicator`, the collectives: the weights broadcast from rank 0,
  one packed Allreduce of every gradient per update, the reductions of ``J(w)``,
  ``||grad J||`` and the metrics, the agreement on errors and decisions.
* :mod:`.training`: what the training pipeline calls with ``comm``, and what a run on K
  ranks equals in one process (batch mode: single-process training on all the data;
  minibatch: the same with the same ``rng``; stochastic: the same, and not faster).
* :mod:`.shard`: a rank's rows of a ``.npy`` or CSV file, without reading the rest.
* :mod:`.failure`: a failed rank (an exception, a kill, a hang with ``timeout``) ends every
  rank with an error, never a hang.

No GPU backend yet: with CuPy arrays (issue 12, not built) the gradients would be reduced
with NCCL or a CUDA-aware MPI; today every rank computes with NumPy on its CPU.
"""

from .comm import MPI_HINT, Communicator, PackedAllreduce, launched_size, world
from .failure import Watchdog, abort_on_error, install_excepthook
from .shard import load_csv_shard, load_npy_shard, shard_range

__all__ = [
    "Communicator",
    "PackedAllreduce",
    "world",
    "launched_size",
    "MPI_HINT",
    "shard_range",
    "load_npy_shard",
    "load_csv_shard",
    "abort_on_error",
    "install_excepthook",
    "Watchdog",
]
