"""The text engines run like ffmpeg (issue 23, finding 7): espeak-ng, flite and apertium get a bare
environment (none of the worker's database or broker credentials), the work folder as their cwd and
an address-space cap; and the user's text never puts espeak-ng in phoneme mode (`[[ ... ]]`, on
which espeak-ng 1.51 crashes with memory corruption)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from mediajobs.cancel import CancelToken
from mediajobs.engines.apertium import Apertium, Translator
from mediajobs.engines.espeak import EspeakNg, speakable
from mediajobs.engines.flite import Flite
from mediajobs.engines.translation import Hop

LIMIT = 768 * 1024**2
SECRET = "postgresql://mediajobs:hunter2@db/mediajobs"

# Stands in for each engine: records what it was given (environment, cwd, address-space cap) in
# ./probe-<name> (relative: it lands in the cwd), then writes the output the engine would.
_PROBE = r"""#!/bin/bash
i=0  # the cap is set on the process right after it starts: look until it is there (bounded)
while [ "$(ulimit -v)" = unlimited ] && [ $i -lt 20000 ]; do i=$((i+1)); done
{ env; echo "ulimit_v=$(ulimit -v)"; } > "./probe-$(basename "$0")"
case "$(basename "$0")" in
  espeak-ng) while [ $# -gt 0 ]; do [ "$1" = -w ] && : > "$2"; shift; done ;;
  flite) while [ $# -gt 0 ]; do [ "$1" = -o ] && : > "$2"; shift; done ;;
  apertium) cp "$5" "$6" ;;
esac
"""


@pytest.fixture
def shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("espeak-ng", "flite", "apertium"):
        path = folder / name
        path.write_text(_PROBE)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setenv("MEDIAJOBS_DATABASE_URL", SECRET)
    monkeypatch.setenv("MEDIAJOBS_BROKER_URL", "redis://:hunter2@redis:6379/0")
    return folder


def _probe(folder: Path, name: str) -> dict[str, str]:
    lines = (folder / f"probe-{name}").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_text_engines_run_bare_in_the_work_folder_under_a_memory_cap(shims: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    token = CancelToken()
    EspeakNg(memory_limit=LIMIT).speak("hello", work / "a.wav", voice="en", rate=170, pitch=50, cancel=token)
    Flite(memory_limit=LIMIT).speak("hello", work / "b.wav", voice="slt", rate=170, pitch=50, cancel=token)
    hop = Hop(source="es", target="en", mode="spa-eng")
    engine = Apertium(Translator({("es", "en"): "spa-eng"}), memory_limit=LIMIT)
    assert engine.translate(["hola"], hop, work_dir=work, cancel=token) == ["hola"]

    for name in ("espeak-ng", "flite", "apertium"):
        seen = _probe(work, name)  # found in the work folder: it was the engine's cwd
        assert not any(key.startswith("MEDIAJOBS_") for key in seen), name
        assert SECRET not in (work / f"probe-{name}").read_text()
        assert seen["LC_ALL"] == "C.UTF-8"
        assert seen["ulimit_v"] == str(LIMIT // 1024), name


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_phoneme_brackets_in_the_text_do_not_reach_espeak(tmp_path: Path) -> None:
    """`[[` + 719 characters + `]]` made espeak-ng 1.51 segfault (the stage failed synthesis_failed)."""
    text = "[[" + "a" * 719 + "]]"
    wav = tmp_path / "speech.wav"
    EspeakNg(memory_limit=2 * 1024**3).speak(text, wav, voice="en", rate=170, pitch=50, cancel=CancelToken())
    assert wav.stat().st_size > 44
    for hostile in ("[[a]]", "[[[x]]]", "a[[b", "c]]d", "[ [ok] ]"):
        cleaned = speakable(hostile)
        assert "[[" not in cleaned
        assert "]]" not in cleaned
        assert cleaned.replace(" ", "") == hostile.replace(" ", "")  # only spaces added
