"""Storage on a local (or shared network) file system: one file per key under a root folder.

Writes go to a temporary file under `<root>/.incoming/` and are renamed into place after an fsync,
so a reader sees an object whole or not at all, and listings never show half-written files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from mediajobs.errors import StorageUnavailable

from .base import Download, ObjectInfo, ObjectMissing, StoredObject, check_key, check_prefix

CHUNK = 1024 * 1024
_INCOMING = ".incoming"


class LocalStorage:
    """Storage port over a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._incoming = self.root / _INCOMING
        self._incoming.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def write(self, key: str, chunks: Iterable[bytes]) -> StoredObject:
        writer = self.writer(key)
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()  # nothing left behind if `chunks` raised; a no-op after the commit

    def writer(self, key: str) -> _LocalWriter:
        return _LocalWriter(self, key, self._path(key))

    def put_file(self, key: str, path: Path) -> StoredObject:
        target = self._path(key)
        size = path.stat().st_size
        if path.stat().st_dev == self._incoming.stat().st_dev:
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            self._place(path, target)
        else:  # another file system: copy, then drop the working file
            fd, tmp_name = tempfile.mkstemp(prefix="put.", dir=self._incoming)
            os.close(fd)
            try:
                shutil.copyfile(path, tmp_name)
                with open(tmp_name, "rb") as fh:
                    os.fsync(fh.fileno())
                self._place(Path(tmp_name), target)
            finally:
                Path(tmp_name).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        return StoredObject(key=key, size=size)

    def _place(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 - closed below
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(f"no stored object {key!r}") from None
        with fh:
            yield fh

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectMissing(f"no stored object {key!r}")
        yield path  # already on local disk: no copy

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            if not path.is_file():
                raise FileNotFoundError(key)
            return ObjectInfo(key=key, size=path.stat().st_size)
        except FileNotFoundError:
            raise ObjectMissing(f"no stored object {key!r}") from None

    def list(self, prefix: str) -> list[ObjectInfo]:
        folder = self.root / check_prefix(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        found = []
        for path in folder.rglob("*"):
            relative = path.relative_to(self.root).as_posix()
            if path.is_file() and not relative.startswith(_INCOMING):
                found.append(ObjectInfo(key=relative, size=path.stat().st_size))
        return sorted(found, key=lambda o: o.key)

    def check_ready(self) -> None:
        """The folder for incoming objects is still there and writable (a lost mount, a full disk's
        remount read-only)."""
        if not os.access(self._incoming, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"storage folder {self.root} is missing or not writable")

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._prune(path.parent)
        return True

    def delete_prefix(self, prefix: str) -> int:
        if not check_prefix(prefix):
            raise ValueError("refusing to delete everything: give a prefix")
        objects = self.list(prefix)
        shutil.rmtree(self.root / prefix, ignore_errors=True)
        self._prune((self.root / prefix).parent)
        return len(objects)

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, up to the root."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def download(self, key: str, *, content_type: str | None = None, filename: str | None = None) -> Download:
        info = self.stat(key)
        path = self._path(key)

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        return Download(size=info.size, chunks=chunks)


class _LocalWriter:
    """A temp file under `<root>/.incoming/`, renamed to its key's path on commit.

    A writer dropped without a commit or an abort (its request's task was torn down mid-await) is
    aborted when it is collected, so no temp file outlives it."""

    def __init__(self, storage: LocalStorage, key: str, target: Path) -> None:
        self._storage = storage
        self._key = key
        self._target = target
        self._digest = hashlib.sha256()
        self._size = 0
        fd, name = tempfile.mkstemp(prefix="write.", dir=storage._incoming)
        self._tmp = Path(name)
        self._fh: BinaryIO = os.fdopen(fd, "wb")
        self._discard = weakref.finalize(self, _discard, self._fh, self._tmp)

    def write(self, chunk: bytes) -> None:
        self._check_open()
        self._fh.write(chunk)
        self._digest.update(chunk)
        self._size += len(chunk)

    def commit(self) -> StoredObject:
        self._check_open()
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._storage._place(self._tmp, self._target)
        finally:
            self._discard()
        return StoredObject(key=self._key, size=self._size, sha256=self._digest.hexdigest())

    def abort(self) -> None:
        self._discard()

    def _check_open(self) -> None:
        if not self._discard.alive:
            raise ValueError(f"the writer of {self._key!r} is closed")


def _discard(fh: BinaryIO, tmp: Path) -> None:
    fh.close()
    tmp.unlink(missing_ok=True)


__all__ = ["LocalStorage"]
