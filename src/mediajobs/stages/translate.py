"""The `translate` stage: the cues of its `text` input through the translation engine, same cues and
timings, fit to read.

The input is `read_text`'s checkpoint, or in a dub the transcription (and its subtitles).

Whole sentences go to the engine, across cue boundaries where a sentence spans them (a cue's line on
its own would come back as a sentence of its own), and the translation is laid back into the cues'
times, re-wrapped to `max_line_chars` within the reading speed (subtitles/refit.py). Untimed text (a
paragraph a cue) is translated a paragraph at a time; a cue of dialogue keeps its lines.

One engine call per hop of the route for all passages together (see engines/translation.py); a route
of several hops (English -> Spanish -> Portuguese) is reported in the result.

Each hop's input is bounded by size, not only by the hop's time limit: at most HOP_MAX_BYTES of text
(`text_too_large`, permanent), and no block longer than BLOCK_MAX_CHARS goes to the engine in one
piece (a longer one is cut at spaces and its pieces' translations joined again): a 15 MB line kept
Apertium's format filter at full CPU until the 600 s timeout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediajobs.domain.options import TranslateOptions
from mediajobs.engines.translation import TRANSLATION, Hop, Translation
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.subtitles import CueLimits
from mediajobs.subtitles.refit import (
    Slot,
    is_dialogue,
    lay_out_passages,
    match_start_case,
    passages,
    wrap_lines,
)
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
    plan = _plan(cues)
    translated = [block for part in plan for block in part.blocks]
    for number, hop in enumerate(route, start=1):
        ctx.progress.report(100.0 * (number - 1) / len(route), f"translating {hop.describe()}")
        translated = _bounded_hop(ctx, engine, translated, hop)
    limits = CueLimits(max_line_chars=options.max_line_chars or CueLimits().max_line_chars)
    out = _laid_out(cues, plan, translated, limits, options.target_language)
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


HOP_MAX_BYTES = 2 * 1024 * 1024  # UTF-8 bytes of text one hop translates
BLOCK_MAX_CHARS = 20_000  # the longest block the engine is given at once


def _bounded_hop(ctx: StageContext, engine: Translation, blocks: list[str], hop: Hop) -> list[str]:
    """`blocks` through one hop, within HOP_MAX_BYTES, long blocks sent in pieces."""
    size = sum(len(b.encode()) for b in blocks)
    if size > HOP_MAX_BYTES:
        raise PermanentError(
            f"the text to translate is {size} bytes, more than the {HOP_MAX_BYTES} one translation "
            "step takes: split it into several jobs",
            code="text_too_large",
        )
    pieces: list[str] = []
    owners: list[int] = []
    for index, block in enumerate(blocks):
        for piece in _cut(block, BLOCK_MAX_CHARS):
            pieces.append(piece)
            owners.append(index)
    if len(pieces) == len(blocks):
        return engine.translate(blocks, hop, work_dir=ctx.work_dir, cancel=ctx.cancel)
    done = engine.translate(pieces, hop, work_dir=ctx.work_dir, cancel=ctx.cancel)
    joined: list[list[str]] = [[] for _ in blocks]
    for owner, text in zip(owners, done, strict=True):
        joined[owner].append(text)
    return [" ".join(parts) for parts in joined]


def _cut(block: str, limit: int) -> list[str]:
    """`block` in pieces of at most `limit` characters, cut at the last space before it when there
    is one (a block of one piece comes back as it is)."""
    pieces = []
    rest = block
    while len(rest) > limit:
        at = rest.rfind(" ", 0, limit + 1)
        at = at if at > 0 else limit
        pieces.append(rest[:at])
        rest = rest[at:].lstrip(" ")
    pieces.append(rest)
    return pieces


@dataclass(frozen=True, kw_only=True, slots=True)
class _Part:
    """Cues translated together: a passage of whole sentences (one block), an untimed paragraph (one
    block), or a cue of dialogue (a block per line)."""

    cues: range
    blocks: list[str]
    dialogue: bool = False


def _laid_out(
    cues: Sequence[Cue], plan: Sequence[_Part], translated: Sequence[str], limits: CueLimits, language: str
) -> list[Cue]:
    """The translated blocks back in the cues: passages laid into their cues' times (consecutive ones
    together, subtitles/refit.py), dialogue line by line, untimed paragraphs as they are."""
    out: list[Cue] = []
    run: list[tuple[_Part, str]] = []  # consecutive timed passages and their translations

    def flush() -> None:
        texts = [match_start_case(part.blocks[0], text) for part, text in run]
        slots = [
            [Slot(seconds=_seconds(cues[i]), chars=len(_joined(cues[i]))) for i in p.cues] for p, _ in run
        ]
        for (part, _), laid in zip(run, lay_out_passages(texts, slots, limits, language), strict=True):
            out.extend(
                Cue(text="\n".join(lines), start=cues[i].start, end=cues[i].end)
                for i, lines in zip(part.cues, laid, strict=True)
            )
        run.clear()

    position = 0
    for part in plan:
        answer = translated[position : position + len(part.blocks)]
        position += len(part.blocks)
        first = cues[part.cues.start]
        if part.dialogue:
            flush()
            lines = [line for text in answer for line in wrap_lines(text.split(), limits, language) if line]
            out.append(Cue(text="\n".join(lines), start=first.start, end=first.end))
        elif first.start is None or first.end is None:
            out.append(Cue(text=" ".join(match_start_case(part.blocks[0], answer[0]).split())))
        else:
            run.append((part, answer[0]))
    flush()
    return out


def _plan(cues: Sequence[Cue]) -> list[_Part]:
    if not timed(list(cues)):
        return [
            _dialogue(i, c) if _is_dialogue(c) else _Part(cues=range(i, i + 1), blocks=[_joined(c)])
            for i, c in enumerate(cues)
        ]
    return [
        _dialogue(run.start, cues[run.start])
        if len(run) == 1 and _is_dialogue(cues[run.start])
        else _Part(cues=run, blocks=[" ".join(_joined(cues[i]) for i in run if _joined(cues[i]))])
        for run in passages([c.text for c in cues])
    ]


def _dialogue(index: int, cue: Cue) -> _Part:
    lines = [line.strip() for line in cue.text.split("\n") if line.strip()]
    return _Part(cues=range(index, index + 1), blocks=lines, dialogue=True)


def _is_dialogue(cue: Cue) -> bool:
    return is_dialogue(cue.text.split("\n"))


def _joined(cue: Cue) -> str:
    return " ".join(cue.text.split())


def _seconds(cue: Cue) -> float | None:
    return None if cue.start is None or cue.end is None else cue.end - cue.start


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
