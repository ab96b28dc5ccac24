"""The engines of one worker process: one lazily built slot per engine port.

A slot is a typed key (`SPEECH_TO_TEXT: Slot[SpeechToText]`) declared beside its port. A process
registers a factory per slot; the first stage that asks builds the engine and the process keeps it,
so models load once per process, and a worker that only runs one stage kind never loads another
kind's model. Adding an engine is one module (the port, its slot, an implementation) plus one
registration in defaults.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Slot(Generic[T]):
    """A typed key for one engine port."""

    name: str


class EngineUnavailable(LookupError):
    """Raised when a stage asks for an engine this process has no factory for."""


class Engines:
    def __init__(self) -> None:
        self._factories: dict[Slot[Any], Callable[[], Any]] = {}
        self._built: dict[Slot[Any], Any] = {}
        self._lock = threading.Lock()

    def register(self, slot: Slot[T], factory: Callable[[], T]) -> Engines:
        with self._lock:
            self._factories[slot] = factory
            self._built.pop(slot, None)
        return self

    def get(self, slot: Slot[T]) -> T:
        """The slot's engine, built on first use."""
        with self._lock:
            if slot in self._built:
                engine: T = self._built[slot]
                return engine
            factory = self._factories.get(slot)
            if factory is None:
                raise EngineUnavailable(f"no {slot.name} engine is registered in this process")
            engine = factory()
            self._built[slot] = engine
            return engine

    def loaded(self) -> list[str]:
        """Names of the slots whose engine has been built."""
        with self._lock:
            return sorted(slot.name for slot in self._built)

    def close(self) -> None:
        """Close the engines that hold resources (engine processes)."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for engine in built:
            close = getattr(engine, "close", None)
            if callable(close):
                close()


__all__ = ["EngineUnavailable", "Engines", "Slot"]
