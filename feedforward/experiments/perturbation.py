"""Learning without backprop: perturbing weights one at a time or all at once, against backprop."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 70
TITLE = "How to learn the weights: perturbation vs backpropagation"
QUOTE = (
    '初步想法: 随机扰动一个权重，看看它是否提高了性能，而后保存更改 …… 非常低效 …… 其他想法: 同时扰动所有的权重 …… 所'
    '以: 只扰动激活值 (因为他们数量较少), 但同样低效',
    'First idea: randomly perturb one weight, see whether it improves performance, and keep the change ... '
    'very inefficient ... Another idea: perturb all weights at once ... So: perturb only the activations '
    '(since there are fewer of them), but this is just as inefficient.',
)
CLAIM = (
    "The lecture's first ideas, perturbing one weight at a time or all weights at once and correlating the "
    "change in the loss with the change in the weights, do learn, but need O(#weights) forward passes per "
    "update; perturbing only the units' activations (node perturbation) needs O(#units) passes; "
    "backpropagation gets the exact gradient for one forward and one backward pass, charged here as three "
    "forward passes, and wins at equal wall time once the network is not tiny (L-BP-2)."
)

LABELS = {
    "backprop": "backprop (exact gradient)",
    "finite_differences": "perturb one weight at a time (finite differences)",
    "weight_perturbation": "perturb all weights at once (random directions)",
    "keep_if_better": "perturb one weight, keep it if better",
    "node_perturbation": "perturb one unit's activation at a time (node perturbation)",
}
BACKWARD_CHARGE = 2  # a backward pass is charged as 2 forward passes (see _backward_ratio)


def _problem(hidden=6, seed=0, depth=1):
    import feedforward as ff

    X = np.linspace(-3, 3, 64)[:, None]
    net = ff.nn.MLP([1] + [hidden] * depth + [1], activation="tanh", rng=seed, dtype=np.float64)
    return net, X, np.sin(X)


def _backward_ratio(net, X, Y, repeats=200) -> float:
    """Measured wall time of one backward pass over one forward pass (the same network and data).

    By operation count a backward pass through an affine layer is two matrix products (the
    gradient for the weights and for the layer's input) against the forward pass's one, so
    it is charged as 2 forward passes; this measures what it costs in this engine.
    """
    import time

    import feedforward as ff
    from feedforward import perturbation as pt

    Xt = ff.Tensor(X)
    t0 = time.perf_counter()
    for _ in range(repeats):
        with ff.no_grad():
            pt._loss_tensor(net, Xt, Y)
    forward = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        net.zero_grad()
        pt._loss_tensor(net, Xt, Y).backward()
    return max((time.perf_counter() - t0 - forward) / forward, 0.0)


GRIDS = {  # step sizes tried per method at equal wall time; each method is shown at its best
    "backprop": (0.1, 0.3, 1.0), "finite_differences": (0.1, 0.3, 1.0), "node_perturbation": (0.1, 0.3, 1.0),
    "weight_perturbation": (0.02, 0.05, 0.1), "keep_if_better": (0.01, 0.05, 0.2),
}


def _wall_time_race(hidden, depth, seconds):
    """Every method on the same net for the same update wall time, at the best step of its grid.

    Returns ``{method: (times, losses, step)}``. Comparing at one shared step would compare the
    step, not the method: plain gradient descent at a small step is slow on this problem, and
    keep-if-better has its own trial step.
    """
    from feedforward import perturbation as pt

    out = {}
    for method in (*pt.METHODS, "node_perturbation"):
        best = None
        for step in GRIDS[method]:
            with np.errstate(all="ignore"):  # the grid's largest step may diverge: that run is dropped
                run = _race_one(method, step, hidden, depth, seconds)
            if not np.isfinite(run[1][-1]):
                continue
            if best is None or run[1][-1] < best[1][-1]:
                best = run
        out[method] = best
    return out


def _race_one(method, step, hidden, depth, seconds):
    """One method at one step for ``seconds`` of update time: ``(times, losses, step)``."""
    from feedforward import perturbation as pt

    from ._node_perturbation import train_node_perturbation

    net, X, Y = _problem(hidden, depth=depth)
    if method == "node_perturbation":
        losses, _, times = train_node_perturbation(net, X, Y, lr=step, n_updates=10**6, seconds=seconds)
        return np.array(times), losses, step
    kw = {"n_directions": 1} if method == "weight_perturbation" else {}
    kw.update({"step": step, "lr": 0.1} if method == "keep_if_better" else {"lr": step})
    # Train in chunks until the update time is spent, each chunk sized from the last one's cost and
    # the random stream carried on from chunk to chunk; updates of a chunk cost the same, so its
    # measured time is spread evenly over them.
    gen = np.random.default_rng(0)
    times, losses, chunk = [0.0], None, 2
    while times[-1] < seconds:
        res = pt.train(net, X, Y, method, n_updates=chunk, rng=gen, **kw)
        losses = res.losses if losses is None else losses + res.losses[1:]
        times += list(times[-1] + res.seconds * np.arange(1, chunk + 1) / chunk)
        per = res.seconds / chunk
        chunk = int(min(max(1, (seconds - times[-1]) / max(per, 1e-7)), 2 * chunk + 8))
        if not np.isfinite(losses[-1]):
            break
    return np.array(times), losses, step


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
    n_units = 6 + 1
    passes = {"backprop": 1 + BACKWARD_CHARGE, "finite_differences": P + 1, "weight_perturbation": 2,
              "keep_if_better": P}
    for method, kw, step in runs:
        net, _, _ = _problem()
        per = passes[method]
        res = pt.train(net, X, Y, method, lr=step, n_updates=budget // per, rng=0, **kw)
        name = LABELS[method] + (", 1 direction per update" if kw else "")
        budget_runs[name] = res
        budget_rows.append([name, per, budget // per, (budget // per) * per,
                            step if method != "keep_if_better" else "-", f"{res.seconds:.3f}",
                            f"{res.losses[-1]:.4f}"])
    from ._node_perturbation import train_node_perturbation

    net, _, _ = _problem()
    node_losses, node_passes, node_times = train_node_perturbation(net, X, Y, lr=lr,
                                                                   n_updates=budget // (1 + n_units))
    budget_runs[LABELS["node_perturbation"]] = type("R", (), {
        "losses": node_losses, "forward_passes": [p or 1 for p in node_passes], "seconds": node_times[-1]})()
    budget_rows.append([LABELS["node_perturbation"], 1 + n_units, budget // (1 + n_units), node_passes[-1], lr,
                        f"{node_times[-1]:.3f}", f"{node_losses[-1]:.4f}"])
    ratio = _backward_ratio(*_problem())
    import feedforward as ff

    from ._node_perturbation import layers_of, node_gradient

    # the node-perturbation gradient against backprop's, at the start

    net, Xc, Yc = _problem()
    _, node_g, node_p = node_gradient(layers_of(net), Xc, Yc.reshape(-1, 1))
    net.zero_grad()
    pt._loss_tensor(net, ff.Tensor(Xc), Yc.reshape(-1, 1)).backward()
    node_err = max(float(np.abs(dW - lin.weight.grad).max()) for (dW, _), lin in zip(node_g, net.linears))

    # --- equal wall time, on the small net and on one with 229x the weights
    race_s = 0.25 if quick else 1.0
    races = {(6, 1): _wall_time_race(6, 1, race_s), (64, 2): _wall_time_race(64, 2, race_s)}
    P_big = _problem(64, depth=2)[0].num_parameters()
    race_final = {key: {m: float(r[1][-1]) for m, r in race.items()} for key, race in races.items()}
    small = race_final[(6, 1)]

    big = race_final[(64, 2)]

    def rank(finals):
        return 1 + sum(v < finals["backprop"] for v in finals.values())

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
        ax0.semilogy(np.arange(len(res.losses)), res.losses, label=LABELS[method], color=_plot.color(method))
    ax0.set(title=f"Equal number of updates ({P} weights)", xlabel="updates",
            ylabel="J = mean 1/2 (y - f(x))^2")
    ax0.legend(fontsize=8)
    ax0.grid(alpha=0.3, which="both")
    names = {LABELS[m]: m for m in LABELS}
    for name, res in budget_runs.items():  # after each update (the start, at 0 passes, has no log position)
        method = names.get(name, "weight_perturbation")
        charged = np.arange(1, len(res.losses)) * passes.get(method, 1 + n_units)
        ax1.loglog(charged, res.losses[1:], label=name, color=_plot.color(method))
    ax1.axhline(start_loss, color="gray", lw=0.8, ls=":", label="J at the start")
    ax1.set(title=f"Equal budget of {budget} forward passes (backward charged as {BACKWARD_CHARGE})",
            xlabel="forward passes over the training set (a backprop update: 1 + 2)",
            ylabel="J = mean 1/2 (y - f(x))^2")
    lowest = min(min(r.losses) for r in budget_runs.values())
    ax1.set_ylim(lowest / 30, start_loss * 2)  # room for the legend below the curves
    ax1.legend(fontsize=7.5, loc="lower left")
    ax1.grid(alpha=0.3, which="both")
    caption = ("Fitting sin(x) with a 1-6-1 tanh network: per update the perturbation methods do about as "
               "well as backprop (left) but each update costs O(#weights) forward passes (right).")
    figures.append((caption, _plot.save(fig, out_dir, "perturbation.png")))
    fig, axes = _plot.figure(1, 2, size=(12, 4.4))
    for ax, ((hidden, depth), race) in zip(axes, races.items()):
        for method, (times, losses, _) in race.items():
            ax.loglog(np.maximum(times[1:], 1e-4), losses[1:], label=LABELS[method], color=_plot.color(method))
        Pn = _problem(hidden, depth=depth)[0].num_parameters()
        ax.set(title=f"Equal wall time, {race_s:g} s each: 1-{'-'.join([str(hidden)] * depth)}-1 ({Pn} weights)",
               xlabel="wall time of the updates (s)", ylabel="J = mean 1/2 (y - f(x))^2")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    figures.append(("Equal wall time: J against the time spent on updates, on the 19-weight net and on a "
                    f"{P_big}-weight one.", _plot.save(fig, out_dir, "perturbation_wall_time.png")))

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
        f"{budget} forward passes, a backward pass charged as {BACKWARD_CHARGE} forward passes (its operation "
        f"count; measured here it takes {ratio:.1f} times a forward pass's wall time), so a backprop update "
        f"costs {1 + BACKWARD_CHARGE}: backprop reaches J = {bp_budget:.4f}, finite differences {fd_budget:.4f} "
        "and weight perturbation with one direction per update (2 passes each, a noisy estimate, half the "
        f"step) {wp_budget:.4f}, keep-if-better {final[LABELS['keep_if_better']]:.4f}, and node perturbation "
        f"(the lecture's third idea: perturb each of the {n_units} units' activations, {1 + n_units} passes "
        f"per update, its gradient equal to backprop's within {node_err:.0e}) {node_losses[-1]:.4f}. "
        f"On this {P}-weight problem the literal first idea (perturb a weight, keep it if better) is "
        + ("as good as or better than backprop per pass" if final[LABELS['keep_if_better']] <= bp_budget else
           "behind backprop")
        + f". At equal wall time ({race_s:g} s of updates each, every method at the best step of a grid of "
          "three) the final J is "
        + ", ".join(f"{v:.2g} ({m})" for m, v in race_final[(6, 1)].items())
        + f" on the {P}-weight net, and "
        + ", ".join(f"{v:.2g} ({m})" for m, v in big.items())
        + f" on a 1-64-64-1 net with {P_big} weights: backprop ranks {rank(small)} of 5 on the small net and "
          f"{rank(big)} of 5 on the large one. The exact-gradient perturbation methods (finite differences, "
          "node perturbation) fall behind as the net grows, as their cost per update grows with the weights or "
          "units. "
        + ("Backprop overtakes the cheap random ones (one random direction per update, keep-if-better) on the "
           "large net; on the small one they beat plain gradient descent, which the lecture's 'very "
           "inefficient' does not lead one to expect: on a 19-weight, one-input problem a noisy but cheap "
           "estimate is not slow. " if rank(big) == 1 else
           "The cheap random ones (one random direction per update, keep-if-better) stay competitive with "
           "plain gradient descent within this budget on this one-input problem, which the lecture's 'very "
           "inefficient' does not lead one to expect: their estimate is noisy, not slow, and plain gradient "
           "descent is itself slow here. ")
        + "Measured passes per update grow linearly with the number of weights (last table), while "
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
    # What was measured: the exact-gradient perturbation methods (finite differences, node
    # perturbation) fall behind backprop at equal wall time, the more so the larger the net.
    checks[f"equal wall time, {P_big} weights: backprop beats finite differences and node perturbation"] = (
        big["backprop"] < big["finite_differences"] and big["backprop"] < big["node_perturbation"])
    checks["finite differences fall further behind backprop as the net grows"] = (
        big["finite_differences"] / big["backprop"] > small["finite_differences"] / small["backprop"])
    checks["node perturbation lowers the loss"] = node_losses[-1] < 0.5 * node_losses[0]
    checks["node-perturbation gradient = backprop's (max error < 1e-4)"] = node_err < 1e-4
    checks["node perturbation: 1 + #units passes per update (8 for 1-6-1)"] = node_p == 1 + n_units
    numbers = {
        "n_weights": P, "start_loss": start_loss,
        "equal_updates": {m: {"final_loss": r.losses[-1], "passes_per_update": r.passes_per_update,
                              "seconds": r.seconds} for m, r in equal_updates.items()},
        "equal_budget": {n: {"final_loss": r.losses[-1], "updates": len(r.losses) - 1}
                         for n, r in budget_runs.items()},
        "backward_over_forward_time": ratio, "backward_charge": BACKWARD_CHARGE,
        "equal_wall_time": {f"{P if k == (6, 1) else P_big} weights": v for k, v in race_final.items()},
        "wall_time_budget_s": race_s, "node_gradient_max_error": node_err,
    }
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
