"""The queue kinds the shipped pipelines run on. A plug-in declares its own the same way."""

from __future__ import annotations

from mediajobs.domain import QueueKind

DOWNLOAD = QueueKind(name="download", description="fetch the source into storage (network-bound)")
MEDIA = QueueKind(name="media", description="ffprobe/ffmpeg conversions and mixing (CPU, short)")
TRANSCRIBE = QueueKind(
    name="transcribe",
    description="speech-to-text (CPU or GPU, long; a model in memory per slot)",
    own_worker=True,
)
TRANSLATE = QueueKind(name="translate", description="machine translation of text (Apertium: CPU, short)")
SYNTHESIZE = QueueKind(name="synthesize", description="text-to-speech (espeak-ng, flite: CPU, short)")
RENDER = QueueKind(
    name="render", description="video encoding with ffmpeg (CPU-heavy: seconds of CPU per minute of video)"
)

__all__ = ["DOWNLOAD", "MEDIA", "RENDER", "SYNTHESIZE", "TRANSCRIBE", "TRANSLATE"]
