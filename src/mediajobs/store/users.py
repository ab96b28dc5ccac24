"""Users and their API keys, and what each user used per period.

A key looks like `mj_<id>_<secret>`: the id (public, 12 characters) finds the row, the secret (32
random bytes) is checked against a SHA-256 hash, the only form stored. A key is shown once, when made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediajobs.domain.tenancy import Tier, TierLimits, Usage, User, check_quota, period_of
from mediajobs.errors import Conflict, InvalidRequest, NotFound, TooManyRequests
from mediajobs.signing import ROTATION_WINDOW, new_secret

from .tables import ApiKeyRow, UsageRow, UserRow
from .tx import Database, Tx

KEY_PREFIX = "mj_"
_KEY = re.compile(r"^mj_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
LAST_USED_EVERY = timedelta(minutes=5)  # how stale `last_used_at` may get (a write per request is too many)


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def shown(self) -> str:
        """How the key is shown after its creation: its public part only."""
        return f"{KEY_PREFIX}{self.id}_…"


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """Who a request's key belongs to, and their usage of the current period (one query)."""

    user: User
    key_id: str
    usage: Usage

    @property
    def scope(self) -> str | None:
        """Whose jobs this caller may see: their own, or everybody's (None) for an admin."""
        return None if self.user.is_admin else self.user.id


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        tier=Tier(row.tier),
        is_admin=bool(row.is_admin),
        disabled=row.disabled_at is not None,
    )


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _charge_statement(upsert: Any) -> Any:
    statement = upsert(UsageRow).values(
        user_id=bindparam("c_user"),
        period=bindparam("c_period"),
        jobs=bindparam("c_jobs"),
        media_seconds=bindparam("c_media"),
        updated_at=bindparam("c_at"),
    )
    return statement.on_conflict_do_update(
        index_elements=[UsageRow.user_id, UsageRow.period],
        set_={
            "jobs": UsageRow.jobs + statement.excluded.jobs,
            "media_seconds": UsageRow.media_seconds + statement.excluded.media_seconds,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(UsageRow.jobs, UsageRow.media_seconds, UsageRow.reserved_seconds, UsageRow.characters)


# Built once (a statement built per call costs more Python time than its round trip): one per
# dialect, since the upsert's ON CONFLICT clause is dialect-specific.
_CHARGE = {True: _charge_statement(pg_insert), False: _charge_statement(sqlite_insert)}


def charge(
    tx: Tx, user_id: str, *, jobs: int = 0, media_seconds: float = 0.0, quota: TierLimits | None = None
) -> Usage:
    """Add to the user's usage of the current period (one upsert); returns the usage before it.

    With `quota`, `jobs` new jobs must fit the monthly quotas on top of the usage this upsert found,
    or TooManyRequests (`quota_exceeded`) rolls the transaction back. The upsert holds the user's
    usage row until the commit, so concurrent submits of one user are counted one after the other:
    the quota is exact, whatever the caller read before (an API process caches key checks)."""
    period = period_of(tx.now)
    after = tx.conn.execute(
        _CHARGE[tx.postgres],
        {"c_user": user_id, "c_period": period, "c_jobs": jobs, "c_media": media_seconds, "c_at": tx.now},
    ).one()
    before = Usage(
        period=period,
        jobs=int(after.jobs) - jobs,
        media_seconds=float(after.media_seconds) - media_seconds,
        reserved_seconds=float(after.reserved_seconds),
        characters=int(after.characters),
    )
    if quota is not None:
        verdict = check_quota(quota, before, tx.now, adding=jobs)
        if not verdict.allowed:
            raise TooManyRequests(verdict.message, code="quota_exceeded", retry_after=verdict.retry_after)
    return before


_CALLER = (  # every authenticated request runs it: built once
    select(
        ApiKeyRow.secret_hash,
        ApiKeyRow.last_used_at,
        UserRow.__table__,
        func.coalesce(UsageRow.jobs, 0).label("usage_jobs"),
        func.coalesce(UsageRow.media_seconds, 0.0).label("usage_media_seconds"),
        func.coalesce(UsageRow.reserved_seconds, 0.0).label("usage_reserved_seconds"),
        func.coalesce(UsageRow.characters, 0).label("usage_characters"),
    )
    .join(UserRow, UserRow.id == ApiKeyRow.user_id)
    .outerjoin(UsageRow, and_(UsageRow.user_id == UserRow.id, UsageRow.period == bindparam("a_period")))
    .where(ApiKeyRow.id == bindparam("a_key"), ApiKeyRow.revoked_at.is_(None), UserRow.disabled_at.is_(None))
)


class Users:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- users -----------------------------------------------------------------------------------

    def create_user(self, name: str, *, tier: Tier = Tier.FREE, is_admin: bool = False) -> User:
        if not _NAME.match(name):
            raise InvalidRequest(
                f"user name {name[:80]!r}: 1-64 letters, digits or . _ @ -, starting with a letter or digit",
                code="invalid_user_name",
            )
        user_id = f"u_{uuid.uuid4().hex[:16]}"
        with self._db.tx() as tx:
            if tx.conn.execute(select(UserRow.id).where(UserRow.name == name)).first() is not None:
                raise Conflict(f"a user named {name!r} exists", code="user_exists")
            tx.conn.execute(
                insert(UserRow).values(id=user_id, name=name, tier=tier, is_admin=is_admin, created_at=tx.now)
            )
        return User(id=user_id, name=name, tier=tier, is_admin=is_admin)

    def get_user(self, name_or_id: str) -> User:
        with self._db.read() as conn:
            row = conn.execute(
                select(UserRow.__table__).where((UserRow.id == name_or_id) | (UserRow.name == name_or_id))
            ).first()
        if row is None:
            raise NotFound(f"no user {name_or_id[:80]!r}")
        return _user(row)

    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            return [_user(r) for r in conn.execute(select(UserRow.__table__).order_by(UserRow.name))]

    def set_tier(self, name_or_id: str, tier: Tier) -> User:
        user = self.get_user(name_or_id)
        with self._db.tx() as tx:
            tx.conn.execute(update(UserRow).where(UserRow.id == user.id).values(tier=tier))
        return self.get_user(user.id)

    def disable_user(self, name_or_id: str) -> User:
        """A disabled user's keys stop working at once; their jobs and data stay."""
        user = self.get_user(name_or_id)
        with self._db.tx() as tx:
            tx.conn.execute(
                update(UserRow)
                .where(UserRow.id == user.id, UserRow.disabled_at.is_(None))
                .values(disabled_at=tx.now)
            )
        return self.get_user(user.id)

    # -- keys ------------------------------------------------------------------------------------

    def create_key(self, name_or_id: str, *, name: str = "default") -> tuple[ApiKey, str]:
        """A new key for the user; returns it and its full text (shown once, never stored)."""
        user = self.get_user(name_or_id)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._db.tx() as tx:
            tx.conn.execute(
                insert(ApiKeyRow).values(
                    id=key_id,
                    user_id=user.id,
                    name=name[:200],
                    secret_hash=hash_secret(secret),
                    created_at=tx.now,
                )
            )
            created = tx.now
        key = ApiKey(
            id=key_id,
            user_id=user.id,
            name=name[:200],
            created_at=created,
            revoked_at=None,
            last_used_at=None,
        )
        return key, f"{KEY_PREFIX}{key_id}_{secret}"

    def list_keys(self, name_or_id: str | None = None) -> list[ApiKey]:
        query = select(ApiKeyRow.__table__).order_by(ApiKeyRow.created_at)
        if name_or_id is not None:
            query = query.where(ApiKeyRow.user_id == self.get_user(name_or_id).id)
        with self._db.read() as conn:
            return [_key(r) for r in conn.execute(query)]

    def revoke_key(self, key_id: str) -> ApiKey:
        key_id = key_id.removeprefix(KEY_PREFIX).split("_", 1)[0]
        with self._db.tx() as tx:
            tx.conn.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=tx.now)
            )
            row = tx.conn.execute(select(ApiKeyRow.__table__).where(ApiKeyRow.id == key_id)).first()
        if row is None:
            raise NotFound(f"no API key {key_id[:40]!r}")
        return _key(row)

    def authenticate(self, key: str) -> Caller | None:
        """The caller a key belongs to, with their usage this period; None for a malformed, unknown,
        revoked or disabled key (the API answers all of them the same way)."""
        match = _KEY.match(key)
        if match is None:
            return None
        key_id, secret = match.groups()
        now = self._db.clock()
        period = period_of(now)
        with self._db.read() as conn:
            row = conn.execute(_CALLER, {"a_key": key_id, "a_period": period}).first()
            if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
                return None
            if row.last_used_at is None or row.last_used_at < now - LAST_USED_EVERY:
                self._touch(conn, key_id, now)
        usage = Usage(
            period=period,
            jobs=int(row.usage_jobs),
            media_seconds=float(row.usage_media_seconds),
            reserved_seconds=float(row.usage_reserved_seconds),
            characters=int(row.usage_characters),
        )
        return Caller(user=_user(row), key_id=key_id, usage=usage)

    @staticmethod
    def _touch(conn: Connection, key_id: str, now: datetime) -> None:
        conn.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now))
        conn.commit()

    # -- signing secret --------------------------------------------------------------------------

    def webhook_secret(self, user_id: str) -> str:
        """The user's `whsec_` signing secret, made (once, whoever asks first) when they have none."""
        with self._db.read() as conn:
            found = conn.execute(select(UserRow.webhook_secret).where(UserRow.id == user_id)).first()
        if found is None:
            raise NotFound(f"no user {user_id[:80]!r}")
        if found.webhook_secret:
            return str(found.webhook_secret)
        with self._db.tx() as tx:
            tx.conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.webhook_secret.is_(None))
                .values(webhook_secret=new_secret())
            )
            row = tx.conn.execute(select(UserRow.webhook_secret).where(UserRow.id == user_id)).one()
        return str(row.webhook_secret)

    def event_key(self, user_id: str) -> bytes:
        """The secret key the user's event ids are shown under (made once, whoever asks first)."""
        with self._db.read() as conn:
            found = conn.execute(select(UserRow.event_key).where(UserRow.id == user_id)).first()
        if found is None:
            raise NotFound(f"no user {user_id[:80]!r}")
        if not found.event_key:
            with self._db.tx() as tx:
                tx.conn.execute(
                    update(UserRow)
                    .where(UserRow.id == user_id, UserRow.event_key.is_(None))
                    .values(event_key=secrets.token_hex(32))
                )
                found = tx.conn.execute(select(UserRow.event_key).where(UserRow.id == user_id)).one()
        return bytes.fromhex(str(found.event_key))

    def signing_secrets(self, user_id: str) -> tuple[str, ...]:
        """What a message to the user is signed with: their secret (made on first need), then the one it
        replaced while that rotation's window lasts (ROTATION_WINDOW)."""
        current, previous, until = self.webhook_secret_state(user_id)
        return (current, previous) if previous is not None and until is not None else (current,)

    def webhook_secret_state(self, user_id: str) -> tuple[str, str | None, datetime | None]:
        """(secret, the previous one while it still signs too, when it stops)."""
        with self._db.read() as conn:
            row = conn.execute(
                select(
                    UserRow.webhook_secret, UserRow.previous_webhook_secret, UserRow.webhook_secret_rotated_at
                ).where(UserRow.id == user_id)
            ).first()
        if row is None:
            raise NotFound(f"no user {user_id[:80]!r}")
        current = str(row.webhook_secret) if row.webhook_secret else self.webhook_secret(user_id)
        rotated = row.webhook_secret_rotated_at
        if row.previous_webhook_secret and rotated is not None:
            until = rotated + ROTATION_WINDOW
            if until > self._db.clock():
                return current, str(row.previous_webhook_secret), until
        return current, None, None

    def rotate_webhook_secret(self, user_id: str) -> tuple[str, datetime | None]:
        """A new secret; the one it replaces keeps signing beside it for ROTATION_WINDOW (a second
        rotation within the window drops the oldest). (new secret, when the previous one stops)."""
        secret = new_secret()
        with self._db.tx() as tx:
            query = select(UserRow.webhook_secret).where(UserRow.id == user_id)
            row = tx.conn.execute(query.with_for_update() if tx.postgres else query).first()
            if row is None:
                raise NotFound(f"no user {user_id[:80]!r}")
            tx.conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id)
                .values(
                    webhook_secret=secret,
                    previous_webhook_secret=row.webhook_secret,
                    webhook_secret_rotated_at=tx.now,
                )
            )
            until = tx.now + ROTATION_WINDOW if row.webhook_secret else None
        return secret, until

    # -- usage -----------------------------------------------------------------------------------

    def usage(self, user_id: str, period: str | None = None) -> Usage:
        period = period or period_of(self._db.clock())
        with self._db.read() as conn:
            row = conn.execute(
                select(
                    UsageRow.jobs, UsageRow.media_seconds, UsageRow.reserved_seconds, UsageRow.characters
                ).where(UsageRow.user_id == user_id, UsageRow.period == period)
            ).first()
        if row is None:
            return Usage(period=period)
        return Usage(
            period=period,
            jobs=int(row.jobs),
            media_seconds=float(row.media_seconds),
            reserved_seconds=max(0.0, float(row.reserved_seconds)),
            characters=int(row.characters),
        )


__all__ = ["KEY_PREFIX", "ApiKey", "Caller", "Users", "charge", "hash_secret"]
