"""A video's clock: scenes in whole frames, audio padded to match, subtitles inside the narration."""

from __future__ import annotations

import itertools

import pytest

from mediajobs.stages.video_timeline import plan, sample_bounds, scene_cues
from mediajobs.subtitles.shape import CueLimits


def test_each_scene_lasts_its_narration_and_pad_in_whole_frames() -> None:
    slots = plan([2.01, 3.0, 1.0], [None, None, 4.0], fps=25, pad=0.5)
    assert [(s.start, s.end) for s in slots] == [(0.0, 2.52), (2.52, 6.04), (6.04, 10.04)]
    assert slots[0].speech_end == pytest.approx(2.01)
    assert slots[2].end - slots[2].start == pytest.approx(4.0)  # its own least duration wins
    for slot in slots:
        assert round(slot.start * 25, 6).is_integer()
        assert round(slot.end * 25, 6).is_integer()


def test_the_audio_bounds_never_drift_over_many_scenes() -> None:
    slots = plan([1.3333] * 200, [None] * 200, fps=30, pad=0.25)
    bounds = sample_bounds(slots, 22050)
    assert bounds[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # back to back
    assert bounds[-1][1] == round(slots[-1].end * 22050)  # the audio ends with the picture


def test_cues_split_long_text_and_stay_within_the_narration() -> None:
    texts = [
        "The river runs through the old town. Children play near the bridge while their parents talk.",
        "Short.",
    ]
    slots = plan([6.0, 1.0], [None, None], fps=25, pad=0.5)
    cues = scene_cues(texts, slots, CueLimits(max_line_chars=42, max_lines=2))
    first = [c for c in cues if c.start < slots[0].end]
    assert len(first) == 2
    assert first[0].lines == ("The river runs through the old town.",)
    assert first[-1].end == pytest.approx(slots[0].speech_end)
    assert all(len(line) <= 42 for c in cues for line in c.lines)
    assert cues[-1].start == pytest.approx(slots[1].start)
    assert " ".join(" ".join(c.lines) for c in cues).split() == " ".join(texts).split()
