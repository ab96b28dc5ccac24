"""Celery's monitoring events (for Flower or `celery events`): off by default, on with a setting."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import redis

from helpers.settings import make_settings
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.queue.app import create_celery_app
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.publisher import CeleryPublisher
from mediajobs.queue.routing import queue_router
from mediajobs.registry import build_registry
from mediajobs.store import JobStore, create_db_engine


def test_task_events_are_off_unless_asked_for(tmp_path: Path, redis_url: str) -> None:
    quiet_settings = make_settings(tmp_path, CELERY_BROKER_URL=redis_url)
    quiet = create_celery_app(quiet_settings, build_registry(quiet_settings).queues()).conf
    assert (quiet.task_send_sent_event, quiet.worker_send_task_events) == (False, False)
    loud_settings = make_settings(tmp_path, CELERY_BROKER_URL=redis_url, MEDIAJOBS_CELERY_TASK_EVENTS="true")
    loud = create_celery_app(loud_settings, build_registry(loud_settings).queues()).conf
    assert (loud.task_send_sent_event, loud.worker_send_task_events) == (True, True)


def test_with_the_setting_each_stage_message_sent_is_announced_on_the_broker(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_CELERY_TASK_EVENTS="true",
    )
    engine = create_db_engine(pg_url)
    store = JobStore(
        engine, queue_for=queue_router(settings.queue_prefix), pipelines=shipped_pipelines(noop=True)
    )
    dispatcher = Dispatcher(
        store, CeleryPublisher(create_celery_app(settings, build_registry(settings).queues()))
    )
    client = redis.Redis.from_url(redis_url)
    monitor = client.pubsub()
    try:
        monitor.psubscribe("*celeryev*")  # where Celery's events go on Redis (what Flower listens to)
        assert _message(monitor)["type"] == "psubscribe"  # subscribed before anything is sent
        job, _ = store.jobs.create_job(
            owner_id="local",
            pipeline=get_pipeline("transcribe"),
            source="https://example.com/a.wav",
            options={},
        )
        assert dispatcher.dispatch_due() == 1
        message = _message(monitor)
    finally:
        monitor.close()
        client.close()
        engine.dispose()
    event = json.loads(base64.b64decode(json.loads(message["data"])["body"]))
    assert event["type"] == "task-sent"
    assert event["name"] == "mediajobs.run_stage"
    assert event["queue"] == f"{settings.queue_prefix}download"
    assert str(job.id) in event["args"]


def _message(pubsub: redis.client.PubSub, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=deadline - time.monotonic())
        if message is not None:
            return message  # type: ignore[no-any-return]
    raise TimeoutError(f"nothing on the broker's event channels within {timeout} s")
