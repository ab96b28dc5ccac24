"""Test doubles shipped inside the package, so runner and worker tests need no Whisper model.

One fake per engine port (speech-to-text now); the storage, broker and event-bus twins live beside
their ports (`storage.InMemoryStorage`, `queue.memory.InMemoryPublisher`, `progress.InMemoryEventBus`).

`FakeSpeechToText` behaves like a real engine where the runner can tell: it reads the audio file it is
given, reports segments one by one through the callback (so cancellation and progress work), and can be
made to block or fail on demand.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Sequence

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


__all__ = ["FakeSpeechToText", "engines_with"]
