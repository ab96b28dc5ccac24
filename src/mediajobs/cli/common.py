"""What every `mediajobs` command shares: the Typer app, the consoles, errors, the API option.

Exit codes: 0 success; 1 the job failed (or was cancelled); 2 the command could not do what it was
asked: bad arguments, an error answer of the API, an API that cannot be reached; 130 interrupted
(Ctrl-C) while following a job, which goes on in the service. Text that comes from users or from the
server is printed with rich markup off (`[a-z]` in a message is not a style).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

from mediajobs.client import ApiError, Client
from mediajobs.errors import ClientSideError
from mediajobs.logconfig import configure_logging
from mediajobs.settings import Settings

app = typer.Typer(
    help="mediajobs: asynchronous media jobs over HTTP.", no_args_is_help=True, pretty_exceptions_enable=False
)
console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option("--api", envvar="MEDIAJOBS_API_URL", help="Base URL of the API.")]
DEFAULT_API = "http://127.0.0.1:8000"

EXIT_JOB_FAILED = 1
EXIT_CLIENT_ERROR = 2
EXIT_INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT

OptionArg = Annotated[
    list[str] | None, typer.Option("--option", "-o", help="A pipeline option, key=value (repeatable).")
]


def setup_logging(settings: Settings, role: str) -> None:
    """This process's log lines: JSON off a terminal, text on one (MEDIAJOBS_LOG_FORMAT; logconfig.py)."""
    configure_logging(role=role, level=settings.log_level, log_format=settings.log_format)


def fail(message: str, code: int = EXIT_CLIENT_ERROR) -> typer.Exit:
    """Print `error: <message>` on stderr (the message verbatim) and return the Exit to raise."""
    err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def plain(text: object) -> Text:
    """Server or user text for a rich table or line, never read as markup."""
    return Text(str(text))


@contextmanager
def api_client(api_url: str) -> Iterator[Client]:
    """A client whose failures end the command with one line and exit code 2: an API error answer
    (its code and message), an API that cannot be reached, another client-side error."""
    try:
        with Client(api_url) as client:
            yield client
    except ApiError as exc:
        raise fail(f"{exc.code}: {exc.message}") from None
    except httpx.TransportError as exc:
        if isinstance(exc, httpx.TimeoutException):
            raise fail(f"the mediajobs API at {api_url} did not answer in time") from None
        raise fail(f"cannot reach the mediajobs API at {api_url}: is `mediajobs up` running?") from None
    except ClientSideError as exc:
        raise fail(exc.message) from None


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """`-o key=value` pairs as options; a value is JSON when it parses (`vad=true`, `rate=150`), else text."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"expected key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


@contextmanager
def goes_on(what: str, follow: str) -> Iterator[None]:
    """Ctrl-C while following `what` (a job, a batch) ends this command only: say that the work goes
    on in the service and how to follow it again, and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        err.print(
            Text.assemble(
                ("interrupted:", "yellow"), f" {what} goes on in the service; follow it with `{follow}`"
            ),
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
