"""Which event ids a caller is shown (progress/cursor.py): each API process keeps every user's
EventIds once read, on the app's state."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from mediajobs.domain.events import ProgressEvent
from mediajobs.errors import InvalidRequest
from mediajobs.progress.cursor import EventIdKeys, EventIds


def id_keys(connection: HTTPConnection) -> EventIdKeys:
    """This API process's EventIdKeys (`keys.of(user)` blocks the first time: call it in a thread)."""
    state = connection.app.state
    keys: EventIdKeys | None = getattr(state, "event_id_keys", None)
    if keys is None:
        keys = EventIdKeys(state.services.store.users.event_key)
        state.event_id_keys = keys
    return keys


async def event_ids(connection: HTTPConnection, user_id: str) -> EventIds:
    """The ids `user_id`'s events are shown under (a database read the first time per process)."""
    return await run_in_threadpool(id_keys(connection).of, user_id)


def real_id(ids: EventIds, shown: int | None) -> int | None:
    """The event id behind a `Last-Event-ID` the user was shown (None stays None)."""
    if shown is None:
        return None
    try:
        return ids.real(shown)
    except ValueError:
        raise InvalidRequest(
            f"Last-Event-ID must be an event id given by this stream, not {shown}",
            code="invalid_last_event_id",
        ) from None


async def shown_events(
    events: AsyncGenerator[ProgressEvent | None, None], ids: EventIds
) -> AsyncGenerator[ProgressEvent | None, None]:
    """`events` with the ids the user sees (keep-alives, None, pass through)."""
    async with aclosing(events) as stream:
        async for event in stream:
            yield None if event is None else ids.event(event)


__all__ = ["event_ids", "id_keys", "real_id", "shown_events"]
