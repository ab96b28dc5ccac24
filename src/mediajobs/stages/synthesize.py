"""The `synthesize` stage: its `text` input spoken by a speech engine (espeak-ng, flite), as WAV, MP3,
Opus, AAC, FLAC or raw PCM (audioformats.py).

Long text is split by sentence into pieces of a bounded size; each piece is one engine run (progress
is pieces done), and the pieces are joined sample for sample into one WAV, encoded by ffmpeg for the
compressed formats.
"""

from __future__ import annotations

import wave
from pathlib import Path

from mediajobs.audioformats import FORMATS, encode_args
from mediajobs.domain.options import SynthesizeOptions
from mediajobs.engines.synthesis import SPEAK_TIMEOUT_SECONDS, SpeechSynthesis, synthesis_slot
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.process import run_process
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
    wavs = []
    for number, piece in enumerate(pieces, start=1):
        wav = ctx.work_dir / f"piece{number}.wav"
        engine.speak(piece, wav, voice=voice, rate=options.rate, pitch=options.pitch, cancel=ctx.cancel)
        wavs.append(wav)
        ctx.progress.report(100.0 * number / (len(pieces) + 1), f"spoke {number} of {len(pieces)} pieces")
    speech = ctx.work_dir / "joined.wav"
    duration = _join(wavs, speech)
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


def _join(wavs: list[Path], target: Path) -> float:
    """The pieces one after another in one WAV (espeak-ng writes them all in one format); seconds."""
    frames = 0
    rate = 1
    with wave.open(str(target), "wb") as out:
        for index, path in enumerate(wavs):
            with wave.open(str(path), "rb") as piece:
                if index == 0:
                    out.setparams(piece.getparams())
                    rate = piece.getframerate()
                count = piece.getnframes()
                out.writeframes(piece.readframes(count))
                frames += count
    return frames / rate


def _encode(ctx: StageContext, source: Path, target: Path, fmt: str) -> None:
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source)]
    result = run_process(
        [*args, *encode_args(FORMATS[fmt]), str(target)], cancel=ctx.cancel, timeout=SPEAK_TIMEOUT_SECONDS
    )
    if not result.ok:
        raise PermanentError(f"encoding {fmt} failed: {result.stderr_tail[-300:]}", code="synthesis_failed")


__all__ = ["engine_voice", "synthesize"]
