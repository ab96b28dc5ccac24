"""The `assets` stage of a video: each scene's narration and card.

The narration is the scene's text spoken by the speech-synthesis engine the job names (the
`synthesize` pipeline's voice options); its length is measured from the WAV's frame count. The card
is drawn (title and wrapped text, video_cards.py), or is the scene's image scaled and padded to the
frame. Both are checkpointed per scene, so a render that fails or a worker that dies never speaks or
draws them again.
"""

from __future__ import annotations

import wave
from pathlib import Path

from mediajobs.domain.options import VideoOptions
from mediajobs.engines.synthesis import synthesis_slot

from .base import StageContext, StageResult, stage_options
from .synthesize import engine_voice
from .video_cards import draw_card, fit_image, open_image
from .video_files import SceneAssets, fetch, load_scenes, save_assets


def video_assets(ctx: StageContext) -> StageResult:
    options = stage_options(ctx, VideoOptions)
    scenes = load_scenes(ctx)
    engine = ctx.engines.get(synthesis_slot(options.engine))
    voice = engine_voice(engine, options.language, options.voice)
    assets = []
    for index, scene in enumerate(scenes):
        wav = ctx.work_dir / f"narration{index}.wav"
        engine.speak(scene.text, wav, voice=voice, rate=options.rate, pitch=options.pitch, cancel=ctx.cancel)
        card = ctx.work_dir / f"card{index}.png"
        if scene.image_key is not None:
            local = fetch(ctx, scene.image_key, ctx.work_dir / f"image{index}")
            fit_image(open_image(local, f"scenes.{index}.image"), options.frame).save(card, optimize=False)
        else:
            draw_card(scene.title, scene.text, options.frame).save(card, optimize=False)
        seconds = wav_seconds(wav)
        assets.append(
            SceneAssets(
                text=scene.text,
                title=scene.title,
                card_key=_store(ctx, card),
                narration_key=_store(ctx, wav),
                narration_seconds=round(seconds, 6),
                duration=scene.duration,
                drawn=scene.image_key is None,
            )
        )
        ctx.progress.report(100.0 * (index + 1) / len(scenes), f"scene {index + 1} of {len(scenes)} ready")
    key = save_assets(ctx, assets)
    return StageResult(
        output={
            "assets_key": key,
            "scenes": len(assets),
            "narration_seconds": round(sum(a.narration_seconds for a in assets), 3),
            "voice": voice,
            "engine": options.engine,
        }
    )


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _store(ctx: StageContext, path: Path) -> str:
    key = ctx.output_key(path.name)
    ctx.storage.put_file(key, path)
    path.unlink(missing_ok=True)  # put_file may have moved it
    return key


__all__ = ["video_assets", "wav_seconds"]
