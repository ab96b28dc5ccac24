"""Subtitles: cues shaped from word timestamps (shape.py) with phrase-aware breaks (breaks.py), SRT and
WebVTT files (files.py)."""

from .files import parse_srt, parse_vtt, to_srt, to_vtt
from .shape import Cue, CueLimits, clamp_transcript, fits, shape_cues, wrap

__all__ = [
    "Cue",
    "CueLimits",
    "clamp_transcript",
    "fits",
    "parse_srt",
    "parse_vtt",
    "shape_cues",
    "to_srt",
    "to_vtt",
    "wrap",
]
