"""Depth vs width at an equal parameter count, after Telgarsky (L-DEPTH-1)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 45
TITLE = "Depth vs width at the same number of parameters"
QUOTE = (
    '更深的网络需要的更少的神经元 …… 深度与宽度的折衷',
    'Deeper networks need fewer neurons ... the trade-off between depth and width.',
)
CLAIM = (
    "Deeper networks need fewer units (L-DEPTH-1), provably on the tent map composed k times (Telgarsky "
    "2016): tent^k has 2^k linear pieces; k layers of 2 ReLUs represent it exactly with 6k + 1 "
    "parameters, while one hidden layer of w ReLUs has at most w + 1 pieces and needs 2^k - 1 units "
    "(3 * 2^k - 2 parameters). Below that budget no shallow net fits it, at any training; whether "
    "gradient descent finds the deep net's solution is a separate question, measured beside the best "
    "fit by construction (least squares on fixed knots). On digits, measured and reported as measured."
)

K = 4  # tent^4: 16 linear pieces, 8 teeth
BUDGETS = (25, 46, 100, 300)  # parameters; 25 = the deep construction, 46 = the shallow one
DIGITS_BUDGET = 10_000


def tent(x):
    """The tent map ``g(x) = 1 - |2x - 1|`` on [0, 1]."""
    return 1.0 - np.abs(2.0 * x - 1.0)


def sawtooth(x, k: int = K):
    """``g(g(...g(x)))``, ``k`` times: ``2^(k-1)`` teeth, ``2^k`` linear pieces on [0, 1]."""
    for _ in range(k):
        x = tent(x)
    return x


def n_params(sizes) -> int:
    """Connections plus biases of an MLP with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def width_for(depth: int, budget: int, n_in: int, n_out: int) -> int:
    """The hidden width whose ``depth``-hidden-layer MLP has the parameter count nearest ``budget``."""
    return min(range(1, 5000), key=lambda w: abs(n_params([n_in] + [w] * depth + [n_out]) - budget))


def telgarsky(x, k: int):
    """tent^k computed by k hidden layers of 2 ReLUs: ``g(x) = 2 relu(x) - 4 relu(x - 1/2)``.

    Each layer computes ``relu(h)`` and ``relu(h - 1/2)`` of the previous tent value ``h``; the
    next layer's weights (2, -4) combine them. ``6k + 1`` parameters in all.
    """
    h = np.asarray(x, dtype=np.float64)
    for _ in range(k):
        h = 2 * np.maximum(h, 0) - 4 * np.maximum(h - 0.5, 0)
    return h


def telgarsky_params(k: int) -> int:
    return n_params([1] + [2] * k + [1])


def lsq_knots(x, y, knots):
    """Best fit ``a + b x + sum_j c_j relu(x - t_j)`` with the knots fixed: one hidden layer of
    ReLUs whose input weights are fixed, output weights by least squares. Returns the fit."""
    A = np.column_stack([np.ones_like(x), x] + [np.maximum(x - t, 0) for t in knots])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return A @ coef


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _scale(a):
    """Inputs centred with unit variance for training (the constructions use x itself; a scaling
    of the input is absorbed by the first layer's weights and changes no parameter count)."""
    return ((2 * np.asarray(a, dtype=np.float64) - 1) * np.sqrt(3)).astype(np.float32)


def _train(sizes, act, seed, epochs, x, y, xt):
    import feedforward as ff

    net = ff.nn.MLP(sizes, activation=act, output="gaussian", rng=seed)
    x, xt = _scale(x), _scale(xt)
    ff.fit(net, x, y, optimizer="adam", lr=0.01, lr_schedule=ff.optim.CosineAnnealing(t_max=epochs),
           mode="batch", max_epochs=epochs, rng=seed)
    with ff.no_grad():
        return net(ff.Tensor(xt)).data[:, 0]


