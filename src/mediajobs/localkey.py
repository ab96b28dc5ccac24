"""The embedded default's local admin key: made on first start, kept under the data dir (mode 0600),
found there by the CLI and the Python client, so one machine needs no key handling at all."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mediajobs.domain import LOCAL_USER_ID
from mediajobs.store import JobStore

KEY_NAME = "local"


def write_key_file(path: Path, key: str) -> None:
    """Write the key readable by its owner only (created 0600, never world-readable for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.replace(tmp, path)


def read_key_file(path: Path) -> str | None:
    try:
        key = path.read_text().strip()
    except (FileNotFoundError, PermissionError):
        return None
    return key or None


def ensure_local_key(store: JobStore, path: Path) -> Path:
    """The local admin's key file, made (or made again, if its key no longer works) when needed."""
    existing = read_key_file(path)
    if existing is not None and store.users.authenticate(existing) is not None:
        return path
    _, key = store.users.create_key(LOCAL_USER_ID, name=KEY_NAME)
    write_key_file(path, key)
    return path


__all__ = ["ensure_local_key", "read_key_file", "write_key_file"]
