"""The storage backends every deployment has (registry.py `register_shipped` registers each; the
MEDIAJOBS_STORAGE_BACKEND setting chooses one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Storage
from .local import LocalStorage

if TYPE_CHECKING:
    from mediajobs.settings import Settings


def local_storage(settings: Settings) -> Storage:
    """`local`: a folder (MEDIAJOBS_STORAGE_DIR) every API and worker host sees."""
    return LocalStorage(settings.resolved_storage_dir)


def s3_storage(settings: Settings) -> Storage:
    """`s3`: an S3-compatible bucket (MEDIAJOBS_S3_*) every API and worker host reaches. boto3 is
    imported only by the deployments that choose it."""
    from .s3 import s3_storage as make

    return make(settings)


__all__ = ["local_storage", "s3_storage"]
