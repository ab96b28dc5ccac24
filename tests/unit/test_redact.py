"""Host folders out of user-visible messages."""

from __future__ import annotations

from pathlib import Path

from helpers.settings import make_settings
from mediajobs.redact import host_folders, scrub


def test_paths_after_a_scheme_or_quote_are_scrubbed_urls_are_not(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    folders = host_folders(settings)
    storage = settings.resolved_storage_dir
    message = f"file:{storage}/uploads/1234/random.wav: Invalid data; '{storage}/x' (see {storage})"
    assert scrub(message, folders) == (
        "file:<storage>/uploads/1234/random.wav: Invalid data; '<storage>/x' (see <storage>)"
    )
    url = f"https://example.com{storage}/a.mp3 and https://example.com:8080{storage}/b.mp3"
    assert scrub(url, folders) == url
