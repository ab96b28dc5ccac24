"""`dub`: audio or video in another language.

ingest (download) -> normalize (media) -> transcribe (transcribe) -> translate (translate) -> voice
(synthesize: each cue spoken in its time slot) -> mix (media; video keeps its video stream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediajobs.domain import Pipeline, StageSpec
from mediajobs.domain.options import DubOptions
from mediajobs.errors import InvalidRequest

from . import code, kinds
from .inputs import MEDIA_SOURCES, check_media_input

if TYPE_CHECKING:
    from mediajobs.capabilities import Capabilities, SubmitInput


def check(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    """A media input, a model for the spoken language, a route to the target and a voice for it."""
    check_media_input(given)
    model = caps.models.check(
        options.get("model"), options.get("language"), str(options.get("task") or "transcribe")
    )
    target = str(options["target_language"])
    spoken = str(options.get("language") or "auto")
    if options.get("task") == "translate":
        spoken = "en"  # Whisper's speech translation always writes English
    elif spoken == "auto" and not model.multilingual:
        spoken = "en"
    if spoken != "auto":
        caps.translator.route(spoken, target)
    elif not any(target in targets for targets in caps.translator.reachable().values()):
        raise InvalidRequest(
            f"no installed pair translates to {target!r}; "
            f"installed pairs: {caps.translator.describe_pairs()}",
            code="unsupported_language_pair",
        )
    caps.speech_voice("espeak-ng", target, None)
    return options


PIPELINE = Pipeline(
    name="dub",
    description="Audio or video in another language: transcribe, translate, speak each cue in its time "
    "slot, mix; video keeps its video stream as it was.",
    stages=(
        StageSpec(name="ingest", kind=kinds.DOWNLOAD, code=code.ingest_video, weight=1.0),
        StageSpec(
            name="normalize",
            kind=kinds.MEDIA,
            code=code.normalize,
            needs=("ingest",),
            inputs={"media": "ingest"},
            weight=1.0,
        ),
        StageSpec(
            name="transcribe",
            kind=kinds.TRANSCRIBE,
            code=code.transcribe,
            needs=("normalize",),
            inputs={"audio": "normalize"},
            weight=6.0,
        ),
        StageSpec(
            name="translate",
            kind=kinds.TRANSLATE,
            code=code.translate,
            needs=("transcribe",),
            inputs={"text": "transcribe"},
            weight=1.0,
        ),
        StageSpec(
            name="voice",
            kind=kinds.SYNTHESIZE,
            code=code.dub_voice,
            needs=("normalize", "translate"),
            inputs={"audio": "normalize", "text": "translate"},
            weight=2.0,
        ),
        StageSpec(
            name="mix",
            kind=kinds.MEDIA,
            code=code.mix,
            needs=("ingest", "normalize", "voice"),
            inputs={"media": "ingest", "audio": "normalize", "voice": "voice"},
            weight=1.0,
        ),
    ),
    options_model=DubOptions,
    source_schemes=MEDIA_SOURCES,
    check=check,
    result_artifact="dub.json",
    produces=(
        "application/json",
        "audio/wav",
        "video/mp4",
        "video/x-matroska",
        "application/x-subrip",
        "text/vtt",
    ),
    media_result=True,
    meter=("normalize", "duration"),
)

__all__ = ["PIPELINE", "check"]
