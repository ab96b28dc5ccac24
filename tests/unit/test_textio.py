"""Reading and writing cues (SRT, WebVTT, text) and routing translations over language pairs."""

from __future__ import annotations

import pytest

from mediajobs.engines.apertium import Translator, decode, encode
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.textio import Cue, parse, sentences, text_format, to_srt, to_vtt

SRT = "1\n00:00:01,250 --> 00:00:03,000\nOne.\n\n2\n01:02:03,004 --> 01:02:05,999\nTwo\nlines.\n"


def test_srt_and_vtt_round_trip_keeps_cues_and_milliseconds() -> None:
    cues = parse(SRT.encode(), "srt")
    assert cues == [
        Cue(text="One.", start=1.25, end=3.0),
        Cue(text="Two\nlines.", start=3723.004, end=3725.999),
    ]
    assert parse(to_srt(cues).encode(), "srt") == cues
    vtt = to_vtt(cues)
    assert "01:02:03.004 --> 01:02:05.999" in vtt
    assert parse(vtt.encode(), "vtt") == cues


def test_plain_text_is_one_cue_per_paragraph_and_bad_input_is_refused() -> None:
    assert [c.text for c in parse(b"First one.\nstill first.\n\n\nSecond.", "txt")] == [
        "First one.\nstill first.",
        "Second.",
    ]
    with pytest.raises(PermanentError) as caught:
        parse(b"\xff\xfe\x00", "txt")
    assert caught.value.code == "invalid_text"
    with pytest.raises(PermanentError):
        text_format("movie.mkv")
    assert text_format("A.SRT") == "srt"
    assert sentences("Hello there. How are you?\n\nFine!") == ["Hello there.", "How are you?", "Fine!"]


def test_lines_survive_the_engine_document() -> None:
    lines = ["a < b & c", "", "third"]
    assert decode(encode(lines), 3) == lines
    with pytest.raises(PermanentError):
        decode(encode(lines[:2]), 3)


def test_routes_chain_pairs_and_refusals_name_the_pairs() -> None:
    translator = Translator({("en", "es"): "eng-spa", ("es", "pt"): "es-pt", ("es", "en"): "spa-eng"})
    assert [h.mode for h in translator.route("en", "pt")] == ["eng-spa", "es-pt"]
    assert [h.mode for h in translator.route("en-US", "es")] == ["eng-spa"]
    with pytest.raises(InvalidRequest) as caught:
        translator.route("pt", "en")
    assert caught.value.code == "unsupported_language_pair"
    assert "en->es, es->en, es->pt" in caught.value.message
    assert translator.reachable() == {"en": ["es", "pt"], "es": ["en", "pt"]}
