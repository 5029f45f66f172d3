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
TARGET = 0.1  # a training loss to race to (the initial loss is about 2.3 = log 10)


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
        if mode == "batch":
            # One cheap step per epoch: let batch learning run for as long as the minibatch run took
            # (at least `epochs` epochs), so that the loss-vs-time race is over the same clock.
            budget = res["minibatch"]["time"][-1]
            stop = ff.training.LambdaCallback(
                on_epoch_end=lambda t, e, logs: e >= epochs and logs["time"] >= budget)
            history = ff.fit(net, X_red, y_red, optimizer="sgd", lr=lr, mode=mode, max_epochs=100 * epochs,
                             callbacks=[stop], rng=0)
        else:
            history = ff.fit(net, X_red, y_red, optimizer="sgd", lr=lr, mode=mode, max_epochs=epochs, rng=0,
                             **kw)
        # Wall time of the whole loop, including each epoch's evaluation of J(w) on the whole set
        # (batch mode's evaluation is its next update's gradient).
        res[mode] = {"loss": [j0] + history["train_loss"], "time": [0.0] + history["time"],
                     "updates": sum(history["n_updates"][:epochs]), "lr": lr, "batch_size": batch_size or n,
                     "epochs_run": history.epochs, "test_accuracy": float(np.mean(net.predict(X_te) == y_te))}
        if mode == "stochastic":
            res[mode]["batch_size"] = 1

    fig, axes = _plot.figure(1, 2, size=(11, 4.0))
    for mode, _, _ in MODES:
        r = res[mode]
        axes[0].plot(range(epochs + 1), r["loss"][:epochs + 1], marker="o", label=f"{mode} (eta={r['lr']:g})")
        axes[1].plot(r["time"], r["loss"], marker="o" if len(r["time"]) <= 30 else None, markersize=3,
                     label=f"{mode} ({r['epochs_run']} epochs)")
    axes[0].set_xlabel("epoch (passes over the training set)")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel("training loss J(w)")
        ax.legend(fontsize=8)
    axes[0].set_title(f"Loss vs epochs (digits x {copies} copies, n = {n:,})")
    axes[1].set_title("Loss vs wall time")
    figure = _plot.save(fig, out_dir, "sgd_modes.png")

    loss = {m: res[m]["loss"][epochs] for m, _, _ in MODES}
    secs = {m: res[m]["time"][-1] for m, _, _ in MODES}
    # Wall time each mode needs to bring J(w) down to TARGET (interpolated between epochs).
    target = TARGET

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
             f"{loss[m]:.4f}", res[m]["epochs_run"], f"{secs[m]:.2f}", f"{res[m]['loss'][-1]:.4f}",
             "-" if reach[m] is None else f"{reach[m]:.3f}", f"{res[m]['test_accuracy']:.4f}"]
            for m, _, _ in MODES]
    reached = [m for m in reach if reach[m] is not None]
    fastest = min(reached, key=lambda m: reach[m]) if reached else None
    summary = (
        f"The digits training set repeated {copies} times (n = {n:,} patterns, each {copies} times: maximal "
        "redundancy), a 64 -> 64 -> 10 ReLU network, plain gradient descent without momentum, "
        f"{epochs} epochs per mode, the same initial weights; eta per mode is in the table (batch learning "
        "averages the gradient, so it affords the largest step). After one epoch the training loss is "
        + ", ".join(f"{res[m]['loss'][1]:.3f} ({m})" for m, _, _ in MODES)
        + f"; after {epochs}: " + ", ".join(f"{loss[m]:.4f}" for m, _, _ in MODES)
        + ". Per epoch, more (noisier) updates win. Batch learning's epochs are cheap (one step), so it "
          f"then runs on for as long as the minibatch run took ({res['batch']['epochs_run']} epochs, final "
          f"loss {res['batch']['loss'][-1]:.4f}). In wall time (the whole loop, including each epoch's "
          f"evaluation of J(w)), the race to J(w) <= {TARGET:g} is "
        + ("won by " + fastest + " (" + ", ".join(
            f"{m} {reach[m]:.3f} s" if reach[m] is not None else f"{m} not within {secs[m]:.2f} s"
            for m, _, _ in MODES) + ")" if fastest else "not finished by any mode")
        + ". Stochastic updates each pay the fixed cost of a Python-level forward and backward pass for one "
          "pattern, which minibatches share among 32; batch learning makes one step per pass."
    )
    checks = {
        "per epoch: stochastic < minibatch < batch training loss": loss["stochastic"] < loss["minibatch"]
        < loss["batch"],
        f"wall time: minibatch reaches J(w) <= {TARGET:g} first": fastest == "minibatch",
    }
    numbers = {m: {"loss": [round(v, 5) for v in res[m]["loss"]],
                   "time": [round(v, 4) for v in res[m]["time"]],
                   "updates": res[m]["updates"], "epochs_run": res[m]["epochs_run"], "lr": res[m]["lr"],
                   "test_accuracy": res[m]["test_accuracy"]}
               for m, _, _ in MODES}
    numbers.update(copies=copies, n=n, epochs=epochs)
    return {"summary": summary,
            "tables": [("Three ways through the data (updates and losses over the first "
                        f"{epochs} epochs; wall time, final loss and test accuracy over the whole run)",
                        ["mode", "patterns per update", "eta", "updates", "loss after 1 epoch",
                         f"loss after {epochs}", "epochs run", "wall time (s)", "final loss",
                         f"time to J <= {TARGET:g} (s)", "test accuracy"], rows)],
            "figures": [("Training loss vs epochs and vs wall time", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
