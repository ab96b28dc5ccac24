"""The speech-to-text engine in its own process: reused across requests, stopped at once on demand."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import media
from helpers.processes import wait_gone
from helpers.settings import make_settings
from helpers.wer import wer
from mediajobs.engines import TranscribeRequest
from mediajobs.engines.isolated import IsolatedSpeechToText
from mediajobs.engines.whisper import whisper_factory
from mediajobs.errors import JobCancelled, PermanentError


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedSpeechToText]:
    settings = make_settings(tmp_path_factory.mktemp("engine"))
    built = whisper_factory(settings)()
    assert isinstance(built, IsolatedSpeechToText)
    yield built
    built.close()


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    return media.speak(" ".join([media.SPEECH_SCRIPT] * 12), folder / "long.wav")


def test_transcribes_and_keeps_its_model_process(engine: IsolatedSpeechToText, tmp_path: Path) -> None:
    clip = media.speak(media.SPEECH_SCRIPT, tmp_path / "speech.wav")
    segments = []
    first = engine.transcribe(TranscribeRequest(audio=clip, language="en"), segments.append)
    pid = engine.pid
    second = engine.transcribe(TranscribeRequest(audio=clip, word_timestamps=True))
    assert wer(media.SPEECH_SCRIPT, first.text) <= 0.25
    assert [s.text for s in segments] == [s.text for s in first.segments]
    assert second.segments[0].words  # word timestamps crossed the process boundary
    assert engine.pid == pid  # the model was loaded once


def test_stop_check_kills_the_engine_within_two_seconds(
    engine: IsolatedSpeechToText, long_speech: Path
) -> None:
    pids: list[int] = []
    stop_at: list[float] = []

    def check() -> None:
        # called every 0.1 s while waiting on the engine: once it is decoding, ask it to stop
        if engine.pid is not None and not stop_at:
            pids.append(engine.pid)
            stop_at.append(time.monotonic())
        if stop_at:
            raise JobCancelled("cancelled")

    with pytest.raises(JobCancelled):
        engine.transcribe(TranscribeRequest(audio=long_speech), None, check)
    assert wait_gone(pids[0], timeout=2.0)
    assert time.monotonic() - stop_at[0] < 2.0
    assert engine.pid is None


def test_a_new_request_after_a_kill_starts_a_fresh_engine(
    engine: IsolatedSpeechToText, tmp_path: Path
) -> None:
    clip = media.speak("Good morning and welcome.", tmp_path / "short.wav")
    engine.transcribe(TranscribeRequest(audio=clip))
    old = engine.pid
    assert old is not None
    os.kill(old, 9)  # the engine crashed (out of memory, a codec bug)
    assert wait_gone(old, timeout=5)
    result = engine.transcribe(TranscribeRequest(audio=clip))
    assert engine.pid not in (None, old)
    assert "morning" in result.text.lower()


def test_a_missing_model_is_a_permanent_error(tmp_path: Path) -> None:
    broken = IsolatedSpeechToText(["--model", str(tmp_path / "nothing-here")])
    with pytest.raises(PermanentError) as caught:
        broken.transcribe(TranscribeRequest(audio=tmp_path / "x.wav"))
    assert caught.value.code == "engine_unavailable"
    broken.close()


def test_the_engine_process_runs_under_its_memory_cap(engine: IsolatedSpeechToText, tmp_path: Path) -> None:
    clip = media.speak("Good morning and welcome.", tmp_path / "short.wav")
    engine.transcribe(TranscribeRequest(audio=clip))
    assert engine.pid is not None
    limits = Path(f"/proc/{engine.pid}/limits").read_text()
    [line] = [x for x in limits.splitlines() if x.startswith("Max address space")]
    expected = make_settings(tmp_path).engine_memory_bytes  # the default: 2 GiB + 1 MiB per media second
    assert line.split()[3] == str(expected)


def test_audio_too_big_for_the_cap_fails_its_request_not_the_machine(tmp_path: Path) -> None:
    """The mechanism, with a cap low enough to reach: 20 minutes of audio need about 1 GB of features."""
    audio = tmp_path / "twenty-minutes.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
         "-t", "1200", "-c:a", "pcm_s16le", str(audio)],
        check=True,
    )  # fmt: skip
    capped = IsolatedSpeechToText(["--memory-limit", str(1800 * 1024**2)])
    try:
        with pytest.raises(PermanentError) as caught:
            capped.transcribe(TranscribeRequest(audio=audio, language="en"))
        assert caught.value.code == "engine_out_of_memory"
        assert capped.pid is not None  # the engine lives on for the next, smaller file
    finally:
        capped.close()
