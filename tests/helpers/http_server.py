"""A real HTTP server on 127.0.0.1 with canned behaviours, for the download stage's tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class Route:
    """What the server answers on one path."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | Path | Callable[[], Iterator[bytes]] = b""
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route(status=404, headers=(("Content-Type", "text/plain"),), body=b"not found")
        # The client may hang up on purpose mid-body (size limit, content check).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(route)

    def _answer(self, route: Route) -> None:
        self.send_response(route.status)
        for name, value in route.headers:
            self.send_header(name, value)
        if isinstance(route.body, Path):
            if route.content_length:
                self.send_header("Content-Length", str(route.body.stat().st_size))
            self.end_headers()
            with route.body.open("rb") as fh:
                while chunk := fh.read(64 * 1024):
                    self.wfile.write(chunk)
        elif isinstance(route.body, bytes):
            if route.content_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
        else:
            self.end_headers()
            for chunk in route.body():
                self.wfile.write(chunk)

    def log_message(self, format: str, *args: object) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[str]:
    """Serve `routes` on a free port of 127.0.0.1; yields the base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.routes = routes
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
