"""MeteredStorage: every byte stored through it is charged to its meter, and a refused charge leaves
nothing stored (storage/metered.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediajobs.storage import InMemoryStorage, MeteredStorage


class Refused(Exception):
    pass


class FakeMeter:
    """Allows up to `limit` bytes; records every charge."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.charges: list[int] = []

    def charge(self, size: int) -> None:
        self.charges.append(size)
        if size > 0 and self.total + size > self.limit:
            raise Refused(f"{self.total} + {size} > {self.limit}")
        self.total += size


def test_put_file_is_charged_before_it_is_stored_and_refused_whole(tmp_path: Path) -> None:
    inner, meter = InMemoryStorage(), FakeMeter(limit=10)
    storage = MeteredStorage(inner, meter)
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"x" * 6)
    big.write_bytes(b"y" * 6)

    storage.put_file("jobs/a/small", small)
    with pytest.raises(Refused):
        storage.put_file("jobs/a/big", big)

    assert [o.key for o in inner.list("jobs/")] == ["jobs/a/small"]
    assert meter.total == 6
    assert big.exists()  # refused before the backend took it


def test_a_failed_put_gives_its_charge_back(tmp_path: Path) -> None:
    meter = FakeMeter(limit=100)
    storage = MeteredStorage(InMemoryStorage(), meter)
    path = tmp_path / "f"
    path.write_bytes(b"z" * 5)
    with pytest.raises(ValueError, match="bad storage key"):
        storage.put_file("../bad key", path)  # the backend refuses the key
    assert meter.charges == [5, -5]
    assert meter.total == 0


def test_write_is_charged_once_stored_and_removed_when_refused() -> None:
    inner, meter = InMemoryStorage(), FakeMeter(limit=10)
    storage = MeteredStorage(inner, meter)
    assert storage.write("jobs/a/one", [b"abc", b"def"]).size == 6
    with pytest.raises(Refused):
        storage.write("jobs/a/two", [b"12345"])
    assert [o.key for o in inner.list("jobs/")] == ["jobs/a/one"]
    assert meter.total == 6


def test_a_writer_is_charged_at_commit_and_aborted_when_refused() -> None:
    inner, meter = InMemoryStorage(), FakeMeter(limit=10)
    storage = MeteredStorage(inner, meter)
    kept = storage.writer("jobs/a/kept")
    kept.write(b"1234")
    kept.commit()
    refused = storage.writer("jobs/a/refused")
    for _ in range(3):
        refused.write(b"12345")
    assert meter.total == 4  # nothing charged while it grows
    with pytest.raises(Refused):
        refused.commit()
    assert [o.key for o in inner.list("jobs/")] == ["jobs/a/kept"]
    assert meter.total == 4
