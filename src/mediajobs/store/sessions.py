"""Dashboard sessions: a login with an API key becomes a session row; the browser holds only a random
token in a cookie (the row stores its SHA-256), so the key itself never sits in the browser.

A session lasts `ttl` from the login and ends sooner when its key is revoked, its user disabled, or
the user logs out. Each has a CSRF token the dashboard's forms carry and every POST must repeat.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from mediajobs.domain.tenancy import User

from .tables import ApiKeyRow, DashboardSessionRow, UserRow
from .tx import Database
from .users import _user as user_from_row


@dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    user: User
    key_id: str
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def open(self, user_id: str, key_id: str, *, ttl: timedelta) -> str:
        """A new session of `user_id`, logged in with key `key_id`; returns its token (for the cookie).
        Expired sessions are deleted on the way."""
        token = secrets.token_urlsafe(32)
        with self._db.tx() as tx:
            tx.conn.execute(delete(DashboardSessionRow).where(DashboardSessionRow.expires_at < tx.now))
            tx.conn.execute(
                insert(DashboardSessionRow).values(
                    id=_digest(token),
                    user_id=user_id,
                    key_id=key_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=tx.now,
                    expires_at=tx.now + ttl,
                )
            )
        return token

    def get(self, token: str) -> Session | None:
        """The live session `token` names: unexpired, its key not revoked, its user not disabled."""
        if not token or len(token) > 100:
            return None
        now = self._db.clock()
        with self._db.read() as conn:
            row = conn.execute(
                select(
                    UserRow.__table__,
                    DashboardSessionRow.key_id,
                    DashboardSessionRow.csrf_token,
                    DashboardSessionRow.expires_at,
                )
                .join(UserRow, UserRow.id == DashboardSessionRow.user_id)
                .join(ApiKeyRow, ApiKeyRow.id == DashboardSessionRow.key_id)
                .where(
                    DashboardSessionRow.id == _digest(token),
                    DashboardSessionRow.expires_at > now,
                    ApiKeyRow.revoked_at.is_(None),
                    UserRow.disabled_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        return Session(
            user=user_from_row(row), key_id=row.key_id, csrf_token=row.csrf_token, expires_at=row.expires_at
        )

    def close(self, token: str) -> None:
        """Log out: the session is gone."""
        with self._db.tx() as tx:
            tx.conn.execute(delete(DashboardSessionRow).where(DashboardSessionRow.id == _digest(token)))


__all__ = ["Session", "Sessions"]
