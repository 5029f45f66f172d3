"""One page's session: its settings, its data, its network and the real trainer that trains it.

A :class:`Session` is driven by one WebSocket (:mod:`.server`) and touched only under its
``lock``, from one worker thread at a time: the training slices, the frames, the settings and
the model files all go through it, so no two of them ever see a half-updated network.

Training is the library's own: :class:`feedforward.training.Trainer` with
:meth:`~feedforward.training.Trainer.partial_fit`, one epoch per call, keeping the optimizer's
state (momentum, Adam's moments) from epoch to epoch. "One step" is one update made from the
same public pieces the epoch is made of: the trainer's optimizer, the model and the output
unit's ``nll`` on one pattern, one minibatch or the whole training set, as the mode says.
Changing the optimizer, the learning rate, the mode or a layer's unit keeps the weights and
builds a new trainer around them; changing the data or the layer sizes builds a new network.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import numpy as np

from ..data.split import split_indices
from ..nn.activation import UNITS, Unit
from ..nn.mlp import MLP
from ..tensor import Tensor
from ..training import Trainer
from ..training.batching import GrowingBatch
from .config import DATA_FIELDS, MAX_MODEL_BYTES, MODEL_FIELDS, Config
from .datasets import DATASETS, FEATURES, features_for, featurize, make_dataset

__all__ = ["Session", "GROW_EVERY", "MAX_CURVE_POINTS"]

GROW_EVERY = 20  # a growing batch doubles every GROW_EVERY epochs (L-SGD-4)
MAX_CURVE_POINTS = 600  # the loss curves keep at most this many points (older ones thinned)
_IMPORT_MAX_WIDTH = 64  # an imported model may be wider than the page builds (the lecture's networks)
_IMPORT_MAX_LAYERS = 8


class Session:
    """The state of one page (see the module docstring); every method takes ``lock`` itself.

    Attributes
    ----------
    config : Config
        The checked settings.
    model : MLP
        The network: the page's own, or a loaded model file while ``imported`` names it.
    trainer : feedforward.training.Trainer
        Built around ``model`` with the settings' optimizer, mode, batch and ``grad_tol``.
    X_train, y_train, X_test, y_test : arrays
        The data in the model's features (``features``), float32; ``points`` has them as points.
    epoch, updates : int
        Epochs trained and updates made since the network was built (reset puts both to 0).
    playing : bool
    status : str
        What the page shows under the controls ("training", why it stopped, ...).
    curves : list of dict
        The points of the curves, thinned to at most ``MAX_CURVE_POINTS``.
    rate_mark : (float, int)
        Time and update count of the last frame, for updates per second.
    """

    def __init__(self, config: Config | None = None):
        self.lock = threading.Lock()
        self.config = config or Config()
        self.playing = False
        self.status = "ready"
        self.imported = None  # the file name while a loaded model file is shown
        self._resets = 0
        with self.lock:
            self._new_data()
            self._new_model()

    # ------------------------------------------------------------ building
    def _new_data(self) -> None:
        c = self.config
        d = DATASETS[c.dataset]
        X, y = make_dataset(c.dataset, c.points, c.noise, c.seed)
        self.dataset = d
        self.features = features_for(d, c.features)
        if len(X) <= 4:  # XOR's four points: the test set is the training set
            train, test = np.arange(len(X)), np.arange(len(X))
        else:
            labels = y if d.task == "classification" else None
            train, test = split_indices(len(X), 1 - c.train_fraction, stratify=labels, rng=c.seed)
        self.points = (X[train], y[train], X[test], y[test])
        self.X_train, self.y_train = featurize(X[train], self.features), y[train]
        self.X_test, self.y_test = featurize(X[test], self.features), y[test]

    def _n_outputs(self) -> int:
        return self.dataset.classes if self.config.output == "categorical" else 1

    def _units(self, rng) -> list:
        return [UNITS[layer.activation].build(units=layer.units, rng=rng, **layer.hparams)
                for layer in self.config.layers]

    def _new_model(self) -> None:
        c = self.config
        rng = np.random.default_rng([c.seed, self._resets])
        sizes = [len(self.features), *(layer.units for layer in c.layers), self._n_outputs()]
        # bias_init None: MLP's own rule, 0.1 for ReLU layers (L-ACT-6); 0.0 turns it off.
        self.model = MLP(sizes, activation=self._units(rng), output=c.output,
                         bias_init=None if c.relu_bias else 0.0, rng=rng)
        self.epoch, self.updates = 0, 0
        self.curves, self.curves_sent, self.curves_reset = [], 0, True
        self.rate_mark = (time.perf_counter(), 0)
        self._new_trainer()

    def _swap_units(self) -> None:
        """New hidden units in place, the affine layers' weights kept (switching while training)."""
        rng = np.random.default_rng([self.config.seed, self._resets, self.epoch])
        units = iter(self._units(rng))
        self.model.layers = [next(units) if isinstance(m, Unit) else m for m in self.model.layers]
        self._new_trainer()

    def _new_trainer(self) -> None:
        c = self.config
        n = len(self.X_train)
        options = dict(optimizer=c.optimizer, lr=c.lr, weight_decay=c.weight_decay, mode=c.mode,
                       grad_tol=c.grad_tol, rng=np.random.default_rng([c.seed, self._resets, self.epoch, 1]))
        if c.optimizer == "sgd":
            options.update(momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0)
        if c.mode == "minibatch":
            size = min(c.batch_size, n)
            if c.growing_batch:
                options["batch_schedule"] = GrowingBatch(size, factor=2, every=GROW_EVERY, max_size=n)
            else:
                options["batch_size"] = size
        self.trainer = Trainer(self.model, **options)
        self._step_rng = np.random.default_rng([c.seed, self._resets, self.epoch, 2])

    # ------------------------------------------------------------ commands
    def apply(self, values: dict) -> set:
        """Change the settings (checked: ValueError / TypeError name the field); returns what changed."""
        with self.lock:
            new = Config.checked(values, self.config)
            changed = new.changed(self.config)
            if not changed:
                return changed
            old, self.config = self.config, new
            sizes_changed = [k.units for k in old.layers] != [k.units for k in new.layers]
            try:
                if changed & DATA_FIELDS:
                    self._new_data()
                if self.imported:  # back from a loaded model file to the page's own network
                    self._new_data()
                    self._new_model()
                elif changed & (DATA_FIELDS | MODEL_FIELDS - {"layers"}) or sizes_changed:
                    self._new_model()
                elif "layers" in changed:  # only the units: keep the weights
                    self._swap_units()
                else:
                    self._new_trainer()
            except Exception:
                self.config = old  # the network stays what the page shows
                self._new_data()
                self._new_model()
                raise
            self.imported = None
            if self.epoch == 0:
                self.status = "ready"
            return changed

    def reset(self) -> None:
        """New initial weights (a new draw), epoch 0, the curves cleared; leaves a loaded model."""
        with self.lock:
            self.playing = False
            if self.imported:
                self._new_data()
            self.imported = None
            self._resets += 1
            self._new_model()
            self.status = "ready"

    def play(self, on: bool) -> None:
        with self.lock:
            if on and self.imported:
                raise ValueError(f"{self.imported} is a loaded model file, shown and not trained: "
                                 "press reset to train a network of your own")
            self.playing = bool(on)
            if on:
                self.status = "training"
                self.rate_mark = (time.perf_counter(), self.updates)

    def train_for(self, seconds: float) -> None:
        """Train whole epochs for about ``seconds`` (at least one), while playing."""
        with self.lock:
            end = time.perf_counter() + seconds
            while self.playing:
                t = self.trainer
                t.partial_fit(self.X_train, self.y_train)
                record = t.history.records[-1] if t.history.records else None
                # The trainer's history grows by one record an epoch: the page keeps its own
                # thinned curves, so only the last record is kept (bounded memory).
                del t.history.records[:-1]
                if t.stop_reason == "diverged":
                    self.playing = False
                    self.status = (f"diverged in epoch {self.epoch + 1}: weights restored; lower the "
                                   f"learning rate (lr={self.config.lr:g})")
                    return
                self.epoch += 1
                self.updates += record["n_updates"] if record else 0
                if t.stop_reason == "grad_norm":
                    self.playing = False
                    self.status = (f"stopped in epoch {self.epoch}: ||grad J|| = {record['grad_norm']:.3g} "
                                   f"< theta = {self.config.grad_tol:g}")
                    return
                if time.perf_counter() >= end:
                    return

    def step(self) -> None:
        """One update (one pattern, one minibatch or the whole set, as the mode says)."""
        with self.lock:
            if self.imported:
                raise ValueError(f"{self.imported} is a loaded model file: press reset to train")
            c, t = self.config, self.trainer
            n = len(self.X_train)
            if c.mode == "batch":
                rows = np.arange(n)
            elif c.mode == "stochastic":
                rows = self._step_rng.integers(0, n, size=1)
            else:
                rows = self._step_rng.choice(n, size=min(c.batch_size, n), replace=False)
            self.model.train()
            t.optimizer.zero_grad()
            loss = t.output.nll(self.model(Tensor(self.X_train[rows])), self.targets(self.y_train[rows]))
            loss.backward()
            t.optimizer.step()
            self.updates += 1
            self.status = f"one update on {len(rows)} example{'s' if len(rows) > 1 else ''}"

    def targets(self, y):
        """``y`` as the output unit takes it: labels, or one column for Bernoulli and Gaussian."""
        return y if self.config.output == "categorical" else y.reshape(-1, 1)

    # ---------------------------------------------------------- model files
    def export(self) -> bytes:
        """The network as a model file (``ff.save``): ``ff.load`` opens it; the features it reads
        and the page's settings are in its metadata."""
        from ..io import save

        with self.lock:
            model = self.model
            meta = {"playground.features": ",".join(self.features),
                    "playground.dataset": self.config.dataset}
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "playground.safetensors")
                save(model, path, metadata=meta)
                with open(path, "rb") as f:
                    return f.read()

    def load_model(self, data: bytes, name: str = "model.safetensors") -> None:
        """Show a model file (at most MAX_MODEL_BYTES): its region, units and weights; not trained."""
        from ..io import load

        if len(data) > MAX_MODEL_BYTES:
            raise ValueError(f"the model file is {len(data)} bytes; the playground loads at most {MAX_MODEL_BYTES}")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "upload.safetensors")
            with open(path, "wb") as f:
                f.write(data)
            model, meta = load(path, return_metadata=True)
        if not isinstance(model, MLP) or model.output is None:
            raise ValueError("the playground shows MLPs saved with an output unit (ff.nn.MLP(..., output=...))")
        sizes = model.sizes
        if len(sizes) - 1 > _IMPORT_MAX_LAYERS or max(sizes) > _IMPORT_MAX_WIDTH:
            raise ValueError(f"the model's sizes {sizes} exceed what the page draws: at most "
                             f"{_IMPORT_MAX_LAYERS} layers of at most {_IMPORT_MAX_WIDTH} units")
        features = _features_of(meta, sizes[0])
        with self.lock:
            self.playing = False
            self.model = model
            self.features = features
            self.imported = os.path.basename(name)[:80] or "model.safetensors"
            self.status = f"showing {self.imported}: {model.output.name} output, sizes {sizes}"
            self.curves, self.curves_sent, self.curves_reset = [], 0, True


def _features_of(meta: dict, n_inputs: int) -> list:
    text = meta.get("playground.features")
    if text is not None:
        names = text.split(",")
        if len(names) != n_inputs or not set(names) <= set(FEATURES):
            raise ValueError(f"the model file's playground.features {text!r} do not match its {n_inputs} inputs")
        return names
    if n_inputs in (1, 2):
        return ["x1", "x2"][:n_inputs]
    raise ValueError(f"the model has {n_inputs} inputs and no playground.features: the page draws models "
                     "of the plane (2 inputs x1, x2) or of a line (1 input)")
