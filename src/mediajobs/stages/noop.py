"""The `noop` stage: pretends to work for `work_seconds` (stoppable by a cancel), does nothing else.

It runs through exactly the path of a real stage (claim, lease, heartbeat, progress, checkpoint), so
load tests and benchmarks measure mediajobs itself, not ffmpeg or Whisper.
"""

from __future__ import annotations

from mediajobs.domain.options import NoopOptions

from .base import StageContext, StageResult


def noop(ctx: StageContext) -> StageResult:
    options = NoopOptions.model_validate(
        {k: v for k, v in ctx.options.items() if k in NoopOptions.model_fields}
    )
    if options.work_seconds:
        ctx.progress.report(0.0, "working")
        ctx.cancel.wait(options.work_seconds)
    ctx.cancel.raise_if_set()
    return StageResult(output={"stage": ctx.stage, "worked": options.work_seconds})


__all__ = ["noop"]
