"""The `publish` stage of a video: the finished video delivered where the job says, or nothing.

- `publish_dir`: one of the operator's folders (MEDIAJOBS_PUBLISH_DIRS, checked at submit and again
  here): `video.mp4`, `thumbnail.jpg` and `video.json` are written to `<folder>/<job id>/` (each
  under a temporary name, then renamed, so a reader never sees half a file).
- `publish_url`: one multipart POST (`manifest`: video.json with the job id, `video`, `thumbnail`)
  through the outbound HTTP port (the address rules), signed the Standard Webhooks way with the
  owner's `whsec_` secret (signing.py; the previous one signs too while a rotation's window lasts).
  The body is streamed from the files twice, once to sign it and once to send it, so a long video is
  never held in memory. 2xx: done; 429, 5xx, timeouts and
  connection failures: RetryableError (the runner retries with backoff and jitter, at least
  Retry-After); any other answer: PermanentError, no retry. The `webhook-id` is the same on every
  attempt, so a receiver can tell a retry from a new video.

Uploading to YouTube itself needs Google credentials and the internet: not here.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from mediajobs import __version__
from mediajobs.domain.options import VideoOptions
from mediajobs.engines.http import OUTBOUND_HTTP
from mediajobs.errors import PermanentError, RetryableError
from mediajobs.signing import sign_stream

from .base import StageContext, StageResult, stage_options
from .ingest import parse_retry_after
from .video_files import fetch

CHUNK = 256 * 1024
FILES = (("manifest", "video.json", "application/json"), ("video", "video.mp4", "video/mp4"),
         ("thumbnail", "thumbnail.jpg", "image/jpeg"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Part:
    field: str
    filename: str
    content_type: str
    path: Path

    def head(self, boundary: str) -> bytes:
        return (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{self.field}"; '
            f'filename="{self.filename}"\r\nContent-Type: {self.content_type}\r\n\r\n'
        ).encode()


def video_publish(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, VideoOptions)
    if options.publish_dir is None and options.publish_url is None:
        ctx.progress.report(100.0, "nothing to publish")
        return StageResult(output={"published": []})
    files = _fetch_results(ctx)
    published: list[dict[str, object]] = []
    if options.publish_dir is not None:
        published.append({"to": "folder", "path": str(_to_folder(ctx, options.publish_dir, files))})
        ctx.progress.report(30.0, "copied to the publish folder")
    if options.publish_url is not None:
        published.append({"to": "url", "status": _post(ctx, options.publish_url, files)})
    ctx.progress.report(100.0, "published")
    return StageResult(output={"published": published})


def _fetch_results(ctx: StageContext) -> dict[str, Path]:
    """The job's video, thumbnail and video.json (with the job id) as local files."""
    found: dict[str, Path] = {}
    for _, name, _ in FILES:
        artifact = ctx.job_artifact(str(ctx.job_id), [name])
        if artifact is None:
            raise PermanentError(f"the job has no {name} to publish", code="missing_input")
        found[name] = fetch(ctx, artifact.key, ctx.work_dir / name)
    manifest = json.loads(found["video.json"].read_text(encoding="utf-8"))
    found["video.json"].write_text(json.dumps({"job_id": str(ctx.job_id), **manifest}, indent=2), "utf-8")
    return found


def _to_folder(ctx: StageContext, folder: str, files: dict[str, Path]) -> Path:
    allowed = [p for p in ctx.settings.publish_dirs if p == Path(folder)]
    if not allowed:
        raise PermanentError(
            f"{folder[:200]!r} is not a publish folder of this worker", code="publish_failed"
        )
    if not allowed[0].is_dir():
        raise PermanentError(f"the publish folder {folder[:200]!r} does not exist", code="publish_failed")
    target = allowed[0] / str(ctx.job_id)
    target.mkdir(exist_ok=True)
    for name, path in files.items():
        partial = target / f".{name}.{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(path, partial)
            os.replace(partial, target / name)
        finally:
            partial.unlink(missing_ok=True)
    return target


def _post(ctx: StageContext, url: str, files: dict[str, Path]) -> int:
    parts = [_Part(field, name, media, files[name]) for field, name, media in FILES]
    boundary = f"mediajobs-{uuid.uuid4().hex}"
    length = sum(len(p.head(boundary)) + p.path.stat().st_size + 2 for p in parts) + len(
        f"--{boundary}--\r\n"
    )
    message_id = f"msg_{ctx.job_id.hex}_publish"  # the same on every attempt: a retry, not a new video
    timestamp = int(time.time())
    if ctx.owner_secrets is None:
        raise PermanentError("this worker cannot read the job owner's signing secret", code="publish_failed")
    signature = sign_stream(ctx.owner_secrets(), message_id, timestamp, _body(parts, boundary))
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
        "User-Agent": f"mediajobs/{__version__}",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    http = ctx.engines.get(OUTBOUND_HTTP)
    try:
        with http.client(timeout=ctx.settings.download_timeout_seconds, follow_redirects=False) as client:
            response = client.post(url, content=_body(parts, boundary, ctx, length), headers=headers)
    except httpx.TransportError as exc:  # timeouts and connection failures
        raise RetryableError(
            f"publishing failed: {type(exc).__name__}: {exc}", code="publish_failed"
        ) from exc
    except httpx.HTTPError as exc:
        raise PermanentError(
            f"publishing failed: {type(exc).__name__}: {exc}", code="publish_failed"
        ) from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    answer = f"the endpoint answered HTTP {status} {response.reason_phrase}".strip()
    if status == 429 or status >= 500:
        raise RetryableError(
            f"publishing failed: {answer}",
            code="publish_failed",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise PermanentError(f"publishing failed: {answer}", code="publish_failed")


def _body(
    parts: list[_Part], boundary: str, ctx: StageContext | None = None, length: int = 0
) -> Iterator[bytes]:
    """The multipart body, read from the files piece by piece (with `ctx`: reporting what was sent)."""
    sent = 0
    for part in parts:
        yield part.head(boundary)
        with part.path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                if ctx is not None:
                    ctx.cancel.raise_if_set()
                    sent += len(chunk)
                    ctx.progress.report(30.0 + 70.0 * sent / max(length, 1), "sending")
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


__all__ = ["video_publish"]
