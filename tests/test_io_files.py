"""Hostile paths and interrupted saves (issue 10): regular files only, bounded reads, no leftovers.

An outside audit found ``ff.load("/dev/zero")`` reading until MemoryError, a
named pipe hanging the reader, a 500 MB file read whole before its 8-byte
header was rejected, and 12 of 60 ``kill -9`` during ``ff.save`` leaving a
temporary file that nothing ever removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

import feedforward as ff
from feedforward import io as ffio
from feedforward.io import files
from helpers import deadline

pytest.importorskip("safetensors")

posix_only = pytest.mark.skipif(os.name != "posix", reason="device files, FIFOs and SIGKILL are POSIX")




@contextlib.contextmanager
def peak_memory(limit_bytes):
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < limit_bytes, f"the reader allocated {peak} bytes"


# ------------------------------------------------------ non-regular files
@posix_only
def test_device_symlink_fifo_and_directory_are_refused_at_once(tmp_path):
    link = tmp_path / "model.safetensors"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    cases = [
        ("/dev/zero", "/dev/zero is a character device, not a regular file"),
        (link, "model.safetensors is a character device, not a regular file"),
        (fifo, r"pipe.safetensors is a named pipe \(FIFO\), not a regular file"),
        (tmp_path, "is a directory, not a regular file"),
    ]
    for path, message in cases:
        for read in (ff.load, ffio.read_metadata, ffio.load_checkpoint):
            with deadline(5), peak_memory(16 << 20), pytest.raises(ValueError, match=message):
                read(path)
    with pytest.raises(FileNotFoundError, match="no such file: .*absent"):
        ff.load(tmp_path / "absent")


def test_a_500_mb_file_is_never_read_whole(tmp_path):
    """The 8-byte header is read first and checked against the limit and the file's size (issue 10)."""
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as f:  # sparse: costs no disk
        f.write((2**40).to_bytes(8, "little"))
        f.truncate(500_000_000)
    with peak_memory(1 << 20), pytest.raises(ValueError, match="exceeds the 100000000-byte limit"):
        ff.load(big)
    # A real model followed by 500 MB: only the bytes its header accounts for are read.
    net = ff.nn.MLP([3, 4, 2], output="categorical", rng=0)
    ff.save(net, big)
    with open(big, "r+b") as f:
        f.truncate(500_000_000)
    with peak_memory(4 << 20), pytest.raises(ValueError, match=r"\d+ bytes follow the last tensor's data"):
        ff.load(big)
    # A header announcing more than the file holds is refused before reading it.
    with open(big, "wb") as f:
        f.write((50_000_000).to_bytes(8, "little") + b"{")
    with peak_memory(1 << 20), pytest.raises(ValueError, match="larger than the file"):
        ff.load(big)


def test_a_file_shorter_than_its_header_says_is_truncated(tmp_path):
    """read_exactly loops over short reads and names the file when it ends early (a file that shrank
    between the size check and the read, say)."""
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"0123456789")
    with files.open_regular(path) as f:
        assert files.read_exactly(f, 4, "m.safetensors", "header length") == b"0123"
        with pytest.raises(ValueError, match="m.safetensors: the file ends 6 bytes short of its header"):
            files.read_exactly(f, 12, "m.safetensors", "header")


# ----------------------------------------------------------- atomic writes
def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    net = ff.nn.MLP([3, 4, 2], activation="tanh", output="categorical", rng=0)
    path = tmp_path / "good.safetensors"
    ff.save(net, path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    other = ff.nn.MLP([3, 4, 2], activation="tanh", output="categorical", rng=9)
    with pytest.raises(OSError, match="disk full"):
        ff.save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.safetensors"]  # temp file removed
    X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(ff.load(path).predict_proba(X), net.predict_proba(X))


def test_save_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .*nope.* does not exist"):
        ff.save(ff.nn.MLP([2, 2]), tmp_path / "nope" / "m.safetensors")


@posix_only
def test_stale_temporaries_are_removed_only_when_their_writer_is_gone(tmp_path):
    target = tmp_path / "m.safetensors"
    host = files._host()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # exited and reaped: no such process any more
    stale = tmp_path / f".m.safetensors.{host}.{dead_pid}.0123abcd.tmp"
    keep = [
        tmp_path / f".m.safetensors.{host}.{os.getppid()}.0123abcd.tmp",  # a live writer
        tmp_path / f".other.safetensors.{host}.{dead_pid}.0123abcd.tmp",  # another target
        tmp_path / f".m.safetensors.otherhost.{dead_pid}.0123abcd.tmp",  # another machine
        tmp_path / f".m.safetensors.{host}.{dead_pid}.tmp",  # not our pattern
        tmp_path / "notes.tmp",
    ]
    for p in [stale, *keep]:
        p.write_bytes(b"x")
    ff.save(ff.nn.MLP([2, 2], rng=0), target)
    assert not stale.exists()
    assert all(p.exists() for p in keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, *(p.name for p in keep)])


_SAVER = textwrap.dedent("""
    import os, signal, sys
    import feedforward as ff

    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    class HalfWriter:
        # A file whose write() puts half of the bytes on disk, then the process is killed.
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.fsync(self.f.fileno())
            die()

    path, where, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    net = ff.nn.MLP([2000, 2000, 10], output="categorical", rng=0)   # about 16 MB of float32
    i = start
    while True:
        for p in net.parameters():
            p.data[...] = i
        if i == start + 2 and where == "mid_write":
            fdopen = os.fdopen
            os.fdopen = lambda *a, **k: HalfWriter(fdopen(*a, **k))
        if i == start + 2 and where == "before_rename":
            os.replace = die
        ff.save(net, path, metadata={"i": str(i)})
        print(i, flush=True)
        i += 1
""")


def _killed_saver(script, path, where, start, delay):
    """Run the saver until it is killed (by itself, or by us after ``delay`` s); its printed saves."""
    proc = subprocess.Popen([sys.executable, str(script), str(path), where, str(start)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == str(start)  # the first save is complete
        if where == "random":
            time.sleep(delay)  # the saver spends nearly all its time inside ff.save
            proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        return [start] + [int(line) for line in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@posix_only
def test_sigkill_during_save_never_leaves_a_mixture_nor_a_lasting_temp_file(tmp_path):
    """kill -9 at several moments of ff.save; the file is always one whole version, and the next save
    removes every temporary file the killed writers left (issue 10)."""
    path = tmp_path / "big.safetensors"
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    start = 0
    moments = [("random", 0.03), ("random", 0.11), ("random", 0.2), ("mid_write", 0), ("before_rename", 0)]
    for where, delay in moments:
        printed = _killed_saver(script, path, where, start, delay)
        model, meta = ff.load(path, return_metadata=True)
        i = int(meta["i"])
        assert i in (printed[-1], printed[-1] + 1)  # the last completed save, or the one killed after its rename
        for p in model.parameters():
            assert (p.data == i).all()  # one whole version, never a mixture
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        # Each saver's first save removed what the previous, killed, one left.
        assert len(leftovers) <= 1
        if where != "random":
            assert printed == [start, start + 1] and i == start + 1  # the killed save never replaced the file
            assert len(leftovers) == 1  # its temporary file, until the next save to this target
        start = i + 1
    net = ff.nn.MLP([3, 2], rng=0)
    ff.save(net, path)  # one more save to the same target cleans up after the dead writers
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert ff.load(path).sizes == [3, 2]
