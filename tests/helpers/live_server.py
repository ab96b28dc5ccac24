"""A real uvicorn server in a background thread, for what TestClient cannot show: streamed responses
(Server-Sent Events) read as they are sent, and WebSockets over a socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from helpers.processes import wait_for


@contextmanager
def live_server(app: FastAPI, *, shutdown_timeout: float = 3.0) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 (lifespan included); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="websockets-sansio",  # the legacy websockets implementation warns (warnings are errors here)
        lifespan="on",
        timeout_graceful_shutdown=int(shutdown_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), timeout=30, message="live server started")
        if not thread.is_alive():
            raise RuntimeError("the live server exited while starting")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout + 10)
        sock.close()
