"""The storage port: files of jobs and uploads, addressed by keys.

A key is a relative, `/`-separated name such as `uploads/<id>/talk.mp3`; what it maps to is the
backend's business (a folder on disk, memory, an S3 bucket: storage/s3.py and docs/storage.md).
Layout (see keys.py):

    uploads/<upload id>/<file name>                  files received through the API
    jobs/<job id>/stages/<stage>/f<fence>/<name>     a stage's checkpointed files
    jobs/<job id>/artifacts/v<fence>/<name>          results served by the API

Tools that need a file on disk (ffmpeg, Whisper) get one from `local_copy`; stages write their
results in their local work folder and hand them over with `put_file`. No other code sees a path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from mediajobs.errors import NotFound

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_KEY = 1024


class ObjectMissing(NotFound):
    """Raised when no object is stored under the key."""

    code = "not_found"


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None = None  # computed when the bytes streamed through (write), not for put_file


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Download:
    """How to hand an object to an HTTP client: a URL to redirect to, or the bytes to stream."""

    size: int
    url: str | None = None  # e.g. a presigned S3 URL; when set, redirect the client there
    chunks: Callable[[], Iterator[bytes]] | None = None


class ObjectWriter(Protocol):
    """An object written piece by piece (`Storage.writer`): nothing is under its key until `commit`.

    Calls come one at a time, each possibly from another thread: the API writes each chunk of an
    upload from a worker thread as it arrives, so a client that sends slowly holds no thread.
    """

    def write(self, chunk: bytes) -> None:
        """Append `chunk`."""
        ...

    def commit(self) -> StoredObject:
        """Store what was written under the key (replacing it), whole; the writer is done."""
        ...

    def abort(self) -> None:
        """Drop what was written; nothing is stored. Safe to call more than once, or after commit."""
        ...


class Storage(Protocol):
    """Where media and artifacts live. Every operation is atomic for readers: an object is either
    absent or complete."""

    def write(self, key: str, chunks: Iterable[bytes]) -> StoredObject:
        """Store the bytes under `key` (replacing it). If `chunks` raises, nothing is stored."""
        ...

    def writer(self, key: str) -> ObjectWriter:
        """Start writing `key` piece by piece: see ObjectWriter (`write` is this, driven by the caller)."""
        ...

    def put_file(self, key: str, path: Path) -> StoredObject:
        """Store a local working file under `key`; the backend may move it (the caller loses it)."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The object's bytes as a seekable binary stream; ObjectMissing when absent. Reading a
        part after a `seek` costs that part only (a remote backend fetches it with a ranged GET):
        what reads a range of a large object (a chunk of long audio) opens it, not `local_copy`."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A file on local disk holding the object, for tools that need a path. Read it only; it
        may vanish when the context ends."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size of the object; ObjectMissing when absent."""
        ...

    def list(self, prefix: str) -> list[ObjectInfo]:
        """Objects whose key starts with `prefix`, sorted by key."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the object; False when it was not there."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (which must end with `/`); returns how many."""
        ...

    def check_ready(self) -> None:
        """Raise (StorageUnavailable, OSError) unless objects can be stored: `/readyz` asks."""
        ...

    def download(self, key: str, *, content_type: str | None = None, filename: str | None = None) -> Download:
        """How the API sends this object to a client; ObjectMissing when absent. A URL it gives
        answers with `content_type` and, when given, an attachment `filename` (the API sets the
        same headers itself when it streams `chunks`)."""
        ...


def check_key(key: str) -> str:
    """A key is 1-1024 characters of `/`-separated safe segments, none of them `.` or `..`."""
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"bad storage key {key[:80]!r}: empty or too long")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise ValueError(f"bad storage key {key[:200]!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A prefix is a key followed by `/` (or empty: everything)."""
    if prefix:
        if not prefix.endswith("/"):
            raise ValueError(f"a storage prefix ends with '/': {prefix[:200]!r}")
        check_key(prefix[:-1])
    return prefix


def read_bytes(storage: Storage, key: str) -> bytes:
    """The whole object (small objects only: transcripts, test fixtures)."""
    with storage.open(key) as stream:
        return stream.read()


__all__ = [
    "Download",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectWriter",
    "Storage",
    "StoredObject",
    "check_key",
    "check_prefix",
    "read_bytes",
]
