"""`video`: a narrated video from a script.

script (download: the scenes, from `text` or the options, with their images) -> assets (synthesize:
each scene's narration and card) -> render (render: ffmpeg, H.264/AAC MP4 with subtitles) ->
thumbnail (media: a JPEG, and the result `video.json`) -> publish (download: to an allowed folder
and/or a signed POST; nothing when the job names no destination).

Generating the script itself (an LLM) is not here: a script engine port would sit in front of
`script` later; today the user writes the scenes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mediajobs.domain import Pipeline, StageSpec
from mediajobs.domain.options import VideoOptions, scenes_of_text
from mediajobs.errors import InvalidRequest, NotFound
from mediajobs.netguard import refuse_private_literal

from . import code, kinds

if TYPE_CHECKING:
    from mediajobs.capabilities import Capabilities, SubmitInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
TEXT_FILES = (".txt",)


def check(caps: Capabilities, options: dict[str, Any], given: SubmitInput) -> dict[str, Any]:
    """Scenes from the options or a text (not both), images the caller uploaded, a voice the engine
    has, and publish destinations the rules allow."""
    parsed = VideoOptions.model_validate(options)
    if given.filename is not None and not given.filename.lower().endswith(TEXT_FILES):
        raise InvalidRequest("a video's script is a .txt file, `text`, or `scenes`", code="unsupported_text")
    has_text = given.filename is not None or given.text is not None
    if has_text and parsed.scenes:
        raise InvalidRequest(
            "give the scenes in `options.scenes` or as `text`, not both", code="invalid_options"
        )
    if not has_text and not parsed.scenes:
        raise InvalidRequest(
            "a video needs `text` (one scene per paragraph) or `options.scenes`", code="empty_text"
        )
    if given.text is not None:
        scenes_of_text(given.text)
    for index, scene in enumerate(parsed.scenes):
        if scene.image is not None:
            _check_image(given, index, scene.image)
    caps.speech_voice(parsed.engine, parsed.language, parsed.voice)
    if parsed.publish_dir is not None:
        check_publish_dir(parsed.publish_dir, caps.settings.publish_dirs)
    if parsed.publish_url is not None:
        check_publish_url(parsed.publish_url, allow_private=caps.settings.allow_private_sources)
    return options


def _check_image(given: SubmitInput, index: int, image: str) -> None:
    upload_id = uuid.UUID(urlsplit(image).netloc)
    try:
        if given.find_upload is None:
            raise NotFound("no uploads here")
        upload = given.find_upload(upload_id)
    except NotFound:
        raise InvalidRequest(
            f"scenes.{index}.image: no upload with id {upload_id}", code="upload_not_found"
        ) from None
    if not upload.filename.lower().endswith(IMAGE_SUFFIXES):
        raise InvalidRequest(
            f"scenes.{index}.image: {upload.filename[:80]!r} is not a {', '.join(IMAGE_SUFFIXES)} image",
            code="unsupported_image",
        )


def check_publish_dir(folder: str, allowed: list[Path]) -> Path:
    """`folder` if it is one of the operator's publish folders; InvalidRequest otherwise."""
    wanted = Path(folder)
    for path in allowed:
        if wanted.is_absolute() and wanted == path:
            return path
    named = ", ".join(str(p) for p in allowed) or "none (the operator sets MEDIAJOBS_PUBLISH_DIRS)"
    raise InvalidRequest(
        f"publish_dir {folder[:200]!r} is not a folder this deployment publishes to; allowed: {named}",
        code="publish_dir_not_allowed",
    )


def check_publish_url(url: str, *, allow_private: bool) -> None:
    """An https URL without credentials to a public host (http, and private hosts, only where the
    operator allows private sources); InvalidRequest otherwise."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise InvalidRequest("publish_url must be an https:// URL", code="invalid_publish_url")
    if not parts.hostname:
        raise InvalidRequest("publish_url has no host", code="invalid_publish_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            "publish_url may not carry credentials (user:password@)", code="invalid_publish_url"
        )
    if not allow_private:
        refuse_private_literal(parts.hostname)


PIPELINE = Pipeline(
    name="video",
    description="A narrated video from a script: one scene per paragraph (or `options.scenes`), each a "
    "card or your image with its narration and subtitles; MP4, SRT, VTT, a thumbnail, optionally published.",
    stages=(
        StageSpec(name="script", kind=kinds.DOWNLOAD, code=code.video_script, weight=0.5),
        StageSpec(
            name="assets",
            kind=kinds.SYNTHESIZE,
            code=code.video_assets,
            needs=("script",),
            inputs={"script": "script"},
            weight=2.0,
        ),
        StageSpec(
            name="render",
            kind=kinds.RENDER,
            code=code.video_render,
            needs=("assets",),
            inputs={"assets": "assets"},
            weight=6.0,
        ),
        StageSpec(
            name="thumbnail",
            kind=kinds.MEDIA,
            code=code.video_thumbnail,
            needs=("assets", "render"),
            inputs={"assets": "assets", "render": "render"},
            weight=0.5,
        ),
        StageSpec(
            name="publish",
            kind=kinds.DOWNLOAD,
            code=code.video_publish,
            needs=("thumbnail",),
            inputs={"video": "thumbnail"},
            weight=1.0,
        ),
    ),
    options_model=VideoOptions,
    source_schemes=frozenset({"upload", "options"}),
    accepts_files=TEXT_FILES,
    check=check,
    result_artifact="video.json",
    produces=("application/json", "video/mp4", "image/jpeg", "application/x-subrip", "text/vtt"),
    media_result=True,
    meter=("render", "duration"),
)

__all__ = ["IMAGE_SUFFIXES", "PIPELINE", "check", "check_publish_dir", "check_publish_url"]
