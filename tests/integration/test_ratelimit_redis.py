"""The submit rate limit in Redis: one script call per submit, shared by every API process."""

from __future__ import annotations

import redis

from mediajobs.api.ratelimit import RedisWindow


def test_the_window_counts_shares_and_says_when_it_resets_in_one_call_per_hit(redis_url: str) -> None:
    first, second = RedisWindow(redis_url), RedisWindow(redis_url)  # two API processes
    monitor = redis.Redis.from_url(redis_url)
    sent: list[str] = []
    for window in (first, second):
        client = window._client
        original = client.execute_command

        def counted(*args: object, _original: object = original, **kwargs: object) -> object:
            sent.append(str(args[0]))
            return _original(*args, **kwargs)  # type: ignore[operator]

        client.execute_command = counted
    try:
        first.hit("warm-up", 5, 60)
        second.hit("warm-up", 5, 60)  # each client loads the script once
        sent.clear()
        verdicts = [(first if i % 2 else second).hit("key-a", 5, 60) for i in range(6)]
        assert [v.allowed for v in verdicts] == [True] * 5 + [False]
        assert [v.remaining for v in verdicts] == [4, 3, 2, 1, 0, 0]
        assert all(59 <= v.reset <= 60 for v in verdicts)
        assert sent == ["EVALSHA"] * 6  # one round trip per hit
        assert second.hit("key-b", 5, 60).remaining == 4  # keys are counted apart
        assert 0 < monitor.pttl("mediajobs:ratelimit:60:key-a") <= 60_000  # the list expires with its window
        assert monitor.llen("mediajobs:ratelimit:60:key-a") == 5  # at most `limit` hit times kept
    finally:
        first.close()
        second.close()
        monitor.close()


def test_a_hit_older_than_the_window_no_longer_counts(redis_url: str) -> None:
    window = RedisWindow(redis_url)
    client = redis.Redis.from_url(redis_url)
    try:
        seconds, micros = client.time()
        now_ms = seconds * 1000 + micros // 1000
        key = "mediajobs:ratelimit:60:key-c"
        client.rpush(key, now_ms - 30_000, now_ms - 61_000)  # one 30 s old, one past the window
        verdict = window.hit("key-c", 2, 60)
        assert verdict.allowed
        assert verdict.remaining == 0
        assert 29 <= verdict.reset <= 31  # when the 30 s old hit leaves the window
        refused = window.hit("key-c", 2, 60)
        assert not refused.allowed
        assert 29 <= refused.reset <= 31
    finally:
        window.close()
        client.close()
