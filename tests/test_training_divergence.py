"""Divergence (issue 10 audit, L-SGD-5): the rule of feedforward.training.divergence, end to end.

The audit found three holes: Adam at lr=1e6 never flagged (a loss of 1e25, stop reason
"max_epochs"); with train_eval="batches" the end-of-epoch weights never checked; and weights
"restored" after a divergence whose float32 outputs were inf. Each test below fails on the
loop before issue 10.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import feedforward as ff
from feedforward.nn.activation import UNITS
from feedforward.training import DivergenceWarning, LambdaCallback
from feedforward.training.divergence import GROWTH_LIMIT, Guard, output_bound
from feedforward.training.evaluation import Evaluation, Evaluator
from helpers import blobs

TRAIN_EVAL = ["grad", "loss", "batches"]


def _regression(n=40, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 5)).astype(np.float32)
    y = (X @ r.standard_normal(5) * 30).astype(np.float32)
    return X, y


def _outputs(net, X):
    with ff.no_grad():
        return net(ff.Tensor(X)).data


# ------------------------------------------------------------ the audit's cases
@pytest.mark.parametrize("train_eval", TRAIN_EVAL)
@pytest.mark.parametrize("task", ["categorical", "gaussian"])
def test_adam_at_a_huge_learning_rate_is_flagged(task, train_eval):
    """Adam at lr=1e6: every value stays finite (a loss of 1e11..1e25) but the run has diverged."""
    X, y = blobs()
    sizes, target = ([4, 8, 3], y) if task == "categorical" else ([4, 8, 1], 2 * X[:, 0])
    net = ff.nn.MLP(sizes, activation="relu", output=task, rng=0)
    start = [p.data.copy() for p in net.parameters()]
    with pytest.warns(DivergenceWarning, match=r"diverged in epoch 1: the training loss .* is more than 1e\+06 times"):
        h = ff.fit(net, X, target, optimizer="adam", lr=1e6, max_epochs=20, rng=0, train_eval=train_eval)
    assert h.stop_reason == "diverged" and h.epochs == 0
    for p, w in zip(net.parameters(), start):  # no epoch passed: the initial weights
        np.testing.assert_array_equal(p.data, w)


@pytest.mark.parametrize("train_eval", TRAIN_EVAL)
@pytest.mark.parametrize("seed", range(4))
def test_restored_weights_give_finite_outputs(seed, train_eval):
    """MLPRegressor(solver="sgd", learning_rate_init=1e6) restored weights whose float32 outputs were inf."""
    X, y = _regression(seed=seed)
    net = ff.nn.MLP([5, 100, 1], activation="relu", output="gaussian", rng=seed)
    with pytest.warns(DivergenceWarning):
        h = ff.fit(net, X, y, optimizer="sgd", lr=1e6, batch_size=20, max_epochs=50, rng=seed, train_eval=train_eval)
    assert h.stop_reason == "diverged"
    assert np.isfinite(_outputs(net, X)).all()
    assert np.isfinite(net.predict(X)).all()


def _blow_up_at(epoch, factor, layer=-1, dtype=np.float32):
    """A callback that multiplies one weight matrix by ``factor`` after the last update of ``epoch``:
    every minibatch loss of that epoch is finite, only the end-of-epoch weights are wrong."""

    def on_batch_end(trainer, batch, logs):
        if logs["epoch"] == epoch and batch == 4:  # 5 minibatches of 16 on 80 rows
            trainer.model.linears[layer].weight.data *= dtype(factor)

    return LambdaCallback(on_batch_end=on_batch_end)


def _kept_weights():
    kept = []
    return kept, LambdaCallback(on_epoch_end=lambda t, e, logs: kept.append([p.data.copy() for p in t.params]))


@pytest.mark.parametrize("train_eval", TRAIN_EVAL)
def test_end_of_epoch_outputs_are_checked_whatever_train_eval(train_eval):
    """Weights finite (1e30 < 3.4e38), batch losses finite, outputs inf in float32: diverged."""
    X, y = _regression(n=80)
    net = ff.nn.MLP([5, 16, 16, 1], activation="relu", output="gaussian", rng=0)
    kept, keep = _kept_weights()
    # "grad" and "loss" see the infinite outputs in J(w) too; "batches" has only the outputs check.
    seen = "the model's outputs on the training data are no longer finite in float32"
    if train_eval != "batches":
        seen = f"({seen}|the training loss at the end of the epoch is (nan|inf))"
    with pytest.warns(DivergenceWarning, match=f"diverged in epoch 2: {seen}"):
        h = ff.fit(net, X, y, optimizer="sgd", lr=1e-3, batch_size=16, max_epochs=5, rng=0, train_eval=train_eval,
                   callbacks=[_blow_up_at(2, 1e30, layer=0), _blow_up_at(2, 1e30, layer=1), keep])
    assert h.stop_reason == "diverged" and h.epochs == 1
    for p, w in zip(net.parameters(), kept[-1]):
        np.testing.assert_array_equal(p.data, w)
    assert np.isfinite(_outputs(net, X)).all()


@pytest.mark.parametrize("train_eval", TRAIN_EVAL)
def test_a_loss_grown_a_millionfold_is_divergence_whatever_train_eval(train_eval):
    """Every value finite, J(w) up by 1e12. With "batches", J is the mean of the minibatch
    losses, so weights spoiled after an epoch's last update show in the next epoch."""
    X, y = _regression(n=80)
    net = ff.nn.MLP([5, 16, 1], activation="tanh", output="gaussian", rng=0)
    kept, keep = _kept_weights()
    seen = 4 if train_eval == "batches" else 3
    with pytest.warns(DivergenceWarning, match=f"diverged in epoch {seen}: the training loss .* is more than 1e"):
        h = ff.fit(net, X, y, optimizer="sgd", lr=1e-3, batch_size=16, max_epochs=6, rng=0, train_eval=train_eval,
                   callbacks=[_blow_up_at(3, 1e6), keep])
    assert h.stop_reason == "diverged" and h.epochs == seen - 1
    for p, w in zip(net.parameters(), kept[-1]):
        np.testing.assert_array_equal(p.data, w)


