"""`translate`: a finished job's transcript, a text, or an uploaded .srt/.vtt/.txt in another language.

read_text (download) -> translate (translate): same cues, same timings; whole sentences translated and
laid back into the cues, re-wrapped to `max_line_chars` (subtitles/refit.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediajobs.domain import Pipeline, StageSpec
from mediajobs.domain.options import TranslateOptions
from mediajobs.errors import InvalidRequest
from mediajobs.textio import TEXT_SUFFIXES

from . import code, kinds
from .inputs import TEXT_SOURCES, check_text_input, job_language

if TYPE_CHECKING:
    from mediajobs.capabilities import Capabilities, SubmitInput


def check(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    """A text input, a known source language, and a route of installed pairs to the target; the
    input job's `max_line_chars` when the submit names none."""
    check_text_input(given)
    source = options.get("source_language")
    if source is None and given.job is not None:
        source = job_language(given.job)
    if source is None:
        raise InvalidRequest(
            "source_language is required unless the input is a job that detected its language",
            code="invalid_options",
        )
    caps.translator.route(str(source), str(options["target_language"]))
    checked = {**options, "source_language": source}
    inherited = given.job.options.get("max_line_chars") if given.job is not None else None
    if checked.get("max_line_chars") is None and isinstance(inherited, int):
        checked["max_line_chars"] = inherited  # the subtitles keep the lines their source job asked for
    return checked


PIPELINE = Pipeline(
    name="translate",
    description="Translate a finished job's transcript, a text, or an uploaded .srt/.vtt/.txt "
    "(same cues, same timings).",
    stages=(
        StageSpec(name="read_text", kind=kinds.DOWNLOAD, code=code.read_text, weight=1.0),
        StageSpec(
            name="translate",
            kind=kinds.TRANSLATE,
            code=code.translate,
            needs=("read_text",),
            inputs={"text": "read_text"},
            weight=4.0,
        ),
    ),
    options_model=TranslateOptions,
    source_schemes=TEXT_SOURCES,
    accepts_files=TEXT_SUFFIXES,
    check=check,
    result_artifact="translation.json",
    produces=("application/json", "application/x-subrip", "text/vtt", "text/plain"),
    text_meter=("read_text", "characters"),
)

__all__ = ["PIPELINE", "check"]
