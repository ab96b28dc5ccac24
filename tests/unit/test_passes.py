"""Admission passes of one user in one process fold into one (store/passes.py)."""

from __future__ import annotations

import threading

import pytest

from mediajobs.store.passes import Passes

WAIT = 10.0


def test_a_pass_asked_for_while_one_runs_folds_into_one_more_look() -> None:
    passes = Passes()
    inside, release = threading.Event(), threading.Event()
    looks: list[int] = []

    def first() -> set[int]:
        looks.append(len(looks))
        if len(looks) == 1:
            inside.set()
            assert release.wait(WAIT)
        return {len(looks)}

    runner = threading.Thread(target=lambda: result.update(passes.run("ana", first)))
    result: set[int] = set()
    runner.start()
    assert inside.wait(WAIT)
    # three more submits of the same user while the pass runs: none runs a pass of its own
    assert [passes.run("ana", lambda: {99}) for _ in range(3)] == [set(), set(), set()]
    release.set()
    runner.join(WAIT)
    assert looks == [0, 1]  # the running pass looked once more, for all three
    assert result == {1, 2}


def test_other_users_are_not_held_and_the_next_pass_runs_fresh() -> None:
    passes = Passes()
    inside, release = threading.Event(), threading.Event()

    def slow() -> set[str]:
        inside.set()
        assert release.wait(WAIT)
        return {"ana"}

    runner = threading.Thread(target=passes.run, args=("ana", slow))
    runner.start()
    assert inside.wait(WAIT)
    assert passes.run("bo", lambda: {"bo"}) == {"bo"}
    release.set()
    runner.join(WAIT)
    assert passes.run("ana", lambda: {"again"}) == {"again"}


def test_a_failed_pass_lets_the_next_one_run() -> None:
    passes = Passes()

    def boom() -> set[str]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        passes.run("ana", boom)
    assert passes.run("ana", lambda: {"ok"}) == {"ok"}
