"""Time-series forecasting: the past m values in, the next n out, on monthly sunspots (L-APP-2)."""

from __future__ import annotations

import time

import numpy as np

from . import _plot

ORDER = 93
TITLE = "Application: forecasting monthly sunspot numbers"
QUOTE = (
    'Input: 过去的m个值作为输入变量 …… Output: 未来的n个值作为输出变量 …… 通过训练一个具有m个输入和n个输出'
    '的时间序列数据的神经网络，来实现这样的模型',
    'Input: the past m values as input variables ... Output: the next n values as output variables ... the '
    'model is obtained by training a network with m inputs and n outputs on the time series.',
)
CLAIM = (
    "Time-series analysis: a network with m inputs x(t_1) ... x(t_m) (the past m values) and n outputs "
    "y(t_{m+1}) ... y(t_{m+n}) (the next n values) learns to forecast a real series. On the monthly sunspot "
    "numbers 1749-2009, trained on the past and tested on the last 20% (1957-2009, never seen in "
    "training), the MLP's mean absolute error beats the naive last-value forecast (L-APP-2)."
)

M, N = 48, 12  # four years in, one year out
TEST_FRACTION = 0.2
VAL_FRACTION = 0.15


def _fit_mlp(Xtr, Ytr, Xval, Yval, seed, max_epochs):
    import feedforward as ff

    net = ff.nn.MLP([M, 64, 64, N], activation="elu", output="gaussian", rng=seed)
    history = ff.fit(net, Xtr, Ytr, validation_data=(Xval, Yval), optimizer="adam", lr=1e-3, batch_size=64,
                     max_epochs=max_epochs, early_stopping=True, patience=20, weight_decay=1e-4, rng=seed)
    return net, history


