"""Data-parallel training on K ranks equals its single-process equivalent (issue 13; L-DIST-1, L-DIST-2).

Every rank holds the whole (small, seeded) data set so that it can also run the
single-process reference; it trains on its own shard only. The shards are uneven on purpose
(rank r holds a share proportional to r + 1), so a wrong weighting by counts shows.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import feedforward as ff
from feedforward.distributed import load_csv_shard, load_npy_shard, shard_range

TOL = 1e-10


def _data(n=121, seed=0, d=5, classes=3):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5) * (classes - 2)
    return X, y


def _uneven(n, comm):
    """Rows of rank r: a share proportional to r + 1 (rank 0 the smallest)."""
    cuts = np.round(np.cumsum([0] + [r + 1 for r in range(comm.size)]) / sum(range(1, comm.size + 1)) * n)
    return int(cuts[comm.rank]), int(cuts[comm.rank + 1])


def _net(seed=1):
    return ff.nn.MLP([5, 8, 3], activation="tanh", output="categorical", rng=seed, dtype=np.float64)


def _max_diff(a, b):
    return max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), b.parameters()))


def _same_on_every_rank(comm, net, history):
    """The weights are bit-identical on every rank, and so is the history (times included)."""
    flat = np.concatenate([p.data.ravel() for p in net.parameters()])
    everyone = comm.allgather((flat.tobytes(), history.to_dict()))
    assert all(w == everyone[0][0] for w, _ in everyone), "the weights differ between ranks"
    assert all(h == everyone[0][1] for _, h in everyone), "the history differs between ranks"


def _fit_both(comm, mode, epochs=20, **options):
    options = {"optimizer": "sgd", **options}
    X, y = _data()
    lo, hi = _uneven(len(X), comm)
    net, ref = _net(), _net()
    h = ff.fit(net, X[lo:hi], y[lo:hi], mode=mode, max_epochs=epochs, lr=0.2, rng=3, comm=comm,
               **{k: (v[lo:hi] if k == "sample_weight" else v) for k, v in options.items()})
    h1 = ff.fit(ref, X, y, mode=mode, max_epochs=epochs, lr=0.2, rng=3, **options)
    return net, ref, h, h1


def test_batch_mode_equals_single_process_after_20_epochs(comm):
    """Algorithm 2 on K uneven shards = one process on all rows, to 1e-10 in float64 (issue 13)."""
    net, ref, h, h1 = _fit_both(comm, "batch", momentum=0.5)
    assert _max_diff(net, ref) < TOL
    np.testing.assert_allclose(h["train_loss"], h1["train_loss"], rtol=TOL)
    np.testing.assert_allclose(h["grad_norm"], h1["grad_norm"], rtol=1e-8)
    np.testing.assert_allclose(h["train_metric"], h1["train_metric"], rtol=TOL)
    assert h.epochs == 20
    _same_on_every_rank(comm, net, h)


def test_batch_mode_with_sample_weight_and_validation_fraction(comm):
    """Uneven shards weighted by their weight sums; the validation split drawn over all rows."""
    X, _ = _data()
    w = np.random.default_rng(5).uniform(0, 2, len(X))
    net, ref, h, h1 = _fit_both(comm, "batch", sample_weight=w, validation_fraction=0.25)
    assert _max_diff(net, ref) < TOL
    np.testing.assert_allclose(h["val_loss"], h1["val_loss"], rtol=TOL)
    np.testing.assert_allclose(h["val_metric"], h1["val_metric"], rtol=TOL)
    _same_on_every_rank(comm, net, h)


def test_minibatch_equals_single_process_with_the_same_rng(comm):
    """The global minibatch is the union of the ranks' parts of one shared permutation: the
    documented equivalent is single-process minibatch training with the same rng (issue 13)."""
    net, ref, h, h1 = _fit_both(comm, "minibatch", batch_size=16, optimizer="adam", lr_schedule="cosine")
    assert _max_diff(net, ref) < TOL
    np.testing.assert_allclose(h["batch_loss_mean"], h1["batch_loss_mean"], rtol=1e-9)
    assert h["n_updates"] == h1["n_updates"]
    _same_on_every_rank(comm, net, h)


def test_minibatch_weighted_with_clipping(comm):
    X, _ = _data()
    w = np.random.default_rng(6).uniform(0, 1, len(X))
    w[:40] = 0  # whole minibatches (and rank 0's shard) may weigh nothing
    net, ref, h, _ = _fit_both(comm, "minibatch", epochs=8, batch_size=8, sample_weight=w, clip_norm=0.5)
    assert _max_diff(net, ref) < TOL
    _same_on_every_rank(comm, net, h)


def test_stochastic_mode_equals_single_process(comm):
    """Stochastic mode on K ranks: the same draws of one pattern at a time as one process."""
    net, ref, h, _ = _fit_both(comm, "stochastic", epochs=2)
    assert _max_diff(net, ref) < TOL
    _same_on_every_rank(comm, net, h)


def test_early_stopping_stops_at_the_same_epoch_on_every_rank(comm):
    """Validation data sharded too; the stop epoch is the single-process one, on every rank."""
    r = np.random.default_rng(1)  # random labels: the validation loss soon stops improving
    X, y = r.standard_normal((121, 5)), r.integers(0, 3, 121)
    Xv, yv = r.standard_normal((60, 5)), r.integers(0, 3, 60)
    lo, hi = _uneven(len(X), comm)
    vlo, vhi = shard_range(len(Xv), comm.rank, comm.size)
    opts = dict(optimizer="sgd", mode="batch", lr=0.5, max_epochs=200, early_stopping=True, patience=3, rng=0)
    net, ref = _net(), _net()
    h = ff.fit(net, X[lo:hi], y[lo:hi], validation_data=(Xv[vlo:vhi], yv[vlo:vhi]), comm=comm, **opts)
    h1 = ff.fit(ref, X, y, validation_data=(Xv, yv), **opts)
    assert h1.stop_reason == "early_stopping" and h1.epochs < 200
    assert (h.stop_reason, h.epochs, h.best_epoch) == (h1.stop_reason, h1.epochs, h1.best_epoch)
    assert comm.allgather(h.epochs) == [h1.epochs] * comm.size
    assert _max_diff(net, ref) < TOL  # the best epoch's weights, restored
    _same_on_every_rank(comm, net, h)


def test_a_callback_stop_on_one_rank_stops_every_rank(comm):
    """on_batch_end asking to stop on the last rank only: every rank stops after that update."""
    X, y = _data()
    lo, hi = _uneven(len(X), comm)
    last = comm.size - 1

    def stop(trainer, batch, logs):
        return comm.rank == last and logs["epoch"] == 2 and batch == 3

    net = _net()
    h = ff.fit(net, X[lo:hi], y[lo:hi], optimizer="sgd",
               mode="minibatch", batch_size=10, max_epochs=5, rng=0, comm=comm,
               callbacks=[ff.training.LambdaCallback(on_batch_end=stop)])
    assert (h.stop_reason, h.epochs) == ("callback", 2)
    assert h["n_updates"][-1] == 4
    _same_on_every_rank(comm, net, h)


def test_divergence_is_detected_on_every_rank(comm):
    """A learning rate far too large: every rank stops with the single-process verdict (L-DIST-2)."""
    X, y = _data()
    lo, hi = _uneven(len(X), comm)
    nets = [ff.nn.MLP([5, 8, 3], activation="relu", output="categorical", rng=1, dtype=np.float64)
            for _ in range(2)]
    opts = dict(optimizer="sgd", lr=1e6, mode="batch", max_epochs=30, rng=0)
    with pytest.warns(ff.training.DivergenceWarning):
        h = ff.fit(nets[0], X[lo:hi] * 1e3, y[lo:hi], comm=comm, **opts)
    # One process also says the inputs look unscaled (issue 14; a shard's columns are not the set's).
    with pytest.warns(ff.training.UnscaledInputWarning), pytest.warns(ff.training.DivergenceWarning):
        h1 = ff.fit(nets[1], X * 1e3, y, **opts)
    assert (h.stop_reason, h.epochs) == (h1.stop_reason, h1.epochs) == ("diverged", 0)
    assert comm.allgather(h.epochs) == [0] * comm.size
    assert _max_diff(*nets) == 0  # both back at the initial weights


def test_resume_on_a_different_number_of_ranks(comm, shared_dir):
    """A run checkpointed on K ranks resumes on K - 1 ranks, and in one process, as if uninterrupted."""
    X, y = _data()
    opts = dict(mode="minibatch", batch_size=16, optimizer="adam", lr=0.05, rng=4, validation_fraction=0.2)
    ref = _net()
    h_ref = ff.fit(ref, X, y, max_epochs=12, **opts)

    lo, hi = shard_range(len(X), comm.rank, comm.size)
    path = os.path.join(shared_dir, "run.ckpt")
    first = _net()
    ff.fit(first, X[lo:hi], y[lo:hi], max_epochs=5, checkpoint_path=path, comm=comm, **opts)

    # K - 1 ranks (a communicator of one rank when K = 2) resume the same run.
    from mpi4py import MPI

    sub = comm.comm.Split(0 if comm.rank < comm.size - 1 else MPI.UNDEFINED, comm.rank)
    if sub != MPI.COMM_NULL:
        slo, shi = shard_range(len(X), sub.Get_rank(), sub.Get_size())
        net = _net(seed=9)  # other initial weights: the checkpoint's replace them
        h = ff.fit(net, X[slo:shi], y[slo:shi], max_epochs=12, resume_from=path, comm=sub, **opts)
        assert _max_diff(net, ref) < TOL
        np.testing.assert_allclose(h["val_loss"], h_ref["val_loss"], rtol=1e-9)
        sub.Free()
    # ... and one process, without comm, from the same checkpoint.
    if comm.is_root:
        alone = _net(seed=9)
        h = ff.fit(alone, X, y, max_epochs=12, resume_from=path, **opts)
        assert _max_diff(alone, ref) < TOL
        assert h.epochs == 12
    comm.any(False)


def test_an_error_in_one_shard_is_raised_on_every_rank(comm):
    """Bad data on the last rank only: every rank raises the same ValueError naming that rank."""
    X, y = _data()
    lo, hi = shard_range(len(X), comm.rank, comm.size)
    Xs = X[lo:hi].copy()
    if comm.rank == comm.size - 1:
        Xs[2, 1] = np.nan
    with pytest.raises(ValueError, match=f"rank {comm.size - 1} of {comm.size}: .*not finite|NaN"):
        ff.fit(_net(), Xs, y[lo:hi], optimizer="sgd", max_epochs=2, comm=comm)


def test_the_model_must_be_the_same_on_every_rank(comm):
    X, y = _data()
    lo, hi = shard_range(len(X), comm.rank, comm.size)
    width = 8 if comm.rank == 0 else 9
    net = ff.nn.MLP([5, width, 3], output="categorical", rng=0, dtype=np.float64)
    with pytest.raises(ValueError, match="the model differs between ranks"):
        ff.fit(net, X[lo:hi], y[lo:hi], optimizer="sgd", max_epochs=1, comm=comm)


def test_estimators_fit_with_comm(comm):
    """MLPClassifier.fit(X_r, y_r, comm=) equals the single-process fit on all rows."""
    from sklearn.exceptions import ConvergenceWarning

    from feedforward.estimators import MLPClassifier, MLPRegressor

    X, y = _data(n=150)
    lo, hi = _uneven(len(X), comm)
    kw = dict(hidden_layer_sizes=(7,), max_iter=15, batch_size=32, random_state=0, dtype="float64",
              learning_rate_init=0.01)
    with warnings.catch_warnings():  # ConvergenceWarning: max_iter reached, on both
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(**kw).fit(X[lo:hi], y[lo:hi], comm=comm)
        one = MLPClassifier(**kw).fit(X, y)
    assert list(clf.classes_) == list(one.classes_)
    for a, b in zip(clf.coefs_, one.coefs_):
        np.testing.assert_allclose(a, b, atol=TOL)
    np.testing.assert_allclose(clf.loss_curve_, one.loss_curve_, rtol=1e-9)

    t = X[:, 0] - 2 * X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(**kw).fit(X[lo:hi], t[lo:hi], comm=comm)
        one = MLPRegressor(**kw).fit(X, t)
    for a, b in zip(reg.coefs_, one.coefs_):
        np.testing.assert_allclose(a, b, atol=TOL)


def test_shards_of_npy_and_csv_files_make_up_the_whole(comm, shared_dir):
    """Each rank reads only its rows; in rank order they are the file's rows, with shared classes."""
    X, y = _data(n=57)
    if comm.is_root:
        np.save(os.path.join(shared_dir, "X.npy"), X)
        with open(os.path.join(shared_dir, "d.csv"), "w") as f:
            f.write("a,b,c,d,e,label\n")
            for row, label in zip(X, y):
                f.write(",".join(f"{v:.6f}" for v in row) + f",{['cat', 'dog', 'emu'][label]}\n")
    comm.any(False)
    mine = load_npy_shard(os.path.join(shared_dir, "X.npy"), comm)
    lo, hi = shard_range(len(X), comm.rank, comm.size)
    np.testing.assert_array_equal(mine, X[lo:hi])
    ds = load_csv_shard(os.path.join(shared_dir, "d.csv"), comm)
    assert ds.target_names == ["cat", "dog", "emu"]
    rows = comm.allgather((ds.X, ds.y))
    np.testing.assert_allclose(np.concatenate([r[0] for r in rows]), X, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([r[1] for r in rows]), y)
