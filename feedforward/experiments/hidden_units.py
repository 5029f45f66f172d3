"""Hidden units: dead ReLUs at a careless learning rate, ELU's remedy, tanh ~ linear, sigmoid saturation (L-PROP-3)."""

from __future__ import annotations

import warnings

import numpy as np

from . import _plot

ORDER = 48
TITLE = "Hidden units: dying ReLUs, ELU, tanh near zero, saturating sigmoids"
QUOTE = (
    '(ReLU) Units “die”: 即不活跃的单元永远不会被更新 …… 默认采用ReLU，但要谨慎选择学习率 …… '
    '(ELU) ReLU的所有优势 + 没有units die …… (Tanh) 当激活值很小的时候, ŷ = wᵀtanh(Uᵀtanh(Vᵀx)) '
    '近似 ŷ = wᵀUᵀVᵀx …… (Sigmoid) 大部分领域饱和，只有z接近零时非常敏感',
    'ReLU units "die": an inactive unit is never updated again ... use ReLU by default, but choose the '
    'learning rate carefully ... ELU: all the advantages of ReLU, and no units die ... tanh: when the '
    "activations are small, y = w^T tanh(U^T tanh(V^T x)) is close to y = w^T U^T V^T x ... sigmoid: "
    'saturated over most of its domain, sensitive only when z is near zero.',
)
CLAIM = (
    "With a careless (large) learning rate ReLU units die, inactive on every training example and never "
    "updated again, while ELU units, which pass a gradient for z < 0, do not (measured with the library's "
    "diagnostics, L-ACT-7). A tanh network at small activations is close to the linear network with the same "
    "weights, the error shrinking like the square of the input scale; a sigmoid network is not. Sigmoid "
    "units saturate for most of their input range: with larger weights most (example, unit) pairs saturate."
)

LRS = (0.1, 0.3, 0.6, 0.8, 1.0)


def _digits():
    from feedforward.data import Standardizer, load_digits, train_test_split

    ds = load_digits()
    X_tr, _, y_tr, _ = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=0)
    return Standardizer().fit(X_tr).transform(X_tr), y_tr


def _dead_units(X, y, seeds, epochs):
    """``{(unit, lr): (dead fraction of hidden units, final loss or None if diverged)}``."""
    import feedforward as ff
    from feedforward.training import activation_report

    out = {}
    for act in ("relu", "elu"):
        for lr in LRS:
            dead, loss = [], []
            for seed in seeds:
                net = ff.nn.MLP([64, 64, 64, 10], activation=act, output="categorical", rng=seed)
                with warnings.catch_warnings():  # a diverged run is a result here (counted, shown), not a slip
                    warnings.simplefilter("ignore", ff.training.DivergenceWarning)
                    h = ff.fit(net, X, y, optimizer="sgd", lr=lr, batch_size=32, max_epochs=epochs,
                               train_eval="loss", rng=seed)  # the table reads the final J(w)
                if h.stop_reason == "diverged":
                    continue
                rep = activation_report(net, X)["dead_fraction"]
                dead.append(float(np.mean(list(rep.values()))))
                loss.append(h["train_loss"][-1])
            out[(act, lr)] = (float(np.mean(dead)) if dead else None, float(np.mean(loss)) if loss else None,
                              len(seeds) - len(dead))
    return out


def _linear_regime(act: str, scales):
    """Relative error of ``w^T g(U^T g(V^T x))`` against ``w^T U^T V^T x`` at each input scale."""
    rng = np.random.default_rng(0)
    V, U, w = rng.normal(size=(5, 8)) / 2, rng.normal(size=(8, 8)) / 3, rng.normal(size=8) / 3
    x = rng.normal(size=(200, 5))
    g = np.tanh if act == "tanh" else (lambda z: 1 / (1 + np.exp(-z)))
    errs = []
    for s in scales:
        xs = s * x
        net = g(g(xs @ V) @ U) @ w
        lin = xs @ V @ U @ w
        errs.append(float(np.linalg.norm(net - lin) / np.linalg.norm(lin)))
    return errs


def _saturation(X, scales):
    """Fraction of saturated (example, unit) pairs of sigmoid and tanh layers vs weight scale."""
    import feedforward as ff
    from feedforward.training import activation_report

    out = {}
    for act in ("sigmoid", "tanh"):
        rates = []
        for s in scales:
            net = ff.nn.MLP([64, 64, 10], activation=act, output="categorical", rng=0)
            net.linears[0].weight.data = net.linears[0].weight.data * s
            rates.append(float(np.mean(list(activation_report(net, X)["saturation_rate"].values()))))
        out[act] = rates
    return out


