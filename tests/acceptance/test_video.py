"""The video pipeline through the HTTP API: real workers, espeak-ng, Pillow, ffmpeg, and the service's
own transcribe pipeline (tiny.en) to hear the result; media from web pages with yt-dlp."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from helpers.fake_internet import public_url
from helpers.http_server import Route, serve
from helpers.media import video_with_speech
from helpers.processes import descendants_running, wait_for, wait_gone
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from helpers.wer import wer
from mediajobs.signing import SignatureError, verify

JOBS = "/api/v1/jobs"
SCENES = [
    {"title": "The river", "text": "The river runs through the old town. Children play near the bridge."},
    {"text": "In the evening the lights come on, and people walk along the water."},
    {"title": "Market day", "text": "Tomorrow the market opens early, with fresh bread and fruit."},
]
PAD = 0.5


def _submit(stack: Stack, options: dict[str, Any]) -> str:
    response = stack.api.post(JOBS, json={"pipeline": "video", "options": options})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _stage(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["stages"] if s["name"] == name)


def _output(stack: Stack, job_id: str, stage: str) -> dict[str, Any]:
    run = next(s for s in stack.store.jobs.get_job(uuid.UUID(job_id)).stages if s.name == stage)
    assert run.output is not None
    return dict(run.output)


def _probe(path: Path) -> dict[str, Any]:
    entries = "stream=codec_type,codec_name,pix_fmt,width,height:format=duration"
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    probed: dict[str, Any] = json.loads(found.stdout)
    return probed


def _frame(video: Path, at: float, target: Path) -> Image.Image:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1", str(target)],
        check=True,
    )
    return Image.open(target).convert("RGB")


def test_a_three_scene_video_is_rendered_subtitled_and_heard(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    job_id = _submit(stack, {"scenes": SCENES, "size": "1280x720", "pad_seconds": PAD})
    job = stack.wait_job(job_id)
    assert job["status"] == "succeeded", job
    result = stack.api.get(f"{JOBS}/{job_id}/result").json()
    names = {a["name"] for a in stack.api.get(f"{JOBS}/{job_id}/artifacts").json()["artifacts"]}
    assert names == {"video.mp4", "thumbnail.jpg", "video.srt", "video.vtt", "video.json"}
    video = tmp_path / "video.mp4"
    video.write_bytes(stack.api.get(f"{JOBS}/{job_id}/artifacts/video.mp4").content)

    probed = _probe(video)
    streams = {s["codec_type"]: s for s in probed["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["subtitle"]["codec_name"] == "mov_text"  # the soft track
    narration = _output(stack, job_id, "assets")["narration_seconds"]
    expected = narration + PAD * len(SCENES)
    assert abs(float(probed["format"]["duration"]) - expected) <= 0.2, (probed["format"], expected)

    # The first scene: its narration (subtitle shown) against its pad (no subtitle): only the bottom
    # band differs, where the burned-in text is.
    first = result["scenes"][0]
    assert (first["start"], result["scenes"][-1]["end"]) == (0.0, result["duration"])
    spoken = _frame(video, first["start"] + 0.6, tmp_path / "spoken.png")
    silent = _frame(video, (first["speech_end"] + first["end"]) / 2, tmp_path / "silent.png")
    band = (0, int(720 * 0.8), 1280, 720)
    assert ImageChops.difference(spoken.crop(band), silent.crop(band)).getbbox() is not None
    top = ImageChops.difference(spoken.crop((0, 0, 1280, 500)), silent.crop((0, 0, 1280, 500)))
    assert max(top.convert("L").getextrema()) < 40  # the card itself is the same picture

    thumbnail = tmp_path / "thumbnail.jpg"
    thumbnail.write_bytes(stack.api.get(f"{JOBS}/{job_id}/artifacts/thumbnail.jpg").content)
    with Image.open(thumbnail) as picture:
        assert (picture.format, picture.size) == ("JPEG", (1280, 720))
    srt = stack.api.get(f"{JOBS}/{job_id}/artifacts/video.srt").text
    assert "The river runs through the old town." in srt

    heard = stack.api.post(JOBS, json={"pipeline": "transcribe", "source": f"job://{job_id}"})
    assert heard.status_code == 202, heard.text
    transcribed = stack.wait_job(heard.json()["id"])
    assert transcribed["status"] == "succeeded", transcribed
    text = stack.api.get(f"{JOBS}/{transcribed['id']}/result").json()["text"]
    error_rate = wer(" ".join(s["text"] for s in SCENES), text)
    print(f"video -> transcribe: WER {error_rate:.3f}: {text!r}")
    assert error_rate <= 0.15, (error_rate, text)


# -- publish ----------------------------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Verifies each POST's Standard Webhooks signature; answers the scripted statuses, then 200."""

    secret = ""
    script: list[int] = []
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verify(self.secret, dict(self.headers.items()), body)
            valid = True
        except SignatureError:
            valid = False
        status = self.script.pop(0) if self.script else 200
        self.seen.append(
            {"valid": valid, "status": status, "id": self.headers["webhook-id"], "size": len(body),
             "type": self.headers["Content-Type"], "video": b"ftyp" in body[:4096] or b"ftyp" in body}
        )  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Length", "0")
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def receiver(secret: str, script: list[int]) -> Iterator[str]:
    _Receiver.secret, _Receiver.script, _Receiver.seen = secret, list(script), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/videos"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def publishing(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[tuple[Stack, Path]]:
    folder = tmp_path / "published"
    folder.mkdir()
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_PUBLISH_DIRS=[str(folder)],
    )
    with open_stack(settings, tmp_path) as stack:
        yield stack, folder


