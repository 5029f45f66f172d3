"""What a page may ask for: the bounds, and one checked :class:`Config` of a session.

Everything a page sends is untrusted: each field goes through the validation layer
(:mod:`feedforward._validation`) and a refusal is a ``ValueError`` / ``TypeError`` whose
message the page shows as it is ("layer 1: units must be an integer in [1, 8], got 0").
Numbers may come as JSON numbers or as the text of an input box ("0.03", "NaN"): text is
read with ``float()``, so "NaN" is refused by the same rule as a NaN.

The bounds keep one page from exhausting the server: TensorFlow Playground's 6 hidden layers
of at most 8 units, at most :data:`MAX_POINTS` points, and the message and session limits
the server enforces (:mod:`.server`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from .._validation import Bool, Choice, Int, Real
from ..nn.activation import UNITS
from ..nn.output import OUTPUTS
from ..training.batching import MODES
from .datasets import DATASETS, FEATURES

__all__ = [
    "Config", "MAX_LAYERS", "MAX_UNITS", "MAX_POINTS", "MAX_SESSIONS", "MAX_MESSAGES_PER_SECOND",
    "MAX_MESSAGE_BYTES", "MAX_MODEL_BYTES", "OUTPUT_LOSSES", "DATA_FIELDS", "MODEL_FIELDS",
]

MAX_LAYERS = 6
MAX_UNITS = 8
MAX_POINTS = 1000
MAX_SESSIONS = 32
MAX_MESSAGES_PER_SECOND = 20  # sustained; a burst of twice that is allowed
MAX_MESSAGE_BYTES = 64 * 1024
MAX_MODEL_BYTES = 2 * 1024 * 1024  # a model file loaded into the page

# The loss each output unit implies (shown on the page beside the choice).
OUTPUT_LOSSES = {
    "bernoulli": "J = mean softplus((1 - 2y) z),  p(y=1|x) = sigmoid(z)",
    "categorical": "J = mean (logsumexp(z) - z_y),  p(y|x) = softmax(z)",
    "gaussian": "J = mean 1/2 (y - z)^2,  p(y|x) = N(y; z, 1)",
}

# A unit's hyper-parameters the page may set, with their own bounds (the registry's constraint
# applies too): a slope or alpha far outside these teaches nothing and can overflow.
_HPARAM = Real(-10, 10)
_PAGE_HPARAMS = {name: tuple(k for k in cls.hparams if k != "num_parameters") for name, cls in UNITS.items()}


def _number(value):
    """A JSON number, or the text of an input box read as a float; anything else as it is."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _int(value):
    value = _number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Layer:
    """One hidden layer: its width, its unit and the unit's hyper-parameters (slope, alpha)."""

    units: int = 4
    activation: str = "tanh"
    hparams: dict = field(default_factory=dict)

    @classmethod
    def checked(cls, spec, where: str) -> Layer:
        if not isinstance(spec, dict):
            raise TypeError(f"{where} must be an object {{units, activation, hparams}}, got {type(spec).__name__}")
        unknown = set(spec) - {"units", "activation", "hparams"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; expected units, activation, hparams")
        units = Int(1, MAX_UNITS)(_int(spec.get("units", 4)), f"{where}: units")
        activation = Choice(*UNITS)(spec.get("activation", "tanh"), f"{where}: activation")
        hparams = spec.get("hparams") or {}
        if not isinstance(hparams, dict):
            raise TypeError(f"{where}: hparams must be an object, got {type(hparams).__name__}")
        allowed = _PAGE_HPARAMS[activation]
        extra = set(hparams) - set(allowed)
        if extra:
            takes = list(allowed) or "no hyper-parameters"
            raise ValueError(f"{where}: {activation} takes {takes}, got {sorted(extra)}")
        clean = {k: _HPARAM(_number(v), f"{where}: {k}") for k, v in hparams.items()}
        try:  # the unit's own rules too (e.g. RReLU's lower <= upper): build one and drop it
            UNITS[activation].build(units=units, **clean)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(units, activation, clean)


@dataclass(frozen=True)
class Config:
    """One session's settings, checked. ``Config.checked(dict)`` builds it from a page's message."""

    # the data
    dataset: str = "circles"
    noise: float = 0.1
    train_fraction: float = 0.5
    points: int = 400
    seed: int = 0
    features: tuple = ("x1", "x2")
    # the network
    layers: tuple = (Layer(6, "tanh"), Layer(6, "tanh"))
    output: str = "bernoulli"
    relu_bias: bool = True  # ReLU layers start with bias 0.1 (L-ACT-6)
    # the training
    optimizer: str = "adam"
    lr: float = 0.03
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    mode: str = "minibatch"
    batch_size: int = 16
    growing_batch: bool = False
    grad_tol: float | None = None

    @classmethod
    def checked(cls, values: dict, base: Config | None = None) -> Config:
        """``base`` (default: the defaults) with the fields of ``values`` changed, every field checked."""
        if not isinstance(values, dict):
            raise TypeError(f"the settings must be an object, got {type(values).__name__}")
        base = cls() if base is None else base
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; the settings are {sorted(names)}")
        v = dict(values)
        out = {}
        out["dataset"] = Choice(*DATASETS)(v.get("dataset", base.dataset), "dataset")
        out["noise"] = Real(0, 1)(_number(v.get("noise", base.noise)), "noise")
        out["train_fraction"] = Real(0.1, 0.9)(_number(v.get("train_fraction", base.train_fraction)),
                                               "train_fraction")
        out["points"] = Int(20, MAX_POINTS)(_int(v.get("points", base.points)), "points")
        out["seed"] = Int(0, 2**31 - 1)(_int(v.get("seed", base.seed)), "seed")
        out["features"] = _features(v.get("features", base.features))
        out["layers"] = _layers(v["layers"]) if "layers" in v else base.layers
        out["output"] = Choice(*OUTPUTS)(v.get("output", base.output), "output")
        out["relu_bias"] = Bool()(v.get("relu_bias", base.relu_bias), "relu_bias")
        out["optimizer"] = Choice("sgd", "adam")(v.get("optimizer", base.optimizer), "optimizer")
        out["lr"] = Real(0, 10, low_open=True)(_number(v.get("lr", base.lr)), "lr")
        out["momentum"] = Real(0, 1, high_open=True)(_number(v.get("momentum", base.momentum)), "momentum")
        out["nesterov"] = Bool()(v.get("nesterov", base.nesterov), "nesterov")
        out["weight_decay"] = Real(0, 1)(_number(v.get("weight_decay", base.weight_decay)), "weight_decay")
        out["mode"] = Choice(*MODES)(v.get("mode", base.mode), "mode")
        out["batch_size"] = Int(1, MAX_POINTS)(_int(v.get("batch_size", base.batch_size)), "batch_size")
        out["growing_batch"] = Bool()(v.get("growing_batch", base.growing_batch), "growing_batch")
        tol = _number(v.get("grad_tol", base.grad_tol))
        if tol == "" or (isinstance(tol, float) and tol == 0.0):
            tol = None  # an empty box (or 0) means no stopping rule
        out["grad_tol"] = Real(0, low_open=True, none=True)(tol, "grad_tol")
        config = cls(**out)
        config._check_together()
        return config

    def _check_together(self) -> None:
        data = DATASETS[self.dataset]
        unit = OUTPUTS[self.output]
        if unit.task != data.task:
            fits = [n for n, c in OUTPUTS.items() if c.task == data.task and (n != "bernoulli" or data.classes == 2)]
            raise ValueError(f"output {self.output!r} is for {unit.task}, but {self.dataset!r} is a "
                             f"{data.task} data set: choose {' or '.join(map(repr, fits))}")
        if self.output == "bernoulli" and data.classes != 2:
            raise ValueError(f"output 'bernoulli' is for two classes, {self.dataset!r} has {data.classes}: "
                             "choose 'categorical'")
        if self.growing_batch and self.mode != "minibatch":
            raise ValueError(f"a growing batch needs mode 'minibatch', got {self.mode!r}")
        from .datasets import features_for

        if not features_for(data, self.features):
            raise ValueError(f"{self.dataset!r} is 1-D: choose at least one of x1, x1^2, sin x1")

    def changed(self, other: Config) -> set:
        """The names of the fields that differ from ``other``."""
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}

    def with_(self, **values) -> Config:
        return replace(self, **values)

    def to_json(self) -> dict:
        d = asdict(self)
        d["features"] = list(self.features)
        d["layers"] = [asdict(layer) for layer in self.layers]
        return d


def _features(value) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"features must be a list of names, got {type(value).__name__}")
    if not value:
        raise ValueError(f"features: choose at least one of {list(FEATURES)}")
    check = Choice(*FEATURES)
    chosen = {check(f, "features") for f in value}
    return tuple(f for f in FEATURES if f in chosen)


def _layers(value) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"layers must be a list of layers, got {type(value).__name__}")
    if len(value) > MAX_LAYERS:
        raise ValueError(f"layers: at most {MAX_LAYERS} hidden layers, got {len(value)}")
    return tuple(Layer.checked(spec, f"layer {i + 1}") for i, spec in enumerate(value))


# The fields whose change means new data, and those that mean a new network.
DATA_FIELDS = {"dataset", "noise", "train_fraction", "points", "seed", "features"}
MODEL_FIELDS = {"layers", "output", "relu_bias"}
