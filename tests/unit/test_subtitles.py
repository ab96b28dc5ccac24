"""Subtitle cues shaped from word timings, and SRT/VTT files: pure functions, hand-made transcripts."""

from __future__ import annotations

import itertools

import pytest

from mediajobs.engines import Segment, Transcript, Word
from mediajobs.subtitles import (
    Cue,
    CueLimits,
    clamp_transcript,
    parse_srt,
    parse_vtt,
    shape_cues,
    to_srt,
    to_vtt,
    wrap,
)

LONG_TEXT = (
    "The weather today is sunny and warm, so we will walk to the park after lunch and stay there "
    "until the evening. My sister likes to read books in the garden while the children are playing "
    "football near the river, and my brother cooks dinner for everyone. Please close the door."
)


def timed(text: str, start: float = 0.0, per_word: float = 0.35, gap: float = 0.05) -> tuple[Word, ...]:
    words, at = [], start
    for token in text.split():
        words.append(Word(start=at, end=at + per_word, word=" " + token, probability=0.9))
        at += per_word + gap
    return tuple(words)


def one_segment(text: str, *, duration: float = 600.0, **kw: float) -> Transcript:
    words = timed(text, **kw)
    segment = Segment(start=words[0].start, end=words[-1].end, text=text, words=words)
    return Transcript(language="en", duration=duration, segments=(segment,))


def check_cues(cues: list[Cue], limits: CueLimits, duration: float) -> None:
    for cue in cues:
        assert 1 <= len(cue.lines) <= limits.max_lines, cue
        assert all(len(line) <= limits.max_line_chars for line in cue.lines), cue
        assert 0 <= cue.start < cue.end <= duration, cue
        assert cue.end - cue.start <= limits.max_cue_seconds + 1e-9, cue
        assert len(cue.text) / (cue.end - cue.start) <= limits.max_chars_per_second + 1e-6, cue
    for before, after in itertools.pairwise(cues):
        assert before.end <= after.start, (before, after)


def test_a_long_segment_becomes_subtitle_sized_cues_that_keep_every_word() -> None:
    limits = CueLimits()
    transcript = one_segment(LONG_TEXT)
    cues = shape_cues(transcript, limits)
    check_cues(cues, limits, transcript.duration)
    assert " ".join(" ".join(c.lines) for c in cues) == LONG_TEXT
    assert len(cues) >= 5


def test_cues_end_after_sentences_and_prefer_commas() -> None:
    cues = shape_cues(one_segment(LONG_TEXT))
    texts = [" ".join(c.lines) for c in cues]
    assert any(t.endswith("evening.") for t in texts)
    assert any(t.endswith("everyone.") for t in texts)
    assert texts[-1] == "Please close the door."
    assert any(t.endswith(",") for t in texts)  # a full cue split after its clause


@pytest.mark.parametrize(
    ("max_line_chars", "max_lines", "max_cue_seconds"),
    [(42, 2, 7.0), (20, 1, 3.0), (32, 3, 5.0), (60, 2, 2.0)],
)
def test_the_limits_are_options(max_line_chars: int, max_lines: int, max_cue_seconds: float) -> None:
    limits = CueLimits(max_line_chars=max_line_chars, max_lines=max_lines, max_cue_seconds=max_cue_seconds)
    transcript = one_segment(LONG_TEXT)
    cues = shape_cues(transcript, limits)
    check_cues(cues, limits, transcript.duration)
    assert " ".join(" ".join(c.lines) for c in cues) == LONG_TEXT


def test_a_pause_ends_a_cue() -> None:
    first = timed("Hello there.", start=0.0)
    second = timed("after a long silence", start=5.0)
    transcript = Transcript(
        language="en",
        duration=20.0,
        segments=(
            Segment(start=0.0, end=6.5, text="Hello there after a long silence", words=first + second),
        ),
    )
    cues = shape_cues(transcript)
    assert [c.text for c in cues] == ["Hello there.", "after a long silence"]
    assert cues[0].start == 0.0
    assert cues[0].end <= 5.0
    assert cues[1].start == 5.0


def test_a_short_cue_is_held_for_a_second_when_the_silence_allows() -> None:
    words = (Word(start=2.0, end=2.2, word="Yes."),)
    transcript = Transcript(
        language="en", duration=10.0, segments=(Segment(start=2.0, end=2.2, text="Yes.", words=words),)
    )
    assert shape_cues(transcript) == [Cue(start=2.0, end=3.0, lines=("Yes.",))]


def test_squeezed_words_borrow_time_from_the_silence_around_them() -> None:
    text = " ".join(["word"] * 23)
    squeezed = timed(text, start=30.0, per_word=0.02, gap=0.004)  # 23 words in 0.55 s
    transcript = Transcript(
        language="en", duration=60.0, segments=(Segment(start=30.0, end=30.55, text=text, words=squeezed),)
    )
    limits = CueLimits()
    cues = shape_cues(transcript, limits)
    check_cues(cues, limits, transcript.duration)


