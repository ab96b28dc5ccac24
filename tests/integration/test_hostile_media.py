"""Media that attacks ffmpeg or explodes: refused by the normalize stage before it does harm.

Real ffprobe and ffmpeg on files made here; the stages are called the way the runner calls them.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers import media
from helpers.settings import make_settings
from mediajobs.errors import MediaJobsError, PermanentError, UnsupportedMedia
from mediajobs.redact import host_folders, scrub
from mediajobs.registry import build_registry
from mediajobs.stages import StageContext
from mediajobs.stages.ingest import ingest
from mediajobs.stages.normalize import Limits, Probe, convert, normalize, wav_duration
from mediajobs.storage import LocalStorage, Workspace, upload_key


class Stack:
    """Storage with uploads in it, and the two stages that read them."""

    def __init__(self, root: Path) -> None:
        self.settings = make_settings(root)
        self.storage = LocalStorage(self.settings.resolved_storage_dir)
        self.workspace = Workspace(self.settings.work_dir)

    def upload(self, path: Path, name: str | None = None) -> str:
        upload_id = uuid.uuid4()
        self.storage.write(upload_key(upload_id, name or path.name), [path.read_bytes()])
        return f"upload://{upload_id}"

    def path_of(self, source: str) -> Path:
        [stored] = self.storage.list(f"uploads/{source.removeprefix('upload://')}/")
        return self.storage.root / stored.key

    def ctx(self, stage: str, source: str, inputs: dict[str, Any] | None = None) -> StageContext:
        job_id = uuid.uuid4()
        return StageContext(
            job_id=job_id, stage=stage, attempt=1, source=source, options={}, inputs=inputs or {},
            work_dir=self.workspace.fresh(job_id, stage), storage=self.storage, settings=self.settings,
            engines=build_registry(self.settings).engines(),
        )  # fmt: skip

    def run(self, source: str) -> dict[str, Any]:
        """ingest, then normalize; the normalize output."""
        ingested = ingest(self.ctx("ingest", source))
        return dict(normalize(self.ctx("normalize", source, {"media": dict(ingested.output)})).output)

    def user_message(self, exc: MediaJobsError) -> str:
        """What a client would read (the runner scrubs what a stage raised)."""
        return scrub(exc.message, host_folders(self.settings))


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return Stack(tmp_path)


@pytest.fixture(scope="module")
def speech_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    return media.to_mp3(media.speak(media.SPEECH_SCRIPT, folder / "speech.wav"), folder / "speech.mp3")


def _playlist(target: Path) -> str:
    # One byte that is not UTF-8 in a comment line: the text sniff of ingest lets it through.
    return f"#EXTM3U\n# \xff\n#EXT-X-TARGETDURATION:30\n#EXTINF:30,\n{target}\n#EXT-X-ENDLIST\n"


def _concat(target: Path) -> str:
    return f"ffconcat version 1.0\n# \xff\nfile '{target}'\n"


@pytest.mark.parametrize(("make", "what"), [(_playlist, "HLS playlist"), (_concat, "ffconcat list")])
def test_a_list_naming_another_upload_is_refused(
    stack: Stack, tmp_path: Path, speech_mp3: Path, make: Any, what: str
) -> None:
    victim = stack.upload(speech_mp3, "secret.mp3")  # another user's upload, under the storage root
    attack = tmp_path / "attack.m3u8"
    attack.write_bytes(make(stack.path_of(victim)).encode("latin-1"))
    source = stack.upload(attack)
    assert stack.run(victim)["duration"] > 10  # the target itself is fine media

    with pytest.raises(UnsupportedMedia, match=what) as caught:
        stack.run(source)
    assert str(stack.settings.resolved_storage_dir) not in stack.user_message(caught.value)


def test_a_playlist_naming_a_file_outside_storage_is_refused(stack: Stack, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "segment.ts"
    outside.parent.mkdir()
    media.video_with_sound(outside.with_suffix(".mp4"))
    attack = tmp_path / "list.m3u8"
    attack.write_bytes(_playlist(outside).encode("latin-1"))
    with pytest.raises(UnsupportedMedia, match="HLS playlist"):
        stack.run(stack.upload(attack))


@pytest.mark.parametrize(
    ("body", "name"),
    [(b"1\n00:00:01,000 --> 00:00:02,000\n\xff hello\n", "subs.srt"), (b"WEBVTT\n\n\xff", "subs.vtt")],
)
def test_subtitle_files_are_not_media(stack: Stack, tmp_path: Path, body: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(UnsupportedMedia) as caught:
        stack.run(stack.upload(path))
    assert str(tmp_path) not in stack.user_message(caught.value)


def test_errors_name_no_host_paths(stack: Stack, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UnsupportedMedia) as caught:
        stack.run(stack.upload(junk))
    assert "/" not in caught.value.message.replace("N/A", "")  # ffprobe was told `file:input` only


def test_a_wav_whose_header_claims_one_hertz_is_refused_before_decoding(stack: Stack, tmp_path: Path) -> None:
    """60 kB of samples at "1 Hz" is 16.7 hours: it would decode to 1.9 GB of 16 kHz audio."""
    source = stack.upload(media.lying_wav(tmp_path / "tiny.wav"))
    with pytest.raises(PermanentError, match="too long") as caught:
        stack.run(source)
    assert caught.value.code == "media_too_long"


def test_ten_hours_of_silent_opus_are_refused_within_seconds(stack: Stack, tmp_path: Path) -> None:
    source = stack.upload(media.silent_opus(tmp_path / "ten-hours.opus", hours=10))
    started = time.monotonic()
    with pytest.raises(PermanentError) as caught:
        stack.run(source)
    took = time.monotonic() - started
    assert caught.value.code == "media_too_long"
    assert "10:00:00" in caught.value.message
    print(f"10-hour Opus refused after {took:.2f} s")  # a figure for docs/security.md, not a target


def test_decoding_stops_at_the_limits_whatever_the_header_said(stack: Stack, tmp_path: Path) -> None:
    """A header that understates the length (here: a probe that says 1 s) cannot get past `-t`/`-fs`."""
    clip = media.speak(media.SPEECH_SCRIPT, tmp_path / "speech.wav")  # about 15 s
    ctx = stack.ctx("normalize", "upload://x")
    lying = Probe(
        format_name="wav", duration=1.0, audio_index=0, audio_codec="pcm_s16le", has_video=False,
        stream_summary="audio (pcm_s16le)",
    )  # fmt: skip
    for limits, code in [(Limits(max_seconds=4, max_bytes=10**9), "media_too_long"),
                         (Limits(max_seconds=3600, max_bytes=100_000), "media_too_large")]:  # fmt: skip
        target = ctx.work_dir / "audio.wav"
        (ctx.work_dir / "clip.wav").unlink(missing_ok=True)
        (ctx.work_dir / "clip.wav").symlink_to(clip)
        convert(ctx, "file:clip.wav", target, lying, limits)
        duration, size = wav_duration(target), target.stat().st_size
        assert duration <= limits.max_seconds + 1.1  # ffmpeg stopped: the clip is 15 s
        assert size <= limits.max_bytes + 65_536
        with pytest.raises(PermanentError) as caught:
            limits.check_output(duration, size)
        assert caught.value.code == code
