"""Storage over keys: the port (base.py), the key layout (keys.py), local and in-memory backends,
and the local scratch folders stages work in (workspace.py)."""

from .base import (
    Download,
    ObjectInfo,
    ObjectMissing,
    ObjectWriter,
    Storage,
    StoredObject,
    check_key,
    check_prefix,
    read_bytes,
)
from .keys import artifact_key, job_prefix, safe_filename, stage_key, upload_key, upload_prefix
from .local import LocalStorage
from .memory import InMemoryStorage
from .metered import Meter, MeteredStorage
from .workspace import Workspace

__all__ = [
    "Download",
    "InMemoryStorage",
    "LocalStorage",
    "Meter",
    "MeteredStorage",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectWriter",
    "Storage",
    "StoredObject",
    "Workspace",
    "artifact_key",
    "check_key",
    "check_prefix",
    "job_prefix",
    "read_bytes",
    "safe_filename",
    "stage_key",
    "upload_key",
    "upload_prefix",
]
