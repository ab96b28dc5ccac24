"""The transcribe pipeline's stages against real tools: a local HTTP server, ffmpeg, espeak-ng, Whisper."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import media
from helpers import processes as procs
from helpers.http_server import Route, serve
from helpers.settings import make_settings as base_settings
from helpers.wer import wer
from mediajobs.engines import Engines, Segment
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.engines.whisper import WhisperEngine, WhisperModels, whisper_factory
from mediajobs.errors import (
    JobCancelled,
    PermanentError,
    RetryableError,
    StageTimeout,
    UnsupportedMedia,
)
from mediajobs.process import run_process
from mediajobs.registry import build_registry
from mediajobs.settings import Settings
from mediajobs.stages.base import CancelToken, StageContext, StageResult
from mediajobs.stages.ingest import describe_non_media, ingest, parse_retry_after
from mediajobs.stages.normalize import normalize
from mediajobs.stages.transcribe import transcribe
from mediajobs.storage import LocalStorage, Workspace, read_bytes
from mediajobs.subtitles import CueLimits, parse_srt, parse_vtt
from mediajobs.testing import FakeSpeechToText, engines_with

SMALL_LIMIT = 200_000  # download_max_bytes for these tests; the speech MP3 is about 120 kB


# -- harness ------------------------------------------------------------------------------------------


@dataclass
class RecordingProgress:
    """A ProgressSink that keeps every report (ffmpeg's arrive from a reader thread)."""

    reports: list[tuple[float | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, percent: float | None, message: str | None = None) -> None:
        with self.lock:
            self.reports.append((percent, message))

    @property
    def percents(self) -> list[float]:
        return [p for p, _ in self.reports if p is not None]


@dataclass
class Job:
    """One job's worth of storage and settings, for calling stages the way the runner would."""

    root: Path
    settings: Settings
    engines: Engines
    storage: LocalStorage = field(init=False)
    workspace: Workspace = field(init=False)
    job_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        self.storage = LocalStorage(self.root / "storage")
        self.workspace = Workspace(self.root / "work")

    def work(self, stage: str) -> Path:
        """The stage's local work folder (the runner would empty it after the attempt)."""
        folder = self.workspace.folder(self.job_id, stage)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def context(
        self,
        stage: str,
        *,
        source: str = "upload://00000000-0000-0000-0000-000000000000",
        inputs: dict[str, dict[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
        progress: RecordingProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> StageContext:
        return StageContext(
            job_id=self.job_id,
            stage=stage,
            attempt=1,
            source=source,
            options=options or {},
            inputs=inputs or {},
            work_dir=self.work(stage),
            storage=self.storage,
            settings=self.settings,
            engines=self.engines,
            progress=progress or RecordingProgress(),
            cancel=cancel or CancelToken(),
        )


def make_settings(data_dir: Path) -> Settings:
    return base_settings(data_dir, MEDIAJOBS_DOWNLOAD_MAX_BYTES=SMALL_LIMIT, MEDIAJOBS_DOWNLOAD_TIMEOUT=5.0)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def speech_wav(media_dir: Path) -> Path:
    return media.speak(media.SPEECH_SCRIPT, media_dir / "speech.wav")


@pytest.fixture(scope="module")
def speech_mp3(speech_wav: Path) -> Path:
    return media.to_mp3(speech_wav, speech_wav.with_suffix(".mp3"))


@pytest.fixture(scope="module")
def base_url(speech_mp3: Path) -> Iterator[str]:
    def endless() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB, well past SMALL_LIMIT
            yield b"\x00\x11" * 32 * 1024

    routes = {
        "/speech.mp3": Route(headers=(("Content-Type", "audio/mpeg"),), body=speech_mp3),
        "/redirect": Route(status=302, headers=(("Location", "/speech.mp3"),)),
        "/busy": Route(status=503, headers=(("Retry-After", "1"), ("Content-Type", "text/plain")), body=b"x"),
        "/limited": Route(status=429, headers=(("Retry-After", "7"),), body=b"slow down"),
        "/forbidden": Route(status=403, headers=(("Content-Type", "text/plain"),), body=b"no"),
        "/page": Route(headers=(("Content-Type", "text/html; charset=utf-8"),), body=b"<html>hi</html>"),
        "/disguised.bin": Route(
            headers=(("Content-Type", "application/octet-stream"),), body=b"%PDF-1.7\n" + b"\x00" * 2000
        ),
        "/huge-declared": Route(headers=(("Content-Type", "audio/mpeg"),), body=b"\x00" * (SMALL_LIMIT + 1)),
        "/huge-streamed": Route(
            headers=(("Content-Type", "application/octet-stream"),), body=endless, content_length=False
        ),
    }
    with serve(routes) as url:
        yield url


@pytest.fixture(scope="module")
def whisper_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    settings = make_settings(tmp_path_factory.mktemp("engines"))
    engines = build_registry(settings).engines()  # a worker's: faster-whisper in its engine process
    yield engines
    engines.close()  # stops the engine process (the suite fails on a process left behind)


@pytest.fixture
def job(tmp_path: Path) -> Job:
    settings = make_settings(tmp_path)
    engines = engines_with(FakeSpeechToText(), base=build_registry(settings).engines())
    return Job(root=tmp_path, settings=settings, engines=engines)


# -- the whole pipeline, once: HTTP download -> WAV -> Whisper ----------------------------------------


@dataclass
class PipelineRun:
    job: Job
    ingest: StageResult
    normalize: StageResult
    transcribe: StageResult
    progress: dict[str, RecordingProgress]


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory, base_url: str, whisper_engines: Engines
) -> PipelineRun:
    root = tmp_path_factory.mktemp("pipeline")
    job = Job(root=root, settings=make_settings(root), engines=whisper_engines)
    progress = {name: RecordingProgress() for name in ("ingest", "normalize", "transcribe")}
    ingested = ingest(job.context("ingest", source=f"{base_url}/redirect", progress=progress["ingest"]))
    normalized = normalize(
        job.context("normalize", inputs={"media": dict(ingested.output)}, progress=progress["normalize"])
    )
    transcribed = transcribe(
        job.context(
            "transcribe",
            inputs={"audio": dict(normalized.output)},
            options={"word_timestamps": True},
            progress=progress["transcribe"],
        )
    )
    return PipelineRun(job, ingested, normalized, transcribed, progress)


def test_http_ingest_checkpoint(pipeline: PipelineRun, speech_mp3: Path) -> None:
    out = pipeline.ingest.output
    data = speech_mp3.read_bytes()
    assert out["origin"] == "http"
    assert out["content_type"] == "audio/mpeg"
    assert out["size"] == len(data)
    assert out["sha256"] == hashlib.sha256(data).hexdigest()
    key = out["media_key"]
    assert read_bytes(pipeline.job.storage, key) == data
    assert key.endswith("/source.mp3")  # the suffix of the final URL, after the redirect
    assert not list(pipeline.job.work("ingest").glob(".source.*"))  # no temp file left behind


def test_normalize_checkpoint(pipeline: PipelineRun, speech_wav: Path) -> None:
    out = pipeline.normalize.output
    key = out["audio_key"]
    assert key.endswith("/audio.wav")
    assert out["has_video"] is False
    assert out["format"] == "mp3"
    assert out["source_codec"] == "mp3"
    assert out["duration"] == pytest.approx(14.85, abs=0.2)  # espeak-ng's length, plus MP3 padding
    assert pipeline.job.storage.stat(key).size == pytest.approx(out["duration"] * 16_000 * 2 + 44, abs=200)
    assert speech_wav.exists()


def test_transcript_matches_the_script(pipeline: PipelineRun) -> None:
    out = pipeline.transcribe.output
    work = pipeline.job.work("transcribe")
    text = (work / "transcript.txt").read_text(encoding="utf-8")
    assert wer(media.SPEECH_SCRIPT, text) <= 0.25
    assert out["language"] == "en"
    assert out["segments"] >= 1
    assert out["words"] == len(text.split())
    assert out["artifacts"] == ["transcript.json", "transcript.srt", "transcript.vtt", "transcript.txt"]
    types = {a.name: a.content_type for a in pipeline.transcribe.artifacts}
    assert types == {
        "transcript.json": "application/json",
        "transcript.srt": "application/x-subrip",
        "transcript.vtt": "text/vtt; charset=utf-8",
        "transcript.txt": "text/plain; charset=utf-8",
    }
    assert all(a.path.is_file() and a.path.parent == work for a in pipeline.transcribe.artifacts)


def test_subtitles_parse_and_are_in_order(pipeline: PipelineRun) -> None:
    work = pipeline.job.work("transcribe")
    duration = pipeline.normalize.output["duration"]
    for cues in (
        parse_srt((work / "transcript.srt").read_text(encoding="utf-8")),
        parse_vtt((work / "transcript.vtt").read_text(encoding="utf-8")),
    ):
        assert len(cues) == pipeline.transcribe.output["cues"] >= pipeline.transcribe.output["segments"]
        limits = CueLimits()
        for before, after in itertools.pairwise(cues):
            assert before.end <= after.start  # in order, never overlapping
        for cue in cues:
            assert 0 <= cue.start < cue.end <= duration  # clamped to the probed duration
            assert cue.end - cue.start <= limits.max_cue_seconds
            assert 1 <= len(cue.lines) <= limits.max_lines
            assert all(len(line) <= limits.max_line_chars for line in cue.lines), cue
            assert len(cue.text) / (cue.end - cue.start) <= limits.max_chars_per_second + 0.01, cue


def test_word_timestamps_reach_the_json(pipeline: PipelineRun) -> None:
    import json

    work = pipeline.job.work("transcribe")
    doc = json.loads((work / "transcript.json").read_text(encoding="utf-8"))
    words = [w for s in doc["segments"] for w in s["words"]]
    assert len(words) >= 30
    assert all(w["start"] <= w["end"] for w in words)


@pytest.mark.parametrize("stage", ["ingest", "normalize", "transcribe"])
def test_progress_rises_to_100(pipeline: PipelineRun, stage: str) -> None:
    percents = pipeline.progress[stage].percents
    assert len(percents) >= 2
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in percents)


# -- ingest: uploads ----------------------------------------------------------------------------------


def test_upload_is_used_in_place(job: Job, speech_wav: Path) -> None:
    upload_id = uuid.uuid4()
    placed = job.storage.write(f"uploads/{upload_id}/speech.wav", [speech_wav.read_bytes()])
    out = ingest(job.context("ingest", source=f"upload://{upload_id}")).output
    assert out == {
        "media_key": f"uploads/{upload_id}/speech.wav",
        "size": placed.size,
        "sha256": hashlib.sha256(speech_wav.read_bytes()).hexdigest(),
        "content_type": "audio/x-wav",
        "origin": "upload",
    }
    assert job.storage.stat(placed.key).size == placed.size  # used in place, not moved


def test_missing_upload_is_permanent(job: Job) -> None:
    with pytest.raises(PermanentError) as caught:
        ingest(job.context("ingest", source=f"upload://{uuid.uuid4()}"))
    assert caught.value.code == "upload_not_found"


def test_text_upload_is_unsupported_media(job: Job) -> None:
    upload_id = uuid.uuid4()
    job.storage.write(f"uploads/{upload_id}/notes.mp3", [b"Meeting notes: buy milk.\n"])
    with pytest.raises(UnsupportedMedia, match="plain text"):
        ingest(job.context("ingest", source=f"upload://{upload_id}"))


# -- ingest: HTTP failures ----------------------------------------------------------------------------


def test_503_is_retryable_with_retry_after(job: Job, base_url: str) -> None:
    with pytest.raises(RetryableError) as caught:
        ingest(job.context("ingest", source=f"{base_url}/busy"))
    assert caught.value.code == "download_failed"
    assert caught.value.retry_after == 1.0
    assert "503" in str(caught.value)


def test_429_is_retryable_with_retry_after(job: Job, base_url: str) -> None:
    with pytest.raises(RetryableError) as caught:
        ingest(job.context("ingest", source=f"{base_url}/limited"))
    assert caught.value.retry_after == 7.0


def test_403_is_permanent(job: Job, base_url: str) -> None:
    with pytest.raises(PermanentError) as caught:
        ingest(job.context("ingest", source=f"{base_url}/forbidden"))
    assert not isinstance(caught.value, RetryableError)
    assert caught.value.code == "download_failed"
    assert "403" in str(caught.value)


def test_html_page_without_media_is_unsupported_media(job: Job, base_url: str) -> None:
    # a page is read with yt-dlp (tests/integration/test_page_media.py); this one has no media
    with pytest.raises(UnsupportedMedia, match="no audio or video found on the page"):
        ingest(job.context("ingest", source=f"{base_url}/page"))


def test_non_media_bytes_are_unsupported_whatever_the_content_type(job: Job, base_url: str) -> None:
    with pytest.raises(UnsupportedMedia, match="PDF"):
        ingest(job.context("ingest", source=f"{base_url}/disguised.bin"))
    assert not list(job.work("ingest").iterdir())


@pytest.mark.parametrize("path", ["/huge-declared", "/huge-streamed"])
def test_too_large_is_permanent(job: Job, base_url: str, path: str) -> None:
    progress = RecordingProgress()
    with pytest.raises(PermanentError) as caught:
        ingest(job.context("ingest", source=f"{base_url}{path}", progress=progress))
    assert caught.value.code == "too_large"
    assert not list(job.work("ingest").iterdir())
    if path == "/huge-streamed":  # no Content-Length: progress is indeterminate
        assert progress.reports
        assert all(p is None for p, _ in progress.reports)


def test_connection_refused_is_retryable(job: Job) -> None:
    import socket

    with socket.socket() as sock:  # a port that was just free and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError) as caught:
        ingest(job.context("ingest", source=f"http://127.0.0.1:{port}/x.mp3"))
    assert caught.value.code == "download_failed"


def test_retry_after_accepts_an_http_date() -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == pytest.approx(30.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("head", "verdict"),
    [
        (b"<!DOCTYPE html><html>", "an HTML page"),
        (b'  {"error": "nope"}', "a JSON document"),
        (b"<?xml version='1.0'?><feed/>", "an XML document"),
        (b"%PDF-1.4\n%\xe2\xe3", "a PDF document"),
        (b"PK\x03\x04\x14\x00", "a ZIP archive (or an office document)"),
        (b"just some words\n", "plain text"),
        (b"", "an empty file"),
        (b"ID3\x04\x00\x00\x00\x00\x00#TSSE", None),
        (b"RIFF$\x00\x00\x00WAVEfmt ", None),
        (b"\x00\x00\x00\x20ftypisom", None),
        (b"OggS\x00\x02\x00\x00", None),
    ],
)
def test_sniffing_names_obvious_non_media(head: bytes, verdict: str | None) -> None:
    assert describe_non_media(head) == verdict


# -- normalize ----------------------------------------------------------------------------------------


def _normalize_file(
    job: Job, path: Path, progress: RecordingProgress | None = None, cancel: CancelToken | None = None
) -> StageResult:
    """Place `path` as an upload and normalise it, as if ingest had just committed it."""
    upload_id = uuid.uuid4()
    placed = job.storage.write(f"uploads/{upload_id}/{path.name}", [path.read_bytes()])
    ingest_out = {"media_key": placed.key}
    return normalize(job.context("normalize", inputs={"media": ingest_out}, progress=progress, cancel=cancel))


def test_video_normalises_with_has_video(job: Job, media_dir: Path) -> None:
    out = _normalize_file(job, media.video_with_sound(media_dir / "clip.mp4")).output
    assert out["has_video"] is True
    assert out["source_codec"] == "aac"
    assert "mp4" in out["format"]
    assert out["duration"] == pytest.approx(3.0, abs=0.1)


def test_video_without_audio_is_unsupported(job: Job, media_dir: Path) -> None:
    with pytest.raises(UnsupportedMedia, match=r"no audio stream.*video \(h264\)"):
        _normalize_file(job, media.silent_video(media_dir / "silent.mp4"))


def test_undecodable_bytes_are_unsupported(job: Job, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UnsupportedMedia, match="ffprobe cannot read"):
        _normalize_file(job, junk)


def test_cancel_stops_ffmpeg_within_two_seconds(job: Job, tmp_path: Path) -> None:
    long_input = media.long_audio(tmp_path / "long.opus", minutes=30)
    cancel = CancelToken()
    seen: dict[str, Any] = {}

    class CancelOnFirstProgress(RecordingProgress):
        def report(self, percent: float | None, message: str | None = None) -> None:
            super().report(percent, message)
            if percent is not None and 0 < percent < 100 and "pids" not in seen:
                seen["pids"] = procs.children("ffmpeg")
                seen["at"] = time.monotonic()
                cancel.cancel()

    with pytest.raises(JobCancelled):
        _normalize_file(job, long_input, progress=CancelOnFirstProgress(), cancel=cancel)
    stopped_within = time.monotonic() - seen["at"]
    assert len(seen["pids"]) == 1  # ffmpeg was running when the job was cancelled
    assert procs.wait_gone(seen["pids"][0], timeout=max(0.0, 2.0 - stopped_within))
    assert stopped_within < 2.0
    work = job.work("normalize")
    assert not list(work.iterdir())  # neither audio.wav nor a half-written temp file


# -- transcribe ---------------------------------------------------------------------------------------


def test_transcribe_with_a_fake_engine_writes_every_format(job: Job, speech_wav: Path) -> None:
    fake = FakeSpeechToText()
    job.engines = engines_with(fake)
    normalized = _normalize_file(job, speech_wav)
    result = transcribe(job.context("transcribe", inputs={"audio": dict(normalized.output)}))
    assert fake.calls == 1
    assert result.output["segments"] == 3  # 14.85 s in 5 s segments
    assert result.output["engine"] == "fake"
    srt = parse_srt(next(a.path for a in result.artifacts if a.name == "transcript.srt").read_text())
    assert [cue.text for cue in srt] == [f"Segment {n} of the fake transcript." for n in (1, 2, 3)]


def test_a_short_clip_has_no_cue_or_word_past_its_end(tmp_path: Path, whisper_engines: Engines) -> None:
    import json

    job = Job(root=tmp_path, settings=make_settings(tmp_path), engines=whisper_engines)
    clip = media.speak("Hello world.", tmp_path / "short.wav")
    normalized = _normalize_file(job, clip)
    duration = normalized.output["duration"]
    assert duration < 2.0  # shorter than Whisper's timestamp grid rounds its last segment to
    result = transcribe(
        job.context(
            "transcribe", inputs={"audio": dict(normalized.output)}, options={"word_timestamps": True}
        )
    )
    work = job.work("transcribe")
    doc = json.loads((work / "transcript.json").read_text(encoding="utf-8"))
    assert doc["duration"] == duration
    assert all(s["end"] <= duration for s in doc["segments"])
    assert all(w["end"] <= duration for s in doc["segments"] for w in s["words"])
    cues = parse_srt((work / "transcript.srt").read_text(encoding="utf-8"))
    assert cues
    assert cues[-1].end <= duration
    assert result.output["cues"] == len(cues)


def test_vad_gives_the_same_cues_on_every_run(tmp_path: Path, whisper_engines: Engines) -> None:
    sentences = ["The weather today is sunny and warm.", "Please close the door when you leave the house."]
    clip = media.speech_with_pauses(sentences, [12.0], tmp_path / "pauses.wav")
    runs = []
    for attempt in range(2):
        job = Job(root=tmp_path / str(attempt), settings=make_settings(tmp_path), engines=whisper_engines)
        normalized = _normalize_file(job, clip)
        transcribe(
            job.context("transcribe", inputs={"audio": dict(normalized.output)}, options={"vad": True})
        )
        runs.append(parse_srt((job.work("transcribe") / "transcript.srt").read_text(encoding="utf-8")))
    assert runs[0] == runs[1]
    assert wer(" ".join(sentences), " ".join(c.text for c in runs[0])) <= 0.2
    limits = CueLimits()
    assert all(len(c.text) / (c.end - c.start) <= limits.max_chars_per_second + 0.01 for c in runs[0])


def test_cancel_stops_transcription_between_segments(job: Job) -> None:
    segments = [Segment(start=float(i), end=float(i + 1), text=f"part {i}") for i in range(10)]
    job.engines = engines_with(FakeSpeechToText(segments))
    cancel = CancelToken()

    class CancelAtSecondSegment(RecordingProgress):
        def report(self, percent: float | None, message: str | None = None) -> None:
            super().report(percent, message)
            if percent is not None and percent >= 20:
                cancel.cancel()

    progress = CancelAtSecondSegment()
    job.storage.write("unused.wav", [b""])  # the fake engine never reads it
    inputs = {"audio": {"audio_key": "unused.wav", "duration": 10.0}}
    with pytest.raises(JobCancelled):
        transcribe(job.context("transcribe", inputs=inputs, progress=progress, cancel=cancel))
    assert progress.percents[-1] == 20.0
    assert not list(job.work("transcribe").iterdir())


def test_missing_whisper_model_is_engine_unavailable(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as caught:
        WhisperEngine(tmp_path / "no-model")
    assert caught.value.code == "engine_unavailable"


def test_inline_whisper_loads_once_per_process(tmp_path: Path) -> None:
    settings = base_settings(tmp_path, MEDIAJOBS_ENGINE_ISOLATION="inline")
    first, second = whisper_factory(settings)(), whisper_factory(settings)()
    assert isinstance(first, WhisperModels)
    assert isinstance(first.load(), WhisperEngine)
    assert first.load() is second.load()  # each model once per process, whichever engine asks
    base = ModelCatalog(settings).folder("base")
    assert first.load(base) is second.load(base) is not first.load()
    assert first.load(base).multilingual
    assert not first.load().multilingual


# -- run_process --------------------------------------------------------------------------------------


def test_process_stderr_tail_is_bounded() -> None:
    script = "head -c 20000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 3"
    result = run_process(["sh", "-c", script], cancel=CancelToken())
    assert result.returncode == 3
    assert result.stderr_tail.endswith("END")
    assert len(result.stderr_tail) <= 4096


def test_process_timeout_kills_the_process_group() -> None:
    pids: list[int] = []
    # The shell starts a grandchild and waits: the whole group must go, not only the shell.
    script = "sleep 30 & echo $!; echo $$; wait"

    def record(line: str) -> None:
        pids.append(int(line))

    with pytest.raises(StageTimeout):
        run_process(
            ["sh", "-c", script],
            cancel=CancelToken(),
            on_stdout_line=lambda s: pids.append(int(s)),
            timeout=0.5,
        )
    assert len(pids) == 2
    assert all(procs.wait_gone(pid, timeout=2.0) for pid in pids)


class _Interrupt(Exception):
    """Stands in for Celery's SoftTimeLimitExceeded, raised asynchronously in the main thread."""


def test_asynchronous_exception_kills_the_child() -> None:
    import signal

    pids: list[int] = []
    fired = threading.Event()

    def raise_interrupt(signum: int, frame: object) -> None:
        raise _Interrupt

    def on_line(line: str) -> None:
        pids.append(int(line))
        if not fired.is_set():
            fired.set()
            signal.setitimer(signal.ITIMER_REAL, 0.05)  # deliver the "soft time limit" shortly

    previous = signal.signal(signal.SIGALRM, raise_interrupt)
    try:
        with pytest.raises(_Interrupt):
            run_process(["sh", "-c", "echo $$; exec sleep 30"], cancel=CancelToken(), on_stdout_line=on_line)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert pids
    assert procs.wait_gone(pids[0], timeout=2.0)


def test_callback_error_propagates_and_kills_the_child() -> None:
    pids: list[int] = []

    def on_line(line: str) -> None:
        pids.append(int(line))
        raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        run_process(["sh", "-c", "echo $$; exec sleep 30"], cancel=CancelToken(), on_stdout_line=on_line)
    assert procs.wait_gone(pids[0], timeout=2.0)
