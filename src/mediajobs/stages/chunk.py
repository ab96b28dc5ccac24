"""Long media in parallel, step two: transcribe one chunk (a `chunk[i]` run of `normalize`'s fan-out).

A chunk is decoded by the very code of the `transcribe` stage (stages/transcribe.py, with the job's
options), given the chunk's part of the audio instead of the whole. Its transcript, with times from
the chunk's own start, is checkpointed as a file; stages/merge.py joins the chunks. A chunk that fails
retries alone; one that succeeded is never decoded again, also when its job is resumed or retried.
"""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from mediajobs.errors import PermanentError

from .base import StageContext, StageResult
from .transcribe import transcribe

CHUNK_AUDIO = "chunk.wav"
CHUNK_TRANSCRIPT = "transcript.json"


def cut_wav(source: BinaryIO, target: Path, start: float, end: float) -> float:
    """Copy the frames of [start, end) seconds of a PCM WAV (a seekable stream) into a WAV of its
    own; its length. Only the header and those frames are read from `source`."""
    with wave.open(source, "rb") as wav:
        rate = wav.getframerate()
        first = min(wav.getnframes(), max(0, round(start * rate)))
        count = max(0, min(wav.getnframes(), round(end * rate)) - first)
        wav.setpos(first)
        frames = wav.readframes(count)
        with wave.open(str(target), "wb") as out:
            out.setnchannels(wav.getnchannels())
            out.setsampwidth(wav.getsampwidth())
            out.setframerate(rate)
            out.writeframes(frames)
    return count / rate if rate else 0.0


def transcribe_chunk(ctx: StageContext) -> StageResult:
    """Transcribe the part of `normalize`'s audio this run's params name."""
    try:
        index = int(ctx.params["index"])
        start, end = float(ctx.params["start"]), float(ctx.params["end"])
        keep = (float(ctx.params["keep_start"]), float(ctx.params["keep_end"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(
            f"chunk run {ctx.stage!r} has no valid bounds: {exc}", code="invalid_chunk"
        ) from exc
    normalized = ctx.inputs["audio"]
    piece = ctx.work_dir / CHUNK_AUDIO
    # a ranged read: the chunk's bytes, never the whole file (a remote backend fetches no more)
    with ctx.storage.open(ctx.input_key("audio", "audio")) as audio:
        seconds = cut_wav(audio, piece, start, end)
    audio_key = ctx.output_key(CHUNK_AUDIO)
    ctx.storage.put_file(audio_key, piece)
    try:
        inputs = {**ctx.inputs, "audio": {**normalized, "audio_key": audio_key, "duration": seconds}}
        # the chunk's JSON keeps word timings whatever the job asked: the merge cuts and shapes by them
        options = {**ctx.options, "word_timestamps": True}
        result = transcribe(replace(ctx, inputs=inputs, options=options))
    finally:
        ctx.storage.delete(audio_key)  # the whole file stays in `normalize`'s checkpoint
    transcript = next((a for a in result.artifacts if a.name == CHUNK_TRANSCRIPT), None)
    if transcript is None:
        raise PermanentError("the transcribe stage wrote no transcript.json", code="invalid_chunk")
    transcript_key = ctx.output_key(CHUNK_TRANSCRIPT)
    ctx.storage.put_file(transcript_key, transcript.path)
    output = {k: v for k, v in result.output.items() if k != "artifacts"}
    return StageResult(
        output={
            **output,
            "index": index,
            "start": start,
            "end": end,
            "keep_start": keep[0],
            "keep_end": keep[1],
            "transcript_key": transcript_key,
        }
    )


__all__ = ["cut_wav", "transcribe_chunk"]
