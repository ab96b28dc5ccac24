"""`bench/run`: mediajobs against raw Celery and a hand-wired FastAPI + Celery service, in one run.

    bench/run                 # the whole comparison, printed, and written to docs/benchmarks.md
    bench/run --reps 1 --jobs 200 --no-write    # quicker, figures not recorded
    bench/run --check         # CI: SQL round trips per no-op job within bench/budget.json (a count)
    bench/run --record-budget # measure the round trips per job and write bench/budget.json

Every system runs on this machine's Redis and PostgreSQL, each run in a fresh database and Redis
database, with the same worker settings (prefork, concurrency 2, acks_late, prefetch 1). Repetitions
are interleaved (raw, hand-wired, mediajobs 1 stage, mediajobs 3 stages, then again), so a noisy
moment hurts every system alike; tables give the median and the spread (min-max).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .measure import PeakRss, closed_loop, cpu_seconds, open_loop, percentile, postgres_backends, spread, tree
from .systems import HandWired, MediaJobs, RawCelery, System, redis_pid, settle

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BUDGET = Path(__file__).with_name("budget.json")
BEGIN, END = "<!-- peer-bench:begin -->", "<!-- peer-bench:end -->"
CLIENTS = (8, 64)
TWO_APIS = "mediajobs, 1 stage, 2 API processes"
OPEN_RATE = 100.0  # req/s of the open-loop phase (issue 25: p99 <= 25 ms at 100 req/s, workers busy)
LATENCY_JOBS = 60  # one client, idle workers: submit to succeeded, one job after the other


@dataclass
class Figures:
    submit_rate: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    submit_p50: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    submit_p99: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    e2e_rate: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    open_p50: list[float] = field(default_factory=list)
    open_p99: list[float] = field(default_factory=list)
    latency_p50: list[float] = field(default_factory=list)  # end to end, one client, idle workers


def cpu_snapshot(system: System) -> dict[str, float]:
    pids = {role: tree(pid) for role, pid in system.roots().items()}
    snap = {role: cpu_seconds(p) for role, p in pids.items()}
    snap["redis"] = cpu_seconds([redis_pid()])
    snap["postgres"] = cpu_seconds(postgres_backends(system.database))
    return snap


def run_system(system: System, jobs: int, figures: Figures, *, open_loop_seconds: float) -> None:
    system.start()
    try:
        with PeakRss(system.roots()) as rss:
            total = 0
            for clients in CLIENTS:
                before = cpu_snapshot(system)
                started = time.perf_counter()
                load = closed_loop(system.make_call, jobs, clients)
                total += jobs
                finished = settle(system, total)
                after = cpu_snapshot(system)
                figures.submit_rate[clients].append(load.rate)
                figures.submit_p50[clients].append(percentile(load.latencies_ms, 0.5))
                figures.submit_p99[clients].append(percentile(load.latencies_ms, 0.99))
                figures.e2e_rate[clients].append(jobs / (finished - started))
                if clients == CLIENTS[0]:
                    for kind in after:
                        figures.cpu_ms[kind].append((after[kind] - before.get(kind, 0.0)) * 1000 / jobs)
            if isinstance(system, MediaJobs) and system.api_workers == 1:
                figures.latency_p50.append(percentile(system.job_latency(LATENCY_JOBS), 0.5))
                total += LATENCY_JOBS
            if system.http and open_loop_seconds:
                load = open_loop(system.make_call, OPEN_RATE, open_loop_seconds)
                total += len(load.latencies_ms)
                settle(system, total)
                figures.open_p50.append(percentile(load.latencies_ms, 0.5))
                figures.open_p99.append(percentile(load.latencies_ms, 0.99))
        for role, peak in rss.peaks.items():
            figures.rss_mb[role].append(peak / 2**20)
    finally:
        system.stop()


def systems() -> list[System]:
    return [
        RawCelery(name="raw Celery"),
        HandWired(name="hand-wired"),
        MediaJobs(name="mediajobs, 1 stage", pipeline="noop"),
        MediaJobs(name=TWO_APIS, pipeline="noop", api_workers=2),
        MediaJobs(name="mediajobs, 3 stages", pipeline="noop3"),
    ]


def ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / statistics.median(b) if a and b else float("nan")


def report(results: dict[str, Figures], args: argparse.Namespace, extra: str) -> str:
    lines = [
        f"Command: `bench/run --reps {args.reps} --jobs {args.jobs}` ({datetime.now(UTC):%Y-%m-%d}); "
        f"{machine()}; {versions()}. Median of {args.reps} interleaved runs (min-max).",
        "",
        "| system | submits/s, 8 clients | p50 / p99 ms | submits/s, 64 clients | p50 / p99 ms "
        "| jobs/s end to end (8 / 64) | CPU ms per job: API / worker / Redis / PostgreSQL "
        "| peak RSS MB: API / worker |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in results.items():
        cpu = " / ".join(spread(f.cpu_ms.get(kind, [])) for kind in ("api", "worker", "redis", "postgres"))
        rss = " / ".join(spread(f.rss_mb.get(role, [])) for role in ("api", "worker"))
        lines.append(
            f"| {name} | {spread(f.submit_rate[8])} | {spread(f.submit_p50[8])} / {spread(f.submit_p99[8])} "
            f"| {spread(f.submit_rate[64])} | {spread(f.submit_p50[64])} / {spread(f.submit_p99[64])} "
            f"| {spread(f.e2e_rate[8])} / {spread(f.e2e_rate[64])} | {cpu} | {rss} |"
        )
    mj, hw, raw = results["mediajobs, 1 stage"], results["hand-wired"], results["raw Celery"]
    submit_vs_hw = ratio(mj.submit_rate[8], hw.submit_rate[8])
    e2e_vs_hw = ratio(mj.e2e_rate[8], hw.e2e_rate[8])
    e2e_vs_raw = ratio(mj.e2e_rate[8], raw.e2e_rate[8])
    scaling = (
        ratio(results[TWO_APIS].submit_rate[8], mj.submit_rate[8]) if TWO_APIS in results else float("nan")
    )
    p99 = statistics.median(mj.open_p99) if mj.open_p99 else float("nan")
    three = results.get("mediajobs, 3 stages")
    latency_ratio = ratio(three.latency_p50, mj.latency_p50) if three is not None else float("nan")
    latency_figures = (
        f"3 stages p50 {spread(three.latency_p50)} ms / 1 stage p50 {spread(mj.latency_p50)} ms"
        if three is not None
        else "-"
    )
    api_rss = max(mj.rss_mb.get("api", [float("nan")]))

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    lines += [
        "",
        "Ratios (1 stage, 8 clients): mediajobs / hand-wired submit rate "
        f"**{submit_vs_hw:.2f}x**; end to end **{e2e_vs_hw:.2f}x** of hand-wired and **{e2e_vs_raw:.2f}x** "
        "of raw Celery.",
        "",
        "| target (issues 13 and 25) | figure | |",
        "|---|---|---|",
        f"| submit rate of one API process at 8 clients >= 1.0x hand-wired | {submit_vs_hw:.2f}x | "
        f"{verdict(submit_vs_hw >= 1.0)} |",
        f"| ... and it scales with API processes: 2 processes / 1 at 8 clients >= 1.5x | {scaling:.2f}x | "
        f"{verdict(scaling >= 1.5)} |",
        f"| submit p99 <= 25 ms at {OPEN_RATE:g} req/s while workers are busy | p50 "
        f"{spread(mj.open_p50)} ms, p99 {spread(mj.open_p99)} ms (hand-wired p99 {spread(hw.open_p99)} ms) | "
        f"{verdict(p99 <= 25)} |",
        f"| no-op jobs/s end to end >= 1.0x hand-wired | {e2e_vs_hw:.2f}x | {verdict(e2e_vs_hw >= 1.0)} |",
        f"| no-op jobs/s end to end >= 0.5x raw Celery | {e2e_vs_raw:.2f}x | {verdict(e2e_vs_raw >= 0.5)} |",
        f"| a 3-stage job's latency (one client, idle workers) <= 1.5x a 1-stage job's "
        f"| {latency_ratio:.2f}x ({latency_figures}) | {verdict(latency_ratio <= 1.5)} |",
        f"| API RSS <= 150 MB | {api_rss:.0f} MB peak | {verdict(api_rss <= 150)} |",
    ]
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> str:
    import celery
    import fastapi

    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip().split()[-1]
    redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return (
        f"Python {platform.python_version()}, Celery {celery.__version__}, FastAPI {fastapi.__version__}, "
        f"PostgreSQL {pg}, Redis {redis_v.removeprefix('v=')}"
    )


def write_doc(body: str) -> None:
    text = DOC.read_text()
    section = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = (
            text.rstrip()
            + "\n\n## The whole path against raw Celery and a hand-wired service\n\n"
            + section
            + "\n"
        )
    DOC.write_text(text)


# -- the round-trip budget (CI) ---------------------------------------------------------------------


def per_job_counts(jobs: int, pipeline: str = "noop") -> dict[str, float]:
    """SQL statements, commits and pool checkouts per no-op job, over the whole path (API, worker)."""
    from mediajobs.store.diagnostics import read_counts

    folder = Path(tempfile.mkdtemp(prefix="mj-sql-"))
    system = MediaJobs(name="budget", pipeline=pipeline, sql_counts=folder)
    system.start()
    try:
        time.sleep(1.0)  # the counters of the idle processes (start-up, first maintenance) are written
        base = read_counts(folder)
        base_api = read_counts(folder, pids={system.roots()["api"]})
        closed_loop(system.make_call, jobs, 8)
        settle(system, jobs)
        time.sleep(1.0)  # let every process write its last counts (every 0.5 s)
        total = read_counts(folder)
        api = read_counts(folder, pids={system.roots()["api"]})
    finally:
        system.stop()
    keys = ("statements", "commits", "checkouts")
    print(
        "  of which the API process: "
        + ", ".join(f"{k} {(api[k] - base_api.get(k, 0)) / jobs:.2f}" for k in keys),
        file=sys.stderr,
    )
    return {key: round((total[key] - base[key]) / jobs, 2) for key in keys}


def check_budget(jobs: int) -> int:
    budget = json.loads(BUDGET.read_text())
    counts = per_job_counts(jobs)
    print(f"SQL per no-op job over {jobs} jobs: {counts}; budget: {budget['per_job']}")
    over = {k: v for k, v in counts.items() if v > budget["per_job"][k]}
    if over:
        print(f"over the budget: {over} (bench/budget.json; a new round trip per job needs a reason)")
        return 1
    return 0


def record_budget(jobs: int) -> None:
    counts = per_job_counts(jobs)
    # Headroom for the maintenance loop's rounds (per second, not per job: more of them on a slower
    # machine), still under the one round trip per job that a change to the path would add.
    budget = {k: round(v + 0.9, 1) for k, v in counts.items()}
    BUDGET.write_text(json.dumps({"measured": counts, "per_job": budget, "jobs": jobs}, indent=2) + "\n")
    print(f"measured {counts}; budget written: {budget}")


LOCK = Path(tempfile.gettempdir()) / "mediajobs-bench.lock"


def one_at_a_time() -> None:
    """Every system here listens on one port and empties one Redis database when it starts: two runs
    on one machine would wreck each other's figures, so a second run waits for the first."""
    import fcntl

    handle = LOCK.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another bench/run holds {LOCK}; waiting for it", file=sys.stderr, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    globals()["_lock_handle"] = handle  # held until this process exits


def main() -> None:
    one_at_a_time()
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--open-seconds", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--record-budget", action="store_true")
    parser.add_argument("--transcribe", action="store_true", help="also: a transcribe job against the engine")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(check_budget(300))
    if args.record_budget:
        record_budget(300)
        return
    results: dict[str, Figures] = {}
    for rep in range(args.reps):
        for system in systems():
            print(f"rep {rep + 1}: {system.name}", file=sys.stderr, flush=True)
            run_system(
                system,
                args.jobs,
                results.setdefault(system.name, Figures()),
                open_loop_seconds=args.open_seconds,
            )
    extra = ""
    if args.transcribe:
        from .transcribe_vs_engine import compare

        extra = compare()
    body = report(results, args, extra)
    print(body)
    if not args.no_write:
        write_doc(body)


if __name__ == "__main__":
    main()
