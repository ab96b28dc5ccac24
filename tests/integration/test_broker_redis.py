"""Publishing to real Redis through Celery: queues per stage kind, and an outage that loses nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.queue.app import create_celery_app
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.publisher import CeleryPublisher
from mediajobs.queue.routing import queue_router
from mediajobs.registry import build_registry
from mediajobs.store import JobStore, create_db_engine


def test_stage_messages_land_on_their_kind_queue(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    app = create_celery_app(settings, build_registry(settings).queues())
    engine = create_db_engine(pg_url)
    store = JobStore(
        engine, queue_for=queue_router(settings.queue_prefix), pipelines=shipped_pipelines(noop=True)
    )
    pipeline = get_pipeline("transcribe")
    job, _ = store.jobs.create_job(
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
    app = create_celery_app(settings, build_registry(settings).queues())
    engine = create_db_engine(pg_url)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    pipeline = get_pipeline("transcribe")
    store.jobs.create_job(owner_id="local", pipeline=pipeline, source="https://example.com/a.wav", options={})
    assert Dispatcher(store, CeleryPublisher(app)).dispatch_due() == 0
    assert store.outbox.pending_outbox_count() == 1
    engine.dispose()


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_messages_lost_by_the_broker_are_counted_and_sent_again(
    tmp_path: Path, pg_url: str, redis_url: str, broker: str
) -> None:
    """Redis restarted without its data (or the embedded broker's files went): the queue length says
    so, and the waiting stages get their messages again after a lease period, not 15 minutes."""
    env = {"CELERY_BROKER_URL": redis_url} if broker == "redis" else {}  # no broker URL: embedded
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, **env)
    publisher = CeleryPublisher(create_celery_app(settings, build_registry(settings).queues()))
    engine = create_db_engine(pg_url)
    clock = FakeClock(datetime.now(UTC))
    store = JobStore(
        engine,
        clock=clock,
        queue_for=queue_router(settings.queue_prefix),
        pipelines=shipped_pipelines(noop=True),
    )
    pipeline = get_pipeline("transcribe")
    for i in range(3):
        store.jobs.create_job(
            owner_id="local", pipeline=pipeline, source=f"https://example.com/{i}.wav", options={}
        )
    dispatcher = Dispatcher(store, publisher)
    assert dispatcher.dispatch_due() == 3
    queue = f"{settings.queue_prefix}download"
    assert publisher.queue_sizes([queue]) == {queue: 3}

    if broker == "redis":
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()
    else:
        for message in (settings.broker_dir / "messages").iterdir():
            message.unlink()
    assert publisher.queue_sizes([queue]) == {queue: 0}
    lease = timedelta(seconds=settings.lease_seconds)
    assert store.strays.resend_lost(publisher.queue_sizes, older_than=lease) == 0
    clock.advance(settings.lease_seconds + 1)
    assert store.strays.resend_lost(publisher.queue_sizes, older_than=lease) == 3
    assert dispatcher.dispatch_due() == 3
    assert publisher.queue_sizes([queue]) == {queue: 3}
    assert store.strays.resend_lost(publisher.queue_sizes, older_than=lease) == 0
    engine.dispose()
