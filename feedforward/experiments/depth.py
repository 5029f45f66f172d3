"""Depth vs width at an equal parameter count (L-DEPTH-1)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 45
TITLE = "Depth vs width at the same number of parameters"
CLAIM = (
    "For a fixed budget of parameters, deeper networks can do better than wide shallow ones on suitable "
    "tasks: a compositional, highly oscillating function (the tent map composed with itself, a sawtooth "
    "whose number of teeth doubles with each composition, which a deep net represents with a few units "
    "per layer) and possibly on digits; the lecture's 'deeper networks need fewer units' (L-DEPTH-1). "
    "Measured, and reported as measured."
)

TEETH_COMPOSITIONS = 3  # tent^3: 4 teeth, 8 linear pieces
FUNCTION_BUDGET = 300
DIGITS_BUDGET = 10_000


def tent(x):
    """The tent map ``g(x) = 1 - |2x - 1|`` on [0, 1]."""
    return 1.0 - np.abs(2.0 * x - 1.0)


def sawtooth(x, k: int = TEETH_COMPOSITIONS):
    """``g(g(...g(x)))``, ``k`` times: ``2^(k-1)`` teeth on [0, 1]."""
    for _ in range(k):
        x = tent(x)
    return x


def n_params(sizes) -> int:
    """Connections plus biases of an MLP with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def width_for(depth: int, budget: int, n_in: int, n_out: int) -> int:
    """The hidden width whose ``depth``-hidden-layer MLP has the parameter count nearest ``budget``."""
    return min(range(1, 5000), key=lambda w: abs(n_params([n_in] + [w] * depth + [n_out]) - budget))


def _function_task(depths, activations, seeds, epochs):
    import feedforward as ff

    x = np.linspace(0, 1, 512, dtype=np.float32)[:, None]
    xt = np.linspace(0, 1, 2001, dtype=np.float32)[:, None]
    y, yt = sawtooth(x), sawtooth(xt)
    scale = lambda a: ((2 * a - 1) * 1.7).astype(np.float32)  # inputs centred, unit variance
    out = {}
    for act in activations:
        for depth in depths:
            w = width_for(depth, FUNCTION_BUDGET, 1, 1)
            sizes = [1] + [w] * depth + [1]
            errs, curves = [], []
            start = time.perf_counter()
            for seed in seeds:
                net = ff.nn.MLP(sizes, activation=act, output="gaussian", rng=seed)
                ff.fit(net, scale(x), y, optimizer="adam", lr=0.01, mode="batch", max_epochs=epochs, rng=seed)
                with ff.no_grad():
                    pred = net(ff.Tensor(scale(xt))).data
                errs.append(float(np.sqrt(np.mean((pred - yt) ** 2))))
                curves.append(pred[:, 0])
            out[(act, depth)] = {"width": w, "params": n_params(sizes), "rmse": errs,
                                 "best_curve": curves[int(np.argmin(errs))],
                                 "seconds": time.perf_counter() - start}
    return xt[:, 0], yt[:, 0], out


def _digits_task(depths, seeds, epochs):
    import feedforward as ff
    from feedforward.data import Standardizer, load_digits, train_test_split

    ds = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=0)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    out = {}
    for depth in depths:
        w = width_for(depth, DIGITS_BUDGET, 64, 10)
        sizes = [64] + [w] * depth + [10]
        accs = []
        for seed in seeds:
            net = ff.nn.MLP(sizes, activation="relu", output="categorical", rng=seed)
            ff.fit(net, X_tr, y_tr, optimizer="adam", lr=1e-3, batch_size=32, max_epochs=epochs, rng=seed)
            accs.append(float(np.mean(net.predict(X_te) == y_te)))
        out[depth] = {"width": w, "params": n_params(sizes), "accuracy": accs}
    return out


