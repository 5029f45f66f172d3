"""Learning-rate schedules (L-SGD-7): scikit-learn's adaptive rate as a schedule, and one validation layer
for every schedule's numbers (issue 10)."""

import json

import numpy as np
import pytest

import feedforward as ff
from feedforward.optim import schedules as S


def _run(schedule, losses, base_lr):
    """The rate of each epoch as the training loop sets it: get_lr at the start, observe at the end."""
    lrs = []
    for epoch, loss in enumerate(losses):
        lrs.append(schedule.get_lr(epoch, base_lr))
        schedule.observe(epoch, loss)
    return lrs


def _sklearn_adaptive(losses, base_lr, tol, n_iter_no_change):
    """scikit-learn's rule written out (BaseMultilayerPerceptron + SGDOptimizer.trigger_stopping)."""
    best, count, lr, lrs = np.inf, 0, base_lr, []
    for loss in losses:
        lrs.append(lr)
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            if lr <= 1e-6:
                break
            lr /= 5.0
            count = 0
    return lrs


def test_adaptive_is_registered_under_its_name():
    assert S.SCHEDULES["adaptive"] is S.AdaptiveLR
    sched = S.get_schedule("adaptive")
    assert isinstance(sched, S.AdaptiveLR) and (sched.tol, sched.n_iter_no_change, sched.min_lr) == (1e-4, 10, 1e-6)


def test_adaptive_divides_by_5_as_scikit_learn():
    """Issue 10: eta /= 5 once the loss has not improved by tol for more than n_iter_no_change epochs."""
    # Worked example (tol=0.1, n=2; epochs 0-based): epochs 1..3 never reach best - 0.1, so after
    # epoch 3 (count 3 > 2) the rate drops to 0.02 and the count restarts; epoch 4's 0.75 beats the
    # best 0.92 by more than tol; epochs 5..7 stall again, and epoch 8 runs at 0.004.
    losses = [1.0, 0.95, 0.95, 0.92, 0.75, 0.75, 0.75, 0.75, 0.7]
    lrs = _run(S.AdaptiveLR(tol=0.1, n_iter_no_change=2), losses, 0.1)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.1, 0.02, 0.02, 0.02, 0.02, 0.004], rtol=1e-15)
    r = np.random.default_rng(0)
    noisy = list(3.0 + np.cumsum(r.choice([-0.3, -0.05, 0.0, 0.1], size=80)))
    ours = _run(S.AdaptiveLR(tol=0.1, n_iter_no_change=3), noisy, 0.05)
    theirs = _sklearn_adaptive(noisy, 0.05, 0.1, 3)
    np.testing.assert_allclose(ours[: len(theirs)], theirs, rtol=1e-12)
    assert len(set(theirs)) > 2  # the comparison went through several divisions


def test_adaptive_stops_dividing_at_min_lr():
    """scikit-learn divides while eta > 1e-6 and stops training at eta <= 1e-6: stall() says which."""
    sched = S.AdaptiveLR(n_iter_no_change=None)
    rates, answers = [], []
    for epoch in range(4):
        rates.append(sched.get_lr(epoch, 1e-5))
        answers.append(sched.stall())
    np.testing.assert_allclose(rates, [1e-5, 2e-6, 4e-7, 4e-7], rtol=1e-12)
    assert answers == [True, True, False, False]


def test_adaptive_driven_from_outside_ignores_observe():
    sched = S.AdaptiveLR(tol=0.0, n_iter_no_change=None)
    assert _run(sched, [1.0] * 20, 0.1) == [0.1] * 20


