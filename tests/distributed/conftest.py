"""Tests that run on several MPI ranks at once (issue 13, L-DIST-1, L-DIST-2).

Run them under MPI, every rank running the same pytest session::

    mpiexec -n 2 python -m pytest -q -p no:cacheprovider tests/distributed
    mpiexec -n 3 python -m pytest -q -p no:cacheprovider tests/distributed

(as root: ``mpiexec --allow-run-as-root --oversubscribe``). Under a plain ``pytest`` (one
process, ``make test``) every test here is skipped, without importing mpi4py: a single rank
would test nothing. Every rank runs the tests in the same order, so their collectives pair up;
the communicator has a timeout, so a test that leaves the ranks out of step aborts the run
instead of hanging it.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

from feedforward.distributed import launched_size

RANKS = launched_size()


def pytest_collection_modifyitems(config, items):
    if RANKS > 1:
        return
    skip = pytest.mark.skip(reason="needs several MPI ranks: mpiexec -n 2 python -m pytest tests/distributed "
                                   '(pip install "feedforward[mpi]")')
    for item in items:
        if item.path.parent.name == "distributed":
            item.add_marker(skip)


@pytest.fixture(scope="session")
def comm():
    """COMM_WORLD as a Communicator that aborts after 60 s in one collective (no hang)."""
    from mpi4py import MPI

    from feedforward.distributed import Communicator

    return Communicator(MPI.COMM_WORLD, timeout=60)


@pytest.fixture
def shared_dir(comm):
    """A folder every rank sees under the same name: made by rank 0, removed after the test."""
    path = comm.bcast(tempfile.mkdtemp(prefix="ff-dist-") if comm.is_root else None)
    yield path
    comm.any(False)  # every rank is done with it
    if comm.is_root:
        shutil.rmtree(path, ignore_errors=True)
