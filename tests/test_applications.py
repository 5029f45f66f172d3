"""The lecture's applications (L-APP-1..4) as seeded runs with their bars (issue 5)."""

import json

import pytest

from feedforward.data import FASHION_MNIST_DIR
from feedforward.experiments import (
    app_autoencoder, app_digits, app_fashion, app_forecast, app_mnist, app_regression,
)

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")




def _files_exist(out, result):
    for _, name in result["figures"]:
        assert (out / name).stat().st_size > 1000, name
    json.dumps(result["numbers"])  # the report stores them as JSON


@pytest.mark.parametrize("module,order", [(app_digits, 90), (app_mnist, 91), (app_fashion, 92),
                                          (app_forecast, 93), (app_regression, 94), (app_autoencoder, 95)])
def test_experiment_contract(module, order):
    assert module.ORDER == order and module.TITLE and "L-APP-" in module.CLAIM


def test_digits_accuracy_at_least_97(tmp_path):
    r = app_digits.run(tmp_path, quick=True)
    assert r["numbers"]["mean_test_accuracy"] >= 0.97
    assert all(r["checks"].values())
    assert sum(r["numbers"]["per_class_accuracy"]) / 10 > 0.95
    _files_exist(tmp_path, r)
    assert any("confusion" in name for _, name in r["figures"])


def test_mnist_subset_accuracy_at_least_92(tmp_path):
    r = app_mnist.run(tmp_path, quick=True)
    assert r["numbers"]["test_accuracy"] >= 0.92 and r["numbers"]["n_test"] == 1000
    _files_exist(tmp_path, r)


@pytest.mark.slow
@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
def test_fashion_mnist_full_accuracy_at_least_88(tmp_path):
    r = app_fashion.run(tmp_path, quick=False)
    n = r["numbers"]
    assert n["n_train"] == 60000 and n["n_test"] == 10000
    assert n["test_accuracy"] >= 0.88, n
    assert all(r["checks"].values())
    _files_exist(tmp_path, r)


def test_forecast_beats_the_naive_baselines(tmp_path):
    r = app_forecast.run(tmp_path, quick=True)
    mae = r["numbers"]["mae"]
    assert mae["MLP"] < mae["naive (last value)"]
    assert mae["MLP"] < next(v for k, v in mae.items() if k.startswith("seasonal"))
    assert r["numbers"]["cut_year"] > 1950 and r["numbers"]["n_test_windows"] > 500
    _files_exist(tmp_path, r)


def test_regression_against_linear(tmp_path):
    r = app_regression.run(tmp_path, quick=True)
    d, a = r["numbers"]["diabetes"], r["numbers"]["autompg"]
    mean = lambda v: sum(v) / len(v)
    assert mean(d["r2_mlp"]) > 0.4 and mean(d["r2_mlp"]) > mean(d["r2_linear"]) - 0.05
    assert mean(a["r2_mlp"]) > mean(a["r2_linear"])
    _files_exist(tmp_path, r)


def test_autoencoder_error_vs_code_size(tmp_path):
    r = app_autoencoder.run(tmp_path, quick=True)
    n = r["numbers"]
    ae, pca = n["ae_mse"], n["pca_mse"]
    assert all(b < a for a, b in zip(ae, ae[1:]))  # more code, less error
    assert all(b < a for a, b in zip(pca, pca[1:]))
    assert ae[0] < pca[0]  # the non-linear code wins at the smallest size
    _files_exist(tmp_path, r)
