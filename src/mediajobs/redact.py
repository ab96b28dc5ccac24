"""What users may see of an error message: no absolute paths of the host.

Stage errors reach every client that reads the job. A message such as ffmpeg's
`/var/lib/mediajobs/storage/uploads/<id>/talk.mp3: Invalid data` tells an attacker where storage lives
and what else is there. Tools are run so that they name no paths (see stages/ffmpeg.py); this is the
net under that: known host folders are replaced by placeholders before a message is recorded.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mediajobs.settings import Settings

MAX_MESSAGE = 2000


def host_folders(settings: Settings) -> list[tuple[str, str]]:
    """(folder, placeholder) pairs, the longest folder first, so the most specific name wins."""
    named = [
        (settings.resolved_storage_dir, "<storage>"),
        (settings.work_dir, "<work>"),
        (settings.data_dir, "<data>"),
        (Path(tempfile.gettempdir()), "<tmp>"),
        (Path(sys.prefix), "<python>"),
        (Path.home(), "<home>"),
    ]
    pairs: dict[str, str] = {}
    for folder, placeholder in named:
        for form in {str(folder), str(folder.resolve())}:
            if len(form) > 1:  # never "/"
                pairs.setdefault(form, placeholder)
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def scrub(message: str, folders: Iterable[tuple[str, str]]) -> str:
    """`message` with each host folder replaced by its placeholder, cut to MAX_MESSAGE characters.

    Only whole path starts count: `/tmp/x` and `file:/tmp/x` are replaced, the `/tmp` inside
    `https://host/tmp/x` is not (a URL's path follows its host name)."""
    for folder, placeholder in folders:
        pattern = rf"(?<![\w.~%/-]){re.escape(folder)}(?![\w.~%-])"
        message = re.sub(pattern, placeholder, message)
    return message[:MAX_MESSAGE]


__all__ = ["MAX_MESSAGE", "host_folders", "scrub"]
