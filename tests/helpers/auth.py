"""API keys for tests: the local admin's (what the embedded default uses), or a new user's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mediajobs.domain import LOCAL_USER_ID, Tier
from mediajobs.store import JobStore


def new_key(store: JobStore, user: str = LOCAL_USER_ID) -> str:
    _, key = store.users.create_key(user, name="tests")
    return key


def authorize(client: TestClient, store: JobStore, user: str = LOCAL_USER_ID) -> TestClient:
    """Send a fresh key of `user` (default: the local admin) with every request of `client`."""
    client.headers["Authorization"] = f"Bearer {new_key(store, user)}"
    return client


def user_with_key(
    store: JobStore, name: str, tier: Tier = Tier.FREE, *, admin: bool = False
) -> tuple[str, str]:
    """A new user and a key of theirs: (user id, key)."""
    user = store.users.create_user(name, tier=tier, is_admin=admin)
    return user.id, new_key(store, user.id)
