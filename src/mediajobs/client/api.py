"""The Client: every call of the mediajobs HTTP API, as Python methods (the CLI uses it)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from mediajobs.domain.events import ProgressEvent
from mediajobs.settings import DEFAULT_DATA_DIR

from .batches import BatchCalls
from .errors import AmbiguousJobId, ApiError, StreamLost, json_of, raise_for_error
from .files import Download, Saved, is_json, save, stream
from .polling import poll_until
from .sse import SseParser, sse_lines

Records = list[dict[str, Any]]  # (`Client.list` hides the builtin inside the class)

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired", "deleted"})


def default_api_key() -> str | None:
    """The key to use when none is given: `MEDIAJOBS_API_KEY`, else the local admin's key file that
    the embedded default writes (`$MEDIAJOBS_DATA_DIR/api-key`)."""
    key = os.environ.get("MEDIAJOBS_API_KEY", "").strip()
    if key:
        return key
    data_dir = Path(os.environ.get("MEDIAJOBS_DATA_DIR") or DEFAULT_DATA_DIR)
    try:
        return (data_dir / "api-key").read_text().strip() or None
    except OSError:
        return None


class Client(BatchCalls):
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`api_key`: sent as `Authorization: Bearer`; by default `default_api_key()`."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        key = api_key if api_key is not None else default_api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, headers=headers
        )

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
        callback_url: str | None = None,
    ) -> dict[str, Any]:
        """Submit a job. A local path is uploaded with the request; a URL or upload:// id is passed on,
        and a `job://` id may be a unique prefix (see `resolve_source`). `callback_url`: POSTed the
        job's JSON when it ends (docs/webhooks.md)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        callback = {"callback_url": callback_url} if callback_url is not None else {}
        if isinstance(source, Path) or not looks_like_source(str(source)):
            path = Path(source)
            with path.open("rb") as fh:
                response = self._http.post(
                    "/api/v1/jobs",
                    files={"file": (path.name, fh, "application/octet-stream")},
                    data={"pipeline": pipeline, "options": json.dumps(dict(options or {})), **callback},
                    headers=headers,
                )
        else:
            response = self._http.post(
                "/api/v1/jobs",
                json={
                    "pipeline": pipeline,
                    "source": self.resolve_source(str(source)),
                    "options": dict(options or {}),
                    **callback,
                },
                headers=headers,
            )
        return json_of(response)

    def resolve_id(self, text: str) -> str:
        """The full id of the one job whose id starts with `text` (at least 4 hex digits), like git.

        A full id is returned as it is; ApiError 404 when no job of the caller's matches, and
        AmbiguousJobId when several do."""
        text = text.strip().lower()
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
        digits = text.replace("-", "")
        if not re.fullmatch(r"[0-9a-f]{4,31}", digits):
            raise AmbiguousJobId(f"{text!r} is not a job id: give the id or at least its first 4 hex digits")
        found = [job["id"] for job in self.list(id_prefix=digits, limit=5)["jobs"]]
        if not found:
            raise ApiError(404, "not_found", f"no job with an id starting with {text!r}")
        if len(found) > 1:
            listed = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
            raise AmbiguousJobId(f"id prefix {text!r} matches several jobs ({listed}): give more digits")
        return str(found[0])

    def resolve_source(self, source: str) -> str:
        """A `job://` source with its id made whole (a unique prefix will do, as in `resolve_id`); any
        other source as it is."""
        if not source.startswith("job://"):
            return source
        return "job://" + self.resolve_id(source.removeprefix("job://"))

    def upload(self, path: Path) -> dict[str, Any]:
        """Store a local file for later jobs (sent as it is read); its `source` is `upload://<id>`."""
        with path.open("rb") as fh:
            files = {"file": (path.name, fh, "application/octet-stream")}
            return json_of(self._http.post("/api/v1/uploads", files=files))

    def find_by_key(self, idempotency_key: str) -> dict[str, Any] | None:
        """Your job submitted with this Idempotency-Key, however long ago; None if there is none."""
        jobs = self._http.get("/api/v1/jobs", params={"idempotency_key": idempotency_key, "limit": 1})
        found: Records = json_of(jobs)["jobs"]
        return found[0] if found else None

    def submit_text(
        self,
        text: str,
        *,
        pipeline: str = "translate",
        options: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> dict[str, Any]:
        """Submit a text pipeline's job (translate, synthesize) with the text itself as its input."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body: dict[str, Any] = {"pipeline": pipeline, "text": text, "options": dict(options or {})}
        if callback_url is not None:
            body["callback_url"] = callback_url
        return json_of(self._http.post("/api/v1/jobs", json=body, headers=headers))

    def get(self, job_id: str) -> dict[str, Any]:
        return json_of(self._http.get(f"/api/v1/jobs/{job_id}"))

    def queues(self) -> dict[str, Any]:
        """Every queue with its consumers, length and oldest waiting age (admins)."""
        return json_of(self._http.get("/api/v1/queues"))

    def workers(self) -> dict[str, Any]:
        """Live workers and the stages running now (admins)."""
        return json_of(self._http.get("/api/v1/workers"))

    def list(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
    ) -> dict[str, Any]:
        query = {
            "status": status,
            "pipeline": pipeline,
            "limit": limit,
            "cursor": cursor,
            "id_prefix": id_prefix,
        }
        params = {k: v for k, v in query.items() if v is not None}
        return json_of(self._http.get("/api/v1/jobs", params=params))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return json_of(self._http.post(f"/api/v1/jobs/{job_id}/cancel"))

    def delete_job(self, job_id: str) -> dict[str, Any]:
        """Remove an ended job's files (the job stays, status `deleted`); ApiError 409 while it runs."""
        return json_of(self._http.delete(f"/api/v1/jobs/{job_id}"))

    def delete_upload(self, upload_id: str) -> None:
        """Remove one of your uploads (row and file); ApiError 409 while a running job reads it."""
        raise_for_error(self._http.delete(f"/api/v1/uploads/{upload_id}"))

    def retry(self, job_id: str) -> dict[str, Any]:
        """Run a failed (or cancelled) job again from its first unfinished stage."""
        return json_of(self._http.post(f"/api/v1/jobs/{job_id}/retry"))

    def rerun(self, job_id: str, from_stage: str, **options: Any) -> dict[str, Any]:
        """A new job reusing this one's finished stages before `from_stage`, with `options` over its own."""
        body = {"from_stage": from_stage, "options": options}
        return json_of(self._http.post(f"/api/v1/jobs/{job_id}/rerun", json=body))

    def result(self, job_id: str) -> dict[str, Any] | bytes:
        """The job's main result: the parsed JSON when it is JSON (a transcript, a translation, a dub's
        list of files), else its bytes (synthesize's audio). For large files, `save_result`."""
        response = self._http.get(f"/api/v1/jobs/{job_id}/result", follow_redirects=True)
        raise_for_error(response)
        if is_json(response.headers.get("content-type", "")):
            data: dict[str, Any] = response.json()
            return data
        return response.content

    def save_result(self, job_id: str, path: Path) -> Saved:
        """Write the job's main result to `path` as it arrives (whole or not at all)."""
        return save(self._http, f"/api/v1/jobs/{job_id}/result", path)

    def artifacts(self, job_id: str) -> Records:
        """The job's files: name, content_type, size, url."""
        found: Records = json_of(self._http.get(f"/api/v1/jobs/{job_id}/artifacts"))["artifacts"]
        return found

    def deliveries(self, job_id: str) -> dict[str, Any]:
        """The webhooks the job's end owed, each with every attempt (docs/webhooks.md)."""
        return json_of(self._http.get(f"/api/v1/jobs/{job_id}/deliveries"))

    def redeliver(self, job_id: str, delivery_id: int) -> dict[str, Any]:
        """Send one of the job's webhooks again now (the same `webhook-id` and body)."""
        return json_of(self._http.post(f"/api/v1/jobs/{job_id}/deliveries/{delivery_id}/redeliver"))

    def me(self) -> dict[str, Any]:
        """Your user, limits, usage and `webhook_secret`."""
        return json_of(self._http.get("/api/v1/me"))

    def artifact(self, job_id: str, name: str) -> bytes:
        response = self._http.get(f"/api/v1/jobs/{job_id}/artifacts/{name}", follow_redirects=True)
        raise_for_error(response)
        return response.content

    def save_artifact(self, job_id: str, name: str, path: Path) -> Saved:
        """Write one of the job's files to `path` as it arrives (whole or not at all)."""
        return save(self._http, f"/api/v1/jobs/{job_id}/artifacts/{name}", path)

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends (or `timeout` seconds pass); returns the final job."""
        return poll_until(
            lambda: self.get(job_id),
            lambda job: job["status"] in TERMINAL,
            what=f"job {job_id}",
            timeout=timeout,
            poll=poll,
            on_update=on_update,
        )

    def subscribe_progress(
        self,
        job_id: str,
        *,
        last_event_id: int | None = None,
        max_retries: int | None = 10,
        read_timeout: float = 45.0,
        backoff_cap: float = 5.0,
    ) -> Iterator[ProgressEvent]:
        """Yield the job's progress events in order, each once, until its final event (the latest one:
        a job retried after it ended goes on).

        Starts after `last_event_id` (a `seq`; None: from the job's first event). When the connection
        drops or goes quiet for `read_timeout` seconds (the server sends a keep-alive every 15 s), it
        reconnects with `Last-Event-ID` and goes on where it stopped; after `max_retries` failed
        reconnections in a row it raises StreamLost (None: never gives up). An unknown job raises
        ApiError (404) at once. Returns without an event when the job had ended and `last_event_id`
        was its last event.
        """
        last = last_event_id
        final = False  # the last event yielded ended the job (a retried job has more after it)
        failures = 0
        delay = 0.5  # the server's `retry:` field replaces it
        while True:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            timeout = httpx.Timeout(self.timeout, read=read_timeout)
            cause = "the stream ended before the job did"
            try:
                with self._http.stream(
                    "GET", f"/api/v1/jobs/{job_id}/events", headers=headers, timeout=timeout
                ) as response:
                    if response.status_code == 204:
                        return
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code < 500:
                            raise_for_error(response)
                        cause = f"HTTP {response.status_code}"
                    else:
                        parser = SseParser()
                        for line in sse_lines(response.iter_text()):
                            message = parser.feed(line)
                            if message is None:
                                continue
                            if message.retry is not None:
                                delay = message.retry / 1000
                            if not message.data:
                                continue
                            event = ProgressEvent.from_json(json.loads(message.data))
                            if last is not None and event.seq <= last:
                                continue
                            failures = 0  # only progress counts: a replay of old events is no success
                            last = event.seq
                            final = event.final
                            yield event
                        if final:  # the server ends the stream after the job's (latest) final event
                            return
            except httpx.TransportError as exc:  # refused, reset, read timeout, cut mid-stream
                cause = f"{type(exc).__name__}: {exc}"
            failures += 1
            if max_retries is not None and failures > max_retries:
                raise StreamLost(job_id, last, cause)
            time.sleep(min(backoff_cap, delay * 2 ** (failures - 1)))  # reconnect backoff

    @contextmanager
    def download(self, job_id: str, name: str | None = None) -> Iterator[Download]:
        """One of the job's files as it streams in: its main result (`name` None) or the artifact
        `name`; the media type is known before the body is read."""
        path = f"/api/v1/jobs/{job_id}/result" if name is None else f"/api/v1/jobs/{job_id}/artifacts/{name}"
        with stream(self._http, path) as download:
            yield download


def looks_like_source(value: str) -> bool:
    """A source the API reads itself (a URL, an upload, a job), not a local file to send."""
    return value.startswith(("http://", "https://", "upload://", "job://"))


__all__ = ["TERMINAL", "Client", "default_api_key", "looks_like_source"]
