"""Commands that manage users and API keys, run on a host that reaches the database (like `migrate`):

mediajobs users create NAME --tier free|pro|enterprise [--admin]
mediajobs users list | set-tier NAME TIER | disable NAME
mediajobs keys create USER [--name NAME]      (the key is printed once; only its hash is kept)
mediajobs keys list [USER] | revoke KEY_ID
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from mediajobs.domain.tenancy import Tier
from mediajobs.errors import MediaJobsError
from mediajobs.settings import get_settings
from mediajobs.store import JobStore, create_db_engine, ensure_migrated
from mediajobs.store.users import Users

from .common import app, console, fail

users_app = typer.Typer(help="Users: create, list, set a tier, disable.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

TierOption = Annotated[Tier, typer.Option("--tier", help="free, pro or enterprise")]


@contextmanager
def _users() -> Iterator[Users]:
    engine = create_db_engine(get_settings().resolved_database_url)
    try:
        ensure_migrated(engine)
        yield JobStore(engine).users
    except MediaJobsError as exc:
        raise fail(f"{exc.code}: {exc.message}", code=2) from None
    finally:
        engine.dispose()


@users_app.command("create")
def users_create(
    name: str,
    tier: TierOption = Tier.FREE,
    admin: Annotated[bool, typer.Option("--admin", help="May see and manage every job.")] = False,
) -> None:
    """Create a user."""
    with _users() as users:
        user = users.create_user(name, tier=tier, is_admin=admin)
    console.print(f"{user.id} {user.name} {user.tier.value}{' admin' if user.is_admin else ''}", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List users."""
    with _users() as users:
        found = users.list_users()
    table = Table("id", "name", "tier", "admin", "disabled")
    for user in found:
        table.add_row(
            user.id,
            user.name,
            user.tier.value,
            "yes" if user.is_admin else "",
            "yes" if user.disabled else "",
        )
    console.print(table)


@users_app.command("set-tier")
def users_set_tier(name: str, tier: Tier) -> None:
    """Move a user to another tier (their next jobs run in its lane, with its limits)."""
    with _users() as users:
        user = users.set_tier(name, tier)
    console.print(f"{user.name} is now {user.tier.value}", markup=False)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a user: their keys stop working at once; their jobs and data stay."""
    with _users() as users:
        user = users.disable_user(name)
    console.print(f"{user.name} disabled", markup=False)


@keys_app.command("create")
def keys_create(
    user: str, name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "default"
) -> None:
    """Create an API key for USER and print it (once: only its hash is stored)."""
    with _users() as users:
        key, text = users.create_key(user, name=name)
    console.print(text, markup=False, soft_wrap=True)
    typer.echo(f"key id {key.id} for {user}: keep it now, it cannot be shown again", err=True)


@keys_app.command("list")
def keys_list(user: Annotated[str | None, typer.Argument(help="Only this user's keys.")] = None) -> None:
    """List API keys (their public ids, never the keys)."""
    with _users() as users:
        found = users.list_keys(user)
    table = Table("id", "user", "name", "created", "last used", "revoked")
    for key in found:
        table.add_row(
            key.id,
            key.user_id,
            key.name,
            key.created_at.isoformat(timespec="seconds"),
            key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "",
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key (by its id or the key itself): it stops working at once."""
    with _users() as users:
        key = users.revoke_key(key_id)
    console.print(f"revoked {key.id} of {key.user_id}", markup=False)
