"""How `mediajobs up` sizes its transcribe worker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers.settings import make_settings
from mediajobs.errors import ConfigurationError
from mediajobs.launch import ENGINE_MEMORY_BUDGET, FLOWER_MISSING, run_flower, transcribe_slots, up_workers
from mediajobs.registry import build_registry

GIB = 1024**3


@pytest.mark.parametrize(
    ("cpus", "available", "slots"),
    [
        (2, 22 * GIB, 2),  # this machine: one per core
        (16, 2 * GIB, 2 * GIB // ENGINE_MEMORY_BUDGET),  # memory is the bound
        (4, 0, 4),  # memory unknown: cores
        (1, 100 * 1024**2, 1),  # always at least one
    ],
)
def test_one_transcribe_slot_per_core_within_memory(cpus: int, available: int, slots: int) -> None:
    assert transcribe_slots(cpus, available) == slots


def test_flower_without_its_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "flower", None)  # as if `mediajobs[flower]` was not installed
    with pytest.raises(ConfigurationError) as raised:
        run_flower(make_settings(tmp_path))
    assert str(raised.value) == FLOWER_MISSING
    assert "pip install 'mediajobs[flower]'" in FLOWER_MISSING


def test_up_gives_its_workers_the_metrics_port_and_the_next(tmp_path: Path) -> None:
    registry = build_registry(make_settings(tmp_path))
    workers = up_workers(registry, concurrency=None, engine_slots=1, metrics_port=9808)
    assert [args[-2:] for args in workers.values()] == [
        ["--metrics-port", "9808"],
        ["--metrics-port", "9809"],
    ]
    assert all(
        "--metrics-port" not in args
        for args in up_workers(registry, concurrency=None, engine_slots=1).values()
    )
