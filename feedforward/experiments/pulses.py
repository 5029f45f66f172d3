"""Regression from square pulses: one hidden layer approximates any function of one input."""

from __future__ import annotations

import numpy as np

from . import _plot

ORDER = 40
TITLE = "MLPs for continuous regression: sums of square pulses"
QUOTE = (
    '一个简单的3单元MLP可以在输入端产生一个“平方脉冲” …… 具有多个单元的MLP可以对输入上的任意函数进行建模(任意精度，只需'
    '要使单个脉冲变窄)',
    'A simple 3-unit MLP can produce a "square pulse" on its input ... an MLP with many units can model '
    'any function of the input (to any precision: just make the individual pulses narrower).',
)
CLAIM = (
    "A 3-unit MLP (two threshold units and a summing output) makes a square pulse that is 1 only for T1 < x "
    "< T2; sums of narrower and narrower pulses approximate any function of one input to any accuracy "
    "(L-REG-1)."
)

A, B = 0.0, 3.0


def target(x):
    """The smooth function to approximate: ``sin(2x) + 0.4 cos(5x)`` on [0, 3]."""
    return np.sin(2 * x) + 0.4 * np.cos(5 * x)


def _out(net, x):
    import feedforward as ff

    with ff.no_grad():
        return net(ff.Tensor(x.reshape(-1, 1))).data.ravel()


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.construct import pulses as Pu

    # --- one square pulse
    t1, t2, width = 1.0, 2.0, 0.1
    pulse = Pu.square_pulse_network(t1, t2, width, dtype=np.float64)
    xs = np.linspace(A, B, 3001)
    p = _out(pulse, xs)
    inside = (xs >= t1 + width / 2) & (xs <= t2 - width / 2)
    outside = (xs <= t1 - width / 2) | (xs >= t2 + width / 2)
    pulse_exact = bool(np.allclose(p[inside], 1, atol=1e-12) and np.allclose(p[outside], 0, atol=1e-12))

    # --- sums of pulses: max error vs n
    ns = [8, 16, 32, 64, 128] if quick else [8, 16, 32, 64, 128, 256, 512]
    x = np.linspace(A, B, 20001)
    f = target(x)
    errors, interior, rows = [], [], []
    for n in ns:
        net = Pu.pulse_network(target, A, B, n, transition=0.1, dtype=np.float64)
        errors.append(float(np.abs(_out(net, x) - f).max()))
        # transition 1: linear interpolation between the bin centres, error ~ 1/n^2 there
        lin = Pu.pulse_network(target, A, B, n, transition=1.0, dtype=np.float64)
        h = (B - A) / n
        mid = (x >= A + h / 2) & (x <= B - h / 2)
        interior.append(float(np.abs(_out(lin, x[mid]) - f[mid]).max()))
        rows.append([n, net.sizes[1], f"{errors[-1]:.4g}", f"{errors[-1] * n:.3f}",
                     f"{errors[-2] / errors[-1]:.2f}" if len(errors) > 1 else "", f"{interior[-1]:.3g}"])
    slope = float(np.polyfit(np.log(ns), np.log(errors), 1)[0])
    slope_lin = float(np.polyfit(np.log(ns), np.log(interior), 1)[0])
    bound = float(np.abs(np.gradient(f, x)).max() * (B - A) / 2)  # max|f'| h / 2 times n

    # --- figures
    figures = []
    fig, (ax0, ax1, ax2) = _plot.figure(1, 3, size=(15, 4.3))
    step1 = np.clip((xs - t1) / width + 0.5, 0, 1)
    step2 = np.clip((xs - t2) / width + 0.5, 0, 1)
    ax0.plot(xs, step1, "--", label=f"threshold unit 1: step at T1 = {t1:g}")
    ax0.plot(xs, step2, ":", label=f"threshold unit 2: step at T2 = {t2:g}")
    ax0.plot(xs, p, "k", lw=2, label="sum: unit 1 - unit 2 (the network)")
    ax0.set(title=f"A square pulse (transition width {width:g})", xlabel="x", ylabel="output",
            ylim=(-0.1, 1.5))
    ax0.legend(fontsize=8, loc="upper left")
    ax0.grid(alpha=0.3)
    ax1.plot(x, f, "k", lw=2, label="f(x) = sin 2x + 0.4 cos 5x")
    for n in (4, 16, 64):
        net = Pu.pulse_network(target, A, B, n, transition=0.1, dtype=np.float64)
        ax1.plot(x, _out(net, x), lw=1, label=f"{n} pulses ({4 * n} ReLUs)")
    ax1.set(title="Sums of scaled pulses", xlabel="x", ylabel="f(x)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.loglog(ns, errors, "o-", label="max error, narrow transitions")
    ax2.loglog(ns, bound / np.array(ns), "k--", lw=1, label="max|f'| (b - a) / (2n)  (~ 1/n)")
    ax2.loglog(ns, interior, "s-", label="transition = bin: error between centres (~ 1/n^2)")
    ax2.set(title="Max error vs number of pulses", xlabel="number of pulses n", ylabel="max |f - network|")
    ax2.set_xticks(ns, [str(n) for n in ns])
    ax2.xaxis.set_minor_formatter("")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    caption = ("Left: two threshold units make a square pulse. Middle: weighted sums of pulses approximate "
               "f. Right: the maximum error falls like 1/n.")
    figures.append((caption, _plot.save(fig, out_dir, "pulses.png")))

    summary = (
        f"The square pulse network is MLP{pulse.sizes}: two threshold units (two ReLUs each) and the "
        "summing output; it is exactly 1 on [T1 + w/2, T2 - w/2] and exactly 0 outside (T1 - w/2, T2 + "
        f"w/2) for the transition width w = {width:g}. Summing n pulses with heights f(bin centre) over [0, "
        f"3] gives the piecewise-constant approximation of f; its maximum error on {len(x)} points falls "
        f"from {errors[0]:.3g} (n = {ns[0]}) to {errors[-1]:.3g} (n = {ns[-1]}), a log-log slope of "
        f"{slope:.2f} (1/n), below the bound max|f'| (b - a) / (2n). With transitions as wide as a bin the "
        "pulses blend linearly and between the first and last centre the error falls like 1/n^2 (slope "
        f"{slope_lin:.2f})."
    )
    tables = [("Maximum error of the sum of n pulses (transition = 0.1 bin)",
               ["pulses n", "hidden ReLUs", "max error", "error x n", "ratio to previous",
                "error between centres, transition = 1 bin"], rows)]
    checks = {
        "pulse_one_inside_zero_outside": pulse_exact,
        "error_decreases_with_n": bool(np.all(np.diff(errors) < 0)),
        "error_falls_like_1_over_n": -1.2 < slope < -0.8,
        "error_below_bound": bool(np.all(np.array(errors) <= bound / np.array(ns) * 1.001)),
    }
    numbers = {"n": ns, "max_error": errors, "slope": slope, "interior_error_transition_1": interior,
               "slope_transition_1": slope_lin}
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
