"""The translate pipeline through the HTTP API: real worker, real Whisper, real Apertium."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import srt

from helpers.auth import user_with_key
from helpers.media import SPEECH_SCRIPT, speak
from helpers.stack import Stack

JOBS = "/api/v1/jobs"


def _translate(stack: Stack, **body: Any) -> dict[str, Any]:
    response = stack.api.post(JOBS, json={"pipeline": "translate", **body})
    assert response.status_code == 202, response.text
    job = stack.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def _artifact(stack: Stack, job_id: str, name: str) -> str:
    response = stack.api.get(f"{JOBS}/{job_id}/artifacts/{name}")
    assert response.status_code == 200, name
    return response.text


def test_transcript_of_english_speech_is_translated_to_spanish_with_the_same_cues(
    stack: Stack, tmp_path: Path
) -> None:
    stack.worker()
    spoken = stack.submit_file(speak(SPEECH_SCRIPT, tmp_path / "speech.wav"), "audio/wav")
    assert stack.wait_job(spoken)["status"] == "succeeded"

    job = _translate(stack, source=f"job://{spoken}", options={"target_language": "es"})

    assert job["options"]["source_language"] == "en"  # what the transcription detected
    english = list(srt.parse(_artifact(stack, spoken, "transcript.srt")))
    spanish = list(srt.parse(_artifact(stack, job["id"], "translation.srt")))
    assert len(spanish) == len(english) > 1
    assert [(c.start, c.end) for c in spanish] == [(c.start, c.end) for c in english]
    text = " ".join(c.content for c in spanish).lower()
    assert "tiempo" in text
    assert "parque" in text
    result = stack.api.get(f"{JOBS}/{job['id']}/result").json()
    assert [hop["mode"] for hop in result["route"]] == ["eng-spa"]
    assert len(result["cues"]) == len(english)
    names = {a["name"]: a for a in stack.api.get(f"{JOBS}/{job['id']}/artifacts").json()["artifacts"]}
    assert set(names) == {"translation.json", "translation.srt", "translation.vtt", "translation.txt"}
    assert names["translation.srt"]["content_type"].startswith("application/x-subrip")
    assert all(a["size"] > 0 for a in names.values())
    assert [s["kind"] for s in job["stages"]] == ["download", "translate"]


LONG_SENTENCES = (
    "The company increased its revenue and grew by twelve percent last year, which surprised many of "
    "the analysts who had expected a much weaker result. Our team spent the whole summer repairing the "
    "old wooden bridge near the river, because the heavy rain in the spring had damaged most of the "
    "boards. When the children came back from school in the evening, they played football in the "
    "garden until their mother called them inside for dinner. The farmer sold three horses at the "
    "market on a cold morning and carried the heavy boxes back to his house before the storm arrived.\n"
)
SENTENCE_ENDS = (".", "?", "!", "\u2026")


def test_sentences_that_span_cues_are_translated_whole_and_rewrapped_to_the_source_jobs_lines(
    stack: Stack, tmp_path: Path
) -> None:
    stack.worker()
    speech = speak(LONG_SENTENCES, tmp_path / "long-sentences.wav")
    with speech.open("rb") as fh:
        response = stack.api.post(
            JOBS,
            files={"file": (speech.name, fh, "audio/wav")},
            data={"pipeline": "transcribe", "options": '{"max_line_chars": 36}'},
        )
    assert response.status_code == 202, response.text
    spoken = response.json()["id"]
    assert stack.wait_job(spoken)["status"] == "succeeded"

    job = _translate(stack, source=f"job://{spoken}", options={"target_language": "es"})

    assert job["options"]["max_line_chars"] == 36  # the transcription's
    english = list(srt.parse(_artifact(stack, spoken, "transcript.srt")))
    spanish = list(srt.parse(_artifact(stack, job["id"], "translation.srt")))
    assert len(spanish) == len(english) >= 6
    assert [(c.start, c.end) for c in spanish] == [(c.start, c.end) for c in english]
    # sentences run across cues in the source: the test means something
    assert sum(not c.content.rstrip().endswith(SENTENCE_ENDS) for c in english) >= 3
    lines = [line for cue in spanish for line in cue.content.splitlines()]
    too_long = [line for line in lines if len(line) > 36]
    kept = {word for cue in english for word in cue.content.split() if word[:1].isupper()}  # names
    capitals = [
        line
        for before, line in itertools.pairwise(lines)
        if not before.rstrip().endswith(SENTENCE_ENDS) and line[:1].isupper() and line.split()[0] not in kept
    ]
    print(f"\n{len(spanish)} cues, {len(lines)} lines: {len(too_long)} over 36, {len(capitals)} capitals")
    assert too_long == []
    assert capitals == []  # a line that continues a sentence starts lower-case
    text = " ".join(lines).lower()
    assert "ingresos" in text
    assert "puente" in text


def test_unsupported_pair_is_refused_at_submit_naming_the_supported_ones(stack: Stack) -> None:
    response = stack.api.post(
        JOBS,
        json={
            "pipeline": "translate",
            "text": "Hello there.",
            "options": {"source_language": "en", "target_language": "de"},
        },
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_language_pair"
    assert "en->es" in error["message"]
    missing = stack.api.post(
        JOBS, json={"pipeline": "translate", "text": "Hi.", "options": {"target_language": "es"}}
    )
    assert missing.status_code == 422
    assert stack.api.get(JOBS).json()["jobs"] == []
    languages = stack.api.get("/api/v1/languages").json()
    assert {"source": "en", "target": "es", "engine_mode": "eng-spa"} in languages["translation_pairs"]
    assert "pt" in languages["translation_routes"]["en"]  # through Spanish


def test_text_is_translated_through_a_chain_of_pairs(stack: Stack) -> None:
    stack.worker()
    job = _translate(
        stack,
        text="The house is big.\n\nMy sister reads books.",
        options={"source_language": "en", "target_language": "pt"},
    )
    result = stack.api.get(f"{JOBS}/{job['id']}/result").json()
    assert [hop["mode"] for hop in result["route"]] == ["eng-spa", "es-pt"]
    assert len(result["cues"]) == 2
    assert "casa" in result["cues"][0]["text"].lower()
    assert result["cues"][1]["original"] == "My sister reads books."


def test_uploaded_subtitles_are_translated_bilingually(stack: Stack, tmp_path: Path) -> None:
    subtitles = tmp_path / "talk.srt"
    subtitles.write_text(
        "1\n00:00:01,250 --> 00:00:03,000\nThe weather is warm.\n\n"
        "2\n00:00:03,500 --> 00:00:06,125\nThe children are playing\nnear the river.\n\n"
        "3\n00:00:07,000 --> 00:00:08,000\nThank you & goodbye <3\n",
        encoding="utf-8",
    )
    stack.worker()
    with subtitles.open("rb") as fh:
        response = stack.api.post(
            JOBS,
            files={"file": ("talk.srt", fh, "application/x-subrip")},
            data={
                "pipeline": "translate",
                "options": '{"source_language": "en", "target_language": "es", "bilingual": true}',
            },
        )
    assert response.status_code == 202, response.text
    job = stack.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    original = list(srt.parse(subtitles.read_text()))
    both = list(srt.parse(_artifact(stack, job["id"], "bilingual.srt")))
    spanish = list(srt.parse(_artifact(stack, job["id"], "translation.srt")))
    for cues in (both, spanish):
        assert [(c.start, c.end) for c in cues] == [(c.start, c.end) for c in original]
    assert both[0].content.startswith("The weather is warm.\n")
    # the cue's two lines hold one sentence, translated whole and re-wrapped: it fits one line now
    assert len(spanish[1].content.splitlines()) == 1, spanish[1].content
    assert "&" in spanish[2].content
    vtt = _artifact(stack, job["id"], "translation.vtt")
    assert vtt.startswith("WEBVTT")
    assert "00:00:03.500 --> 00:00:06.125" in vtt


def test_another_users_job_is_not_a_source(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    mine = _translate(stack, text="Good morning.", options={"source_language": "en", "target_language": "es"})
    _, key = user_with_key(stack.store, "someone-else")
    response = stack.api.post(
        JOBS,
        json={"pipeline": "translate", "source": f"job://{mine['id']}", "options": {"target_language": "pt"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 404, response.text
    own = _translate(stack, source=f"job://{mine['id']}", options={"target_language": "pt"})
    assert own["options"]["source_language"] == "es"  # the translation's language
    result = stack.api.get(f"{JOBS}/{own['id']}/result").json()
    assert [hop["mode"] for hop in result["route"]] == ["es-pt"]
    wrong = stack.api.post(
        JOBS,
        files={"file": ("a.wav", b"RIFF....", "audio/wav")},
        data={"pipeline": "translate", "options": '{"source_language": "en", "target_language": "es"}'},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "unsupported_text"
