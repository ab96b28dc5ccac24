"""Reading and writing cues (SRT, WebVTT, text) and routing translations over language pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediajobs import subtitles
from mediajobs.domain.options import TranscribeOptions, TranslateOptions
from mediajobs.engines import Segment, Transcript, Word
from mediajobs.engines.apertium import Translator, decode, encode
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.stages.transcribe import OUTPUTS as TRANSCRIBE_OUTPUTS
from mediajobs.stages.translate import _write as write_translation
from mediajobs.textio import (
    PARAGRAPH_PAUSE_SECONDS,
    Cue,
    parse,
    sentences,
    text_format,
    to_srt,
    to_text,
    to_vtt,
)

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


TIMED = [
    Cue(text="The weather today\nis sunny.", start=0.0, end=2.0),
    Cue(text="We walk to the park.", start=2.4, end=4.0),
    Cue(text="", start=4.0, end=4.5),  # a cue the translation left empty
    Cue(text="After lunch.", start=4.5 + PARAGRAPH_PAUSE_SECONDS, end=8.0),  # a long pause before it
    Cue(text="  Then home. ", start=9.9, end=11.0),
]
TIMED_TEXT = "The weather today is sunny.\nWe walk to the park.\n\nAfter lunch.\nThen home.\n"


def test_text_is_a_line_per_cue_and_a_paragraph_after_a_long_pause() -> None:
    assert to_text(TIMED) == TIMED_TEXT
    shaped = [
        subtitles.Cue(start=c.start or 0.0, end=c.end or 0.0, lines=tuple(c.text.split("\n"))) for c in TIMED
    ]
    assert to_text(shaped) == TIMED_TEXT  # the subtitles' cues read the same
    assert to_text([]) == ""


def test_untimed_text_keeps_its_paragraphs() -> None:
    cues = parse(b"First one.\nstill first.\n\n\nSecond.\n", "txt")
    assert to_text(cues) == "First one.\nstill first.\n\nSecond.\n"
    assert parse(to_text(cues).encode(), "txt") == cues


def test_every_txt_artifact_follows_the_rule(tmp_path: Path) -> None:
    # one engine segment, shaped into several cues: the transcript's text has a line per cue
    words = tuple(Word(start=i * 0.4, end=i * 0.4 + 0.3, word=f" word{i}") for i in range(40))
    segment = Segment(start=0.0, end=16.0, text=" ".join(w.word for w in words), words=words)
    transcript = Transcript(language="en", duration=20.0, segments=(segment,))
    cues = subtitles.shape_cues(transcript)
    render = {name: r for name, _, r in TRANSCRIBE_OUTPUTS}["transcript.txt"]
    assert render(transcript, cues, TranscribeOptions()) == to_text(cues)
    assert len(cues) > 1
    assert to_text(cues).count("\n") == len(cues)

    options = TranslateOptions(source_language="en", target_language="es", bilingual=True)
    english = [Cue(text=c.text or "Hm.", start=c.start, end=c.end) for c in TIMED]
    write_translation(tmp_path, english, TIMED, options, [])
    assert (tmp_path / "translation.txt").read_text() == TIMED_TEXT
    plain = [Cue(text="Uno.\nsigue."), Cue(text="Dos.")]
    write_translation(tmp_path, plain, plain, options, [])
    assert (tmp_path / "translation.txt").read_text() == "Uno.\nsigue.\n\nDos.\n"
    assert (tmp_path / "bilingual.txt").read_text() == "Uno.\nsigue.\nUno.\nsigue.\n\nDos.\nDos.\n"
