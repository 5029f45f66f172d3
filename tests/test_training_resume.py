"""Checkpoints and resume (issue 10 audit): nothing silently replaced, bad paths refused up front.

The audit found a new ``lr`` silently replaced by the checkpoint's, ``max_epochs=2`` with an
epoch-3 checkpoint silently returning the 3-epoch model, and a ``checkpoint_path`` in a missing
or read-only folder reported only after every epoch had run. The rules tested here are those
of :mod:`feedforward.training.checkpoint` (also in the ``Trainer`` docstring).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import LambdaCallback
from helpers import blobs

BASE = dict(optimizer="sgd", lr=0.05, momentum=0.5, batch_size=16, rng=3)


def _net():
    return ff.nn.MLP([4, 8, 3], activation="tanh", output="categorical", rng=0)


@pytest.fixture
def saved(tmp_path):
    """A 3-epoch run's checkpoint, and the weights it holds."""
    X, y = blobs()
    path = tmp_path / "run.ckpt"
    net = _net()
    ff.fit(net, X, y, max_epochs=3, checkpoint_path=path, **BASE)
    return path, [p.data.copy() for p in net.parameters()]


@pytest.mark.parametrize(
    "change, shown",
    [
        ({"lr": 0.1}, "lr=0.05, this run has lr=0.1"),
        ({"momentum": 0.9}, "momentum=0.5, this run has momentum=0.9"),
        ({"batch_size": 8}, "batch_size=16, this run has batch_size=8"),
        ({"mode": "stochastic"}, "mode='minibatch', this run has mode='stochastic'"),
        ({"lr_schedule": "step"}, "lr_schedule='Constant', this run has lr_schedule='StepLR'"),
        ({"clip_norm": 1.0}, "clip_norm=None, this run has clip_norm=1.0"),
        ({"weight_decay": 1e-3}, "weight_decay=0.0, this run has weight_decay=0.001"),
        ({"optimizer": "adam", "momentum": 0.0}, "optimizer state is for SGD, this run's optimizer is Adam"),
    ],
)
def test_resuming_with_other_options_is_refused_and_changes_nothing(saved, change, shown):
    """A new lr (or any option that shapes the run) is refused, naming it and both values."""
    path, _ = saved
    X, y = blobs()
    net = _net()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=rf"resume_from=.*run\.ckpt.*{shown}"):
        ff.fit(net, X, y, max_epochs=5, resume_from=path, **{**BASE, **change})
    for p, w in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, w)


def test_max_epochs_below_the_checkpoints_epochs_is_refused(saved):
    path, _ = saved
    X, y = blobs()
    with pytest.raises(ValueError, match=r"completed 3 epochs, more than max_epochs=2; resume with max_epochs >= 3"):
        ff.fit(_net(), X, y, max_epochs=2, resume_from=path, **BASE)


def test_max_epochs_equal_to_the_checkpoints_epochs_returns_the_saved_run(saved):
    path, weights = saved
    X, y = blobs()
    net = _net()
    h = ff.fit(net, X, y, max_epochs=3, resume_from=path, **BASE)
    assert h.epochs == 3 and h.stop_reason == "max_epochs"
    for p, w in zip(net.parameters(), weights):
        np.testing.assert_array_equal(p.data, w)


def test_the_same_options_resume_and_continue(saved):
    path, _ = saved
    X, y = blobs()
    straight = _net()
    hs = ff.fit(straight, X, y, max_epochs=5, **BASE)
    resumed = _net()
    hr = ff.fit(resumed, X, y, max_epochs=5, resume_from=path, **BASE)
    assert hr.epochs == 5 and hr["train_loss"] == hs["train_loss"]
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_a_callers_generator_keeps_advancing_after_a_resume(saved):
    """The checkpoint's generator state goes into the caller's own Generator (no copy through JSON)."""
    path, _ = saved
    X, y = blobs()
    g = np.random.default_rng(123)
    trainer = ff.Trainer(_net(), max_epochs=4, **{**BASE, "rng": g})
    trainer.fit(X, y, resume_from=path)
    assert trainer.rng is g
    again = ff.Trainer(_net(), max_epochs=4, **BASE)
    again.fit(X, y, resume_from=path)
    assert g.random() == again.rng.random()  # both continued the saved stream equally


# ------------------------------------------------------------ the path, up front
def _counting():
    epochs = []
    return epochs, LambdaCallback(on_epoch_end=lambda t, e, logs: epochs.append(e))


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda tmp: tmp / "missing" / "ck.safetensors", "does not exist; create the folder first"),
        (lambda tmp: tmp / "file.txt" / "ck.safetensors", "is not a folder"),  # fails for root too
        (lambda tmp: tmp, "is a folder; give a file name in it"),
    ],
)
def test_an_unwritable_checkpoint_path_is_refused_before_the_first_epoch(tmp_path, where, message):
    (tmp_path / "file.txt").write_text("not a folder")
    path = where(tmp_path)
    epochs, counting = _counting()
    X, y = blobs()
    with pytest.raises(ValueError, match=rf"checkpoint_path='{path}'.*{message}"):
        ff.fit(_net(), X, y, optimizer="sgd", max_epochs=3, checkpoint_path=path, callbacks=[counting])
    assert epochs == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_the_first_epoch(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    epochs, counting = _counting()
    X, y = blobs()
    try:
        with pytest.raises(ValueError, match="cannot write in its folder"):
            ff.fit(_net(), X, y, optimizer="sgd",
                        max_epochs=3, checkpoint_path=folder / "ck.safetensors", callbacks=[counting])
    finally:
        folder.chmod(0o700)
    assert epochs == [] and list(folder.iterdir()) == []


def test_the_write_check_leaves_nothing_behind(tmp_path):
    X, y = blobs()
    ff.fit(_net(), X, y, optimizer="sgd", max_epochs=1, checkpoint_path=tmp_path / "ck.safetensors", rng=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors"]
