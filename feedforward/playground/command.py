"""``feedforward playground [--port N] [--host H] [--no-browser]``: serve the page and open it.

Imports nothing of the server until it runs, so the command line works without the extra;
without it, the command says how to install it (``pip install "feedforward[playground]"``).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import webbrowser

__all__ = ["playground", "need_server", "make_server", "serve", "DEFAULT_PORT"]

DEFAULT_PORT = 8050


def need_server():
    """``(uvicorn, create_app)``, or ImportError with the install command."""
    try:
        import starlette  # noqa: F401 (only: is it there?)
        import uvicorn
        import websockets  # noqa: F401 (uvicorn's WebSocket protocol)
    except ImportError as exc:
        raise ImportError(f'the playground needs the server libraries ({exc.name} is missing): '
                          'pip install "feedforward[playground]"') from None
    from .server import create_app

    return uvicorn, create_app


def make_server(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, log_level: str = "warning"):
    """``(server, socket, url)``: a uvicorn server of the playground and the socket it will serve,
    already bound (``port=0`` takes a free port); ``server.run(sockets=[socket])`` starts it."""
    uvicorn, create_app = need_server()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    port = sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    # ws_max_size: a frame larger than this closes the connection before it is even read.
    config = uvicorn.Config(create_app(), log_level=log_level, ws_max_size=1 << 20, lifespan="on")
    return uvicorn.Server(config), sock, url


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, open_browser: bool = False,
          log_level: str = "warning") -> None:
    """Run the server until interrupted (Ctrl-C), printing its address once it listens."""
    server, sock, url = make_server(host, port, log_level=log_level)

    def announce():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            print(f"feedforward playground: {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


def playground(args) -> int:
    """The ``playground`` subcommand (``args``: host, port, no_browser)."""
    serve(args.host, args.port, open_browser=not args.no_browser)
    return 0
