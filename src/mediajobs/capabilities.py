"""What this deployment's engines can do, known without loading a model, so a submit that asks for
more is refused at once (HTTP 422 naming what is possible) instead of failing late in a worker.

Built once per process from its settings (`Services.capabilities`): the Whisper model catalogue, and
the translation pairs and speech voices discovered from the installed engines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mediajobs.engines.catalog import ModelCatalog
from mediajobs.settings import Settings

OptionCheck = Callable[["Capabilities", dict[str, Any]], dict[str, Any]]


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

    def check(self, pipeline: str, options: dict[str, Any]) -> dict[str, Any]:
        """`options` (already valid for the pipeline) checked against the engines; InvalidRequest
        when an engine cannot do what they ask. Answers the options to store (defaults filled in)."""
        check = _CHECKS.get(pipeline)
        return options if check is None else check(self, options)


def _check_transcribe(caps: Capabilities, options: dict[str, Any]) -> dict[str, Any]:
    caps.models.check(options.get("model"), options.get("language"), str(options.get("task") or "transcribe"))
    return options


_CHECKS: dict[str, OptionCheck] = {"transcribe": _check_transcribe}

__all__ = ["Capabilities"]
