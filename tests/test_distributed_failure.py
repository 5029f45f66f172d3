"""A rank that fails ends the whole run with an error within a bound, never a hang (issue 13, L-DIST-2).

Each test launches ``mpiexec -n 2 python script.py`` (Open MPI from ``feedforward[mpi]``) in
which one rank fails in the middle of training, and asserts a non-zero exit with a message
that says what happened, well within 60 s (here: a few seconds). The bound is a guard
against a hang, not a speed measurement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BOUND = 60  # seconds: far above the few seconds these take; a hang would run into it


def mpiexec():
    pytest.importorskip("mpi4py", reason='needs mpi4py and Open MPI: pip install "feedforward[mpi]"')
    path = Path(sys.executable).parent / "mpiexec"
    found = str(path) if path.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip('needs mpiexec: pip install "feedforward[mpi]"')
    return found


def launch(script: str, tmp_path, n=2, args=()):
    """Run ``script`` on ``n`` ranks; returns (exit status, output, seconds)."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=str(Path(__file__).parents[1]))
    for name in list(env):  # a launcher of our own: not the one this test may run under
        if name.startswith(("OMPI_COMM_WORLD", "PMIX_", "PMI_")):
            del env[name]
    start = time.monotonic()
    try:
        done = subprocess.run([mpiexec(), "--oversubscribe", "-n", str(n), sys.executable, str(path), *args],
                              capture_output=True, text=True, timeout=BOUND + 30, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the run hung: still going after {BOUND + 30} s\n{exc.stdout}\n{exc.stderr}")
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


TRAIN = """
import os, signal, sys, time
import numpy as np
from mpi4py import MPI
import feedforward as ff
from feedforward.distributed import Communicator, shard_range

comm = MPI.COMM_WORLD
how = sys.argv[1]
r = np.random.default_rng(0)
X, y = r.standard_normal((400, 6)), r.integers(0, 3, 400)
lo, hi = shard_range(len(X), comm.rank, comm.size)

def fail(trainer, epoch, logs):
    if comm.rank == 1 and epoch == 2:
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "raise":
            raise RuntimeError("disk full on rank 1")
        if how == "hang":
            time.sleep(600)

wrapped = Communicator(comm, timeout=3) if how == "hang" else comm
net = ff.nn.MLP([6, 16, 3], output="categorical", rng=0)
ff.fit(net, X[lo:hi], y[lo:hi], max_epochs=1000, batch_size=20, comm=wrapped, rng=0,
       callbacks=[ff.training.LambdaCallback(on_epoch_end=fail)])
print("finished", comm.rank)
"""


def test_a_killed_rank_ends_the_run(tmp_path):
    """Rank 1 SIGKILLs itself in epoch 2: Open MPI's launcher ends rank 0 too, and says why."""
    code, out, seconds = launch(TRAIN, tmp_path, args=["kill"])
    assert code != 0, out
    assert "finished" not in out
    assert "signal 9" in out and "rank 1" in out, out
    assert seconds < BOUND


def test_an_exception_on_one_rank_aborts_every_rank(tmp_path):
    """A callback raising on rank 1 only: the error is printed with its rank and every rank ends."""
    code, out, seconds = launch(TRAIN, tmp_path, args=["raise"])
    assert code != 0, out
    assert "finished" not in out
    assert "rank 1 of 2 failed during training: RuntimeError: disk full on rank 1" in out, out
    assert seconds < BOUND


def test_a_hanging_rank_is_ended_by_the_timeout(tmp_path):
    """Rank 1 stops answering (sleeps); rank 0's watchdog aborts the job after timeout=3 s."""
    code, out, seconds = launch(TRAIN, tmp_path, args=["hang"])
    assert code != 0, out
    assert "rank 0 of 2 waited more than 3 s" in out, out
    assert seconds < BOUND
