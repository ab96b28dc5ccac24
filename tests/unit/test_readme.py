"""The README tells the truth about the API: its route table and the OpenAPI document list the same
calls, so they cannot drift apart; a WebSocket route it lists (OpenAPI describes none) answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import build_services

README = Path(__file__).resolve().parents[2] / "README.md"
CALL = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|WS) (/[^`\s?]*)")
OPTIONAL = re.compile(r"\[(/[^\]]+)\]")
NOT_THE_API = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def readme_calls() -> set[tuple[str, str]]:
    table = README.read_text(encoding="utf-8").split("| call | what it does |", 1)[1].split("\n\n", 1)[0]
    calls = set()
    for row in table.splitlines():
        first = row.split("|")[1] if row.count("|") >= 3 else ""
        for method, path in CALL.findall(first):
            expanded = [OPTIONAL.sub("", path), OPTIONAL.sub(r"\1", path)]
            calls |= {(method, _shape(p)) for p in expanded}
    return calls


def test_the_readme_route_table_names_every_route_the_api_serves_and_no_other(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    services = build_services(settings, InMemoryPublisher(), engines=Engines(), check_schema=False)
    try:
        app = create_app(settings, services=services, maintenance=False)
        served = {
            (method.upper(), _shape(path))
            for path, operations in app.openapi()["paths"].items()
            if path not in NOT_THE_API
            for method in operations
        }
        listed = readme_calls()
        sockets = {path for method, path in listed if method == "WS"}
        assert sockets  # the job's WebSocket is listed
        assert sorted(served - listed) == []  # served, not in the README
        assert sorted(listed - served - {("WS", path) for path in sockets}) == []  # listed, not served
        client = TestClient(app)
        for path in sockets:  # each answers the WebSocket handshake (and, with no key, closes 4401)
            with (
                pytest.raises(WebSocketDisconnect) as closed,
                client.websocket_connect(path.replace("{}", "x")) as ws,
            ):
                ws.receive_text()
            assert closed.value.code == 4401
    finally:
        services.close()
