"""Media from a web page (a URL source that answers with HTML, not audio or video), fetched with
yt-dlp used as a library.

yt-dlp has no switch that keeps it off private addresses, and checking the page's URL is not enough:
the page's `<video src>`, an extractor's API call or a redirect can point anywhere. So every request
yt-dlp makes goes through one request handler of ours (`GuardedRH`), the only one its director has,
which sends it with a client of the outbound HTTP port (engines/http.py): the same address rules,
DNS pinning and redirect checks as a direct download. What yt-dlp downloads is held to the same
limits while the bytes arrive (MEDIAJOBS_DOWNLOAD_MAX_BYTES; a page or API answer that is not media
at most PAGE_MAX_BYTES), only `identity` content coding is accepted, and only formats served over
plain HTTP(S) are chosen: no HLS, DASH or RTMP, whose pieces ffmpeg or another tool would fetch out of
our sight, and no merging or fix-ups, which would run ffmpeg on the download (normalize does, with its
whitelists). The extractors are the ones MEDIAJOBS_PAGE_EXTRACTORS allows. yt-dlp's progress hooks
drive the stage's progress; its duration, when the page says, is held to MEDIAJOBS_MAX_MEDIA_SECONDS
before anything is downloaded (normalize checks the file itself again).
"""

from __future__ import annotations

import email.message
import io
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import yt_dlp
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError
from yt_dlp.utils import DownloadCancelled

from mediajobs.engines.http import OutboundHttp
from mediajobs.errors import (
    JobCancelled,
    LeaseLost,
    MediaJobsError,
    PermanentError,
    RetryableError,
    UnsupportedMedia,
)

from .base import StageContext

log = logging.getLogger(__name__)

Want = Literal["audio", "video"]
PAGE_MAX_BYTES = 16 * 1024 * 1024  # a web page or an API answer (anything that is not media)
CHUNK = 64 * 1024
PLAIN_PROTOCOLS = frozenset({"http", "https"})
OUTPUT_NAME = "page-media"


