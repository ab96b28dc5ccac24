"""What the engines of this deployment can do: speech models, translation pairs, voices."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class ModelPublic(BaseModel):
    name: str = Field(description="What a transcribe job's `model` option names.")
    default: bool
    multilingual: bool
    languages: list[str] = Field(description="Language codes it transcribes (`language` option).")
    tasks: list[str] = Field(description="`transcribe`, and `translate` (speech to English) if multilingual.")
    size: int = Field(description="Bytes of its model file.")
    description: str


class ModelList(BaseModel):
    models: list[ModelPublic]


@router.get("/models", response_model=ModelList, responses={401: {"model": ErrorBody}})
def list_models(services: ServicesDep, owner: CurrentUser) -> ModelList:
    """The speech-to-text models a transcribe job may ask for, with their languages and sizes."""
    catalog = services.capabilities.models
    return ModelList(
        models=[
            ModelPublic(
                name=m.name,
                default=m.name == catalog.default,
                multilingual=m.multilingual,
                languages=list(m.languages),
                tasks=list(m.tasks),
                size=m.size,
                description=m.description,
            )
            for m in catalog.models()
        ]
    )


class PairPublic(BaseModel):
    source: str
    target: str
    engine_mode: str = Field(description="The installed Apertium pair.")


class LanguagesPublic(BaseModel):
    translation_pairs: list[PairPublic] = Field(description="Installed direct pairs.")
    translation_routes: dict[str, list[str]] = Field(
        description="Every target each source language reaches, directly or by chaining pairs."
    )
    speech_languages: list[str] = Field(description="What a synthesize job's `language` may be.")
    speech_variants: list[str] = Field(description="Voice variants: `voice` may be `<language>+<variant>`.")


@router.get("/languages", response_model=LanguagesPublic, responses={401: {"model": ErrorBody}})
def list_languages(services: ServicesDep, owner: CurrentUser) -> LanguagesPublic:
    """What a translate job can translate to what, and what a synthesize job can speak."""
    translator = services.capabilities.translator
    return LanguagesPublic(
        translation_pairs=[
            PairPublic(source=s, target=t, engine_mode=mode)
            for (s, t), mode in sorted(translator.pairs.items())
        ],
        translation_routes=translator.reachable(),
        speech_languages=sorted(services.capabilities.voices.languages),
        speech_variants=sorted(services.capabilities.voices.variants),
    )
