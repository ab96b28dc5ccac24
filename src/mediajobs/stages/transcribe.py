"""The `transcribe` stage: speech-to-text over the normalised WAV, written as JSON, SRT, VTT and text.

The engine reports each segment as it is decoded; that callback is where the stage reports progress
(segment end against the audio's duration) and where cancellation stops a long transcription. All four
files are written completely (temp file, then rename) before the stage returns them as artifacts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from mediajobs.domain.pipelines import TranscribeOptions
from mediajobs.engines import SPEECH_TO_TEXT, Segment, TranscribeRequest, Transcript
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.formats import to_json, to_srt, to_text, to_vtt

from .base import ArtifactFile, StageContext, StageResult

# (file name, content type, renderer)
OUTPUTS: tuple[tuple[str, str, Callable[[Transcript], str]], ...] = (
    ("transcript.json", "application/json", lambda t: json.dumps(_json(t), ensure_ascii=False, indent=2)),
    ("transcript.srt", "application/x-subrip", to_srt),
    ("transcript.vtt", "text/vtt; charset=utf-8", to_vtt),
    ("transcript.txt", "text/plain; charset=utf-8", to_text),
)


def _json(transcript: Transcript) -> dict[str, object]:
    doc = to_json(transcript)
    return {**doc, "language_probability": transcript.language_probability}


def transcribe(ctx: StageContext) -> StageResult:
    """Transcribe `normalize`'s audio with the worker's speech-to-text engine."""
    duration = float(ctx.inputs["normalize"].get("duration") or 0.0)
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
    with ctx.storage.local_copy(ctx.input_key("normalize", "audio")) as audio:
        request = TranscribeRequest(
            audio=audio,
            language=None if options.language == "auto" else options.language,
            model=folder,
            task=options.task,
            vad=options.vad,
            word_timestamps=options.word_timestamps,
        )
        transcript = engine.transcribe(request, on_segment, ctx.cancel.raise_if_set)
    ctx.cancel.raise_if_set()
    artifacts = _write(ctx.work_dir, transcript)
    ctx.progress.report(100.0, "transcript ready")
    return StageResult(
        output={
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "model": model.name,
            "task": options.task,
            "duration": round(transcript.duration, 3),
            "segments": sum(1 for s in transcript.segments if s.text.strip()),
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


def _write(work_dir: Path, transcript: Transcript) -> list[ArtifactFile]:
    artifacts = []
    for name, content_type, render in OUTPUTS:
        path = work_dir / name
        path.write_bytes(render(transcript).encode("utf-8"))
        artifacts.append(ArtifactFile(name=name, path=path, content_type=content_type))
    return artifacts


__all__ = ["OUTPUTS", "transcribe"]
