"""Practitioner defaults of ff.fit (issue 14): what a user coming from scikit-learn, Keras or
PyTorch expects without asking (L-SGD-1, L-SGD-5).

- the whole-set J(w) and ||grad J(w)|| only when something asks for them (tests/test_perf_semantics.py
  has the record's semantics; here: which pass runs);
- any hashable class labels, recorded as ``history.classes``;
- one default optimizer, Adam with lr 1e-3, as the estimators and the CLI;
- a warning when the inputs look unscaled.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import feedforward as ff
from feedforward.training import UnscaledInputWarning
from feedforward.training.evaluation import Evaluator
from helpers import blobs


def _net(out=3, seed=0):
    return ff.nn.MLP([4, 8, out], activation="tanh", output="categorical", rng=seed)


# ------------------------------------------------------- the whole-set pass
def _count_passes(monkeypatch):
    """How many whole-set evaluations of the training data ran, and with a gradient."""
    calls = []
    original = Evaluator.__call__

    def counting(self, part, *, grad=False, **kw):
        calls.append(grad)
        return original(self, part, grad=grad, **kw)

    monkeypatch.setattr(Evaluator, "__call__", counting)
    return calls


def test_the_default_run_makes_no_whole_set_pass(monkeypatch):
    """Issue 14: ff.fit without grad_tol, diagnostics or train_eval evaluates nothing over the
    training set at the end of an epoch (the 6.0 s vs 4.1 s of `feedforward train`)."""
    X, y = blobs()
    calls = _count_passes(monkeypatch)
    h = ff.fit(_net(), X, y, max_epochs=3, batch_size=16, rng=0)
    assert calls == [] and h["grad_norm"] == [None] * 3
    assert h["train_loss"] == h["batch_loss_mean"] and all(v > 0 for v in h["train_loss"])


@pytest.mark.parametrize("options, grads", [
    ({"grad_tol": 1e-12}, [True] * 3),                     # the lecture's theta-stop
    ({"train_eval": "grad"}, [True] * 3),
    ({"train_eval": "loss"}, [False] * 3),
    ({"metrics": ["accuracy"]}, [False] * 3),              # metrics asked for by name
    ({"monitor": "train_metric"}, [False] * 3),
])
def test_the_pass_runs_when_asked(monkeypatch, options, grads):
    """Issue 14: a theta-stop, an explicit train_eval or a metric asked for by name buys the pass."""
    X, y = blobs()
    calls = _count_passes(monkeypatch)
    h = ff.fit(_net(), X, y, max_epochs=3, batch_size=16, rng=0, **options)
    assert calls == grads
    assert (h["grad_norm"][-1] is not None) == grads[0]
    assert h["train_metric"][-1] is not None


# ---------------------------------------------------------- any labels
def _three_classes(n=90, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 4)).astype(np.float32)
    idx = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, idx


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]),                       # text
    np.array([10, 20, 30]),                                # integers outside [0, C)
    np.array([-1, 0, 1]),
    np.array(["b", "a", "c"], dtype=object),               # objects, unsorted
])
def test_any_hashable_labels_are_classes(labels):
    """Issue 14: ff.fit takes labels as scikit-learn does; classes are the sorted unique labels
    (as classes_), training equals training on their indices, and classes[pred] maps back."""
    X, idx = _three_classes()
    y = labels[idx]
    net, ref = _net(), _net()
    h = ff.fit(net, X, y, max_epochs=5, rng=0)
    expected = np.unique(labels)
    np.testing.assert_array_equal(h.classes, expected)
    ref_idx = np.searchsorted(expected, y)
    ff.fit(ref, X, ref_idx, max_epochs=5, rng=0)
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(h.classes[net.predict(X)], expected[ref.predict(X)])


def test_integer_labels_in_range_are_indices_and_booleans_are_two_classes():
    """Issue 14: labels already in [0, C) keep their meaning (a class may be absent);
    booleans are the classes False, True; a bernoulli output takes two labels of any kind."""
    X, idx = _three_classes()
    h = ff.fit(_net(), X, np.minimum(idx, 1) * 2, max_epochs=1, rng=0)  # classes 0 and 2 only
    np.testing.assert_array_equal(h.classes, [0, 1, 2])
    h = ff.fit(_net(2), X, idx > 0, max_epochs=1, rng=0)
    np.testing.assert_array_equal(h.classes, [False, True])
    bern = ff.nn.MLP([4, 8, 1], output="bernoulli", rng=0)
    h = ff.fit(bern, X, np.where(idx > 0, "yes", "no"), max_epochs=2, rng=0)
    np.testing.assert_array_equal(h.classes, ["no", "yes"])
    assert set(h.classes[bern.predict(X).ravel().astype(int)]) <= {"no", "yes"}


def test_validation_labels_must_be_training_classes():
    """Issue 14: validation labels map to the training classes; an unknown one is named."""
    X, idx = _three_classes()
    y = np.array(["cat", "dog", "emu"])[idx]
    h = ff.fit(_net(), X, y, validation_data=(X[:20], y[:20]), max_epochs=2, rng=0)
    assert h["val_loss"][-1] is not None
    with pytest.raises(ValueError, match=r"y_val holds labels not among the training classes: 'yak'.*'cat', 'dog'"):
        ff.fit(_net(), X, y, validation_data=(X[:2], np.array(["cat", "yak"])), max_epochs=1)
    with pytest.raises(ValueError, match=r"y has 3 distinct labels \('cat', 'dog', 'emu'\) but the model has 2"):
        ff.fit(_net(2), X, y, max_epochs=1)
    with pytest.raises(ValueError, match=r"y has 2 distinct labels .* 3 outputs; for a class absent from y"):
        ff.fit(_net(), X, np.where(idx > 0, "a", "b"), max_epochs=1)
    with pytest.raises(TypeError, match="one sortable type"):
        ff.fit(_net(), X, np.array(["a", 1, 2.5] * 30, dtype=object), max_epochs=1)


def test_classes_survive_the_history_dict_and_partial_fit():
    """Issue 14: History.to_dict/from_dict keep the classes; partial_fit maps every chunk to the
    first call's classes."""
    X, idx = _three_classes()
    y = np.array(["cat", "dog", "emu"])[idx]
    h = ff.fit(_net(), X, y, max_epochs=1, rng=0)
    again = ff.training.History.from_dict(h.to_dict())
    np.testing.assert_array_equal(again.classes, h.classes)
    trainer = ff.Trainer(_net(), rng=0)
    trainer.partial_fit(X, y)
    h = trainer.partial_fit(X[:30], y[:30])
    np.testing.assert_array_equal(h.classes, ["cat", "dog", "emu"])
    with pytest.raises(ValueError, match="not among the training classes: 'yak'"):
        trainer.partial_fit(X[:1], np.array(["yak"]))