def test_cues_never_overlap_even_when_words_do() -> None:
    words = (
        Word(start=0.0, end=1.5, word="one"),
        Word(start=1.0, end=1.2, word="two."),
        Word(start=1.1, end=2.0, word="three"),
        Word(start=0.9, end=3.0, word="four."),
    )
    transcript = Transcript(
        language="en", duration=4.0, segments=(Segment(start=0, end=3, text="x", words=words),)
    )
    cues = shape_cues(transcript, CueLimits(max_line_chars=10, max_lines=1))
    check_cues(cues, CueLimits(max_line_chars=10, max_lines=1), 4.0)


def test_segments_without_words_are_spread_by_word_length() -> None:
    transcript = Transcript(
        language="en",
        duration=40.0,
        segments=(Segment(start=0.0, end=30.0, text=LONG_TEXT),),
    )
    limits = CueLimits()
    cues = shape_cues(transcript, limits)
    check_cues(cues, limits, 40.0)
    assert " ".join(" ".join(c.lines) for c in cues) == LONG_TEXT


def test_clamping_keeps_segments_words_and_cues_inside_the_media() -> None:
    # what Whisper gives for a 1.43 s clip: a segment and a word ending on its 2 s window
    words = (Word(start=0.0, end=0.6, word=" Hello"), Word(start=0.7, end=2.0, word=" world."))
    raw = Transcript(
        language="en", duration=2.0, segments=(Segment(start=0.0, end=2.0, text="Hello world.", words=words),)
    )
    clamped = clamp_transcript(raw, 1.43)
    assert clamped.duration == 1.43
    assert clamped.segments[0].end == 1.43
    assert clamped.segments[0].words[-1].end == 1.43
    assert shape_cues(clamped) == [Cue(start=0.0, end=1.43, lines=("Hello world.",))]
    beyond = clamp_transcript(
        Transcript(language="en", duration=9, segments=(Segment(start=3.0, end=4.0, text="late"),)), 2.5
    )
    assert (beyond.segments[0].start, beyond.segments[0].end) == (2.5, 2.5)
    backwards = clamp_transcript(
        Transcript(language="en", duration=9, segments=(Segment(start=5, end=4, text="b"),))
    )
    assert (backwards.segments[0].start, backwards.segments[0].end) == (5.0, 5.0)


def test_wrap_balances_two_lines() -> None:
    words = ["The", "children", "are", "playing", "football", "near", "the", "river"]
    assert wrap(words, CueLimits()) == ("The children are playing", "football near the river")
    assert wrap(["short"], CueLimits()) == ("short",)
    assert wrap(["x" * 60], CueLimits()) == ("x" * 60,)  # a word longer than a line keeps its own line


MOBILE = CueLimits(max_line_chars=32, max_cue_seconds=4.0)  # a common setting for phones


def texts_of(cues: list[Cue]) -> list[str]:
    return [" ".join(c.lines) for c in cues]


def test_a_long_sentence_leaves_no_one_word_cue() -> None:
    # greedy filling gave "We met at the old mill by / the river and then walked", then "home." alone
    transcript = one_segment("We met at the old mill by the river and then walked home.", per_word=0.5)
    assert texts_of(shape_cues(transcript)) == [
        "We met at the old mill by the river",
        "and then walked home.",
    ]
    # and "in the garden with their" then "new football." alone
    text = "When the rain stopped, the children ran outside to play in the garden with their new football."
    cues = shape_cues(one_segment(text))
    check_cues(cues, CueLimits(), 600.0)
    assert all(len(t.split()) > 2 for t in texts_of(cues)), cues
    assert not any(t.endswith(" their") for t in texts_of(cues)), cues


def test_a_full_cue_ends_after_a_comma_and_before_and() -> None:
    text = (
        "The storm knocked down two trees in our street on Tuesday, and nobody in the village seemed to "
        "mind at all."
    )
    cues = shape_cues(one_segment(text), MOBILE)
    check_cues(cues, MOBILE, 600.0)
    assert texts_of(cues) == [
        "The storm knocked down two trees",
        "in our street on Tuesday,",
        "and nobody in the village seemed to mind at all.",
    ]


@pytest.mark.parametrize("limits", [CueLimits(), MOBILE], ids=["defaults", "mobile"])
@pytest.mark.parametrize(
    ("text", "wholes"),
    [
        (
            "Last year the whole team flew from London to New York with Dr. Smith and two of her students.",
            ["New York", "Dr. Smith"],
        ),
        ("We packed the car and drove almost 12 kilometres along the coast before lunch.", ["12 kilometres"]),
    ],
)
def test_names_and_numbers_with_their_units_stay_on_one_line(
    limits: CueLimits, text: str, wholes: list[str]
) -> None:
    cues = shape_cues(one_segment(text), limits)
    check_cues(cues, limits, 600.0)
    lines = [line for cue in cues for line in cue.lines]
    for whole in wholes:
        assert any(whole in line for line in lines), (whole, lines)


@pytest.mark.parametrize(
    "layout",
    [
        "He finally met Dr. Smith | and her colleague at the station",
        "They bought a new car | for 12,000 dollars last spring",
        "Our flight to New York was delayed | by almost three hours",
        "We waited for an hour, | and the last train arrived from the city",
    ],
)
def test_lines_break_between_phrases_when_balance_allows(layout: str) -> None:
    lines = tuple(layout.split(" | "))
    assert wrap(" ".join(lines).split(), CueLimits()) == lines


