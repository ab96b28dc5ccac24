"""The `render` stage of a video: every scene's card for exactly its slot, with the narrations, into
one MP4 (H.264 `yuv420p`, AAC, `+faststart`) with the scene texts burned in and as a soft track.

The stage writes ffmpeg's inputs itself from its own files: an ffconcat list of the cards with each
one's duration (video_timeline.py: the narration plus the pad, in whole frames; no `-shortest`), one
WAV of the narrations each padded with silence to its slot, and the SRT of the subtitles. ffmpeg
reads them under `own_files_options` (stages/ffmpeg.py: `file` only, these demuxers only), reports
its progress on `-progress pipe:1`, and is stopped within a second of a cancel (its output is
thrown away, so it is given no time to finish the file).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from mediajobs.domain.options import VideoOptions
from mediajobs.errors import PermanentError
from mediajobs.subtitles.files import to_srt, to_vtt
from mediajobs.subtitles.shape import CueLimits

from .base import ArtifactFile, StageContext, StageResult, stage_options
from .ffmpeg import own_files_options, run_tool, stderr_tail
from .video_files import fetch, load_assets
from .video_timeline import Slot, plan, sample_bounds, scene_cues

CANCEL_GRACE_SECONDS = 0.5  # SIGTERM to SIGKILL when a render is stopped
# Still pictures: x264's ultrafast preset costs 40% less CPU than veryfast on them (2.2 against 3.7
# CPU-seconds for 36 s of 720p cards with subtitles) and looks the same; crf 21 for crisp text.
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "21", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "96k"]
SUBTITLE_STYLE = "FontName=DejaVu Sans,Outline=2,Shadow=0,MarginV=24"


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedRender:
    """A render's inputs, written in the work folder, and the ffmpeg command that makes the video."""

    argv: list[str]
    total: float  # seconds of video
    slots: list[Slot]
    cues: int


def video_render(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, VideoOptions)
    prepared = prepare_render(ctx, options)
    _ffmpeg(ctx, prepared.argv, prepared.total)
    ctx.progress.report(100.0, "video rendered")
    folder = ctx.work_dir
    artifacts = [
        ArtifactFile(name="video.mp4", path=folder / "video.mp4", content_type="video/mp4"),
        ArtifactFile(name="video.srt", path=folder / "video.srt", content_type="application/x-subrip"),
        ArtifactFile(name="video.vtt", path=folder / "video.vtt", content_type="text/vtt"),
    ]
    return StageResult(
        output={
            "duration": round(prepared.total, 3),
            "size": options.size,
            "fps": options.fps,
            "frames": round(prepared.total * options.fps),
            "scenes": [s.to_json() for s in prepared.slots],
            "cues": prepared.cues,
            "artifacts": [a.name for a in artifacts],
        },
        artifacts=artifacts,
    )


def prepare_render(ctx: StageContext, options: VideoOptions) -> PreparedRender:
    """Fetch the cards and narrations, and write what ffmpeg reads: the ffconcat list of the cards,
    the narrations joined on the video's clock, the subtitles (SRT, and VTT for people)."""
    assets = load_assets(ctx)
    slots = plan(
        [a.narration_seconds for a in assets],
        [a.duration for a in assets],
        fps=options.fps,
        pad=options.pad_seconds,
    )
    limit = ctx.settings.max_media_seconds
    if slots[-1].end > limit:
        raise PermanentError(
            f"the video would last {slots[-1].end:.0f} s, over the {limit:.0f} s limit "
            "(MEDIAJOBS_MAX_MEDIA_SECONDS)",
            code="media_too_long",
        )
    for index, scene in enumerate(assets):
        ctx.cancel.raise_if_set()
        fetch(ctx, scene.card_key, ctx.work_dir / f"card{index}.png")
        fetch(ctx, scene.narration_key, ctx.work_dir / f"narration{index}.wav")
    ctx.progress.report(2.0, "scenes fetched")
    _join_narrations(ctx.work_dir, len(assets), slots, ctx.work_dir / "narration.wav")
    _write_cards_list(ctx.work_dir / "cards.ffconcat", slots)
    width, _ = options.frame
    limits = CueLimits(max_line_chars=42 if width >= 1000 else 30, max_lines=2)
    cues = scene_cues([a.text for a in assets], slots, limits)
    (ctx.work_dir / "video.srt").write_text(to_srt(cues), encoding="utf-8")
    (ctx.work_dir / "video.vtt").write_text(to_vtt(cues), encoding="utf-8")
    total = slots[-1].end
    return PreparedRender(
        argv=render_argv(options, total, "video.mp4"), total=total, slots=slots, cues=len(cues)
    )


