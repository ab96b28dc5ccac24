"""Repetition guards and VAD determinism: Whisper on speech with long pauses, before and after.

    .venv/bin/python -m bench.pauses                  # prints the figures
    .venv/bin/python -m bench.pauses --runs 3 --gaps 4,9,15

The audio (made here with espeak-ng and ffmpeg, about 3 minutes): a known script of sentences, each
followed by a pause of a few to 15 seconds of faint noise (room tone: digital silence is too easy). Each
configuration transcribes it `--runs` times with and without VAD; reported per configuration: WER
against the script, the number of segments and shaped cues of each run (equal when runs are
repeatable), the longest run of one repeated word, the fastest cue (characters per second) and the
decoding time. "before" is faster-whisper's defaults; "after" is the engine with DECODE_OPTIONS
(engines/whisper.py); `--try '{"option": value}'` adds a configuration (our options plus these).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mediajobs.engines import TranscribeRequest
from mediajobs.engines.whisper import DECODE_OPTIONS, WhisperEngine
from mediajobs.subtitles import clamp_transcript, shape_cues

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers.media import speech_with_pauses
from helpers.wer import wer, words

SENTENCES = [
    "The weather today is sunny and warm.",
    "We will walk to the park after lunch.",
    "My sister likes to read books in the garden.",
    "The children are playing football near the river.",
    "Please close the door when you leave the house.",
    "The train to the city leaves at eight in the morning.",
    "He bought fresh bread and a bottle of milk.",
    "Our neighbours painted their fence bright green.",
    "The meeting was moved to Thursday afternoon.",
    "She turned off the lights and went to sleep.",
    "A small dog was barking at the front gate.",
    "The library closes early on public holidays.",
]
FASTER_WHISPER_DEFAULTS: dict[str, Any] = {}


def longest_repeat(text: str) -> int:
    run = best = 0
    previous = None
    for word in words(text):
        run = run + 1 if word == previous else 1
        best, previous = max(best, run), word
    return best


def measure(engine: WhisperEngine, audio: Path, script: str, *, vad: bool, ours: bool) -> dict[str, Any]:
    started = time.monotonic()
    request = TranscribeRequest(audio=audio, language="en", vad=vad, word_timestamps=True)
    if ours:
        raw = engine.transcribe(request)
    else:  # what the engine did before: the library's defaults
        segments, info = engine._model.transcribe(
            str(audio), language="en", vad_filter=vad, word_timestamps=True, **engine.decode
        )
        from mediajobs.engines.speech import Transcript
        from mediajobs.engines.whisper import _segment

        raw = Transcript(
            language="en", duration=float(info.duration), segments=tuple(_segment(s) for s in segments)
        )
    took = time.monotonic() - started
    transcript = clamp_transcript(raw)
    cues = shape_cues(transcript)
    fastest = max((len(c.text) / max(c.end - c.start, 1e-3) for c in cues), default=0.0)
    return {
        "wer": wer(script, transcript.text),
        "segments": len(transcript.segments),
        "cues": len(cues),
        "repeat": longest_repeat(transcript.text),
        "cps": fastest,
        "seconds": took,
        "text": transcript.text,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--gaps", default="4,9,15", help="pause lengths in seconds, cycled")
    parser.add_argument("--noise", type=float, default=0.004, help="amplitude of the pauses' pink noise")
    parser.add_argument("--show-text", action="store_true")
    parser.add_argument("--try", dest="tries", action="append", default=[], help="JSON decode options to add")
    parser.add_argument("--no-vad", action="store_true", help="only without VAD")
    args = parser.parse_args(argv)
    gaps = [float(g) for g in args.gaps.split(",")]
    with tempfile.TemporaryDirectory(prefix="mj-pauses-") as tmp:
        audio = speech_with_pauses(SENTENCES, gaps, Path(tmp) / "pauses.wav", noise=args.noise)
        script = " ".join(SENTENCES)
        duration = float(
            subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(audio)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        print(
            f"audio: {duration:.1f} s, {len(SENTENCES)} sentences, pauses {gaps} s of pink noise at "
            f"{args.noise}, {len(script.split())} words"
        )
        configs = [("before", FASTER_WHISPER_DEFAULTS, False), ("after", DECODE_OPTIONS, True)]
        configs += [(t, {**DECODE_OPTIONS, **json.loads(t)}, True) for t in args.tries]
        print(
            "| decoding | vad | WER per run | segments per run | cues per run | longest repeat "
            "| fastest cue (chars/s) | decode s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, options, ours in configs:
            engine = WhisperEngine(decode=options)
            for vad in (False,) if args.no_vad else (False, True):
                runs = [measure(engine, audio, script, vad=vad, ours=ours) for _ in range(args.runs)]

                def each(key: str, fmt: str = "{}") -> str:
                    return " / ".join(fmt.format(r[key]) for r in runs)  # noqa: B023

                print(
                    f"| {name} | {'on' if vad else 'off'} | {each('wer', '{:.3f}')} | {each('segments')} "
                    f"| {each('cues')} | {max(r['repeat'] for r in runs)} "
                    f"| {max(r['cps'] for r in runs):.1f} "
                    f"| {sum(r['seconds'] for r in runs) / len(runs):.1f} |",
                    flush=True,
                )
                if args.show_text:
                    for r in runs:
                        print("   ", r["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
