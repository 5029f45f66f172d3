"""The training options, each declared once: its default, its check and its documentation.

``ff.fit`` and ``ff.Trainer`` both take ``**options`` checked against :class:`Options`;
their signatures (``help()``, ``inspect.signature``) and the "Parameters" sections of their
docstrings are generated from the declaration below, so an option is added, renamed or
re-documented in one place. An unknown keyword is a ``TypeError`` that names it and lists
the valid ones; a bad value is a ``TypeError`` (wrong type) or ``ValueError`` (bad value)
from :mod:`feedforward._validation`, naming the option.

**The default optimizer is Adam with ``lr=1e-3``**, in ``ff.fit``, ``ff.Trainer``, the
estimators and ``feedforward train`` alike (issue 14): it trains well on unscaled-ish data and
untuned learning rates far more often than plain SGD, and it is what users of scikit-learn's
``MLPClassifier`` (``solver='adam'``), Keras and most PyTorch tutorials expect. The lecture's
gradient descent is one keyword away: ``optimizer="sgd"`` (its default ``lr`` is 0.01;
``momentum``, ``nesterov``). ``lr`` left out means the chosen optimizer's default.

By default the end of an epoch computes nothing over the whole training set
(``train_eval='batches'``: the record's ``train_loss`` is the mean of the epoch's minibatch
losses): the whole-set ``J(w)`` and ``||grad J(w)||`` cost a forward and a backward pass over
the data every epoch, so they are computed when something asks for them: ``grad_tol`` (the
lecture's theta-stop), ``diagnostics``, batch mode (where they are the update's), or
``train_eval='loss'`` / ``'grad'`` explicitly.

The optimizer's own hyper-parameters (``lr``, ``momentum``, ...) are checked by the
optimizer when the trainer builds it (:mod:`feedforward.optim`), and ``metrics`` against
the output unit's task, not here: each rule lives with what it is about.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field, fields

from .._validation import Bool, Choice, Int, Path, Real, _shown
from ..optim.optimizers import Optimizer
from ..optim.schedules import get_schedule
from .batching import DEFAULT_BATCH_SIZE, MODES, SHUFFLES
from .callbacks import check_callbacks
from .stopping import MONITORS, Monitor

__all__ = [
    "Options", "NAMES", "DEFAULTS", "DEFAULT_LR", "DEFAULT_BATCH_SIZE", "TRAIN_EVAL", "DATA_ARGUMENTS", "need_tqdm",
    "signature", "parameters_doc",
]

TRAIN_EVAL = ("grad", "loss", "batches")

#: The learning rate of each built-in optimizer when ``lr`` is left out.
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01}


# ------------------------------------------------------------------ checks
def _optimizer(value, name):
    if isinstance(value, Optimizer):
        return value
    expected = "'sgd', 'adam' or an ff.optim.Optimizer"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {expected}, got {_shown(value)}")
    if value.lower() not in ("sgd", "adam"):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value.lower()


def _batch_size(value, name):
    # The default keeps its type: it shrinks to n on small data sets instead of raising.
    return value if value is DEFAULT_BATCH_SIZE else Int(1)(value, name)


def _lr_schedule(value, name):
    get_schedule(value, max_epochs=1)  # the schedule module's own check of names and types
    return value


def _batch_schedule(value, name):
    if value is None:
        return None
    needed = ("size", "observe", "state_dict", "load_state_dict", "reset")
    if not all(callable(getattr(value, m, None)) for m in needed):
        raise TypeError(
            f"{name} must be a GrowingBatch (or have size(epoch, n), observe, state_dict, "
            f"load_state_dict, reset), got {type(value).__name__}"
        )
    return value


def _callbacks(value, name):
    return check_callbacks(value)


def _comm(value, name):
    if value is None:
        return None
    from ..distributed.comm import as_communicator  # imports mpi4py only for a communicator

    return as_communicator(value, name)


def _device(value, name):
    if value is None:
        return None
    from ..backend import device, get_backend

    try:
        dev = device(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None
    get_backend(dev)  # a device this machine cannot give fails here, saying what is missing
    return dev


def _capture(value, name):
    if value == "auto" and isinstance(value, str) or value is True or value is False:
        return value
    raise ValueError(f"{name} must be 'auto', True or False, got {_shown(value)}")


def _option(default, check, kind: str, doc: str):
    """One option: ``default``, ``check(value, name) -> clean value`` (None: checked elsewhere),
    its numpydoc type and its description."""
    return field(default=default, metadata={"check": check, "kind": kind, "doc": doc})


# ------------------------------------------------------------- the options
@dataclass(frozen=True, eq=False)
class Options:
    """Every option of ``ff.fit`` / ``ff.Trainer``, checked (see the module docstring)."""

    optimizer: object = _option(
        "adam", _optimizer, "{'sgd', 'adam'} or Optimizer",
        "A name, built on the model's trainable parameters with the options below, or an optimizer "
        "already built on exactly those parameters (its own hyper-parameters are used; "
        ":meth:`Trainer.fit` resets its state, :meth:`Trainer.partial_fit` keeps it). Parameters with "
        "``requires_grad=False`` are left alone. Adam by default (see the module docstring for why); "
        "``'sgd'`` is the lecture's.")
    lr: float = _option(
        None, None, "float, optional",
        "Learning rate ``eta > 0`` (the lecture's erratum calls it \"weight decay\"); default 1e-3 for "
        "Adam, 0.01 for SGD.")
    momentum: float = _option(0.0, None, "float", "SGD's momentum ``mu`` in ``[0, 1)``.")
    nesterov: bool = _option(False, None, "bool", "SGD with Nesterov momentum.")
    weight_decay: float = _option(
        0.0, None, "float",
        "The L2 penalty ``lambda`` (SGD and Adam): minimises ``J(w) + lambda/2 ||w||^2``.")
    betas: tuple = _option((0.9, 0.999), None, "(float, float)", "Adam's moment decay rates.")
    eps: float = _option(1e-8, None, "float", "Adam's ``epsilon``.")
    mode: str = _option(
        "minibatch", Choice(*MODES), "{'minibatch', 'stochastic', 'batch'}",
        "How an epoch goes through the data (:mod:`feedforward.training.batching`).")
    batch_size: int = _option(
        DEFAULT_BATCH_SIZE, _batch_size, "int",
        "Minibatch size (``mode='minibatch'`` only; ``1 <= batch_size <= n``). The default 32 "
        "becomes ``n`` on data sets of fewer than 32 examples.")
    shuffle: str = _option(
        "examples", Choice(*SHUFFLES), "{'examples', 'batches'}",
        "Minibatch mode: ``'examples'`` reshuffles the examples every epoch (new minibatches each "
        "epoch); ``'batches'`` is the lecture's minibatch SGD, the training set cut into minibatches "
        "once and their order permuted every epoch.")
    max_epochs: int = _option(100, Int(1), "int", "Upper bound on epochs (``stop_reason == 'max_epochs'``).")
    grad_tol: float = _option(
        None, Real(0, low_open=True, none=True), "float, optional",
        "The lecture's ``theta``: stop when ``||grad J(w)||_2 < theta``, ``J`` the training objective "
        "over the whole training set at the end of the epoch (with the L2 penalty when "
        "``weight_decay > 0``).")
    lr_schedule: object = _option(
        None, _lr_schedule, "str or LRSchedule, optional",
        "A name from :mod:`feedforward.optim.schedules` (``'step'``, ``'exponential'``, "
        "``'invscaling'``, ``'cosine'``, ``'plateau'``, ``'adaptive'``, ...) or a schedule object; "
        "applied once per epoch.")
    batch_schedule: object = _option(
        None, _batch_schedule, "GrowingBatch, optional",
        "A growing minibatch size (L-SGD-4); needs ``mode='minibatch'``.")
    early_stopping: bool = _option(
        False, Bool(), "bool",
        "Stop after ``patience`` epochs without an improvement larger than ``min_delta`` in "
        "``monitor``.")
    patience: int = _option(10, Int(1), "int", "Epochs without improvement before early stopping.")
    min_delta: float = _option(0.0, Real(0), "float", "The smallest change of ``monitor`` that counts.")
    restore_best: bool = _option(
        True, Bool(), "bool", "With early stopping, put back the weights of the best epoch.")
    monitor: str = _option(
        None, Choice(*MONITORS, none=True), "str, optional",
        "``'val_loss'`` (default with validation data), ``'train_loss'`` (default without), "
        "``'val_metric'`` or ``'train_metric'``.")
    metrics: object = _option(
        None, None, "str or list of str, optional",
        "``'accuracy'``, ``'mse'``, ``'mae'``, ``'r2'``; default accuracy for classification output "
        "units, mse for the Gaussian. The first is recorded as ``*_metric``.")
    callbacks: tuple = _option(
        (), _callbacks, "sequence",
        "Objects with ``on_epoch_end`` / ``on_batch_end`` ... (:mod:`feedforward.training.callbacks`).")
    progress: bool = _option(
        False, Bool(), "bool",
        "A tqdm progress bar over epochs (needs the ``progress`` extra); when stderr is not a terminal "
        "(a log file, CI), one line every tenth of ``max_epochs`` instead (:mod:`.progress`).")
    diagnostics: bool = _option(
        False, Bool(), "bool",
        "Per epoch and layer: dead rectifier units, saturated squashing units, gradient norms "
        "(L-ACT-7), under ``record['diagnostics']``.")
    clip_norm: float = _option(
        None, Real(0, low_open=True, none=True), "float, optional",
        "Clip each update's gradient to this global norm.")
    checkpoint_path: str = _option(
        None, Path(none=True), "path, optional",
        "Write a checkpoint every ``checkpoint_every`` epochs and when the run stops; its folder "
        "must exist and be writable (checked before the first epoch).")
    checkpoint_every: int = _option(
        None, Int(1, none=True), "int, optional",
        "Epochs between checkpoints (None: only when the run stops); needs ``checkpoint_path``.")
    resume_from: str = _option(
        None, Path(none=True), "path, optional",
        "Continue a run from a checkpoint, bit-identically to an uninterrupted run; the options "
        "that shape the run must equal the checkpoint's (see :class:`Trainer`).")
    rng: object = _option(
        None, None, "int, Generator or None",
        "Randomness of the shuffling, the stochastic sampling and the validation split (with "
        "``comm``, rank 0's generator is used on every rank).")
    comm: object = _option(
        None, _comm, "mpi4py communicator or ff.distributed.Communicator, optional",
        "Data-parallel training over MPI (L-DIST-1): each rank passes its own shard ``X, y``; the "
        "weights start as rank 0's, each update sums the ranks' gradients in one Allreduce, and "
        "every value and decision is over all shards (:mod:`feedforward.distributed`).")
    device: object = _option(
        None, _device, "str or Device, optional",
        "Train on this device (``'cpu'``, ``'cuda'``, ``'cuda:1'``): the model is moved there in place "
        "(``model.to(device)``; it stays there after the run) and the data once, before the first "
        "epoch. Each epoch's shuffle is drawn on the host from ``rng`` (the same run on every device) "
        "and moved once; the minibatches are gathered, the losses kept and the divergence checks "
        "reduced on the device, with a few host synchronisations per epoch, not one per update "
        "(a callback's ``on_batch_end`` needs each update's loss on the host: one each). "
        "Default: where the model's parameters are.")
    capture: object = _option(
        "auto", _capture, "{'auto', True, False}",
        "Replay each fixed-shape minibatch step (forward, loss, backward, update) from a capture of "
        "it, where the device can (a CUDA graph: :meth:`feedforward.backend.Backend.capture`). "
        "``'auto'``: when the backend offers it; ``True``: an error if it does not; ``False``: always "
        "run the step eagerly (for debugging). A last, shorter minibatch always runs eagerly.")
    eval_chunk_size: int = _option(
        4096, Int(1), "int", "Rows per forward pass in the epoch-end evaluation (memory vs speed).")
    saturation_tol: float = _option(
        0.1, Real(0, 1, low_open=True, high_open=True), "float",
        "Threshold of the saturation diagnostic (:mod:`feedforward.training.diagnostics`).")
    train_eval: str = _option(
        None, Choice(*TRAIN_EVAL, none=True), "{'grad', 'loss', 'batches'}, optional",
        "What the end of each epoch computes on the training set. ``'batches'`` (the default unless "
        "something below needs more): no extra pass, ``train_loss`` is the mean of the epoch's "
        "minibatch losses (scikit-learn's ``loss_curve_``, Keras' ``loss``), ``train_metric`` and "
        "``grad_norm`` are None. ``'loss'``: ``J(w)`` and the metrics over the whole training set "
        "(a forward pass; the default with ``metrics`` or ``monitor='train_metric'``). ``'grad'``: also "
        "``||grad J(w)||`` (forward and backward), as the lecture's algorithms test; the default "
        "with ``grad_tol`` or ``diagnostics``. ``mode='batch'`` always records all three (the full "
        "gradient is the next update's).")

    def __post_init__(self):
        for f in fields(self):
            check = f.metadata["check"]
            if check is not None:
                object.__setattr__(self, f.name, check(getattr(self, f.name), f.name))
        if self.batch_schedule is not None and self.mode != "minibatch":
            raise ValueError(f"batch_schedule needs mode='minibatch', got mode={self.mode!r}")
        if self.checkpoint_every is not None and self.checkpoint_path is None:
            raise ValueError("checkpoint_every needs checkpoint_path")
        if self.progress:
            need_tqdm()
        if self.comm is not None and self.diagnostics:
            raise ValueError("diagnostics=True is not available with comm (the per-layer statistics are "
                             "per shard); run the diagnostics in one process")
        if self.comm is not None and self.device is not None and self.device.type != "cpu":
            raise ValueError(f"device={str(self.device)!r} is not available with comm (data-parallel runs "
                             "train on the CPU); leave device out")
        object.__setattr__(self, "train_eval", self._train_eval())
        if self.lr is None and isinstance(self.optimizer, str):
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])

    def _train_eval(self) -> str:
        # The whole-set pass is paid for only when something reads it (issue 14): a training run
        # that records nothing of it should not spend a third of its time computing it.
        how = self.train_eval
        if how is None:
            if self.grad_tol is not None or self.diagnostics or self.mode == "batch":
                how = "grad"
            else:
                # Metrics asked for by name are recorded on the training set too (a forward pass).
                how = "loss" if self.monitor == "train_metric" or self.metrics is not None else "batches"
        if self.mode == "batch" or how == "grad":
            return how
        if self.grad_tol is not None:
            raise ValueError(
                f"grad_tol needs ||grad J(w)|| over the whole training set every epoch: "
                f"train_eval='grad', not {how!r}"
            )
        if self.diagnostics:
            raise ValueError(f"diagnostics need train_eval='grad', not {how!r}")
        if how == "batches" and self.monitor == "train_metric":
            raise ValueError("monitor='train_metric' needs train_eval='grad' or 'loss', not 'batches'")
        return how

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> Options:
        """Check ``kwargs`` (the ``**options`` of ``ff.fit`` / ``ff.Trainer``); an unknown name is a
        TypeError."""
        unknown = [k for k in kwargs if k not in NAMES]
        if unknown:
            raise TypeError(
                f"got an unexpected keyword argument {unknown[0]!r}; the options of ff.fit and "
                f"ff.Trainer are {', '.join(NAMES)}"
            )
        return cls(**kwargs)

    def make_monitor(self, metric: str, has_val: bool) -> Monitor:
        """The early-stopping monitor these options ask for (``metric``: the first metric's name)."""
        key = self.monitor or ("val_loss" if has_val else "train_loss")
        if key.startswith("val_") and not has_val:
            raise ValueError(f"monitor={key!r} needs validation_data or validation_fraction")
        return Monitor(key, metric, self.min_delta, keep_weights=self.early_stopping and self.restore_best)


NAMES = tuple(f.name for f in fields(Options))
DEFAULTS = {f.name: f.default for f in fields(Options)}

DATA_ARGUMENTS = {
    "validation_data": (
        "(X_val, y_val) or (X_val, y_val, w_val), optional",
        "Data evaluated at the end of every epoch (``val_loss``, ``val_metric``)."),
    "validation_fraction": (
        "float in (0, 1), optional",
        "Hold out this fraction of ``X`` instead (``ceil(fraction * n)`` rows, stratified by class "
        "for classification: :func:`feedforward.data.split.split_indices`)."),
    "sample_weight": (
        "array of shape (n,), optional",
        "Per-example weights: ``J = sum_i w_i l_i / sum_i w_i``."),
}
"""The data arguments of ``ff.fit`` and :meth:`Trainer.fit` (documented once, here)."""


def need_tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("progress=True needs tqdm: pip install feedforward[progress]") from exc
    return tqdm


def signature(*leading: inspect.Parameter) -> inspect.Signature:
    """``leading`` parameters, then every option as a keyword-only parameter with its default."""
    options = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
               for f in fields(Options)]
    return inspect.Signature([*leading, *options])


def parameters_doc(names=None, indent: str = "    ") -> str:
    """numpydoc entries for the options (or for ``names`` among them and the data arguments)."""
    table = {f.name: (f.metadata["kind"], f.metadata["doc"]) for f in fields(Options)}
    table.update(DATA_ARGUMENTS)
    lines = []
    for name in names or NAMES:
        kind, doc = table[name]
        lines.append(f"{indent}{name} : {kind}")
        lines.append(textwrap.fill(doc, 96, initial_indent=indent + "    ", subsequent_indent=indent + "    "))
    return "\n".join(lines)
