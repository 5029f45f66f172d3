"""The options, declared once (issue 10): signatures, docs and checks all come from ``Options``.

Before issue 10 ``ff.fit`` repeated the Trainer's 30 keywords and hid ``monitor``,
``eval_chunk_size``, ``saturation_tol`` and ``train_eval`` behind ``**more``; the trainer
decided which modules to switch to eval mode from a hand list of classes (``_MODE_FREE``).
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import feedforward as ff
from feedforward.training.options import DEFAULTS, NAMES, Options
from helpers import blobs


def _net():
    return ff.nn.MLP([4, 8, 3], output="categorical", rng=0)


# ------------------------------------------------------------- one declaration
@pytest.mark.parametrize("api", [ff.fit, ff.Trainer])
def test_every_option_is_in_the_signature_with_its_default(api):
    params = inspect.signature(api).parameters
    for field in dataclasses.fields(Options):
        assert params[field.name].kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert params[field.name].default is field.default, field.name
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for hidden_before in ("monitor", "eval_chunk_size", "saturation_tol", "train_eval"):
        assert hidden_before in params


@pytest.mark.parametrize("doc", [ff.fit.__doc__, ff.Trainer.__doc__], ids=["fit", "Trainer"])
def test_every_option_is_documented_once_in_each_docstring(doc):
    for field in dataclasses.fields(Options):
        entry = f"\n    {field.name} : {field.metadata['kind']}\n"
        assert doc.count(entry) == 1, field.name
        assert field.metadata["doc"].split()[0] in doc
    assert "{" + "options}" not in doc


def test_fit_and_trainer_fit_document_the_data_arguments():
    for name in ("validation_data", "validation_fraction", "sample_weight"):
        assert f"\n    {name} : " in ff.fit.__doc__ and f"\n        {name} : " in ff.Trainer.fit.__doc__
        assert inspect.signature(ff.fit).parameters[name].default is None


@pytest.mark.parametrize("api", [lambda **kw: ff.fit(_net(), *blobs(), **kw), lambda **kw: ff.Trainer(_net(), **kw)])
def test_an_unknown_option_is_a_type_error_listing_the_valid_ones(api):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'epochs'; the options .* are optimizer, lr, "
                                        r"momentum, .*, train_eval"):
        api(epochs=3)


def test_options_are_checked_once_and_frozen():
    opts = ff.Trainer(_net(), optimizer="sgd", max_epochs=3, monitor="train_loss").options
    assert opts.max_epochs == 3 and opts.train_eval == "batches" and opts.monitor == "train_loss"
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.max_epochs = 5
    assert NAMES == tuple(DEFAULTS)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"optimizer": "adam", "momentum": 0.9}, "momentum=0.9 has no effect with optimizer='adam'"),
        ({"optimizer": "adam", "nesterov": True}, "nesterov=True has no effect with optimizer='adam'"),
        ({"optimizer": "sgd", "betas": (0.8, 0.9)}, r"betas=\(0.8, 0.9\) has no effect with optimizer='sgd'"),
        ({"eps": 1e-6}, "eps=1e-06 has no effect with optimizer='sgd'"),
        ({"lr": 0.5, "instance": True}, "lr=0.5 has no effect with an SGD instance"),
    ],
)
def test_an_option_the_optimizer_would_ignore_is_refused(options, message):
    options = dict(options)
    net = _net()
    if options.pop("instance", False):
        options["optimizer"] = ff.optim.SGD(net.parameters(), lr=0.1)
    options.setdefault("optimizer", "sgd")
    with pytest.raises(ValueError, match=message):
        ff.Trainer(net, **options)
    ff.Trainer(_net(), optimizer="adam", betas=[0.9, 0.999])  # the default, as a list: fine


# ---------------------------------------------------- train/eval from mode_dependent
class Spy(ff.nn.Module):
    """Identity that records the mode of every forward call."""

    def __init__(self, mode_dependent):
        self.mode_dependent = mode_dependent
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return x


@pytest.mark.parametrize("mode_dependent", [True, False])
def test_modes_are_switched_only_for_a_model_with_a_mode_dependent_module(mode_dependent):
    spy = Spy(mode_dependent)
    net = ff.nn.Sequential(ff.nn.Linear(4, 6, rng=0), ff.nn.Tanh(), spy, ff.nn.Linear(6, 3, rng=1))
    X, y = blobs()
    ff.fit(net, X, y, optimizer="sgd", output="categorical", batch_size=30, max_epochs=2, rng=0)
    spy.modes.pop(0)  # the one-row pass that finds the number of outputs (eval mode, always)
    # Per epoch: 3 minibatches in training mode, then the epoch-end evaluation.
    assert spy.modes == 2 * ([True] * 3 + [not mode_dependent])
    assert spy.training  # back in the mode it was in


@pytest.mark.parametrize("mode_dependent, passes", [(False, 1), (True, 2)])
def test_batch_mode_reuses_the_epoch_end_gradient_only_when_no_module_depends_on_the_mode(mode_dependent, passes):
    """L-SGD-1: the full gradient computed at the end of an epoch (eval mode) is the next update's
    gradient when train and eval compute the same thing; otherwise the update computes its own."""
    spy = Spy(mode_dependent)
    net = ff.nn.Sequential(ff.nn.Linear(4, 3, rng=0), spy)
    X, y = blobs()
    ff.fit(net, X, y, optimizer="sgd", output="categorical", mode="batch", lr=0.1, max_epochs=4)
    spy.modes.pop(0)
    # epoch 1: the update's own pass + the epoch-end pass; later epochs: `passes` each
    assert len(spy.modes) == 2 + 3 * passes


# --------------------------------------------------- values returned, not stored
def test_the_evaluator_returns_the_objective_and_its_gradient():
    from feedforward.training.data import Part
    from feedforward.training.evaluation import Evaluator

    X, y = blobs()
    net = ff.nn.MLP([4, 8, 3], output="categorical", dtype=np.float64, rng=0)
    part = Part(X.astype(np.float64), y, None)
    ev = Evaluator(net, net.output, net.parameters(), ["accuracy"], chunk_size=7, l2=0.1)(part, grad=True)
    for p in net.parameters():
        p.grad = None
    loss = net.output.nll(net(ff.Tensor(part.X)), y)
    loss.backward()
    g = np.concatenate([(p.grad + 0.1 * p.data).ravel() for p in net.parameters()])
    assert ev.loss == pytest.approx(float(loss.data), rel=1e-12)
    assert ev.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-12)
    assert ev.metrics == {"accuracy": float(np.mean(net.predict(part.X) == y))}
    assert ev.outputs_finite is True and ev.diagnostics is None
