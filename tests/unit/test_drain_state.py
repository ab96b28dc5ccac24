"""drain.py: the grace period, then every running stage's token trips with HandedBack."""

from __future__ import annotations

import threading

from mediajobs.cancel import CancelToken
from mediajobs.drain import Drain
from mediajobs.errors import HandedBack


def test_a_token_watched_when_the_grace_ends_trips_with_handed_back() -> None:
    drain = Drain(0.05)
    token = CancelToken()
    with drain.watch(token):
        assert not drain.draining
        drain.begin()
        assert drain.draining
        assert not token.is_set()
        assert token.wait(5), "the grace period's end did not trip the token"
    assert isinstance(token.error, HandedBack)
    assert drain.expired


def test_a_stage_that_ends_within_the_grace_is_left_alone() -> None:
    drain = Drain(30)
    token = CancelToken()
    drain.begin()
    with drain.watch(token):
        pass
    drain.expire()  # the grace ends after the stage did
    assert not token.is_set()
    drain.cancel_timer()


def test_a_stage_started_after_the_grace_is_handed_back_at_once() -> None:
    drain = Drain(0)
    drain.begin()
    token = CancelToken()
    with drain.watch(token):
        assert isinstance(token.error, HandedBack)


def test_begin_is_idempotent_and_safe_from_many_threads() -> None:
    drain = Drain(60)
    threads = [threading.Thread(target=drain.begin) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert drain.draining
    assert not drain.expired
    drain.cancel_timer()
