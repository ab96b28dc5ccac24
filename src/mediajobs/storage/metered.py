"""Storage that counts what it stores against a meter: a worker's view of storage for one job.

Every file a stage (or the runner, for artifacts) stores for a job is charged to the job's owner
(store/stored.py). A file whose size is known before it is stored (`put_file`, a `writer` at its
commit) is charged first and stored only if the charge passes; bytes streamed by `write` are
charged once stored, and removed again if the charge is refused. A charge that fails to be stored
is given back. Replacing a key charges again (a stage's files go under a fresh fence, so this is rare
and errs on the side of counting).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from .base import Download, ObjectInfo, ObjectWriter, Storage, StoredObject


class Meter(Protocol):
    def charge(self, size: int) -> None:
        """Count `size` more bytes (negative: give back); raise to refuse them."""
        ...


class MeteredStorage:
    """`inner`, with every byte stored through it charged to `meter` (reads pass through)."""

    def __init__(self, inner: Storage, meter: Meter) -> None:
        self.inner = inner
        self._meter = meter

    def write(self, key: str, chunks: Iterable[bytes]) -> StoredObject:
        stored = self.inner.write(key, chunks)
        try:
            self._meter.charge(stored.size)
        except BaseException:
            self.inner.delete(key)
            raise
        return stored

    def writer(self, key: str) -> ObjectWriter:
        return _MeteredWriter(self.inner.writer(key), self._meter)

    def put_file(self, key: str, path: Path) -> StoredObject:
        size = path.stat().st_size
        self._meter.charge(size)
        try:
            return self.inner.put_file(key, path)
        except BaseException:
            self._meter.charge(-size)
            raise

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self.inner.open(key)

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        return self.inner.local_copy(key)

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def list(self, prefix: str) -> list[ObjectInfo]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)

    def check_ready(self) -> None:
        self.inner.check_ready()

    def download(self, key: str, *, content_type: str | None = None, filename: str | None = None) -> Download:
        return self.inner.download(key, content_type=content_type, filename=filename)


class _MeteredWriter:
    def __init__(self, inner: ObjectWriter, meter: Meter) -> None:
        self._inner = inner
        self._meter = meter
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._inner.write(chunk)
        self._size += len(chunk)

    def commit(self) -> StoredObject:
        try:
            self._meter.charge(self._size)
        except BaseException:
            self._inner.abort()
            raise
        try:
            return self._inner.commit()
        except BaseException:
            self._meter.charge(-self._size)
            raise

    def abort(self) -> None:
        self._inner.abort()


__all__ = ["Meter", "MeteredStorage"]
