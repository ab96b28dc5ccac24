"""The video stages in-process on real tools (espeak-ng, Pillow, ffmpeg): a scene with the user's
image, a vertical frame, and images that are not what they claim."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from helpers.settings import make_settings
from mediajobs.domain import OPTIONS_SOURCE
from mediajobs.errors import PermanentError
from mediajobs.registry import build_registry
from mediajobs.stages.base import StageContext, StageFn, StageResult
from mediajobs.stages.video_assets import video_assets
from mediajobs.stages.video_render import video_render
from mediajobs.stages.video_script import video_script
from mediajobs.stages.video_thumbnail import video_thumbnail
from mediajobs.storage import LocalStorage, Workspace, upload_key


class Video:
    """One video job's storage and settings, its stages called the way the runner calls them."""

    def __init__(self, root: Path, options: dict[str, Any]) -> None:
        self.settings = make_settings(root)
        self.engines = build_registry(self.settings).engines()
        self.storage = LocalStorage(root / "storage")
        self.workspace = Workspace(root / "work")
        self.job_id = uuid.uuid4()
        self.options = options
        self.outputs: dict[str, dict[str, Any]] = {}
        self.root = root

    def upload(self, name: str, data: bytes) -> str:
        upload_id = uuid.uuid4()
        self.storage.write(upload_key(upload_id, name), [data])
        return f"upload://{upload_id}"

    def run(self, stage: str, code: StageFn, inputs: dict[str, str]) -> StageResult:
        ctx = StageContext(
            job_id=self.job_id, stage=stage, attempt=1, source=OPTIONS_SOURCE, options=self.options,
            inputs={name: self.outputs[need] for name, need in inputs.items()},
            work_dir=self.workspace.fresh(self.job_id, stage), storage=self.storage,
            settings=self.settings, engines=self.engines,
        )  # fmt: skip
        result = code(ctx)
        self.outputs[stage] = dict(result.output)
        for artifact in result.artifacts:
            kept = self.root / "out" / artifact.name
            kept.parent.mkdir(exist_ok=True)
            kept.write_bytes(artifact.path.read_bytes())
        return result


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    path = Path(f"/tmp/mj-{uuid.uuid4().hex}.png")
    Image.new("RGB", size, colour).save(path)
    data = path.read_bytes()
    path.unlink()
    return data


def test_a_vertical_video_with_the_users_image(tmp_path: Path) -> None:
    job = Video(tmp_path, {})
    image = job.upload("photo.png", _png((400, 300), (200, 30, 30)))
    job.options = {
        "size": "720x1280",
        "title": "Our town",
        "scenes": [{"text": "A red picture, padded to the frame.", "image": image}, {"text": "A card."}],
    }
    job.run("script", video_script, {})
    assets = job.run("assets", video_assets, {"script": "script"})
    assert assets.output["scenes"] == 2
    job.run("render", video_render, {"assets": "assets"})
    job.run("thumbnail", video_thumbnail, {"assets": "assets", "render": "render"})
    video = tmp_path / "out" / "video.mp4"
    entries = ["-show_entries", "stream=width,height", "-of", "json"]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", *entries, str(video)],
        capture_output=True,
        check=True,
    )
    assert json.loads(probe.stdout)["streams"][0] == {"width": 720, "height": 1280}
    frame = tmp_path / "frame.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "0.2", "-i", str(video), "-frames:v", "1", str(frame)], check=True
    )
    with Image.open(frame) as picture:
        middle = picture.convert("RGB").getpixel((360, 640))
        top = picture.convert("RGB").getpixel((360, 20))
    assert middle[0] > 150  # the photo (red), scaled to the width...
    assert middle[1] < 90
    assert top[0] < 60  # ... and padded above and below with the background
    with Image.open(tmp_path / "out" / "thumbnail.jpg") as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (1280, 720))
    result = json.loads((tmp_path / "out" / "video.json").read_text())
    assert result["title"] == "Our town"
    assert result["size"] == "720x1280"


@pytest.mark.parametrize(
    ("name", "data", "found"),
    [
        ("fake.png", b"<html>not an image</html>", "cannot be read as an image"),
        ("huge.png", b"", "over 40000000 pixels"),
    ],
)
def test_an_image_that_is_not_one_fails_in_the_script_stage(
    tmp_path: Path, name: str, data: bytes, found: str
) -> None:
    job = Video(tmp_path, {})
    if not data:  # 8000 x 6000: a small file of many pixels
        path = tmp_path / name
        Image.new("1", (8000, 6000)).save(path)
        data = path.read_bytes()
    job.options = {"scenes": [{"text": "x", "image": job.upload(name, data)}]}
    with pytest.raises(PermanentError, match=found) as caught:
        job.run("script", video_script, {})
    assert caught.value.code == "unsupported_image"


def test_a_rerun_that_changes_the_size_renders_the_reused_cards_at_the_new_size(tmp_path: Path) -> None:
    job = Video(tmp_path, {"scenes": [{"text": "One short scene."}]})
    job.run("script", video_script, {})
    job.run("assets", video_assets, {"script": "script"})  # cards drawn at 1280x720
    job.options = {**job.options, "size": "1920x1080"}  # POST .../rerun {"from_stage": "render", ...}
    job.run("render", video_render, {"assets": "assets"})
    entries = ["-show_entries", "stream=width,height", "-of", "json"]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", *entries, str(tmp_path / "out" / "video.mp4")],
        capture_output=True,
        check=True,
    )
    assert json.loads(probe.stdout)["streams"][0] == {"width": 1920, "height": 1080}


def test_a_video_longer_than_the_media_limit_is_refused_before_ffmpeg(tmp_path: Path) -> None:
    job = Video(tmp_path, {"scenes": [{"text": "Long.", "duration": 600}] * 3})
    job.settings = make_settings(tmp_path, MEDIAJOBS_MAX_MEDIA_SECONDS=1000)
    job.run("script", video_script, {})
    job.run("assets", video_assets, {"script": "script"})
    with pytest.raises(PermanentError, match="over the 1000 s limit") as caught:
        job.run("render", video_render, {"assets": "assets"})
    assert caught.value.code == "media_too_long"
