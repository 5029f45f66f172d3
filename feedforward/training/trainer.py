"""``ff.fit`` and ``ff.Trainer``: a model, the data, the options; the run (L-SGD-1..5, L-SGD-7, L-ACT-7).

The trainer is glue over the pipeline, read top-down:

====================  =====================================================================
:mod:`.options`       every option, declared once (default, check, documentation)
:mod:`.data`          the checks of ``X``, ``y``, weights and validation data; the split
:mod:`.loop`          the epochs, and the decisions to stop
:mod:`.epoch`         one epoch's updates: batches -> step
:mod:`.evaluation`    ``J(w)``, ``||grad J(w)||``, metrics, diagnostics: values returned
:mod:`.divergence`    when a run has diverged, and what it goes back to
:mod:`.checkpoint`    save and resume a run
:mod:`.history`       the record of the epochs
====================  =====================================================================
"""

from __future__ import annotations

import inspect

from .._rng import as_rng
from ..backend import device_of, get_backend
from .._validation import Int, Path
from ..nn.module import Module
from ..nn.output import OutputUnit, get_output
from ..optim.optimizers import SGD, Adam, Optimizer
from ..optim.schedules import get_schedule
from . import checkpoint, loop
from .batching import DEFAULT_BATCH_SIZE
from .data import fingerprint, prepare
from .scale import warn_if_unscaled
from .divergence import GROWTH_LIMIT, DivergenceWarning
from .history import History
from .metrics import resolve_metrics
from .options import DEFAULTS, Options, parameters_doc, signature

__all__ = ["Trainer", "fit", "DivergenceWarning", "DEFAULT_BATCH_SIZE"]

# The options each built-in optimizer takes (the others must keep their defaults).
_OPTIMIZER_OPTIONS = {"sgd": ("lr", "momentum", "nesterov", "weight_decay"),
                      "adam": ("lr", "betas", "eps", "weight_decay")}