def run(out_dir, quick: bool = False) -> dict:
    depths = (1, 4) if quick else (1, 2, 3, 4, 6)
    activations = ("elu",) if quick else ("elu", "relu")
    seeds = range(2) if quick else range(3)
    xt, yt, fn = _function_task(depths, activations, seeds, 1500 if quick else 3000)
    dg = _digits_task((1, 3) if quick else (1, 2, 3, 4), range(1) if quick else range(3), 20 if quick else 40)

    # Figure: the fits (best seed) and error vs depth.
    fig, axes = _plot.figure(1, 2, size=(11, 4.0))
    ax = axes[0]
    ax.plot(xt, yt, color="black", linewidth=2, label="target: tent^3")
    for depth in (depths[0], depths[-1]):
        r = fn[("elu", depth)]
        ax.plot(xt, r["best_curve"], linewidth=1.2,
                label=f"depth {depth}, width {r['width']} ({r['params']} params)")
    ax.set_title(f"Fits with ~{FUNCTION_BUDGET} parameters (ELU, best seed)")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    ax = axes[1]
    for act in activations:
        med = [np.median(fn[(act, d)]["rmse"]) for d in depths]
        lo = [min(fn[(act, d)]["rmse"]) for d in depths]
        ax.plot(depths, med, marker="o", label=f"{act}: median over seeds")
        ax.plot(depths, lo, marker="v", linestyle=":", label=f"{act}: best seed")
    ax.set_yscale("log")
    ax.set_xticks(depths)
    ax.set_xlabel("depth (hidden layers) at equal parameter count")
    ax.set_ylabel("test RMSE")
    ax.set_title("Error vs depth")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "depth_vs_width.png")

    rows = []
    for act in activations:
        for d in depths:
            r = fn[(act, d)]
            rows.append([act, d, r["width"], r["params"], f"{np.median(r['rmse']):.4f}",
                         f"{min(r['rmse']):.4f}", f"{max(r['rmse']):.4f}"])
    drows = [[d, r["width"], r["params"], f"{np.mean(r['accuracy']):.4f} ± {np.std(r['accuracy']):.4f}"]
             for d, r in dg.items()]
    elu = {d: np.median(fn[("elu", d)]["rmse"]) for d in depths}
    deep_wins = elu[depths[-1]] < elu[depths[0]] / 3
    dig = {d: np.mean(r["accuracy"]) for d, r in dg.items()}
    best_depth = max(dig, key=dig.get)
    spread = max(dig.values()) - min(dig.values())
    summary = (
        f"**Sawtooth.** The target is the tent map composed {TEETH_COMPOSITIONS} times "
        f"({2 ** (TEETH_COMPOSITIONS - 1)} teeth on [0, 1]); every network has about {FUNCTION_BUDGET} "
        f"parameters (connections plus biases), the width shrinking as the depth grows; each is trained with "
        f"Adam (full batch) from {len(seeds)} random starts. With ELU units the median test RMSE goes from "
        f"{elu[depths[0]]:.3f} with one hidden layer of {fn[('elu', depths[0])]['width']} units to "
        f"{elu[depths[-1]]:.3f} with {depths[-1]} layers of {fn[('elu', depths[-1])]['width']}"
        + (": depth wins clearly, as the composition argument predicts. " if deep_wins else
           ": depth does not win clearly here. ")
        + ("With ReLU units the outcome depends on the start: deep ReLU nets often hit the target almost "
           "exactly (see the best-seed column) but as often get stuck with dead units, so their median is "
           "unreliable. "
           if "relu" in activations else "")
        + f"**Digits.** At about {DIGITS_BUDGET:,} parameters, test accuracy (mean over seeds) is "
        + ", ".join(f"{dig[d]:.2%} at depth {d}" for d in dg)
        + (f": the differences ({spread:.2%}) are within a few test images, depth brings no clear gain on "
           "this small, easy data set." if spread < 0.01 else
           f": depth {best_depth} is best by {spread:.2%}.")
    )
    tables = [
        (f"Sawtooth (tent^{TEETH_COMPOSITIONS}), ~{FUNCTION_BUDGET} parameters: test RMSE over seeds",
         ["units", "depth", "width", "params", "median", "best", "worst"], rows),
        (f"Digits, ~{DIGITS_BUDGET:,} parameters (ReLU): test accuracy", ["depth", "width", "params",
                                                                          "accuracy (mean ± std)"], drows),
    ]
    checks = {
        "parameter counts within 10% of the budget": all(
            abs(r["params"] - FUNCTION_BUDGET) <= 0.1 * FUNCTION_BUDGET for r in fn.values())
        and all(abs(r["params"] - DIGITS_BUDGET) <= 0.1 * DIGITS_BUDGET for r in dg.values()),
        "sawtooth: deepest ELU net's median error < 1/3 of the one-hidden-layer net's": bool(deep_wins),
    }
    numbers = {
        "function": {f"{a}_depth{d}": {"width": r["width"], "params": r["params"],
                                       "rmse": [round(v, 5) for v in r["rmse"]]} for (a, d), r in fn.items()},
        "digits": {f"depth{d}": {"width": r["width"], "params": r["params"],
                                 "accuracy": [round(v, 4) for v in r["accuracy"]]} for d, r in dg.items()},
    }
    return {"summary": summary, "tables": tables,
            "figures": [("Sawtooth fits and error vs depth at equal parameter count", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
