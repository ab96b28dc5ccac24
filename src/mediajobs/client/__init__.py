"""A small Python client for the mediajobs HTTP API (used by the CLI).

Exceptions (all but `ApiError` raised only by the calls that say so), under mediajobs' one root:

MediaJobsError
└── ClientSideError
    ├── ApiError        the API answered with an error body (`{"error": {"code", "message"}}`)
    ├── AmbiguousJobId  `resolve_id` (`resolve_batch_id`) was given an id prefix that several jobs
    │                   (batches) share, or too few digits
    ├── WaitTimeout     `wait` (`wait_batch`) reached its deadline before the job (batch) ended
    └── StreamLost      `subscribe_progress` could not re-establish the event stream

Transport failures (API unreachable, timeouts) are httpx's own `httpx.TransportError`.

`api.py` holds the Client (its batch calls in `batches.py`), `errors.py` these exceptions, `files.py`
downloads streamed to files, `sse.py` the event-stream reading.
"""

from __future__ import annotations

from .api import Client, default_api_key
from .errors import AmbiguousJobId, ApiError, StreamLost, WaitTimeout
from .files import Download, Saved
from .sse import SseMessage, SseParser, sse_lines

__all__ = [
    "AmbiguousJobId",
    "ApiError",
    "Client",
    "Download",
    "Saved",
    "SseMessage",
    "SseParser",
    "StreamLost",
    "WaitTimeout",
    "default_api_key",
    "sse_lines",
]
