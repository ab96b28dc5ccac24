"""The `translate` stage: every cue of its `text` input through the translation engine, same cues and
timings.

The input is `read_text`'s checkpoint, or in a dub the transcription (and its subtitles).

One engine call per hop of the route for all cues together (see engines/translation.py); a route of
several hops (English -> Spanish -> Portuguese) is reported in the result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediajobs.domain.options import TranslateOptions
from mediajobs.engines.translation import TRANSLATION, Hop
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.textio import Cue, cues_json, timed, to_srt, to_text, to_vtt

from .base import ArtifactFile, StageContext, StageResult, stage_options
from .read_text import TEXT_INPUT, checkpoint_cues, input_cues

_TYPES = {
    "json": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def translate(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, TranslateOptions)
    # a transcription (a dub's input) says what language was spoken
    given = ctx.inputs.get(TEXT_INPUT) or {}
    spoken = "en" if given.get("task") == "translate" else given.get("language")
    source = options.source_language or spoken
    if source is None:
        raise PermanentError("no source_language, and the input says none", code="invalid_options")
    engine = ctx.engines.get(TRANSLATION)
    try:
        route = engine.route(source, options.target_language)
    except InvalidRequest as exc:  # a submit refuses this; a worker with fewer pairs fails here
        raise PermanentError(exc.message, code=exc.code) from None
    cues = input_cues(ctx)
    # one engine line per line of a cue: Apertium may move words within a block, never across one
    lines = [line for cue in cues for line in _lines(cue)]
    translated = list(lines)
    for number, hop in enumerate(route, start=1):
        ctx.progress.report(100.0 * (number - 1) / len(route), f"translating {hop.describe()}")
        translated = engine.translate(translated, hop, work_dir=ctx.work_dir, cancel=ctx.cancel)
    out: list[Cue] = []
    position = 0
    for cue in cues:
        count = len(_lines(cue))
        text = "\n".join(line for line in translated[position : position + count] if line)
        out.append(Cue(text=text, start=cue.start, end=cue.end))
        position += count
    artifacts = _write(ctx.work_dir, cues, out, options.model_copy(update={"source_language": source}), route)
    key = checkpoint_cues(ctx, out)
    ctx.progress.report(100.0, "translation ready")
    return StageResult(
        output={
            "cues_key": key,
            "source_language": source,
            "target_language": options.target_language,
            "route": [h.mode for h in route],
            "cues": len(out),
            "engine": engine.name,
            "artifacts": [a.name for a in artifacts],
        },
        artifacts=artifacts,
    )


def _lines(cue: Cue) -> list[str]:
    return [line.strip() for line in cue.text.split("\n") if line.strip()] or [""]


def _write(
    work_dir: Path,
    original: list[Cue],
    translated: list[Cue],
    options: TranslateOptions,
    route: Sequence[Hop],
) -> list[ArtifactFile]:
    doc: dict[str, Any] = {
        "source_language": options.source_language,
        "target_language": options.target_language,
        "route": [{"source": h.source, "target": h.target, "mode": h.mode} for h in route],
        "text": " ".join(c.text.replace("\n", " ") for c in translated if c.text),
        "cues": [
            {**item, "original": before.text}
            for item, before in zip(cues_json(translated), original, strict=True)
        ],
    }
    files: dict[str, str] = {
        "translation.json": json.dumps(doc, ensure_ascii=False, indent=2),
        "translation.txt": to_text(translated),
    }
    both = [
        Cue(text=f"{a.text}\n{b.text}", start=a.start, end=a.end)
        for a, b in zip(original, translated, strict=True)
    ]
    if timed(original):
        files["translation.srt"] = to_srt(translated)
        files["translation.vtt"] = to_vtt(translated)
        if options.bilingual:
            files["bilingual.srt"] = to_srt(both)
            files["bilingual.vtt"] = to_vtt(both)
    elif options.bilingual:
        files["bilingual.txt"] = to_text(both)
    artifacts = []
    for name, content in files.items():
        path = work_dir / name
        path.write_text(content, encoding="utf-8")
        artifacts.append(ArtifactFile(name=name, path=path, content_type=_TYPES[name.rsplit(".", 1)[1]]))
    return artifacts


__all__ = ["translate"]
