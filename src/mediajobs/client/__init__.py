"""A small Python client for the mediajobs HTTP API (used by the CLI).

Exceptions (all but `ApiError` raised only by the calls that say so), under mediajobs' one root:

MediaJobsError
└── ClientSideError
    ├── ApiError        the API answered with an error body (`{"error": {"code", "message"}}`)
    ├── AmbiguousJobId  `resolve_id` was given an id prefix that several jobs (or too few digits) share
    ├── WaitTimeout     `wait` reached its deadline before the job ended
    └── StreamLost      `subscribe_progress` could not re-establish the event stream

Transport failures (API unreachable, timeouts) are httpx's own `httpx.TransportError`.

`api.py` holds the Client, `errors.py` these exceptions, `sse.py` the event-stream reading.
"""

from __future__ import annotations

from .api import Client, default_api_key
from .errors import AmbiguousJobId, ApiError, StreamLost, WaitTimeout
from .sse import SseMessage, SseParser, sse_lines

__all__ = [
    "AmbiguousJobId",
    "ApiError",
    "Client",
    "SseMessage",
    "SseParser",
    "StreamLost",
    "WaitTimeout",
    "default_api_key",
    "sse_lines",
]
