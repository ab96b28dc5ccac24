"""The templates' environment (Jinja2, autoescaped, from this package) and the response every page
gets: HTML with a Content-Security-Policy that lets it load only this server's scripts, styles and
media, and no frame embed it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; media-src 'self' blob:;"
        " img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def ago(when: datetime | None) -> str:
    """`when` as an age for people: 42 s, 3 min, 5 h, 2 d."""
    if when is None:
        return "-"
    return duration((datetime.now(UTC) - when).total_seconds())


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def stamp(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
_env.filters.update(ago=ago, duration=duration, stamp=stamp)
_env.globals.update(query=_query)


def page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template `name` for `request` (with the viewer, the notice in `?notice=`, the CSRF token)."""
    who = context.get("viewer")
    context.setdefault("notice", request.query_params.get("notice"))
    context.setdefault("csrf", who.session.csrf_token if who is not None else "")
    context.setdefault("path", request.url.path)
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


__all__ = ["page"]
