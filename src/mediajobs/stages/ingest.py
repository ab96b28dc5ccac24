"""The `ingest` stage: make the job's source available as one local media file in storage.

`upload://<id>` sources are already on disk (the API wrote them), so they are used in place.
`http(s)://` sources are streamed into the stage's work folder. Either way the file is hashed and its
first bytes sniffed, so that obvious non-media (an HTML error page, a PDF, a ZIP) fails here with a clear
`unsupported_media` instead of as a puzzling ffmpeg error one stage later.

Download failures are classified for the runner: network trouble and HTTP 429/5xx are retryable
(honouring Retry-After), other HTTP 4xx and oversize bodies are permanent.

A URL that answers with a web page (text/html) is read with yt-dlp instead (stages/page_media.py):
the page's best audio for `transcribe`, its best video with audio for `dub` (`want`), every request
yt-dlp makes under the same address rules and limits.

A download asks for `identity` and reads the raw bytes: a body with any content coding is refused
unread (`unsupported_encoding`), because decoding one inflates a whole layer in memory at once
(6.8 kB of `gzip, gzip` became gigabytes before the size limit saw a byte). So a download holds at
most one chunk in memory, whatever the server sends.

A download must also keep up a minimum pace: after MEDIAJOBS_DOWNLOAD_GRACE_SECONDS it must have
received MEDIAJOBS_DOWNLOAD_MIN_RATE bytes for every second past them (`download_too_slow`,
permanent). The idle timeout alone let a source that sends a byte every 29 s hold a download slot
until the stage's hard time limit, on every attempt.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

import httpx

from mediajobs import __version__
from mediajobs.domain.retry import parse_retry_after
from mediajobs.engines.http import OUTBOUND_HTTP
from mediajobs.errors import PermanentError, RetryableError, UnsupportedMedia
from mediajobs.storage.keys import upload_prefix

from .base import StageContext, StageResult

CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 512
MAX_REDIRECTS = 5
USER_AGENT = f"mediajobs/{__version__}"

PAGE_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MEDIA_CONTENT_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/ogg", "application/mp4"}
)
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Received:
    key: str  # where the media is in storage
    size: int
    sha256: str
    content_type: str | None


# -- the stage ----------------------------------------------------------------------------------------


def ingest(ctx: StageContext, *, want: Literal["audio", "video"] = "audio") -> StageResult:
    """Resolve or download the source; the checkpoint points at the media file in storage. `want`:
    what to take of a web page (its best audio, or its best video with audio)."""
    ctx.cancel.raise_if_set()
    scheme = urlsplit(ctx.source).scheme.lower()
    if scheme == "upload":
        received = _from_upload(ctx)
        origin = "upload"
    elif scheme == "job":
        received = _from_job(ctx)
        origin = "job"
    elif scheme in ("http", "https"):
        downloaded = _download(ctx)
        origin = "http" if downloaded is not None else "page"
        received = downloaded if downloaded is not None else _from_page(ctx, want)
    else:
        raise PermanentError(f"ingest cannot fetch source {ctx.source[:200]!r}", code="invalid_source")
    ctx.progress.report(100.0, "source ready")
    return StageResult(
        output={
            "media_key": received.key,
            "size": received.size,
            "sha256": received.sha256,
            "content_type": received.content_type,
            "origin": origin,
        }
    )


# -- uploads ------------------------------------------------------------------------------------------


def _from_upload(ctx: StageContext) -> _Received:
    raw_id = urlsplit(ctx.source).netloc
    try:
        upload_id = uuid.UUID(raw_id)
    except ValueError:
        raise PermanentError(f"{raw_id!r} is not an upload id", code="upload_not_found") from None
    files = ctx.storage.list(upload_prefix(upload_id))
    if not files:
        raise PermanentError(f"upload {upload_id} has no file", code="upload_not_found")
    if len(files) > 1:
        raise PermanentError(
            f"upload {upload_id} holds {len(files)} files; expected exactly one", code="upload_invalid"
        )
    stored = files[0]
    return _checked(ctx, stored.key, stored.size, f"upload {stored.key.rsplit('/', 1)[-1]!r}")


# -- another job's result -----------------------------------------------------------------------------

MEDIA_ARTIFACTS = (
    "speech.wav",
    "speech.mp3",
    "speech.opus",
    "dubbed.mp4",
    "dubbed.mkv",
    "dubbed.wav",
    "video.mp4",
)
"""What a `job://` media source is read from: the first of these the job has (synthesize, dub, video)."""


def _from_job(ctx: StageContext) -> _Received:
    raw_id = urlsplit(ctx.source).netloc
    artifact = ctx.job_artifact(raw_id, MEDIA_ARTIFACTS)
    if artifact is None:
        raise PermanentError(f"job {raw_id[:64]} has no audio or video result", code="missing_input")
    return _checked(ctx, artifact.key, artifact.size, f"job {raw_id}'s {artifact.name}")


def _checked(ctx: StageContext, key: str, size: int, what: str) -> _Received:
    """A stored file used in place: sniffed for non-media and hashed."""
    name = key.rsplit("/", 1)[-1]
    digest = hashlib.sha256()
    done = 0
    with ctx.storage.open(key) as fh:
        head = fh.read(SNIFF_BYTES)
        _reject_non_media(head, what=what)
        digest.update(head)
        done = len(head)
        while chunk := fh.read(CHUNK_BYTES * 16):
            ctx.cancel.raise_if_set()
            digest.update(chunk)
            done += len(chunk)
            ctx.progress.report(_percent(done, size), "checking input")
    content_type, _ = mimetypes.guess_type(name)
    return _Received(key=key, size=done, sha256=digest.hexdigest(), content_type=content_type)


# -- downloads ----------------------------------------------------------------------------------------


def _from_page(ctx: StageContext, want: Literal["audio", "video"]) -> _Received:
    """The media of the web page the source is, through yt-dlp (under the same rules and limits)."""
    from .page_media import fetch_page_media  # yt-dlp is loaded only when a page is met

    path = fetch_page_media(ctx, ctx.source, ctx.engines.get(OUTBOUND_HTTP), want)
    key = ctx.output_key(f"source{path.suffix if _SAFE_SUFFIX.match(path.suffix) else ''}")
    ctx.storage.put_file(key, path)
    path.unlink(missing_ok=True)  # put_file may have moved it
    return _checked(ctx, key, ctx.storage.stat(key).size, "the page's media")


def _download(ctx: StageContext) -> _Received | None:
    """The source downloaded; None when it is a web page (read by `_from_page`)."""
    settings = ctx.settings
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    http = ctx.engines.get(OUTBOUND_HTTP)  # every connection follows the address rules (engines/http.py)
    try:
        with (
            http.client(
                timeout=settings.download_timeout_seconds, headers=headers, max_redirects=MAX_REDIRECTS
            ) as client,
            client.stream("GET", ctx.source) as response,
        ):
            _check_status(response)
            _check_identity(response)
            if _is_page(response):
                return None
            content_type = _check_content_type(response)
            expected = _content_length(response)
            if expected is not None and expected > settings.download_max_bytes:
                raise _too_large(settings.download_max_bytes, f"the server announced {expected} bytes")
            name = f"source{_suffix(response, content_type)}"
            size, sha256 = _stream_to(ctx, response, ctx.work_dir / name, expected)
    except httpx.TooManyRedirects as exc:
        raise PermanentError(f"download failed: {exc}", code="download_failed") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(f"cannot download {ctx.source[:200]!r}: {exc}", code="download_failed") from exc
    except httpx.TransportError as exc:
        raise RetryableError(f"download failed: {type(exc).__name__}: {exc}", code="download_failed") from exc
    except httpx.HTTPError as exc:  # e.g. a body that does not decode: trying again would not help
        raise PermanentError(f"download failed: {type(exc).__name__}: {exc}", code="download_failed") from exc
    key = ctx.output_key(name)
    ctx.storage.put_file(key, ctx.work_dir / name)
    return _Received(key=key, size=size, sha256=sha256, content_type=content_type)


def _stream_to(
    ctx: StageContext, response: httpx.Response, target: Path, expected: int | None
) -> tuple[int, str]:
    """Write the body to a temp file beside `target`, then rename; a failed attempt leaves no file."""
    limit = ctx.settings.download_max_bytes
    pace = Pace(ctx.settings.download_min_rate, ctx.settings.download_grace_seconds)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".source.", suffix=".part", dir=ctx.work_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            head = b""
            for (
                chunk
            ) in response.iter_raw():  # as received (at most 64 KiB); never decoded: see _check_identity
                ctx.cancel.raise_if_set()
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit, "the body went past it while streaming")
                pace.check(size)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        _reject_non_media(head, what="the download")
                digest.update(chunk)
                fh.write(chunk)
                ctx.progress.report(_percent(response.num_bytes_downloaded, expected), _received(size))
            if len(head) < SNIFF_BYTES:
                _reject_non_media(head, what="the download")
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return size, digest.hexdigest()


class Pace:
    """The minimum pace of a download: after `grace` seconds, `min_rate` bytes for each second past
    them (0: no minimum). With the idle timeout (no byte for MEDIAJOBS_DOWNLOAD_TIMEOUT seconds) it
    bounds a download of n bytes to grace + n / min_rate seconds, plus one idle timeout."""

    def __init__(self, min_rate: int, grace: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_rate = min_rate
        self.grace = grace
        self._clock = clock
        self._start = clock()

    def check(self, received: int) -> None:
        """PermanentError (`download_too_slow`) when `received` bytes so far are behind the pace."""
        elapsed = self._clock() - self._start
        if self.min_rate <= 0 or elapsed <= self.grace:
            return
        if received < self.min_rate * (elapsed - self.grace):
            raise PermanentError(
                f"the source sent {received} bytes in {elapsed:.0f} s: slower than the minimum of "
                f"{self.min_rate} bytes a second after the first {self.grace:g} s "
                "(MEDIAJOBS_DOWNLOAD_MIN_RATE)",
                code="download_too_slow",
            )


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"HTTP {status} {response.reason_phrase}".strip()
    if status == 429 or status >= 500:
        raise RetryableError(
            f"download failed: the server answered {reason}",
            code="download_failed",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise PermanentError(f"download failed: the server answered {reason}", code="download_failed")


def _check_identity(response: httpx.Response) -> None:
    """We asked for `Accept-Encoding: identity`; a body with any other coding is not read at all."""
    raw: str = response.headers.get("Content-Encoding", "")
    if any(c.strip().lower() not in ("", "identity") for c in raw.split(",")):
        raise PermanentError(
            f"download failed: the server sent Content-Encoding {raw[:100]!r}; only identity is accepted",
            code="unsupported_encoding",
        )


def _is_page(response: httpx.Response) -> bool:
    raw: str = response.headers.get("Content-Type", "")
    return raw.split(";", 1)[0].strip().lower() in PAGE_CONTENT_TYPES


def _check_content_type(response: httpx.Response) -> str | None:
    """The declared media type, or None; a type that cannot be audio or video is refused up front."""
    raw: str | None = response.headers.get("Content-Type")
    if not raw:
        return None
    media_type = raw.split(";", 1)[0].strip().lower()
    if not media_type:
        return None
    if media_type.startswith(("audio/", "video/")) or media_type in MEDIA_CONTENT_TYPES:
        return media_type
    raise UnsupportedMedia(f"the server sent {media_type!r}, not audio or video")


def _content_length(response: httpx.Response) -> int | None:
    raw: str | None = response.headers.get("Content-Length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


def _suffix(response: httpx.Response, content_type: str | None) -> str:
    """A file extension that helps ffmpeg guess the format: from the URL, else from the media type."""
    suffix = PurePosixPath(response.url.path).suffix
    if _SAFE_SUFFIX.match(suffix):
        return suffix.lower()
    if content_type and content_type not in MEDIA_CONTENT_TYPES:
        guessed = mimetypes.guess_extension(content_type)
        if guessed and _SAFE_SUFFIX.match(guessed):
            return guessed
    return ""


def _too_large(limit: int, detail: str) -> PermanentError:
    return PermanentError(
        f"the source is larger than the {limit}-byte download limit ({detail})", code="too_large"
    )


def _percent(done: int, total: int | None) -> float | None:
    if not total:
        return None
    return min(100.0, done * 100.0 / total)


def _received(size: int) -> str:
    return f"downloaded {size / 1_048_576:.1f} MiB"


# -- content sniffing ---------------------------------------------------------------------------------

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x7fELF", "an executable"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%!PS", "a PostScript document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_TEXT_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<head", "an HTML page"),
    (b"<body", "an HTML page"),
    (b"<?xml", "an XML document"),
    (b"<svg", "an SVG image"),
    (b"{", "a JSON document"),
    (b"[", "a JSON document"),
    (b"#extm3u", "a playlist, not media"),
    (b"webvtt", "a subtitle file"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")


def describe_non_media(head: bytes) -> str | None:
    """What the first bytes of a file obviously are when that is not audio or video, else None.

    Only confident verdicts: anything that might be media is left for ffprobe to judge.
    """
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return what
    if not head:
        return "an empty file"
    if not _looks_like_text(head):
        return None
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for signature, what in _TEXT_SIGNATURES:
        if lowered.startswith(signature):
            return what
    return "plain text"


def _looks_like_text(head: bytes) -> bool:
    # A multi-byte character may be cut at the end of the sniffed window.
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(ch.isprintable() or ord(ch) in _TEXT_CONTROLS for ch in text.lstrip("\ufeff"))
    return False


def _reject_non_media(head: bytes, *, what: str) -> None:
    found = describe_non_media(head)
    if found is not None:
        raise UnsupportedMedia(f"{what} is {found}, not audio or video")


__all__ = ["describe_non_media", "ingest", "parse_retry_after"]