class Trainer:
    """Train a model with the lecture's gradient descent variants, and keep the record.

    Parameters
    ----------
    model : Module
        Returns the pre-activation (logits) ``z`` of the output unit.
    output : str or OutputUnit, optional
        ``"gaussian"``, ``"bernoulli"``, ``"categorical"`` or an instance; default
        ``model.output`` (an ``MLP`` built with ``output=`` has one).
{options}

    Attributes
    ----------
    model : Module
    output : OutputUnit
    options : Options
        The checked options.
    params : list of Parameter
        The trained parameters (those with ``requires_grad=True``).
    optimizer : Optimizer
    history : History
    stop_reason : str or None
    epoch : int
        Epochs completed in this run.
    validation_split : (train_rows, val_rows) or None
        The rows of ``X`` used for training and validation when ``validation_fraction`` was given.
    stop_training : bool
        Set it in a callback to stop after the current epoch.
    state : RunState or None
        The schedules and counters the current run carries from epoch to epoch.
    classes : ndarray or None
        Classification: the label of each output, ``classes[i]`` for output ``i`` (as
        scikit-learn's ``classes_``): :meth:`fit` takes any labels (strings, booleans, integers
        outside ``[0, C)``...) and maps their sorted unique values to ``0 .. C-1``; integer labels
        already in ``[0, C)`` stay as they are (``arange(C)``). ``model.predict`` returns
        indices: ``classes[model.predict(X)]`` are labels. Also ``History.classes``.
        Data-parallel runs (``comm``) take labels in ``[0, C)`` only.
    warn_unscaled : bool
        Whether :meth:`fit` warns (:class:`~feedforward.training.scale.UnscaledInputWarning`) when
        a column of the training inputs looks unscaled. ``ff.fit`` sets it; False by default on a
        ``Trainer``, whose callers (the estimators: they check the inputs' size themselves) may
        have checked already.

    Notes
    -----
    **Divergence.** At the end of every epoch, whatever ``train_eval``, the run has diverged when
    a loss, ``||grad J||``, a weight or an output of the model on the training data is NaN or
    infinite, or when ``J(w)`` exceeds {growth} times its reference (the larger of the loss at
    the initial weights and an uninformed prediction's, e.g. ``log C``). Training then stops with
    ``stop_reason == "diverged"`` and a :class:`DivergenceWarning`, and the weights of the last
    epoch that passed every check (so their outputs are finite) or the initial weights are put
    back (:mod:`feedforward.training.divergence`).

    **Resuming.** ``resume_from`` continues the saved run, so the options that shape it (the
    optimizer and its ``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``betas``, ``eps``;
    ``mode``, ``batch_size``, ``lr_schedule``, ``clip_norm``) must equal the checkpoint's, the
    data must be the same and ``max_epochs`` at least the checkpoint's epoch count: anything else
    is a ``ValueError`` naming the option and both values, never silently replaced
    (:mod:`feedforward.training.checkpoint`).

    **Data-parallel training** (``comm``, L-DIST-1): every rank of an MPI communicator runs the
    same program on its own shard ``X, y``. The weights and the generator start as rank 0's;
    each update sums the ranks' gradients in one Allreduce; ``J(w)``, ``||grad J||``, the metrics
    and every decision are over all shards, so the history is identical on every rank. Batch
    mode equals one process on all the rows; minibatch and stochastic mode equal one process
    with the same ``rng`` (``batch_size`` is the global minibatch). Rank 0 writes the
    checkpoints; a checkpoint resumes with any number of ranks. An error on one rank during
    training aborts every rank (:mod:`feedforward.distributed`).
    """

    def __init__(self, model, output=None, **options):
        self.options = opts = Options.from_kwargs(options)
        if not isinstance(model, Module):
            raise TypeError(f"model must be an ff.nn.Module, got {type(model).__name__}")
        self.model = model
        # Frozen parameters (requires_grad=False) are left alone, as a PyTorch user filters them.
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no parameters to train (none with requires_grad=True)")
        unit = get_output(output) if output is not None else getattr(model, "output", None)
        if not isinstance(unit, OutputUnit):
            raise ValueError(
                "training needs an output unit: pass output='categorical' / 'bernoulli' / 'gaussian' "
                "(or an OutputUnit), or build the model with one, e.g. ff.nn.MLP(sizes, output='categorical')"
            )
        self.output = unit
        self.metrics = resolve_metrics(opts.metrics, unit.task)
        self.optimizer = _make_optimizer(self.params, opts)
        self._initial_lr = self.optimizer.lr  # schedules change optimizer.lr; every fit() starts from this
        self.rng = as_rng(opts.rng)
        self.dtype = self.params[0].dtype
        # The L2 penalty's gradient lambda w is part of grad J (not for AdamW's decoupled decay).
        decoupled = getattr(self.optimizer, "decoupled", False)
        self.l2 = 0.0 if decoupled else float(getattr(self.optimizer, "weight_decay", 0.0) or 0.0)
        self.history = History()
        self.stop_reason = None
        self.stop_training = False
        self.epoch = 0
        self.validation_split = None
        self.state = None
        self.warn_unscaled = False
        self.classes = None

    def fit(self, X, y, validation_data=None, sample_weight=None, max_epochs=None, *,
            validation_fraction=None, resume_from=None) -> History:
        """Train from the model's current weights with a fresh optimizer state and history.

        Parameters
        ----------
        X : array, shape (n, n_features)
        y : array, shape (n,) or (n, n_outputs)
            Class labels (any: see ``classes``), 0/1 or probabilities (bernoulli) or values (gaussian).
{data}
        max_epochs : int, optional
            Overrides the trainer's ``max_epochs`` for this call.
        resume_from : path, optional
            Overrides the trainer's ``resume_from``.
        """
        opts = self.options
        max_epochs = opts.max_epochs if max_epochs is None else Int(1)(max_epochs, "max_epochs")
        resume_from = opts.resume_from if resume_from is None else Path()(resume_from, "resume_from")
        comm = opts.comm
        if comm is not None:
            return self._fit_data_parallel(comm, X, y, validation_data, sample_weight, validation_fraction,
                                           max_epochs, resume_from)
        if opts.checkpoint_path is not None:
            checkpoint.check_writable(opts.checkpoint_path)
        data = prepare(self.model, self.output, self.dtype, X, y, sample_weight=sample_weight,
                       validation_data=validation_data, validation_fraction=validation_fraction, rng=self.rng)
        self.classes = data.classes
        if self.warn_unscaled:  # once per fit; partial_fit's chunks are the caller's to check
            warn_if_unscaled(data.train.X)
        self._reset_run(max_epochs)
        if opts.checkpoint_path is not None or resume_from is not None:
            data.fingerprint = fingerprint(data.full)
        if resume_from is not None:
            checkpoint.restore(self, resume_from, data, max_epochs)
        self.history.classes = data.classes
        return loop.run(self, self._on_device(data), max_epochs, partial=False)

    def _fit_data_parallel(self, comm, X, y, validation_data, sample_weight, validation_fraction,
                           max_epochs, resume_from) -> History:
        """:meth:`fit` on this rank's shard (:mod:`feedforward.distributed.training`): the same
        steps, with rank 0's weights and generator, checks agreed by every rank, checkpoints
        written and read by rank 0, and an error during training aborting every rank."""
        from ..distributed import training as dp

        opts = self.options
        if opts.checkpoint_path is not None:
            comm.from_root(checkpoint.check_writable, opts.checkpoint_path, what="the checkpoint folder check")
        comm.broadcast_params(list(self.model.parameters()))
        self.rng = comm.same_rng(self.rng)
        data = dp.prepare(comm, self.model, self.output, self.dtype, X, y, sample_weight=sample_weight,
                          validation_data=validation_data, validation_fraction=validation_fraction, rng=self.rng)
        self._reset_run(max_epochs)
        if opts.checkpoint_path is not None or resume_from is not None:
            data.fingerprint = dp.fingerprint(comm, data.full)
        if resume_from is not None:
            ck = comm.from_root(checkpoint.read, resume_from, what="the checkpoint read by rank 0")
            with comm.agree("the checkpoint"):
                checkpoint.restore(self, resume_from, data, max_epochs, ck=ck)
            if data.split is not None:
                dp.place_split(comm, data)
        with comm.failures_abort("training"):
            return loop.run(self, data, max_epochs, partial=False)

    def partial_fit(self, X, y, sample_weight=None) -> History:
        """Run exactly one more epoch on ``(X, y)``, keeping the optimizer state and the history.

        For scikit-learn's ``partial_fit`` and warm starts; no validation, no early stopping.
        """
        comm = self.options.comm
        if comm is None:  # the labels of every call map to the first call's classes
            data = prepare(self.model, self.output, self.dtype, X, y, sample_weight=sample_weight, rng=self.rng,
                           classes=self.classes)
            self.classes = data.classes
        else:  # the weights and generator stay in step between calls; the first call aligns them
            from ..distributed import training as dp

            if self.state is None:
                comm.broadcast_params(list(self.model.parameters()))
                self.rng = comm.same_rng(self.rng)
            data = dp.prepare(comm, self.model, self.output, self.dtype, X, y, sample_weight=sample_weight)
        if self.state is None:
            self._reset_run(self.options.max_epochs)
        self.history.classes = self.classes
        self.stop_reason = None
        if comm is None:
            return loop.run(self, self._on_device(data), self.epoch + 1, partial=True)
        with comm.failures_abort("training"):
            return loop.run(self, data, self.epoch + 1, partial=True)

    def _on_device(self, data):
        """``data`` on the run's device, the model moved there first (in place, once per call)."""
        dev = self.options.device
        if dev is None:  # where the model is
            dev = device_of(self.params[0].data)
        if dev.type != "cpu" or any(device_of(p.data) != dev for p in self.model.parameters()):
            self.model.to(dev)  # in place: the parameters keep their identity, the optimizer follows
        opt = self.optimizer
        if self.options.capture is not False and self.options.optimizer == "adam" \
                and get_backend(dev).can_capture:
            opt.capturable = True  # the step count on the device too, so that a captured step can replay
        return data if dev.type == "cpu" else data.to(dev)

    def _reset_run(self, max_epochs) -> None:
        opts = self.options
        self.state = loop.RunState(get_schedule(opts.lr_schedule, max_epochs=max_epochs), self._initial_lr)
        self.state.lr_schedule.reset()
        if opts.batch_schedule is not None:
            opts.batch_schedule.reset()
        self.optimizer.reset()
        self.history = History()
        self.stop_reason = None
        self.epoch = 0


