"""The API process's memory of key checks: trusted for `ttl` seconds, bounded, failures never kept."""

from __future__ import annotations

from mediajobs.api.keycache import KeyCache
from mediajobs.domain.tenancy import Tier, Usage, User
from mediajobs.store import Caller


def caller(name: str) -> Caller:
    user = User(id=name, name=name, tier=Tier.FREE)
    return Caller(user=user, key_id=name, usage=Usage(period="2026-01"))


class Lookups:
    def __init__(self, answers: dict[str, Caller | None]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, key: str) -> Caller | None:
        self.asked.append(key)
        return self.answers.get(key)


def test_a_passed_check_is_remembered_for_ttl_seconds_then_asked_again() -> None:
    now = [0.0]
    cache = KeyCache(5.0, clock=lambda: now[0])
    lookups = Lookups({"k1": caller("a")})
    assert cache.check("k1", lookups) == caller("a")
    now[0] = 4.99
    assert cache.peek("k1") == caller("a")
    assert cache.check("k1", lookups) == caller("a")
    assert lookups.asked == ["k1"]
    now[0] = 5.0
    assert cache.peek("k1") is None
    lookups.answers["k1"] = None  # revoked meanwhile
    assert cache.check("k1", lookups) is None
    assert lookups.asked == ["k1", "k1"]
    assert len(cache) == 0


def test_failed_checks_are_never_remembered_and_ttl_zero_remembers_nothing() -> None:
    lookups = Lookups({"good": caller("a")})
    cache = KeyCache(5.0)
    for _ in range(3):
        assert cache.check("bad", lookups) is None
    assert lookups.asked == ["bad"] * 3
    assert len(cache) == 0
    off = KeyCache(0.0)
    off.check("good", lookups)
    off.check("good", lookups)
    assert lookups.asked[-2:] == ["good", "good"]
    assert len(off) == 0
    assert off.peek("good") is None


def test_the_cache_holds_at_most_max_entries_dropping_the_oldest() -> None:
    now = [0.0]
    cache = KeyCache(60.0, max_entries=3, clock=lambda: now[0])
    lookups = Lookups({f"k{i}": caller(f"u{i}") for i in range(5)})
    for i in range(5):
        now[0] = float(i)
        cache.check(f"k{i}", lookups)
    assert len(cache) == 3
    assert cache.peek("k0") is None
    assert cache.peek("k1") is None
    assert cache.peek("k4") == caller("u4")
