"""Learning: stopping on ||grad J(w)|| < theta in Algorithms 1 and 2; a growing minibatch (L-SGD-4, L-SGD-5)."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 85
TITLE = "Learning: the stopping test ||grad J(w)|| < theta, and a growing batch size"
QUOTE = (
    'until ∇J(w) < θ; return w …… 从较小的batch size开始，随着训练的进行逐渐增加',
    'until grad J(w) < theta; return w (Algorithms 1 and 2) ... start with a small batch size and increase '
    'it gradually as training proceeds.',
)
CLAIM = (
    "Both of the lecture's algorithms stop when the norm of the gradient of J over the whole training set "
    "falls below a criterion theta; the trace of ||grad J(w)|| shows where. Batch learning's norm falls "
    "steadily; stochastic learning's is noisy from epoch to epoch (each check sees the weights after n noisy "
    "updates), and on redundant data it reaches the criterion in fewer epochs. A minibatch that starts small "
    "and grows gets the cheap early "
    "progress of small batches and the steadier late steps of large ones (L-SGD-4, L-SGD-5)."
)

THETA = 0.05


def _data():
    from feedforward.data import Standardizer, load_digits, train_test_split

    ds = load_digits()
    X_tr, _, y_tr, _ = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=0)
    return Standardizer().fit(X_tr).transform(X_tr), y_tr


def run(out_dir, quick: bool = False) -> dict:
    import feedforward as ff
    from feedforward.training import GrowingBatch

    X, y = _data()
    max_epochs = 150 if quick else 400
    runs = {}
    for mode, lr, kw in (("batch", 1.0, {}), ("stochastic", 0.01, {})):
        net = ff.nn.MLP([64, 16, 10], activation="tanh", output="categorical", rng=0)
        cap = max_epochs if mode == "batch" else (10 if quick else 25)
        h = ff.fit(net, X, y, optimizer="sgd", lr=lr, mode=mode, grad_tol=THETA, train_eval="grad",
                   max_epochs=cap, rng=0, **kw)
        runs[mode] = {"grad_norm": list(h["grad_norm"]), "loss": list(h["train_loss"]), "stop": h.stop_reason,
                      "lr": lr, "epochs": h.epochs}
    # growing batch vs fixed small and fixed large, the same number of epochs
    epochs = 12 if quick else 24
    grow = {}
    settings = (("fixed 8", {"batch_size": 8}, "stochastic"), ("fixed 256", {"batch_size": 256}, "batch"),
                ("growing 8 -> 256", {"batch_schedule": GrowingBatch(8, factor=2, every=epochs // 6, max_size=256)},
                 "growing batch"))
    for name, kw, colour in settings:
        net = ff.nn.MLP([64, 32, 10], activation="relu", output="categorical", rng=0)
        h = ff.fit(net, X, y, optimizer="sgd", lr=0.05, max_epochs=epochs, train_eval="loss", rng=0, **kw)
        grow[name] = {"loss": list(h["train_loss"]), "updates": np.cumsum(h["n_updates"]).tolist(),
                      "batch_size": list(h["batch_size"]), "colour": colour}

    fig, axes = _plot.figure(1, 2, size=(12, 4.3))
    ax = axes[0]
    for mode in ("batch", "stochastic"):
        r = runs[mode]
        ax.semilogy(range(1, len(r["grad_norm"]) + 1), r["grad_norm"], "o-" if len(r["grad_norm"]) < 40 else "-",
                    ms=3, color=_plot.color(mode), label=f"{mode} (eta {r['lr']:g}): stop = {r['stop']}")
    ax.axhline(THETA, color="0.4", ls=":", label=f"theta = {THETA:g}")
    ax.set(title="||grad J(w)|| at the end of each epoch", xlabel="epoch", ylabel="||grad J(w)||_2 (log scale)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for name, r in grow.items():
        ax.semilogy(r["updates"], r["loss"], "o-", ms=3, color=_plot.color(r["colour"]), label=name)
    ax.set(title=f"Growing vs fixed minibatch, {epochs} epochs each", xlabel="updates (log scale)",
           ylabel="training loss J(w) (mean NLL)")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "learning.png")

    b, s = runs["batch"], runs["stochastic"]
    g8, g256, gg = grow["fixed 8"], grow["fixed 256"], grow["growing 8 -> 256"]
    noise = float(np.std(np.diff(np.log(s["grad_norm"])))) if len(s["grad_norm"]) > 2 else float("nan")
    smooth = float(np.std(np.diff(np.log(b["grad_norm"][:len(s["grad_norm"])]))))
    summary = (
        f"Digits, a 64-16-10 tanh network, theta = {THETA:g} on ||grad J(w)||_2 over the whole training set, "
        f"evaluated after every epoch (the library's `grad_tol`). Batch learning (Algorithm 2, eta {b['lr']:g}) "
        f"stops after {b['epochs']} epochs with reason '{b['stop']}' (final norm {b['grad_norm'][-1]:.4f}); "
        f"stochastic learning (Algorithm 1, eta {s['lr']:g}) ends with reason '{s['stop']}' after {s['epochs']} "
        f"epochs, its norm at {s['grad_norm'][-1]:.4f} (smallest {min(s['grad_norm']):.4f}). Epoch to epoch, "
        f"log ||grad J|| changes with a standard deviation of {noise:.3f} for stochastic and {smooth:.3f} for batch "
        f"learning over the same epochs. **Growing batch.** In {epochs} epochs (eta 0.05): fixed 8 makes "
        f"{g8['updates'][-1]:,} updates to J = {g8['loss'][-1]:.4f}, fixed 256 {g256['updates'][-1]:,} to "
        f"{g256['loss'][-1]:.4f}, growing 8 -> 256 (doubling every {epochs // 6} epochs) {gg['updates'][-1]:,} to "
        f"{gg['loss'][-1]:.4f}."
    )
    checks = {
        "batch: stops on the gradient test": b["stop"] == "grad_norm",
        "batch: the last recorded norm is below theta and the one before is not": b["grad_norm"][-1] < THETA
        and (len(b["grad_norm"]) < 2 or b["grad_norm"][-2] >= THETA),
        "stochastic: the norm is noisier epoch to epoch than batch's": noise > smooth,
        "stochastic: stops on the gradient test, in fewer epochs than batch": s["stop"] == "grad_norm"
        and s["epochs"] < b["epochs"],
        "growing batch: lower J than fixed 256 after the same epochs": gg["loss"][-1] < g256["loss"][-1],
        "growing batch: fewer updates than fixed 8 (at most a third)": gg["updates"][-1] <= g8["updates"][-1] / 3,
    }
    numbers = {"theta": THETA, "runs": runs, "growing": {k: {kk: vv for kk, vv in v.items() if kk != "colour"}
                                                          for k, v in grow.items()}}
    return {"summary": summary, "tables": [], "figures": [
        ("Left: the stopping test's trace, ||grad J(w)|| per epoch, for Algorithms 1 and 2. Right: training loss "
         "against updates for a fixed small, a fixed large and a growing minibatch.", figure)],
        "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
