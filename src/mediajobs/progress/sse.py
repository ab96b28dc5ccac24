"""The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

from __future__ import annotations

import json

from mediajobs.domain.events import ProgressEvent

MEDIA_TYPE = "text/event-stream"
HEARTBEAT = b": keep-alive\n\n"
UNAUTHORIZED = b": unauthorized\n\n"  # the last line of a stream whose key stopped being valid
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


def encode_event(event: ProgressEvent, *, event_id: int) -> bytes:
    """One event: `id` (the resume point a client sends back as Last-Event-ID), `event`, `data`."""
    # ASCII only: U+2028 and friends inside a file name must not split the `data:` line for a client
    data = json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=True)
    return f"id: {event_id}\nevent: {event.type.value}\ndata: {data}\n\n".encode()


def encode_retry(milliseconds: int) -> bytes:
    """Tells EventSource how long to wait before reconnecting."""
    return f"retry: {milliseconds}\n\n".encode()


__all__ = ["HEADERS", "HEARTBEAT", "MEDIA_TYPE", "UNAUTHORIZED", "encode_event", "encode_retry"]
