"""Schemathesis over /openapi.json against the app on PostgreSQL, the way `st run --checks all` does
it: its examples, coverage and fuzzing phases and every check it has. No 5xx, every status code,
header, content type and body is the one the document promises, a request the document calls valid
is accepted, one it calls invalid is refused, and an undeclared method is a 405 with `Allow`.

One check is narrowed, not dropped: `positive_data_acceptance` takes a 422 whose code is in
SEMANTIC_REFUSALS (each says why no schema can state that rule). A bounded number of generated
requests per operation keeps this within seconds. It runs as a pro-tier user with a key of its own.
Not covered: `GET /api/v1/events` (the user's stream never ends by design; its bad inputs are tested
in tests/unit/test_hostile_requests.py) and the WebSocket (not an OpenAPI operation).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as engine_events

from helpers.auth import user_with_key
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.api.openapi import URL_TEXT
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

EXAMPLES_PER_OPERATION = 25
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]

SEMANTIC_REFUSALS = {
    "invalid_cursor": "a cursor is one this server handed out, not any string",
    "unknown_pipeline": "the pipelines are the deployment's registry, not a fixed list",
    "invalid_options": "which options exist, and their values, depend on the pipeline",
    "unknown_stage": "a stage of the job's own pipeline",
    "lane_not_allowed": "a lane depends on the caller's tier",
    "invalid_lane": "a lane depends on the caller's tier",
    "invalid_source": "`upload://` and `job://` need an id, `http(s)://` a host",
    "upload_not_found": "an upload is the caller's own, made earlier",
    "unsupported_source": "which source schemes a pipeline reads depends on the pipeline",
    "unsupported_language": "languages depend on the installed models",
    "unsupported_task": "tasks depend on the installed models",
    "unknown_model": "models depend on the deployment",
    "unsupported_voice": "voices depend on the installed speech engines",
    "unsupported_language_pair": "pairs depend on the installed translation data",
    "empty_text": "a text of blanks only is no input",
    "forbidden_source": "a URL must name a public host",
    "credentials_in_source": "a URL must hold no password",
    "missing_input": "a pipeline's input: a source or a text, of the kinds it reads",
    "invalid_last_event_id": "an id this stream gave out: at most 2^31-1 for a job's (a header is a string)",
    "publish_dir_not_allowed": "a video's publish folders are the operator's (MEDIAJOBS_PUBLISH_DIRS)",
    "invalid_publish_url": "a publish URL is https, with a host and no password",
    "invalid_callback_url": "a callback URL is https (http where private sources are allowed), with a host "
    "and no password",
    "forbidden_callback": "a callback URL must name a public host",
    "callback_disabled": "whether a callback URL answered 410 Gone before is the user's own history",
    "unsupported_image": "a scene's image is an upload whose file is an image",
    "invalid_characters": "control characters deep inside option values, or in a multipart field's"
    " name (top-level strings, option names, parameters and headers state the rule in the schema)",
}


def _error_code(response: Any) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


@schemathesis.check
def valid_data_is_accepted(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """`positive_data_acceptance`, except for the refusals no schema can state."""
    if response.status_code == 422 and _error_code(response) in SEMANTIC_REFUSALS:
        return None
    return schemathesis.checks.positive_data_acceptance(ctx, response, case)


@pytest.fixture
def app(tmp_path: Path, pg_url: str) -> Iterator[FastAPI]:
    config = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, MEDIAJOBS_UPLOAD_MAX_BYTES=64 * 1024)
    services = build_services(config, InMemoryPublisher(), engines=Engines())
    try:
        yield create_app(config, services=services, maintenance=False)
    finally:
        services.close()


def _config(key: str, openai_key: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 23,
            "suppress-health-check": ["all"],  # a slow or filtered draw is no finding about the API
            "max-failures": 200,
            # the /v1 audio routes answer 202 at once instead of waiting for a job no worker runs here
            "headers": {"Authorization": f"Bearer {key}", "Prefer": "respond-async"},
            "max-stream-events": 1,  # a queued job's stream waits for more: read one event, then stop
            "request-timeout": 2,  # ... or none, when asked to resume after its last one
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "database": "none"},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"enabled": False},  # valid_data_is_accepted instead
                # Schemathesis's list, and 413: a body over its size limit is refused as such.
                "negative_data_rejection": {"expected-statuses": [*REFUSALS, "413"]},
            },
            "phases": {"stateful": {"enabled": False}},  # (its links would need documenting first)
            "operations": [
                {"include-path": "/api/v1/events", "enabled": False},
                # the OpenAI-compatible routes submit too: as a second pro user, so that neither
                # user's requests go over the pro tier's 300 submits a minute in a fast run
                {
                    "include-path-regex": "^/v1/",
                    "headers": {"Authorization": f"Bearer {openai_key}", "Prefer": "respond-async"},
                },
            ],
        }
    )


def test_the_api_keeps_the_promises_of_its_openapi_document(app: FastAPI) -> None:
    """As an ordinary (pro tier) user: its own jobs only, a submit rate limit the run stays under."""
    services: Services = app.state.services
    _, key = user_with_key(services.store, "fuzzer", Tier.PRO)
    openai_user, openai_key = user_with_key(services.store, "openai-fuzzer", Tier.PRO)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(key, openai_key))
    failures: list[str] = []
    statuses: Counter[str] = Counter()
    operations: set[str] = set()
    for event in from_schema(schema).execute():
        # Hypothesis giving up on a draw (its data grew too large: the jobs body is a oneOf of every
        # pipeline's options) is no finding about the API, like the health checks suppressed above;
        # it struck POST /api/v1/jobs only after the unit tier ran in the same process
        gave_up = isinstance(event, engine_events.NonFatalError) and "FailedHealthCheck" in repr(event.value)
        if isinstance(event, engine_events.NonFatalError | engine_events.FatalError) and not gave_up:
            failures.append(f"engine error: {event}"[:2000])
        if not isinstance(event, engine_events.ScenarioFinished) or event.status is Status.SKIP:
            continue
        operations.add(event.recorder.label)
        for case_id, interaction in event.recorder.interactions.items():
            if interaction.response is not None:
                statuses[
                    f"{event.phase.value} {event.recorder.label} {interaction.response.status_code}"
                ] += 1
            for check in event.recorder.checks.get(case_id, []):
                if check.failure_info is not None:
                    request, response = interaction.request, interaction.response
                    failures.append(
                        f"{event.phase.value} {event.recorder.label}: {check.name}\n"
                        f"{str(check.failure_info.failure)[:1500]}\n"
                        f"request: {request.method} {request.uri[:300]} {(request.body or b'')[:1500]!r}\n"
                        f"response: {response.status_code if response else None} "
                        f"{(response.content or b'')[:300] if response else b''!r}"
                    )
    print("\n".join(f"{n:4d} {k}" for k, n in sorted(statuses.items())))
    assert len(operations) >= 17, sorted(operations)
    assert not failures, "\n\n".join(sorted(set(failures)))
    assert services.store.jobs.list_jobs(owner_id=openai_user, limit=1).jobs  # /v1 ran as its own user


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


def test_the_document_states_the_rules_the_guards_enforce(app: FastAPI) -> None:
    """What the fuzzer found the document left unsaid: no control characters in parameters, and
    `source` and `text` exclusive."""
    document = app.openapi()
    job = document["paths"]["/api/v1/jobs/{job_id}/artifacts/{name}"]["get"]
    assert {p["name"]: p["schema"]["pattern"] for p in job["parameters"]} == {
        "job_id": URL_TEXT,
        "name": URL_TEXT,
    }
    schemas = document["components"]["schemas"]
    for variant in schemas["JobCreate"]["oneOf"]:  # one per pipeline
        create = schemas[variant["$ref"].rsplit("/", 1)[-1]]
        if create["properties"]["pipeline"]["const"] == "video":  # scenes in its options: neither is fine
            assert create["not"]["required"] == ["source", "text"]
        else:
            assert [branch["required"] for branch in create["oneOf"]] == [["source"], ["text"]]
