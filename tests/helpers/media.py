"""Test media made on the spot with espeak-ng and ffmpeg, so no binary fixtures live in the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

SPEECH_SCRIPT = (
    "The weather today is sunny and warm. We will walk to the park after lunch. "
    "My sister likes to read books in the garden. The children are playing football near the river. "
    "Please close the door when you leave the house.\n"
)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


SPANISH_SCRIPT = (
    "El tiempo hoy es bueno y hace calor. Vamos a caminar al parque despues de comer. "
    "Mi hermana lee libros en el jardin. Los niños juegan al futbol cerca del rio.\n"
)


def speak(script: str, target: Path, voice: str = "en-us") -> Path:
    """espeak-ng reading `script` with `voice` into a WAV file (22.05 kHz mono)."""
    text = target.with_suffix(".txt")
    text.write_text(script, encoding="utf-8")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(target), "-f", str(text)], check=True)
    return target


def to_mp3(source: Path, target: Path) -> Path:
    _ffmpeg("-i", str(source), "-c:a", "libmp3lame", "-b:a", "64k", str(target))
    return target


def video_with_sound(target: Path, seconds: float = 3.0) -> Path:
    """A small H.264 + AAC MP4: test pattern and a tone."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        str(target),
    )  # fmt: skip
    return target


def video_with_speech(script: str, target: Path) -> Path:
    """A small H.264 + AAC MP4: a test pattern for exactly as long as espeak-ng reads `script`."""
    import wave

    speech = speak(script, target.with_name(f"{target.stem}-speech.wav"))
    with wave.open(str(speech)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds:.3f}", "-i", str(speech),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(target),
    )  # fmt: skip
    return target


def video_longer_than_its_speech(script: str, target: Path, *, tail: float = 1.76) -> Path:
    """A small H.264 + AAC MP4 whose test pattern runs `tail` seconds past its audio stream (espeak-ng
    reading `script`): a talk whose picture outlasts the sound."""
    import wave

    speech = speak(script, target.with_name(f"{target.stem}-speech.wav"))
    with wave.open(str(speech)) as wav:
        seconds = wav.getnframes() / wav.getframerate() + tail
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds:.3f}", "-i", str(speech),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(target),
    )  # fmt: skip
    return target


def silent_video(target: Path, seconds: float = 1.0) -> Path:
    """An MP4 with a video stream and no audio stream."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(target),
    )  # fmt: skip
    return target


def long_audio(target: Path, minutes: int = 30) -> Path:
    """`minutes` of stereo 48 kHz Opus noise: seconds to decode, yet cheap to make (one minute, looped)."""
    one_minute = target.with_name(f"one-minute-{target.name}")
    _ffmpeg(
        "-f", "lavfi", "-i", "anoisesrc=sample_rate=48000:duration=60:amplitude=0.3",
        "-ac", "2", "-c:a", "libopus", "-b:a", "128k", str(one_minute),
    )  # fmt: skip
    _ffmpeg("-stream_loop", str(minutes - 1), "-i", str(one_minute), "-c", "copy", str(target))
    one_minute.unlink()
    return target


def silent_opus(target: Path, hours: float) -> Path:
    """`hours` of silent mono Opus in Ogg (about 1 MB per hour), made in seconds: one minute, looped."""
    one_minute = target.with_name(f"one-minute-{target.name}")
    _ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "60",
        "-c:a", "libopus", "-b:a", "6k", "-frame_duration", "60", str(one_minute),
    )  # fmt: skip
    _ffmpeg("-stream_loop", str(round(hours * 60) - 1), "-i", str(one_minute), "-c", "copy", str(target))
    one_minute.unlink()
    return target


def lying_wav(target: Path, *, frames: int = 60_000, rate: int = 1) -> Path:
    """A small 8-bit mono WAV whose header claims a tiny sample rate: `frames / rate` seconds long."""
    import wave

    with wave.open(str(target), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(rate)
        wav.writeframes(b"\x80" * frames)
    return target


def speech_with_pauses(sentences: list[str], gaps: list[float], target: Path, *, noise: float = 0.05) -> Path:
    """The sentences spoken by espeak-ng, each followed by a pause of pink noise (room tone: digital
    silence is too easy for a decoder), `gaps` seconds long, cycled; one 16 kHz mono WAV. The noise is
    seeded, so the same arguments make the same file."""
    folder = target.parent / f"{target.stem}-parts"
    folder.mkdir(exist_ok=True)
    parts = []
    for i, sentence in enumerate(sentences):
        speech = speak(sentence, folder / f"s{i}.wav")
        gap = gaps[i % len(gaps)]
        pause = folder / f"p{i}.wav"
        _ffmpeg(
            "-f", "lavfi",
            "-i", f"anoisesrc=color=pink:amplitude={noise}:duration={gap}:sample_rate=16000:seed={i + 1}",
            "-ac", "1", str(pause),
        )  # fmt: skip
        parts += [speech, pause]
    listing = folder / "parts.txt"
    listing.write_text("".join(f"file '{p.name}'\n" for p in parts))
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-ac", "1", "-ar", "16000", str(target))
    return target


_SUBJECTS = (
    "The farmer", "My neighbour", "A young doctor", "The old captain", "Our teacher", "The little girl",
    "A tired driver", "The baker", "My brother", "The quiet student", "A tall soldier", "The painter",
)  # fmt: skip
_ACTIONS = (
    "painted the wooden fence", "opened every window", "found a small silver key", "sold three horses",
    "carried the heavy boxes", "cooked a simple dinner", "wrote a long letter", "lost his brown hat",
    "planted tomatoes and beans", "cleaned the kitchen floor", "visited the green hills",
    "repaired the broken chair",
)  # fmt: skip
_WHEN = (
    "before breakfast", "near the station", "in the evening", "after the storm", "during the summer",
    "on a cold morning", "behind the church", "at the market", "by the lake", "under the bridge",
    "late at night", "in the garden",
)  # fmt: skip


def long_script(sentences: int = 162, seed: int = 12) -> str:
    """A known English script of `sentences` distinct sentences, about 3.7 s of espeak-ng speech each
    (162: about ten minutes), with no sentence and no word run repeated back to back."""
    import itertools
    import random

    lines = [f"{s} {a} {w}." for s, a, w in itertools.product(_SUBJECTS, _ACTIONS, _WHEN)]
    random.Random(seed).shuffle(lines)
    return " ".join(lines[:sentences]) + "\n"
