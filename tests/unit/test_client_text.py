"""The Python client sends a text pipeline's input as the `text` field."""

from __future__ import annotations

import json

import httpx

from mediajobs.client import Client


def test_submit_text_sends_the_text_field() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(202, json={"id": "x", "status": "queued", "links": {}})

    with Client("http://mediajobs.test", api_key="k", transport=httpx.MockTransport(handler)) as client:
        client.submit_text("Hello there.", pipeline="synthesize", options={"language": "en"})
    assert bodies == [{"pipeline": "synthesize", "text": "Hello there.", "options": {"language": "en"}}]
