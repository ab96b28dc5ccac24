"""A deployment's own pipeline, as a plug-in: `wordcount` counts the words of a text.

The complete example of docs/plugins.md (a test checks that the page shows this file as it is). Run
it with `MEDIAJOBS_PLUGINS=wordcount` (this module on the Python path) in the API and in the worker
that serves its queue kind, `textstats`:

    MEDIAJOBS_PLUGINS=wordcount mediajobs worker -Q textstats
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.domain import Pipeline, QueueKind, StageSpec
from mediajobs.errors import PermanentError
from mediajobs.registry import Registry
from mediajobs.stages import ArtifactFile, StageContext, StageResult
from mediajobs.storage import upload_prefix


class WordCountOptions(BaseModel):
    """What a `wordcount` job may ask for (shown in the API's OpenAPI document)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top: int = Field(default=3, ge=1, le=100, description="How many of the most frequent words to list.")


TEXTSTATS = QueueKind(name="textstats", description="small text statistics (CPU, milliseconds)")


def count(ctx: StageContext) -> StageResult:
    """Count the words of the job's text (a submit's `text` is stored as an upload)."""
    options = WordCountOptions.model_validate(ctx.options)
    upload_id = urlsplit(ctx.source).netloc
    files = ctx.storage.list(upload_prefix(uuid.UUID(upload_id)))
    if len(files) != 1:
        raise PermanentError(f"upload {upload_id} holds no text", code="missing_input")
    with ctx.storage.open(files[0].key) as fh:
        words = fh.read().decode("utf-8").lower().split()
    ctx.progress.report(50.0, f"read {len(words)} words")
    counts = Counter(w.strip(".,;:!?\"'") for w in words)
    top = [{"word": word, "count": n} for word, n in counts.most_common(options.top)]
    path = ctx.work_dir / "counts.json"
    path.write_text(json.dumps({"words": len(words), "top": top}), encoding="utf-8")
    return StageResult(
        output={"words": len(words)},
        artifacts=[ArtifactFile(name="counts.json", path=path, content_type="application/json")],
    )


WORDCOUNT = Pipeline(
    name="wordcount",
    description="Count the words of a text and list the most frequent.",
    stages=(StageSpec(name="count", kind=TEXTSTATS, code=count),),
    options_model=WordCountOptions,
    source_schemes=frozenset({"upload"}),
    result_artifact="counts.json",
)


def register(registry: Registry) -> None:
    """Called once per process with the deployment's registry (MEDIAJOBS_PLUGINS)."""
    registry.add_pipeline(WORDCOUNT)
