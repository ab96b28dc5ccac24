"""The Python client's batch calls: the body it sends, job:// prefixes made whole, every page of items."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mediajobs.client import AmbiguousJobId, ApiError, Client

FULL = "abcd1234-0000-4000-8000-000000000001"


def test_submit_batch_sends_the_items_with_job_prefixes_made_whole() -> None:
    bodies: list[dict[str, Any]] = []
    headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/jobs":  # resolving the prefix
            assert request.url.params["id_prefix"] == "abcd12"
            return httpx.Response(200, json={"jobs": [{"id": FULL}], "next_cursor": None})
        bodies.append(json.loads(request.content))
        headers.append(request.headers.get("idempotency-key"))
        return httpx.Response(202, json={"id": "b", "status": "running"})

    with Client("http://mediajobs.test", api_key="k", transport=httpx.MockTransport(handler)) as client:
        client.submit_batch(
            [{"source": "upload://u1", "name": "a.mp3"}, {"source": "job://abcd12"}, {"text": "hola"}],
            pipeline="translate",
            options={"target_language": "en"},
            name="season 1",
            idempotency_key="k-1",
        )
    assert bodies == [
        {
            "pipeline": "translate",
            "options": {"target_language": "en"},
            "name": "season 1",
            "items": [
                {"source": "upload://u1", "name": "a.mp3"},
                {"source": f"job://{FULL}"},
                {"text": "hola"},
            ],
        }
    ]
    assert headers == ["k-1"]


def test_batch_items_reads_every_page() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        asked.append(request.url.params["after"])
        page = [{"index": i} for i in range(after + 1, min(after + 3, 5))]
        next_after = page[-1]["index"] if page[-1]["index"] < 4 else None
        return httpx.Response(200, json={"status": "running", "item_page": page, "next_after": next_after})

    with Client("http://mediajobs.test", api_key="k", transport=httpx.MockTransport(handler)) as client:
        items = list(client.batch_items("b", page=2))
    assert [i["index"] for i in items] == [0, 1, 2, 3, 4]
    assert asked == ["-1", "1", "3"]


def test_batch_prefixes_are_resolved_among_your_batches() -> None:
    ids = [FULL, "abcd5678-0000-4000-8000-000000000002", "ffff0000-0000-4000-8000-000000000003"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"batches": [{"id": i} for i in ids]})

    with Client("http://mediajobs.test", api_key="k", transport=httpx.MockTransport(handler)) as client:
        assert client.resolve_batch_id("abcd5") == ids[1]
        assert client.resolve_batch_id(FULL.upper()) == FULL
        with pytest.raises(AmbiguousJobId):
            client.resolve_batch_id("abcd")
        with pytest.raises(AmbiguousJobId):
            client.resolve_batch_id("ab")
        with pytest.raises(ApiError) as missing:
            client.resolve_batch_id("0123")
    assert missing.value.status == 404
