"""The playground's web server: the page, one WebSocket per tab, model files in and out.

Starlette application (:func:`create_app`), served by uvicorn (:mod:`.command`):

=========================  ==============================================================
``GET /``                  the page (``static/index.html``; its CSS and JS modules under
                           ``/static``, all from the package: nothing from a CDN)
``WS /ws``                 a tab's session: settings, play / pause / step / reset, lecture
                           mode in; frames, settings and errors out (JSON)
``GET /export/{token}``    the session's network as a model file (``ff.load`` opens it)
``POST /import/{token}``   a model file to look at (at most ``MAX_MODEL_BYTES``)
=========================  ==============================================================

A session lives as long as its WebSocket: closing the tab ends it. Its token is 128 random
bits known only to that tab, so no page sees another's session. Training runs in a small
pool of worker threads (one slice at a time per session, sessions served in turn), so the
event loop stays free to answer every tab; a session's frames are sent at most
:data:`FRAME_RATE` times a second. Bounds: :data:`~.config.MAX_SESSIONS` sessions, messages
of at most :data:`~.config.MAX_MESSAGE_BYTES` at :data:`~.config.MAX_MESSAGES_PER_SECOND` a
second (a burst of twice that), a queue of :data:`QUEUE` commands per session; a page past
them gets an error message, and one that keeps on is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..nn.activation import UNITS
from ..nn.output import OUTPUTS
from ..training.batching import MODES
from .config import (
    MAX_LAYERS,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_SECOND,
    MAX_MODEL_BYTES,
    MAX_POINTS,
    MAX_SESSIONS,
    MAX_UNITS,
    OUTPUT_LOSSES,
)
from .datasets import DATASETS, FEATURES
from .lecture import MAX_POLYGONS, MAX_PULSES, MAX_VERTICES, TARGETS, lecture
from .session import Session
from .views import frame

__all__ = ["create_app", "FRAME_RATE", "SLICE_SECONDS", "QUEUE"]

log = logging.getLogger("feedforward.playground")

FRAME_RATE = 8  # frames a second, at most, per session
SLICE_SECONDS = 0.04  # training time per turn of a session in the worker pool
QUEUE = 32  # commands waiting per session
_STRIKES = 100  # messages refused (too many, too large) before the connection is closed
STATIC = resources.files(__package__) / "static"


class _Bucket:
    """Token bucket: ``rate`` messages a second, bursts of ``2 * rate``."""

    def __init__(self, rate: float):
        self.rate, self.capacity = rate, 2 * rate
        self.tokens, self.t = self.capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _options() -> dict:
    """What the page builds its controls from (the registries, not a copy of them)."""
    return {
        "datasets": [{"name": d.name, "label": d.label, "task": d.task, "classes": d.classes, "dim": d.dim}
                     for d in DATASETS.values()],
        "features": list(FEATURES),
        "units": {name: [k for k in cls.hparams if k != "num_parameters"] for name, cls in UNITS.items()},
        "unit_kinds": {name: cls.kind for name, cls in UNITS.items()},
        "outputs": {name: {"task": cls.task, "loss": OUTPUT_LOSSES.get(name, "")} for name, cls in OUTPUTS.items()},
        "modes": list(MODES),
        "limits": {"layers": MAX_LAYERS, "units": MAX_UNITS, "points": MAX_POINTS, "sessions": MAX_SESSIONS,
                   "messages_per_second": MAX_MESSAGES_PER_SECOND, "model_bytes": MAX_MODEL_BYTES,
                   "vertices": MAX_VERTICES, "polygons": MAX_POLYGONS, "pulses": MAX_PULSES},
        "targets": list(TARGETS),
    }


class Playground:
    """The server's state: the sessions by token and the worker pool."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, workers: int | None = None):
        self.max_sessions = max_sessions
        self.sessions: dict[str, Session] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1),
                                       thread_name_prefix="playground")

    async def run(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*args, **kwargs))

    # -------------------------------------------------------------- the tab
    async def websocket(self, ws: WebSocket) -> None:
        if not _same_origin(ws):
            await ws.close(code=1008)
            return
        await ws.accept()
        if len(self.sessions) >= self.max_sessions:
            await ws.send_json({"type": "error", "fatal": True, "message":
                                f"the playground is full ({self.max_sessions} sessions): close a tab and reload"})
            await ws.close(code=1013)
            return
        token = secrets.token_urlsafe(16)
        self.sessions[token] = None  # the place is taken now: two tabs at once cannot both get the last
        try:
            session = await self.run(Session)
        except BaseException:
            self.sessions.pop(token, None)
            raise
        self.sessions[token] = session
        send_lock = asyncio.Lock()

        async def send(message):
            async with send_lock:
                await ws.send_text(json.dumps(message, allow_nan=False, default=_json_default))

        queue: asyncio.Queue = asyncio.Queue(QUEUE)
        driver = asyncio.create_task(self._drive(session, queue, send))
        try:
            await send({"type": "hello", "session": token, "config": session.config.to_json(),
                        "options": _options()})
            await send(await self.run(frame, session, points=True))
            await self._receive(ws, queue, send)
        except WebSocketDisconnect:
            pass
        finally:
            session.playing = False
            driver.cancel()
            try:
                await driver
            except (asyncio.CancelledError, Exception):
                pass
            self.sessions.pop(token, None)

    async def _receive(self, ws: WebSocket, queue: asyncio.Queue, send) -> None:
        bucket, strikes = _Bucket(MAX_MESSAGES_PER_SECOND), 0
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            problem = None
            if text is None:
                problem = "send JSON text messages, not binary ones"
            elif len(text) > MAX_MESSAGE_BYTES:
                problem = f"a message may have at most {MAX_MESSAGE_BYTES} bytes, got {len(text)}"
            elif not bucket.take():
                problem = f"too many messages: at most {MAX_MESSAGES_PER_SECOND} a second"
            else:
                try:
                    command = json.loads(text)
                    if not isinstance(command, dict) or not isinstance(command.get("type"), str):
                        raise ValueError
                except ValueError:
                    problem = 'a message must be a JSON object with a "type"'
                else:
                    try:
                        queue.put_nowait(command)
                    except asyncio.QueueFull:
                        problem = f"too many commands waiting ({QUEUE}): slow down"
            if problem is not None:
                strikes += 1
                if strikes > _STRIKES:
                    await ws.close(code=1008)
                    return
                await send({"type": "error", "message": problem})

    async def _drive(self, session: Session, queue: asyncio.Queue, send) -> None:
        """The session's one driver: commands in order; between them, training slices and frames."""
        last = 0.0
        while True:
            if session.playing and queue.empty():
                try:
                    await self.run(session.train_for, SLICE_SECONDS)
                except Exception as exc:  # a bug of ours: this tab is told, the others go on
                    log.exception("playground: training failed")
                    session.playing = False
                    await send({"type": "error", "message": f"training stopped: {type(exc).__name__}: {exc}"[:500]})
                now = time.monotonic()
                if now - last >= 1 / FRAME_RATE or not session.playing:
                    await send(await self.run(frame, session))
                    last = now
                continue
            command = await queue.get()
            for reply in await self.run(self._handle, session, command):
                await send(reply)
            last = time.monotonic()

    def _handle(self, session: Session, command: dict) -> list:
        """One command (in a worker thread): its replies, a bad one as an error message."""
        kind = command["type"]
        try:
            if kind == "config":
                changed = session.apply(command.get("values"))
                points = bool(changed & {"dataset", "noise", "train_fraction", "points", "seed"})
                return [{"type": "config", "config": session.config.to_json(), "changed": sorted(changed)},
                        frame(session, points=points)]
            if kind in ("play", "pause"):
                session.play(kind == "play")
                return [frame(session)]
            if kind == "step":
                session.step()
                return [frame(session)]
            if kind == "reset":
                session.reset()
                return [frame(session, points=True)]
            if kind == "frame":
                return [frame(session, points=bool(command.get("points")))]
            if kind == "lecture":
                return [lecture(command)]
            raise ValueError(f"unknown message type {kind!r}; expected config, play, pause, step, reset, "
                             "frame or lecture")
        except (ValueError, TypeError) as exc:
            return [{"type": "error", "message": " ".join(str(exc).split())[:500]}]
        except Exception as exc:  # a bug of ours: the page says so, the server goes on
            log.exception("playground: %s failed", kind)
            return [{"type": "error", "message": f"internal error: {type(exc).__name__}: {exc}"[:500]}]

    # ------------------------------------------------------- model files
    def _session(self, request) -> Session | None:
        return self.sessions.get(request.path_params["token"])

    async def export(self, request) -> Response:
        session = self._session(request)
        if session is None:
            return JSONResponse({"error": "no such session (it ends when its tab closes)"}, status_code=404)
        try:
            data = await self.run(session.export)
        except (ValueError, TypeError, ImportError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        name = f"playground-{session.config.dataset}.safetensors"
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def load(self, request) -> Response:
        session = self._session(request)
        if session is None:
            return JSONResponse({"error": "no such session (it ends when its tab closes)"}, status_code=404)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_MODEL_BYTES):
            return JSONResponse({"error": f"a model file may have at most {MAX_MODEL_BYTES} bytes"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():  # counted as it comes: no unbounded read
            body += chunk
            if len(body) > MAX_MODEL_BYTES:
                return JSONResponse({"error": f"a model file may have at most {MAX_MODEL_BYTES} bytes"},
                                    status_code=413)
        name = request.query_params.get("name", "model.safetensors")
        try:
            await self.run(session.load_model, bytes(body), name)
        except (ValueError, TypeError, ImportError) as exc:
            return JSONResponse({"error": " ".join(str(exc).split())[:500]}, status_code=400)
        return JSONResponse({"ok": True, "frame": await self.run(frame, session, points=True)})


def _json_default(value):
    raise TypeError(f"cannot send {type(value).__name__}")


def _same_origin(ws: WebSocket) -> bool:
    """Only the page itself may open a session: another site's script in the same browser may not."""
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser (a test client, a script): nothing to protect
        return True
    host = ws.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


async def _index(request) -> Response:
    return FileResponse(str(STATIC / "index.html"), media_type="text/html")


def create_app(*, max_sessions: int = MAX_SESSIONS, workers: int | None = None) -> Starlette:
    """The playground's Starlette application; ``app.state.playground`` holds the sessions."""
    pg = Playground(max_sessions, workers)

    async def websocket(ws):
        await pg.websocket(ws)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pg.pool.shutdown(wait=False, cancel_futures=True)

    app = Starlette(
        routes=[
            Route("/", _index),
            Route("/export/{token}", pg.export),
            Route("/import/{token}", pg.load, methods=["POST"]),
            WebSocketRoute("/ws", websocket),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.playground = pg
    return app