def test_the_warning_names_inputs_that_are_too_large():
    r = np.random.default_rng(0)
    X = (r.standard_normal((50, 3)) * 1e4).astype(np.float32)
    y = X[:, 0] / 1e4
    # Before training, ff.fit says the inputs look unscaled (issue 14); the divergence warning repeats it.
    with pytest.warns(ff.training.UnscaledInputWarning, match="column 0 has standard deviation"), \
            pytest.warns(DivergenceWarning, match=r"inputs are large \(max \|x\| = \d\.\d+e\+04\): standardise"):
        ff.fit(ff.nn.MLP([3, 8, 1], output="gaussian", rng=0), X, y, optimizer="sgd", lr=10.0, max_epochs=20, rng=0)


def test_a_healthy_run_is_never_flagged():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        for train_eval in TRAIN_EVAL:
            h = ff.fit(ff.nn.MLP([4, 8, 3], output="categorical", rng=0), X, y, optimizer="adam", lr=0.05,
                       max_epochs=30, rng=0, train_eval=train_eval)
            assert h.stop_reason == "max_epochs"


# ------------------------------------------------------------------ the rule
def _guard(X, y=None, first=None, output="gaussian"):
    from feedforward.training.data import Part

    net = ff.nn.MLP([X.shape[1], 3, 1], output=output, rng=0)
    y = np.zeros(len(X), np.float32) if y is None else y
    evaluator = Evaluator(net, net.output, net.parameters(), ["mse"], chunk_size=4096)
    return Guard(evaluator, Part(X, y, None), np.dtype(np.float32), net.output, 1, first)


def test_the_reference_is_the_larger_of_the_first_loss_and_an_uninformed_prediction():
    """Check 4 of the rule, exactly at its boundary. Targets of variance 2: the uninformed
    (mean) prediction's loss is 1. A pre-trained model (first loss 1e-6) that wanders up to 1e5
    has not diverged; a bad start (first loss 50) raises the reference."""
    X = np.zeros((4, 2), np.float32)
    y = np.array([-1.0, 1.0, 3.0, 5.0], np.float32) / np.sqrt(2.5)  # mean 2/sqrt(2.5), variance 2

    def problem(guard, loss):
        return guard.problem(Evaluation(loss, {}, outputs_finite=True), lambda: True)

    g = _guard(X, y, first=1e-6)
    assert g.reference() == pytest.approx(1.0, rel=1e-6)
    assert problem(g, 1e5) is None and problem(g, GROWTH_LIMIT * 0.9999) is None
    assert "more than 1e+06 times its reference 1 " in problem(g, GROWTH_LIMIT * 1.0001)
    g = _guard(X, y, first=50.0)
    assert g.reference() == 50.0 and problem(g, 4e7) is None and problem(g, 6e7) is not None
    g = _guard(X, y)
    g.first_loss(float("nan"))
    assert g.reference() == pytest.approx(1.0, rel=1e-6)
    g = _guard(X, y)
    g.first_loss(3.0)
    g.first_loss(5.0)  # only the run's first update counts
    assert g.reference() == 3.0
    g = _guard(X, first=0.0)  # a constant target, a perfect start: no reference, no check 4
    assert g.reference() == 0.0 and problem(g, 1e30) is None


