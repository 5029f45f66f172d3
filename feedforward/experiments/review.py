"""Review: KL divergence and its asymmetry, cross-entropy = KL + H(p), the optimal step eps* = g'g / g'Hg (L-REV-1, L-REV-2)."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 5
TITLE = "Review: KL divergence is asymmetric; the best step from the second-order Taylor expansion"
QUOTE = (
    'KL散度是不对称的: q* = argmin_q D_KL(p‖q), q* = argmin_q D_KL(q‖p) …… '
    '预测最佳步长: ε* = gᵀg / gᵀHg …… 大的梯度加速收敛; 如果与它们的特征向量对齐，大的特征值将会减速',
    'The KL divergence is asymmetric: q* = argmin_q KL(p||q) vs q* = argmin_q KL(q||p) ... Predicting the '
    'best step: eps* = g^T g / g^T H g ... large gradients speed convergence; large eigenvalues slow it down '
    'if g is aligned with their eigenvectors.',
)
CLAIM = (
    "For p a mixture of three Gaussians and q a single Gaussian, argmin_q KL(p||q) covers all of p (it "
    "matches p's mean and variance) while argmin_q KL(q||p) locks onto one mode; the cross-entropy "
    "H(p, q) equals KL(p||q) + H(p), so minimising one minimises the other. On a quadratic the step "
    "eps* = g'g / g'Hg is the exact minimiser along -g and equals 1/lambda when g is an eigenvector with "
    "eigenvalue lambda; on a real network's loss, with Hessian-vector products from the engine's "
    "gradients, eps* predicts the best step along -g."
)

GRID = np.linspace(-8, 8, 4001)
COMPONENTS = ((0.3, -4.5, 0.6), (0.4, 0.0, 0.6), (0.3, 4.5, 0.6))  # weight, mean, std


def gauss(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def mixture(x):
    return sum(w * gauss(x, m, s) for w, m, s in COMPONENTS)


def kl(a, b, dx):
    """KL(a||b) of two densities on the grid (0 log 0 = 0)."""
    mask = a > 1e-300
    return float(np.sum(a[mask] * (np.log(a[mask]) - np.log(np.maximum(b[mask], 1e-300)))) * dx)


def fit(direction: str):
    """Best Gaussian q = N(mu, sd) for KL(p||q) ("forward") or KL(q||p) ("reverse"), by grid search."""
    dx = GRID[1] - GRID[0]
    p = mixture(GRID)
    best = None
    for mu in np.linspace(-5, 5, 201):
        for sd in np.geomspace(0.3, 6, 121):
            q = gauss(GRID, mu, sd)
            d = kl(p, q, dx) if direction == "forward" else kl(q, p, dx)
            if best is None or d < best[0]:
                best = (d, mu, sd)
    return best


def hvp(loss_grad, w, v, r=1e-4):
    """Hessian-vector product ``H v`` by central differences of the engine's exact gradients."""
    return (loss_grad(w + r * v) - loss_grad(w - r * v)) / (2 * r)


def _network_step():
    """eps* on a 2-16-1 tanh net's squared error, against a line search along -g."""
    import feedforward as ff
    from feedforward import perturbation as pt

    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (128, 2))
    Y = np.sin(X[:, :1]) * np.cos(X[:, 1:])
    net = ff.nn.MLP([2, 16, 1], activation="tanh", rng=0, dtype=np.float64)
    J = pt.CountingLoss(net, X, Y)

    def grad(w):
        pt.set_flat_parameters(net, w)
        net.zero_grad()
        pt._loss_tensor(net, ff.Tensor(X), Y).backward()
        return np.concatenate([p.grad.ravel() for p in net.parameters()])

    w0 = pt.flat_parameters(net)
    g = grad(w0)
    Hg = hvp(grad, w0, g)
    eps_star = float(g @ g / (g @ Hg))
    eps = np.linspace(0, 3 * eps_star, 301)
    actual = np.array([J(w0 - e * g) for e in eps])
    taylor = J(w0) - eps * (g @ g) + 0.5 * eps ** 2 * (g @ Hg)
    return eps, actual, taylor, eps_star, float(eps[np.argmin(actual)])


