"""`mediajobs batch ...`: many items under one handle. Local files are uploaded one by one (each
streamed, under the API's upload limit), then submitted as one batch of `upload://` sources.

A batch id may be a unique prefix of one of your 200 newest batches."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mediajobs.client import Client
from mediajobs.client.api import looks_like_source
from mediajobs.domain import MAX_BATCH_ITEMS

from .common import (
    DEFAULT_API,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    ApiUrl,
    OptionArg,
    api_client,
    app,
    console,
    err,
    fail,
    goes_on,
    parse_options,
    plain,
)

batch_app = typer.Typer(help="Many items under one handle: submit, follow, cancel, retry, download.")
app.add_typer(batch_app, name="batch", no_args_is_help=True)

BatchIdArg = Annotated[
    str, typer.Argument(help="A batch id, or a unique prefix of one (at least 4 hex digits).")
]
ENDED = ("succeeded", "failed", "cancelled", "expired", "deleted")
ORDER = ("succeeded", "failed", "cancelled", "expired", "deleted", "running", "queued")


def counts_text(counts: dict[str, int]) -> str:
    """`48 succeeded, 2 failed`: ended statuses first, then the rest."""
    ordered = sorted(counts, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
    return ", ".join(f"{counts[s]} {s}" for s in ordered if counts[s])


def _ended(batch: dict[str, Any]) -> int:
    return sum(n for status, n in batch["counts"].items() if status in ENDED)


def batch_goes_on(batch_id: str) -> AbstractContextManager[None]:
    """Ctrl-C from here on leaves the batch running and says how to follow it."""
    return goes_on(f"batch {batch_id}", f"mediajobs batch status {batch_id}")


def follow_batch(client: Client, batch: dict[str, Any]) -> dict[str, Any]:
    """One bar for the whole batch (ended items of all) until it ends."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        bar = progress.add_task("batch", total=batch["items"], completed=_ended(batch))

        def show(now: dict[str, Any]) -> None:
            progress.update(bar, completed=_ended(now), description=f"batch: {counts_text(now['counts'])}")

        return client.wait_batch(batch["id"], on_update=show)


def print_summary(client: Client, batch: dict[str, Any], *, every: bool = False) -> None:
    """The batch's status and counts, then its items that did not succeed (every item with `every`)."""
    ended = _ended(batch)
    line = Text.assemble(
        (batch["status"], "green" if batch["status"] == "succeeded" else "bold"),
        f" batch {batch['id']}: {counts_text(batch['counts'])} ({ended}/{batch['items']} ended)",
    )
    if batch.get("name"):
        line.append(f"  {batch['name']}")
    console.print(line, soft_wrap=True)
    if batch["status"] == "succeeded" and not every:
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("job", no_wrap=True, min_width=36)
    table.add_column("error", overflow="fold")
    for item in client.batch_items(batch["id"]):
        if every or item["status"] != "succeeded":
            error = item.get("error") or {}
            problem = f"{error['code']}: {error['message']}" if error else ""
            table.add_row(
                str(item["index"]),
                plain(item.get("name") or ""),
                plain(item["status"]),
                item["id"],
                plain(problem),
            )
    if table.row_count:
        console.print(table)


def _item_name(source: str) -> str | None:
    """What a URL item is called in the batch (and its zip): the last part of its path."""
    if source.startswith(("http://", "https://")):
        return unquote(urlsplit(source).path.rstrip("/").rsplit("/", 1)[-1]) or None
    return None


