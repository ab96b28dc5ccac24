"""The OpenAI-compatible audio API: /v1/audio/transcriptions, /v1/audio/translations, /v1/audio/speech
and /v1/models, for clients that speak only OpenAI's synchronous API.

Each request submits an ordinary job through the application layer (`service.submit`: on the caller's
lane, metered, counted in their quotas, visible in /api/v1/jobs) and waits for its end through the
application layer too (`service.wait_until_done`, which follows the job's events: no polling here).
A job that outlasts `MEDIAJOBS_SYNC_WAIT_SECONDS`, or a request with `Prefer: respond-async`, is
answered 202 with the job's links instead, and the job runs on. Errors take OpenAI's shape
(api/errors.py, for every path under /v1/).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from mediajobs import service
from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.downloads import send_object
from mediajobs.api.guards import check_text
from mediajobs.api.multipart import FormFields
from mediajobs.api.openai_schemas import (
    SPEECH_ENGINES,
    SPEECH_MODELS,
    TRANSCRIBE_ALIASES,
    OpenAIError,
    OpenAIModel,
    OpenAIModelList,
    SpeechCreate,
    Transcription,
    TranscriptionForm,
    TranscriptionVerbose,
    speech_engine,
    speech_rate,
    speech_voice,
    stt_model,
)
from mediajobs.api.schemas import JobAccepted
from mediajobs.api.submission import receive_form
from mediajobs.audioformats import FORMATS
from mediajobs.domain import Job, JobStatus
from mediajobs.errors import ClientError, Conflict, InvalidRequest, MediaJobsError
from mediajobs.public import job_links
from mediajobs.service import SubmitRequest, request_hash
from mediajobs.storage import read_bytes
from mediajobs.store import Caller
from mediajobs.wiring import Services

router = APIRouter(prefix="/v1", tags=["openai"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIError, "description": what}
    for code, what in (
        (202, "The job outlasted MEDIAJOBS_SYNC_WAIT_SECONDS, or `Prefer: respond-async`: its links"),
        (400, "A body that is not JSON, or a malformed multipart form"),
        (401, "No valid API key"),
        (413, "The file or body is too large"),
        (422, "Invalid parameters, or nothing installed can do them"),
        (429, "Over a quota or the submit rate limit"),
    )
}
_ERRORS[202] = {"model": JobAccepted, "description": _ERRORS[202]["description"]}


def _form_body() -> dict[str, Any]:
    """The multipart body as OpenAPI states it: the `file` part and TranscriptionForm's fields (the
    granularities as OpenAI's client sends them, `timestamp_granularities[]` repeated)."""
    schema = TranscriptionForm.model_json_schema(ref_template="#/components/schemas/{model}")
    # a form field is sent or left out, never null: each optional field's schema without its null
    properties = {k: _not_null(v) for k, v in schema["properties"].items() if k != "stream"}
    properties["timestamp_granularities[]"] = properties.pop("timestamp_granularities")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}, **properties},
                    }
                }
            },
        }
    }


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**rest, **branches[0]}


_FORM_BODY = _form_body()


@router.get("/models", response_model=OpenAIModelList, responses={401: _ERRORS[401]})
def list_models(services: ServicesDep, owner: CurrentUser) -> OpenAIModelList:
    """The model names the /v1/audio routes accept (OpenAI's and this deployment's own)."""
    names = [
        *sorted(TRANSCRIBE_ALIASES),
        *(m.name for m in services.capabilities.models.models()),
        *SPEECH_MODELS,
        *SPEECH_ENGINES,
    ]
    return OpenAIModelList(data=[OpenAIModel(id=name) for name in names])


@router.post(
    "/audio/transcriptions",
    responses={200: {"model": TranscriptionVerbose}, **_ERRORS},
    openapi_extra=_FORM_BODY,
    response_model=None,
)
async def create_transcription(request: Request, services: ServicesDep, owner: CurrentUser) -> Response:
    """Speech to text in its language (a `transcribe` job), answered when the job ends (`Prefer:
    respond-async`, or a job longer than MEDIAJOBS_SYNC_WAIT_SECONDS: 202 and the job's links)."""
    return await _speech_to_text(request, services, owner, "transcribe")


@router.post(
    "/audio/translations",
    responses={200: {"model": TranscriptionVerbose}, **_ERRORS},
    openapi_extra=_FORM_BODY,
    response_model=None,
)
async def create_translation(request: Request, services: ServicesDep, owner: CurrentUser) -> Response:
    """Speech in any language to English text (a `transcribe` job with `task=translate`); 202 as for
    transcriptions."""
    return await _speech_to_text(request, services, owner, "translate")


