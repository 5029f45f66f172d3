"""ff.data: offline loaders, the IDX reader, series windows without leakage, CSV errors, splits."""

import gzip
import os
import signal
import struct
import tracemalloc

import numpy as np
import pytest

from feedforward import data
from feedforward.data import csv as csv_module

FASHION = data.FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz"


# ----------------------------------------------------------------- IDX
def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
def test_read_idx_round_trip(tmp_path, compress, dtype, code):
    a = (np.arange(24).reshape(2, 3, 4) * 3 - 5).astype(dtype) if dtype != np.uint8 else \
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(a, code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = data.read_idx(path)
    assert out.shape == a.shape and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, a)


def test_parse_idx_rejects_bad_input():
    good = _idx_bytes(np.zeros((2, 2), np.uint8), 0x08)
    with pytest.raises(ValueError, match="not an IDX file"):
        data.parse_idx(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="element type"):
        data.parse_idx(good[:2] + b"\x07" + good[3:])
    with pytest.raises(ValueError, match="bytes"):
        data.parse_idx(good[:-1])


def test_read_idx_reads_only_what_its_header_announces(tmp_path):
    """A header promising more than the file (or than a gzip file can expand to) is refused before
    reading; so are trailing and corrupted bytes (issue 10)."""
    good = _idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08)
    path = tmp_path / "a.idx"
    huge = bytes([0, 0, 0x08, 2]) + struct.pack(">2i", 10**6, 10**6)  # 10^12 bytes announced
    for raw, match in [
        (huge + b"\0" * 10, r"\(1000000000012 bytes in all\), more than the file's 22 bytes"),
        (gzip.compress(huge + b"\0" * 1000), r"more than a gzip file of \d+ bytes can hold"),
        (good + b"\0", "bytes follow the IDX data"),
        (gzip.compress(good)[:-12], "corrupted gzip data"),
        (b"\x1f\x8b" + b"\0" * 30, "corrupted gzip data"),
        (good[:3], "the file ends 1 bytes short of its IDX magic number"),
    ]:
        path.write_bytes(raw)
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=match):
                data.read_idx(path)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 4 << 20
    path.write_bytes(gzip.compress(good))
    np.testing.assert_array_equal(data.read_idx(path), np.arange(6).reshape(2, 3))


# ------------------------------------------------------------ data sets
def test_digits_is_scaled_float32():
    ds = data.load_digits()
    X, y = ds
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert ds.task == "classification" and ds.n_classes == 10 and ds.image_shape == (8, 8)
    assert set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize("name,shape,task", [
    ("iris", (150, 4), "classification"), ("wine", (178, 13), "classification"),
    ("breast_cancer", (569, 30), "classification"), ("diabetes", (442, 10), "regression"),
    ("autompg", (392, 7), "regression"),
])
def test_sklearn_tables(name, shape, task):
    ds = data.load_dataset(name)
    assert ds.X.shape == shape and ds.task == task and len(ds.feature_names) == shape[1]
    assert ds.y.dtype == (np.int64 if task == "classification" else np.float32)


def test_mnist_5k_is_shuffled_reproducibly_and_balanced():
    a, b = data.load_mnist_5k(rng=1), data.load_mnist_5k(rng=1)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.X.shape == (5000, 784) and 0 <= a.X.min() and a.X.max() <= 1
    assert np.bincount(a.y).tolist() == [500] * 10
    # The file is sorted by class: a prefix of the shuffled data must hold every class.
    assert len(np.unique(a.y[:100])) == 10
    raw = data.load_mnist_5k(shuffle=False)
    assert np.all(np.diff(raw.y) >= 0)
    assert not np.array_equal(data.load_mnist_5k(rng=2).y, a.y)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="digits"):
        data.load_dataset("digitz")


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path)


