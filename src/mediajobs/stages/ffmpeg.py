"""How mediajobs runs ffprobe and ffmpeg on files it did not make: given only what they should read.

A media file is hostile input. An HLS playlist or an ffconcat list is "media" to ffmpeg, and its lines
name other files, which ffmpeg would open and decode: another user's upload, anything on the host.
So every run here:

- reads the input under a neutral name (`input`, a link in the stage's work folder), so the demuxer
  is chosen from the bytes, not from a file name, and no message mentions a host path;
- allows only the demuxers of `ALLOWED_DEMUXERS` (`-format_whitelist`: containers of audio and video
  that read nothing but their own file; no playlists, concat lists, subtitle formats, image
  sequences or network descriptions), and only the `file` protocol (`-protocol_whitelist`);
- forces, when decoding, the very demuxer ffprobe found (`-f`), so nothing is re-guessed;
- runs in the work folder, with an environment of its own (no proxies, no home) and a memory cap.

A stage that feeds ffmpeg files it made itself (a video's render: an ffconcat list of its own cards,
its own WAV and SRT) uses `own_files_options` instead: the same `file`-only protocol rule, and the
few demuxers those files need. Users' files never get these options: ingest keeps refusing playlists
and concat lists that users send.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from mediajobs.errors import PermanentError, UnsupportedMedia
from mediajobs.process import ProcessResult, bare_env, run_process

from .base import StageContext

INPUT_NAME = "input"
INPUT_PROTOCOLS = "file"

# ffmpeg demuxer names (the first of a format's names is enough: `mov` covers mp4, m4a, 3gp...).
ALLOWED_DEMUXERS: frozenset[str] = frozenset(
    {
        "aac", "ac3", "aiff", "amr", "amrnb", "amrwb", "ape", "asf", "au", "avi", "caf", "dsf", "dts",
        "dtshd", "eac3", "flac", "flv", "live_flv", "loas", "matroska", "mlp", "mov", "mp3", "mpc",
        "mpc8", "mpeg", "mpegts", "mxf", "nut", "ogg", "oma", "rm", "shn", "tak", "truehd", "tta",
        "voc", "w64", "wav", "wv", "xwma",
    }
)  # fmt: skip
_WHITELIST = ",".join(sorted(ALLOWED_DEMUXERS))
_REFUSED = re.compile(r"\[(?P<name>[\w-]+) @ 0x[0-9a-f]+\] Format not on whitelist")
_KNOWN_REFUSALS = {
    "hls": "an HLS playlist",
    "concat": "an ffconcat list",
    "dash": "a DASH manifest",
    "image2": "an image sequence",
    "sdp": "a network session description",
    "ffmetadata": "an ffmpeg metadata file",
}


OWN_FILE_DEMUXERS = ("concat", "image2", "png_pipe", "wav", "srt")


def own_files_options(demuxer: str) -> list[str]:
    """The options before `-i` of a file the stage wrote itself (an ffconcat list of its own PNG cards,
    a WAV, an SRT): `file` only, the demuxers such files need, and `demuxer` forced."""
    if demuxer not in OWN_FILE_DEMUXERS:
        raise ValueError(f"{demuxer!r} is not a demuxer of a stage's own files")
    whitelist = ",".join(OWN_FILE_DEMUXERS)
    return ["-protocol_whitelist", INPUT_PROTOCOLS, "-format_whitelist", whitelist, "-f", demuxer]


def input_options(demuxer: str | None = None) -> list[str]:
    """The options that go before `-i`: the whitelists and, when known, the demuxer to use."""
    forced = ["-f", demuxer] if demuxer is not None else []
    return ["-protocol_whitelist", INPUT_PROTOCOLS, "-format_whitelist", _WHITELIST, *forced]


def demuxer_of(format_name: str) -> str | None:
    """The allowed demuxer ffprobe's `format_name` ("mov,mp4,m4a,...") names, else None."""
    first = format_name.split(",", 1)[0].strip()
    return first if first in ALLOWED_DEMUXERS else None


def refusal(stderr: str) -> str | None:
    """When ffprobe found a format that is not allowed, what that format is."""
    match = _REFUSED.search(stderr)
    if match is None:
        return None
    name = match["name"]
    return _KNOWN_REFUSALS.get(name, f"a {name!r} file")


def refuse_format(stderr: str) -> None:
    found = refusal(stderr)
    if found is not None:
        raise UnsupportedMedia(f"the file is {found}, which is not accepted as input: send the media itself")


@contextlib.contextmanager
def linked_input(work_dir: Path, source: Path) -> Iterator[str]:
    """`source` as `input` in the work folder, for the duration of the block; yields the URL to give."""
    link = work_dir / INPUT_NAME
    link.unlink(missing_ok=True)
    os.symlink(source, link)
    try:
        yield f"file:{INPUT_NAME}"
    finally:
        link.unlink(missing_ok=True)


def tool_env() -> dict[str, str]:
    """A bare environment: the tools' own lookup path and a plain locale, nothing of the worker's."""
    return bare_env()


def run_tool(
    ctx: StageContext,
    argv: list[str],
    *,
    on_line: Callable[[str], None],
    timeout: float | None,
    kill_grace: float | None = None,
) -> ProcessResult:
    """Run ffprobe/ffmpeg in the stage's work folder, with the clean environment and memory cap
    (`kill_grace`: seconds from SIGTERM to SIGKILL when stopped; default: process.py's)."""
    try:
        return run_process(
            argv,
            cancel=ctx.cancel,
            on_stdout_line=on_line,
            timeout=timeout,
            cwd=ctx.work_dir,
            env=tool_env(),
            memory_limit=ctx.settings.media_memory_limit,
            **({} if kill_grace is None else {"kill_grace": kill_grace}),
        )
    except FileNotFoundError as exc:
        raise PermanentError(f"{argv[0]} is not installed: {exc}", code="engine_unavailable") from exc


def stderr_tail(result: ProcessResult) -> str:
    return result.stderr_tail[-1000:] or f"exit status {result.returncode}"


__all__ = [
    "ALLOWED_DEMUXERS",
    "demuxer_of",
    "input_options",
    "linked_input",
    "own_files_options",
    "refusal",
    "refuse_format",
    "run_tool",
    "stderr_tail",
    "tool_env",
]
