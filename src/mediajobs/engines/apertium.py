"""Machine translation with Apertium (rule-based, offline, Debian packages `apertium-<pair>`): the
translation port's implementation (translation.py).

The installed pairs are discovered once per process (`apertium -l`). Where no direct pair exists, the
shortest chain of installed pairs is used (English -> Portuguese goes eng-spa then es-pt), and the
route is reported. All cues go through the engine in one call per hop: each line of each cue becomes
one `<div id=...>` of an HTML document (Apertium's HTML format keeps tags as block boundaries, so no
text moves from one cue to another), and the answer is split back by those ids.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from mediajobs.cancel import CancelToken
from mediajobs.errors import InvalidRequest, PermanentError

from .translation import Hop

# Apertium names languages with ISO 639-3 or 639-1 codes; the API speaks 639-1 where one exists.
_ISO3 = {
    "eng": "en", "spa": "es", "cat": "ca", "fra": "fr", "por": "pt", "glg": "gl", "ron": "ro", "ita": "it",
    "deu": "de", "nld": "nl", "afr": "af", "oci": "oc", "eus": "eu", "epo": "eo", "arg": "an", "ast": "ast",
    "srd": "sc", "dan": "da", "nor": "no", "nob": "nb", "nno": "nn", "swe": "sv", "isl": "is", "bel": "be",
    "rus": "ru", "ukr": "uk", "bul": "bg", "mkd": "mk", "slv": "sl", "hbs": "sh", "ind": "id", "zlm": "ms",
}  # fmt: skip
_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_DIV = re.compile(r'<div id="c(\d+)">(.*?)</div>', re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _code(name: str) -> str:
    return _ISO3.get(name, name)


def discover_pairs() -> dict[tuple[str, str], str]:
    """{(source, target): mode} of the installed Apertium pairs (variant modes such as `_valencia`
    and non-translation modes are left out); empty when Apertium is not installed."""
    if shutil.which("apertium") is None:
        return {}
    try:
        listing = subprocess.run(["apertium", "-l"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    pairs: dict[tuple[str, str], str] = {}
    for line in listing.stdout.split():
        match = _MODE.match(line.strip())
        if match:
            pairs.setdefault((_code(match.group(1)), _code(match.group(2))), line.strip())
    return pairs


class Translator:
    """The installed pairs of this machine and the routes between their languages."""

    def __init__(self, pairs: dict[tuple[str, str], str]) -> None:
        self.pairs = dict(pairs)

    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({code for pair in self.pairs for code in pair}))

    def describe_pairs(self) -> str:
        return ", ".join(f"{s}->{t}" for s, t in sorted(self.pairs)) or "none (no Apertium pair is installed)"

    def route(self, source: str, target: str) -> tuple[Hop, ...]:
        """The shortest chain of installed pairs from `source` to `target` (fewest hops, then the
        first in name order); InvalidRequest `unsupported_language_pair` naming the pairs there are."""
        source, target = _base(source), _base(target)
        if source == target:
            raise InvalidRequest(
                f"source and target language are both {source!r}", code="unsupported_language_pair"
            )
        previous: dict[str, tuple[str, str] | None] = {source: None}
        queue = deque([source])
        while queue:
            here = queue.popleft()
            if here == target:
                break
            for pair in sorted(self.pairs):
                if pair[0] == here and pair[1] not in previous:
                    previous[pair[1]] = pair
                    queue.append(pair[1])
        if target not in previous:
            raise InvalidRequest(
                f"cannot translate {source!r} to {target!r}; installed pairs: {self.describe_pairs()} "
                "(pairs are chained where they meet)",
                code="unsupported_language_pair",
            )
        hops: list[Hop] = []
        step = previous[target]
        while step is not None:
            hops.append(Hop(source=step[0], target=step[1], mode=self.pairs[step]))
            step = previous[step[0]]
        return tuple(reversed(hops))

    def reachable(self) -> dict[str, list[str]]:
        """{source: [targets reachable directly or by chaining]} for every installed language."""
        out: dict[str, list[str]] = {}
        for source in self.languages():
            targets = []
            for target in self.languages():
                if target == source:
                    continue
                try:
                    self.route(source, target)
                except InvalidRequest:
                    continue
                targets.append(target)
            if targets:
                out[source] = targets
        return out


def _base(code: str) -> str:
    return code.split("-", 1)[0].lower()


def encode(lines: Sequence[str]) -> str:
    """One HTML document holding each line as its own block."""
    return "".join(f'<div id="c{i}">{html.escape(line, quote=False)}</div>\n' for i, line in enumerate(lines))


def decode(document: str, count: int) -> list[str]:
    """The translated lines of an `encode`d document, in order; PermanentError if any went missing."""
    found: dict[int, str] = {}
    for match in _DIV.finditer(document):
        found[int(match.group(1))] = " ".join(html.unescape(_TAG.sub("", match.group(2))).split())
    if sorted(found) != list(range(count)):
        raise PermanentError(
            f"the translation engine returned {len(found)} of {count} lines", code="translation_failed"
        )
    return [found[i] for i in range(count)]


def argv(hop: Hop, infile: str, outfile: str) -> list[str]:
    """The Apertium command of one hop (`-u`: no marks on unknown words)."""
    return ["apertium", "-u", "-f", "html", hop.mode, infile, outfile]


HOP_TIMEOUT_SECONDS = 600.0


class Apertium:
    """The translation engine: routes over the installed pairs, one Apertium run per hop."""

    name = "apertium"

    def __init__(self, pairs: Translator | None = None, *, memory_limit: int = 0) -> None:
        self._pairs = pairs
        self.memory_limit = memory_limit  # bytes of address space of each hop's run (0: none)

    @property
    def pairs(self) -> Translator:
        return self._pairs if self._pairs is not None else installed_translator()

    def route(self, source: str, target: str) -> tuple[Hop, ...]:
        return self.pairs.route(source, target)

    def translate(self, lines: Sequence[str], hop: Hop, *, work_dir: Path, cancel: CancelToken) -> list[str]:
        from mediajobs.process import bare_env, run_process

        infile = work_dir / f"{hop.mode}.in.html"
        outfile = work_dir / f"{hop.mode}.out.html"
        infile.write_text(encode(lines), encoding="utf-8")
        # Like ffmpeg: in the work folder, nothing of the worker's environment, an address-space cap.
        result = run_process(
            argv(hop, str(infile), str(outfile)),
            cancel=cancel,
            timeout=HOP_TIMEOUT_SECONDS,
            cwd=work_dir,
            env=bare_env(locale="C.UTF-8"),
            memory_limit=self.memory_limit,
        )
        if not result.ok or not outfile.is_file():
            raise PermanentError(
                f"apertium {hop.mode} failed (exit {result.returncode}): {result.stderr_tail[-500:]}",
                code="translation_failed",
            )
        return decode(outfile.read_text(encoding="utf-8"), len(lines))


_translator: Translator | None = None
_lock = threading.Lock()


def installed_translator() -> Translator:
    """The pairs of this machine, discovered on first use and kept for the process's life."""
    global _translator
    with _lock:
        if _translator is None:
            _translator = Translator(discover_pairs())
        return _translator


__all__ = ["Apertium", "Translator", "argv", "decode", "discover_pairs", "encode", "installed_translator"]
