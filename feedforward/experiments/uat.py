"""Universal approximation: a trained one-hidden-layer squashing net, error vs width (L-UAT-1)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 35
TITLE = "Universal approximation: one hidden layer of sigmoid or tanh units"
QUOTE = (
    '2-layer net with linear output with some squashing '
    'non-linearity in hidden units can approximate any continuous '
    'function over compact domain to arbitrary accuracy (given '
    'enough hidden units!) …… 但不能保证我们的训练算法能够学习到这个函数',
    'A 2-layer net with a linear output and a squashing non-linearity in its hidden units approximates any '
    'continuous function on a compact domain to arbitrary accuracy, given enough hidden units ... but '
    'nothing guarantees that our training algorithm can learn that function.',
)
CLAIM = (
    "Cybenko (1989): a network with one hidden layer of squashing units and a linear output approximates "
    "any continuous function on a compact domain to any accuracy, given enough hidden units. Trained "
    "networks show it: on a continuous target on [-1, 1] the error falls as the width grows (L-UAT-1)."
)

N_TRAIN, N_TEST = 200, 1001
LR = 0.03  # Adam's first step size, annealed to 0 over the run (see fit_width)
SEEDS = (0, 1, 2)


def target(x):
    """A continuous target on [-1, 1] with several bumps of different widths."""
    return np.sin(2 * np.pi * x) + 0.5 * np.sin(5 * np.pi * x) * np.exp(-x ** 2)


def spread_init(net, rng, slope: float) -> None:
    """Place each hidden unit's transition ``W x + b = 0`` at a random point of [-1, 1].

    The default (Glorot) start puts every transition near x = 0 with gentle
    slopes, and gradient descent then takes very long to spread them out; this
    start, like the lecture's pulse construction, spreads them over the domain
    with steepness about ``slope``. Training then adjusts every weight.
    """
    first = net.linears[0]
    width = first.weight.data.shape[1]
    centre = rng.uniform(-1, 1, width)
    a = slope * rng.choice([-1.0, 1.0], width) * rng.uniform(0.5, 1.5, width)
    first.weight.data[...] = a[None, :]
    first.bias.data[...] = -a * centre


def fit_width(width: int, activation: str, seed: int, epochs: int, spread: bool = True):
    """Train ``1 -> width -> 1``; returns (test RMSE, max error, predictions on the test grid).

    Full-batch Adam with its step annealed from ``LR`` to 0 along half a cosine. At a constant
    step Adam never settles on the full batch: the loss keeps bouncing around the minimum, so
    the error after the last epoch depends on where in a bounce the run stops, and a change
    as small as another BLAS kernel (``OPENBLAS_CORETYPE``) could rank a 64-unit net below a
    16-unit one. With the step going to 0 the last epochs barely move the weights, and the
    error measured is the one the run converged to.
    """
    import feedforward as ff

    x = np.linspace(-1, 1, N_TRAIN, dtype=np.float32)[:, None]
    xt = np.linspace(-1, 1, N_TEST, dtype=np.float32)[:, None]
    net = ff.nn.MLP([1, width, 1], activation=activation, output="gaussian", rng=seed)
    if spread:
        spread_init(net, np.random.default_rng(seed), 5.0 if activation == "tanh" else 10.0)
    ff.fit(net, x, target(x), optimizer="adam", lr=LR, lr_schedule=ff.optim.CosineAnnealing(t_max=epochs),
           mode="batch", max_epochs=epochs, rng=seed)
    with ff.no_grad():
        pred = net(ff.Tensor(xt)).data[:, 0]
    err = pred - target(xt[:, 0])
    return float(np.sqrt(np.mean(err ** 2))), float(np.abs(err).max()), pred


def run(out_dir, quick: bool = False) -> dict:
    widths = (1, 4, 16, 64) if quick else (1, 2, 4, 8, 16, 32, 64, 128)
    seeds = SEEDS
    epochs = 2000 if quick else 4000
    activations = ("sigmoid", "tanh")
    results = {}
    start = time.perf_counter()
    for act in activations:
        for w in widths:
            # The theorem is about what a width can represent, not about what one start of
            # gradient descent finds: report the best of the seeds.
            runs = [fit_width(w, act, s, epochs) for s in seeds]
            results[(act, w)] = min(runs, key=lambda r: r[0])
    # The same widest sigmoid net from the default (Glorot) start, for comparison.
    glorot = fit_width(widths[-1], "sigmoid", 0, epochs, spread=False)
    seconds = time.perf_counter() - start

    xt = np.linspace(-1, 1, N_TEST)
    fig, axes = _plot.figure(1, 2, size=(11, 4.0))
    ax = axes[0]
    ax.plot(xt, target(xt), color=_plot.color("target"), linewidth=2.2, label="target")
    shown = [w for w in widths if w in (1, 4, 16, 64)]
    for i, w in enumerate(shown):  # tanh's colour, darker as the width grows
        ax.plot(xt, results[("tanh", w)][2], linewidth=1.1, label=f"tanh, {w} units", color=_plot.color("tanh"),
                alpha=0.3 + 0.7 * (i + 1) / len(shown))
    ax.set_title("One hidden layer of tanh units: the fit sharpens with width")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    ax = axes[1]
    for act in activations:
        ax.plot(widths, [results[(act, w)][0] for w in widths], marker="o", label=f"{act}: RMSE",
                color=_plot.color(act))
        ax.plot(widths, [results[(act, w)][1] for w in widths], marker="v", linestyle=":",
                label=f"{act}: max error", color=_plot.color(act))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden units (width)")
    ax.set_ylabel("error on a 1,001-point test grid")
    ax.set_title("Approximation error vs width")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "uat_error_vs_width.png")

    rows = [[w] + [f"{results[(a, w)][k]:.4f}" for a in activations for k in (0, 1)] for w in widths]
    checks, ratios = {}, {}
    for act in activations:
        errs = [results[(act, w)][0] for w in widths]
        ratios[act] = errs[0] / errs[-1]
        checks[f"{act}: widest net's RMSE is 10x below one unit's"] = bool(errs[-1] < errs[0] / 10)
        # Falling with width: every width at least as good as the best narrower one, up to 50% slack
        # for optimisation noise once the error is already small.
        checks[f"{act}: error falls with width"] = bool(all(
            errs[i] <= 1.5 * min(errs[:i]) for i in range(1, len(errs))))
    summary = (
        f"Target sin(2 pi x) + 0.5 sin(5 pi x) exp(-x^2) on [-1, 1], {N_TRAIN} training points; networks "
        "1 -> N -> 1 with sigmoid or tanh hidden units and a linear output, hidden-unit transitions "
        "spread over the domain at the start (see `spread_init`), then all weights trained by Adam on the "
        f"full batch for {epochs} epochs, its step annealed from {LR} to 0 along half a cosine; best of "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} per "
        f"width ({seconds:.1f} s in all). The test RMSE falls from "
        f"{results[('sigmoid', widths[0])][0]:.3f} (sigmoid) and "
        f"{results[('tanh', widths[0])][0]:.3f} (tanh) with one unit to "
        f"{results[('sigmoid', widths[-1])][0]:.4f} and {results[('tanh', widths[-1])][0]:.4f} with "
        f"{widths[-1]}: a factor {ratios['sigmoid']:.0f} and {ratios['tanh']:.0f}. The theorem promises such "
        "an approximation exists; it does not promise that training finds it, nor how many units it takes: "
        f"from the default Glorot start the same {widths[-1]}-unit sigmoid net reaches RMSE "
        f"{glorot[0]:.3f} in as many epochs"
        + (" (the target's standard deviation is "
           f"{np.std(target(np.linspace(-1, 1, N_TEST))):.3f})." if glorot[0] > 0.1 else ".")
    )
    numbers = {"widths": list(widths), "epochs": epochs, "seeds": list(seeds), "glorot_start_rmse": glorot[0],
               **{f"{a}_rmse": [round(results[(a, w)][0], 5) for w in widths] for a in activations},
               **{f"{a}_max_error": [round(results[(a, w)][1], 5) for w in widths] for a in activations}}
    return {"summary": summary,
            "tables": [("Test error by width", ["width"] + [f"{a} {k}" for a in activations
                                                            for k in ("RMSE", "max error")], rows)],
            "figures": [("Fits and approximation error vs width", figure)],
            "checks": checks, "numbers": numbers}
