"""The script engine port: a video's scenes written from a brief (an LLM, later).

No engine ships and nothing registers this slot yet: today a video's scenes come from its user (the
`script` stage reads `text` or `options.scenes`). The seam is kept here so that a deployment (a
plug-in, docs/plugins.md) can add one with `registry.add_engine(SCRIPT_WRITER, factory)`, and the
`script` stage can ask `ctx.engines.get(SCRIPT_WRITER)` for scenes when a job gives a brief instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mediajobs.cancel import CancelToken

from .registry import Slot


@dataclass(frozen=True, kw_only=True, slots=True)
class WrittenScene:
    """One scene as a script engine writes it (the shape of `options.scenes` items)."""

    text: str
    title: str | None = None


class ScriptWriter(Protocol):
    """Writes a video's scenes from a brief, in a language, at most `max_scenes` of them."""

    name: str

    def write(
        self, brief: str, *, language: str, max_scenes: int, cancel: CancelToken
    ) -> list[WrittenScene]: ...


SCRIPT_WRITER: Slot[ScriptWriter] = Slot("script_writer")
"""The registry slot of a script engine (none is registered by default)."""

__all__ = ["SCRIPT_WRITER", "ScriptWriter", "WrittenScene"]
