"""The `script` stage of a video: the scenes, fixed for the stages after it.

From the job's text (an upload: one scene per paragraph, as the submit checked a JSON `text`) or its
`options.scenes`. A scene's image (`upload://<id>`) is decoded here (a PNG, JPEG or WebP of at most
40 megapixels) and copied into this stage's checkpoint, so later stages and re-runs never depend on
the upload still being there.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from mediajobs.domain import OPTIONS_SOURCE
from mediajobs.domain.options import VideoOptions, VideoScene, scenes_of_text
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.storage.keys import upload_prefix

from .base import StageContext, StageResult, stage_options
from .video_cards import open_image
from .video_files import Scene, fetch, save_scenes

MAX_TEXT_BYTES = 1024 * 1024  # 200 scenes of 2000 characters, in any script


def video_script(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, VideoOptions)
    given = options.scenes if ctx.source == OPTIONS_SOURCE else _scenes_of_upload(ctx)
    scenes = []
    for index, scene in enumerate(given):
        ctx.cancel.raise_if_set()
        image_key = _copy_image(ctx, index, scene.image) if scene.image else None
        scenes.append(Scene(text=scene.text, title=scene.title, image_key=image_key, duration=scene.duration))
        ctx.progress.report(100.0 * (index + 1) / len(given), f"scene {index + 1} of {len(given)}")
    key = save_scenes(ctx, scenes)
    return StageResult(
        output={
            "scenes_key": key,
            "scenes": len(scenes),
            "images": sum(1 for s in scenes if s.image_key),
            "characters": sum(len(s.text) for s in scenes),
        }
    )


def _scenes_of_upload(ctx: StageContext) -> list[VideoScene]:
    parts = urlsplit(ctx.source)
    if parts.scheme != "upload":
        raise PermanentError(f"a video's script cannot come from {ctx.source[:200]!r}", code="invalid_source")
    key = _upload_file(ctx, parts.netloc, "the script")
    if ctx.storage.stat(key).size > MAX_TEXT_BYTES:
        raise PermanentError(f"the script is over {MAX_TEXT_BYTES} bytes", code="text_too_large")
    with ctx.storage.open(key) as fh:
        raw = fh.read()
    try:
        return scenes_of_text(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PermanentError("the script is not UTF-8 text", code="unsupported_text") from None
    except InvalidRequest as exc:  # an uploaded .txt is read here, not at submit
        raise PermanentError(exc.message, code=exc.code) from None


def _upload_file(ctx: StageContext, raw_id: str, what: str) -> str:
    """The key of the one file of upload `raw_id`."""
    try:
        files = ctx.storage.list(upload_prefix(uuid.UUID(raw_id)))
    except ValueError:
        raise PermanentError(f"{what}: malformed upload id {raw_id[:64]!r}", code="invalid_source") from None
    if len(files) != 1:
        raise PermanentError(f"{what}: upload {raw_id} is gone", code="upload_not_found")
    return files[0].key


def _copy_image(ctx: StageContext, index: int, source: str) -> str:
    what = f"scenes.{index}.image"
    key = _upload_file(ctx, urlsplit(source).netloc, what)
    suffix = PurePosixPath(key).suffix.lower()
    local = fetch(ctx, key, ctx.work_dir / f"image{index}{suffix}")
    open_image(local, what).close()  # decodes: a broken or hostile file fails here, not in render
    stored = ctx.output_key(f"image{index}{suffix}")
    ctx.storage.put_file(stored, local)
    local.unlink(missing_ok=True)  # put_file may have moved it
    return stored


__all__ = ["video_script"]
