"""The pipelines of this deployment (the shipped ones and its plug-ins'), for clients that build
forms: each one's stages, queue kinds, accepted sources and the JSON schema of its options."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody
from mediajobs.domain import Pipeline

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class PipelineStagePublic(BaseModel):
    name: str
    kind: str = Field(description="The queue kind it runs on.")
    needs: list[str] = Field(description="The stages it waits for.")
    weight: float = Field(description="Its share of the job's progress.")
    fans_out_to: str | None = Field(
        default=None, description="The name of its children (`chunk[i]`), if any."
    )


class PipelinePublic(BaseModel):
    name: str
    description: str
    stages: list[PipelineStagePublic]
    queue_kinds: list[str]
    sources: list[str] = Field(
        description="What `source` may be: `http`, `https`, `upload`, `job` (its scheme), `options` "
        "(no source: the input is in the options), and `text` when a `text` field is read."
    )
    accepts_files: list[str] = Field(description="Upload file types it reads (empty: any media).")
    result: str | None = Field(
        description="The artifact GET /jobs/{id}/result answers (`{option}` filled in)."
    )
    produces: list[str] = Field(description="Media types of its result and artifacts.")
    options_schema: dict[str, Any] = Field(description="The JSON schema of its `options`, with defaults.")


class PipelineList(BaseModel):
    pipelines: list[PipelinePublic]


def pipeline_public(pipeline: Pipeline) -> PipelinePublic:
    schemes = set(pipeline.source_schemes)
    # a `text` field is stored as an upload: a pipeline that reads text uploads reads it
    sources = sorted(schemes | ({"text"} if "upload" in schemes and pipeline.accepts_files else set()))
    return PipelinePublic(
        name=pipeline.name,
        description=pipeline.description,
        stages=[
            PipelineStagePublic(
                name=spec.name,
                kind=spec.kind.name,
                needs=list(spec.needs),
                weight=spec.weight,
                fans_out_to=spec.fan_out.child if spec.fan_out else None,
            )
            for spec in pipeline.stages
        ],
        queue_kinds=[kind.name for kind in pipeline.queue_kinds],
        sources=sources,
        accepts_files=list(pipeline.accepts_files),
        result=pipeline.result_artifact,
        produces=list(pipeline.produces),
        options_schema=pipeline.options_model.model_json_schema(),
    )


@router.get("/pipelines", response_model=PipelineList, responses={401: {"model": ErrorBody}})
def list_pipelines(services: ServicesDep, owner: CurrentUser) -> PipelineList:
    """Every pipeline a job may name, with its stages, queue kinds, sources and options schema."""
    return PipelineList(pipelines=[pipeline_public(p) for p in services.pipelines.values()])
