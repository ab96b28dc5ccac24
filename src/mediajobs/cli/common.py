"""What every `mediajobs` command shares: the Typer app, the consoles, errors, the API option."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="mediajobs: asynchronous media jobs over HTTP.", no_args_is_help=True, pretty_exceptions_enable=False
)
console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option("--api", envvar="MEDIAJOBS_API_URL", help="Base URL of the API.")]
DEFAULT_API = "http://127.0.0.1:8000"


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)
