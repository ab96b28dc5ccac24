"""Test doubles shipped inside the package, so runner and worker tests need no Whisper model.

One fake per engine port: speech-to-text (`FakeSpeechToText`), translation (`FakeTranslation`), speech
synthesis (`FakeSynthesis`), outbound HTTP (`MockHttp`, over httpx's MockTransport); the storage,
broker and event-bus twins live beside their ports (`storage.InMemoryStorage`,
`queue.memory.InMemoryPublisher`, `progress.InMemoryEventBus`).

`FakeSpeechToText` behaves like a real engine where the runner can tell: it reads the audio file it is
given, reports segments one by one through the callback (so cancellation and progress work), and can be
made to block or fail on demand.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from mediajobs.cancel import CancelToken
from mediajobs.engines import (
    SPEECH_TO_TEXT,
    Engines,
    Segment,
    SegmentCallback,
    SpeechToText,
    StopCheck,
    TranscribeRequest,
    Transcript,
    Word,
)
from mediajobs.engines.translation import Hop
from mediajobs.errors import InvalidRequest


class FakeSpeechToText:
    """A deterministic SpeechToText.

    - `segments`: returned as given (the audio file is then not read); by default the WAV at
      `request.audio` is read and one segment is made per `segment_seconds` of its duration.
    - `release`: when given, `transcribe` waits for this event (up to `block_timeout`) before decoding;
      `started` is set once a call is under way, so a test can wait for it instead of sleeping.
    - `error`: raised by every call, after it is counted.
    """

    name = "fake"

    def __init__(
        self,
        segments: Sequence[Segment] | None = None,
        *,
        language: str = "en",
        segment_seconds: float = 5.0,
        release: threading.Event | None = None,
        block_timeout: float = 60.0,
        error: BaseException | None = None,
    ) -> None:
        self._segments = None if segments is None else tuple(segments)
        self._language = language
        self._segment_seconds = segment_seconds
        self._release = release
        self._block_timeout = block_timeout
        self._error = error
        self._lock = threading.Lock()
        self.requests: list[TranscribeRequest] = []
        self.started = threading.Event()

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def transcribe(
        self,
        request: TranscribeRequest,
        on_segment: SegmentCallback | None = None,
        check: StopCheck | None = None,
    ) -> Transcript:
        with self._lock:
            self.requests.append(request)
        self.started.set()
        if self._error is not None:
            raise self._error
        if self._release is not None:
            deadline = time.monotonic() + self._block_timeout
            while not self._release.wait(0.05):  # blocked like a long decode, but stoppable by `check`
                if check is not None:
                    check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"FakeSpeechToText was not released within {self._block_timeout} s")
        if self._segments is not None:
            segments = self._segments
            duration = max((s.end for s in segments), default=0.0)
        else:
            duration = _wav_duration(request)
            segments = self._derive(duration, request)
        for segment in segments:
            if on_segment is not None:
                on_segment(segment)
        return Transcript(language=self._language, duration=duration, segments=segments)

    def _derive(self, duration: float, request: TranscribeRequest) -> tuple[Segment, ...]:
        segments: list[Segment] = []
        start = 0.0
        while start < duration:
            end = min(duration, start + self._segment_seconds)
            text = f"Segment {len(segments) + 1} of the fake transcript."
            words = _spread(text, start, end) if request.word_timestamps else ()
            segments.append(Segment(start=start, end=end, text=text, words=words))
            start = end
        return tuple(segments)


def _wav_duration(request: TranscribeRequest) -> float:
    with wave.open(str(request.audio), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _spread(text: str, start: float, end: float) -> tuple[Word, ...]:
    """Evenly timed words, enough to exercise word-timestamp output."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    return tuple(
        Word(start=start + i * step, end=start + (i + 1) * step, word=token, probability=1.0)
        for i, token in enumerate(tokens)
    )


def engines_with(speech_to_text: SpeechToText, base: Engines | None = None) -> Engines:
    """`base` (default: no engines) with the given speech-to-text (typically a FakeSpeechToText)."""
    return (base if base is not None else Engines()).register(SPEECH_TO_TEXT, lambda: speech_to_text)


class FakeTranslation:
    """A Translation over the given pairs (default en->es, es->pt) that marks each line with its hop
    (`[es] hello`), so a test can tell what was translated, and by which route."""

    name = "fake-translation"

    def __init__(self, pairs: Sequence[tuple[str, str]] = (("en", "es"), ("es", "pt"))) -> None:
        self.pairs = tuple(pairs)
        self.calls: list[tuple[str, list[str]]] = []

    def route(self, source: str, target: str) -> tuple[Hop, ...]:
        if (source, target) in self.pairs:
            return (Hop(source=source, target=target, mode=f"{source}-{target}"),)
        for middle in {t for s, t in self.pairs if s == source}:
            if (middle, target) in self.pairs:
                return (
                    Hop(source=source, target=middle, mode=f"{source}-{middle}"),
                    Hop(source=middle, target=target, mode=f"{middle}-{target}"),
                )
        raise InvalidRequest(f"cannot translate {source!r} to {target!r}", code="unsupported_language_pair")

    def translate(self, lines: Sequence[str], hop: Hop, *, work_dir: Path, cancel: CancelToken) -> list[str]:
        cancel.raise_if_set()
        self.calls.append((hop.mode, list(lines)))
        return [f"[{hop.target}] {line}" if line else line for line in lines]


class FakeSynthesis:
    """A SpeechSynthesis that writes silence: `seconds_per_char` of 22.05 kHz 16-bit mono per character
    (espeak-ng's format), for the voices `en` and `es`."""

    name = "fake-synthesis"

    def __init__(self, *, languages: Sequence[str] = ("en", "es"), seconds_per_char: float = 0.05) -> None:
        self.languages = tuple(languages)
        self.seconds_per_char = seconds_per_char
        self.spoken: list[str] = []

    def voice(self, language: str, voice: str | None) -> str:
        if language.split("-", 1)[0] not in self.languages:
            raise InvalidRequest(f"no voice for {language!r}", code="unsupported_language")
        return voice or language

    def speak(
        self,
        text: str,
        wav: Path,
        *,
        voice: str,
        rate: int,
        pitch: int,
        cancel: CancelToken,
        timeout: float = 300.0,
    ) -> None:
        cancel.raise_if_set()
        self.spoken.append(text)
        frames = max(1, round(len(text) * self.seconds_per_char * 22050))
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(22050)
            out.writeframes(b"\x00\x00" * frames)


class MockHttp:
    """Outbound HTTP answered by `handler` (an httpx.MockTransport), with no network and no address
    rules: for testing what a stage does with responses. The address rules are tested on the real
    `GuardedHttp` against servers on 127.0.0.1 (tests/integration/test_ingest_guard.py)."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.transport = httpx.MockTransport(handler)
        self.requests: list[httpx.Request] = []

    def client(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 5,
    ) -> httpx.Client:
        def record(request: httpx.Request) -> None:
            self.requests.append(request)

        return httpx.Client(
            transport=self.transport,
            timeout=timeout,
            headers=dict(headers or {}),
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            event_hooks={"request": [record]},
        )


__all__ = ["FakeSpeechToText", "FakeSynthesis", "FakeTranslation", "MockHttp", "engines_with"]
