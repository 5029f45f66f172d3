"""The parts of data-parallel training that one process can check (issue 13; L-DIST-1, L-DIST-2).

Sharding helpers, the packed Allreduce (counted on a one-rank communicator), option checks,
the sharding-independent data fingerprint, and ``comm`` on one rank giving the result of
``comm=None``. The runs on several ranks are in ``tests/distributed`` (under mpiexec).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import blobs, write_csv
from sklearn.exceptions import ConvergenceWarning

import feedforward as ff
from feedforward.data import load_csv
from feedforward.distributed import Communicator, launched_size, load_npy_shard, shard_range, world
from feedforward.distributed.shard import _read_shard
from feedforward.distributed.training import _linear_sum, linear_fingerprint
from feedforward.training.data import Part

MPI = pytest.importorskip("mpi4py.MPI", reason='needs mpi4py: pip install "feedforward[mpi]"')


class Counting:
    """COMM_SELF, counting the Allreduce calls and the sizes of their buffers."""

    def __init__(self):
        self.comm, self.sizes = MPI.COMM_SELF, []

    def Allreduce(self, send, recv, op):
        self.sizes.append(np.asarray(recv).size)
        return self.comm.Allreduce(send, recv, op=op)

    def __getattr__(self, name):
        return getattr(self.comm, name)


def _net(seed=0, dtype=np.float64):
    return ff.nn.MLP([4, 6, 3], activation="tanh", output="categorical", rng=seed, dtype=dtype)


def _diff(a, b):
    return max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), b.parameters()))


# ------------------------------------------------------------------ shards
@pytest.mark.parametrize("n", [0, 1, 7, 10, 101])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_shard_range_partitions_the_rows(n, size):
    """The shards, in rank order, are the rows 0..n-1, as even as np.array_split."""
    ranges = [shard_range(n, r, size) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert [hi - lo for lo, hi in ranges] == [len(p) for p in np.array_split(np.arange(n), size)]


def test_shard_range_checks_its_arguments():
    with pytest.raises(ValueError, match="rank"):
        shard_range(10, 3, 3)
    with pytest.raises(TypeError, match="size"):
        shard_range(10, 0, 1.5)


def test_load_npy_shard_reads_each_ranks_rows(tmp_path, rng):
    X = rng.standard_normal((23, 3, 2)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    for size in (1, 2, 4):
        parts = [load_npy_shard(tmp_path / "X.npy", rank=r, size=size) for r in range(size)]
        np.testing.assert_array_equal(np.concatenate(parts), X)
        assert all(type(p) is np.ndarray for p in parts)  # copies in memory, not memory maps


def test_load_npy_shard_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_npy_shard(tmp_path / "missing.npy", rank=0, size=1)
    with pytest.raises(ValueError, match="directory"):
        load_npy_shard(tmp_path, rank=0, size=1)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a .npy file of numbers"):
        load_npy_shard(tmp_path / "obj.npy", rank=0, size=1)
    with pytest.raises(TypeError, match="comm, or both rank and size"):
        load_npy_shard(tmp_path / "obj.npy")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("header", [True, False])
def test_csv_byte_ranges_cover_every_row_once(tmp_path, rng, newline, header):
    """The rows whose first byte lies in rank r's byte range, over all ranks, are load_csv's rows."""
    X = np.round(rng.standard_normal((37, 3)), 4)
    lines = (["a,b,c,target"] if header else []) + [",".join(f"{v}" for v in row) + f",{i % 3}"
                                                     for i, row in enumerate(X)]
    lines.insert(len(lines) // 2, "")  # a blank line carries no data
    path = tmp_path / "d.csv"
    path.write_bytes(newline.join(lines).encode())  # no line break after the last row
    whole = load_csv(path)
    for size in (1, 2, 3, 7, 40):
        parts = [_read_shard(path, None, r, size) for r in range(size)]
        np.testing.assert_array_equal(np.concatenate([p[3] for p in parts]), whole.X)
        labels = [text for p in parts for _, text in p[4]]
        assert labels == [str(i % 3) for i in range(37)]


def test_csv_shard_never_parses_the_other_ranks_bytes(tmp_path):
    """A bad value in rank 1's half of the file is not rank 0's business: only its own range is read."""
    rows = [[i, i + 0.5, i % 2] for i in range(20)]
    rows[15][1] = "oops"
    path = write_csv(tmp_path / "d.csv", ["a", "b", "y"], rows)
    header, _, _, X, _ = _read_shard(path, None, 0, 2)
    assert len(X) < 15 and header == ["a", "b", "y"]
    with pytest.raises(ValueError, match="column 'b' is not numeric .*'oops' at line starting at byte"):
        _read_shard(path, None, 1, 2)


# ------------------------------------------------------------- one Allreduce
def test_one_packed_allreduce_per_update():
    """Every minibatch update is ONE Allreduce of a buffer holding all gradients and 3 scalars."""
    X, y = blobs(40)
    net = ff.nn.MLP([4, 6, 3], output="categorical", rng=0)
    n_params = sum(p.data.size for p in net.parameters())
    counting = Counting()
    h = ff.fit(net, X, y, optimizer="sgd", mode="minibatch", batch_size=10, max_epochs=1, comm=counting, rng=0,
               train_eval="loss")
    packed = [s for s in counting.sizes if s >= n_params]
    assert h["n_updates"] == [4]
    assert packed == [n_params + 3] * 4  # train_eval="loss": no gradient at the end of the epoch


def test_comm_on_one_rank_gives_the_result_of_comm_none():
    """The data-parallel path on one rank computes what the one-process path does."""
    X, y = blobs(60)
    w = np.random.default_rng(1).uniform(0, 1, 60)
    for opts in (dict(mode="batch", momentum=0.9), dict(mode="minibatch", batch_size=8, optimizer="adam"),
                 dict(mode="stochastic", max_epochs=2)):
        opts = {"optimizer": "sgd", "max_epochs": 6, "lr": 0.05, "rng": 2, "validation_fraction": 0.2, **opts}
        a, b = _net(), _net()
        ha = ff.fit(a, X, y, sample_weight=w, comm=MPI.COMM_SELF, **opts)
        hb = ff.fit(b, X, y, sample_weight=w, **opts)
        assert _diff(a, b) < 1e-12, opts
        np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=1e-12)


def test_estimator_fit_takes_comm():
    """comm on one rank: the fit of comm=None; with early_stopping the split is the trainer's
    (drawn over every rank's rows), recorded as usual."""
    from feedforward.estimators import MLPClassifier

    X, y = blobs(60)
    kw = dict(hidden_layer_sizes=(5,), max_iter=8, random_state=0, dtype="float64", batch_size=16,
              learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y, comm=MPI.COMM_SELF)
        b = MLPClassifier(**kw).fit(X, y)
        c = MLPClassifier(**kw, early_stopping=True, n_iter_no_change=2).fit(X, y, comm=MPI.COMM_SELF)
    assert list(a.classes_) == [0, 1, 2] and a.n_iter_ == b.n_iter_ == 8 and a.t_ == b.t_ == 480
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(wa, wb, atol=1e-12)
    assert len(c.validation_scores_) == c.n_iter_ >= 3
    with pytest.raises(TypeError, match="mpi4py communicator"):
        MLPClassifier(**kw).fit(X, y, comm="world")


# ------------------------------------------------------------------ checks
def test_comm_option_checks():
    X, y = blobs(30)
    with pytest.raises(TypeError, match=r"comm must be an mpi4py communicator .*got str"):
        ff.fit(_net(), X, y, optimizer="sgd", comm="world")
    with pytest.raises(ValueError, match="diagnostics=True is not available with comm"):
        ff.fit(_net(), X, y, optimizer="sgd", comm=MPI.COMM_SELF, diagnostics=True)
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        Communicator(MPI.COMM_SELF, timeout=0)


def test_agree_reraises_the_error_of_the_block():
    comm = Communicator(MPI.COMM_SELF)
    with pytest.raises(KeyError, match="missing"):
        with comm.agree("a check"):
            raise KeyError("missing")
    with comm.agree("a check that passes"):
        pass
    assert comm.from_root(lambda a: a + 1, 1) == 2
    with pytest.raises(ValueError, match="bad"):
        comm.from_root(lambda: (_ for _ in ()).throw(ValueError("bad")))


def test_world_is_none_outside_mpiexec(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert launched_size() == 1 and world() is None
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launched_size() == 4


# ------------------------------------------------------------- fingerprint
def test_linear_fingerprint_does_not_depend_on_the_sharding(rng):
    """Shards hashed with their offsets add up to the hash of the whole set, for any cut."""
    X = rng.standard_normal((50, 3)).astype(np.float32)
    whole = _linear_sum(X, 0, 0)
    for cuts in ([0, 50], [0, 17, 50], [0, 1, 2, 30, 50]):
        total = sum(_linear_sum(X[a:b], a, 0) for a, b in zip(cuts, cuts[1:])) % 2**64
        assert total == whole
    changed = X.copy()
    changed[20, 1] = np.nextafter(changed[20, 1], np.float32(np.inf))
    swapped = X[[1, 0, *range(2, 50)]]
    assert _linear_sum(changed, 0, 0) != whole and _linear_sum(swapped, 0, 0) != whole
    p = Part(X, np.arange(50) % 3, None)
    assert linear_fingerprint(p).startswith("lin64:") and linear_fingerprint(p) == linear_fingerprint(p)


def test_checkpoints_across_the_two_fingerprints(tmp_path):
    """A run with comm resumes without comm (lin64 checked in one process); a one-process
    checkpoint refuses comm with a message saying why (issue 13: resume on a different K)."""
    X, y = blobs(60)
    opts = dict(optimizer="sgd", mode="minibatch", batch_size=10, lr=0.05, rng=3)
    ref = _net()
    ff.fit(ref, X, y, max_epochs=6, **opts)
    ff.fit(_net(), X, y, max_epochs=3, checkpoint_path=tmp_path / "a.ckpt", comm=MPI.COMM_SELF, **opts)
    resumed = _net(seed=5)
    h = ff.fit(resumed, X, y, max_epochs=6, resume_from=tmp_path / "a.ckpt", **opts)
    assert h.epochs == 6 and _diff(resumed, ref) < 1e-12
    with pytest.raises(ValueError, match="on different|different training set"):
        ff.fit(_net(), X[:-1], y[:-1], max_epochs=6, resume_from=tmp_path / "a.ckpt", **opts)

    ff.fit(_net(), X, y, max_epochs=3, checkpoint_path=tmp_path / "b.ckpt", **opts)
    with pytest.raises(ValueError, match="written by a one-process run; .*resume it without comm"):
        ff.fit(_net(), X, y, max_epochs=6, resume_from=tmp_path / "b.ckpt", comm=MPI.COMM_SELF, **opts)
