"""``mpiexec -n 2 feedforward train``: data-parallel from the command line (issue 13, L-DIST-1).

Each rank reads its byte range of the CSV file; rank 0 prints and writes. The test split is
the one a single process draws, so ``feedforward evaluate`` (one process) on the written
model finds the accuracy the run printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_distributed_failure import BOUND, launch

from feedforward.cli.record import META_KEY


def _csv(path, n=300, bad_row=None):
    r = np.random.default_rng(0)
    X = r.standard_normal((n, 4))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    with open(path, "w") as f:
        f.write("a,b,c,d,label\n")
        for i, (row, label) in enumerate(zip(X, labels)):
            values = [f"{v:.5f}" for v in row]
            if i == bad_row:
                values[2] = "n/a"
            f.write(",".join(values) + f",{label}\n")
    return path


RUN_CLI = """
import sys
from feedforward.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_mpiexec_train_writes_one_model_that_evaluates_the_same(tmp_path):
    _csv(tmp_path / "d.csv")
    code, out, _ = launch(RUN_CLI, tmp_path, args=["train", "--data", "d.csv", "--epochs", "5",
                                                         "--out", "out", "--no-progress", "--no-plots"])
    assert code == 0, out
    assert out.count("test accuracy:") == 1 and "on 2 MPI ranks (data-parallel)" in out, out
    assert "240 training, 60 test examples" in out
    printed = out.split("test accuracy: ")[1].split()[0]

    from safetensors import safe_open

    with safe_open(str(tmp_path / "out" / "model.safetensors"), "np") as f:
        record = json.loads(f.metadata()[META_KEY])
    assert record["mpi_ranks"] == 2 and record["target_names"] == ["no", "yes"]
    again = subprocess.run([sys.executable, "-m", "feedforward", "evaluate", str(tmp_path / "out" / "model.safetensors"),
                            "--data", str(tmp_path / "d.csv"), "--json"], capture_output=True, text=True,
                           timeout=BOUND, cwd=Path(__file__).parents[1])
    assert again.returncode == 0, again.stderr
    assert f"{json.loads(again.stdout)['accuracy']:.4f}" == printed


def test_mpiexec_train_bad_row_in_one_shard_is_a_clear_error_on_every_rank(tmp_path):
    """A missing value in rank 1's half of the file: every rank exits with status 2 and says where."""
    _csv(tmp_path / "d.csv", bad_row=250)
    code, out, seconds = launch(RUN_CLI, tmp_path, args=["train", "--data", "d.csv", "--out", "out",
                                                         "--no-progress", "--no-plots"])
    assert code == 2, out
    assert out.count("feedforward: error: rank 1 of 2:") == 2, out
    assert "missing value in column 'c' at line starting at byte" in out
    assert not (tmp_path / "out" / "model.safetensors").exists()
    assert seconds < BOUND


@pytest.mark.parametrize("n", [3])
def test_mpiexec_train_on_a_bundled_data_set(tmp_path, n):
    code, out, _ = launch(RUN_CLI, tmp_path, n=n, args=["train", "--data", "digits", "--epochs", "2",
                                                        "--layers", "16", "--out", "out", "--no-progress",
                                                        "--no-plots"])
    assert code == 0, out
    assert "on 3 MPI ranks" in out and "1437 training, 360 test examples" in out
    assert (tmp_path / "out" / "metrics.json").exists()