def _make_optimizer(params, opts) -> Optimizer:
    spec = opts.optimizer
    if isinstance(spec, Optimizer):
        if {id(p) for p in params} != {id(p) for p in spec.params}:
            raise ValueError("the optimizer was built on other parameters than model.parameters()")
        used, ignored_by = (), f"an {type(spec).__name__} instance (it has its own)"
    else:
        used, ignored_by = _OPTIMIZER_OPTIONS[spec], f"optimizer={spec!r}"
    for name in _OPTIMIZER_OPTIONS["sgd"] + _OPTIMIZER_OPTIONS["adam"]:
        value = getattr(opts, name)
        if name not in used and _differs(value, DEFAULTS[name]):
            raise ValueError(f"{name}={value!r} has no effect with {ignored_by}; leave it out")
    if spec == "sgd":
        return SGD(params, lr=opts.lr, momentum=opts.momentum, nesterov=opts.nesterov,
                   weight_decay=opts.weight_decay)
    if spec == "adam":
        return Adam(params, lr=opts.lr, betas=opts.betas, eps=opts.eps, weight_decay=opts.weight_decay)
    return spec


def _differs(value, default) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, tuple):
        return tuple(value) != default
    return value is not default and value != default


def fit(model, X, y, *, output=None, validation_data=None, validation_fraction=None, sample_weight=None,
        **options) -> History:
    """Train ``model`` on ``(X, y)``; returns the :class:`History` (``ff.fit``).

    ``ff.fit(model, X, y, **options)`` is ``ff.Trainer(model, output, **options).fit(X, y, ...)``:
    see :class:`Trainer` for what the run does, how it detects divergence and how it resumes.
    It also warns once (:class:`~feedforward.training.scale.UnscaledInputWarning`) when a column
    of the training inputs looks unscaled: a mean or standard deviation beyond 1e2, or values
    all below 1e-2 in size (:func:`~feedforward.training.scale.warn_if_unscaled`).

    Parameters
    ----------
    model : Module
        Returns the pre-activation (logits) ``z`` of the output unit.
    X : array, shape (n, n_features)
    y : array, shape (n,) or (n, n_outputs)
        Class labels of any kind (categorical, bernoulli), mapped to ``[0, C)`` in the order of
        their sorted unique values and recorded as ``history.classes``; ``history.classes[net.predict(X)]``
        are labels again. Bernoulli also takes probabilities in [0, 1]; gaussian, values.
    output : str or OutputUnit, optional
        Default ``model.output``.
{data}
{options}

    Returns
    -------
    History

    Examples
    --------
    >>> import numpy as np, feedforward as ff
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0])
    >>> net = ff.nn.MLP([2, 8, 2], activation="tanh", output="categorical", rng=0)
    >>> h = ff.fit(net, X, y, optimizer="adam", lr=0.05, mode="batch", max_epochs=300, rng=0)
    >>> h.stop_reason, bool((net.predict(X) == y).all())
    ('max_epochs', True)
    """
    trainer = Trainer(model, output, **options)
    trainer.warn_unscaled = True
    return trainer.fit(X, y, validation_data=validation_data, sample_weight=sample_weight,
                       validation_fraction=validation_fraction)