class _Guard:
    """What one fetch has let through, and the first of our own errors it met (yt-dlp wraps or
    swallows exceptions, so ours are recorded here and raised after it returns)."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.max_bytes = ctx.settings.download_max_bytes
        self.received = 0
        self.error: MediaJobsError | None = None
        self.last_status: int | None = None
        self.transport_failed = False

    def stop(self, error: MediaJobsError) -> RequestError:
        """Record `error` (the first one wins) and give yt-dlp an error it will not retry."""
        if self.error is None:
            self.error = error
        return RequestError(error.message)

    def check_cancel(self) -> None:
        if self.ctx.cancel.is_set():
            try:
                self.ctx.cancel.raise_if_set()
            except (JobCancelled, LeaseLost) as exc:
                self.error = self.error or exc
            raise DownloadCancelled("the stage was stopped")


class _Body(io.RawIOBase):
    """An httpx response body for yt-dlp, raw (never decoded) and counted against the limits."""

    def __init__(self, response: httpx.Response, guard: _Guard, *, media: bool) -> None:
        self._response = response
        self._chunks: Iterator[bytes] = response.iter_raw(CHUNK)
        self._guard = guard
        self._media = media
        self._own = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self.readall() if size is None or size < 0 else bytes(super().read(size) or b"")

    def readinto(self, buffer: Any) -> int:
        guard = self._guard
        guard.check_cancel()
        if not self._pending:
            try:
                self._pending = next(self._chunks, b"")
            except httpx.HTTPError as exc:
                guard.transport_failed = True
                raise TransportError(cause=exc) from exc
            self._own += len(self._pending)
            guard.received += len(self._pending)
            if guard.received > guard.max_bytes:
                raise guard.stop(
                    PermanentError(
                        f"the source is larger than the {guard.max_bytes}-byte download limit "
                        "(the body went past it while streaming)",
                        code="too_large",
                    )
                )
            if not self._media and self._own > PAGE_MAX_BYTES:
                raise guard.stop(
                    PermanentError(f"a page of the source is over {PAGE_MAX_BYTES} bytes", code="too_large")
                )
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._response.close()
        super().close()


class GuardedRH(RequestHandler):  # type: ignore[misc]  # yt-dlp is untyped
    """yt-dlp's only request handler: each request through the outbound HTTP port's client."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()
    _SUPPORTED_FEATURES = ()
    RH_NAME = "mediajobs"

    def __init__(self, *, http: OutboundHttp, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._guard = guard
        self._client = http.client(timeout=self.timeout, follow_redirects=True, max_redirects=5)

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for supported in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(supported, None)

    def close(self) -> None:
        self._client.close()

    def _send(self, request: Any) -> Response:
        guard = self._guard
        guard.check_cancel()
        headers = self._get_headers(request)
        headers["Accept-Encoding"] = "identity"  # a compressed body is refused, never inflated
        cookie = self._get_cookiejar(request).get_cookie_header(request.url)
        if cookie:
            headers["Cookie"] = cookie
        try:
            sent = self._client.build_request(
                request.method, request.url, headers=headers, content=request.data,
                timeout=self._calculate_timeout(request),
            )  # fmt: skip
            response = self._client.send(sent, stream=True)
        except MediaJobsError as exc:  # ForbiddenSource: the address rules said no
            raise guard.stop(exc) from None
        except httpx.TooManyRedirects as exc:
            raise guard.stop(PermanentError(f"download failed: {exc}", code="download_failed")) from None
        except httpx.HTTPError as exc:
            guard.transport_failed = True
            raise TransportError(cause=exc) from exc
        self._keep_cookies(request, response)
        coding = response.headers.get("Content-Encoding", "")
        if any(c.strip().lower() not in ("", "identity") for c in coding.split(",")):
            response.close()
            raise guard.stop(
                PermanentError(
                    f"download failed: the server sent Content-Encoding {coding[:100]!r}; only identity "
                    "is accepted",
                    code="unsupported_encoding",
                )
            )
        media = (
            response.headers.get("Content-Type", "")
            .lower()
            .startswith(("audio/", "video/", "application/octet"))
        )
        answer = Response(
            fp=_Body(response, guard, media=media),
            url=str(response.url),
            headers=dict(response.headers.multi_items()),
            status=response.status_code,
            reason=response.reason_phrase,
        )
        if response.status_code >= 400:
            guard.last_status = response.status_code
            raise HTTPError(answer)
        return answer

    def _keep_cookies(self, request: Any, response: httpx.Response) -> None:
        message = email.message.Message()
        for value in response.headers.get_list("Set-Cookie"):
            message["Set-Cookie"] = value
        if message.get_all("Set-Cookie"):
            origin = urllib.request.Request(str(response.url))  # noqa: S310 (for the cookie jar; never opened)
            self._get_cookiejar(request).extract_cookies(_CookieResponse(message), origin)


class _CookieResponse:
    """What http.cookiejar reads of a response: its headers."""

    def __init__(self, message: email.message.Message) -> None:
        self._message = message

    def info(self) -> email.message.Message:
        return self._message


class _GuardedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
    """A YoutubeDL whose request director has our handler and no other."""

    def __init__(self, params: dict[str, Any], *, http: OutboundHttp, guard: _Guard) -> None:
        self._mj_http, self._mj_guard = http, guard
        super().__init__(params)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        director = super().build_request_director([], preferences)
        director.add_handler(
            GuardedRH(
                http=self._mj_http,
                guard=self._mj_guard,
                logger=director.logger,
                headers=self.params["http_headers"].copy(),
                cookiejar=self.cookiejar,
                timeout=self.params.get("socket_timeout"),
            )
        )
        return director


class _Logger:
    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.info("yt-dlp: %s", message)


def choose_format(formats: list[dict[str, Any]], want: Want) -> dict[str, Any] | None:
    """The best format served over plain HTTP(S): audio only (else anything with audio) for `audio`,
    video with audio for `video`; yt-dlp lists formats worst first. Codecs a page does not state
    (an HTML5 `<video src>`) count as present."""
    plain = [f for f in formats if f.get("url") and f.get("protocol", "https") in PLAIN_PROTOCOLS]

    def has(f: dict[str, Any], codec: str) -> bool:
        return f.get(codec) != "none"

    if want == "audio":
        preferences = [
            [f for f in plain if has(f, "acodec") and not has(f, "vcodec")],
            [f for f in plain if has(f, "acodec")],
        ]
    else:
        preferences = [[f for f in plain if has(f, "acodec") and has(f, "vcodec")]]
    for candidates in preferences:
        if candidates:
            return candidates[-1]
    return None


def fetch_page_media(ctx: StageContext, url: str, http: OutboundHttp, want: Want) -> Path:
    """The media of the page at `url`, downloaded into the work folder; its path."""
    guard = _Guard(ctx)
    settings = ctx.settings

    def select(selection: dict[str, Any]) -> Iterator[dict[str, Any]]:
        chosen = choose_format(list(selection.get("formats") or []), want)
        if chosen is None:
            guard.stop(
                UnsupportedMedia(
                    f"the page has no {want} served as a plain file (streaming formats are not fetched)"
                )
            )
            return
        yield chosen

    def progress(status: dict[str, Any]) -> None:
        guard.check_cancel()
        if status.get("status") == "downloading":
            done = int(status.get("downloaded_bytes") or 0)
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            percent = min(99.0, 100.0 * done / float(total)) if total else None
            ctx.progress.report(percent, f"downloaded {done / 1_048_576:.1f} MiB from the page")

    extractors = [e for e in settings.page_extractors if e.lower() != "generic"]
    if any(e.lower() == "generic" for e in settings.page_extractors):
        extractors.append("generic")  # suits every URL: tried after the site extractors
    params: dict[str, Any] = {
        "logger": _Logger(),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "paths": {"home": str(ctx.work_dir), "temp": str(ctx.work_dir)},
        "outtmpl": {"default": f"{OUTPUT_NAME}.%(ext)s"},
        "format": select,
        "allowed_extractors": extractors,
        "noplaylist": True,
        "playlist_items": "1",
        "proxy": "",
        "socket_timeout": settings.download_timeout_seconds,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "file_access_retries": 0,
        "cachedir": False,
        "check_formats": False,
        "fixup": "never",
        "postprocessors": [],
        "external_downloader": {},
        "overwrites": True,
        "continuedl": False,
        "max_filesize": settings.download_max_bytes,
        "progress_hooks": [progress],
    }
    try:
        with _GuardedYoutubeDL(params, http=http, guard=guard) as ydl:
            info = ydl.extract_info(url, download=False)
            info = _first_entry(info)
            _check_duration(info, settings.max_media_seconds)
            ydl.process_ie_result(info, download=True)
    except (yt_dlp.utils.YoutubeDLError, RequestError, DownloadCancelled) as exc:
        _remove_partial(ctx.work_dir)
        raise _explain(guard, exc) from None
    if guard.error is not None:
        _remove_partial(ctx.work_dir)
        raise guard.error
    found = sorted(
        p for p in ctx.work_dir.glob(f"{OUTPUT_NAME}.*") if not p.name.endswith((".part", ".ytdl"))
    )
    if not found:
        raise UnsupportedMedia("yt-dlp downloaded no file from the page")
    return found[0]


def _remove_partial(folder: Path) -> None:
    """What a failed download left (a retry starts afresh in a new work folder; this is tidiness)."""
    for leftover in folder.glob(f"{OUTPUT_NAME}.*"):
        leftover.unlink(missing_ok=True)


def _first_entry(info: dict[str, Any] | None) -> dict[str, Any]:
    """A page with several videos (a playlist to yt-dlp): its first."""
    if not info:
        raise UnsupportedMedia("no audio or video found on the page")
    if info.get("_type") in ("playlist", "multi_video"):
        entries = [e for e in (info.get("entries") or []) if e]
        if not entries:
            raise UnsupportedMedia("no audio or video found on the page")
        return dict(entries[0])
    return info


def _check_duration(info: dict[str, Any], limit: float) -> None:
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration > limit:
        raise PermanentError(
            f"the page's media lasts {duration:.0f} s, over the {limit:.0f} s limit", code="too_long"
        )


def _explain(guard: _Guard, exc: BaseException) -> MediaJobsError:
    """Our own error if we stopped yt-dlp; else what its failure means for a retry."""
    if guard.error is not None:
        return guard.error
    message = str(exc).removeprefix("ERROR: ")[:500]
    if guard.last_status is not None and (guard.last_status == 429 or guard.last_status >= 500):
        return RetryableError(f"download failed: HTTP {guard.last_status}: {message}", code="download_failed")
    if guard.transport_failed:
        return RetryableError(f"download failed: {message}", code="download_failed")
    if "Unsupported URL" in message or "No video formats" in message:
        return UnsupportedMedia(f"no audio or video found on the page: {message}")
    return PermanentError(f"download failed: {message}", code="download_failed")


__all__ = ["PAGE_MAX_BYTES", "GuardedRH", "choose_format", "fetch_page_media"]