@pytest.mark.skipif(not FASHION.exists(), reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_full():
    ds = data.load_fashion_mnist()
    assert ds.X.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert np.bincount(ds.y).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.X.dtype == np.float32 and ds.X.max() == 1.0


# ---------------------------------------------------------- time series
def test_sunspots_and_co2():
    monthly = data.load_sunspots("monthly")
    assert len(monthly) == 12 * 260 + 6  # Jan 1749 .. Jun 2009
    np.testing.assert_allclose(monthly.values[:3], [58.0, 62.6, 70.0])
    assert monthly.time[0] == 1749.0 and monthly.period == 132
    yearly = data.load_sunspots("yearly")
    assert len(yearly) == 309 and yearly.time[0] == 1700 and yearly.values[1] == 11
    co2 = data.load_co2()
    assert np.isfinite(co2.values).all() and len(co2) == 2284
    assert np.all(np.diff(co2.time) > 0)
    with pytest.raises(ValueError, match="monthly"):
        data.load_sunspots("daily")


def test_co2_gaps_are_interpolated_between_neighbours():
    import importlib.util
    from pathlib import Path

    root = Path(list(importlib.util.find_spec("statsmodels").submodule_search_locations)[0])
    lines = (root / "datasets" / "co2" / "co2.csv").read_text().splitlines()[1:]
    gaps = [i for i, line in enumerate(lines) if line.endswith(",")]
    assert gaps, "the raw co2 series has gaps"
    values = data.load_co2().values
    isolated = [i for i in gaps if i - 1 not in gaps and i + 1 not in gaps]
    for i in isolated:
        lo, hi = float(lines[i - 1].split(",")[1]), float(lines[i + 1].split(",")[1])
        assert min(lo, hi) - 1e-4 <= values[i] <= max(lo, hi) + 1e-4
    assert isolated


def test_windows():
    X, Y = data.windows(np.arange(10), m=4, n=2)
    assert X.shape == (5, 4) and Y.shape == (5, 2)
    np.testing.assert_array_equal(X[2], [2, 3, 4, 5])
    np.testing.assert_array_equal(Y[2], [6, 7])
    X, Y = data.windows(np.arange(10), m=3, n=1, step=3)
    np.testing.assert_array_equal(X[:, 0], [0, 3, 6])
    with pytest.raises(ValueError, match="too short"):
        data.windows(np.arange(4), m=3, n=2)
    with pytest.raises(ValueError, match="positive integer"):
        data.windows(np.arange(10), m=0)


@pytest.mark.parametrize("test_size", [0.25, 7])
def test_chronological_split_has_no_leakage(test_size):
    series = np.arange(40)  # value == time index
    m, n = 5, 3
    train, test = data.chronological_split(series, test_size, context=m)
    cut = len(train)
    X_tr, Y_tr = data.windows(train, m, n)
    X_te, Y_te = data.windows(test, m, n)
    assert Y_tr.max() < cut  # no training target from the future
    assert Y_te.min() == cut  # test forecasts start right at the cut...
    assert Y_te.max() == 39  # ... and reach the end
    assert X_te.min() == cut - m  # inputs may look back into the past
    with pytest.raises(ValueError, match="context"):
        data.chronological_split(series, 0.5, context=30)
    with pytest.raises(ValueError, match="test_size"):
        data.chronological_split(series, 1.5)


# ------------------------------------------------------------------ CSV
def _write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_classification_with_text_labels(tmp_path):
    path = _write(tmp_path, "a,b,species\n1,2,cat\n3,4.5,dog\n5,6,cat\n")
    ds = data.load_csv(path, target="species")
    assert ds.task == "classification" and ds.target_names == ["cat", "dog"]
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    np.testing.assert_allclose(ds.X, [[1, 2], [3, 4.5], [5, 6]])
    assert ds.feature_names == ["a", "b"] and ds.target == "species"


def test_csv_task_inference_and_defaults(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in rng.normal(size=(30, 2)))
    ds = data.load_csv(_write(tmp_path, "x,y\n" + rows + "\n"))  # target defaults to the column "y"
    assert ds.task == "regression" and ds.y.dtype == np.float32 and ds.target == "y"
    ints = "\n".join(f"{i},{i % 3}" for i in range(30))
    # A column called "label" is the default target even when it is not the last one.
    ds = data.load_csv(_write(tmp_path, "label,x\n" + ints + "\n", "c.csv"))
    assert ds.task == "regression" and ds.target == "label"  # 30 distinct whole numbers > max_classes
    ds = data.load_csv(_write(tmp_path, "x,z\n" + ints + "\n", "e.csv"))
    assert ds.task == "classification" and ds.target_names == ["0", "1", "2"]
    ds = data.load_csv(_write(tmp_path, "1,2,0\n3,4,1\n", "h.csv"), target=-1)  # headerless
    assert ds.feature_names == ["column0", "column1"] and ds.X.shape == (2, 2)


@pytest.mark.parametrize("text,target,match", [
    ("a,b,t\n1,red,0\n2,3,1\n", "t", r"column 'b' is not numeric \(value 'red' at line 2\)"),
    ("a,b,t\n1,,0\n2,3,1\n", "t", r"missing value in column 'b' at line 2"),
    ("a,b,t\n1,NA,0\n2,3,1\n", "t", r"missing value in column 'b'"),
    ("a,b,t\n1,2,0\n2,3,1\n", "nope", r"no column named 'nope'"),
    ("a,b,t\n1,2,0\n2,3\n", "t", r"line 3 has 2 fields, expected 3"),
    ("a,b,t\n", "t", r"no data rows"),
    ("", None, r"empty"),
    ("a,b,t\n1,2,0\n2,3,0\n", "t", r"single class"),
    ("a,b,t\n1,2,\n2,3,1\n", "t", r"missing target value"),
])
def test_csv_errors_are_specific(tmp_path, text, target, match):
    with pytest.raises(ValueError, match=match):
        data.load_csv(_write(tmp_path, text), target=target)


def test_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.load_csv(tmp_path / "absent.csv")


def test_features_csv_matches_columns_by_name(tmp_path):
    path = _write(tmp_path, "b,t,a\n2,x,1\n4,y,3\n")
    X, lines = data.load_features_csv(path, ["a", "b"])
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert lines == [2, 3]
    with pytest.raises(ValueError, match=r"lacks the feature column \['c'\]"):
        data.load_features_csv(path, ["a", "c"])


@pytest.mark.skipif(os.name != "posix", reason="device files and FIFOs are POSIX")
def test_readers_refuse_what_is_not_a_regular_file(tmp_path):
    """/dev/zero, a symlink to it, a named pipe and a folder: an error at once, no endless read, no hang
    (issue 10)."""
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def expired(*_):
        raise TimeoutError("the reader blocked")

    old = signal.signal(signal.SIGALRM, expired)
    try:
        for path, what in [("/dev/zero", "a character device"), (link, "a character device"),
                           (fifo, r"a named pipe \(FIFO\)"), (tmp_path, "a directory")]:
            for read in (data.load_csv, data.load_features_csv, data.read_idx):
                signal.alarm(5)
                with pytest.raises(ValueError, match=f"{path} is {what}, not a regular file"):
                    read(path)
                signal.alarm(0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_csv_values_beyond_float32_are_refused_naming_the_cell(tmp_path):
    """1e39 is finite in float64 but inf in float32, the dtype X is returned in (issue 10)."""
    with pytest.raises(ValueError, match=r"column 'b' has the value '-1e39' at line 3, beyond the float32 range"):
        data.load_csv(_write(tmp_path, "a,b,t\n1,2,0\n2,-1e39,1\n"))
    with pytest.raises(ValueError, match=r"target column 't' has the value '1e39' at line 2, beyond the float32"):
        data.load_csv(_write(tmp_path, "a,t\n1,1e39\n2,0.5\n"), task="regression")
    with pytest.raises(ValueError, match=r"column 'a' has the value '4e38' at line 2"):
        data.load_features_csv(_write(tmp_path, "a\n4e38\n"), ["a"])
    ds = data.load_csv(_write(tmp_path, "a,t\n3.4e38,0\n-3.4e38,1\n"))  # the largest float32 values pass
    assert np.isfinite(ds.X).all()


def test_csv_is_read_as_a_stream_in_chunks(tmp_path, monkeypatch):
    """Rows are converted as they come, in blocks; the blocks join without a seam."""
    monkeypatch.setattr(csv_module, "_CHUNK_ROWS", 7)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 3)).round(4)
    text = "a;b;c;t\n" + "".join(f"{a};{b};{c};{i % 2}\n" + ("\n" if i == 20 else "")
                                  for i, (a, b, c) in enumerate(values))
    ds = data.load_csv(_write(tmp_path, text))
    np.testing.assert_array_equal(ds.X, values.astype(np.float32))
    np.testing.assert_array_equal(ds.y, np.arange(50) % 2)
    X, lines = data.load_features_csv(tmp_path / "d.csv", ["c", "a"])
    np.testing.assert_array_equal(X, values[:, [2, 0]].astype(np.float32))
    assert lines[:3] == [2, 3, 4] and lines[21] == 24  # the blank line after row 20 is skipped, not renumbered
    header, rows = csv_module.read_table(tmp_path / "d.csv")  # the text itself, for who needs it
    assert header == ["a", "b", "c", "t"] and len(rows) == 50
    assert rows[21] == (24, [*map(str, values[21]), "1"])


