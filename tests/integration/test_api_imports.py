"""The API process loads no stage, ffmpeg, runner or speech-to-text code: it declares pipelines
(their graphs, options and submit checks) and reads the engines' catalogues (which models, language
pairs and voices are installed, to refuse an impossible job at submit), but never runs a stage.

Checked in a fresh interpreter that builds the app the way `mediajobs api` does, starts it (its
lifespan builds the services), and serves the OpenAPI document and the model list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.settings import make_settings
from mediajobs.launch import migrate_database

PROGRAM = """
import json, sys
from fastapi.testclient import TestClient
from mediajobs.api.app import create_app_from_environment

with TestClient(create_app_from_environment()) as client:
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/healthz").status_code == 200
print(json.dumps(sorted(sys.modules)))
"""

NEVER = (
    "mediajobs.stages",  # every stage module, and the package itself
    "mediajobs.runner",
    "mediajobs.process",  # how stages run tools (ffmpeg, engines)
    "mediajobs.engines.whisper",
    "mediajobs.engines.isolated",
    "mediajobs.engines.serve",
    "faster_whisper",
    "ctranslate2",
    "av",
    "onnxruntime",
)


def test_building_and_starting_the_api_loads_no_stage_or_engine_code(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    migrate_database(settings)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME")}
    env.update(settings.to_env())
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = [m for m in modules if any(m == name or m.startswith(f"{name}.") for name in NEVER)]
    assert loaded == []
    assert "mediajobs.pipelines.transcribe" in modules  # it does know the pipelines
