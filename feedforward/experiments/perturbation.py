"""Learning without backprop: perturbing weights one at a time or all at once, against backprop."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 70
TITLE = "How to learn the weights: perturbation vs backpropagation"
CLAIM = (
    "The lecture's first ideas, perturbing one weight at a time or all weights at once and correlating the "
    "change in the loss with the change in the weights, do learn, but need O(#weights) forward passes per "
    "update; backpropagation gets the exact gradient for one forward and one backward pass (L-BP-2)."
)

LABELS = {
    "backprop": "backprop (exact gradient)",
    "finite_differences": "perturb one weight at a time (finite differences)",
    "weight_perturbation": "perturb all weights at once (random directions)",
    "keep_if_better": "perturb one weight, keep it if better",
}


def _problem(hidden=6, seed=0):
    import feedforward as ff

    X = np.linspace(-3, 3, 64)[:, None]
    net = ff.nn.MLP([1, hidden, 1], activation="tanh", rng=seed, dtype=np.float64)
    return net, X, np.sin(X)


def run(out_dir, quick: bool = False) -> dict:
    from feedforward import perturbation as pt

    lr = 0.1
    n_updates = 150 if quick else 400
    net0, X, Y = _problem()
    P = net0.num_parameters()

    # --- equal number of updates
    equal_updates, rows = {}, []
    for method in pt.METHODS:
        net, _, _ = _problem()
        res = pt.train(net, X, Y, method, lr=lr, n_updates=n_updates, rng=0)
        equal_updates[method] = res
        rows.append([LABELS[method], res.passes_per_update, n_updates, res.forward_passes[-1],
                     f"{res.seconds:.3f}", f"{res.losses[-1]:.4f}"])
    start_loss = equal_updates["backprop"].losses[0]

    # --- equal budget of forward passes
    budget = 3000 if quick else 8000
    budget_runs, budget_rows = {}, []
    # one random direction per update is a noisy gradient estimate: it needs a smaller step (0.05 was the
    # best of 0.005, 0.01, 0.02, 0.05 on this problem; 0.1 diverges at times)
    runs = [("backprop", {}, lr), ("finite_differences", {}, lr),
            ("weight_perturbation", {"n_directions": 1}, lr / 2), ("keep_if_better", {}, lr)]
    passes = {"backprop": 1, "finite_differences": P + 1, "weight_perturbation": 2, "keep_if_better": P}
    for method, kw, step in runs:
        net, _, _ = _problem()
        per = passes[method]
        res = pt.train(net, X, Y, method, lr=step, n_updates=budget // per, rng=0, **kw)
        name = LABELS[method] + (", 1 direction per update" if kw else "")
        budget_runs[name] = res
        budget_rows.append([name, res.passes_per_update, budget // per, res.forward_passes[-1],
                            step if method != "keep_if_better" else "-", f"{res.seconds:.3f}",
                            f"{res.losses[-1]:.4f}"])

    # --- forward passes per update vs number of weights (measured)
    scale_rows, linear_in_P = [], True
    for hidden in (2, 6, 18):
        row = []
        for method in pt.METHODS:
            net, Xs, Ys = _problem(hidden)
            res = pt.train(net, Xs, Ys, method, lr=lr, n_updates=2, rng=0)
            measured = res.forward_passes[-1] // 2
            row.append(measured)
        Ph = net.num_parameters()
        linear_in_P &= row[1] == Ph + 1 and row[2] == 2 * Ph and row[3] == Ph and row[0] == 1
        scale_rows.append([hidden, Ph] + row)

    # --- figure
    figures = []
    fig, (ax0, ax1) = _plot.figure(1, 2, size=(12, 4.4))
    for method, res in equal_updates.items():
        ax0.semilogy(np.arange(len(res.losses)), res.losses, label=LABELS[method])
    ax0.set(title=f"Equal number of updates ({P} weights)", xlabel="updates",
            ylabel="J = mean 1/2 (y - f(x))^2")
    ax0.legend(fontsize=8)
    ax0.grid(alpha=0.3, which="both")
    for name, res in budget_runs.items():  # after each update (the start, at 0 passes, has no log position)
        ax1.loglog(res.forward_passes[1:], res.losses[1:], label=name)
    ax1.axhline(start_loss, color="gray", lw=0.8, ls=":", label="J at the start")
    ax1.set(title=f"Equal budget of {budget} forward passes", xlabel="forward passes over the training set",
            ylabel="J = mean 1/2 (y - f(x))^2")
    lowest = min(min(r.losses) for r in budget_runs.values())
    ax1.set_ylim(lowest / 30, start_loss * 2)  # room for the legend below the curves
    ax1.legend(fontsize=7.5, loc="lower left")
    ax1.grid(alpha=0.3, which="both")
    caption = ("Fitting sin(x) with a 1-6-1 tanh network: per update the perturbation methods do about as "
               "well as backprop (left) but each update costs O(#weights) forward passes (right).")
    figures.append((caption, _plot.save(fig, out_dir, "perturbation.png")))

    fd, bp = equal_updates["finite_differences"], equal_updates["backprop"]
    final = {name: r.losses[-1] for name, r in budget_runs.items()}
    bp_budget = final[LABELS["backprop"]]
    fd_budget = final[LABELS["finite_differences"]]
    wp_budget = final[LABELS["weight_perturbation"] + ", 1 direction per update"]
    summary = (
        f"A 1-6-1 tanh network ({P} weights) fits sin(x) on 64 points, starting from J = {start_loss:.3f}, "
        f"with gradient descent (lr {lr}) for {n_updates} updates. Finite differences (one weight at a "
        f"time) need {P + 1} forward passes per update and end at J = {fd.losses[-1]:.4f}, the same as "
        f"backprop ({bp.losses[-1]:.4f}) whose update costs one forward and one backward pass; the finite "
        f"differences took {fd.seconds / max(bp.seconds, 1e-9):.0f} times the wall time. Random-direction "
        f"weight perturbation with {P} directions per update costs {2 * P} passes. For the same budget of "
        f"{budget} forward passes, backprop reaches J = {bp_budget:.4f}, finite differences {fd_budget:.4f} "
        "and weight perturbation with one direction per update (2 passes each, a noisy estimate, half the "
        f"step) {wp_budget:.4f}. The literal first idea (perturb a weight, keep the change if the loss went "
        f"down) also learns, at one pass per weight per sweep, and does well on this {P}-weight problem. "
        "Measured passes per update grow linearly with the number of weights (last table), while "
        "backprop's stays one forward and one backward pass whatever the size of the network."
    )
    header = ["method", "forward passes / update", "updates", "forward passes", "wall time (s)", "final J"]
    tables = [
        (f"Equal number of updates ({n_updates}, lr {lr})", header, rows),
        (f"Equal budget of forward passes ({budget})", header[:4] + ["lr"] + header[4:], budget_rows),
        ("Forward passes per update, measured, vs the number of weights",
         ["hidden units", "weights"] + [LABELS[m] for m in pt.METHODS], scale_rows),
    ]
    checks = {f"{m}_lowers_the_loss": res.losses[-1] < 0.5 * res.losses[0]
              for m, res in equal_updates.items()}
    checks["passes_per_update_linear_in_weights"] = bool(linear_in_P)
    checks["backprop_best_at_equal_budget"] = all(
        budget_runs[LABELS["backprop"]].losses[-1] <= r.losses[-1] for r in budget_runs.values())
    numbers = {
        "n_weights": P, "start_loss": start_loss,
        "equal_updates": {m: {"final_loss": r.losses[-1], "passes_per_update": r.passes_per_update,
                              "seconds": r.seconds} for m, r in equal_updates.items()},
        "equal_budget": {n: {"final_loss": r.losses[-1], "updates": len(r.losses) - 1}
                         for n, r in budget_runs.items()},
    }
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
