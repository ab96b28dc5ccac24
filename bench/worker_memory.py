"""Memory and time of `mediajobs up`'s workers at their default concurrency, transcribing at once.

    .venv/bin/python -m bench.worker_memory [--clips 4] [--transcribe-concurrency N] [--single-worker-c N]

Starts `mediajobs up` (embedded: SQLite, filesystem broker) in a temporary data folder, submits
`--clips` speech clips at once, and samples every 0.25 s, until all are done, the resident and
proportional set sizes (RSS, PSS from /proc/<pid>/smaps_rollup) of every worker process (Celery main
processes and pool children) and speech-to-text engine process (`python -m mediajobs.engines.serve`,
which holds the model). Reports the peaks and the time until every job ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import free_port, http_ready, wait_for
from mediajobs.client import Client


def _tree(root: int) -> dict[int, str]:
    """pid -> kind of every live process below `root`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = {}
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor not in (root, 0, 1):
            ancestor = parents.get(ancestor)
        if ancestor != root:
            continue
        try:
            cmd = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")).decode(errors="replace")
        except OSError:
            continue
        if "engines.serve" in cmd:
            found[pid] = "engine"
        elif " worker" in cmd:
            found[pid] = "worker"
    return found


def _kb(pid: int, field: str, file: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=4, help="clips submitted at once")
    parser.add_argument("--repeat", type=int, default=4, help="times the speech script is read per clip")
    parser.add_argument("--transcribe-concurrency", type=int, default=None, help="default: up's own")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mj-mem-") as tmp:
        data = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MEDIAJOBS_"))}
        env["MEDIAJOBS_DATA_DIR"] = str(data)
        port = free_port()
        argv_up = [sys.executable, "-m", "mediajobs", "up", "--port", str(port)]
        if args.transcribe_concurrency:
            argv_up += ["--transcribe-concurrency", str(args.transcribe_concurrency)]
        up = subprocess.Popen(argv_up, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: http_ready(f"{url}/readyz"), timeout=120, message="up ready")
            clip = speak(" ".join([SPEECH_SCRIPT] * args.repeat), Path(tmp) / "speech.wav")
            peak: dict[str, int] = {}
            counts: dict[str, int] = {}
            peak_rss = peak_pss = 0
            with Client(url, api_key=(data / "api-key").read_text().strip()) as client:
                ids = [client.submit(clip)["id"] for _ in range(args.clips)]
                started = time.monotonic()
                while True:
                    tree = _tree(up.pid)
                    by_kind: dict[str, int] = {}
                    for pid, kind in tree.items():
                        by_kind[kind] = by_kind.get(kind, 0) + _kb(pid, "VmRSS", "status")
                    for kind, kb in by_kind.items():
                        peak[kind] = max(peak.get(kind, 0), kb)
                        counts[kind] = max(counts.get(kind, 0), sum(1 for k in tree.values() if k == kind))
                    peak_rss = max(peak_rss, sum(by_kind.values()))
                    peak_pss = max(peak_pss, sum(_kb(p, "Pss", "smaps_rollup") for p in tree))
                    if all(client.get(i)["status"] in ("succeeded", "failed") for i in ids):
                        break
                    time.sleep(0.25)  # sampling interval
                took = time.monotonic() - started
                statuses = [client.get(i)["status"] for i in ids]
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=120)
    print(f"{args.clips} clips of {args.repeat}x the script at once: all ended in {took:.1f} s ({statuses})")
    for kind, kb in sorted(peak.items()):
        print(f"peak RSS of {counts[kind]} {kind} processes: {kb / 1024:.0f} MiB")
    print(
        f"peak RSS of workers and engines together: {peak_rss / 1024:.0f} MiB; PSS: {peak_pss / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
