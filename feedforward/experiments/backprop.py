"""Backpropagation by hand (the lecture's worked example) against the autodiff engine."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 60
TITLE = "Backpropagation by hand: the worked example"
QUOTE = (
    '对于每个输出单元 δ_k = ŷ_k − y_k; 对于隐单元 j, δ_j = (1 − z_j²) Σ_k w_jk δ_k',
    'For each output unit delta_k = y_hat_k - y_k; for a hidden unit j, delta_j = (1 - z_j^2) sum_k w_jk '
    'delta_k.',
)
CLAIM = (
    "For tanh hidden units, a linear output and squared loss, delta = y_hat - y, delta_j = (1 - z_j^2) "
    "sum_k w_jk delta_k, dL/dw_ij = delta_j x_i and dL/dw_jk = delta_k z_j; these hand formulas equal the "
    "engine's automatic differentiation (L-BP-1). Errata corrected: eta is the learning rate, and the "
    "output-weight gradient is +delta z_j."
)


def _engine(X, Y, params):
    import feedforward as ff
    import feedforward.functional as F

    T = [ff.Tensor(np.array(p, dtype=np.float64), requires_grad=True) for p in params]
    W1, b1, W2, b2 = T
    y_hat = F.tanh(ff.Tensor(X) @ W1 + b1) @ W2 + b2
    diff = y_hat - Y
    loss = (diff * diff).sum() * 0.5
    loss.backward()
    return loss.item(), [t.grad for t in T]


def _fmt(a) -> str:
    return "[" + ", ".join(f"{v + 0.0:.5f}" for v in np.ravel(a)) + "]"


def _sgd(params, X, Y, lr, n_updates, rng, how):
    """Algorithm 1 (stochastic backprop): one random pattern per update; returns params and J every 10."""
    from feedforward import handbackprop as hb

    rng = np.random.default_rng(rng)
    curve = [hb.loss(X, Y, params, "mean")]
    for t in range(n_updates):
        i = rng.integers(len(X))
        x, y = X[i:i + 1], Y[i:i + 1]
        if how == "engine":
            _, grads = _engine(x, y, params)
            g = dict(zip(["W1", "b1", "W2", "b2"], grads))
        else:
            g = hb.backward(x, y, params)
            if how == "slide_sign":  # the slide's printed dL/dw_j = (y - y_hat) z_j
                g = dict(g, W2=-g["W2"], b2=-g["b2"])
        params = hb.sgd_step(params, g, lr)
        if (t + 1) % 10 == 0:
            curve.append(hb.loss(X, Y, params, "mean"))
    return params, curve


def run(out_dir, quick: bool = False) -> dict:
    from feedforward import handbackprop as hb

    # --- the worked example: one pattern, d = 2, m = 3, one output
    rng = np.random.default_rng(0)
    params = hb.init_params(2, 3, 1, rng=rng, scale=0.5)
    x, y = np.array([[1.0, -2.0]]), np.array([[0.5]])
    g = hb.backward(x, y, params)
    loss, eg = _engine(x, y, params)
    W2 = params[2][:, 0]
    rows = [
        ["a_j", "sum_i w_ij x_i + b_j", _fmt(g["a"]), ""],
        ["z_j", "tanh(a_j)", _fmt(g["z"]), ""],
        ["y_hat", "sum_j w_j z_j + b", _fmt(g["y_hat"]), ""],
        ["L", "1/2 (y - y_hat)^2", f"{hb.loss(x, y, params):.5f}", f"{loss:.5f}"],
        ["delta", "y_hat - y", _fmt(g["delta"]), ""],
        ["delta_j", "(1 - z_j^2) w_j delta", _fmt((1 - g["z"] ** 2) * W2 * g["delta"]), ""],
        ["dL/dw_ij", "delta_j x_i", _fmt(g["W1"]), _fmt(eg[0])],
        ["dL/db_j", "delta_j", _fmt(g["b1"]), _fmt(eg[1])],
        ["dL/dw_j", "delta z_j (slides: (y - y_hat) z_j, wrong sign)", _fmt(g["W2"]), _fmt(eg[2])],
        ["dL/db", "delta", _fmt(g["b2"]), _fmt(eg[3])],
    ]
    worked_diff = max(float(np.abs(g[k] - e).max()) for k, e in zip(["W1", "b1", "W2", "b2"], eg))

    # --- random networks, several outputs
    n_nets = 30 if quick else 200
    worst_abs, worst_rel = 0.0, 0.0
    for _ in range(n_nets):
        d, m, K, n = (int(v) for v in rng.integers(1, 8, size=4))
        p = hb.init_params(d, m, K, rng=rng)
        X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, K))
        hand = hb.backward(X, Y, p)
        _, eng = _engine(X, Y, p)
        for k, e in zip(["W1", "b1", "W2", "b2"], eng):
            diff = np.abs(hand[k] - e)
            worst_abs = max(worst_abs, float(diff.max()))
            worst_rel = max(worst_rel, float((diff / np.maximum(np.abs(e), 1e-8)).max()))

    # --- stochastic backprop (Algorithm 1): hand formulas vs engine, and the slide's sign
    X = np.linspace(-np.pi, np.pi, 32)[:, None]
    Y = np.sin(X)
    start = hb.init_params(1, 8, 1, rng=1, scale=0.5)
    n_updates = 2000 if quick else 6000
    lr = 0.1
    p_hand, c_hand = _sgd(start, X, Y, lr, n_updates, 2, "hand")
    p_eng, c_eng = _sgd(start, X, Y, lr, n_updates, 2, "engine")
    _, c_wrong = _sgd(start, X, Y, lr, 100, 2, "slide_sign")
    traj_diff = max(float(np.abs(a - b).max()) for a, b in zip(p_hand, p_eng))

    # --- figure
    figures = []
    fig, (ax0, axw, ax1) = _plot.figure(1, 3, size=(15, 4.2))
    steps = np.arange(len(c_hand)) * 10
    ax0.semilogy(steps, c_hand, lw=3, alpha=0.5, label="hand formulas (NumPy)")
    ax0.semilogy(steps, c_eng, "k--", lw=1, label="engine autodiff")
    ax0.set(title="Stochastic backprop (Algorithm 1) on sin(x)", xlabel="updates (one pattern each)",
            ylabel="J = mean 1/2 (y - y_hat)^2")
    ax0.legend(fontsize=8)
    ax0.grid(alpha=0.3, which="both")
    early = np.arange(len(c_wrong)) * 10
    axw.semilogy(early, c_hand[:len(c_wrong)], lw=2, label="dL/dw_j = delta z_j (correct)")
    axw.semilogy(early, c_wrong, "r-", lw=2, label="slides: (y - y_hat) z_j (erratum)")
    axw.set(title="The sign of the output-weight gradient", xlabel="updates (one pattern each)",
            ylabel="J = mean 1/2 (y - y_hat)^2")
    axw.legend(fontsize=8)
    axw.grid(alpha=0.3, which="both")
    xs = np.linspace(-np.pi, np.pi, 200)[:, None]
    ax1.plot(xs, np.sin(xs), "k", lw=2, label="sin(x)")
    ax1.plot(xs, hb.forward(xs, start)["y_hat"], ":", label="network at the start")
    ax1.plot(xs, hb.forward(xs, p_hand)["y_hat"], label=f"after {n_updates} hand-backprop updates")
    ax1.scatter(X, Y, s=10, c="k", label="training patterns")
    ax1.set(title="The fitted network (tanh hidden layer of 8)", xlabel="x", ylabel="y")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    caption = ("Left: hand-written backprop and the engine take identical steps (the curves coincide). "
               "Middle: with the slide's printed sign the output weights climb the loss. Right: the fit.")
    figures.append((caption, _plot.save(fig, out_dir, "backprop.png")))

    summary = (
        "The worked example (one pattern x = [1, -2], y = 0.5, three tanh units, random weights) is "
        "computed with the slides' formulas in plain NumPy (`feedforward.handbackprop`) and by the "
        f"engine's reverse-mode autodiff: the largest difference is {worked_diff:.1e}. On {n_nets} random "
        "networks with 1 to 7 inputs, hidden units, outputs and patterns (multi-output: delta_j = (1 - "
        f"z_j^2) sum_k w_jk delta_k) the largest absolute difference is {worst_abs:.1e} (relative "
        f"{worst_rel:.1e}); the two compute the same float64 numbers. {n_updates} updates of stochastic "
        f"backprop (lr = eta = {lr}) with the hand formulas and with the engine end {traj_diff:.1e} apart "
        f"and lower J from {c_hand[0]:.3f} to {c_hand[-1]:.4f}; using the slide's printed sign (y - y_hat) "
        f"z_j for the output weights instead drives J to {c_wrong[-1]:.3g}."
    )
    tables = [("The worked example, every quantity (column 'engine': reverse-mode autodiff)",
               ["quantity", "formula", "by hand", "engine"], rows)]
    checks = {
        "worked_example_equals_autodiff": worked_diff < 1e-12,
        "random_networks_equal_autodiff": worst_rel < 1e-9 and worst_abs < 1e-10,
        "sgd_trajectories_identical": traj_diff < 1e-10,
        "hand_sgd_lowers_the_loss": c_hand[-1] < 0.2 * c_hand[0],
        "slide_sign_increases_the_loss": c_wrong[-1] > c_wrong[0],
    }
    numbers = {"worked_example_max_diff": worked_diff, "random_networks": n_nets, "max_abs_diff": worst_abs,
               "max_rel_diff": worst_rel, "trajectory_diff": traj_diff, "J_start": c_hand[0],
               "J_end": c_hand[-1], "J_end_slide_sign": c_wrong[-1]}
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
