"""The `mix` stage of a dub: the new voice track with or instead of the original sound.

`replace`: the voice track is the new audio. `duck`: the original audio stays, pushed down whenever
the new voice speaks (ffmpeg `sidechaincompress`), with the voice over it. A video source gets its
video stream copied as it was (never re-encoded), every frame of it, with the new audio as its one
audio track, padded with silence to the file's length when the audio stream was the shorter one.

`dub.json` (the result) names the artifacts and says how the voice fitted the cues' time slots
(`voice`: how many cues were spoken as they were, sped up, and cut, and the tempos used).
"""

from __future__ import annotations

import json

from mediajobs.domain.options import DubOptions
from mediajobs.errors import PermanentError

from .base import ArtifactFile, StageContext, StageResult, stage_options
from .ffmpeg import demuxer_of, input_options, linked_input, run_tool, stderr_tail
from .normalize import probe_media

_DUCK = (
    "[0:a]aformat=sample_rates=48000:channel_layouts=stereo[orig];"
    "[1:a]aformat=sample_rates=48000:channel_layouts=stereo,asplit=2[side][voice];"
    "[orig][side]sidechaincompress=threshold=0.02:ratio=12:attack=20:release=400[ducked];"
    "[ducked][voice]amix=inputs=2:duration=first:normalize=0[out]"
)
_QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def mix(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, DubOptions)
    normalized = ctx.inputs["audio"]
    duration = float(normalized["duration"])
    demuxer = demuxer_of(str(normalized.get("format") or ""))
    has_video = bool(normalized.get("has_video"))
    audio = ctx.work_dir / "dubbed.wav"
    with (
        ctx.storage.local_copy(ctx.input_key("media", "media")) as media,
        ctx.storage.local_copy(ctx.input_key("voice", "voice")) as voice,
        linked_input(ctx.work_dir, media) as url,
    ):
        if options.mix == "duck":
            argv = ["ffmpeg", *_QUIET, *input_options(demuxer), "-i", url, "-i", str(voice)]
            argv += ["-filter_complex", _DUCK, "-map", "[out]", "-t", f"{duration:.3f}", "-c:a", "pcm_s16le"]
            _ffmpeg(ctx, [*argv, str(audio)], "mixing")
        else:
            _ffmpeg(ctx, ["ffmpeg", *_QUIET, "-i", str(voice), "-c:a", "pcm_s16le", str(audio)], "copying")
        ctx.progress.report(60.0, "audio mixed")
        artifacts = [ArtifactFile(name="dubbed.wav", path=audio, content_type="audio/wav")]
        if has_video:
            container = "mp4" if demuxer == "mov" else "mkv"
            video = ctx.work_dir / f"dubbed.{container}"
            # the file's length (its longest stream): the new audio, as long as the old audio stream,
            # is padded to it, and nothing cuts the video (the old `-t <audio duration>` lost frames)
            length = max(probe_media(ctx, url).duration or 0.0, duration)
            argv = ["ffmpeg", *_QUIET, *input_options(demuxer), "-i", url, "-i", str(audio)]
            argv += ["-map", "0:v:0", "-c:v", "copy", "-map", "1:a:0", "-af", f"apad=whole_dur={length:.3f}"]
            argv += ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", str(video)]
            _ffmpeg(ctx, argv, "muxing")
            media_type = "video/mp4" if container == "mp4" else "video/x-matroska"
            artifacts.append(ArtifactFile(name=video.name, path=video, content_type=media_type))
    summary = {
        "audio": "dubbed.wav",
        "video": artifacts[1].name if has_video else None,
        "subtitles": ["translation.srt", "translation.vtt"],
        "target_language": options.target_language,
        "mix": options.mix,
        "duration": round(duration, 3),
        "voice": voice_fit(ctx.inputs.get("voice") or {}),
    }
    path = ctx.work_dir / "dub.json"
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    artifacts.append(ArtifactFile(name="dub.json", path=path, content_type="application/json"))
    ctx.progress.report(100.0, "dub ready")
    return StageResult(output={**summary, "artifacts": [a.name for a in artifacts]}, artifacts=artifacts)


def voice_fit(voice: dict[str, object]) -> dict[str, object]:
    """How the voice stage fitted the cues to their slots (dub_voice.py), as `dub.json` reports it."""
    keys = ("cues", "as_is", "sped_up", "cut", "max_tempo", "mean_tempo")
    return {key: voice[key] for key in keys if key in voice}


def _ffmpeg(ctx: StageContext, argv: list[str], what: str) -> None:
    result = run_tool(ctx, argv, on_line=lambda _: None, timeout=float(ctx.settings.stage_soft_time_limit))
    if not result.ok:
        raise PermanentError(f"{what} the dub failed: {stderr_tail(result)}", code="dub_failed")


__all__ = ["mix", "voice_fit"]
