"""The `synthesize` stage: its `text` input spoken by a speech engine (espeak-ng, flite), as WAV, MP3,
Opus, AAC, FLAC or raw PCM (audioformats.py).

Long text is split by sentence into pieces of a bounded size; each piece is one engine run (progress
is pieces done), appended to one WAV sample for sample as soon as it is spoken and then deleted (the
work folder holds the speech once, plus one piece), encoded by ffmpeg for the compressed formats.

The speech is bounded while it grows: past MEDIAJOBS_MAX_MEDIA_SECONDS of audio or
MEDIAJOBS_MAX_DECODED_BYTES of WAV the stage fails (`media_too_long` / `media_too_large`) after the
piece that crossed it, whatever the text and the `rate` (200,000 characters at rate 80 made a 1 GB
WAV and a 1.9 GB work folder).
"""

from __future__ import annotations

import wave
from pathlib import Path

from mediajobs.audioformats import FORMATS, encode_args
from mediajobs.domain.options import SynthesizeOptions
from mediajobs.engines.synthesis import SPEAK_TIMEOUT_SECONDS, SpeechSynthesis, synthesis_slot
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.process import bare_env, run_process
from mediajobs.textio import sentences

from .base import ArtifactFile, StageContext, StageResult, stage_options
from .read_text import input_cues

PIECE_CHARS = 600  # sentences are grouped up to this many characters per engine run
CONTENT_TYPES = {name: fmt.content_type for name, fmt in FORMATS.items()}


def synthesize(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, SynthesizeOptions)
    engine = ctx.engines.get(synthesis_slot(options.engine))
    voice = engine_voice(engine, options.language, options.voice)
    cues = input_cues(ctx)
    pieces = _pieces(sentences("\n\n".join(c.text for c in cues)))
    if not pieces:
        raise PermanentError("the input has no text to speak", code="empty_text")
    speech = ctx.work_dir / "joined.wav"
    with _Joined(speech, ctx.settings.max_media_seconds, ctx.settings.max_decoded_bytes) as joined:
        for number, piece in enumerate(pieces, start=1):
            wav = ctx.work_dir / f"piece{number}.wav"
            engine.speak(piece, wav, voice=voice, rate=options.rate, pitch=options.pitch, cancel=ctx.cancel)
            joined.append(wav)
            wav.unlink()
            ctx.progress.report(100.0 * number / (len(pieces) + 1), f"spoke {number} of {len(pieces)} pieces")
    duration = joined.seconds
    name = f"speech.{options.format}"
    final = ctx.work_dir / name
    if options.format == "wav":
        speech.rename(final)
    else:
        _encode(ctx, speech, final, options.format)
    ctx.progress.report(100.0, "speech ready")
    return StageResult(
        output={
            "duration": round(duration, 3),
            "pieces": len(pieces),
            "voice": voice,
            "language": options.language,
            "engine": options.engine,
            "artifacts": [name],
        },
        artifacts=[ArtifactFile(name=name, path=final, content_type=CONTENT_TYPES[options.format])],
    )


def engine_voice(engine: SpeechSynthesis, language: str, voice: str | None) -> str:
    """The engine's voice; a submit refuses what it lacks, a worker with other voices fails here."""
    try:
        return engine.voice(language, voice)
    except InvalidRequest as exc:
        raise PermanentError(exc.message, code=exc.code) from None


def _pieces(parts: list[str]) -> list[str]:
    pieces: list[str] = []
    for sentence in parts:
        if pieces and len(pieces[-1]) + len(sentence) < PIECE_CHARS:
            pieces[-1] = f"{pieces[-1]} {sentence}"
        else:
            pieces.append(sentence)
    return pieces


class _Joined:
    """One WAV the pieces are appended to as they come (espeak-ng writes them all in one format),
    refused past `max_seconds` of audio or `max_bytes` of samples."""

    def __init__(self, target: Path, max_seconds: float, max_bytes: int) -> None:
        self._target = target
        self._out: wave.Wave_write | None = None  # opened with the first piece's format
        self._max_seconds, self._max_bytes = max_seconds, max_bytes
        self._frames, self._bytes, self._rate = 0, 0, 1

    @property
    def seconds(self) -> float:
        return self._frames / self._rate

    def append(self, path: Path) -> None:
        with wave.open(str(path), "rb") as piece:
            if self._out is None:
                self._out = wave.open(str(self._target), "wb")  # noqa: SIM115 (closed by __exit__)
                self._out.setparams(piece.getparams())
                self._rate = piece.getframerate()
            while chunk := piece.readframes(self._rate * 10):
                self._frames += len(chunk) // (piece.getsampwidth() * piece.getnchannels())
                self._bytes += len(chunk)
                self._check()
                self._out.writeframes(chunk)

    def _check(self) -> None:
        if self.seconds > self._max_seconds:
            raise PermanentError(
                f"the speech is longer than {self._max_seconds:g} s (MEDIAJOBS_MAX_MEDIA_SECONDS): "
                "speak a shorter text, or faster",
                code="media_too_long",
            )
        if self._bytes > self._max_bytes:
            raise PermanentError(
                f"the speech is over {self._max_bytes} bytes (MEDIAJOBS_MAX_DECODED_BYTES)",
                code="media_too_large",
            )

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            self._out.close()


def _encode(ctx: StageContext, source: Path, target: Path, fmt: str) -> None:
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source)]
    result = run_process(
        [*args, *encode_args(FORMATS[fmt]), str(target)],
        cancel=ctx.cancel,
        timeout=SPEAK_TIMEOUT_SECONDS,
        cwd=ctx.work_dir,
        env=bare_env(),
        memory_limit=ctx.settings.media_memory_limit,
    )
    if not result.ok:
        raise PermanentError(f"encoding {fmt} failed: {result.stderr_tail[-300:]}", code="synthesis_failed")


__all__ = ["engine_voice", "synthesize"]
