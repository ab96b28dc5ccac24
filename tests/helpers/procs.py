"""Looking at live processes through /proc, to prove that a stopped stage left no subprocess behind."""

from __future__ import annotations

import os
import select
from pathlib import Path


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


def children(name: str, parent: int | None = None) -> list[int]:
    """Live (non-zombie) child processes of `parent` (default: this process) called `name`."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is not None and info[0] == name and info[2] == parent and info[1] != "Z":
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie no longer runs)."""
    info = _stat(pid)
    return info is not None and info[1] != "Z"


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit; True when it did.

    A pidfd becomes readable when the process exits, so this waits on the event itself (no polling).
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_running(pid):
            return True
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) or not is_running(pid)
    finally:
        os.close(fd)


def descendants_running(root: int, marker: str) -> list[int]:
    """Live processes below `root` whose command line contains `marker`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None and info[1] != "Z":
                parents[int(entry.name)] = info[2]
    found = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor != root and ancestor > 1:
            ancestor = parents.get(ancestor)
        if ancestor != root:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            continue
        if marker in cmdline:
            found.append(pid)
    return found