def render_argv(options: VideoOptions, total: float, output: str) -> list[str]:
    """The ffmpeg command of a render, run in the folder holding cards.ffconcat, narration.wav and
    video.srt (the benchmark runs the same command directly)."""
    width, height = options.frame
    # Cards are drawn at the frame's size; the scaling only acts on a re-run that changed `size`
    # (its cards were reused), and runs once per card, before the frames are repeated.
    fitted = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=0x121826,setsar=1"
    )
    subtitles = f"subtitles=filename=video.srt:force_style='{SUBTITLE_STYLE}'"
    graph = f"{fitted},format=yuv420p,fps={options.fps},{subtitles}"
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        *own_files_options("concat"), "-safe", "1", "-i", "file:cards.ffconcat",
        *own_files_options("wav"), "-i", "file:narration.wav",
        *own_files_options("srt"), "-i", "file:video.srt",
        "-map", "0:v", "-map", "1:a", "-map", "2:s",
        "-vf", graph, "-r", str(options.fps), *X264, *AAC, "-c:s", "mov_text",
        "-t", f"{total:.6f}", "-movflags", "+faststart",
        "-progress", "pipe:1", "-nostats", output,
    ]  # fmt: skip


def _ffmpeg(ctx: StageContext, argv: list[str], total: float) -> None:
    def on_line(line: str) -> None:
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().isdigit():
            done = int(value) / 1e6
            ctx.progress.report(min(99.0, 5.0 + 94.0 * done / total), f"rendered {done:.1f} of {total:.1f} s")

    result = run_tool(
        ctx,
        argv,
        on_line=on_line,
        timeout=float(ctx.settings.stage_soft_time_limit),
        kill_grace=CANCEL_GRACE_SECONDS,
    )
    if not result.ok:
        raise PermanentError(f"rendering the video failed: {stderr_tail(result)}", code="render_failed")


def _join_narrations(folder: Path, count: int, slots: list[Slot], target: Path) -> None:
    """narration{i}.wav, each padded with silence to its slot, one after another in `target`."""
    with wave.open(str(target), "wb") as out:
        params = None
        bounds: list[tuple[int, int]] = []
        for index in range(count):
            with wave.open(str(folder / f"narration{index}.wav"), "rb") as piece:
                if params is None:
                    params = piece.getparams()
                    out.setparams(params)
                    bounds = sample_bounds(slots, params.framerate)
                elif (piece.getnchannels(), piece.getsampwidth(), piece.getframerate()) != (
                    params.nchannels,
                    params.sampwidth,
                    params.framerate,
                ):
                    raise PermanentError("the narrations are not all in one format", code="render_failed")
                first, after = bounds[index]
                wanted = after - first
                frames = piece.readframes(min(piece.getnframes(), wanted))
                out.writeframes(frames)
                silence = wanted - len(frames) // (params.nchannels * params.sampwidth)
                out.writeframes(b"\0" * (silence * params.nchannels * params.sampwidth))
            (folder / f"narration{index}.wav").unlink()


def _write_cards_list(path: Path, slots: list[Slot]) -> None:
    """The ffconcat list: each card for its slot; the last named twice, or its duration is lost."""
    lines = ["ffconcat version 1.0"]
    for index, slot in enumerate(slots):
        lines += [f"file card{index}.png", f"duration {slot.end - slot.start:.6f}"]
    lines.append(f"file card{len(slots) - 1}.png")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


__all__ = ["PreparedRender", "prepare_render", "render_argv", "video_render"]
