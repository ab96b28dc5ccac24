"""API keys sent as `?access_token=` are redacted from the server's log records."""

from __future__ import annotations

import logging

import pytest

from mediajobs.api.access_log import RedactKeys, install_redaction, redact_query


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("/e?access_token=mj_k&last_event_id=3", "/e?access_token=***&last_event_id=3"),
        ("/e?a=1&access_token=mj_k", "/e?a=1&access_token=***"),
        ("/e?access%5Ftoken=mj_k", "/e?access%5Ftoken=***"),
        ("/e?ACCESS_TOKEN=mj_k", "/e?ACCESS_TOKEN=***"),
        ('"GET /e?access_token=mj_k HTTP/1.1" 401', '"GET /e?access_token=*** HTTP/1.1" 401'),
        ('"WebSocket /ws?access_token=mj_k"', '"WebSocket /ws?access_token=***'),  # quote in a message: eaten
        ("/e?access_token=a&access_token=b", "/e?access_token=***&access_token=***"),
        ("/e?token=mj_k&access_tokens=x", "/e?token=mj_k&access_tokens=x"),
        ("no query at all", "no query at all"),
    ],
)
def test_redact_query(text: str, redacted: str) -> None:
    assert redact_query(text) == redacted


def test_the_filter_redacts_a_uvicorn_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/events?access_token=mj_secret", "1.1", 401), None,
    )  # fmt: skip
    assert RedactKeys().filter(record)
    assert "mj_secret" not in record.getMessage()
    assert "/api/v1/events?access_token=*** HTTP/1.1" in record.getMessage()


def test_installing_twice_adds_one_filter() -> None:
    install_redaction()
    install_redaction()
    for name in ("uvicorn.access", "uvicorn.error"):
        assert sum(isinstance(f, RedactKeys) for f in logging.getLogger(name).filters) == 1