# The signatures and the "Parameters" sections come from the one declaration in options.py.
_P = inspect.Parameter
_DATA = ("validation_data", "validation_fraction", "sample_weight")
fit.__signature__ = signature(
    _P("model", _P.POSITIONAL_OR_KEYWORD), _P("X", _P.POSITIONAL_OR_KEYWORD), _P("y", _P.POSITIONAL_OR_KEYWORD),
    _P("output", _P.KEYWORD_ONLY, default=None), *(_P(name, _P.KEYWORD_ONLY, default=None) for name in _DATA),
).replace(return_annotation=History)
Trainer.__init__.__signature__ = signature(
    _P("self", _P.POSITIONAL_OR_KEYWORD), _P("model", _P.POSITIONAL_OR_KEYWORD),
    _P("output", _P.POSITIONAL_OR_KEYWORD, default=None),
)


def _fill(obj, **parts) -> None:
    if obj.__doc__:  # None under python -OO
        for key, text in parts.items():
            obj.__doc__ = obj.__doc__.replace("{" + key + "}", text)


_fill(fit, data=parameters_doc(_DATA), options=parameters_doc())
_fill(Trainer, options=parameters_doc(), growth=f"{GROWTH_LIMIT:g}")
_fill(Trainer.fit, data=parameters_doc(_DATA, indent="        "))
