"""Text in, a job's result out: `translate` prints the translation, `synthesize` writes the speech.

Both wait for their job (its progress on stderr; Ctrl-C leaves it running and says how to follow it),
print the job's id on stderr, and exit 1 when it does not succeed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mediajobs.client import Client

from .common import (
    DEFAULT_API,
    EXIT_JOB_FAILED,
    ApiUrl,
    OptionArg,
    api_client,
    app,
    console,
    err,
    fail,
    parse_options,
)
from .jobs import job_goes_on
from .results import pick_artifact, write_out
from .view import follow, print_outcome

TextArg = Annotated[
    str,
    typer.Argument(
        help="The text itself, - to read it from standard input, or job://<id or prefix> of a finished "
        "transcript or translation."
    ),
]
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait for the job (default), or print its id and return.")
]
# the synthesize pipeline's `format` for each file suffix
SPEECH_FORMATS = {".wav": "wav", ".mp3": "mp3", ".opus": "opus", ".ogg": "opus"}


def _text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _run(client: Client, text: str, pipeline: str, options: dict[str, Any], wait: bool) -> str | None:
    """Submit; without waiting print the id and return None; else follow the job and return its id
    once it succeeded (exit 1 when it did not)."""
    if text.startswith("job://"):
        accepted = client.submit(text, pipeline=pipeline, options=options)
    else:
        accepted = client.submit_text(text, pipeline=pipeline, options=options)
    job_id = str(accepted["id"])
    if not wait:
        console.print(job_id, markup=False)
        return None
    with job_goes_on(job_id):
        err.print(f"job {job_id}", markup=False)
        job = follow(client, job_id)
    if job["status"] != "succeeded":
        print_outcome(job, to=err)
        raise typer.Exit(EXIT_JOB_FAILED)
    return job_id


@app.command()
def translate(
    text: TextArg,
    to: Annotated[str, typer.Option("--to", help="The language to translate to, e.g. es.")],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="The text's language, e.g. en (a job:// input knows its own)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="txt (default) or json.")] = "txt",
    out: Annotated[Path | None, typer.Option("--out", help="Write the translation to this file.")] = None,
    option: OptionArg = None,
    wait: WaitOption = True,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Translate a text and print the translation."""
    options = {**parse_options(option), "target_language": to}
    if from_ is not None:
        options["source_language"] = from_
    with api_client(api_url) as client:
        job_id = _run(client, _text(text), "translate", options, wait)
        if job_id is not None:
            write_out(client, job_id, pick_artifact(client.artifacts(job_id), format), out)


@app.command()
def synthesize(
    text: TextArg,
    out: Annotated[Path, typer.Option("--out", help="The audio file to write: .wav, .mp3 or .opus.")],
    option: OptionArg = None,
    wait: WaitOption = True,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Speak a text into an audio file (its format from the file's suffix).

    -o takes the synthesize options: voice, language, rate, pitch, engine."""
    speech_format = SPEECH_FORMATS.get(out.suffix.lower())
    if speech_format is None:
        raise fail(f"cannot tell the audio format of {out.name!r}: end it with .wav, .mp3 or .opus")
    options = parse_options(option)
    if options.setdefault("format", speech_format) != speech_format:
        raise fail(f"-o format={options['format']} does not match {out.name!r}")
    with api_client(api_url) as client:
        job_id = _run(client, _text(text), "synthesize", options, wait)
        if job_id is not None:
            write_out(client, job_id, None, out)
