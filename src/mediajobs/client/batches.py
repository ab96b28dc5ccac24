"""The Client's batch calls: submit many items at once, follow them, cancel or retry them, fetch their
files as one zip."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from .errors import AmbiguousJobId, ApiError, json_of
from .files import Saved, save
from .polling import poll_until


class BatchCalls:
    """Mixed into `Client`, which gives it its HTTP client and resolves `job://` prefixes."""

    _http: httpx.Client

    def resolve_source(self, source: str) -> str:
        raise NotImplementedError  # Client's

    def submit_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        pipeline: str = "transcribe",
        options: Mapping[str, Any] | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit up to 1,000 items at once, each `{"source" or "text", "pipeline"?, "options"?,
        "name"?}` (a `job://` source may be a unique prefix); one bad item refuses them all (ApiError
        422 naming `items[i]`). Upload local files first (`upload`)."""
        body: dict[str, Any] = {
            "pipeline": pipeline,
            "options": dict(options or {}),
            "items": [
                {**item, "source": self.resolve_source(str(item["source"]))}
                if "source" in item
                else dict(item)
                for item in items
            ],
        }
        if name is not None:
            body["name"] = name
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return json_of(self._http.post("/api/v1/batches", json=body, headers=headers))

    def batch(self, batch_id: str, *, after: int = -1, limit: int = 100) -> dict[str, Any]:
        """The batch's status, counts and progress, with a page of its items after index `after`
        (`item_page`; `next_after` for the next page)."""
        params = {"after": after, "limit": limit}
        return json_of(self._http.get(f"/api/v1/batches/{batch_id}", params=params))

    def batch_items(self, batch_id: str, *, page: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item of the batch, in order (a request per `page` items)."""
        after = -1
        while True:
            batch = self.batch(batch_id, after=after, limit=page)
            yield from batch["item_page"] or []
            if batch.get("next_after") is None:
                return
            after = int(batch["next_after"])

    def batches(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """Your batches, newest first."""
        found: list[dict[str, Any]] = json_of(self._http.get("/api/v1/batches", params={"limit": limit}))[
            "batches"
        ]
        return found

    def resolve_batch_id(self, text: str) -> str:
        """The full id of the batch whose id starts with `text` (at least 4 hex digits) among your 200
        newest batches; a full id is returned as it is."""
        text = text.strip().lower()
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
        digits = text.replace("-", "")
        if not re.fullmatch(r"[0-9a-f]{4,31}", digits):
            raise AmbiguousJobId(
                f"{text!r} is not a batch id: give the id or at least its first 4 hex digits"
            )
        found = [b["id"] for b in self.batches(limit=200) if b["id"].replace("-", "").startswith(digits)]
        if not found:
            raise ApiError(404, "not_found", f"no batch of your 200 newest with an id starting with {text!r}")
        if len(found) > 1:
            raise AmbiguousJobId(
                f"id prefix {text!r} matches several batches ({', '.join(found[:4])}): give more digits"
            )
        return str(found[0])

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """Cancel the batch's unfinished items (running stages stop)."""
        return json_of(self._http.post(f"/api/v1/batches/{batch_id}/cancel"))

    def retry_batch(self, batch_id: str) -> dict[str, Any]:
        """Run the batch's failed and cancelled items again, each from its first unfinished stage."""
        return json_of(self._http.post(f"/api/v1/batches/{batch_id}/retry"))

    def batch_zip(self, batch_id: str, path: Path, *, artifacts: Sequence[str] | None = None) -> Saved:
        """Write the items' files as one zip (`<item name>/<file>`) to `path` as it streams in;
        `artifacts` picks files by suffix (`["srt", "json"]`; None: all)."""
        params = {"artifacts": ",".join(artifacts)} if artifacts else None
        return save(self._http, f"/api/v1/batches/{batch_id}/artifacts", path, params=params)

    def wait_batch(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the batch ends (or `timeout` seconds pass); returns it (without items)."""
        return poll_until(
            lambda: self.batch(batch_id, limit=1),
            lambda batch: batch["status"] != "running",
            what=f"batch {batch_id}",
            timeout=timeout,
            poll=poll,
            on_update=on_update,
        )


__all__ = ["BatchCalls"]
