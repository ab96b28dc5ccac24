"""The shipped stage code, as the pipelines name it: one thin function per stage module.

Each imports its stage module on its first call, in the worker that runs it, so a process that only
declares pipelines (the API, the CLI) never loads stage, ffmpeg or engine code. A plug-in names its
own stage functions directly (see docs/plugins.md); this indirection only keeps the API light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediajobs.stages.base import StageContext, StageResult


def ingest(ctx: StageContext) -> StageResult:
    """The source (URL, upload or another job's media) as one media file in storage."""
    from mediajobs.stages.ingest import ingest

    return ingest(ctx)


def normalize(ctx: StageContext) -> StageResult:
    """The media probed and converted to 16 kHz mono WAV."""
    from mediajobs.stages.normalize import normalize

    return normalize(ctx)


def normalize_and_split(ctx: StageContext) -> StageResult:
    """`normalize`, then long audio cut at silences into chunks (its fan-out's children)."""
    from mediajobs.stages.split import normalize_and_split

    return normalize_and_split(ctx)


def transcribe(ctx: StageContext) -> StageResult:
    """Speech-to-text of the whole audio: transcript JSON, SRT, VTT and TXT."""
    from mediajobs.stages.transcribe import transcribe

    return transcribe(ctx)


def transcribe_chunk(ctx: StageContext) -> StageResult:
    """Speech-to-text of one chunk of long audio."""
    from mediajobs.stages.chunk import transcribe_chunk

    return transcribe_chunk(ctx)


def transcribe_or_merge(ctx: StageContext) -> StageResult:
    """The chunks' transcripts merged on the file's clock, or the whole audio when there are none."""
    from mediajobs.stages.merge import transcribe_or_merge

    return transcribe_or_merge(ctx)


def read_text(ctx: StageContext) -> StageResult:
    """The input text (upload, `text`, or another job's transcript) as cues."""
    from mediajobs.stages.read_text import read_text

    return read_text(ctx)


def translate(ctx: StageContext) -> StageResult:
    """Every cue through the translation engine, same cues and timings."""
    from mediajobs.stages.translate import translate

    return translate(ctx)


def synthesize(ctx: StageContext) -> StageResult:
    """The text spoken by a speech-synthesis engine."""
    from mediajobs.stages.synthesize import synthesize

    return synthesize(ctx)


def dub_voice(ctx: StageContext) -> StageResult:
    """Each translated cue spoken and fitted to its time slot, on one voice track."""
    from mediajobs.stages.dub_voice import dub_voice

    return dub_voice(ctx)


def mix(ctx: StageContext) -> StageResult:
    """The new voice track with or instead of the original sound; video copied as it was."""
    from mediajobs.stages.mix import mix

    return mix(ctx)


def ingest_video(ctx: StageContext) -> StageResult:
    """`ingest`, where a web page's media is its best video with audio (a dub keeps the video)."""
    from mediajobs.stages.ingest import ingest

    return ingest(ctx, want="video")


def video_script(ctx: StageContext) -> StageResult:
    """A video's scenes, from its text (one per paragraph) or its options, with their images."""
    from mediajobs.stages.video_script import video_script

    return video_script(ctx)


def video_assets(ctx: StageContext) -> StageResult:
    """Each scene's narration (speech synthesis) and card (drawn, or the scene's image)."""
    from mediajobs.stages.video_assets import video_assets

    return video_assets(ctx)


def video_render(ctx: StageContext) -> StageResult:
    """The scenes rendered by ffmpeg into one H.264/AAC MP4 with burned-in and soft subtitles."""
    from mediajobs.stages.video_render import video_render

    return video_render(ctx)


def video_thumbnail(ctx: StageContext) -> StageResult:
    """A 1280x720 JPEG of the first scene's card with the title, and the result `video.json`."""
    from mediajobs.stages.video_thumbnail import video_thumbnail

    return video_thumbnail(ctx)


def video_publish(ctx: StageContext) -> StageResult:
    """The video copied to an allowed folder and/or POSTed, signed, to the job's endpoint."""
    from mediajobs.stages.video_publish import video_publish

    return video_publish(ctx)


def noop(ctx: StageContext) -> StageResult:
    """Pretends to work for `work_seconds`: the whole path of a stage, no media work."""
    from mediajobs.stages.noop import noop

    return noop(ctx)


__all__ = [
    "dub_voice",
    "ingest",
    "ingest_video",
    "mix",
    "noop",
    "normalize",
    "normalize_and_split",
    "read_text",
    "synthesize",
    "transcribe",
    "transcribe_chunk",
    "transcribe_or_merge",
    "translate",
    "video_assets",
    "video_publish",
    "video_render",
    "video_script",
    "video_thumbnail",
]
