"""The engine registry: typed slots, built once on first use, never for a slot nobody asks for."""

from __future__ import annotations

import threading

import pytest

from mediajobs.engines import SPEECH_TO_TEXT, Engines, EngineUnavailable, Slot
from mediajobs.testing import FakeSpeechToText, engines_with


class Translator:
    closed = False

    def close(self) -> None:
        self.closed = True


TRANSLATION: Slot[Translator] = Slot("translation")


def test_a_slot_is_built_on_first_use_and_then_kept() -> None:
    built: list[str] = []

    def speech() -> FakeSpeechToText:
        built.append("stt")
        return FakeSpeechToText()

    def translator() -> Translator:
        built.append("mt")
        return Translator()

    engines = Engines().register(SPEECH_TO_TEXT, speech).register(TRANSLATION, translator)
    assert built == []  # registering builds nothing
    first = engines.get(SPEECH_TO_TEXT)
    assert engines.get(SPEECH_TO_TEXT) is first
    assert built == ["stt"]  # a worker that only transcribes never loads the translator
    assert engines.loaded() == ["speech_to_text"]


def test_concurrent_first_uses_build_one_engine() -> None:
    calls = []

    def slow_build() -> Translator:
        calls.append(1)
        threading.Event().wait(0.05)  # a model load takes a while; others must wait for this one
        return Translator()

    engines = Engines().register(TRANSLATION, slow_build)
    threads = [threading.Thread(target=engines.get, args=(TRANSLATION,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]


def test_an_unregistered_slot_says_so() -> None:
    with pytest.raises(EngineUnavailable, match="no translation engine"):
        Engines().get(TRANSLATION)


def test_close_closes_what_was_built() -> None:
    engines = Engines().register(TRANSLATION, Translator)
    translator = engines.get(TRANSLATION)
    engines.close()
    assert translator.closed
    assert engines.loaded() == []


def test_engines_with_a_fake() -> None:
    fake = FakeSpeechToText()
    assert engines_with(fake).get(SPEECH_TO_TEXT) is fake