def _function_task(budgets, activations, seeds, epochs):
    """Trained shallow and deep nets at each budget, with the best fits by construction."""
    x = np.linspace(0, 1, 1024)[:, None]
    xt = np.linspace(0, 1, 4001)[:, None]
    y, yt = sawtooth(x).astype(np.float32), sawtooth(xt)[:, 0]
    x64 = xt[:, 0]
    out = {}
    for budget in budgets:
        for depth in (1, K):
            w = width_for(depth, budget, 1, 1)
            sizes = [1] + [w] * depth + [1]
            if depth == 1:  # what this width can represent: w ReLUs at w uniformly spaced knots
                construction = _rmse(lsq_knots(x64, yt, (np.arange(w) + 0.5) / w), yt)
            else:  # the deep net contains Telgarsky's construction whenever w >= 2
                construction = _rmse(telgarsky(x64, K), yt) if w >= 2 else float("nan")
            for act in activations:
                start = time.perf_counter()
                preds = [_train(sizes, act, seed, epochs, x, y, xt) for seed in seeds]
                errs = [_rmse(p, yt) for p in preds]
                out[(budget, depth, act)] = {"width": w, "params": n_params(sizes), "rmse": errs,
                                             "construction": construction,
                                             "best_curve": preds[int(np.argmin(errs))],
                                             "seconds": time.perf_counter() - start}
    return x64, yt, out


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
    activations = ("relu", "elu")
    budgets = (BUDGETS[0], BUDGETS[-1]) if quick else BUDGETS
    seeds = range(2) if quick else range(3)
    epochs = 1500 if quick else 6000
    xt, yt, fn = _function_task(budgets, activations, seeds, epochs)
    dg = _digits_task((1, 3) if quick else (1, 2, 3, 4), range(1) if quick else range(3), 20 if quick else 40)

    # By construction, k = 1..8: units for an exact fit, shallow (knots at the breakpoints) vs deep.
    ks = list(range(1, 9))
    grid = np.linspace(0, 1, 2 ** 12 + 1)  # contains every breakpoint j / 2^k for k <= 12
    deep_err = [_rmse(telgarsky(grid, k), sawtooth(grid, k)) for k in ks]
    shallow_err = [_rmse(lsq_knots(grid, sawtooth(grid, k), np.arange(1, 2 ** k) / 2 ** k), sawtooth(grid, k))
                   for k in ks]
    short_err = [_rmse(lsq_knots(grid, sawtooth(grid, k), (np.arange(2 ** k - 2) + 0.5) / (2 ** k - 2)),
                       sawtooth(grid, k)) for k in ks[1:]]  # one unit fewer than needed
    shallow_params = [n_params([1, 2 ** k - 1, 1]) for k in ks]
    deep_params = [telgarsky_params(k) for k in ks]

    fig, axes = _plot.figure(1, 3, size=(15, 4.3))
    ax = axes[0]
    ax.semilogy(ks, shallow_params, "o-", color=_plot.color("least squares"),
                label="one hidden layer: 2^k - 1 ReLUs (knots at the breakpoints)")
    ax.semilogy(ks, deep_params, "s-", color=_plot.color("relu"), label="k layers of 2 ReLUs (Telgarsky)")
    ax.set(title="Parameters for an exact fit of tent^k", xlabel="compositions k (2^k linear pieces)",
           ylabel="parameters (log scale)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for act in activations:
        c = _plot.color(act)
        for depth, marker, ls in ((1, "o", "--"), (K, "s", "-")):
            med = [np.median(fn[(b, depth, act)]["rmse"]) for b in budgets]
            ax.plot(budgets, med, marker=marker, ls=ls, color=c, label=f"{act}, depth {depth}: trained (median)")
    ax.plot(budgets, [fn[(b, 1, activations[0])]["construction"] for b in budgets], "o:",
            color=_plot.color("least squares"), label="depth 1: least squares, uniform fixed knots")
    ax.axvline(telgarsky_params(K), color=_plot.color("relu"), lw=0.8, ls=":")
    ax.axvline(n_params([1, 2 ** K - 1, 1]), color=_plot.color("least squares"), lw=0.8, ls=":")
    ax.text(telgarsky_params(K) * 1.03, 1.15e-3, f"{telgarsky_params(K)}: deep exact\n(Telgarsky)", fontsize=7)
    ax.text(n_params([1, 2 ** K - 1, 1]) * 1.03, 1.15e-3, f"{n_params([1, 2 ** K - 1, 1])}: shallow exact\n"
            "(knots at breakpoints)", fontsize=7)
    ax.axhline(float(np.std(yt)), color="0.6", lw=0.8, ls="--", label="std of the target (predicting the mean)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 0.6)
    ax.set_xticks(list(budgets), [str(b) for b in budgets])
    ax.minorticks_off()
    ax.set(title=f"tent^{K}: test RMSE vs parameters", xlabel="parameters (log scale)",
           ylabel="test RMSE (log scale)")
    ax.legend(fontsize=7, loc="center left")
    ax = axes[2]
    b = budgets[-1]
    ax.plot(xt, yt, color=_plot.color("target"), lw=2, label=f"target tent^{K}")
    for depth, ls in ((1, "--"), (K, "-")):
        r = fn[(b, depth, activations[0])]
        ax.plot(xt, r["best_curve"], ls=ls, color=_plot.color(activations[0]), lw=1.2,
                label=f"trained depth {depth}, width {r['width']} ({r['params']} params), best seed")
    ax.plot(xt, lsq_knots(xt, yt, (np.arange(fn[(b, 1, activations[0])]["width"]) + 0.5)
                          / fn[(b, 1, activations[0])]["width"]), ":", color=_plot.color("least squares"),
            label="depth 1, least squares on fixed knots")
    ax.set(title=f"Fits at about {b} parameters", xlabel="x", ylabel="y")
    ax.legend(fontsize=7, loc="lower center")
    figure = _plot.save(fig, out_dir, "depth_vs_width.png")

    rows = []
    for budget in budgets:
        for depth in (1, K):
            for act in activations:
                r = fn[(budget, depth, act)]
                rows.append([budget, act, depth, r["width"], r["params"], f"{np.median(r['rmse']):.4f}",
                             f"{min(r['rmse']):.4f}", f"{r['construction']:.2g}"])
    one_seed = len(next(iter(dg.values()))["accuracy"]) == 1
    drows = [[d, r["width"], r["params"], f"{r['accuracy'][0]:.4f} (1 seed)" if one_seed else
              f"{np.mean(r['accuracy']):.4f} ± {np.std(r['accuracy']):.4f} ({len(r['accuracy'])} seeds)"]
             for d, r in dg.items()]
    dig = {d: np.mean(r["accuracy"]) for d, r in dg.items()}
    best_depth = max(dig, key=dig.get)
    spread = max(dig.values()) - min(dig.values())
    act0 = activations[0]
    low, top = budgets[0], budgets[-1]
    # each depth at its better unit (median over seeds), so neither side is shown with a bad choice
    trained = {(b, d): min(float(np.median(fn[(b, d, a)]["rmse"])) for a in activations)
               for b in budgets for d in (1, K)}
    best = {(b, d): min(min(fn[(b, d, a)]["rmse"]) for a in activations) for b in budgets for d in (1, K)}
    sd = float(np.std(yt))
    summary = (
        f"**By construction.** tent^k has 2^k linear pieces. Telgarsky's k layers of 2 ReLUs compute it "
        f"exactly (largest error over k = 1..8: {max(deep_err):.1e}) with 6k + 1 parameters ({deep_params[-1]} "
        f"at k = 8); one hidden layer needs a knot at each of the 2^k - 1 breakpoints (largest least-squares "
        f"error {max(shallow_err):.1e}), {shallow_params[-1]:,} parameters at k = 8, and with one unit fewer "
        f"than that it is not exact (smallest error {min(short_err):.3f}). **Trained**, on tent^{K} "
        f"({2 ** K} pieces, standard deviation {sd:.3f}) with Adam (full batch, step annealed to 0, {epochs} "
        f"epochs, {len(seeds)} seeds, ReLU and ELU, each depth at its better unit): at {low} parameters the "
        f"deep net ({K} layers of {fn[(low, K, act0)]['width']}) contains the exact solution, yet training "
        f"reaches a median RMSE of {trained[(low, K)]:.3f}; the shallow net ({fn[(low, 1, act0)]['width']} "
        f"units, whose best fit on fixed knots is {fn[(low, 1, act0)]['construction']:.3f}) "
        f"{trained[(low, 1)]:.3f}. At {top} parameters: deep {trained[(top, K)]:.3f} (best seed "
        f"{best[(top, K)]:.3f}), shallow {trained[(top, 1)]:.3f} (best {best[(top, 1)]:.3f}) against the "
        f"shallow width's fixed-knot least squares {fn[(top, 1, act0)]['construction']:.4f}. "
        + ("Depth wins among the trained nets too, " if trained[(top, K)] < trained[(top, 1)] else
           "Among the trained nets depth does not win, ")
        + "but far from what either can represent: the gap between construction and training is the "
          "optimiser's, not the architecture's. "
        f"**Digits.** At about {DIGITS_BUDGET:,} parameters, test accuracy is "
        + ", ".join(f"{dig[d]:.2%} at depth {d}" for d in dg)
        + (" (one seed each)" if one_seed else " (mean over seeds)")
        + (f": the differences ({spread:.2%}) are within a few test images, depth brings no clear gain on "
           "this small, easy data set." if spread < 0.01 else f": depth {best_depth} is best by {spread:.2%}.")
    )
    tables = [
        (f"tent^{K}: test RMSE of trained nets over seeds, and the best fit by construction (depth 1: least "
         f"squares on uniform fixed knots; depth {K}: Telgarsky's net, contained when width >= 2)",
         ["budget", "units", "depth", "width", "params", "trained median", "trained best", "construction"], rows),
        (f"Digits, ~{DIGITS_BUDGET:,} parameters (ReLU): test accuracy", ["depth", "width", "params",
                                                                          "accuracy"], drows),
    ]
    checks = {
        "Telgarsky's k layers of 2 ReLUs are exact for k = 1..8 (error < 1e-12)": max(deep_err) < 1e-12,
        "one hidden layer is exact with 2^k - 1 knots at the breakpoints (error < 1e-9)": max(shallow_err) < 1e-9,
        "one hidden layer with 2^k - 2 units (uniform knots) is not exact (error > 1e-3)": min(short_err) > 1e-3,
        "deep construction needs fewer parameters than the shallow one for every k >= 3": all(
            d < s for d, s, k in zip(deep_params, shallow_params, ks) if k >= 3),
        f"{low} params: the shallow width's best fixed-knot fit is poor (RMSE > 0.1) while the deep "
        "construction is exact": fn[(low, 1, act0)]["construction"] > 0.1
        and fn[(low, K, act0)]["construction"] < 1e-12,
    }
    if not quick:  # 1,500 epochs and 2 seeds decide nothing about training; the full run does
        checks[f"{top} params: the trained deep net beats the trained shallow one (median, better unit each)"] = (
            trained[(top, K)] < trained[(top, 1)])
    checks |= {
        "parameter counts within 10% of each budget": all(
            abs(r["params"] - b) <= 0.1 * b for (b, _, _), r in fn.items())
        and all(abs(r["params"] - DIGITS_BUDGET) <= 0.1 * DIGITS_BUDGET for r in dg.values()),
    }
    numbers = {
        "k": K, "budgets": list(budgets), "deep_construction_error": deep_err,
        "shallow_construction_error": shallow_err, "shallow_short_error": short_err,
        "function": {f"{a}_budget{b}_depth{d}": {"width": r["width"], "params": r["params"],
                                                 "rmse": [round(v, 5) for v in r["rmse"]],
                                                 "construction": r["construction"]} for (b, d, a), r in fn.items()},
        "digits": {f"depth{d}": {"width": r["width"], "params": r["params"],
                                 "accuracy": [round(v, 4) for v in r["accuracy"]]} for d, r in dg.items()},
    }
    return {"summary": summary, "tables": tables,
            "figures": [("Left: parameters for an exact fit of tent^k, by construction. Middle: trained nets "
                         "(colour: unit; dashed: one hidden layer, solid: deep) against the best fixed-knot "
                         f"fit of one hidden layer. Right: fits at about {budgets[-1]} parameters.", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
