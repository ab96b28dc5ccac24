"""When each scene of a video starts and ends, and its subtitles: pure arithmetic, no tools.

A scene lasts its narration plus the pad (or its own `duration`, if longer), rounded up to whole
frames so that picture and sound stay aligned: the audio is padded with silence to exactly the same
length (cumulative rounding to samples, so nothing drifts over 200 scenes). A scene's subtitles
cover its narration only, split into cues of at most two lines, timed by their share of its letters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mediajobs.subtitles.shape import Cue, CueLimits, fits, wrap
from mediajobs.textio import sentences


@dataclass(frozen=True, kw_only=True, slots=True)
class Slot:
    """One scene on the video's clock (seconds)."""

    start: float
    end: float
    speech_end: float  # the narration ends here; the pad (silence) follows until `end`

    def to_json(self) -> dict[str, float]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "speech_end": round(self.speech_end, 3),
        }


def plan(narrations: Sequence[float], least: Sequence[float | None], *, fps: int, pad: float) -> list[Slot]:
    """Each scene's slot: max(narration + pad, its least duration), in whole frames, back to back."""
    slots = []
    frame = 0
    for seconds, minimum in zip(narrations, least, strict=True):
        wanted = max(seconds + pad, minimum or 0.0)
        frames = max(1, math.ceil(wanted * fps - 1e-6))
        start = frame / fps
        slots.append(Slot(start=start, end=(frame + frames) / fps, speech_end=start + seconds))
        frame += frames
    return slots


def sample_bounds(slots: Sequence[Slot], rate: int) -> list[tuple[int, int]]:
    """Each slot as (first sample, sample after its last) at `rate`, rounded on the cumulative clock."""
    return [(round(s.start * rate), round(s.end * rate)) for s in slots]


def scene_cues(texts: Sequence[str], slots: Sequence[Slot], limits: CueLimits) -> list[Cue]:
    """The subtitles of every scene, each during its own narration."""
    cues: list[Cue] = []
    for text, slot in zip(texts, slots, strict=True):
        groups = _groups(text, limits)
        letters = sum(len(" ".join(g)) for g in groups) or 1
        at = slot.start
        span = max(slot.speech_end - slot.start, 0.5)
        for words in groups:
            share = span * len(" ".join(words)) / letters
            cues.append(Cue(start=at, end=at + share, lines=wrap(words, limits)))
            at += share
    return cues


def _groups(text: str, limits: CueLimits) -> list[list[str]]:
    """Words of `text` in runs that fit one cue, a new run at each sentence when it can."""
    groups: list[list[str]] = []
    for sentence in sentences(text) or [text]:
        current: list[str] = []
        for word in sentence.split():
            if current and not fits([*current, word], limits):
                groups.append(current)
                current = []
            current.append(word)
        if current:
            if groups and fits([*groups[-1], *current], limits) and len(groups[-1]) < 4:
                groups[-1] += current  # a very short sentence shares its neighbour's cue
            else:
                groups.append(current)
    return groups


__all__ = ["Slot", "plan", "sample_bounds", "scene_cues"]
