"""Transcript JSON: pure functions, checked on hand-made transcripts (its text: test_textio.py)."""

from __future__ import annotations

from mediajobs.engines import Segment, Transcript, Word
from mediajobs.formats import to_json
from mediajobs.subtitles import Cue


def transcript(*segments: Segment) -> Transcript:
    return Transcript(language="en", duration=3725.5, segments=segments)


BASIC = transcript(
    Segment(start=0.0, end=2.5, text=" The weather today is sunny. "),
    Segment(start=2.5, end=2.5, text="   "),  # empty: skipped everywhere
    Segment(start=3661.0456, end=3662.9994, text="An hour later."),
)


def test_json_keeps_raw_segments_beside_the_cues() -> None:
    cues = [Cue(start=0.0, end=2.5, lines=("The weather", "today is sunny."))]
    doc = to_json(BASIC, cues)
    assert doc == {
        "text": "The weather today is sunny. An hour later.",
        "language": "en",
        "duration": 3725.5,
        "segments": [
            {"id": 1, "start": 0.0, "end": 2.5, "text": "The weather today is sunny."},
            {"id": 2, "start": 3661.046, "end": 3662.999, "text": "An hour later."},
        ],
        "cues": [{"id": 1, "start": 0.0, "end": 2.5, "text": "The weather\ntoday is sunny."}],
    }


def test_json_words_only_when_present_and_asked_for() -> None:
    words = (
        Word(start=0.0, end=0.4, word=" Hello", probability=0.98765),
        Word(start=0.5, end=0.4, word=" you"),
    )
    with_words = transcript(Segment(start=0.0, end=1.0, text="Hello you", words=words))
    assert to_json(with_words)["segments"][0]["words"] == [
        {"start": 0.0, "end": 0.4, "word": "Hello", "probability": 0.9877},
        {"start": 0.5, "end": 0.5, "word": "you", "probability": None},
    ]
    assert "words" not in to_json(with_words, words=False)["segments"][0]
    assert "words" not in to_json(BASIC)["segments"][0]
