"""What the API's own log lines may show of a request: never an API key.

Event streams take the key as `?access_token=` (EventSource and WebSocket cannot set headers), and
uvicorn logs every request line, query string included (the access log; WebSocket handshakes on
`uvicorn.error`). `RedactKeys` replaces the value of such a parameter with `***` in every record of
those loggers before any handler sees it; `install_redaction` puts it there (the app factory calls
it, so every API process has it, however it was started).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_PARAMETERS = frozenset({"access_token"})
REDACTED = "***"
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")

_QUERY = re.compile(r"\?\S*")  # a query string inside a log line, up to the next space


def redact_query(text: str) -> str:
    """`text` with the value of every secret query parameter replaced by `***` (the name's
    percent-encodings included: `access%5Ftoken` is the same parameter to the server)."""
    if "?" not in text:
        return text

    def redact(match: re.Match[str]) -> str:
        pairs = match.group(0)[1:].split("&")
        for index, pair in enumerate(pairs):
            name, equals, _ = pair.partition("=")
            if equals and unquote_plus(name).strip().lower() in SECRET_PARAMETERS:
                pairs[index] = f"{name}={REDACTED}"
        return "?" + "&".join(pairs)

    return _QUERY.sub(redact, text)


class RedactKeys(logging.Filter):
    """Redacts secret query parameters in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction(loggers: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Put `RedactKeys` on the server's loggers (once each)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())


__all__ = ["REDACTED", "RedactKeys", "install_redaction", "redact_query"]