@router.post(
    "/audio/speech",
    response_class=Response,
    responses={
        200: {"content": {f.content_type: {"schema": {}} for f in FORMATS.values()}},
        **_ERRORS,
    },
)
async def create_speech(
    body: SpeechCreate, request: Request, services: ServicesDep, owner: CurrentUser
) -> Response:
    """Text to speech (a `synthesize` job), answered with the audio when the job ends; 202 as for
    transcriptions."""
    prefer = request.headers.get("prefer")
    headers = request.app.state.gate.check(owner, services.store.db.clock())
    engine = speech_engine(check_text(body.model, "model"))
    if engine is None:
        raise InvalidRequest(
            f"unknown model {body.model[:64]!r}; models: {', '.join([*SPEECH_MODELS, *SPEECH_ENGINES])}",
            code="unknown_model",
        )
    check_text(body.input, "input", multiline=True)
    language, voice = speech_voice(engine, body.voice)
    options = {
        "engine": engine,
        "language": language,
        "voice": voice,
        "rate": speech_rate(body.speed),
        "format": body.response_format,
    }
    upload = await run_in_threadpool(service.store_text, services, owner.user.id, body.input)
    submit = SubmitRequest(
        pipeline="synthesize",
        source=f"upload://{upload.id}",
        options=options,
        body_hash=request_hash("synthesize", f"text:{upload.sha256}", options),
        upload=upload,
        text=body.input,
    )
    job = await _submit_and_wait(services, owner, submit, prefer)
    if job.status is not JobStatus.SUCCEEDED:
        return _accepted(job, headers, prefer)
    fmt = FORMATS[body.response_format]
    response = await run_in_threadpool(_speech, services, job, fmt.name, fmt.content_type)
    response.headers.update(_job_headers(job, headers))
    return response


def _speech(services: Services, job: Job, fmt: str, content_type: str) -> Response:
    """The finished job's `speech.<fmt>`, streamed (or a redirect to the storage's URL for it)."""
    artifact = services.store.artifacts.get_artifact(job.id, f"speech.{fmt}")
    return send_object(services.storage, artifact.key, media_type=content_type)


# -- speech to text -----------------------------------------------------------------------------


async def _speech_to_text(request: Request, services: Services, owner: Caller, task: str) -> Response:
    prefer = request.headers.get("prefer")
    headers = request.app.state.gate.check(owner, services.store.db.clock())

    def checked(fields: FormFields) -> tuple[TranscriptionForm, dict[str, Any]]:
        form = _form(fields)
        model = stt_model(services.capabilities.models, form.model, task, form.language)
        verbose = form.response_format == "verbose_json"
        options = {
            "model": model,
            "language": form.language or "auto",
            "task": task,
            "prompt": form.prompt or None,
            "temperature": form.temperature or None,
            "word_timestamps": verbose and "word" in form.timestamp_granularities,
            "segment_details": verbose,
        }
        return form, services.pipelines.get_pipeline("transcribe").validate_options(options)

    upload, (form, options) = await receive_form(request, services, owner.user.id, checked)
    submit = SubmitRequest(
        pipeline="transcribe",
        source=f"upload://{upload.id}",
        options=options,
        body_hash=request_hash("transcribe", f"sha256:{upload.sha256}", options),
        upload=upload,
    )
    job = await _submit_and_wait(services, owner, submit, prefer)
    if job.status is not JobStatus.SUCCEEDED:
        return _accepted(job, headers, prefer)
    return await run_in_threadpool(_transcription, services, job, form, _job_headers(job, headers))


