"""The dashboard in a real headless browser: Debian's chromium driven by Playwright (never a downloaded
browser), against the API on a socket, one real worker, PostgreSQL and Redis, and real media.

One stack for the whole story: log in, watch a running job's progress bar move, filter the jobs list,
retry a failed job from its page and see it succeed, "retry all matching" after its confirmation, play
a synthesized clip and read subtitles, pause a lane and see admission stop (and resume it), then
restart the API and find the same history. Screenshots go to tests/artifacts/ (not in git)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from helpers.auth import new_key, user_with_key
from helpers.live_server import live_server
from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import FileServer, WorkerProcess, wait_for
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/bootstrap installs it)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TIMEOUT_MS = 60_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/bootstrap"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


class Api:
    def __init__(self, url: str, key: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def url_job(self, source: str) -> str:
        response = self.client.post("/api/v1/jobs", json={"pipeline": "transcribe", "source": source})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def file_job(self, path: Path) -> str:
        with path.open("rb") as fh:
            response = self.client.post("/api/v1/jobs", files={"file": (path.name, fh, "audio/wav")})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(f"/api/v1/jobs/{job_id}").json()
        return found

    def wait(self, job_id: str, *statuses: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"] in statuses else None

        found: dict[str, Any] = wait_for(ended, timeout=90, interval=0.1, message=f"{job_id} {statuses}")  # type: ignore[assignment]
        return found


def listed_jobs(page: Page) -> dict[str, str]:
    """Job id -> status, as the jobs page shows them."""
    rows = page.locator("table.jobs tbody tr[data-job]")
    return {
        str(rows.nth(i).get_attribute("data-job")): rows.nth(i).locator("td.status").inner_text()
        for i in range(rows.count())
    }


def test_the_dashboard_in_a_browser(tmp_path: Path, pg_url: str, redis_url: str, browser: Browser) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    engine = create_db_engine(pg_url)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    admin_key = new_key(store)  # the local admin (enterprise: the express lane)
    _, alice_key = user_with_key(store, "alice")  # free: the standard lane
    served = tmp_path / "served"
    served.mkdir()
    long_clip = speak(SPEECH_SCRIPT, tmp_path / "talk.wav")  # about 18 s: long enough to watch
    short_clip = speak("Hello from the dashboard.", tmp_path / "hello.wav")
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF" + os.urandom(4000))  # not media: normalize fails it for good
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        with FileServer(served) as files:
            worker.start()
            with live_server(create_app(settings)) as url:
                admin, alice = Api(url, admin_key), Api(url, alice_key)
                media = (long_clip, short_clip, corrupt)
                try:
                    history = story(browser, url, admin, alice, settings, store, files, served, *media)
                finally:
                    admin.client.close()
                    alice.client.close()
            with live_server(create_app(settings)) as url:  # the API restarted (another port, same database)
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/dashboard/login")
                page.fill("input[name=api_key]", admin_key)
                page.click("form.login button")
                page.goto(f"{url}/dashboard/jobs")
                assert listed_jobs(page) == history
                shot(page, "after-restart")
                context.close()
    finally:
        worker.stop()
        engine.dispose()


def story(
    browser: Browser,
    url: str,
    api: Api,
    alice: Api,
    settings: Settings,
    store: JobStore,
    files: FileServer,
    served: Path,
    *media: Path,
) -> dict[str, str]:
    context = browser.new_context()  # closed at the end: no event stream outlives this API
    try:
        return _story(context.new_page(), url, api, alice, settings, store, files, served, *media)
    finally:
        context.close()


def _story(
    page: Page,
    url: str,
    api: Api,
    alice: Api,
    settings: Settings,
    store: JobStore,
    files: FileServer,
    served: Path,
    long_clip: Path,
    short_clip: Path,
    corrupt: Path,
) -> dict[str, str]:
    page.set_default_timeout(TIMEOUT_MS)

    # log in with the API key
    page.goto(f"{url}/dashboard/")
    assert page.url.endswith("/dashboard/login")
    page.fill("input[name=api_key]", "mj_wrong")
    page.click("form.login button")
    expect(page.locator("p.error")).to_contain_text("not valid")
    page.fill("input[name=api_key]", api.client.headers["Authorization"].split()[1])
    page.click("form.login button")
    expect(page.locator("h1")).to_have_text("Overview")

    # a running job: its progress bar moves while it runs (live over SSE), then it ends
    running = api.file_job(long_clip)
    page.goto(f"{url}/dashboard/jobs/{running}")
    start = page.eval_on_selector("#job-progress", "bar => bar.value")
    page.wait_for_function(
        """start => document.getElementById('job-progress').value > start
                    && document.getElementById('job-status').textContent === 'running'""",
        arg=start,
    )
    shot(page, "running-job")
    expect(page.locator("#job-status")).to_have_text("succeeded")  # the final event reloads the page
    expect(page.locator("pre.subtitle-text").first).to_contain_text("-->")  # the subtitles shown

    # jobs that fail for real: sources that answer 404, and a file that is not media
    fixable = api.url_job(f"{files.url}/fixable.wav")
    gone = [api.url_job(f"{files.url}/gone-{i}.wav") for i in (1, 2)]
    broken = api.file_job(corrupt)
    speech = api.client.post("/api/v1/jobs", json={"pipeline": "synthesize", "text": "Hello there."}).json()
    for job in (fixable, *gone, broken):
        api.wait(job, "failed")
    assert api.job(broken)["error"]["code"] == "unsupported_media"

    # filter the jobs list
    page.goto(f"{url}/dashboard/jobs")
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button")
    assert set(listed_jobs(page)) == {fixable, *gone, broken}
    shot(page, "jobs-failed")

    # a synthesized clip plays on its page
    api.wait(str(speech["id"]), "succeeded")
    page.goto(f"{url}/dashboard/jobs/{speech['id']}")
    audio = page.locator("audio")
    expect(audio).to_have_count(1)
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")  # its metadata loaded
    assert page.eval_on_selector("audio", "a => a.duration") > 0.3

    # retry a failed job from its page once its source is there: it succeeds
    shutil.copy(short_clip, served / "fixable.wav")
    page.goto(f"{url}/dashboard/jobs/{fixable}")
    expect(page.locator("#job-error")).to_contain_text("download_failed")
    page.click("#retry")
    expect(page.locator("p.notice")).to_contain_text("retried")
    expect(page.locator("#job-status")).to_have_text("succeeded")

    # retry all matching: the search finds the two 404s, the confirmation says 2, then both succeed
    for name in ("gone-1.wav", "gone-2.wav"):
        shutil.copy(short_clip, served / name)
    page.goto(f"{url}/dashboard/failed")
    page.fill("input[name=q]", "gone")
    page.click("form.filters button")
    assert set(listed_jobs(page)) == set(gone)
    page.click("#retry-all")
    expect(page.locator("#retry-count")).to_have_text("2")
    shot(page, "retry-all-confirm")
    page.click("#confirm-retry-all")
    expect(page.locator("p.notice")).to_contain_text("Retried 2 job(s).")
    for job in gone:
        api.wait(job, "succeeded")
    assert api.job(broken)["status"] == "failed"  # not matched: left alone

    # pause the standard lane: alice's new job is not admitted (express work would run on); resume: it runs
    page.goto(f"{url}/dashboard/queues")
    page.click("tr[data-lane=standard] button.pause")
    expect(page.locator("p.notice")).to_contain_text("Lane standard paused.")
    held = alice.file_job(short_clip)
    submitted = store.db.clock()

    def ticks_passed() -> bool:  # the worker beat (and ran maintenance) well after the submit
        beats = store.queues.live_workers(silent_for=timedelta(seconds=settings.lease_seconds))
        return any(w.last_seen > submitted + timedelta(seconds=2) for w in beats)

    wait_for(ticks_passed, timeout=30, message="maintenance ticks after the submit")
    job = api.job(held)
    assert job["status"] == "queued"
    assert {s["status"] for s in job["stages"]} <= {"pending", "ready"}
    page.goto(f"{url}/dashboard/jobs/{held}")
    expect(page.locator("#job-waiting")).to_contain_text("lane_paused")
    page.goto(f"{url}/dashboard/queues")
    shot(page, "lane-paused")
    page.click("tr[data-lane=standard] button.resume")
    expect(page.locator("p.notice")).to_contain_text("Lane standard resumed.")
    api.wait(held, "succeeded")

    page.goto(f"{url}/dashboard/")
    shot(page, "overview")
    page.goto(f"{url}/dashboard/jobs")
    history = listed_jobs(page)
    assert len(history) == 7
    assert re.fullmatch(r"7 job\(s\)", page.locator("p.pager").inner_text().strip())
    assert history[running] == "succeeded"
    return history
