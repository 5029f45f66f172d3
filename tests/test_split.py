"""The one stratified splitter (issue 10): ``feedforward.data.split.split_indices``.

Before issue 10 the training loop's ``validation_fraction`` and ``train_test_split`` each had
their own stratified split with different rounding (round per class vs ceil overall). Now both
use ``split_indices``: ``ceil(fraction * n)`` test rows, shared between the classes by largest
remainders, every class with two rows or more in both parts.
"""

from __future__ import annotations

import numpy as np
import pytest

import feedforward as ff
from feedforward.data.split import split_indices, train_test_split


def _partition(train, test, n):
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(n))


@pytest.mark.parametrize("n, size, k", [(10, 0.25, 3), (10, 0.2, 2), (10, 0.21, 3), (7, 0.5, 4), (10, 3, 3)])
def test_a_fraction_is_rounded_up_a_count_is_exact(n, size, k):
    train, test = split_indices(n, size, rng=0)
    assert len(test) == k and len(train) == n - k
    _partition(train, test, n)


@pytest.mark.parametrize(
    "counts, fraction, expected",
    [
        ([50, 7, 3], 0.2, [10, 1, 1]),  # k = 12: shares 10, 1.4, 0.6 -> floors 10, 1, 0, the remainder to 0.6
        ([5, 5, 5], 0.5, [3, 3, 2]),  # k = ceil(7.5) = 8: equal remainders go to the first classes
        ([50, 30, 20], 0.2, [10, 6, 4]),
        # k = 10: shares 9.8, 0.2 -> floors 9, 0, the remainder to 0.8 -> 10, 0; then the class
        # of 2 keeps one row in each part: 10, 1 (the total moves up by one)
        ([98, 2], 0.1, [10, 1]),
    ],
)
def test_stratified_counts_are_largest_remainders_with_every_class_in_both_parts(counts, fraction, expected):
    y = np.repeat(np.arange(len(counts)), counts)
    train, test = split_indices(len(y), fraction, stratify=y, rng=0)
    _partition(train, test, len(y))
    assert np.bincount(y[test], minlength=len(counts)).tolist() == expected


def test_a_class_of_one_stays_in_training():
    y = np.array([0] * 9 + [1])
    train, test = split_indices(10, 0.3, stratify=y, rng=0)
    assert 9 in train and np.bincount(y[test]).tolist() == [3]


def test_the_training_loop_uses_the_same_rows():
    """validation_fraction is split_indices on the trainer's generator (its first draw)."""
    r = np.random.default_rng(5)
    X = r.standard_normal((60, 4)).astype(np.float32)
    y = np.r_[np.zeros(50, int), np.ones(7, int), np.full(3, 2)]
    trainer = ff.Trainer(ff.nn.MLP([4, 5, 3], output="categorical", rng=0), optimizer="sgd", max_epochs=1, rng=11)
    trainer.fit(X, y, validation_fraction=0.2)
    train, val = split_indices(60, 0.2, stratify=y, rng=11)
    np.testing.assert_array_equal(trainer.validation_split[0], np.sort(train))
    np.testing.assert_array_equal(trainer.validation_split[1], np.sort(val))
    # Regression targets: not stratified, ceil(0.25 * 60) = 15 rows.
    reg = ff.Trainer(ff.nn.MLP([4, 5, 1], output="gaussian", rng=0), optimizer="sgd", max_epochs=1, rng=11)
    reg.fit(X, X[:, 0], validation_fraction=0.25)
    train, val = split_indices(60, 0.25, rng=11)
    np.testing.assert_array_equal(reg.validation_split[1], np.sort(val))


def test_train_test_split_uses_the_same_rows():
    X = np.arange(40)[:, None]
    y = np.repeat([0, 1], [30, 10])
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, 0.25, stratify=True, rng=4)
    train, test = split_indices(40, 0.25, stratify=y, rng=4)
    np.testing.assert_array_equal(X_te.ravel(), test)
    np.testing.assert_array_equal(X_tr.ravel(), train)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((10, 0.0), ValueError, r"test_size must be a finite number > 0 and < 1, got 0\.0"),
        ((10, 1.5), ValueError, "test_size must be a finite number > 0 and < 1"),
        ((10, "0.2"), TypeError, "test_size must be a finite number"),
        ((10, True), TypeError, "test_size must be a finite number"),
        ((10, 10), ValueError, "leaves 0 training and 10 test examples out of 10; both parts need at least one"),
        ((10, 0), ValueError, "test_size must be an integer >= 1, got 0"),
        ((1, 0.5), ValueError, "both parts need at least one"),
        ((10.0, 0.5), TypeError, "n must be an integer"),
    ],
)
def test_bad_sizes(args, error, message):
    with pytest.raises(error, match=message):
        split_indices(*args, rng=0)


def test_stratification_that_would_empty_a_part_is_refused():
    # Two classes of one row each: each stays in training, the test part would be empty.
    with pytest.raises(ValueError, match="leaves an empty test part"):
        split_indices(2, 0.5, stratify=np.array([0, 1]), rng=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        split_indices(4, 0.5, stratify=np.zeros((4, 1)), rng=0)
    X, y = np.zeros((2, 4), np.float32), np.array([0, 1])
    with pytest.raises(ValueError, match="validation_fraction=0.5 of 2 examples leaves an empty test part"):
        ff.fit(ff.nn.MLP([4, 3, 2], output="categorical", rng=0), X, y, optimizer="sgd", validation_fraction=0.5)
