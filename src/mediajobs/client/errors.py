"""The errors `mediajobs.client` raises, and how an error answer of the API becomes one."""

from __future__ import annotations

from typing import Any

import httpx

from mediajobs.errors import ClientSideError


class ApiError(ClientSideError):
    """Raised when the API answers with an error body (`{"error": {"code", "message"}}`)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class AmbiguousJobId(ClientSideError):
    """Raised by `resolve_id` (`resolve_batch_id`) when an id prefix is too short or several jobs'
    (batches') ids start with it."""

    code = "ambiguous_id"


class WaitTimeout(ClientSideError):
    """Raised when `wait` reaches its deadline before the job ended."""

    code = "wait_timeout"


class StreamLost(ClientSideError):
    """Raised by `subscribe_progress` when `max_retries` reconnections in a row brought no event."""

    code = "stream_lost"

    def __init__(self, job_id: str, last_event_id: int | None, cause: str) -> None:
        super().__init__(f"lost the event stream of job {job_id} after event {last_event_id}: {cause}")
        self.job_id = job_id
        self.last_event_id = last_event_id
        self.cause = cause


def raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        raise ApiError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        raise ApiError(response.status_code, "http_error", response.text[:500]) from None


def json_of(response: httpx.Response) -> dict[str, Any]:
    raise_for_error(response)
    data: dict[str, Any] = response.json()
    return data


__all__ = ["AmbiguousJobId", "ApiError", "StreamLost", "WaitTimeout", "json_of", "raise_for_error"]
