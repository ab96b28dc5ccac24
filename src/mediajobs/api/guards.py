"""Checks every request passes before a route reads it, and bounds on what a submit may contain.

- `ControlCharacterGuard` (ASGI middleware): a path, query string or header value with a control
  character (NUL included) is answered 400 `invalid_characters` at once. Such bytes have no business
  in a URL or header, and PostgreSQL refuses NUL in text: they would otherwise surface as a 500.
- `check_text` / `check_options`: the same rule for strings inside a JSON or multipart body, and
  bounds on how deep and how many option values a submit may hold, so a 1M-key object costs a short
  422, not a 40 MB error message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from mediajobs.errors import InvalidRequest

MAX_OPTION_KEYS = 64  # keys of the options object itself
MAX_OPTION_NODES = 2000  # values anywhere inside it (a video's 200 scenes of 4 fields are 1002)
MAX_OPTION_DEPTH = 8
MAX_OPTION_STRING = 4096
SHOWN = 3  # offending keys named in an error message

# The same rules as JSON-schema patterns, for the OpenAPI document (api/openapi.py, api/schemas.py).
NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*$"  # paths, queries, names: no control character
NO_CONTROL_IN_TEXT = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"  # text: tab and newlines allowed
NO_CONTROL_IN_HEADER = "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$"  # header values: tab allowed

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR allowed
_CONTROL_BYTES = frozenset(range(0x20)) | {0x7F}
_HEADER_CONTROL_BYTES = _CONTROL_BYTES - {0x09}


def has_control(value: str, *, multiline: bool = False) -> bool:
    return (_CONTROL_IN_TEXT if multiline else _CONTROL).search(value) is not None


def check_text(value: str, what: str, *, multiline: bool = False) -> str:
    """`value` unless it holds a control character (NUL, escape...): InvalidRequest."""
    if has_control(value, multiline=multiline):
        raise InvalidRequest(f"{what} contains a control character", code="invalid_characters")
    return value


def shown(keys: Iterable[str]) -> str:
    """The first few keys, each cut short, for an error message."""
    listed = []
    for n, key in enumerate(keys):
        if n == SHOWN:
            listed.append("...")
            break
        listed.append(repr(key[:40]))
    return ", ".join(listed)


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Refuse option documents too wide, too deep or too large to be real options."""
    if len(options) > MAX_OPTION_KEYS:
        raise InvalidRequest(
            f"options has {len(options)} keys; at most {MAX_OPTION_KEYS} are accepted "
            f"(the first: {shown(options)})",
            code="invalid_options",
        )
    nodes = 0
    stack: list[tuple[Any, int, str]] = [(options, 1, "options")]
    while stack:
        value, depth, where = stack.pop()
        nodes += 1
        if nodes > MAX_OPTION_NODES:
            raise InvalidRequest(f"options hold more than {MAX_OPTION_NODES} values", code="invalid_options")
        if depth > MAX_OPTION_DEPTH:
            raise InvalidRequest(
                f"options nest deeper than {MAX_OPTION_DEPTH} levels (at {where[:100]})",
                code="invalid_options",
            )
        if isinstance(value, str):
            if len(value) > MAX_OPTION_STRING:
                raise InvalidRequest(f"{where[:100]} is longer than {MAX_OPTION_STRING} characters")
            check_text(value, where[:100], multiline=True)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(str(key), f"an option name in {where[:100]}")
                stack.append((item, depth + 1, f"{where}.{str(key)[:40]}"))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{where}[{n}]") for n, item in enumerate(value))
    return options


def parse_json_object(raw: str, what: str) -> dict[str, Any]:
    """A JSON object from a form field, refusing nesting before the parser could recurse on it."""
    depth = deepest = 0
    for char in raw:  # brackets inside strings only overcount: a refusal of something odd anyway
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MAX_OPTION_DEPTH:
        raise InvalidRequest(f"{what} nests deeper than {MAX_OPTION_DEPTH} levels", code="invalid_options")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc.msg}", code="invalid_options") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a JSON object", code="invalid_options")
    return check_options(value)


class ControlCharacterGuard:
    """ASGI middleware: 400 for control characters in the path, query string or header values."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = self._problem(scope)
            if problem is not None:
                if scope["type"] == "websocket":  # accepted first: a close before it is a bare HTTP 403
                    await receive()  # websocket.connect
                    await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": 1008, "reason": problem})
                    return
                await _send_error(send, 400, "invalid_characters", problem)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope) -> str | None:
        path: str = scope.get("path", "")
        if has_control(path):
            return "the URL path contains a control character"
        query: bytes = scope.get("query_string", b"")
        if _CONTROL_BYTES.intersection(unquote_to_bytes(query.replace(b"+", b" "))):
            return "the query string contains a control character"
        for name, value in scope.get("headers", ()):
            if _HEADER_CONTROL_BYTES.intersection(value):
                return f"header {name.decode('latin-1')[:40]!r} contains a control character"
        return None


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "MAX_OPTION_DEPTH",
    "MAX_OPTION_KEYS",
    "MAX_OPTION_NODES",
    "NO_CONTROL",
    "NO_CONTROL_IN_HEADER",
    "NO_CONTROL_IN_TEXT",
    "ControlCharacterGuard",
    "check_options",
    "check_text",
    "has_control",
    "parse_json_object",
    "shown",
]
