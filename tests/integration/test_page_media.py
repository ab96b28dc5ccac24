"""Media from web pages: yt-dlp as a library, every request it makes through our address rules.

Pages are served on 127.0.0.1. With private sources allowed they are fetched; with them off, a page
on a public address (the stand-in internet of helpers.fake_internet) whose `<video src>` points at
127.0.0.1 is refused at that request, and the media server never sees it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.fake_internet import LoopbackInternet, public_url
from helpers.http_server import Route, serve
from helpers.media import SPEECH_SCRIPT, speak, to_mp3, video_with_speech
from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.engines.http import OUTBOUND_HTTP, GuardedHttp
from mediajobs.errors import ForbiddenSource, PermanentError
from mediajobs.stages import StageContext
from mediajobs.stages.ingest import ingest
from mediajobs.stages.page_media import choose_format
from mediajobs.storage import LocalStorage, Workspace

HTML = (("Content-Type", "text/html; charset=utf-8"),)


def _page(body: str) -> Route:
    return Route(
        headers=HTML,
        body=f"<!doctype html><html><head><title>A talk</title></head><body>{body}</body></html>".encode(),
    )


def _ctx(
    tmp_path: Path,
    source: str,
    *,
    allow_private: bool,
    internet: LoopbackInternet | None = None,
    **overrides: object,
) -> StageContext:
    settings = make_settings(tmp_path, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=allow_private, **overrides)
    engines = Engines().register(
        OUTBOUND_HTTP, lambda: GuardedHttp(allow_private=allow_private, inner=internet)
    )
    job_id = uuid.uuid4()
    return StageContext(
        job_id=job_id, stage="ingest", attempt=1, source=source, options={}, inputs={},
        work_dir=Workspace(tmp_path / "work").fresh(job_id, "ingest"),
        storage=LocalStorage(tmp_path / "storage"), settings=settings, engines=engines,
    )  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return video_with_speech(
        "The children are playing football near the river.", tmp_path_factory.mktemp("m") / "talk.mp4"
    )


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("a")
    return to_mp3(speak(SPEECH_SCRIPT, folder / "talk.wav"), folder / "talk.mp3")


def test_a_page_with_an_html5_video_is_read_with_yt_dlp(tmp_path: Path, clip: Path) -> None:
    routes = {
        "/watch": _page('<video controls><source src="/media/talk.mp4" type="video/mp4"></video>'),
        "/media/talk.mp4": Route(headers=(("Content-Type", "video/mp4"),), body=clip),
    }
    with serve(routes) as base:
        ctx = _ctx(tmp_path, f"{base}/watch", allow_private=True)
        result = ingest(ctx, want="video")
    assert result.output["origin"] == "page"
    assert result.output["size"] == clip.stat().st_size
    with ctx.storage.open(result.output["media_key"]) as fh:
        assert fh.read() == clip.read_bytes()


def test_a_page_with_an_html5_audio_gives_its_audio(tmp_path: Path, song: Path) -> None:
    routes = {
        "/episode": _page('<p>Listen:</p><audio src="talk.mp3"></audio>'),
        "/talk.mp3": Route(headers=(("Content-Type", "audio/mpeg"),), body=song),
    }
    with serve(routes) as base:
        result = ingest(_ctx(tmp_path, f"{base}/episode", allow_private=True))
    assert result.output["origin"] == "page"
    assert result.output["size"] == song.stat().st_size


def test_a_video_src_inside_is_refused_when_private_sources_are_off(tmp_path: Path, clip: Path) -> None:
    hits: list[str] = []

    def media() -> Iterator[bytes]:
        hits.append("media")
        yield clip.read_bytes()

    with serve({"/media/talk.mp4": Route(headers=(("Content-Type", "video/mp4"),), body=media)}) as inside:
        routes = {"/watch": _page(f'<video src="{inside}/media/talk.mp4"></video>')}
        with serve(routes) as base:
            internet = LoopbackInternet()
            ctx = _ctx(tmp_path, public_url(f"{base}/watch"), allow_private=False, internet=internet)
            with pytest.raises(ForbiddenSource) as caught:
                ingest(ctx, want="video")
    assert caught.value.code == "forbidden_source"
    assert hits == []  # the media server on 127.0.0.1 was never asked
    assert {host for host, _ in internet.connects} == {"93.184.216.34"}  # only the public page


def test_a_redirect_inside_is_refused_too(tmp_path: Path, clip: Path) -> None:
    with serve({"/talk.mp4": Route(headers=(("Content-Type", "video/mp4"),), body=clip)}) as inside:
        routes = {
            "/watch": _page('<video src="/go"></video>'),
            "/go": Route(status=302, headers=(("Location", f"{inside}/talk.mp4"),)),
        }
        with serve(routes) as base:
            ctx = _ctx(
                tmp_path, public_url(f"{base}/watch"), allow_private=False, internet=LoopbackInternet()
            )
            with pytest.raises(ForbiddenSource):
                ingest(ctx, want="video")


def test_the_size_limit_holds_while_the_bytes_arrive(tmp_path: Path, clip: Path) -> None:
    def endless() -> Iterator[bytes]:
        yield clip.read_bytes()
        for _ in range(100):
            yield b"\0" * 65536

    routes = {
        "/watch": _page('<video src="/big.mp4"></video>'),
        # no Content-Length: yt-dlp's own max_filesize cannot see it coming
        "/big.mp4": Route(headers=(("Content-Type", "video/mp4"),), body=endless, content_length=False),
    }
    with serve(routes) as base:
        ctx = _ctx(tmp_path, f"{base}/watch", allow_private=True, MEDIAJOBS_DOWNLOAD_MAX_BYTES=500_000)
        with pytest.raises(PermanentError) as caught:
            ingest(ctx, want="video")
    assert caught.value.code == "too_large"
    assert not list(ctx.work_dir.glob("page-media*"))  # nothing half-downloaded kept as media


def test_a_page_without_media_fails_permanently(tmp_path: Path) -> None:
    with serve({"/about": _page("<p>No media here.</p>")}) as base, pytest.raises(PermanentError) as caught:
        ingest(_ctx(tmp_path, f"{base}/about", allow_private=True))
    assert caught.value.code == "unsupported_media"


def test_only_plain_http_formats_are_chosen() -> None:
    formats = [
        {"url": "https://a/1.mp4", "protocol": "https", "vcodec": "avc1", "acodec": "mp4a"},
        {"url": "https://a/hi.m3u8", "protocol": "m3u8_native", "vcodec": "avc1", "acodec": "mp4a"},
        {"url": "https://a/a.m4a", "protocol": "https", "vcodec": "none", "acodec": "mp4a"},
        {"url": "https://a/v.mp4", "protocol": "https", "vcodec": "avc1", "acodec": "none"},
    ]
    assert choose_format(formats, "video") == formats[0]
    assert choose_format(formats, "audio") == formats[2]
    assert choose_format(formats[1:2], "video") is None
    assert choose_format([{"url": "http://a/x", "protocol": "http"}], "video") is not None


def test_a_gzip_page_is_refused_unread(tmp_path: Path) -> None:
    routes = {"/watch": Route(headers=(*HTML, ("Content-Encoding", "gzip")), body=b"\x1f\x8b" + b"\0" * 100)}
    with serve(routes) as base:
        ctx = _ctx(tmp_path, f"{base}/watch", allow_private=True)
        with pytest.raises(PermanentError) as caught:
            ingest(ctx)
    assert caught.value.code == "unsupported_encoding"
