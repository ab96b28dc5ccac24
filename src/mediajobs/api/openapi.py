"""The OpenAPI document, made to tell the truth about what the routes answer.

FastAPI's generated document is close, but not right for this API: every error here is an `ErrorBody`
(FastAPI documents its own `HTTPValidationError` for 422), every API route needs a bearer key (401)
and can answer 400 for a control character (the `ControlCharacterGuard` runs before any route) and
503 while the database is away,
the webhooks mediajobs sends are documented under `webhooks` (their responses are the receiver's), and
the JSON submit's body (`JobCreate`) is referenced from the hand-written request body of
`POST /api/v1/jobs`, so its schema must be put in the components. That schema is one variant per
pipeline of the registry (plug-ins' too), told apart by `pipeline` (a discriminator), each with its
own options model and their defaults, so /docs shows what every pipeline takes. Schemathesis checks the result
against the running app in the test suite (tests/integration/test_openapi_conformance.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, create_model

from mediajobs.api.batch_schemas import BatchCreate
from mediajobs.api.guards import NO_CONTROL, NO_CONTROL_IN_HEADER
from mediajobs.api.schemas import SOURCE_OR_TEXT, ErrorBody, JobCreate, SubmitFields
from mediajobs.domain import Pipeline

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR = {"application/json": {"schema": _ERROR_REF}}
COMMON_ERRORS: dict[str, dict[str, Any]] = {
    "400": {"description": "A control character in the path, query string or a header", "content": _ERROR},
    "401": {"description": "No valid API key", "content": _ERROR},
    "503": {"description": "The database cannot be reached now", "content": _ERROR},
}
BEARER = {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer mj_...`"}
# What ControlCharacterGuard lets through, as patterns for every free-text parameter: a value the
# document calls valid is then one the API reads (the guard answers 400 to anything else).
URL_TEXT = NO_CONTROL  # path and query values, decoded
HEADER_TEXT = NO_CONTROL_IN_HEADER  # header values (tab allowed)
# Parameters with rules of their own, by name (header names in lower case).
_PARAMETER_RULES: dict[str, dict[str, Any]] = {
    "idempotency-key": {
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\x00-\\x20\\x7f]([^\\x00-\\x08\\x0a-\\x1f\\x7f]*[^\\x00-\\x20\\x7f])?$",
    },
    "last-event-id": {"pattern": "^[0-9]*$"},
}
# Responses some operations have besides those their routes declare.
_EXTRA_RESPONSES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("/api/v1/jobs", "post"): {
        "404": {"description": "A `job://` source that is not one of your jobs", "content": _ERROR},
    },
}
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def _add_schema(components: dict[str, Any], model: type[Any]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)


def submit_model(pipeline: Pipeline) -> type[BaseModel]:
    """The JSON submit of one pipeline, for the document: `pipeline` fixed, `options` its own model."""
    options = pipeline.options_model
    required = any(f.is_required() for f in options.model_fields.values())
    camel = "".join(part.capitalize() for part in pipeline.name.replace("-", "_").split("_"))
    model: type[BaseModel] = create_model(
        f"{camel}JobCreate",
        __base__=SubmitFields,
        __doc__=f"A `{pipeline.name}` job. {pipeline.description}".strip(),
        pipeline=(Literal[pipeline.name], Field(description="The pipeline to run.")),  # type: ignore[arg-type]
        options=(options, Field(...) if required else Field(default_factory=options)),
    )
    return model


def _add_submit_union(components: dict[str, Any], pipelines: Sequence[Pipeline]) -> None:
    """`JobCreate` as one variant per pipeline, discriminated by `pipeline`."""
    if not pipelines:
        _add_schema(components, JobCreate)
        return
    variants: dict[str, str] = {}
    for pipeline in pipelines:
        model = submit_model(pipeline)
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        if "options" in pipeline.source_schemes:  # its input may be in its options: no source or text
            schema["not"] = {"required": ["source", "text"], "properties": SOURCE_OR_TEXT}
        else:
            schema["oneOf"] = [
                {"required": [field], "properties": {field: value}} for field, value in SOURCE_OR_TEXT.items()
            ]
        components[model.__name__] = schema
        variants[pipeline.name] = f"#/components/schemas/{model.__name__}"
    components["JobCreate"] = {
        "title": "JobCreate",
        "description": "A job to run: `pipeline` says which, and so which options it takes.",
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "pipeline", "mapping": variants},
    }


def truthful_openapi(
    app: FastAPI, file_types: Iterable[str] = (), pipelines: Sequence[Pipeline] = ()
) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        description=app.description,
    )
    document.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = BEARER
    components: dict[str, Any] = document["components"].setdefault("schemas", {})
    _add_submit_union(components, pipelines)
    _add_schema(components, BatchCreate)
    _add_schema(components, ErrorBody)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            for parameter in operation.get("parameters", []):
                _state_parameter_rules(parameter)
            _state_multipart_rules(operation)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in _EXTRA_RESPONSES.get((path, method), {}).items():
                responses.setdefault(status, response)
            if "422" in responses:
                responses["422"]["content"] = _ERROR
                responses["422"].setdefault("description", "The request is not acceptable")
            if "application/octet-stream" in responses.get("200", {}).get("content", {}):
                for media_type in file_types:  # what the pipelines' files may be
                    responses["200"]["content"].setdefault(media_type, {"schema": {}})
            if path.startswith("/api/"):
                operation.setdefault("security", [{"bearer": []}])
                for status, response in COMMON_ERRORS.items():
                    responses.setdefault(status, response)
    for item in document.get("webhooks", {}).values():  # what mediajobs sends: it reads no 422
        for operation in item.values():
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return document


def _state_parameter_rules(parameter: dict[str, Any]) -> None:
    """A free-text parameter takes no control character (the guard's 400), plus its own rules. An
    optional one is absent or a value, never null (FastAPI writes `anyOf: [..., null]`, which a
    client would send as the text `null`)."""
    schema: dict[str, Any] = parameter.setdefault("schema", {})
    options = schema.get("anyOf", [])
    values = [o for o in options if o.get("type") != "null"]
    if len(values) == 1 and len(options) == 2:
        del schema["anyOf"]
        schema.update(values[0])
    rules = _PARAMETER_RULES.get(parameter["name"].lower())
    if rules is None:
        _no_control(schema, HEADER_TEXT if parameter["in"] == "header" else URL_TEXT)
        return
    for option in [schema, *schema.get("anyOf", ())]:
        if option.get("type") == "string":
            option.update(rules)


def _state_multipart_rules(operation: dict[str, Any]) -> None:
    """A multipart body's file is not empty. (Its field names hold no control character either; said
    as `propertyNames`, that made the submit's smallest body too large for Schemathesis to draw.)"""
    content = operation.get("requestBody", {}).get("content", {})
    file = content.get("multipart/form-data", {}).get("schema", {}).get("properties", {}).get("file")
    if file is not None:
        file.setdefault("minLength", 1)


def _no_control(schema: dict[str, Any], pattern: str) -> None:
    """Give a free-text string schema (no pattern, enum or format of its own) `pattern`."""
    for option in schema.get("anyOf", ()):
        _no_control(option, pattern)
    if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(schema):
        schema["pattern"] = pattern


def install_openapi(app: FastAPI, pipelines: Iterable[Pipeline] = ()) -> None:
    """Serve `truthful_openapi` (built once) at /openapi.json; file downloads list the media types the
    `pipelines` produce."""
    pipelines = list(pipelines)
    file_types = sorted({t for pipeline in pipelines for t in pipeline.produces})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_openapi(app, file_types, pipelines)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["COMMON_ERRORS", "HEADER_TEXT", "URL_TEXT", "install_openapi", "submit_model", "truthful_openapi"]
