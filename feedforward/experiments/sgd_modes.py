"""Stochastic vs minibatch vs batch learning on data with redundancy (L-SGD-1..3, L-SGD-6)."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 80
TITLE = "Stochastic, minibatch and batch learning on redundant data"
CLAIM = (
    "The lecture's Algorithm 1 (stochastic backpropagation: one random pattern per update) and Algorithm 2 "
    "(batch backpropagation: one update per pass over all n patterns), and minibatches in between. On data "
    "with redundancy, stochastic and minibatch updates lower the training loss far more per epoch than "
    "batch updates, since an epoch of batch learning spends n pattern gradients on a single step; per second "
    "of wall time, minibatches win, as they also use vectorised arithmetic (L-SGD-6)."
)

MODES = (("stochastic", 1, 0.01), ("minibatch", 32, 0.1), ("batch", None, 1.0))  # mode, batch size, eta


def run(out_dir, quick: bool = False) -> dict:
    import feedforward as ff
    from feedforward.data import Standardizer, load_digits, train_test_split

    copies, epochs = (4, 3) if quick else (8, 8)
    ds = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(ds.X, ds.y, 0.2, stratify=True, rng=0)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    # Redundancy: every training pattern appears `copies` times.
    X_red, y_red = np.tile(X_tr, (copies, 1)), np.tile(y_tr, copies)
    n = len(y_red)
    res = {}
    for mode, batch_size, lr in MODES:
        net = ff.nn.MLP([64, 64, 10], activation="relu", output="categorical", rng=0)
        kw = {"batch_size": batch_size} if batch_size else {}
        # J(w) before any update, on the same footing as the per-epoch records.
        with ff.no_grad():
            j0 = float(net.output.nll(net(ff.Tensor(X_red)), y_red).data)
        history = ff.fit(net, X_red, y_red, optimizer="sgd", lr=lr, mode=mode, max_epochs=epochs,
                         rng=0, **kw)
        # Wall time of the whole loop. Each epoch ends with J(w) and its gradient over the whole set
        # (the stopping test of both algorithms); batch mode reuses that gradient for its next update.
        res[mode] = {"loss": [j0] + history["train_loss"], "time": [0.0] + history["time"],
                     "updates": sum(history["n_updates"]), "lr": lr, "batch_size": batch_size or n,
                     "test_accuracy": float(np.mean(net.predict(X_te) == y_te))}
        if mode == "stochastic":
            res[mode]["batch_size"] = 1

    fig, axes = _plot.figure(1, 2, size=(11, 4.0))
    for mode, _, _ in MODES:
        r = res[mode]
        axes[0].plot(range(epochs + 1), r["loss"], marker="o", label=f"{mode} (eta={r['lr']:g})")
        axes[1].plot(r["time"], r["loss"], marker="o", label=mode)
    axes[0].set_xlabel("epoch (passes over the training set)")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel("training loss J(w)")
        ax.legend(fontsize=8)
    axes[0].set_title(f"Loss vs epochs (digits x {copies} copies, n = {n:,})")
    axes[1].set_title("Loss vs wall time")
    figure = _plot.save(fig, out_dir, "sgd_modes.png")

    loss = {m: res[m]["loss"][-1] for m, _, _ in MODES}
    secs = {m: res[m]["time"][-1] for m, _, _ in MODES}
    # Time each mode needs to bring J(w) below the batch mode's final loss (interpolated on its curve).
    target = loss["batch"]

    def time_to(mode):
        r = res[mode]
        for i in range(1, len(r["loss"])):
            if r["loss"][i] <= target:
                a, b = r["loss"][i - 1], r["loss"][i]
                frac = 0.0 if a == b else (a - target) / (a - b)
                return r["time"][i - 1] + frac * (r["time"][i] - r["time"][i - 1])
        return None

    reach = {m: time_to(m) for m, _, _ in MODES}
    rows = [[m, res[m]["batch_size"], f"{res[m]['lr']:g}", res[m]["updates"], f"{res[m]['loss'][1]:.4f}",
             f"{loss[m]:.4f}", f"{secs[m]:.2f}", "-" if reach[m] is None else f"{reach[m]:.3f}",
             f"{res[m]['test_accuracy']:.4f}"] for m, _, _ in MODES]
    fastest = min((m for m in reach if reach[m] is not None), key=lambda m: reach[m])
    summary = (
        f"The digits training set repeated {copies} times (n = {n:,} patterns, each {copies} times: maximal "
        f"redundancy), a 64 -> 64 -> 10 ReLU network, plain gradient descent without momentum, {epochs} epochs "
        "per mode, the same initial weights; eta per mode is in the table (batch learning averages the "
        "gradient, so it affords the largest step). After one epoch the training loss is "
        + ", ".join(f"{res[m]['loss'][1]:.3f} ({m})" for m, _, _ in MODES)
        + f"; after {epochs}: " + ", ".join(f"{loss[m]:.4f}" for m, _, _ in MODES)
        + ". Per epoch, more (noisier) updates win. In wall time (the whole loop, including each epoch's "
          f"evaluation of J(w) and its gradient), reaching batch learning's final loss takes {fastest} mode "
          "the least time"
        + (f" ({reach[fastest]:.3f} s vs {secs['batch']:.3f} s for batch)" if fastest != "batch" else "")
        + ". Stochastic updates each pay the fixed cost of a Python-level forward and backward pass for one "
          "pattern, which minibatches share among 32."
    )
    checks = {
        "per epoch: stochastic < minibatch < batch training loss": loss["stochastic"] < loss["minibatch"]
        < loss["batch"],
        "minibatch reaches batch learning's final loss in less wall time than batch": reach["minibatch"] is not None
        and reach["minibatch"] < secs["batch"],
    }
    numbers = {m: {"loss": [round(v, 5) for v in res[m]["loss"]], "time": [round(v, 4) for v in res[m]["time"]],
                   "updates": res[m]["updates"], "lr": res[m]["lr"], "test_accuracy": res[m]["test_accuracy"]}
               for m, _, _ in MODES}
    numbers.update(copies=copies, n=n, epochs=epochs)
    return {"summary": summary,
            "tables": [("Three ways through the data", ["mode", "patterns per update", "eta", "updates",
                                                        "loss after 1 epoch", f"loss after {epochs}",
                                                        "wall time (s)", "time to batch's final loss (s)",
                                                        "test accuracy"], rows)],
            "figures": [("Training loss vs epochs and vs wall time", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
