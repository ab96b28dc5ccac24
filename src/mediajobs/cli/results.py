"""What finished jobs made: `result` (any pipeline's, printed or saved) and `artifacts` (listed or
downloaded). Binary files (audio, video) are written to a file, never to a terminal."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mediajobs.client import Client
from mediajobs.client.files import is_text

from .common import DEFAULT_API, ApiUrl, api_client, app, console, err, fail, plain
from .jobs import JobIdArg


def pick_artifact(artifacts: list[dict[str, Any]], suffix: str) -> str:
    """The name of the job's file of this type (`srt`, `mp4`...): the only one with that suffix, or
    among several the one of the job's main family of files, the stem most of its files share
    (`translation.srt` beside `translation.json`, `.txt`, `.vtt`, over `bilingual.srt`)."""
    suffix = suffix.lower().lstrip(".")
    names = [str(a["name"]) for a in artifacts]
    found = [n for n in names if n.lower().rsplit(".", 1)[-1] == suffix]
    if not found:
        raise fail(f"not_found: the job has no .{suffix} file (its files: {', '.join(names) or 'none'})")
    stems = Counter(n.rsplit(".", 1)[0] for n in names)
    return max(found, key=lambda n: stems[n.rsplit(".", 1)[0]])


def write_out(client: Client, job_id: str, name: str | None, out: Path | None) -> None:
    """The job's result (`name` None) or one of its files: to `out`, else to stdout when it is text or
    stdout is not a terminal."""
    if out is not None:
        if out.is_dir():
            raise fail(f"{out} is a folder: give a file name")
        saved = client.save_result(job_id, out) if name is None else client.save_artifact(job_id, name, out)
        err.print(f"wrote {saved.path} ({saved.size} bytes, {saved.content_type})", markup=False)
        return
    with client.download(job_id, name) as download:
        text = is_text(download.content_type)
        if not text and sys.stdout.isatty():
            what = name or "the result"
            raise fail(f"{what} is {download.content_type}: give --out FILE (or redirect the output)")
        last = b"\n"
        for chunk in download.chunks:  # as it arrives: a video piped on is never held whole
            sys.stdout.buffer.write(chunk)
            last = chunk[-1:] or last
    if text and last != b"\n":
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@app.command()
def result(
    job_id: JobIdArg,
    format: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="The job's file of this type instead: srt, vtt, txt, json, mp4..."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "--output", "-o", help="Write it to this file.")
    ] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Print (or save) a finished job's result, whatever its pipeline.

    The pipeline's own result (a transcript's or translation's JSON, a dub's list of files,
    synthesize's audio), or with --format the job's file of that type; audio and video only to a file
    (--out) or a pipe, never to a terminal."""
    if format is not None and not format.strip(".").isalnum():
        raise fail(f"unknown format {format!r}: give a file type such as srt, vtt, txt, json or mp3")
    with api_client(api_url) as client:
        full_id = client.resolve_id(job_id)
        job = client.get(full_id)
        if job["status"] != "succeeded":
            client.result(full_id)  # the API's 409 says why
        name = None if format is None else pick_artifact(client.artifacts(full_id), format)
        write_out(client, full_id, name, out)


@app.command()
def artifacts(
    job_id: JobIdArg,
    download: Annotated[
        Path | None, typer.Option("--download", help="Write every file into this folder.")
    ] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """List a job's files (name, type, size), or download them all into a folder."""
    with api_client(api_url) as client:
        full_id = client.resolve_id(job_id)
        files = client.artifacts(full_id)
        if download is None:
            table = Table("name", "type", "size", box=None, header_style="bold", pad_edge=False)
            for item in files:
                table.add_row(plain(item["name"]), plain(item["content_type"]), f"{item['size']:,}")
            console.print(table)
            return
        download.mkdir(parents=True, exist_ok=True)
        for item in files:
            saved = client.save_artifact(full_id, item["name"], download / Path(item["name"]).name)
            console.print(f"{saved.path} ({saved.size} bytes)", markup=False)
        if not files:
            err.print(f"job {full_id} has no files", markup=False)
