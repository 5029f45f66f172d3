"""The lecture's minibatch SGD (issue 11 defect 10, L-SGD-3): fixed minibatches, their ORDER permuted.

"把训练集合切分成多个mini-batches. 在每个epoch中，随机排列mini-batches，并按顺序取一个小批":
the training set is cut into minibatches once; each epoch visits those same minibatches in a
new random order. The library's default reshuffles the examples every epoch. These tests need
``feedforward.training.batching.fixed_minibatch_order`` and the ``shuffle`` option (handed to the
lead, who owns training/*); until they land they are skipped with that reason.
"""

import numpy as np
import pytest

from feedforward.training import batching

pytestmark = pytest.mark.skipif(not hasattr(batching, "fixed_minibatch_order"),
                                reason="fixed_minibatch_order not yet in training/batching.py (issue 11)")


def _batches(order, size):
    return [tuple(order[s:s + size]) for s in range(0, len(order), size)]


def test_same_minibatches_every_epoch_in_a_new_order():
    rng = np.random.default_rng(0)
    n, size = 103, 10
    epochs = [batching.fixed_minibatch_order(n, size, rng, partition_seed=7) for _ in range(6)]
    first = _batches(epochs[0], size)
    assert sorted(epochs[0].tolist()) == list(range(n))
    for order in epochs[1:]:
        assert sorted(_batches(order, size)) == sorted(first)  # the same sets, as fixed chunks
        assert sorted(order.tolist()) == list(range(n))  # every example exactly once
    assert len({tuple(_batches(o, size)) for o in epochs}) > 1  # the order of the minibatches changes
    # the short minibatch (103 = 10 x 10 + 3) stays whole: visited last, so the epoch loop's
    # consecutive cuts give back the fixed minibatches
    assert [len(b) for b in first] == [10] * 10 + [3] and all(_batches(o, size)[-1] == first[-1] for o in epochs)


def test_library_shuffle_differs_from_the_lecture_partition():
    rng = np.random.default_rng(0)
    a = _batches(batching.epoch_order("minibatch", 100, rng), 10)
    b = _batches(batching.epoch_order("minibatch", 100, rng), 10)
    assert sorted(map(sorted, a)) != sorted(map(sorted, b))  # reshuffled examples: new minibatches


def test_fit_accepts_the_lecture_option_and_rejects_bad_values():
    import feedforward as ff

    X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    seen = []
    cb = ff.training.LambdaCallback(on_batch_end=lambda t, b, logs: seen.append(tuple(sorted(logs["indices"]))))
    net = ff.nn.MLP([3, 4, 2], output="categorical", rng=0)
    ff.fit(net, X, y, optimizer="sgd", batch_size=16, max_epochs=3, shuffle="batches", callbacks=[cb], rng=0)
    per_epoch = [sorted(seen[i:i + 4]) for i in range(0, 12, 4)]
    assert per_epoch[0] == per_epoch[1] == per_epoch[2]
    with pytest.raises(ValueError, match="shuffle"):
        ff.fit(net, X, y, optimizer="sgd", shuffle="sometimes", max_epochs=1)
