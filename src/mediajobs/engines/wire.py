"""JSON-lines messages between a worker and its speech-to-text engine process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .speech import Segment, SegmentDetails, TranscribeRequest, Transcript, Word


def request_to_json(request: TranscribeRequest) -> dict[str, Any]:
    return {
        "audio": str(request.audio),
        "language": request.language,
        "model": None if request.model is None else str(request.model),
        "task": request.task,
        "vad": request.vad,
        "word_timestamps": request.word_timestamps,
        "prompt": request.prompt,
        "temperature": request.temperature,
    }


def request_from_json(data: dict[str, Any]) -> TranscribeRequest:
    return TranscribeRequest(
        audio=Path(data["audio"]),
        language=data.get("language"),
        model=Path(data["model"]) if data.get("model") else None,
        task=str(data.get("task") or "transcribe"),
        vad=bool(data.get("vad")),
        word_timestamps=bool(data.get("word_timestamps")),
        prompt=data.get("prompt"),
        temperature=None if data.get("temperature") is None else float(data["temperature"]),
    )


def segment_to_json(segment: Segment) -> dict[str, Any]:
    message: dict[str, Any] = {
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "words": [[w.start, w.end, w.word, w.probability] for w in segment.words],
    }
    if segment.details is not None:
        d = segment.details
        message["details"] = {
            "seek": d.seek,
            "tokens": list(d.tokens),
            "temperature": d.temperature,
            "avg_logprob": d.avg_logprob,
            "compression_ratio": d.compression_ratio,
            "no_speech_prob": d.no_speech_prob,
        }
    return message


def details_from_json(data: Any) -> SegmentDetails | None:
    """A segment's decoding details from JSON (the wire, or a chunk's transcript.json); None if absent."""
    if not isinstance(data, dict):
        return None
    return SegmentDetails(
        seek=int(data["seek"]),
        tokens=tuple(int(t) for t in data["tokens"]),
        temperature=float(data["temperature"]),
        avg_logprob=float(data["avg_logprob"]),
        compression_ratio=float(data["compression_ratio"]),
        no_speech_prob=float(data["no_speech_prob"]),
    )


def segment_from_json(data: dict[str, Any]) -> Segment:
    return Segment(
        start=float(data["start"]),
        end=float(data["end"]),
        text=str(data["text"]),
        words=tuple(Word(start=w[0], end=w[1], word=w[2], probability=w[3]) for w in data.get("words", ())),
        details=details_from_json(data.get("details")),
    )


def transcript_to_json(transcript: Transcript) -> dict[str, Any]:
    return {
        "language": transcript.language,
        "duration": transcript.duration,
        "language_probability": transcript.language_probability,
        "segments": [segment_to_json(s) for s in transcript.segments],
    }


def transcript_from_json(data: dict[str, Any]) -> Transcript:
    return Transcript(
        language=str(data["language"]),
        duration=float(data["duration"]),
        language_probability=data.get("language_probability"),
        segments=tuple(segment_from_json(s) for s in data["segments"]),
    )
