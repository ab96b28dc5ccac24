"""A download reaches only the address that was checked (no private host, no DNS rebinding), and
reads only what it asked for (no content coding: a compressed bomb is never inflated)."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import socket
import ssl
import subprocess
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.http_server import Route, serve
from helpers.processes import FileServer
from helpers.settings import make_settings
from mediajobs.errors import ForbiddenSource, PermanentError, RetryableError
from mediajobs.registry import build_registry
from mediajobs.stages import StageContext
from mediajobs.stages.ingest import ingest
from mediajobs.storage import LocalStorage, Workspace

WAV = b"RIFF" + b"\0" * 4096
PUBLIC_IP = "93.184.216.34"  # never contacted: the test's socket layer refuses every non-loopback address


def _ctx(tmp_path: Path, source: str, *, allow_private: bool, **overrides: object) -> StageContext:
    settings = make_settings(tmp_path, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=allow_private, **overrides)
    job_id = uuid.uuid4()
    return StageContext(
        job_id=job_id, stage="ingest", attempt=1, source=source, options={}, inputs={},
        work_dir=Workspace(tmp_path / "work").fresh(job_id, "ingest"),
        storage=LocalStorage(tmp_path / "storage"), settings=settings,
        engines=build_registry(settings).engines(),
    )  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "talk.wav").write_bytes(WAV)
    return folder


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the process opens; only loopback ones are let through."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append((str(address[0]), int(address[1])))
        if not str(address[0]).startswith("127."):
            raise ConnectionRefusedError(f"test network: {address[0]} is not reachable")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


def _dns(monkeypatch: pytest.MonkeyPatch, answers: list[list[str]]) -> list[str]:
    """A resolver that gives the next answer on each query (a rebinding DNS server)."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    monkeypatch.setattr("mediajobs.netguard.resolve_host", resolve)
    return asked


def test_a_loopback_source_is_refused_before_any_request(tmp_path: Path, served: Path) -> None:
    with FileServer(served) as server:
        with pytest.raises(ForbiddenSource) as caught:
            ingest(_ctx(tmp_path, f"{server.url}/talk.wav", allow_private=False))
        assert server.hits["/talk.wav"] == 0
    assert caught.value.code == "forbidden_source"


@pytest.mark.parametrize(
    "host", ["[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[::ffff:127.0.0.1]", "2130706433"]
)
def test_ipv6_and_legacy_forms_of_loopback_are_refused(
    tmp_path: Path, host: str, connects: list[tuple[str, int]]
) -> None:
    with pytest.raises(ForbiddenSource):
        ingest(_ctx(tmp_path, f"http://{host}:9/talk.wav", allow_private=False))
    assert connects == []


def test_a_rebinding_name_cannot_reach_the_private_address(
    tmp_path: Path, served: Path, monkeypatch: pytest.MonkeyPatch, connects: list[tuple[str, int]]
) -> None:
    """Public when checked, loopback when connected: the download connects to the checked address."""
    asked = _dns(monkeypatch, [[PUBLIC_IP], ["127.0.0.1"]])
    with FileServer(served) as server:
        port = server.server.server_address[1]
        with pytest.raises(RetryableError, match="download failed"):
            ingest(_ctx(tmp_path, f"http://rebind.test:{port}/talk.wav", allow_private=False))
        assert server.hits["/talk.wav"] == 0
    assert asked == ["rebind.test"]  # resolved once
    assert connects == [(PUBLIC_IP, port)]  # and connected to what was checked


def test_a_name_resolving_to_a_private_address_is_refused(
    tmp_path: Path, served: Path, monkeypatch: pytest.MonkeyPatch, connects: list[tuple[str, int]]
) -> None:
    _dns(monkeypatch, [["64:ff9b::7f00:1"]])
    with pytest.raises(ForbiddenSource, match="non-public"):
        ingest(_ctx(tmp_path, "http://nat64.test:8000/talk.wav", allow_private=False))
    assert connects == []


class _HostRecorder(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(WAV)))
        self.end_headers()
        self.wfile.write(WAV)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_the_pinned_connection_keeps_the_host_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dns(monkeypatch, [["127.0.0.1"]])
    _HostRecorder.hosts = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = ingest(_ctx(tmp_path, f"http://media.test:{port}/talk.wav", allow_private=True))
    finally:
        server.shutdown()
        server.server_close()
    assert result.output["size"] == len(WAV)
    assert _HostRecorder.hosts == [f"media.test:{port}"]


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS listener on 127.0.0.1 that records the SNI name of each handshake."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=media.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        # the client does not trust the test certificate: fine, the SNI was seen
        with conn, tls, contextlib.suppress(ssl.SSLError, OSError):
            tls.do_handshake()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], names
    listener.close()
    thread.join(5)


def test_the_pinned_connection_sends_the_host_name_as_tls_sni(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls_server: tuple[int, list[str | None]]
) -> None:
    port, names = tls_server
    _dns(monkeypatch, [["127.0.0.1"]])
    with pytest.raises(RetryableError, match="download failed"):  # certificate not trusted
        ingest(_ctx(tmp_path, f"https://media.test:{port}/talk.wav", allow_private=True))
    assert names == ["media.test"]


BOMB_INFLATED = 64 * 1024 * 1024  # the test's bomb: 64 MiB of zeros, gzipped twice (the issue's: gigabytes)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip.compress(gzip.compress(b"\0" * BOMB_INFLATED, compresslevel=9), compresslevel=9)


@pytest.mark.parametrize("coding", ["gzip, gzip", "gzip", "deflate", "identity, br"])
def test_a_compressed_body_is_refused_without_inflating_it(
    tmp_path: Path, gzip_bomb: bytes, coding: str
) -> None:
    """We ask for identity; a server that answers with any content coding gets a permanent failure
    and nothing is decoded: httpx inflates a whole layer at once, so a few kB would be gigabytes."""
    routes = {
        "/bomb.wav": Route(
            headers=(("Content-Type", "audio/wav"), ("Content-Encoding", coding)), body=gzip_bomb
        )
    }
    with serve(routes) as base:
        ctx = _ctx(tmp_path, f"{base}/bomb.wav", allow_private=True, MEDIAJOBS_DOWNLOAD_MAX_BYTES=1024 * 1024)
        tracemalloc.start()
        try:
            with pytest.raises(PermanentError) as caught:
                ingest(ctx)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    print(
        f"{len(gzip_bomb)} bytes sent as {coding!r}: refused, peak Python allocations {peak / 2**20:.1f} MiB"
    )
    assert caught.value.code == "unsupported_encoding", caught.value
    assert coding in caught.value.message
    assert peak < 8 * 1024 * 1024
    assert [p for p in ctx.work_dir.iterdir()] == []


def test_identity_coding_is_downloaded_as_sent(tmp_path: Path) -> None:
    routes = {
        "/talk.wav": Route(
            headers=(("Content-Type", "audio/wav"), ("Content-Encoding", "identity")), body=WAV
        )
    }
    with serve(routes) as base:
        result = ingest(_ctx(tmp_path, f"{base}/talk.wav", allow_private=True))
    assert result.output["size"] == len(WAV)
