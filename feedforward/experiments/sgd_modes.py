"""Stochastic vs minibatch vs batch learning on data with redundancy (L-SGD-1..3, L-SGD-6)."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 80
TITLE = "Stochastic, minibatch and batch learning on redundant data"
QUOTE = (
    '随机学习 …… 比批量学习更快，特别是当训练数据有冗余的时候 …… 权值是波动的，它可能不会最终收敛到局部极小值 …… 批学习:'
    ' 收敛条件很好理解',
    'Stochastic learning ... is faster than batch learning, especially when the training data are '
    'redundant ... the weights fluctuate and may not settle in a local minimum ... Batch learning: the '
    'conditions of convergence are well understood.',
)
CLAIM = (
    "The lecture's Algorithm 1 (stochastic backpropagation: one random pattern per update) and Algorithm 2 "
    "(batch backpropagation: one update per pass over all n patterns), and minibatches in between. On data "
    "with redundancy, stochastic and minibatch updates lower the training loss far more per epoch than "
    "batch updates, since an epoch of batch learning spends n pattern gradients on a single step; per second "
    "of wall time, minibatches win, as they also use vectorised arithmetic (L-SGD-6)."
)

MODES = (("stochastic", 1, 0.01), ("minibatch", 32, 0.1), ("batch", None, 1.0))  # mode, batch size, eta
TARGET = 0.1  # a training loss to race to (the initial loss is about 2.3 = log 10)
EVALS_PER_EPOCH = 40  # J(w) on the whole training set this often per epoch (every update in batch mode)


class UpdateRecorder:
    """An ``on_batch_end`` callback: J(w) over the whole training set every ``every`` updates.

    The race is read from these points, not interpolated between epochs. The clock is the
    training's own: time spent evaluating J(w) for the record is measured and subtracted.
    """

    def __init__(self, X, y, every: int):
        self.X, self.y, self.every = X, y, max(1, int(every))
        self.updates, self.times, self.losses = [], [], []
        self._start = self._paused = None
        self._count = 0

    def J(self, net) -> float:
        import feedforward as ff

        with ff.no_grad():
            return float(net.output.nll(net(ff.Tensor(self.X)), self.y).data)

    def begin(self, net) -> None:
        import time

        self.updates, self.times, self.losses = [0], [0.0], [self.J(net)]
        self._count, self._paused, self._start = 0, 0.0, time.perf_counter()

    def on_batch_end(self, t, b, logs):
        import time

        self._count += 1
        if self._count % self.every == 0:
            now = time.perf_counter()
            self.updates.append(self._count)
            self.times.append(now - self._start - self._paused)
            self.losses.append(self.J(t.model))
            self._paused += time.perf_counter() - now


def settle_demo(steps: int = 3000, seed: int = 0) -> dict:
    """The lecture's summary on a least-squares problem where the minimum is known in closed form.

    ``J(w) = 1/(2n) ||Xw - y||^2`` with noisy ``y``: batch gradient descent at ``eta = 1/L``
    converges to ``J*`` at the rate ``(1 - eta mu)`` per step that theory predicts (``mu``, ``L``:
    the extreme eigenvalues of ``X^T X / n``); stochastic updates at a constant step keep
    fluctuating around the minimum instead of settling in it.
    """
    rng = np.random.default_rng(seed)
    n, d = 200, 5
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 1.5, d)
    y = X @ rng.normal(size=d) + 0.5 * rng.normal(size=n)
    H = X.T @ X / n
    w_star = np.linalg.solve(H, X.T @ y / n)
    J = lambda w: 0.5 * np.mean((X @ w - y) ** 2)
    J_star = J(w_star)
    eig = np.linalg.eigvalsh(H)
    eta_b = 1.0 / eig[-1]
    w = np.zeros(d)
    batch_gap = []
    for _ in range(steps):
        w = w - eta_b * X.T @ (X @ w - y) / n
        batch_gap.append(J(w) - J_star)
    w = np.zeros(d)
    eta_s = 0.02
    sto_gap, sto_w = [], []
    for _ in range(steps):
        i = rng.integers(n)
        w = w - eta_s * X[i] * (X[i] @ w - y[i])
        sto_gap.append(J(w) - J_star)
        sto_w.append(w.copy())
    k0, k1 = 20, 60  # fit the measured rate on steps well before float rounding
    measured_rate = (batch_gap[k1] / batch_gap[k0]) ** (1 / (k1 - k0))
    predicted_rate = (1 - eta_b * eig[0]) ** 2  # the slowest eigen-direction's J decays as its square
    late = np.array(sto_w[steps // 2:])
    return {"batch_gap": np.array(batch_gap), "sto_gap": np.array(sto_gap), "eta_batch": eta_b,
            "eta_sto": eta_s, "measured_rate": float(measured_rate), "predicted_rate": float(predicted_rate),
            "sto_late_min_gap": float(np.min(sto_gap[steps // 2:])),
            "sto_late_mean_gap": float(np.mean(sto_gap[steps // 2:])),
            "sto_weight_spread": float(np.linalg.norm(late.std(axis=0))),
            "batch_final_gap": float(batch_gap[-1])}


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
        per_epoch = {"stochastic": n, "minibatch": -(-n // 32), "batch": 1}[mode]
        rec = UpdateRecorder(X_red, y_red, per_epoch // EVALS_PER_EPOCH if mode != "batch" else 1)
        rec.begin(net)
        if mode == "batch":
            # One step per epoch: let batch learning run on for as long as the minibatch run took (at
            # least `epochs` epochs), so that the loss-vs-time race is over the same clock.
            budget = res["minibatch"]["rec"].times[-1]
            stop = ff.training.LambdaCallback(
                on_epoch_end=lambda t, e, logs, rec=rec, budget=budget: e >= epochs and rec.times[-1] >= budget)
            history = ff.fit(net, X_red, y_red, optimizer="sgd", lr=lr, mode=mode, max_epochs=100 * epochs,
                             callbacks=[rec, stop], train_eval="loss", rng=0)
        else:
            history = ff.fit(net, X_red, y_red, optimizer="sgd", lr=lr, mode=mode, max_epochs=epochs, rng=0,
                             callbacks=[rec], train_eval="loss", **kw)  # the race compares J(w)
        res[mode] = {"loss": [rec.losses[0]] + history["train_loss"], "rec": rec,
                     "updates": sum(history["n_updates"][:epochs]), "lr": lr, "batch_size": batch_size or n,
                     "epochs_run": history.epochs, "per_epoch": per_epoch,
                     "epoch_seconds": rec.times[-1] / max(rec.updates[-1] / per_epoch, 1e-12),
                     "test_accuracy": float(np.mean(net.predict(X_te) == y_te))}
        if mode == "stochastic":
            res[mode]["batch_size"] = 1

    def time_to(mode):
        """Training time at the first recorded update with J(w) <= TARGET (no interpolation)."""
        r = res[mode]["rec"]
        hit = [t for t, j in zip(r.times, r.losses) if j <= TARGET]
        return hit[0] if hit else None

    reach = {m: time_to(m) for m, _, _ in MODES}
    demo = settle_demo(1000 if quick else 3000)

    fig, axes = _plot.figure(1, 3, size=(15, 4.2))
    for mode, _, _ in MODES:
        r, c = res[mode], _plot.color(mode)
        axes[0].plot(np.array(r["rec"].updates) / r["per_epoch"], r["rec"].losses, color=c,
                     label=f"{mode} (eta={r['lr']:g})")
        axes[1].plot(r["rec"].times, r["rec"].losses, color=c, label=f"{mode} ({r['epochs_run']} epochs)")
    axes[0].set_xlim(0, epochs)
    axes[0].set_xlabel("epochs (passes over the training set), J(w) recorded within each epoch")
    axes[1].set_xlabel("training wall time (s), evaluations for the record excluded")
    axes[1].axhline(TARGET, color="0.5", lw=0.8, ls=":", label=f"J = {TARGET:g}")
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.set_ylabel("training loss J(w) (mean NLL, nats)")
        ax.legend(fontsize=8)
    axes[0].set_title(f"Loss vs epochs (digits x {copies} copies, n = {n:,})")
    axes[1].set_title("Loss vs wall time")
    ax = axes[2]
    steps = np.arange(1, len(demo["batch_gap"]) + 1)
    ax.semilogy(steps, demo["sto_gap"], color=_plot.color("stochastic"), lw=0.8,
                label=f"stochastic, eta={demo['eta_sto']:g}")
    ax.semilogy(steps, np.maximum(demo["batch_gap"], 1e-16), color=_plot.color("batch"),
                label=f"batch, eta=1/L={demo['eta_batch']:.2f}")
    ax.semilogy(steps[:200], demo["batch_gap"][0] * demo["predicted_rate"] ** (steps[:200] - 1), "k:",
                label="theory: (1 - eta mu)^(2t)")
    ax.set(title="Least squares, known minimum J*", xlabel="updates", ylabel="J(w) - J* (log scale)")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "sgd_modes.png")

    loss = {m: res[m]["loss"][epochs] for m, _, _ in MODES}
    secs = {m: res[m]["rec"].times[-1] for m, _, _ in MODES}
    ep_s = {m: res[m]["epoch_seconds"] for m, _, _ in MODES}
    rows = [[m, res[m]["batch_size"], f"{res[m]['lr']:g}", res[m]["updates"], f"{ep_s[m]:.3f}",
             f"{res[m]['loss'][1]:.4f}", f"{loss[m]:.4f}", res[m]["epochs_run"], f"{secs[m]:.2f}",
             f"{res[m]['rec'].losses[-1]:.4f}", "-" if reach[m] is None else f"{reach[m]:.3f}",
             f"{res[m]['test_accuracy']:.4f}"] for m, _, _ in MODES]
    reached = [m for m in reach if reach[m] is not None]
    fastest = min(reached, key=lambda m: reach[m]) if reached else None
    cheapest = min(ep_s, key=ep_s.get)
    summary = (
        f"The digits training set repeated {copies} times (n = {n:,} patterns, each {copies} times: maximal "
        "redundancy), a 64 -> 64 -> 10 ReLU network, plain gradient descent without momentum, "
        f"{epochs} epochs per mode, the same initial weights; eta per mode is in the table. J(w) over the "
        f"whole training set is recorded about {EVALS_PER_EPOCH} times per epoch (every update in batch "
        "mode), and the time of those evaluations is taken off the clock. After one epoch the training "
        "loss is " + ", ".join(f"{res[m]['loss'][1]:.3f} ({m})" for m, _, _ in MODES)
        + f"; after {epochs}: " + ", ".join(f"{loss[m]:.4f}" for m, _, _ in MODES)
        + ". An epoch took " + ", ".join(f"{ep_s[m]:.3f} s ({m})" for m, _, _ in MODES)
        + f": the cheapest epoch is {cheapest}'s"
        + (", although batch learning makes a single step per epoch: one pass of n patterns costs about the "
           "same however it is cut into updates, and stochastic updates each pay a Python-level forward and "
           "backward pass for one pattern" if cheapest != "batch" else "")
        + f". Batch learning then runs on for as long as the minibatch run took "
          f"({res['batch']['epochs_run']} epochs, final loss {res['batch']['rec'].losses[-1]:.4f}). The race "
          f"to J(w) <= {TARGET:g}, read at the first recorded update below it, is "
        + ("won by " + fastest + " (" + ", ".join(
            f"{m} {reach[m]:.3f} s" if reach[m] is not None else f"{m} not within {secs[m]:.2f} s"
            for m, _, _ in MODES) + ")." if fastest else "not finished by any mode.")
        + f" **The lecture's summary**, on least squares with noisy targets (J* known): batch gradient "
          f"descent (eta = 1/L) closes the gap J - J* at a measured {demo['measured_rate']:.4f} per step "
          f"against the {demo['predicted_rate']:.4f} that the extreme eigenvalues predict, and ends "
          f"{abs(demo['batch_final_gap']):.0e} from J*; stochastic updates at a constant eta = "
          f"{demo['eta_sto']:g} keep fluctuating: over the second half of the run the gap is "
          f"{demo['sto_late_mean_gap']:.1e} on average and never below {demo['sto_late_min_gap']:.1e}, and "
          f"the weights keep moving (spread {demo['sto_weight_spread']:.3f}): they do not settle in the minimum."
    )
    checks = {
        "per epoch: stochastic < minibatch < batch training loss": loss["stochastic"] < loss["minibatch"]
        < loss["batch"],
        f"wall time: minibatch reaches J(w) <= {TARGET:g} first (per-update record)": fastest == "minibatch",
        "batch on least squares: measured rate within 2% of (1 - eta mu)^2":
            abs(demo["measured_rate"] - demo["predicted_rate"]) <= 0.02 * demo["predicted_rate"],
        "batch on least squares: converges to J* (|gap| < 1e-9)": abs(demo["batch_final_gap"]) < 1e-9,
        "stochastic on least squares: does not settle (late gap never below 1e-4)": demo["sto_late_min_gap"] > 1e-4,
    }
    numbers = {m: {"loss_per_epoch": [round(v, 5) for v in res[m]["loss"]],
                   "record": {"updates": res[m]["rec"].updates, "time": [round(v, 4) for v in res[m]["rec"].times],
                              "loss": [round(v, 5) for v in res[m]["rec"].losses]},
                   "updates": res[m]["updates"], "epochs_run": res[m]["epochs_run"], "lr": res[m]["lr"],
                   "epoch_seconds": ep_s[m], "time_to_target": reach[m],
                   "test_accuracy": res[m]["test_accuracy"]}
               for m, _, _ in MODES}
    numbers.update(copies=copies, n=n, epochs=epochs,
                   least_squares={k: v for k, v in demo.items() if not isinstance(v, np.ndarray)})
    return {"summary": summary,
            "tables": [("Three ways through the data (updates and losses over the first "
                        f"{epochs} epochs; wall time, final loss and test accuracy over the whole run)",
                        ["mode", "patterns per update", "eta", "updates", "s per epoch", "loss after 1 epoch",
                         f"loss after {epochs}", "epochs run", "wall time (s)", "final loss",
                         f"time to J <= {TARGET:g} (s)", "test accuracy"], rows)],
            "figures": [("Left, middle: training loss vs epochs and vs wall time, recorded within epochs. "
                         "Right: on least squares, batch descent converges at the predicted rate; "
                         "stochastic updates fluctuate above the minimum.", figure)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
