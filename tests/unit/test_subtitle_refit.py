"""Translated subtitles laid back into the source's cues (subtitles/refit.py): passages of whole
sentences, cut back at good places near the source's cuts, within the lines and the reading speed."""

from __future__ import annotations

from mediajobs.subtitles import CueLimits
from mediajobs.subtitles.breaks import MID_PHRASE, ORDINARY, break_cost
from mediajobs.subtitles.refit import MAX_PASSAGE_CUES, Slot, lay_out, match_start_case, passages
from mediajobs.subtitles.words import SPANISH

LIMITS = CueLimits()


def test_a_passage_runs_until_a_cue_ends_a_sentence() -> None:
    texts = [
        "The company increased its revenue and",
        "grew by twelve percent last year.",
        "It was a good year.",
        "We met Dr.",  # a title: the name follows in the next cue
        "Smith at the station, and then",
        "we went home.",
    ]
    assert passages(texts) == [range(0, 2), range(2, 3), range(3, 6)]


def test_a_cue_of_dialogue_is_a_passage_of_its_own() -> None:
    texts = ["So we left and", "- Where to?\n- Home.", "nobody asked why."]
    assert passages(texts) == [range(0, 1), range(1, 2), range(2, 3)]


def test_speech_without_full_stops_is_cut_into_passages_at_the_cheapest_break() -> None:
    texts = [f"and the farmer number {i} sold his horses" for i in range(MAX_PASSAGE_CUES * 2)]
    texts[3] = "and the farmer sold his horses,"  # a clause ends here: the best place to cut
    runs = passages(texts)
    assert runs[0] == range(0, 4)
    assert all(len(run) <= MAX_PASSAGE_CUES for run in runs)
    assert [i for run in runs for i in run] == list(range(len(texts)))


def test_a_passage_that_starts_inside_a_sentence_is_translated_lower_case() -> None:
    assert (
        match_start_case("grew by twelve percent.", "Creció un doce por ciento.")
        == "creció un doce por ciento."
    )
    assert match_start_case("It grew.", "Creció.") == "Creció."
    assert match_start_case("and the UN said", "UN dijo") == "UN dijo"  # an acronym stays


def test_spanish_function_words_open_phrases() -> None:
    assert break_cost("al", "final", SPANISH) == MID_PHRASE
    assert break_cost("de", "su", SPANISH) == MID_PHRASE
    assert break_cost("puerto", "grande", SPANISH) == ORDINARY
    assert break_cost("ingresos", "y", SPANISH) < ORDINARY  # before a conjunction


def test_the_translation_is_cut_near_the_source_cuts_at_a_good_break() -> None:
    source = ["The company increased its revenue and", "grew by twelve percent last year."]
    spanish = "La empresa aumentó sus ingresos y creció un doce por ciento el año pasado."
    slots = [Slot(seconds=3.0, chars=len(source[0])), Slot(seconds=3.0, chars=len(source[1]))]

    first, second = lay_out(spanish, slots, LIMITS, "es")

    assert first == ("La empresa aumentó sus ingresos",)
    assert second == ("y creció un doce por ciento el año pasado.",)


def test_every_line_fits_and_no_cue_is_read_too_fast_when_a_neighbour_has_time() -> None:
    limits = CueLimits(max_line_chars=32)
    text = (
        "El granjero vendió tres caballos al final del verano, y su hermano pintó la valla de madera "
        "antes de la tormenta."
    )
    # the second cue is short on screen: its share of the text goes to its neighbours
    slots = [Slot(seconds=5.0, chars=50), Slot(seconds=1.2, chars=50), Slot(seconds=6.0, chars=50)]

    cues = lay_out(text, slots, limits, "es")

    assert len(cues) == 3
    assert " ".join(line for cue in cues for line in cue).split() == text.split()  # every word, in order
    assert all(len(line) <= 32 for cue in cues for line in cue)
    assert all(len(cue) <= 2 for cue in cues)
    for cue, slot in zip(cues, slots, strict=True):
        assert slot.seconds is not None
        assert len(" ".join(cue)) <= slot.seconds * LIMITS.max_chars_per_second
    ends = [cue[-1].split()[-1] for cue in cues[:-1]]
    assert not {"al", "del", "de", "la", "su", "que"} & {word.lower() for word in ends}, cues


def test_text_too_long_for_its_cues_gets_another_line_rather_than_a_longer_one() -> None:
    text = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince " * 3
    (cue,) = lay_out(text, [Slot(seconds=None, chars=10)], CueLimits(max_line_chars=20))
    assert len(cue) > 2
    assert all(len(line) <= 20 for line in cue)


def test_fewer_words_than_cues_leaves_a_cue_empty_rather_than_failing() -> None:
    cues = lay_out("Sí.", [Slot(seconds=1.0, chars=5), Slot(seconds=1.0, chars=5)], LIMITS, "es")
    assert sorted(cues) == [("",), ("Sí.",)]


def test_a_word_longer_than_a_cue_holds_still_gets_a_cue() -> None:
    url = "https://example.com/" + "a" * 300
    cues = lay_out(f"Mira {url} hoy.", [Slot(seconds=3.0, chars=20)] * 3, LIMITS, "es")
    assert cues == [("Mira",), (url,), ("hoy.",)]
