"""What this deployment's engines can do, known without loading a model, so a submit that asks for
more is refused at once (HTTP 422 naming what is possible) instead of failing late in a worker.

Built once per process from its settings (`Services.capabilities`): the Whisper model catalogue, and
the translation pairs and speech voices discovered from the installed engines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mediajobs.domain import Job
from mediajobs.engines import flite
from mediajobs.engines.apertium import Translator, installed_translator
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.engines.espeak import Voices, installed_voices
from mediajobs.errors import InvalidRequest
from mediajobs.settings import Settings
from mediajobs.textio import TEXT_SUFFIXES


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitInput:
    """What a submit's source turned out to be, for the checks that depend on it."""

    filename: str | None = None  # an upload's file name
    job: Job | None = None  # a `job://` source: the caller's finished job


log = logging.getLogger(__name__)

OptionCheck = Callable[["Capabilities", dict[str, Any], SubmitInput], dict[str, Any]]


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

    def check(
        self, pipeline: str, options: dict[str, Any], given: SubmitInput | None = None
    ) -> dict[str, Any]:
        """`options` (already valid for the pipeline) checked against the engines and the input;
        InvalidRequest when an engine cannot do what they ask. Answers the options to store (with
        what the input implies filled in)."""
        check = _CHECKS.get(pipeline)
        return options if check is None else check(self, options, given or SubmitInput())


MEDIA_PIPELINES = frozenset({"synthesize", "dub"})  # the pipelines whose result a media pipeline can read


def _check_media_input(given: SubmitInput) -> None:
    if given.job is not None and given.job.pipeline not in MEDIA_PIPELINES:
        raise InvalidRequest(
            f"job {given.job.id} ({given.job.pipeline}) has no audio or video result; "
            f"a media source job is one of: {', '.join(sorted(MEDIA_PIPELINES))}",
            code="source_job_has_no_media",
        )


def _check_transcribe(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    _check_media_input(given)
    caps.models.check(options.get("model"), options.get("language"), str(options.get("task") or "transcribe"))
    return options


def _check_text_input(given: SubmitInput) -> None:
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


def _check_translate(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    _check_text_input(given)
    source = options.get("source_language")
    if source is None and given.job is not None:
        source = job_language(given.job)
    if source is None:
        raise InvalidRequest(
            "source_language is required unless the input is a job that detected its language",
            code="invalid_options",
        )
    caps.translator.route(str(source), str(options["target_language"]))
    return {**options, "source_language": source}


def _check_synthesize(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    _check_text_input(given)
    speech_voice(str(options.get("engine") or "espeak-ng"), str(options["language"]), options.get("voice"))
    return options


def speech_voice(engine: str, language: str, voice: str | None) -> str:
    """The speech engine's voice for this language and `voice` option; InvalidRequest if it has none."""
    if engine == flite.ENGINE_NAME:
        return flite.check(flite.installed_voices(), language, voice)
    return installed_voices().check(language, voice)


def _check_dub(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    _check_media_input(given)
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
    caps.voices.check(target, None)
    return options


_CHECKS: dict[str, OptionCheck] = {
    "dub": _check_dub,
    "transcribe": _check_transcribe,
    "translate": _check_translate,
    "synthesize": _check_synthesize,
}

__all__ = ["Capabilities", "SubmitInput", "job_language", "speech_voice"]
