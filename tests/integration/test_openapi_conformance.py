"""Schemathesis over /openapi.json against the app on PostgreSQL: no 5xx, and every status code,
content type and body is the one the document promises.

A bounded number of generated requests per operation keeps this within seconds. It runs as a
pro-tier user with a key of its own. Not covered:
`GET /api/v1/events` (the user's stream never ends by design; its bad inputs are tested in
tests/unit/test_hostile_requests.py) and the WebSocket (not an OpenAPI operation).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from helpers.auth import user_with_key
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

EXAMPLES_PER_OPERATION = 25  # per operation and generation mode
MODES = (
    GenerationMode.POSITIVE,
    GenerationMode.NEGATIVE,
)  # valid requests, and requests that break the schema
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def app(tmp_path: Path, pg_url: str) -> Iterator[FastAPI]:
    config = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, MEDIAJOBS_UPLOAD_MAX_BYTES=64 * 1024)
    services = build_services(config, InMemoryPublisher(), engines=Engines())
    try:
        yield create_app(config, services=services, maintenance=False)
    finally:
        services.close()


def _run_operation(
    operation: schemathesis.APIOperation, mode: GenerationMode, statuses: Counter[str], key: str
) -> None:
    label = f"{operation.label} {mode.value}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {key}"})
        statuses[f"{label} {response.status_code}"] += 1

    call()


def test_the_api_keeps_the_promises_of_its_openapi_document(app: FastAPI) -> None:
    """As an ordinary (pro tier) user: its own jobs only, a submit rate limit the run stays under."""
    services: Services = app.state.services
    _, key = user_with_key(services.store, "fuzzer", Tier.PRO)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    statuses: Counter[str] = Counter()
    tested = 0
    for mode, result in itertools.product(MODES, schema.get_all_operations()):
        operation = result.ok()
        if operation.path == "/api/v1/events":
            continue
        tested += 1
        try:
            _run_operation(operation, mode, statuses, key)
        except Unsatisfiable:  # no request breaks this operation's schema (e.g. only string parameters)
            continue
        except Exception as exc:  # collect every operation's first failure, then report them together
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]
    assert tested >= 24
    print("\n".join(f"{n:4d} {k}" for k, n in sorted(statuses.items())))
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_every_referenced_schema_exists(app: FastAPI) -> None:
    document = app.openapi()
    defined = set(document["components"]["schemas"])
    referenced: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                referenced.add(ref.removeprefix("#/components/schemas/"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert "JobCreate" in referenced
    assert referenced <= defined, referenced - defined
    artifact = document["paths"]["/api/v1/jobs/{job_id}/artifacts/{name}"]["get"]["responses"]["200"]
    assert {"text/vtt", "application/x-subrip", "text/plain"} <= set(artifact["content"])
    events = document["paths"]["/api/v1/jobs/{job_id}/events"]["get"]["responses"]["200"]
    assert set(events["content"]) == {"text/event-stream"}
