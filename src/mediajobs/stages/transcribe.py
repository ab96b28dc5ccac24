"""The `transcribe` stage: speech-to-text over the normalised WAV, written as JSON, SRT, VTT and text.

The engine reports each segment as it is decoded; that callback is where the stage reports progress
(segment end against the audio's duration) and where cancellation stops a long transcription. The
engine always times words: subtitle cues are shaped from them (subtitles/shape.py), inside the probed
duration of the media; the JSON keeps the engine's raw segments beside the cues.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from mediajobs.domain.options import TranscribeOptions
from mediajobs.engines import SPEECH_TO_TEXT, Segment, TranscribeRequest, Transcript
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.formats import to_json
from mediajobs.subtitles import Cue, CueLimits, clamp_transcript, shape_cues, to_srt, to_vtt
from mediajobs.textio import to_text

from .base import ArtifactFile, StageContext, StageResult

Render = Callable[[Transcript, Sequence[Cue], TranscribeOptions], str]

# (file name, content type, renderer)
OUTPUTS: tuple[tuple[str, str, Render], ...] = (
    (
        "transcript.json",
        "application/json",
        lambda t, c, o: json.dumps(_json(t, c, o), ensure_ascii=False, indent=2) + "\n",
    ),
    ("transcript.srt", "application/x-subrip", lambda t, c, o: to_srt(c)),
    ("transcript.vtt", "text/vtt; charset=utf-8", lambda t, c, o: to_vtt(c)),
    ("transcript.txt", "text/plain; charset=utf-8", lambda t, c, o: to_text(c)),
)


def _json(transcript: Transcript, cues: Sequence[Cue], options: TranscribeOptions) -> dict[str, object]:
    doc = to_json(transcript, cues, words=options.word_timestamps, details=options.segment_details)
    return {**doc, "language_probability": transcript.language_probability}


def transcribe(ctx: StageContext) -> StageResult:
    """Transcribe `normalize`'s audio with the worker's speech-to-text engine."""
    duration = float(ctx.inputs["audio"].get("duration") or 0.0)
    options = _options(ctx)
    ctx.cancel.raise_if_set()
    ctx.progress.report(0.0, "loading speech-to-text model")
    engine = ctx.engines.get(SPEECH_TO_TEXT)
    ctx.progress.report(0.0, "transcribing")

    def on_segment(segment: Segment) -> None:
        ctx.cancel.raise_if_set()
        percent = min(100.0, segment.end * 100.0 / duration) if duration > 0 else None
        ctx.progress.report(percent, f"transcribed {segment.end:.0f} s")

    catalog = ModelCatalog(ctx.settings)
    _checked(catalog, options)  # a submit refuses these; a worker configured differently fails here
    model = catalog.get(options.model)
    folder = catalog.folder(model.name)
    with ctx.storage.local_copy(ctx.input_key("audio", "audio")) as audio:
        request = TranscribeRequest(
            audio=audio,
            language=None if options.language == "auto" else options.language,
            model=folder,
            task=options.task,
            vad=options.vad,
            word_timestamps=True,  # cues are shaped from word timings
            prompt=options.prompt,
            temperature=options.temperature,
        )
        transcript = engine.transcribe(request, on_segment, ctx.cancel.raise_if_set)
    ctx.cancel.raise_if_set()
    transcript = clamp_transcript(transcript, duration)
    cues = shape_cues(transcript, cue_limits(options))
    artifacts = _write(ctx.work_dir, transcript, cues, options)
    ctx.progress.report(100.0, "transcript ready")
    return StageResult(
        output={
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "model": model.name,
            "task": options.task,
            "duration": round(transcript.duration, 3),
            "segments": sum(1 for s in transcript.segments if s.text.strip()),
            "cues": len(cues),
            "words": len(transcript.text.split()),
            "engine": engine.name,
            "artifacts": [a.name for a in artifacts],
        },
        artifacts=artifacts,
    )


def _checked(catalog: ModelCatalog, options: TranscribeOptions) -> None:
    try:
        catalog.check(options.model, options.language, options.task)
    except InvalidRequest as exc:
        raise PermanentError(exc.message, code=exc.code) from None


def _options(ctx: StageContext) -> TranscribeOptions:
    known = {k: v for k, v in ctx.options.items() if k in TranscribeOptions.model_fields}
    try:
        return TranscribeOptions.model_validate(known)
    except ValidationError as exc:
        raise PermanentError(f"invalid transcribe options: {exc}", code="invalid_options") from exc


def cue_limits(options: TranscribeOptions) -> CueLimits:
    """The cue limits a job asked for (the rest at their defaults)."""
    return CueLimits(
        max_line_chars=options.max_line_chars,
        max_lines=options.max_lines,
        max_cue_seconds=options.max_cue_seconds,
    )


def _write(
    work_dir: Path, transcript: Transcript, cues: Sequence[Cue], options: TranscribeOptions
) -> list[ArtifactFile]:
    artifacts = []
    for name, content_type, render in OUTPUTS:
        path = work_dir / name
        path.write_bytes(render(transcript, cues, options).encode("utf-8"))
        artifacts.append(ArtifactFile(name=name, path=path, content_type=content_type))
    return artifacts


__all__ = ["OUTPUTS", "cue_limits", "transcribe"]
