"""Reading a `text/event-stream` response: its lines (CR, LF or CRLF only) and its messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseMessage:
    """One dispatched Server-Sent Event (fields as sent; `data` lines joined with newlines)."""

    id: str | None
    event: str
    data: str
    retry: int | None


class SseParser:
    """Incremental parser of the `text/event-stream` format: feed it lines, get messages at blank lines."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._fields = False

    def feed(self, line: str) -> SseMessage | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        self._fields = True
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SseMessage | None:
        if not self._fields:
            return None
        message = SseMessage(
            id=self._id, event=self._event or "message", data="\n".join(self._data), retry=self._retry
        )
        self._data, self._event, self._retry, self._fields = [], "", None, False
        return message


def sse_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Lines of an event stream. SSE ends lines with CR, LF or CRLF only; `str.splitlines` (and so
    httpx's `iter_lines`) would also split on U+2028, U+0085... inside a JSON `data:` value."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        while True:
            cut = min((i for i in (buffer.find("\r"), buffer.find("\n")) if i >= 0), default=-1)
            if cut < 0 or (buffer[cut] == "\r" and cut == len(buffer) - 1):
                break  # no complete line yet (a lone CR at the end may be half of CRLF)
            line, rest = buffer[:cut], buffer[cut + 1 :]
            if buffer[cut] == "\r" and rest.startswith("\n"):
                rest = rest[1:]
            yield line
            buffer = rest
    if buffer:
        yield buffer.rstrip("\r")


__all__ = ["SseMessage", "SseParser", "sse_lines"]