def test_adaptive_state_round_trips_through_json():
    sched = S.AdaptiveLR(tol=0.1, n_iter_no_change=1)
    _run(sched, [1.0, 1.0, 1.0, 1.0], 0.1)
    state = json.loads(json.dumps(sched.state_dict()))
    again = S.AdaptiveLR(tol=0.1, n_iter_no_change=1)
    again.load_state_dict(state)
    assert again.state_dict() == sched.state_dict() and again.get_lr(4, 0.1) == sched.get_lr(4, 0.1)
    fresh = S.AdaptiveLR()
    fresh.load_state_dict(json.loads(json.dumps(fresh.state_dict())))  # best = inf survives JSON
    with pytest.raises(ValueError, match="best, bad_epochs, divisions"):
        again.load_state_dict({"best": 1.0})
    with pytest.raises(TypeError, match="divisions"):
        again.load_state_dict({"best": 1.0, "bad_epochs": 0, "divisions": 1.5})
    with pytest.raises(ValueError, match="bad_epochs"):
        again.load_state_dict({"best": 1.0, "bad_epochs": -1, "divisions": 0})
    with pytest.raises(ValueError, match="best"):
        again.load_state_dict({"best": float("nan"), "bad_epochs": 0, "divisions": 0})


def test_ff_fit_with_the_adaptive_schedule_lowers_the_rate():
    r = np.random.default_rng(0)
    X = r.standard_normal((60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.5 * r.standard_normal(60)
    model = ff.nn.Sequential(ff.nn.Linear(3, 1, rng=0, dtype=np.float64))
    h = ff.fit(model, X, y, optimizer="sgd", output="gaussian", mode="batch", lr=0.1, max_epochs=80,
               lr_schedule=S.AdaptiveLR(tol=1e-3, n_iter_no_change=2))
    lrs = h["lr"]
    assert lrs[0] == 0.1 and lrs[-1] < 0.1
    assert set(np.round(np.array(lrs) / 0.1, 12)) <= {5.0**-k for k in range(10)}  # only divisions by 5


@pytest.mark.parametrize("make, error, name", [
    (lambda: S.StepLR(step_size=0), ValueError, "step_size"),
    (lambda: S.StepLR(step_size=2.0), TypeError, "step_size"),
    (lambda: S.StepLR(gamma=0.0), ValueError, "gamma"),
    (lambda: S.ExponentialLR(gamma=True), TypeError, "gamma"),
    (lambda: S.ExponentialLR(gamma=float("nan")), ValueError, "gamma"),
    (lambda: S.InvScaling(power_t=-0.5), ValueError, "power_t"),
    (lambda: S.InvScaling(power_t="0.5"), TypeError, "power_t"),
    (lambda: S.CosineAnnealing(t_max=0), ValueError, "t_max"),
    (lambda: S.CosineAnnealing(t_max=3, eta_min=-1.0), ValueError, "eta_min"),
    (lambda: S.ReduceLROnPlateau(factor=1.0), ValueError, "factor"),
    (lambda: S.ReduceLROnPlateau(patience=1.5), TypeError, "patience"),
    (lambda: S.ReduceLROnPlateau(threshold=-0.1), ValueError, "threshold"),
    (lambda: S.AdaptiveLR(tol=-1.0), ValueError, "tol"),
    (lambda: S.AdaptiveLR(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (lambda: S.AdaptiveLR(min_lr=None), TypeError, "min_lr"),
])
def test_schedules_check_their_numbers_in_one_way(make, error, name):
    """Issue 10, one validation layer: TypeError for a wrong type, ValueError for a bad value, the name in both."""
    with pytest.raises(error, match=name):
        make()


def test_plateau_state_is_checked():
    sched = S.ReduceLROnPlateau()
    with pytest.raises(TypeError, match="reductions"):
        sched.load_state_dict({"best": 1.0, "bad_epochs": 0, "reductions": "1"})
    with pytest.raises(ValueError, match="best"):
        sched.load_state_dict({"best": float("nan"), "bad_epochs": 0, "reductions": 0})
    sched.load_state_dict({"best": float("inf"), "bad_epochs": 0, "reductions": 2})
    assert sched.get_lr(0, 1.0) == 0.25