def test_the_uninformed_loss_is_log_c_for_a_categorical_unit():
    from feedforward.training.data import Part
    from feedforward.training.divergence import uninformed_loss

    X, y = blobs()
    part = Part(X, y, np.linspace(0.5, 2, len(y)).astype(np.float32))
    assert uninformed_loss(ff.nn.Categorical(), part, 3) == pytest.approx(np.log(3), rel=1e-6)
    Y = np.c_[y == 0, y == 1].astype(np.float32)  # two Bernoulli labels: log 2 each
    assert uninformed_loss(ff.nn.Bernoulli(), Part(X, Y, None), 2) == pytest.approx(2 * np.log(2), rel=1e-6)


def test_the_bound_is_only_a_shortcut_the_outputs_decide():
    """A bound that overflows float32 (4e38) while the outputs cancel to exactly 0: not diverged.
    The same weights on inputs that do not cancel: diverged."""
    from feedforward.training.data import Part

    lin = ff.nn.Linear(2, 1, rng=0)
    lin.weight.data[:] = [[2e38], [-2e38]]
    lin.bias.data[:] = 0
    net = ff.nn.Sequential(lin)
    net.output = ff.nn.Gaussian()
    same = np.ones((3, 2), np.float32)
    assert output_bound(net, np.ones(2)) == np.inf  # 4e38: beyond float32's 3.4e38, no proof
    ev = Evaluation(0.5, {})  # outputs_finite=None: as train_eval="batches" leaves it
    for X, problem in ((same, None), (np.array([[1.0, -1.0]], np.float32), "no longer finite in float32")):
        evaluator = Evaluator(net, net.output, net.parameters(), ["mse"], chunk_size=4096)
        guard = Guard(evaluator, Part(X, np.zeros(len(X), np.float32), None), np.dtype(np.float32), net.output, 1)
        found = guard.problem(ev, lambda: True)  # [1, -1]: 4e38, inf in float32
        assert found == problem if problem is None else problem in found


@pytest.mark.parametrize("name", sorted(UNITS))
def test_output_bound_bounds_every_registered_unit(name):
    """The bound's premise (each registered unit is monotone on each side of 0) checked by
    sampling: a contract over the registry, so a new unit is covered when it is registered."""
    net = ff.nn.MLP([3, 7, 5, 2], activation=name, dtype=np.float64, rng=1)
    r = np.random.default_rng(2)
    x_bound = np.array([1.0, 2.0, 0.5])
    X = r.uniform(-1, 1, (2000, 3)) * x_bound
    X[:8] = x_bound * np.array([[s1, s2, s3] for s1 in (-1, 1) for s2 in (-1, 1) for s3 in (-1, 1)])
    net.eval()
    bound = output_bound(net, x_bound)
    assert np.abs(_outputs(net, X)).max() <= bound * (1 + 1e-12)


def test_output_bound_declines_what_it_does_not_know():
    class Doubler(ff.nn.Module):
        def forward(self, x):
            return x * 2

    assert output_bound(ff.nn.Sequential(ff.nn.Linear(2, 2, rng=0), Doubler()), np.ones(2)) is None
    assert output_bound(Doubler(), np.ones(2)) is None

    class Wave(ff.nn.activation.Unit):  # not registered: its shape is not known to be monotone
        def forward(self, z):
            return z * 0 + 1

    assert output_bound(ff.nn.Sequential(ff.nn.Linear(2, 2, rng=0), Wave()), np.ones(2)) is None
    big = ff.nn.MLP([2, 4, 1], rng=0)
    big.linears[0].weight.data[:] = 1e30
    big.linears[1].weight.data[:] = 1e30
    assert output_bound(big, np.ones(2)) == np.inf  # 8e60 overflows float32, as the model would
    wide = ff.nn.MLP([2, 4, 1], dtype=np.float64, rng=0)
    wide.linears[0].weight.data[:] = 1e30
    wide.linears[0].bias.data[:] = 0
    wide.linears[1].weight.data[:] = 1e30
    wide.linears[1].bias.data[:] = 0
    assert output_bound(wide, np.ones(2)) == pytest.approx(8e60)
    assert output_bound(wide, np.ones(2), limit=1e40) == np.inf  # 2e30 passes, 8e60 does not
    assert output_bound(wide, np.ones(2), limit=1e30) == np.inf
