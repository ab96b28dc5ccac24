"""The `thumbnail` stage of a video: a 1280x720 JPEG of the first scene's picture with the title, and
the job's result `video.json` (the artifacts, and each scene's start and end in the video)."""

from __future__ import annotations

import json

from mediajobs.domain.options import VideoOptions

from .base import ArtifactFile, StageContext, StageResult, stage_options
from .video_cards import draw_thumbnail, open_image
from .video_files import fetch, load_assets

THUMBNAIL_SIZE = (1280, 720)
ARTIFACTS = ("video.mp4", "thumbnail.jpg", "video.srt", "video.vtt", "video.json")


def video_thumbnail(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, VideoOptions)
    assets = load_assets(ctx)
    render = ctx.inputs["render"]
    first = assets[0]
    # A drawn card shows its title already; the title band is for the job's own title or a photo.
    title = options.title or (None if first.drawn else first.title)
    card = open_image(fetch(ctx, first.card_key, ctx.work_dir / "card.png"), "the first card")
    thumbnail = ctx.work_dir / "thumbnail.jpg"
    draw_thumbnail(card, title, THUMBNAIL_SIZE).save(thumbnail, "JPEG", quality=88, optimize=True)
    ctx.progress.report(50.0, "thumbnail drawn")
    scenes = [
        {"index": index, "title": scene.title, "text": scene.text, **slot}
        for index, (scene, slot) in enumerate(zip(assets, render["scenes"], strict=True))
    ]
    summary = {
        "video": "video.mp4",
        "thumbnail": "thumbnail.jpg",
        "subtitles": ["video.srt", "video.vtt"],
        "title": options.title or first.title,
        "duration": render["duration"],
        "size": render["size"],
        "fps": render["fps"],
        "scenes": scenes,
    }
    result = ctx.work_dir / "video.json"
    result.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    ctx.progress.report(100.0, "result written")
    return StageResult(
        output={
            "thumbnail": "thumbnail.jpg",
            "result": "video.json",
            "artifacts": list(ARTIFACTS),
        },
        artifacts=[
            ArtifactFile(name="thumbnail.jpg", path=thumbnail, content_type="image/jpeg"),
            ArtifactFile(name="video.json", path=result, content_type="application/json"),
        ],
    )


__all__ = ["video_thumbnail"]