def test_csv_lines_are_bounded(tmp_path, monkeypatch):
    """A file without line breaks is not read whole into one string."""
    monkeypatch.setattr(csv_module, "MAX_LINE_CHARS", 100)
    with pytest.raises(ValueError, match="line 2 is longer than 100 characters"):
        data.load_csv(_write(tmp_path, "a,t\n" + "1" * 500 + ",0\n"))


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,t\n1,\xff\xfe\n")
    with pytest.raises(ValueError, match="is not a UTF-8 text file"):
        data.load_csv(path)


# --------------------------------------------------------------- splits
def test_stratified_split_keeps_class_shares():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.arange(100)[:, None]
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, 0.2, stratify=True, rng=0)
    assert len(y_te) == 20 and np.bincount(y_te).tolist() == [10, 6, 4]
    assert sorted(np.concatenate([X_tr, X_te]).ravel().tolist()) == list(range(100))  # a partition
    np.testing.assert_array_equal(y[X_te.ravel()], y_te)  # rows stay aligned
    with pytest.raises(ValueError, match="both parts"):
        data.train_test_split(X, y, 100)


def test_standardizer_uses_training_statistics_and_handles_constants():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = data.Standardizer().fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(s.transform([[5.0, 7.0]]), [[3, 2]])
    np.testing.assert_allclose(s.inverse_transform(s.transform(X)), X)
    with pytest.raises(ValueError, match="2 features"):
        s.transform(np.ones((2, 3)))