def run(out_dir, quick: bool = False) -> dict:
    dx = GRID[1] - GRID[0]
    p = mixture(GRID)
    mean = float(np.sum(GRID * p) * dx)
    var = float(np.sum((GRID - mean) ** 2 * p) * dx)
    fwd, rev = fit("forward"), fit("reverse")
    # cross-entropy = KL + entropy, for a few arbitrary q
    H_p = -float(np.sum(p * np.log(p)) * dx)
    ce_err = 0.0
    for mu, sd in ((0.0, 1.0), (2.0, 3.0), (-1.0, 0.5)):
        q = gauss(GRID, mu, sd)
        ce = -float(np.sum(p * np.log(q)) * dx)
        ce_err = max(ce_err, abs(ce - (kl(p, q, dx) + H_p)))
    kl_fwd_vs_rev = (kl(p, gauss(GRID, fwd[1], fwd[2]), dx), kl(gauss(GRID, fwd[1], fwd[2]), p, dx))

    # quadratic: eps* along -g is the exact line minimum; for g an eigenvector it is 1/lambda
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    lam = np.array([0.1, 0.5, 1.0, 4.0, 20.0])
    H = Q @ np.diag(lam) @ Q.T
    f = lambda x: 0.5 * x @ H @ x
    x0 = rng.normal(size=5)
    g = H @ x0
    eps_q = g @ g / (g @ H @ g)
    line = np.linspace(0, 3 * eps_q, 3001)
    best_line = line[np.argmin([f(x0 - e * g) for e in line])]
    eig_steps = [float(Q[:, i] @ Q[:, i] / (Q[:, i] @ H @ Q[:, i])) for i in range(5)]
    eps, actual, taylor, eps_star, eps_best = _network_step()

    fig, axes = _plot.figure(1, 2, size=(12, 4.2))
    ax = axes[0]
    ax.plot(GRID, p, color=_plot.color("p"), lw=2, label="p: mixture of 3 Gaussians")
    ax.plot(GRID, gauss(GRID, fwd[1], fwd[2]), color=_plot.color("KL(p||q)"), lw=1.5,
            label=f"argmin KL(p||q): N({fwd[1]:.2f}, {fwd[2]:.2f}^2)")
    ax.plot(GRID, gauss(GRID, rev[1], rev[2]), color=_plot.color("KL(q||p)"), lw=1.5,
            label=f"argmin KL(q||p): N({rev[1]:.2f}, {rev[2]:.2f}^2)")
    ax.set(title="KL is asymmetric: covering vs mode-seeking", xlabel="x", ylabel="density")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(eps, actual, color=_plot.color("backprop"), label="J(w - eps g), measured")
    ax.plot(eps, taylor, "k--", lw=1, label="second-order Taylor expansion")
    ax.axvline(eps_star, color="0.4", ls=":", label=f"eps* = g'g / g'Hg = {eps_star:.3g}")
    ax.set(title="2-16-1 tanh net: the step along -g", xlabel="step eps", ylabel="J = mean 1/2 (y - f(x))^2")
    ax.legend(fontsize=8)
    figure = _plot.save(fig, out_dir, "review.png")

    summary = (
        "p is a mixture of Gaussians at -4.5, 0, 4.5 (weights 0.3, 0.4, 0.3, standard deviation 0.6); "
        f"its mean is {mean:.3f} and its "
        f"standard deviation {np.sqrt(var):.3f}. Over Gaussians q on a grid of means and widths, KL(p||q) is "
        f"smallest at N({fwd[1]:.2f}, {fwd[2]:.2f}^2), a wide q over all three modes with p's own moments; "
        f"KL(q||p) is smallest at N({rev[1]:.2f}, {rev[2]:.2f}^2), one mode. The cross-entropy H(p, q) "
        f"equals KL(p||q) + H(p) (H(p) = {H_p:.4f}) within {ce_err:.1e} for three arbitrary q. On a "
        f"quadratic with eigenvalues {', '.join(f'{v:g}' for v in lam)}, eps* = {eps_q:.4f} against a line "
        f"search's {best_line:.4f}; along each eigenvector eps* = 1/lambda "
        f"({', '.join(f'{v:.3g}' for v in eig_steps)}): the largest eigenvalue forces the smallest step. On "
        f"a 2-16-1 tanh network with H g from the engine's gradients (central differences), eps* = "
        f"{eps_star:.4g}; the best step of a line search is {eps_best:.4g}."
    )
    checks = {
        "argmin KL(p||q) matches p's mean (within 0.1) and std (within 5%)":
            abs(fwd[1] - mean) < 0.1 and abs(fwd[2] - np.sqrt(var)) < 0.05 * np.sqrt(var),
        "argmin KL(q||p) sits on one mode (mean within 0.3 of a component, std < 1.2)":
            min(abs(rev[1] - m) for _, m, _ in COMPONENTS) < 0.3 and rev[2] < 1.2,
        "KL is asymmetric at the forward fit (KL(p||q) and KL(q||p) differ by > 10%)":
            abs(kl_fwd_vs_rev[0] - kl_fwd_vs_rev[1]) > 0.1 * min(kl_fwd_vs_rev),
        "cross-entropy = KL + H(p) (within 1e-8)": ce_err < 1e-8,
        "quadratic: eps* is the line minimum (within 0.2%)": abs(best_line - eps_q) <= 0.002 * eps_q,
        "quadratic: eps* = 1/lambda along each eigenvector": bool(np.allclose(eig_steps, 1 / lam, rtol=1e-9)),
        "network: eps* within 30% of the line search's best step": abs(eps_star - eps_best) <= 0.3 * eps_best,
    }
    numbers = {"p_mean": mean, "p_std": float(np.sqrt(var)), "forward_fit": fwd[1:], "reverse_fit": rev[1:],
               "ce_error": ce_err, "quadratic_eps_star": float(eps_q), "quadratic_line_best": float(best_line),
               "network_eps_star": eps_star, "network_line_best": eps_best}
    return {"summary": summary, "tables": [], "figures": [
        ("Left: the Gaussian that minimises KL(p||q) covers the mixture, the one that minimises KL(q||p) "
         "picks a mode. Right: on a network, the loss along -g, its Taylor expansion and eps*.", figure)],
        "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
