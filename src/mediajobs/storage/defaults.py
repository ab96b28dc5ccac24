"""The storage backends every deployment has (MEDIAJOBS_STORAGE_BACKEND chooses one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .local import LocalStorage

if TYPE_CHECKING:
    from mediajobs.registry import Registry


def register_storage(registry: Registry) -> None:
    """`local`: a folder (MEDIAJOBS_STORAGE_DIR) every API and worker host sees."""
    registry.add_storage("local", lambda settings: LocalStorage(settings.resolved_storage_dir))


__all__ = ["register_storage"]
