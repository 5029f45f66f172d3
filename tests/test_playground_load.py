"""Load: 20 sessions training at once for 10 s on the server started by the command line (issue 15, L-PLAY-1).

``feedforward playground --port 0 --no-browser`` runs as a child process; 20 WebSocket clients
each press play and read frames for 10 s. Every session must keep updating (frames keep
coming, each with a larger epoch, never a long silence), and the server's memory (its
resident set, read from /proc) must stay bounded while they train.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("uvicorn", reason='the playground needs its extra: pip install "feedforward[playground]"')
websockets = pytest.importorskip("websockets", reason='the playground needs its extra: '
                                 'pip install "feedforward[playground]"')

from helpers import deadline  # noqa: E402

SESSIONS = 20
SECONDS = 10.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "feedforward", "playground", "--port", "0", "--no-browser"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        with deadline(30):
            line = proc.stderr.readline()
        assert "http://127.0.0.1:" in line, line
        yield proc, line.split()[2].rstrip("/").replace("http://", "ws://") + "/ws"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


async def one_session(url: str, stop_at: float) -> list:
    """(time, epoch) of every frame one tab receives while it plays."""
    frames = []
    async with websockets.connect(url, max_size=1 << 22) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        await ws.send(json.dumps({"type": "play"}))
        while time.monotonic() < stop_at:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), timeout=max(0.01, stop_at - time.monotonic())))
            except TimeoutError:
                break
            if m["type"] == "frame" and m["playing"]:
                frames.append((time.monotonic(), m["epoch"]))
            assert m["type"] != "error", m
    return frames


async def watch_memory(pid: int, stop_at: float, samples: list) -> None:
    while time.monotonic() < stop_at:
        samples.append((time.monotonic(), rss_mb(pid)))
        await asyncio.sleep(0.5)


def test_twenty_sessions_train_at_once_and_memory_stays_bounded(server):
    """Issue 15 (load): 20 sessions x 10 s on 2 cores: each keeps updating, memory bounded."""
    proc, url = server
    before = rss_mb(proc.pid)

    async def main():
        start = time.monotonic()
        stop_at = start + SECONDS
        samples = []
        results = await asyncio.gather(watch_memory(proc.pid, stop_at, samples),
                                       *(one_session(url, stop_at) for _ in range(SESSIONS)))
        return start, samples, results[1:]

    with deadline(60):
        start, samples, sessions = asyncio.run(main())
    assert len(sessions) == SESSIONS
    for k, frames in enumerate(sessions):
        epochs = [e for _, e in frames]
        times = [start] + [t for t, _ in frames] + [start + SECONDS]
        assert len(frames) >= 5, f"session {k}: only {len(frames)} frames in {SECONDS} s"
        assert all(b > a for a, b in zip(epochs, epochs[1:])), f"session {k}: epochs {epochs}"
        gaps = [b - a for a, b in zip(times[1:], times[2:])]
        assert max(gaps) < 3.0, f"session {k}: {max(gaps):.1f} s without a frame"
    # Memory: what 20 sessions need is reached in the first seconds, then stays (the curves are
    # thinned, the trainer's history keeps one record).
    warm = [m for t, m in samples if t - start >= SECONDS / 2]
    early = [m for t, m in samples if t - start < SECONDS / 2]
    assert max(warm) - max(early) < 40, samples
    assert max(warm) - before < 300, (before, samples)
    print(f"frames per session: min {min(map(len, sessions))}, max {max(map(len, sessions))}; "
          f"last epochs {sorted(f[-1][1] for f in sessions)}; RSS {before:.0f} -> {max(warm):.0f} MB")
