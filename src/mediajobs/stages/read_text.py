"""The `read_text` stage: the job's input text as cues, checkpointed for the stage after it.

Sources: `upload://<id>` of a `.srt`, `.vtt` or `.txt` (a submit's `text` field is stored as such an
upload), or `job://<id>`, a finished job of the same caller (the API checked that): its subtitles
(`transcript.srt` or `translation.srt`, so cues and timings are exactly the ones its user saw), else
its plain text.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

from mediajobs.errors import PermanentError
from mediajobs.storage.keys import upload_prefix
from mediajobs.textio import Cue, cues_from_json, cues_json, parse, text_format, timed

from .base import StageContext, StageResult

# what a job:// source is read from, in order of preference
JOB_TEXT_ARTIFACTS = ("transcript.srt", "translation.srt", "transcript.txt", "translation.txt")
MAX_TEXT_BYTES = 16 * 1024 * 1024


def read_text(ctx: StageContext) -> StageResult:
    ctx.cancel.raise_if_set()
    parts = urlsplit(ctx.source)
    if parts.scheme == "job":
        cues, fmt = _from_job(ctx, parts.netloc)
    elif parts.scheme == "upload":
        cues, fmt = _from_upload(ctx, parts.netloc)
    else:
        raise PermanentError(f"read_text cannot read source {ctx.source[:200]!r}", code="invalid_source")
    if not any(c.text.strip() for c in cues):
        raise PermanentError("the input has no text", code="empty_text")
    key = checkpoint_cues(ctx, cues)
    ctx.progress.report(100.0, f"{len(cues)} cues read")
    characters = sum(len(c.text) for c in cues)  # what a text pipeline meters (store/metering.py)
    output = {
        "cues_key": key,
        "cues": len(cues),
        "characters": characters,
        "timed": timed(cues),
        "format": fmt,
    }
    return StageResult(output=output)


def checkpoint_cues(ctx: StageContext, cues: list[Cue]) -> str:
    """Store `cues` as this attempt's `cues.json` checkpoint; its storage key (`cues_key`)."""
    path = ctx.work_dir / "cues.json"
    path.write_text(json.dumps({"timed": timed(cues), "cues": cues_json(cues)}, ensure_ascii=False))
    key = ctx.output_key("cues.json")
    ctx.storage.put_file(key, path)
    return key


TEXT_INPUT = "text"
"""The input a text stage reads its cues from (a pipeline names which stage gives it)."""


def input_cues(ctx: StageContext, name: str = TEXT_INPUT) -> list[Cue]:
    """The cues a text stage works on: the ones its input `name` checkpointed (`read_text`,
    `translate`), else (a transcription, which writes subtitles, not cues) the job's own subtitles."""
    given = ctx.inputs.get(name) or {}
    if given.get("cues_key") or given.get("cues_path"):
        with ctx.storage.open(ctx.input_key(name, "cues")) as fh:
            return cues_from_json(json.load(fh)["cues"])
    cues, _ = _from_job(ctx, str(ctx.job_id))
    return cues


def _from_job(ctx: StageContext, job_id: str) -> tuple[list[Cue], str]:
    artifact = ctx.job_artifact(job_id, JOB_TEXT_ARTIFACTS)
    if artifact is None:
        raise PermanentError(f"job {job_id} has no transcript or translation to read", code="missing_input")
    fmt = text_format(artifact.name)
    return parse(_read(ctx, artifact.key), fmt), fmt


def _from_upload(ctx: StageContext, upload_id: str) -> tuple[list[Cue], str]:
    try:
        files = ctx.storage.list(upload_prefix(uuid.UUID(upload_id)))
    except ValueError:
        raise PermanentError(f"malformed upload id {upload_id[:64]!r}", code="invalid_source") from None
    if len(files) != 1:
        raise PermanentError(f"upload {upload_id} holds {len(files)} files, not one", code="upload_not_found")
    key = files[0].key
    fmt = text_format(key.rsplit("/", 1)[-1])
    return parse(_read(ctx, key), fmt), fmt


def _read(ctx: StageContext, key: str) -> bytes:
    if ctx.storage.stat(key).size > MAX_TEXT_BYTES:
        raise PermanentError(f"the text is over {MAX_TEXT_BYTES // (1024 * 1024)} MB", code="text_too_large")
    with ctx.storage.open(key) as fh:
        return fh.read()


__all__ = ["JOB_TEXT_ARTIFACTS", "TEXT_INPUT", "checkpoint_cues", "input_cues", "read_text"]
