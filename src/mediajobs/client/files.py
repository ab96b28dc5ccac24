"""Files of the API as they stream in: a result, an artifact, a batch's zip; written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .errors import raise_for_error


@dataclass(frozen=True, slots=True)
class Download:
    """A file of the API as it arrives: its media type and size (when the API says) before the body."""

    content_type: str
    size: int | None
    chunks: Iterator[bytes]


@dataclass(frozen=True, slots=True)
class Saved:
    """A file a download wrote: where, how many bytes, and the media type the API gave it."""

    path: Path
    size: int
    content_type: str


@contextmanager
def stream(http: httpx.Client, path: str, params: Mapping[str, str] | None = None) -> Iterator[Download]:
    """GET `path` as it streams in (a redirect to a storage URL followed); an error answer raises."""
    with http.stream("GET", path, params=params, follow_redirects=True) as response:
        if response.status_code >= 400:
            response.read()
            raise_for_error(response)
        length = response.headers.get("content-length")
        yield Download(
            content_type=response.headers.get("content-type", ""),
            size=int(length) if length and length.isdigit() else None,
            chunks=response.iter_bytes(),
        )


def save(http: httpx.Client, path: str, dest: Path, *, params: Mapping[str, str] | None = None) -> Saved:
    """Write the body of GET `path` into `dest` through a hidden `.part` file beside it, renamed when
    whole (an interrupted download leaves no half file under the real name)."""
    partial = dest.with_name(f".{dest.name}.part")
    with stream(http, path, params) as download:
        size = 0
        try:
            with partial.open("wb") as out:
                for chunk in download.chunks:
                    out.write(chunk)
                    size += len(chunk)
            partial.replace(dest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return Saved(path=dest, size=size, content_type=download.content_type)


def is_json(content_type: str) -> bool:
    """`application/json` or a `+json` type (parameters ignored)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def is_text(content_type: str) -> bool:
    """Text a terminal can show: JSON, `text/*`, SubRip subtitles."""
    media = content_type.split(";", 1)[0].strip().lower()
    return is_json(media) or media.startswith("text/") or media == "application/x-subrip"


__all__ = ["Download", "Saved", "is_json", "is_text", "save", "stream"]