def run(out_dir, quick: bool = False) -> dict:
    X, y = _digits()
    seeds = range(1) if quick else range(3)
    dead = _dead_units(X, y, seeds, 5)
    scales = np.geomspace(0.01, 1.0, 9)
    lin = {a: _linear_regime(a, scales) for a in ("tanh", "sigmoid")}
    slope = float(np.polyfit(np.log(scales[:4]), np.log(lin["tanh"][:4]), 1)[0])
    wscales = (0.5, 1, 2, 4, 8)
    sat = _saturation(X, wscales)

    fig, axes = _plot.figure(1, 3, size=(15, 4.2))
    ax = axes[0]
    for act in ("relu", "elu"):
        pts = [(lr, dead[(act, lr)][0]) for lr in LRS if dead[(act, lr)][0] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=_plot.color(act), label=act)
        for lr in LRS:
            if dead[(act, lr)][0] is None:
                ax.plot([lr], [0], "x", color=_plot.color(act), ms=10, label=f"{act}: diverged at lr {lr:g}")
    ax.set(title="Dead hidden units after training (digits, SGD)", xlabel="learning rate",
           ylabel="fraction of hidden units dead on all examples")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    ax = axes[1]
    for act in ("tanh", "sigmoid"):
        ax.loglog(scales, lin[act], "o-", color=_plot.color(act), label=act)
    ax.loglog(scales, lin["tanh"][0] * (scales / scales[0]) ** 2, "k:", label="slope 2")
    ax.set(title="Network vs its linear counterpart w'U'V'x", xlabel="input scale s",
           ylabel="relative error (log scale)")
    ax.legend(fontsize=8)
    ax = axes[2]
    for act in ("sigmoid", "tanh"):
        ax.plot(wscales, sat[act], "o-", color=_plot.color(act), label=act)
    ax.set_xscale("log", base=2)
    ax.set(title="Saturation vs first-layer weight scale (digits)", xlabel="weights x scale (1 = Glorot)",
           ylabel="fraction of (example, unit) pairs saturated")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "hidden_units.png")

    both = [lr for lr in LRS if dead[("relu", lr)][0] is not None and dead[("elu", lr)][0] is not None]
    lr_hi = max(both) if both else None
    rows = [[act, lr, "diverged" if dead[(act, lr)][0] is None else f"{dead[(act, lr)][0]:.1%}",
             "-" if dead[(act, lr)][1] is None else f"{dead[(act, lr)][1]:.4f}", dead[(act, lr)][2]]
            for act in ("relu", "elu") for lr in LRS]
    summary = (
        f"A 64-64-64-10 network on digits, plain SGD (minibatch 32, 5 epochs, "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}), at learning rates {', '.join(map(str, LRS))}. Dead "
        "units (inactive on every training example, `activation_report`): ReLU "
        + ", ".join(f"{dead[('relu', lr)][0]:.0%} at {lr:g}" if dead[("relu", lr)][0] is not None else
                    f"diverged at {lr:g}" for lr in LRS)
        + "; ELU " + ", ".join(f"{dead[('elu', lr)][0]:.0%} at {lr:g}" if dead[("elu", lr)][0] is not None
                               else f"diverged at {lr:g}" for lr in LRS)
        + ". A careless step kills ReLUs; ELU units do not die where training still converges, but ELU is no "
          "licence for any step" + (" (it diverged at the largest rate)." if any(
              dead[("elu", lr)][0] is None for lr in LRS) else ".")
        + f" **tanh near zero.** For a 5-8-8-1 net, the relative gap between w'tanh(U'tanh(V'x)) and "
          f"w'U'V'x falls from {lin['tanh'][-1]:.2f} at input scale 1 to {lin['tanh'][0]:.1e} at 0.01, with a "
          f"log-log slope of {slope:.2f} (the cubic term of tanh: relative error ~ s^2); the sigmoid net stays "
          f"{lin['sigmoid'][0]:.1f} away (sigmoid(0) = 1/2, slope 1/4: no linear regime with the same weights). "
          "**Saturation.** With the first layer's weights scaled by "
        + ", ".join(f"{s:g}" for s in wscales) + ", the fraction of saturated (example, unit) pairs is "
        + ", ".join(f"{v:.0%}" for v in sat["sigmoid"]) + " for sigmoid and "
        + ", ".join(f"{v:.0%}" for v in sat["tanh"]) + " for tanh."
    )
    checks = {
        "tanh: relative error ~ s^2 (log-log slope in [1.8, 2.2])": 1.8 <= slope <= 2.2,
        "sigmoid: no linear regime (relative error > 0.5 at the smallest scale)": lin["sigmoid"][0] > 0.5,
        "sigmoid: saturation grows with the weight scale": all(np.diff(sat["sigmoid"]) > 0),
        "sigmoid: most pairs saturated at 8x the weights": sat["sigmoid"][-1] > 0.5,
    }
    if lr_hi is not None:
        checks[f"lr {lr_hi:g}: ReLU has dead units (> 5%)"] = dead[("relu", lr_hi)][0] > 0.05
        checks[f"lr {lr_hi:g}: ELU has no dead units"] = dead[("elu", lr_hi)][0] == 0.0
    checks["lr 0.1: no dead units for either"] = dead[("relu", 0.1)][0] == 0.0 and dead[("elu", 0.1)][0] == 0.0
    numbers = {"dead": {f"{a}_lr{lr:g}": v for (a, lr), v in dead.items()}, "tanh_slope": slope,
               "linear_regime": {a: v for a, v in lin.items()}, "saturation": sat}
    return {"summary": summary, "tables": [("Dead hidden units after training", ["unit", "lr", "dead",
                                            "final training loss", "diverged runs"], rows)],
            "figures": [("Left: dead units vs learning rate (x: the run diverged). Middle: a tanh net approaches "
                         "its linear counterpart like s^2 at small inputs; a sigmoid net does not. Right: "
                         "saturation vs weight scale.", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