def _items(client: Client, sources: list[str]) -> list[dict[str, Any]]:
    """Each source as a batch item: local files uploaded first (one bar), the others passed on."""
    files = [Path(s) for s in sources if not looks_like_source(s)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")
    items: list[dict[str, Any]] = []
    try:
        with Progress(
            TextColumn("uploading {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,  # (a transient bar still leaves a blank line in a log)
        ) as progress:
            bar = progress.add_task("", total=len(files))
            for source in sources:
                if looks_like_source(source):
                    name = _item_name(source)
                    items.append({"source": source, **({"name": name} if name else {})})
                    continue
                path = Path(source)
                progress.update(bar, description=path.name)
                upload = client.upload(path)
                items.append({"source": upload["source"], "name": path.name})
                progress.advance(bar)
    except KeyboardInterrupt:
        err.print("interrupted while uploading: no batch was submitted", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    return items


@batch_app.command("submit")
def submit(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Local files (each uploaded), http(s) URLs, upload://<id>, job://<id or prefix>."
        ),
    ],
    pipeline: str = "transcribe",
    option: OptionArg = None,
    name: Annotated[str | None, typer.Option("--name", help="What to call the batch.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the batch until its last item ends.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Submit files and URLs as one batch; prints its id.

    With --wait: one progress bar for the whole batch, then its counts per status and the items that
    did not succeed; exit 1 unless every item succeeded."""
    if len(sources) > MAX_BATCH_ITEMS:
        raise fail(f"a batch holds at most {MAX_BATCH_ITEMS:,} items, not {len(sources):,}: split them")
    options = parse_options(option)
    with api_client(api_url) as client:
        items = _items(client, sources)
        try:
            batch = client.submit_batch(items, pipeline=pipeline, options=options, name=name)
        except KeyboardInterrupt:
            err.print("interrupted while submitting: see `mediajobs batch list` for the batch", markup=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        with batch_goes_on(batch["id"]):
            console.print(batch["id"], markup=False)
            if not wait:
                return
            batch = follow_batch(client, batch)
        print_summary(client, batch)
    if batch["status"] != "succeeded":
        raise typer.Exit(EXIT_JOB_FAILED)


@batch_app.command("status")
def status(
    batch_id: BatchIdArg,
    every: Annotated[
        bool, typer.Option("--all", help="List every item, not only those that did not succeed.")
    ] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """A batch's status and counts per status, and its items that failed, were cancelled or still run."""
    with api_client(api_url) as client:
        batch = client.batch(client.resolve_batch_id(batch_id), limit=1)
        print_summary(client, batch, every=every)


@batch_app.command("list")
def list_batches(limit: int = 20, api_url: ApiUrl = DEFAULT_API) -> None:
    """Your newest batches (`batch status` shows one's counts)."""
    with api_client(api_url) as client:
        batches = client.batches(limit=limit)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)  # whole, like `mediajobs jobs`
    table.add_column("status", no_wrap=True)
    table.add_column("ended", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("name", no_wrap=True, overflow="ellipsis")
    for batch in batches:
        table.add_row(
            batch["id"],
            plain(batch["status"]),
            f"{_ended(batch)}/{batch['items']}",
            batch["created_at"][5:16].replace("T", " "),
            plain(batch.get("name") or ""),
        )
    console.print(table)


@batch_app.command("cancel")
def cancel(batch_id: BatchIdArg, api_url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a batch's unfinished items (running stages stop)."""
    with api_client(api_url) as client:
        batch = client.cancel_batch(client.resolve_batch_id(batch_id))
    console.print(f"{batch['id']} {batch['status']}: {counts_text(batch['counts'])}", markup=False)


@batch_app.command("retry")
def retry(
    batch_id: BatchIdArg,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the batch until its last item ends.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Run a batch's failed and cancelled items again, each from its first unfinished stage."""
    with api_client(api_url) as client:
        batch = client.retry_batch(client.resolve_batch_id(batch_id))
        with batch_goes_on(batch["id"]):
            console.print(f"{batch['id']} {batch['status']}: {counts_text(batch['counts'])}", markup=False)
            if not wait:
                return
            batch = follow_batch(client, batch)
        print_summary(client, batch)
    if batch["status"] != "succeeded":
        raise typer.Exit(EXIT_JOB_FAILED)


@batch_app.command("download")
def download(
    batch_id: BatchIdArg,
    artifacts: Annotated[
        str | None, typer.Option("--artifacts", help="Which files, by type: srt,json (default: all).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="The zip to write (default: batch-<id>.zip).")
    ] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Download the items' files as one zip (`<item name>/<file>`), written as it streams in."""
    picked = [a.strip() for a in artifacts.split(",") if a.strip()] if artifacts else None
    with api_client(api_url) as client:
        full_id = client.resolve_batch_id(batch_id)
        target = out if out is not None else Path(f"batch-{full_id}.zip")
        saved = client.batch_zip(full_id, target, artifacts=picked)
    console.print(f"wrote {saved.path} ({saved.size:,} bytes)", markup=False)
