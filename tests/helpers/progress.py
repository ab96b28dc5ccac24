"""Driving a job's events through a real store without a worker, and reading event streams."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from mediajobs.client import SseMessage, SseParser
from mediajobs.domain import LOCAL_USER_ID, Job
from mediajobs.domain.events import ProgressEvent
from mediajobs.pipelines import get_pipeline
from mediajobs.storage import artifact_key
from mediajobs.store import ArtifactRecord, Claim, JobStore
from mediajobs.wiring import Services

STAGES = ("ingest", "normalize", "transcribe")


def submit(store: JobStore, source: str = "https://example.com/talk.mp3", owner: str = LOCAL_USER_ID) -> Job:
    job, created = store.jobs.create_job(
        owner_id=owner, pipeline=get_pipeline("transcribe"), source=source, options={"language": "en"}
    )
    assert created
    store.admission.admit_owner(owner)  # what the API's after-commit step does (a holding admission policy)
    return store.jobs.get_job(job.id)


def claim(store: JobStore, job_id: Any, stage: str) -> Claim:
    result = store.stages.claim_stage(job_id, stage, worker="test-worker", lease_seconds=30)
    assert isinstance(result, Claim), result
    return result


def run_stage(store: JobStore, job_id: Any, stage: str, percents: tuple[float, ...] = (25, 50, 75)) -> None:
    """Claim, report progress, complete: what a runner writes for one stage."""
    c = claim(store, job_id, stage)
    for percent in percents:
        store.stages.report_progress(c, percent, f"{stage} {percent:.0f}%")
    store.stages.complete_stage(c, {"stage": stage})


def run_stages(store: JobStore, job_id: Any, *stages: str) -> None:
    for stage in stages:
        run_stage(store, job_id, stage)


def run_job(store: JobStore, job_id: Any) -> None:
    run_stages(store, job_id, *STAGES)


def sse_messages(source: httpx.Response | Iterator[str]) -> Iterator[SseMessage]:
    """Messages of a streamed response, or of its `iter_lines()` once some lines were read already."""
    parser = SseParser()
    lines = source.iter_lines() if isinstance(source, httpx.Response) else source
    for line in lines:
        message = parser.feed(line)
        if message is not None:
            yield message


def sse_events(source: httpx.Response | Iterator[str]) -> Iterator[tuple[int, ProgressEvent]]:
    """(SSE id, event) for every event of a stream (skips the retry field and keep-alives)."""
    for message in sse_messages(source):
        if message.data:
            assert message.id is not None
            yield int(message.id), ProgressEvent.from_json(json.loads(message.data))


def finish_with_transcript(services: Services, job_id: str, transcript: bytes) -> None:
    """Do what workers do, through the store: run every stage, the last one leaving transcript.json."""
    job_uuid = uuid.UUID(job_id)
    for stage in ("ingest", "normalize", "transcribe"):
        claim = services.store.stages.claim_stage(job_uuid, stage, worker="test", lease_seconds=30)
        assert isinstance(claim, Claim), claim
        artifacts = []
        if stage == "transcribe":
            key = artifact_key(job_uuid, "transcript.json", version=claim.fence)
            services.storage.write(key, [transcript])
            artifacts.append(
                ArtifactRecord(
                    name="transcript.json", content_type="application/json", size=len(transcript), key=key
                )
            )
        services.store.stages.complete_stage(claim, {"stage": stage}, artifacts)
