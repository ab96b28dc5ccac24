"""HTTP over a bare socket, for clients no library will be: a body sent a byte at a time, a body that
stops halfway, a request head of a megabyte."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

BOUNDARY = "slowly"
FILE_PART = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="slow.wav"\r\n'
    "Content-Type: audio/wav\r\n\r\n"
)


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the response

    def json(self) -> Any:
        return json.loads(self.body)


def connect(base_url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def start_upload(
    base_url: str, key: str, *, path: str = "/api/v1/uploads", length: int = 1_000_000
) -> socket.socket:
    """A multipart upload that announces `length` bytes and has sent its head, the file part's headers
    and one byte of the file: the rest is up to the caller (`trickle`), or never comes."""
    sock = connect(base_url)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    sock.sendall(request_head("POST", path, headers) + FILE_PART.encode() + b"R")
    return sock


def trickle(sockets: list[socket.socket], data: bytes = b"\0") -> None:
    """One more byte on every socket (what a slow client sends every few seconds)."""
    for sock in sockets:
        sock.sendall(data)


def read_response(sock: socket.socket, timeout: float) -> RawResponse:
    """The response on `sock`, read until its body is complete or the server closes the connection."""
    deadline = time.monotonic() + timeout
    data = b""
    closed = False
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head, body = data[:head_end].decode("latin-1"), data[head_end + 4 :]
            status_line, *lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            length = int(headers.get("content-length", "-1"))
            if closed or 0 <= length <= len(body):
                if not closed:
                    closed = _closed_soon(sock, deadline)
                return RawResponse(int(status_line.split()[1]), headers, body, closed)
        elif closed:
            raise ConnectionError(f"the server closed the connection without a response ({data[:200]!r})")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete response within {timeout} s (got {data[:200]!r})")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        closed = not chunk
        data += chunk


def _closed_soon(sock: socket.socket, deadline: float) -> bool:
    try:
        sock.settimeout(max(0.01, min(2.0, deadline - time.monotonic())))
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True
