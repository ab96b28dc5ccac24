"""How `mediajobs up` sizes its transcribe worker."""

from __future__ import annotations

import pytest

from mediajobs.launch import ENGINE_MEMORY_BUDGET, transcribe_slots

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
