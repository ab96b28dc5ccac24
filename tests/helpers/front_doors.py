"""The other front doors of a running service, tried the way a new user does: the OpenAI-compatible
audio routes through the official `openai` package, and the dashboard through its login form.

Used by the tests that start the service the way users do (`mediajobs up`, the README's production
commands), next to the pipeline tour (helpers/tour.py)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai

from helpers.media import SPEECH_SCRIPT, speak
from helpers.wer import wer

SPOKEN = "Please close the door when you leave the house."


def tour_front_doors(url: str, key: str, tmp_path: Path) -> None:
    """An mp3 synthesized and a clip transcribed over /v1; the dashboard's login, overview, job
    list and a job's page, each showing the jobs just made."""
    client = openai.OpenAI(api_key=key, base_url=f"{url}/v1", timeout=300, max_retries=0)
    try:
        speech = client.audio.speech.create(model="tts-1", voice="alloy", input=SPOKEN, response_format="mp3")
        audio = speech.read()
        assert audio[:3] == b"ID3" or audio[0] == 0xFF, audio[:16]
        assert len(audio) > 2_000
        clip = speak(SPEECH_SCRIPT, tmp_path / "front-door.wav")
        with clip.open("rb") as fh:
            text = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="text")
        assert wer(SPEECH_SCRIPT, str(text)) <= 0.3, text
    finally:
        client.close()

    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as browser:
        assert "api_key" in browser.get("/dashboard/").text  # no session yet: the login page
        overview = browser.post("/dashboard/login", data={"api_key": key})
        assert overview.status_code == 200, overview.text[:2000]
        assert "mediajobs_session" in browser.cookies
        jobs = browser.get("/dashboard/jobs")
        assert jobs.status_code == 200
        ids = re.findall(r'href="/dashboard/jobs/([0-9a-f-]{36})"', jobs.text)
        assert ids, jobs.text[:2000]
        page = browser.get(f"/dashboard/jobs/{ids[0]}")
        assert page.status_code == 200
        assert "succeeded" in page.text