def test_publish_is_signed_retried_after_a_503_and_never_after_a_400(publishing: tuple[Stack, Path]) -> None:
    stack, folder = publishing
    stack.worker()
    secret = stack.api.get("/api/v1/me").json()["webhook_secret"]
    short = [{"text": "A short video to publish.", "title": "Published"}]
    with receiver(secret, [503]) as url:
        job_id = _submit(stack, {"scenes": short, "publish_url": url, "publish_dir": str(folder)})
        job = stack.wait_job(job_id)
        seen = list(_Receiver.seen)
    assert job["status"] == "succeeded", job
    assert [(s["valid"], s["status"]) for s in seen] == [(True, 503), (True, 200)]
    assert seen[0]["id"] == seen[1]["id"]  # one message, sent twice
    assert seen[1]["type"].startswith("multipart/form-data; boundary=")
    assert seen[1]["video"]
    assert [a["outcome"] for a in job["attempts"] if a["stage"] == "publish"] == ["retry", "succeeded"]
    copied = folder / job_id
    assert sorted(p.name for p in copied.iterdir()) == ["thumbnail.jpg", "video.json", "video.mp4"]
    assert json.loads((copied / "video.json").read_text())["job_id"] == job_id

    with receiver(secret, [400]) as url:
        job = stack.wait_job(_submit(stack, {"scenes": short, "publish_url": url}))
        seen = list(_Receiver.seen)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "publish_failed"
    assert "400" in job["error"]["message"]
    assert [s["status"] for s in seen] == [400]  # no retry
    assert [a["outcome"] for a in job["attempts"] if a["stage"] == "publish"] == ["failed"]


# -- stopping a render ------------------------------------------------------------------------------

LONG = [{"text": "The first long scene.", "duration": 20}, {"text": "The second long scene.", "duration": 20}]


def _rendering(stack: Stack, job_id: str, worker_pid: int) -> int:
    """Wait until the job's render runs ffmpeg; that ffmpeg's pid."""

    def ffmpeg() -> int | None:
        job = stack.api.get(f"{JOBS}/{job_id}").json()
        if _stage(job, "render")["status"] != "running":
            return None
        pids = descendants_running(worker_pid, "cards.ffconcat")
        return pids[0] if pids else None

    pid: int = wait_for(ffmpeg, timeout=120, interval=0.05, message="render under way")  # type: ignore[assignment]
    return pid


def test_cancel_during_render_leaves_no_ffmpeg_within_two_seconds(stack: Stack) -> None:
    worker = stack.worker()
    assert worker.proc is not None
    job_id = _submit(stack, {"scenes": LONG, "size": "1920x1080"})
    ffmpeg = _rendering(stack, job_id, worker.proc.pid)
    asked = time.monotonic()
    assert stack.api.post(f"{JOBS}/{job_id}/cancel").status_code == 200
    assert wait_gone(ffmpeg, timeout=2.0), "ffmpeg still ran 2 s after the cancel"
    print(f"ffmpeg gone {time.monotonic() - asked:.2f} s after the cancel")
    job = stack.wait_job(job_id, timeout=10)
    assert job["status"] == "cancelled"
    assert _stage(job, "render")["status"] == "cancelled"
    assert descendants_running(worker.proc.pid, "ffmpeg") == []


def test_a_worker_killed_during_render_does_not_redo_the_assets(stack: Stack) -> None:
    worker = stack.worker()
    assert worker.proc is not None
    job_id = _submit(stack, {"scenes": [{**LONG[0], "duration": 12}]})
    _rendering(stack, job_id, worker.proc.pid)
    worker.kill()
    stack.worker()
    job = stack.wait_job(job_id, timeout=180)
    assert job["status"] == "succeeded", job
    assert _stage(job, "assets")["attempts"] == 1  # its checkpoint was used, not spoken again
    assert _stage(job, "render")["attempts"] == 2


# -- media from web pages ---------------------------------------------------------------------------

SPOKEN = "The children are playing football near the river."


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return video_with_speech(SPOKEN, tmp_path / "talk.mp4")


def _page(inner: str) -> Route:
    body = f"<!doctype html><html><head><title>Talk</title></head><body>{inner}</body></html>"
    return Route(headers=(("Content-Type", "text/html"),), body=body.encode())


def test_a_page_with_an_html5_video_is_ingested_with_yt_dlp_and_transcribed(stack: Stack, clip: Path) -> None:
    stack.worker()
    routes = {"/watch": _page('<video src="/talk.mp4"></video>'), "/talk.mp4": Route(body=clip)}
    with serve(routes) as base:
        response = stack.api.post(JOBS, json={"pipeline": "transcribe", "source": f"{base}/watch"})
        assert response.status_code == 202, response.text
        job = stack.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    assert _output(stack, job["id"], "ingest")["origin"] == "page"
    text = stack.api.get(f"{JOBS}/{job['id']}/result").json()["text"]
    assert wer(SPOKEN, text) <= 0.25, text


def test_a_page_pointing_inside_fails_with_forbidden_source(
    tmp_path: Path, pg_url: str, redis_url: str, clip: Path
) -> None:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False,
    )
    hits: list[str] = []

    def media() -> Iterator[bytes]:
        hits.append("media")
        yield clip.read_bytes()

    with open_stack(settings, tmp_path) as stack, serve({"/talk.mp4": Route(body=media)}) as inside:
        stack.worker(plugins="helpers.fake_internet")  # this worker's internet: a public page on 127.0.0.1
        with serve({"/watch": _page(f'<video src="{inside}/talk.mp4"></video>')}) as base:
            response = stack.api.post(
                JOBS, json={"pipeline": "transcribe", "source": public_url(f"{base}/watch")}
            )
            assert response.status_code == 202, response.text
            job = stack.wait_job(response.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "forbidden_source", job["error"]
    assert hits == []
