"""What this deployment's engines can do, known without loading a model, so a submit that asks for
more is refused at once (HTTP 422 naming what is possible) instead of failing late in a worker.

Built once per process from its settings (`Services.capabilities`): the Whisper model catalogue, and
the translation pairs and speech voices discovered from the installed engines.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mediajobs.audioformats import AudioFormat, check_format, installed_encoders
from mediajobs.domain import Job, Pipeline, Upload
from mediajobs.engines import flite
from mediajobs.engines.apertium import Translator, installed_translator
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.engines.espeak import Voices, installed_voices
from mediajobs.settings import Settings


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitInput:
    """What a submit's source turned out to be, for the checks that depend on it."""

    filename: str | None = None  # an upload's file name
    job: Job | None = None  # a `job://` source: the caller's finished job
    media_result: bool = False  # that job's pipeline makes audio or video
    media_pipelines: tuple[str, ...] = ()  # the pipelines that do (for the error message)
    text: str | None = None  # the `text` of a JSON submit (stored as an upload named `text.txt`)
    # the caller's upload of this id (NotFound if it is not theirs): files the options name
    find_upload: Callable[[uuid.UUID], Upload] | None = None


log = logging.getLogger(__name__)


class Capabilities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._models: ModelCatalog | None = None

    @property
    def models(self) -> ModelCatalog:
        with self._lock:
            if self._models is None:
                self._models = ModelCatalog(self.settings)
            return self._models

    @property
    def voices(self) -> Voices:
        """The installed espeak-ng languages and voice variants (discovered once per process)."""
        return installed_voices()

    @property
    def translator(self) -> Translator:
        """The installed Apertium pairs (discovered once per process)."""
        return installed_translator()

    def discover(self) -> None:
        """Look at the installed engines now (at start-up) rather than at the first submit."""
        models, pairs, voices = self.models.models(), self.translator.pairs, self.voices.languages
        log.info(
            "engines: %d speech models, %d translation pairs (%s), %d speech languages",
            len(models),
            len(pairs),
            self.translator.describe_pairs(),
            len(voices),
        )

    def audio_format(self, name: str) -> AudioFormat:
        """The audio format `name` if this machine's ffmpeg can encode it; else InvalidRequest."""
        return check_format(name, installed_encoders())

    def speech_voice(self, engine: str, language: str, voice: str | None) -> str:
        """The speech engine's voice for this language and `voice`; InvalidRequest if it has none."""
        return speech_voice(engine, language, voice)

    def check(
        self, pipeline: Pipeline, options: dict[str, Any], given: SubmitInput | None = None
    ) -> dict[str, Any]:
        """`options` (already valid for the pipeline) checked against the engines and the input by
        the pipeline's own check; InvalidRequest when an engine cannot do what they ask. Answers the
        options to store (with what the input implies filled in)."""
        if pipeline.check is None:
            return options
        return pipeline.check(self, options, given or SubmitInput())


def speech_voice(engine: str, language: str, voice: str | None) -> str:
    """The speech engine's voice for this language and `voice` option; InvalidRequest if it has none."""
    if engine == flite.ENGINE_NAME:
        return flite.check(flite.installed_voices(), language, voice)
    return installed_voices().check(language, voice)


__all__ = ["Capabilities", "SubmitInput", "speech_voice"]
