"""The API process as `mediajobs api` starts it (uvicorn with our options, embedded database and
broker), against what only a real server shows: request heads without end, and its own log lines."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from helpers.processes import free_port, http_ready, wait_for, wait_serving
from helpers.raw_http import read_response
from helpers.settings import make_settings
from mediajobs.launch import migrate_database, settings_env

MiB = 1024 * 1024


@dataclass(frozen=True)
class ApiProcess:
    proc: subprocess.Popen[bytes]
    base: str
    port: int
    log: Path

    def rss(self, field: str = "VmRSS") -> int:
        """Bytes of the process's resident memory now (`VmHWM`: at its peak so far)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    tmp_path = tmp_path_factory.mktemp("api")
    settings = make_settings(tmp_path, CELERY_LOG_LEVEL="info")
    migrate_database(settings)
    port, log = free_port(), tmp_path / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "api", "--port", str(port)],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_serving(proc, lambda: http_ready(f"{base}/readyz"), timeout=60, log=log)
        yield ApiProcess(proc=proc, base=base, port=port, log=log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _send_endless_head(sockets: list[socket.socket], total: int) -> list[int]:
    """A request head with one header line of up to `total` bytes, on every socket in turn, 64 KiB at
    a time; stops on a socket when the server closes it. How much each socket got through."""
    piece = b"a" * 65536
    sent = [0] * len(sockets)
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
    open_ = set(range(len(sockets)))
    while open_:
        for index in sorted(open_):
            try:
                sockets[index].sendall(piece)
                sent[index] += len(piece)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):  # closed, or no longer read
                open_.discard(index)
                continue
            if sent[index] >= total:
                open_.discard(index)
    return sent


def test_endless_request_heads_are_cut_and_cost_no_memory(api: ApiProcess) -> None:
    """Four unauthenticated sockets each sending a header line of 16 MiB: each is refused once it
    passes the limit (64 KiB), and the server's memory stays where it was."""
    before = api.rss()
    peak_before = api.rss("VmHWM")
    sockets = [socket.create_connection(("127.0.0.1", api.port), timeout=10) for _ in range(4)]
    try:
        sent = _send_endless_head(sockets, 16 * MiB)
        during, peak = api.rss(), api.rss("VmHWM")  # the sockets are still open on our side
        print(
            f"sent {[s // 1024 for s in sent]} KiB; RSS {before / MiB:.0f} -> {during / MiB:.0f} MiB", end=""
        )
        print(f", peak {peak_before / MiB:.0f} -> {peak / MiB:.0f} MiB")
        responses = [read_response(sock, timeout=10) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    growth, peak_growth = during - before, peak - peak_before
    assert all(r.status == 400 or r.closed for r in responses), responses
    assert growth < 16 * MiB, growth
    assert peak_growth < 16 * MiB, peak_growth
    assert http_ready(f"{api.base}/healthz")


def test_an_api_key_in_the_query_never_reaches_the_log(api: ApiProcess) -> None:
    """`?access_token=` (EventSource and WebSocket clients): uvicorn logs each request line, and the
    record the server writes for it carries `***` instead of the key."""
    secret = "mj_" + "s3cret" * 8
    job = uuid.uuid4()
    events = f"/api/v1/jobs/{job}/events"
    assert httpx.get(f"{api.base}{events}?access_token={secret}&last_event_id=1").status_code == 401
    assert httpx.get(f"{api.base}{events}?x=1&access%5Ftoken={secret}").status_code == 401
    with ws_connect(f"ws://127.0.0.1:{api.port}/api/v1/jobs/{job}/ws?access_token={secret}") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4401

    def logged() -> str | None:
        text = api.log.read_text(errors="replace")
        return text if text.count(str(job)) >= 3 else None

    text = str(wait_for(logged, timeout=10, message="three log lines of the job's routes"))
    lines = [line for line in text.splitlines() if str(job) in line]
    print("\n".join(lines))
    assert secret not in text
    assert f"{events}?access_token=***&last_event_id=1" in text
    assert f"{events}?x=1&access%5Ftoken=***" in text
    assert f"/api/v1/jobs/{job}/ws?access_token=***" in text