def run(out_dir, quick: bool = False) -> dict:
    import feedforward as ff
    from feedforward.data import chronological_split, load_sunspots, windows

    series = load_sunspots("monthly")
    values = series.values.astype(np.float64)
    period = series.period  # the ~11-year solar cycle, 132 months
    context = max(M, period)
    # Cut in time first, then window each side: no test target is inside a training window.
    train, test = chronological_split(values, TEST_FRACTION, context=context)
    cut_time = series.time[len(train)]
    mu, sd = train.mean(), train.std()  # scaling from the training period only
    Xtr_all, Ytr_all = windows((train - mu) / sd, M, N)
    n_val = int(round(VAL_FRACTION * len(Xtr_all)))  # the latest training windows pick the epoch
    Xtr, Ytr = Xtr_all[:-n_val].astype(np.float32), Ytr_all[:-n_val].astype(np.float32)
    Xval, Yval = Xtr_all[-n_val:].astype(np.float32), Ytr_all[-n_val:].astype(np.float32)
    Xte_long, Yte = windows(test, context, N)  # inputs with a full cycle of history for the seasonal baseline
    Xte = ((Xte_long[:, -M:] - mu) / sd).astype(np.float32)

    forecasts = {}
    seeds = [0] if quick else [0, 1, 2]
    start = time.perf_counter()
    preds, epochs = [], []
    for seed in seeds:
        net, history = _fit_mlp(Xtr, Ytr, Xval, Yval, seed, 150 if quick else 400)
        with ff.no_grad():
            preds.append(net(ff.Tensor(Xte)).data.astype(np.float64) * sd + mu)
        epochs.append(history.best_epoch)
    seconds = time.perf_counter() - start
    forecasts["MLP"] = np.mean(preds, axis=0) if len(preds) > 1 else preds[0]
    forecasts["naive (last value)"] = np.repeat(Xte_long[:, -1:], N, axis=1)
    forecasts[f"seasonal naive ({period} months earlier)"] = Xte_long[:, context - period + np.arange(N)]
    # A linear autoregression on the same m inputs (least squares): the classical reference.
    A = np.column_stack([Xtr_all, np.ones(len(Xtr_all))])
    coef, *_ = np.linalg.lstsq(A, Ytr_all, rcond=None)
    forecasts[f"linear AR({M})"] = (np.column_stack([Xte, np.ones(len(Xte))]) @ coef) * sd + mu

    mae = {k: np.abs(p - Yte).mean(axis=0) for k, p in forecasts.items()}  # per horizon
    overall = {k: float(v.mean()) for k, v in mae.items()}
    naive_key = "naive (last value)"
    seasonal_key = next(k for k in mae if k.startswith("seasonal"))
    linear_key = f"linear AR({M})"
    per_seed = [float(np.abs(p - Yte).mean()) for p in preds]

    # Figure 1: truth vs forecasts over the test period, 1 and 12 months ahead.
    fig, axes = _plot.figure(2, 1, size=(10, 6.2))
    for ax, h in zip(axes, (0, N - 1)):
        # Window i forecasts the value at index len(train) + i + h of the whole series.
        times = series.time[len(train) + h: len(train) + h + len(Yte)]
        ax.plot(times, Yte[:, h], color=_plot.color("truth"), linewidth=1.0, label="truth")
        ax.plot(times, forecasts["MLP"][:, h], color=_plot.color("MLP"), linewidth=1.0, label="MLP")
        ax.plot(times, forecasts[naive_key][:, h], color=_plot.color("naive"), linewidth=0.8, alpha=0.7,
                label=naive_key)
        ax.set_title(f"{h + 1} month{'s' if h else ''} ahead: forecast vs truth on the held-out future")
        ax.set_ylabel(series.unit)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("year")
    fig1 = _plot.save(fig, out_dir, "forecast_vs_truth.png")
    # Figure 2: MAE per horizon.
    fig, ax = _plot.figure(size=(6.4, 4.2))
    # the same colour per model as in the first figure (MLP red, naive blue)
    keyed = {"MLP": "MLP", naive_key: "naive", seasonal_key: "seasonal naive", linear_key: "linear model"}
    for k, v in mae.items():
        ax.plot(np.arange(1, N + 1), v, marker="o", markersize=3, label=k, color=_plot.color(keyed[k]))
    ax.set_xlabel("horizon (months ahead)")
    ax.set_ylabel("test MAE (sunspot number)")
    ax.set_title("Forecast error by horizon, test period")
    ax.legend(fontsize=8)
    fig2 = _plot.save(fig, out_dir, "forecast_mae_by_horizon.png")

    h1_better = bool(mae["MLP"][0] < mae[naive_key][0])
    gap = mae[naive_key] - mae["MLP"]
    summary = (
        f"Monthly mean sunspot numbers ({len(values):,} months, {series.time[0]:.0f}-{series.time[-1]:.1f}) "
        f"are cut in time at {cut_time:.1f}: windows of the past m = {M} months -> the next n = {N} months "
        "are built separately on each side, so every test target lies in the unseen future; scaling uses "
        f"training statistics and the epoch is chosen on the last {VAL_FRACTION:.0%} of the training windows. "
        f"An MLP {M} -> 64 -> 64 -> {N} (ELU, Gaussian output) "
        f"({'one seed' if len(seeds) == 1 else f'mean forecast of {len(seeds)} seeds'}, "
        f"{seconds:.1f} s) has test MAE **{overall['MLP']:.2f}** averaged over the 12 horizons, against "
        f"{overall[naive_key]:.2f} for the naive last value, {overall[seasonal_key]:.2f} for the seasonal "
        f"naive forecast and {overall[linear_key]:.2f} for a linear autoregression on the same inputs. "
        + ("It also beats the naive forecast one month ahead. " if h1_better else
           f"One month ahead the naive forecast is as good or better ({mae[naive_key][0]:.2f} vs "
           f"{mae['MLP'][0]:.2f}): month-to-month noise makes the last value a strong short-term guess. ")
        + (f"The MLP's lead over the naive forecast grows from {gap[0]:+.2f} one month ahead to "
           f"{gap[-1]:+.2f} {N} months ahead. " if gap[-1] > gap[0] else "")
        + ("The solar cycle is not a fixed 132 months, so the seasonal naive forecast is the weakest."
           if min(overall, key=lambda k: -overall[k]) == seasonal_key else "")
    )
    rows = [[h + 1] + [f"{mae[k][h]:.2f}" for k in mae] for h in range(N)]
    rows.append(["mean"] + [f"{overall[k]:.2f}" for k in mae])
    tables = [("Test MAE by horizon (months ahead)", ["horizon"] + list(mae), rows)]
    checks = {
        "MLP beats the naive last-value forecast (MAE over horizons)": overall["MLP"] < overall[naive_key],
        "MLP beats the seasonal naive forecast": overall["MLP"] < overall[seasonal_key],
        "every seed's MLP beats the naive forecast": all(v < overall[naive_key] for v in per_seed),
    }
    numbers = {"m": M, "n": N, "cut_year": round(float(cut_time), 2), "n_test_windows": int(len(Yte)),
               "mae": {k: round(v, 3) for k, v in overall.items()},
               "mae_by_horizon": {k: [round(float(x), 3) for x in v] for k, v in mae.items()},
               "mae_per_seed": [round(v, 3) for v in per_seed], "best_epochs": epochs,
               "train_seconds": round(seconds, 2)}
    return {"summary": summary, "tables": tables,
            "figures": [("Forecast vs truth on the held-out future (1 and 12 months ahead)", fig1),
                        ("Test MAE by forecast horizon", fig2)],
            "checks": {k: bool(v) for k, v in checks.items()}, "numbers": numbers}
