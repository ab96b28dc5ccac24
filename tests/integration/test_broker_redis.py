"""Publishing to real Redis through Celery: queues per stage kind, and an outage that loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from helpers.settings import make_settings
from mediajobs.domain import get_pipeline
from mediajobs.queue.app import create_celery_app
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.publisher import CeleryPublisher
from mediajobs.queue.routing import queue_router
from mediajobs.store import JobStore, create_db_engine


def test_stage_messages_land_on_their_kind_queue(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    app = create_celery_app(settings)
    engine = create_db_engine(pg_url)
    store = JobStore(engine, queue_for=queue_router(settings.queue_prefix))
    pipeline = get_pipeline("transcribe")
    job, _ = store.create_job(
        owner_id="local", pipeline=pipeline, source="https://example.com/a.wav", options={}
    )
    sent = Dispatcher(store, CeleryPublisher(app)).dispatch_due()
    assert sent == 1
    client = redis.Redis.from_url(redis_url)
    raw = client.lrange(f"{settings.queue_prefix}download", 0, -1)
    assert len(raw) == 1
    message = json.loads(raw[0])
    assert message["headers"]["task"] == "mediajobs.run_stage"
    assert str(job.id) in message["headers"]["argsrepr"]
    client.close()
    engine.dispose()


def test_broker_outage_keeps_messages_in_the_outbox(tmp_path: Path, pg_url: str) -> None:
    # nothing listens on this port: the publish fails fast and the message stays unsent
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL="redis://127.0.0.1:1/0"
    )
    app = create_celery_app(settings)
    engine = create_db_engine(pg_url)
    store = JobStore(engine)
    pipeline = get_pipeline("transcribe")
    store.create_job(owner_id="local", pipeline=pipeline, source="https://example.com/a.wav", options={})
    assert Dispatcher(store, CeleryPublisher(app)).dispatch_due() == 0
    assert store.pending_outbox_count() == 1
    engine.dispose()