# ---------------------------------------------------------- one optimizer
def test_the_default_optimizer_is_adam_everywhere():
    """Issue 14: ff.fit, the estimators and the CLI default to Adam, lr 1e-3; SGD is one keyword away
    with its own default lr 0.01."""
    from feedforward.cli.parser import build_parser
    from feedforward.estimators import MLPClassifier

    trainer = ff.Trainer(_net())
    assert isinstance(trainer.optimizer, ff.optim.Adam) and trainer.optimizer.lr == 1e-3
    sgd = ff.Trainer(_net(), optimizer="sgd").optimizer
    assert isinstance(sgd, ff.optim.SGD) and sgd.lr == 0.01
    assert MLPClassifier().solver == "adam" and MLPClassifier().learning_rate_init == 1e-3
    args = build_parser().parse_args(["train"])
    assert args.optimizer == "adam" and args.lr is None  # commands.py: 1e-3 for adam
    # An SGD-only option with the default optimizer is refused, naming it.
    with pytest.raises(ValueError, match="momentum=0.9 has no effect with optimizer='adam'"):
        ff.Trainer(_net(), momentum=0.9)


# ---------------------------------------------------------- unscaled inputs
@pytest.mark.parametrize("scale, column, message", [
    (1e3, 2, r"column 2 has standard deviation [\d.]+e\+03\. .*standardise"),
    (1e-4, 1, r"column 1 has standard deviation [\d.e-]+, every value at most [\d.e-]+ in size"),
])
def test_unscaled_inputs_warn_once_naming_the_column(scale, column, message):
    """Issue 14: X x 1000 no longer trains silently: one warning, naming the column and
    suggesting standardisation, pointing at the caller's line."""
    X, y = blobs()
    X = X.copy()
    X[:, column] *= scale
    with pytest.warns(UnscaledInputWarning, match=message) as record:
        ff.fit(_net(), X, y, max_epochs=3, rng=0)
    assert len(record) == 1 and "standardise" in str(record[0].message)
    assert record[0].filename == __file__


def test_a_large_mean_warns_and_scaled_or_pixel_data_does_not():
    X, y = blobs()
    with pytest.warns(UnscaledInputWarning, match=r"column 0 has mean 2e\+03"):
        ff.fit(_net(), np.c_[X[:, :1] + 2000, X[:, 1:]], y, max_epochs=1, rng=0)
    pixels = np.zeros((len(X), 4), np.float32)
    pixels[:, :3] = np.abs(X[:, :3]) / 4
    pixels[0, 3] = 0.0625  # an edge pixel lit once (digits / 16): a small spread, but not a tiny value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ff.fit(_net(), X, y, max_epochs=1, rng=0)
        ff.fit(_net(), pixels, y, max_epochs=1, rng=0)
        ff.fit(_net(), np.c_[X[:, :3], np.full(len(X), 5.0)], y, max_epochs=1, rng=0)  # a constant column
        # A Trainer (the estimators' path: they check the inputs themselves) does not warn.
        ff.Trainer(_net(), max_epochs=1).fit(X * 1e3, y)


def test_the_loss_plot_marks_a_best_epoch_only_against_validation_data(tmp_path):
    """Issue 14: the loss plot marked a "best epoch" without validation data; now only the
    validation monitor's best is drawn."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import feedforward as ff

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    marked = {}
    for name, extra in (("train", {}), ("val", {"validation_fraction": 0.25})):
        net = ff.nn.MLP([3, 8, 2], output="categorical", rng=0)
        h = ff.fit(net, X, y, max_epochs=5, rng=0, **extra)
        fig = h.plot(tmp_path / f"{name}.png")
        fig = fig if fig is not None else plt.gcf()
        labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        marked[name] = any(t.startswith("best epoch") for t in labels)
        plt.close("all")
    assert marked == {"train": False, "val": True}
