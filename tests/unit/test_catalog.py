"""The model catalogue: what a transcribe job may ask for, checked without loading a model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.settings import make_settings as base_settings
from mediajobs.domain.options import TranscribeOptions
from mediajobs.engines.catalog import BASE_SHA256, BASE_SIZE, ModelCatalog, assemble_base
from mediajobs.errors import InvalidRequest


def test_base_model_is_assembled_once_and_checked(tmp_path: Path) -> None:
    folder = assemble_base(tmp_path)
    model = folder / "model.bin"
    assert model.stat().st_size == BASE_SIZE
    assert hashlib.sha256(model.read_bytes()).hexdigest() == BASE_SHA256
    assert {p.name for p in folder.iterdir()} == {
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        "model.bin",
    }
    mtime = model.stat().st_mtime_ns
    assert assemble_base(tmp_path) == folder
    assert model.stat().st_mtime_ns == mtime  # not written again


def test_a_language_the_model_lacks_is_refused_naming_the_models_that_can(tmp_path: Path) -> None:
    catalog = ModelCatalog(base_settings(tmp_path))
    assert catalog.default == "tiny.en"
    with pytest.raises(InvalidRequest) as caught:
        catalog.check(None, "es", "transcribe")
    assert caught.value.code == "unsupported_language"
    assert "base" in caught.value.message
    assert "tiny.en' cannot" in caught.value.message
    with pytest.raises(InvalidRequest) as task:
        catalog.check("tiny.en", "auto", "translate")
    assert task.value.code == "unsupported_task"
    with pytest.raises(InvalidRequest) as unknown:
        catalog.check("large-v9", "auto", "transcribe")
    assert unknown.value.code == "unknown_model"
    assert catalog.check("base", "es", "translate").name == "base"
    assert catalog.check(None, "en", "transcribe").name == "tiny.en"


def test_operator_models_are_registered_by_name(tmp_path: Path) -> None:
    folder = assemble_base(tmp_path / "elsewhere")
    catalog = ModelCatalog(base_settings(tmp_path, MEDIAJOBS_WHISPER_MODELS={"mine": str(folder)}))
    mine = catalog.get("mine")
    assert mine.multilingual
    assert not mine.builtin
    assert mine.size == BASE_SIZE
    assert catalog.folder("mine") == folder
    assert [m.name for m in catalog.models()] == ["base", "mine", "tiny.en"]


def test_a_job_stored_with_language_null_reads_as_auto() -> None:
    assert TranscribeOptions.model_validate({"language": None}).language == "auto"
