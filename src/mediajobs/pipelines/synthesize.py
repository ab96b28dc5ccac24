"""`synthesize`: a text, a finished job's transcript or translation, or an uploaded text, spoken.

read_text (download) -> synthesize (synthesize): `speech.<format>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediajobs.audioformats import FORMATS
from mediajobs.domain import Pipeline, StageSpec
from mediajobs.domain.options import SynthesizeOptions
from mediajobs.textio import TEXT_SUFFIXES

from . import code, kinds
from .inputs import TEXT_SOURCES, check_text_input

if TYPE_CHECKING:
    from mediajobs.capabilities import Capabilities, SubmitInput


def check(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    """A text input, an engine that has the language and voice, and an encoder for the format."""
    check_text_input(given)
    caps.audio_format(str(options.get("format") or "wav"))
    caps.speech_voice(
        str(options.get("engine") or "espeak-ng"), str(options["language"]), options.get("voice")
    )
    return options


PIPELINE = Pipeline(
    name="synthesize",
    description="Speak a text, a finished job's transcript or translation, or an uploaded .txt/.srt/.vtt.",
    stages=(
        StageSpec(name="read_text", kind=kinds.DOWNLOAD, code=code.read_text, weight=1.0),
        StageSpec(
            name="synthesize",
            kind=kinds.SYNTHESIZE,
            code=code.synthesize,
            needs=("read_text",),
            inputs={"text": "read_text"},
            weight=4.0,
        ),
    ),
    options_model=SynthesizeOptions,
    source_schemes=TEXT_SOURCES,
    accepts_files=TEXT_SUFFIXES,
    check=check,
    result_artifact="speech.{format}",
    produces=("application/json", *(fmt.content_type for fmt in FORMATS.values())),
    media_result=True,
    meter=("synthesize", "duration"),  # the speech made, against the media quota
    text_meter=("read_text", "characters"),
)

__all__ = ["PIPELINE", "check"]
