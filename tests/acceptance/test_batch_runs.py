"""Batches through the HTTP API on a real worker, real Whisper and ffmpeg: partial failure reported
plainly, a retry that runs only the failures, the zip of the results, a cancel that stops every item.

The batch with failures holds 50 items at full scale (`MEDIAJOBS_TEST_SCALE=full`, the issue's size)
and 12 in CI (10 good, the same 2 bad)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from helpers.http_server import Route, serve
from helpers.media import speak
from helpers.processes import wait_for
from helpers.scale import FULL_SCALE
from helpers.stack import Stack

BATCHES = "/api/v1/batches"
GOOD = 48 if FULL_SCALE else 10  # items that succeed, beside the two that fail


def _upload(stack: Stack, path: Path) -> str:
    with path.open("rb") as fh:
        response = stack.api.post(
            "/api/v1/uploads", files={"file": (path.name, fh, "application/octet-stream")}
        )
    assert response.status_code == 201, response.text
    source: str = response.json()["source"]
    return source


def _ended(stack: Stack, batch_id: str, timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        batch: dict[str, Any] = stack.api.get(f"{BATCHES}/{batch_id}", params={"limit": 1000}).json()
        return batch if batch["status"] != "running" else None

    return wait_for(done, timeout=timeout, interval=0.5, message=f"batch {batch_id} ended")  # type: ignore[return-value]


def test_a_batch_with_two_bad_sources_ends_with_failures_and_a_retry_runs_only_those(
    stack: Stack, tmp_path: Path
) -> None:
    clip = _upload(stack, speak("Hello there.", tmp_path / "hello.wav"))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + b"\0" * 2048)
    not_media = _upload(stack, pdf)
    with serve({"/gone.mp3": Route(status=404, body=b"no")}) as base:
        items: list[dict[str, Any]] = [{"source": clip, "name": f"clip {i:02d}"} for i in range(GOOD)]
        items.insert(GOOD // 5, {"source": f"{base}/gone.mp3", "name": "missing"})
        items.insert(GOOD * 5 // 8, {"source": not_media, "name": "not media"})
        stack.worker(concurrency=2)
        response = stack.api.post(
            BATCHES, json={"pipeline": "transcribe", "items": items, "name": "with failures"}
        )
        assert response.status_code == 202, response.text
        batch_id = response.json()["id"]

        ended = _ended(stack, batch_id, timeout=300)

    assert ended["status"] == "completed_with_failures"
    assert ended["counts"] == {"succeeded": GOOD, "failed": 2}
    failed = {i["name"]: i["error"]["code"] for i in ended["item_page"] if i["status"] == "failed"}
    assert failed == {"missing": "download_failed", "not media": "unsupported_media"}

    zipped = stack.api.get(f"{BATCHES}/{batch_id}/artifacts", params={"artifacts": "srt"})
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert sorted(names) == sorted(
        f"clip {i:02d}/transcript.srt" for i in range(GOOD)
    )  # one per item and file

    retried = stack.api.post(f"{BATCHES}/{batch_id}/retry")
    assert retried.status_code == 202
    again = _ended(stack, batch_id, timeout=120)
    assert again["counts"] == {"succeeded": GOOD, "failed": 2}
    attempts = {
        i["name"]: len(stack.api.get(f"/api/v1/jobs/{i['id']}").json()["attempts"])
        for i in again["item_page"]
    }
    assert {name for name, n in attempts.items() if n > 1 and name in failed} == set(failed)
    assert all(
        attempts[f"clip {i:02d}"] == 3 for i in range(GOOD)
    )  # ingest, normalize, transcribe: once each


def test_cancelling_a_running_batch_leaves_no_item_running_within_five_seconds(
    stack: Stack, tmp_path: Path
) -> None:
    clip = _upload(stack, speak("Hello there. " * 30, tmp_path / "long.wav"))
    stack.worker(concurrency=2)
    items = [{"source": clip, "name": f"item {i}"} for i in range(12)]
    batch_id = stack.api.post(BATCHES, json={"pipeline": "transcribe", "items": items}).json()["id"]

    def something_runs() -> bool:
        batch = stack.api.get(f"{BATCHES}/{batch_id}").json()
        return bool(batch["counts"].get("running"))

    wait_for(something_runs, timeout=60, interval=0.2, message="an item runs")
    assert stack.api.post(f"{BATCHES}/{batch_id}/cancel").status_code == 200

    ended = _ended(stack, batch_id, timeout=5)
    assert ended["status"] == "cancelled"
    assert "running" not in ended["counts"]
    assert "queued" not in ended["counts"]
