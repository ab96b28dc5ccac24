"""Transcript formats: pure functions, checked on hand-made transcripts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mediajobs.engines import Segment, Transcript, Word
from mediajobs.formats import Cue, parse_srt, parse_vtt, to_json, to_srt, to_text, to_vtt

Render = Callable[[Transcript], str]
Parse = Callable[[str], list[Cue]]


def transcript(*segments: Segment) -> Transcript:
    return Transcript(language="en", duration=3725.5, segments=segments)


BASIC = transcript(
    Segment(start=0.0, end=2.5, text=" The weather today is sunny. "),
    Segment(start=2.5, end=2.5, text="   "),  # empty: skipped everywhere
    Segment(start=3661.0456, end=3662.9994, text="An hour later."),
)


def test_srt_layout() -> None:
    assert to_srt(BASIC) == (
        "1\n00:00:00,000 --> 00:00:02,500\nThe weather today is sunny.\n"
        "\n"
        "2\n01:01:01,046 --> 01:01:02,999\nAn hour later.\n"
    )


def test_vtt_layout() -> None:
    assert to_vtt(BASIC) == (
        "WEBVTT\n"
        "\n"
        "1\n00:00:00.000 --> 00:00:02.500\nThe weather today is sunny.\n"
        "\n"
        "2\n01:01:01.046 --> 01:01:02.999\nAn hour later.\n"
    )


def test_text_has_one_line_per_spoken_segment() -> None:
    assert to_text(BASIC) == "The weather today is sunny.\nAn hour later.\n"
    assert to_text(transcript()) == ""


def test_json_shape() -> None:
    doc = to_json(BASIC)
    assert doc == {
        "text": "The weather today is sunny. An hour later.",
        "language": "en",
        "duration": 3725.5,
        "segments": [
            {"id": 1, "start": 0.0, "end": 2.5, "text": "The weather today is sunny."},
            {"id": 2, "start": 3661.046, "end": 3662.999, "text": "An hour later."},
        ],
    }


def test_json_words_only_when_present() -> None:
    words = (
        Word(start=0.0, end=0.4, word=" Hello", probability=0.98765),
        Word(start=0.5, end=0.4, word=" you"),
    )
    doc = to_json(transcript(Segment(start=0.0, end=1.0, text="Hello you", words=words)))
    assert doc["segments"][0]["words"] == [
        {"start": 0.0, "end": 0.4, "word": "Hello", "probability": 0.9877},
        {"start": 0.5, "end": 0.5, "word": "you", "probability": None},
    ]
    assert "words" not in to_json(BASIC)["segments"][0]


@pytest.mark.parametrize(("render", "parse"), [(to_srt, parse_srt), (to_vtt, parse_vtt)])
def test_round_trip(render: Render, parse: Parse) -> None:
    assert parse(render(BASIC)) == [
        (0.0, 2.5, "The weather today is sunny."),
        (3661.046, 3662.999, "An hour later."),
    ]


@pytest.mark.parametrize(("render", "parse"), [(to_srt, parse_srt), (to_vtt, parse_vtt)])
def test_end_never_precedes_start(render: Render, parse: Parse) -> None:
    backwards = transcript(
        Segment(start=5.0, end=4.2, text="backwards"), Segment(start=-0.3, end=0.2, text="x")
    )
    assert parse(render(backwards)) == [(5.0, 5.0, "backwards"), (0.0, 0.2, "x")]


def test_cue_text_cannot_break_the_file() -> None:
    tricky = transcript(Segment(start=1.0, end=2.0, text="a --> b\n\n  <i>&</i>  \nsecond line"))
    assert parse_srt(to_srt(tricky)) == [(1.0, 2.0, "a -> b\n<i>&</i>\nsecond line")]
    vtt = to_vtt(tricky)
    assert "&lt;i&gt;&amp;&lt;/i&gt;" in vtt
    assert parse_vtt(vtt) == [(1.0, 2.0, "a -> b\n<i>&</i>\nsecond line")]


def test_parse_vtt_skips_notes_and_accepts_short_times_and_settings() -> None:
    text = (
        "WEBVTT - made by hand\n\nNOTE a comment\n\n"
        "00:01.000 --> 00:02.500 align:start\nhello\n\n"
        "intro\n00:00:03.000 --> 00:00:04.000\nworld\n"
    )
    assert parse_vtt(text) == [(1.0, 2.5, "hello"), (3.0, 4.0, "world")]


def test_parse_srt_accepts_crlf_and_bom() -> None:
    text = (
        "\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\nhi\r\n\r\n"
        "2\r\n00:00:03,000 --> 00:00:04,000\r\nthere\r\n"
    )
    assert parse_srt(text) == [(1.0, 2.0, "hi"), (3.0, 4.0, "there")]


@pytest.mark.parametrize("bad", ["1\nnot a timing\ntext\n", "hello\n00:00:01,000 --> 00:00:02,000\nx\n"])
def test_parse_srt_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match=r"timing|number"):
        parse_srt(bad)


def test_parse_vtt_requires_the_header() -> None:
    with pytest.raises(ValueError, match="WEBVTT"):
        parse_vtt("00:00:01.000 --> 00:00:02.000\nhi\n")
