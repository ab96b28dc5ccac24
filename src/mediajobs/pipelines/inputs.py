"""What a pipeline's submit check asks of its input: media, or text (shared by the shipped pipelines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mediajobs.errors import InvalidRequest
from mediajobs.textio import TEXT_SUFFIXES

if TYPE_CHECKING:
    from mediajobs.capabilities import SubmitInput
    from mediajobs.domain import Job

MEDIA_SOURCES = frozenset({"http", "https", "upload", "job"})  # job://: a job with a media result
TEXT_SOURCES = frozenset({"upload", "job"})  # a `text` field is stored as an upload


def check_media_input(given: SubmitInput) -> None:
    """A `job://` source must be a job whose result is audio or video."""
    job = given.job
    if job is not None and not given.media_result:
        raise InvalidRequest(
            f"job {job.id} ({job.pipeline}) has no audio or video result; a media source job is one of: "
            f"{', '.join(given.media_pipelines)}",
            code="source_job_has_no_media",
        )


def check_text_input(given: SubmitInput) -> None:
    """An uploaded file must be text (.srt, .vtt, .txt)."""
    name = (given.filename or "").lower()
    if given.filename is not None and not name.endswith(TEXT_SUFFIXES):
        raise InvalidRequest(
            f"this pipeline reads text: upload a {', '.join(TEXT_SUFFIXES)} file, send `text`, "
            "or name a finished job (job://<id>)",
            code="unsupported_text",
        )


def job_language(job: Job) -> str | None:
    """The language of a finished job's text: what it detected or translated to."""
    for run in reversed(job.stages):
        output = run.output or {}
        if output.get("task") == "translate":
            return "en"  # Whisper's speech translation writes English
        for key in ("target_language", "language"):
            value = output.get(key)
            if isinstance(value, str) and value:
                return value
    return None


__all__ = ["MEDIA_SOURCES", "TEXT_SOURCES", "check_media_input", "check_text_input", "job_language"]
