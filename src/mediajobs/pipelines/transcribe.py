"""`transcribe`: audio or video to SRT/VTT/TXT/JSON, long media in chunks on several workers.

ingest (download) -> normalize (media; long audio fans out into `chunk[i]`, transcribe queue) ->
transcribe (transcribe: the whole audio, or the chunks merged on the file's clock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediajobs.domain import FanOut, Pipeline, StageSpec
from mediajobs.domain.options import TranscribeOptions

from . import code, kinds
from .inputs import MEDIA_SOURCES, check_media_input

if TYPE_CHECKING:
    from mediajobs.capabilities import Capabilities, SubmitInput


def check(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    """A model that can do the language and task, and a media input."""
    check_media_input(given)
    caps.models.check(options.get("model"), options.get("language"), str(options.get("task") or "transcribe"))
    return options


PIPELINE = Pipeline(
    name="transcribe",
    description=(
        "Fetch audio or video, normalise it to 16 kHz mono WAV, transcribe it to SRT/VTT/TXT/JSON "
        "(long audio in chunks, in parallel)."
    ),
    stages=(
        StageSpec(name="ingest", kind=kinds.DOWNLOAD, code=code.ingest, weight=1.0),
        # Long audio is cut at silences here into `chunk[i]` runs on the transcribe queue (any worker
        # may take each); `transcribe` then merges them. Short audio makes no chunks: `transcribe`
        # transcribes it whole.
        StageSpec(
            name="normalize",
            kind=kinds.MEDIA,
            code=code.normalize_and_split,
            needs=("ingest",),
            inputs={"media": "ingest"},
            weight=1.0,
            fan_out=FanOut(
                child="chunk",
                code=code.transcribe_chunk,
                kind=kinds.TRANSCRIBE,
                weight=5.5,
                share_of="transcribe",
                input="audio",
            ),
        ),
        StageSpec(
            name="transcribe",
            kind=kinds.TRANSCRIBE,
            code=code.transcribe_or_merge,
            needs=("normalize",),
            inputs={"audio": "normalize"},
            weight=6.0,
        ),
    ),
    options_model=TranscribeOptions,
    source_schemes=MEDIA_SOURCES,
    check=check,
    result_artifact="transcript.json",
    produces=("application/json", "application/x-subrip", "text/vtt", "text/plain"),
    meter=("normalize", "duration"),
)

__all__ = ["PIPELINE", "check"]
