"""Pattern classification on the full Fashion-MNIST (Debian's dataset-fashion-mnist) (L-APP-1)."""

from __future__ import annotations

from .app_digits import classify, report_classification

ORDER = 92
TITLE = "Application: Fashion-MNIST (70,000 images of clothing)"
QUOTE = (
    '人工神经网络的应用: 模式分类/识别(时间序列分析，字符识别等)',
    'Applications of artificial neural networks: pattern classification/recognition (time-series analysis, '
    'character recognition, ...).',
)
CLAIM = (
    "On a harder real data set, Zalando's Fashion-MNIST (60,000 training and 10,000 test 28x28 images of "
    "ten kinds of clothing), an MLP trained in a few minutes on a laptop-class CPU reaches at least 88% "
    "test accuracy (L-APP-1)."
)

BAR = 0.88


def run(out_dir, quick: bool = False) -> dict:
    from feedforward.data import FASHION_MNIST_DIR, load_fashion_mnist

    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        # Not an error of the library: the data set is a system package that may be absent.
        # Shown as skipped with the reason, never as "0/0 checks pass" (report.status_of).
        reason = (f"Fashion-MNIST is not installed under {FASHION_MNIST_DIR} (`apt-get install "
                  "dataset-fashion-mnist`), and nothing is downloaded at run time.")
        return {"summary": "", "tables": [], "figures": [], "checks": {}, "numbers": {"skipped": True},
                "skipped": reason}
    ds = load_fashion_mnist()
    X_tr, y_tr = ds.X, ds.y
    if quick:  # CI-sized: a third of the training set, three epochs
        X_tr, y_tr = X_tr[:20000], y_tr[:20000]
    epochs = 3 if quick else 12
    # Adam with a cosine learning-rate decay to zero over the run (L-SGD-7).
    fit = classify(X_tr, y_tr, ds.X_test, ds.y_test, hidden=(256, 128), epochs=epochs, batch_size=128,
                   lr_schedule="cosine", seed=0)
    summary, tables, figures, numbers = report_classification(
        "Fashion-MNIST", ds.target_names, ds.X_test, ds.y_test, fit, (28, 28), out_dir, "fashion", BAR,
        extra=" The learning rate decays to zero along a cosine over the run."
              f" Trained on {len(y_tr):,} images; the official 10,000-image test set is never seen in "
              "training. Training time depends on the machine and its load." +
              (" (Quick run: the bar applies to the full run.)" if quick else ""))
    numbers["n_train"] = int(len(y_tr))
    checks = {} if quick else {f"test accuracy >= {BAR:.0%}": bool(fit["accuracy"] >= BAR)}
    if quick:
        checks["quick run (20k images, 3 epochs) >= 84%"] = bool(fit["accuracy"] >= 0.84)
    return {"summary": summary, "tables": tables, "figures": figures, "checks": checks, "numbers": numbers}