CUES = [
    Cue(start=0.0, end=2.5, lines=("The weather today", "is sunny.")),
    Cue(start=3661.046, end=3662.999, lines=("An hour later.",)),
]


def test_srt_layout() -> None:
    assert to_srt(CUES) == (
        "1\n00:00:00,000 --> 00:00:02,500\nThe weather today\nis sunny.\n"
        "\n"
        "2\n01:01:01,046 --> 01:01:02,999\nAn hour later.\n\n"
    )


def test_vtt_layout() -> None:
    assert to_vtt(CUES) == (
        "WEBVTT\n"
        "\n"
        "1\n00:00:00.000 --> 00:00:02.500\nThe weather today\nis sunny.\n"
        "\n"
        "2\n01:01:01.046 --> 01:01:02.999\nAn hour later.\n"
    )


@pytest.mark.parametrize(("render", "parse"), [(to_srt, parse_srt), (to_vtt, parse_vtt)])
def test_round_trip(render: object, parse: object) -> None:
    assert parse(render(CUES)) == CUES  # type: ignore[operator]


def test_cue_text_cannot_break_the_file() -> None:
    tricky = [Cue(start=1.0, end=2.0, lines=("a --> b", "", "  <i>&</i>  ", "second line"))]
    expected = [Cue(start=1.0, end=2.0, lines=("a -> b", "<i>&</i>", "second line"))]
    assert parse_srt(to_srt(tricky)) == expected
    vtt = to_vtt(tricky)
    assert "&lt;i&gt;&amp;&lt;/i&gt;" in vtt
    assert parse_vtt(vtt) == expected


def test_parse_vtt_skips_notes_and_tags_and_accepts_short_times_and_settings() -> None:
    text = (
        "WEBVTT - made by hand\n\nNOTE a comment\n\n"
        "00:01.000 --> 00:02.500 align:start\n<v Bob>hello</v>\n\n"
        "intro\n00:00:03.000 --> 00:00:04.000\nworld &amp; all\n"
    )
    assert parse_vtt(text) == [
        Cue(start=1.0, end=2.5, lines=("hello",)),
        Cue(start=3.0, end=4.0, lines=("world & all",)),
    ]


def test_parse_srt_accepts_crlf_and_bom() -> None:
    text = (
        "\ufeff1\r\n00:00:01,000 --> 00:00:02,000\r\nhi\r\n\r\n"
        "2\r\n00:00:03,000 --> 00:00:04,000\r\nthere\r\n"
    )
    assert parse_srt(text) == [
        Cue(start=1.0, end=2.0, lines=("hi",)),
        Cue(start=3.0, end=4.0, lines=("there",)),
    ]


@pytest.mark.parametrize("bad", ["1\nnot a timing\ntext\n", "hello\n00:00:01,000 --> 00:00:02,000\nx\n"])
def test_parse_srt_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="SubRip"):
        parse_srt(bad)


def test_parse_vtt_requires_the_header() -> None:
    with pytest.raises(ValueError, match="WebVTT"):
        parse_vtt("00:00:01.000 --> 00:00:02.000\nhi\n")


def test_a_cue_with_no_time_of_its_own_borrows_from_the_one_before() -> None:
    # decoders can stamp a run of words with the time of the words before them
    words = (
        *timed("The first sentence is said slowly here.", start=0.0, per_word=0.5),
        *(Word(start=3.4, end=3.4, word=w) for w in ["and", "then", "everything", "at", "once."]),
        *timed("Later on.", start=3.4),
    )
    transcript = Transcript(
        language="en", duration=6.0, segments=(Segment(start=0, end=4, text="x", words=words),)
    )
    limits = CueLimits(max_line_chars=20, max_lines=1)
    cues = shape_cues(transcript, limits)
    assert all(c.end - c.start > 0 for c in cues), cues
    for before, after in itertools.pairwise(cues):
        assert before.end <= after.start
    assert " ".join(c.text for c in cues).split() == [w.word.strip() for w in words]


def test_words_with_no_time_to_be_read_are_not_emitted_and_lone_punctuation_joins_its_word() -> None:
    loop = " ".join(["I can't do that,"] * 12)
    debris = tuple(
        Word(start=10.0 + i * 0.001, end=10.0 + i * 0.001, word=w) for i, w in enumerate(loop.split())
    )
    words = (
        *timed("Hello there", start=0.0),
        Word(start=0.8, end=0.9, word=" ."),
        Word(start=0.9, end=0.95, word=" ."),
        *debris,
        *timed("Please close the door.", start=10.05),
    )
    transcript = Transcript(
        language="en", duration=20, segments=(Segment(start=0, end=12, text="x", words=words),)
    )
    limits = CueLimits()
    cues = shape_cues(transcript, limits)
    check_cues(cues, limits, 20)
    assert cues[0].text == "Hello there."
    assert cues[-1].text.endswith("Please close the door.")