def _form(fields: FormFields) -> TranscriptionForm:
    """The form's fields as a TranscriptionForm; a RequestValidationError names the bad field."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if not k.startswith("timestamp_granularities")}
    granularities = fields.getlist("timestamp_granularities[]") + fields.getlist("timestamp_granularities")
    if granularities:
        data["timestamp_granularities"] = granularities
    for name, value in data.items():
        if isinstance(value, str):
            check_text(value, name, multiline=name == "prompt")
    try:
        form = TranscriptionForm.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if form.stream:
        raise InvalidRequest(
            "streamed transcriptions are not supported; leave `stream` false", code="unsupported_value"
        )
    return form


def _transcription(
    services: Services, job: Job, form: TranscriptionForm, headers: dict[str, str]
) -> Response:
    """The finished job's transcript in the asked `response_format`."""

    def artifact(name: str) -> bytes:
        return read_bytes(services.storage, services.store.artifacts.get_artifact(job.id, name).key)

    fmt = form.response_format
    if fmt == "srt":
        return Response(artifact("transcript.srt"), media_type="application/x-subrip", headers=headers)
    if fmt == "vtt":
        return Response(artifact("transcript.vtt"), media_type="text/vtt; charset=utf-8", headers=headers)
    document = json.loads(artifact("transcript.json"))
    text = str(document.get("text") or "")
    if fmt == "text":
        return PlainTextResponse(text + "\n", headers=headers)
    if fmt == "json":
        return JSONResponse(Transcription(text=text).model_dump(), headers=headers)
    task = str(job.options.get("task") or "transcribe")
    return JSONResponse(verbose(document, task, form).model_dump(exclude_none=True), headers=headers)


def verbose(document: dict[str, Any], task: str, form: TranscriptionForm) -> TranscriptionVerbose:
    """OpenAI's verbose_json of a transcript.json written with `segment_details` (and `word_timestamps`
    when words were asked for): segments unless only words were asked for, words when asked for."""
    granularities = set(form.timestamp_granularities) or {"segment"}
    raw = list(document.get("segments") or ())
    segments = [
        {
            "id": n,
            "seek": int(s.get("seek", 0)),
            "start": s["start"],
            "end": s["end"],
            "text": s["text"],
            "tokens": list(s.get("tokens") or ()),
            "temperature": float(s.get("temperature", 0.0)),
            "avg_logprob": float(s.get("avg_logprob", 0.0)),
            "compression_ratio": float(s.get("compression_ratio", 0.0)),
            "no_speech_prob": float(s.get("no_speech_prob", 0.0)),
        }
        for n, s in enumerate(raw)
    ]
    words = [
        {"word": w["word"], "start": w["start"], "end": w["end"]} for s in raw for w in s.get("words") or ()
    ]
    return TranscriptionVerbose.model_validate(
        {
            "task": task,
            "language": document.get("language") or "",
            "duration": float(document.get("duration") or 0.0),
            "text": str(document.get("text") or ""),
            "segments": segments if "segment" in granularities else None,
            "words": words if "word" in granularities else None,
        }
    )


# -- the job: submit, wait, answer ---------------------------------------------------------------


def _wants_async(prefer: str | None) -> bool:
    """RFC 7240 `Prefer: respond-async` (among other preferences, any case)."""
    return prefer is not None and any(
        p.split(";", 1)[0].strip().lower() == "respond-async" for p in prefer.split(",")
    )


async def _submit_and_wait(
    services: Services, owner: Caller, submit: SubmitRequest, prefer: str | None
) -> Job:
    """Submit the job; unless the client prefers an asynchronous answer, wait (at most
    MEDIAJOBS_SYNC_WAIT_SECONDS) for its end. A failed or cancelled job raises its error."""
    job, _ = await run_in_threadpool(service.submit, services, owner, submit)
    if _wants_async(prefer):
        return job
    job = await service.wait_until_done(services, owner, job.id, timeout=services.settings.sync_wait_seconds)
    if job.status is JobStatus.FAILED:
        error = job.error
        message = f"job {job.id} failed: {error.message}" if error else f"job {job.id} failed"
        code = error.code if error else "job_failed"
        if error is not None and not error.retryable:
            raise ClientError(message, code=code)  # the input: 400, like OpenAI's for an unreadable file
        raise MediaJobsError(message, code=code)  # 500
    if job.status is JobStatus.CANCELLED:
        raise Conflict(f"job {job.id} was cancelled", code="job_cancelled")
    return job


def _job_headers(job: Job, headers: dict[str, str]) -> dict[str, str]:
    """The submit gate's headers (RateLimit-*) and the job's id, on every answer."""
    return {**headers, "X-Mediajobs-Job": str(job.id)}


def _accepted(job: Job, headers: dict[str, str], prefer: str | None) -> JSONResponse:
    """202: the job runs on; its links say where to follow it and fetch its result."""
    extra = {"Preference-Applied": "respond-async"} if _wants_async(prefer) else {}
    body = JobAccepted(id=job.id, status=job.status.value, links=job_links(job.id))
    headers = {**_job_headers(job, headers), "Location": body.links.self, **extra}
    return JSONResponse(body.model_dump(mode="json"), status_code=202, headers=headers)


__all__ = ["router", "verbose"]
