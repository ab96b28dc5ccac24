"""Storage in memory: the in-package twin of the real backends, for unit tests."""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .base import Download, ObjectInfo, ObjectMissing, StoredObject, check_key, check_prefix


class InMemoryStorage:
    """Storage port over a dict. `local_copy` writes a temporary file, like a remote backend must."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def write(self, key: str, chunks: Iterable[bytes]) -> StoredObject:
        check_key(key)
        data = b"".join(chunks)  # a failing iterator raises here, before anything is stored
        with self._lock:
            self._objects[key] = data
        return StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def writer(self, key: str) -> _MemoryWriter:
        check_key(key)
        return _MemoryWriter(self, key)

    def put_file(self, key: str, path: Path) -> StoredObject:
        stored = self.write(key, [path.read_bytes()])
        path.unlink(missing_ok=True)
        return StoredObject(key=key, size=stored.size)

    def _get(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise ObjectMissing(f"no stored object {key!r}")
        return data

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        with io.BytesIO(self._get(key)) as stream:
            yield stream

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        data = self._get(key)
        folder = Path(tempfile.mkdtemp(prefix="mediajobs-copy-"))
        try:
            path = folder / key.rsplit("/", 1)[-1]
            path.write_bytes(data)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key=key, size=len(self._get(key)))

    def list(self, prefix: str) -> list[ObjectInfo]:
        check_prefix(prefix)
        with self._lock:
            items = [(k, len(v)) for k, v in self._objects.items() if k.startswith(prefix)]
        return [ObjectInfo(key=k, size=size) for k, size in sorted(items)]

    def check_ready(self) -> None:
        """Always ready: the objects live in this process."""

    def delete(self, key: str) -> bool:
        check_key(key)
        with self._lock:
            return self._objects.pop(key, None) is not None

    def delete_prefix(self, prefix: str) -> int:
        if not check_prefix(prefix):
            raise ValueError("refusing to delete everything: give a prefix")
        with self._lock:
            doomed = [k for k in self._objects if k.startswith(prefix)]
            for key in doomed:
                del self._objects[key]
        return len(doomed)

    def download(self, key: str, *, content_type: str | None = None, filename: str | None = None) -> Download:
        data = self._get(key)
        return Download(size=len(data), chunks=lambda: iter([data]))


class _MemoryWriter:
    """Pieces kept aside until the commit puts them under the key."""

    def __init__(self, storage: InMemoryStorage, key: str) -> None:
        self._storage = storage
        self._key = key
        self._pieces: list[bytes] | None = []

    def write(self, chunk: bytes) -> None:
        if self._pieces is None:
            raise ValueError(f"the writer of {self._key!r} is closed")
        self._pieces.append(bytes(chunk))

    def commit(self) -> StoredObject:
        if self._pieces is None:
            raise ValueError(f"the writer of {self._key!r} is closed")
        pieces, self._pieces = self._pieces, None
        return self._storage.write(self._key, pieces)

    def abort(self) -> None:
        self._pieces = None


__all__ = ["InMemoryStorage"]
