"""What the stages of a video job hand each other: the scene list and the per-scene assets, as JSON
files in storage (a 200-scene script is too large for a checkpoint row), and local copies of them."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mediajobs.errors import PermanentError

from .base import StageContext


@dataclass(frozen=True, kw_only=True, slots=True)
class Scene:
    """One scene as the script stage fixed it."""

    text: str
    title: str | None = None
    image_key: str | None = None  # the scene's image, copied into the script stage's checkpoint
    duration: float | None = None  # least seconds on screen


@dataclass(frozen=True, kw_only=True, slots=True)
class SceneAssets:
    """One scene's narration and card, as the assets stage made them."""

    text: str
    title: str | None
    card_key: str  # PNG of the frame's size
    narration_key: str  # WAV
    narration_seconds: float
    duration: float | None  # the scene's own least duration, if it set one
    drawn: bool = True  # the card was drawn (title and text on it), not the scene's image


def save_json(ctx: StageContext, name: str, data: Any) -> str:
    """`data` as a JSON file of this attempt's checkpoint; its storage key."""
    key = ctx.output_key(name)
    ctx.storage.write(key, [json.dumps(data, ensure_ascii=False).encode("utf-8")])
    return key


def load_json(ctx: StageContext, key: str) -> Any:
    with ctx.storage.open(key) as fh:
        return json.load(fh)


def save_scenes(ctx: StageContext, scenes: list[Scene]) -> str:
    return save_json(ctx, "scenes.json", {"scenes": [asdict(s) for s in scenes]})


def load_scenes(ctx: StageContext) -> list[Scene]:
    data = load_json(ctx, ctx.input_key("script", "scenes"))
    return [Scene(**item) for item in data["scenes"]]


def save_assets(ctx: StageContext, assets: list[SceneAssets]) -> str:
    return save_json(ctx, "assets.json", {"scenes": [asdict(a) for a in assets]})


def load_assets(ctx: StageContext) -> list[SceneAssets]:
    data = load_json(ctx, ctx.input_key("assets", "assets"))
    assets = [SceneAssets(**item) for item in data["scenes"]]
    if not assets:
        raise PermanentError("the video has no scenes", code="missing_input")
    return assets


def fetch(ctx: StageContext, key: str, target: Path) -> Path:
    """The stored object `key` copied to `target` (in the work folder)."""
    with ctx.storage.open(key) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return target


__all__ = [
    "Scene",
    "SceneAssets",
    "fetch",
    "load_assets",
    "load_json",
    "load_scenes",
    "save_assets",
    "save_json",
    "save_scenes",
]
