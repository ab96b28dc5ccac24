"""A zip streamed while it is built: each stored file is read in chunks and its compressed bytes are
handed on at once, so a batch's archive is never held in memory or on disk (ZIP64 with data
descriptors: the output need not be seekable)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence

from mediajobs.storage import Storage

CHUNK = 1024 * 1024


class _Pipe:
    """A write-only file object whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(storage: Storage, entries: Sequence[tuple[str, str]]) -> Iterator[bytes]:
    """The zip of `entries` ((name in the archive, storage key)), in pieces of about a chunk."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, key in entries:
            with storage.open(key) as source, archive.open(name, mode="w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if data := pipe.take():
                        yield data
            if data := pipe.take():
                yield data
    if data := pipe.take():
        yield data


__all__ = ["zip_stream"]
