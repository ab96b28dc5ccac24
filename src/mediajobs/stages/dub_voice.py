"""The `dub_voice` stage: each translated cue spoken and fitted to its time slot, on one voice track.

A cue may use the time from its start to the next cue's start (or the end of the media). Speech that
is longer is sped up with ffmpeg `atempo`, at most `MAX_TEMPO` times, and what is still too long is cut;
shorter speech is followed by silence. Every cue is written at the sample its start time names, so
nothing drifts however many cues there are. The track is exactly as long as the media's audio.

The output counts the cues spoken `as_is`, `sped_up` (they fit once faster) and `cut` (still too long
at MAX_TEMPO), with the `max_tempo` and `mean_tempo` of those that had to go faster (1.0: none did).
"""

from __future__ import annotations

import wave
from pathlib import Path

from mediajobs.domain.options import DubOptions
from mediajobs.engines.espeak import ENGINE_NAME
from mediajobs.engines.synthesis import SPEAK_TIMEOUT_SECONDS, SpeechSynthesis, synthesis_slot
from mediajobs.errors import PermanentError
from mediajobs.process import run_process
from mediajobs.textio import Cue

from .base import StageContext, StageResult, stage_options
from .read_text import input_cues
from .synthesize import engine_voice

MAX_TEMPO = 1.8  # faster than this and espeak-ng speech stops being understandable
RATE = 22050  # espeak-ng's own sample rate: no resampling for cues that fit
_MIN_SLOT = 0.05


def dub_voice(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, DubOptions)
    engine = ctx.engines.get(synthesis_slot(ENGINE_NAME))
    voice = engine_voice(engine, options.target_language, None)
    duration = float(ctx.inputs["audio"]["duration"])
    cues = [c for c in input_cues(ctx) if c.text.strip() and c.start is not None]
    total = round(duration * RATE)
    track = bytearray(total * 2)  # 16-bit mono silence
    fitted = {"as_is": 0, "sped_up": 0, "cut": 0}
    tempos: list[float] = []  # of the cues spoken faster than the engine said them
    for number, cue in enumerate(cues):
        start = round(float(cue.start or 0.0) * RATE)
        following = cues[number + 1].start if number + 1 < len(cues) else None
        slot = min(float(following) if following is not None else duration, duration) - float(
            cue.start or 0.0
        )
        if slot < _MIN_SLOT or start >= total:
            continue
        samples, how, tempo = _fit(ctx, engine, cue, number, slot, voice=voice, rate=options.rate)
        fitted[how] += 1
        if tempo > 1.0:
            tempos.append(tempo)
        room = min(len(samples), (total - start) * 2, round(slot * RATE) * 2)
        track[start * 2 : start * 2 + room] = samples[:room]
        ctx.progress.report(
            100.0 * (number + 1) / (len(cues) + 1), f"voiced {number + 1} of {len(cues)} cues"
        )
    path = ctx.work_dir / "voice.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(track))
    key = ctx.output_key("voice.wav")
    ctx.storage.put_file(key, path)
    ctx.progress.report(100.0, "voice track ready")
    return StageResult(
        output={
            "voice_key": key,
            "duration": round(total / RATE, 3),
            "cues": len(cues),
            "voice": voice,
            **fitted,
            "max_tempo": round(max(tempos, default=1.0), 3),
            "mean_tempo": round(sum(tempos) / len(tempos), 3) if tempos else 1.0,
        }
    )


def _fit(
    ctx: StageContext, engine: SpeechSynthesis, cue: Cue, number: int, slot: float, *, voice: str, rate: int
) -> tuple[bytes, str, float]:
    """The cue's speech as 16-bit mono PCM at RATE, at most `slot` seconds long, how it was fitted,
    and the tempo it was spoken at (1.0: as the engine said it)."""
    wav = ctx.work_dir / f"cue{number}.wav"
    engine.speak(cue.text.replace("\n", " "), wav, voice=voice, rate=rate, pitch=50, cancel=ctx.cancel)
    seconds = _seconds(wav)
    how, tempo = "as_is", 1.0
    if seconds > slot:
        tempo = min(MAX_TEMPO, seconds / slot)
        faster = ctx.work_dir / f"cue{number}-fast.wav"
        argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav)]
        argv += [
            "-filter:a",
            f"atempo={tempo:.4f}",
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-c:a",
            "pcm_s16le",
            str(faster),
        ]
        result = run_process(argv, cancel=ctx.cancel, timeout=SPEAK_TIMEOUT_SECONDS)
        if not result.ok:
            raise PermanentError(
                f"fitting cue {number + 1} failed: {result.stderr_tail[-300:]}", code="dub_failed"
            )
        wav, how = faster, ("sped_up" if seconds / tempo <= slot + 0.01 else "cut")
    with wave.open(str(wav), "rb") as piece:
        if (piece.getframerate(), piece.getnchannels(), piece.getsampwidth()) != (RATE, 1, 2):
            raise PermanentError("the speech engine wrote an unexpected WAV format", code="dub_failed")
        return piece.readframes(piece.getnframes()), how, tempo


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as piece:
        return piece.getnframes() / piece.getframerate()


__all__ = ["MAX_TEMPO", "dub_voice"]
