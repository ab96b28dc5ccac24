"""Measuring tools for the benchmarks: load generators, and CPU and memory of process trees."""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- processes ----------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """`root` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of the processes (children that already exited are in their parents' c* fields)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / TICK


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def postgres_backends(database: str) -> list[int]:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [int(line) for line in out.stdout.split() if line.strip()]


@dataclass
class PeakRss:
    """Samples the RSS of named process trees every `every` seconds; keeps each one's peak."""

    roots: dict[str, int]
    every: float = 0.2
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for name, root in self.roots.items():
                self.peaks[name] = max(self.peaks.get(name, 0), rss_bytes(tree(root)))

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


# -- load --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    latencies_ms: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def closed_loop(make_call: Callable[[], Callable[[], None]], total: int, clients: int) -> Load:
    """`clients` threads, each with its own call (its own connection), sharing `total` calls."""
    latencies: list[float] = []
    lock = threading.Lock()
    left = [total]
    barrier = threading.Barrier(clients + 1)

    def run() -> None:
        call = make_call()
        mine: list[float] = []
        barrier.wait()
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            started = time.perf_counter()
            call()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return Load(latencies_ms=latencies, seconds=time.perf_counter() - started)


def open_loop(
    make_call: Callable[[], Callable[[], None]], rate: float, seconds: float, clients: int = 32
) -> Load:
    """Calls started at a fixed rate (whatever the answers' latency), latency measured from the
    planned start, so a stalled server shows up as latency instead of as a slower offered load."""
    planned = [i / rate for i in range(int(rate * seconds))]
    latencies: list[float] = []
    lock = threading.Lock()
    index = [0]
    origin = time.perf_counter() + 0.2

    def run() -> None:
        call = make_call()
        while True:
            with lock:
                if index[0] >= len(planned):
                    return
                at = origin + planned[index[0]]
                index[0] += 1
            delay = at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # the load generator's schedule
            call()
            with lock:
                latencies.append((time.perf_counter() - at) * 1000)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Load(latencies_ms=latencies, seconds=seconds)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def spread(values: Sequence[float]) -> str:
    """`median (min-max)` of repeated measurements."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.1f} ({min(values):.1f}-{max(values):.1f})" if len(values) > 1 else f"{med:.1f}"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> float:
    """Poll until `predicate()`; returns when it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(every)  # polling with a deadline
    return time.perf_counter()


__all__ = [
    "Load",
    "PeakRss",
    "closed_loop",
    "cpu_seconds",
    "open_loop",
    "percentile",
    "postgres_backends",
    "rss_bytes",
    "spread",
    "tree",
    "wait_until",
]
