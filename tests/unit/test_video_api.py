"""The video pipeline at the API's edge: what a submit may say (422 naming the scene and field), the
pipelines catalogue, and the OpenAPI document's per-pipeline submit bodies. TestClient, SQLite, the
in-memory broker: no stage runs here (tests/acceptance/test_video.py runs them)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
SCENES = [{"text": "The river runs through the town.", "title": "The river"}, {"text": "Night falls."}]


@pytest.fixture
def publish_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    return folder


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str, publish_dir: Path) -> Iterator[Services]:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=sqlite_url,
        MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False,
        MEDIAJOBS_PUBLISH_DIRS=[str(publish_dir)],
        MEDIAJOBS_PLUGINS="helpers.graphs",
    )
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as test_client:
        yield authorize(test_client, services.store)


def video(client: TestClient, **body: Any) -> Any:
    return client.post(JOBS, json={"pipeline": "video", **body})


def refused(response: Any, code: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def test_scenes_in_the_options_need_no_source(client: TestClient) -> None:
    response = video(client, options={"scenes": SCENES, "size": "720x1280"})
    assert response.status_code == 202, response.text
    job = client.get(f"{JOBS}/{response.json()['id']}").json()
    assert job["source"] == "options:"
    assert [s["name"] for s in job["stages"]] == ["script", "assets", "render", "thumbnail", "publish"]
    assert [s["kind"] for s in job["stages"]] == ["download", "synthesize", "render", "media", "download"]
    assert job["options"]["fps"] == 25  # the defaults are stored with the job
    text = video(client, text="The first scene.\n\nThe second scene.")
    assert text.status_code == 202, text.text


def test_two_hundred_scenes_with_every_field_are_accepted(client: TestClient) -> None:
    png = client.post(
        "/api/v1/uploads", files={"file": ("photo.png", io.BytesIO(b"\x89PNG..."), "image/png")}
    )
    scene = {"text": "A scene.", "title": "A title", "image": png.json()["source"], "duration": 2.0}
    response = video(client, options={"scenes": [scene] * 200})
    assert response.status_code == 202, response.text


def test_a_bad_scene_is_named_by_index_and_field(client: TestClient) -> None:
    message = refused(video(client, options={"scenes": [SCENES[0], {"text": ""}]}), "invalid_options")
    assert "scenes.1.text" in message
    message = refused(video(client, options={"scenes": [{"text": "x", "duration": 0.1}]}), "invalid_options")
    assert "scenes.0.duration" in message
    too_many = [{"text": f"Scene {n}."} for n in range(201)]
    assert "scenes" in refused(video(client, options={"scenes": too_many}), "invalid_options")
    paragraphs = "\n\n".join(f"Scene {n}." for n in range(201))
    assert "201 paragraphs" in refused(video(client, text=paragraphs), "invalid_options")
    long_paragraph = "word " * 500
    assert "scenes.1.text" in refused(video(client, text=f"Fine.\n\n{long_paragraph}"), "invalid_options")


def test_the_input_is_scenes_or_text_never_both_nor_neither(client: TestClient) -> None:
    refused(video(client, text="A scene.", options={"scenes": SCENES}), "invalid_options")
    refused(video(client), "empty_text")
    transcribe = client.post(JOBS, json={"pipeline": "transcribe"})  # no options-input pipeline
    assert transcribe.status_code == 422
    assert transcribe.json()["error"]["code"] == "validation_error"


def test_a_scene_image_must_be_the_callers_uploaded_image(client: TestClient) -> None:
    missing = {"text": "x", "image": "upload://6f1c2d4e-8a9b-4c3d-9e1f-0a2b3c4d5e6f"}
    assert "scenes.0.image" in refused(video(client, options={"scenes": [missing]}), "upload_not_found")
    text_upload = client.post(
        "/api/v1/uploads", files={"file": ("notes.txt", io.BytesIO(b"hi"), "text/plain")}
    )
    assert text_upload.status_code == 201, text_upload.text
    not_image = {"text": "x", "image": text_upload.json()["source"]}
    assert "scenes.0.image" in refused(video(client, options={"scenes": [not_image]}), "unsupported_image")
    png = client.post(
        "/api/v1/uploads", files={"file": ("photo.png", io.BytesIO(b"\x89PNG..."), "image/png")}
    )
    ok = video(client, options={"scenes": [{"text": "x", "image": png.json()["source"]}]})
    assert ok.status_code == 202, ok.text


def test_publish_destinations_follow_the_rules(client: TestClient, publish_dir: Path) -> None:
    def publish(**options: Any) -> Any:
        return video(client, options={"scenes": SCENES, **options})

    assert publish(publish_dir=str(publish_dir)).status_code == 202
    refused(publish(publish_dir="/etc"), "publish_dir_not_allowed")
    assert publish(publish_url="https://hooks.example.com/videos").status_code == 202
    refused(publish(publish_url="https://127.0.0.1/hook"), "forbidden_source")
    refused(publish(publish_url="https://[::ffff:10.0.0.1]/hook"), "forbidden_source")
    refused(publish(publish_url="http://hooks.example.com/videos"), "invalid_publish_url")
    refused(publish(publish_url="https://user:pw@hooks.example.com/"), "invalid_publish_url")


def test_the_pipelines_route_lists_every_pipeline_with_its_options_schema(client: TestClient) -> None:
    listed = {p["name"]: p for p in client.get("/api/v1/pipelines").json()["pipelines"]}
    assert {"transcribe", "translate", "synthesize", "dub", "video", "diamond", "fan"} <= set(listed)
    video_pipeline = listed["video"]
    assert [s["name"] for s in video_pipeline["stages"]] == [
        "script",
        "assets",
        "render",
        "thumbnail",
        "publish",
    ]
    assert video_pipeline["stages"][2] == {
        "name": "render", "kind": "render", "needs": ["assets"], "weight": 6.0, "fans_out_to": None,
    }  # fmt: skip
    assert video_pipeline["queue_kinds"] == ["download", "synthesize", "render", "media"]
    assert video_pipeline["sources"] == ["options", "text", "upload"]
    assert video_pipeline["result"] == "video.json"
    options = video_pipeline["options_schema"]
    assert options["properties"]["size"]["default"] == "1280x720"
    assert options["properties"]["scenes"]["maxItems"] == 200
    assert "VideoScene" in options["$defs"]
    assert listed["transcribe"]["sources"] == ["http", "https", "job", "upload"]
    assert listed["transcribe"]["stages"][1]["fans_out_to"] == "chunk"
    assert client.get("/api/v1/pipelines", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_openapi_document_shows_each_pipelines_options(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    submit = schemas["JobCreate"]
    assert submit["discriminator"]["propertyName"] == "pipeline"
    assert set(submit["discriminator"]["mapping"]) >= {"transcribe", "video", "diamond", "fan"}
    video_body = schemas["VideoJobCreate"]
    assert video_body["properties"]["pipeline"]["const"] == "video"
    assert video_body["properties"]["options"]["$ref"] == "#/components/schemas/VideoOptions"
    assert schemas["VideoOptions"]["properties"]["fps"]["default"] == 25
    assert "not" in video_body  # source and text never both; neither is fine (scenes)
    translate_body = schemas["TranslateJobCreate"]
    assert "options" in translate_body["required"]  # target_language has no default
    assert len(translate_body["oneOf"]) == 2  # a source or a text
