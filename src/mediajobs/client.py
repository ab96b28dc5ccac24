"""A small Python client for the mediajobs HTTP API (used by the CLI)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class ApiError(Exception):
    """Raised when the API answers with an error body (`{"error": {"code", "message"}}`)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class WaitTimeout(Exception):
    """Raised when `wait` reaches its deadline before the job ended."""


class Client:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- calls -------------------------------------------------------------------------------

    def submit(
        self,
        source: str | Path,
        *,
        pipeline: str = "transcribe",
        options: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit a job. A local path is uploaded with the request; a URL or upload:// id is passed on."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if isinstance(source, Path) or not _looks_like_url(str(source)):
            path = Path(source)
            with path.open("rb") as fh:
                response = self._http.post(
                    "/api/v1/jobs",
                    files={"file": (path.name, fh, "application/octet-stream")},
                    data={"pipeline": pipeline, "options": json.dumps(dict(options or {}))},
                    headers=headers,
                )
        else:
            response = self._http.post(
                "/api/v1/jobs",
                json={"pipeline": pipeline, "source": str(source), "options": dict(options or {})},
                headers=headers,
            )
        return _json(response)

    def get(self, job_id: str) -> dict[str, Any]:
        return _json(self._http.get(f"/api/v1/jobs/{job_id}"))

    def list(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        params = {
            k: v
            for k, v in {"status": status, "pipeline": pipeline, "limit": limit, "cursor": cursor}.items()
            if v is not None
        }
        return _json(self._http.get("/api/v1/jobs", params=params))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return _json(self._http.post(f"/api/v1/jobs/{job_id}/cancel"))

    def result(self, job_id: str) -> dict[str, Any]:
        return _json(self._http.get(f"/api/v1/jobs/{job_id}/result"))

    def artifact(self, job_id: str, name: str) -> bytes:
        response = self._http.get(f"/api/v1/jobs/{job_id}/artifacts/{name}")
        _raise_for_error(response)
        return response.content

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends (or `timeout` seconds pass); returns the final job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in TERMINAL:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll)  # a client's polling interval, not a test wait


def _looks_like_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "upload://", "job://"))


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        raise ApiError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        raise ApiError(response.status_code, "http_error", response.text[:500]) from None


def _json(response: httpx.Response) -> dict[str, Any]:
    _raise_for_error(response)
    data: dict[str, Any] = response.json()
    return data
