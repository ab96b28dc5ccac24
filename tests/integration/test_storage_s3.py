"""The S3 storage backend (storage/s3.py) on a real S3 server (moto's server mode on 127.0.0.1).

It passes the shared storage suite of tests/unit/test_storage.py (every test there that takes the
`storage` fixture runs here again against S3), and beyond it: large objects go up as multipart
uploads in parts of the configured size, reads are ranged (a chunk of long audio fetches its own
bytes, not the file's), presigned and proxied downloads, a key prefix, and an unreachable store
raising StorageUnavailable (retryable) rather than a driver error.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.processes import free_port
from helpers.s3_server import S3Server
from mediajobs.errors import RetryableError, StorageUnavailable
from mediajobs.registry import build_registry
from mediajobs.stages.chunk import cut_wav
from mediajobs.storage import ObjectMissing, Storage, read_bytes
from mediajobs.storage.s3 import MIN_PART, S3Storage


def _contract() -> dict[str, Any]:
    """The shared suite's tests that take a `storage` (loaded from tests/unit/test_storage.py)."""
    path = Path(__file__).resolve().parent.parent / "unit" / "test_storage.py"
    spec = importlib.util.spec_from_file_location("storage_contract", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: fn
        for name, fn in vars(module).items()
        if name.startswith("test_") and "storage" in inspect.signature(fn).parameters
    }


globals().update(_contract())


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def storage(s3: S3Server, tmp_path: Path) -> Storage:
    """The shared suite's backend, here: S3 on a bucket of this test's own."""
    return s3.storage(tmp_path)


@pytest.fixture
def requests_seen(storage: S3Storage) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every S3 call the backend makes, with its parameters (botocore's event hooks)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params))

    storage.client.meta.events.register("before-parameter-build.s3", record)
    yield seen
    storage.client.meta.events.unregister("before-parameter-build.s3", record)


def _fetched(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [str(params.get("Range")) for name, params in seen if name == "GetObject"]


def test_a_large_object_goes_up_in_parts_of_the_configured_size(
    storage: S3Storage, requests_seen: list[tuple[str, dict[str, Any]]]
) -> None:
    part = storage.part_size
    assert part >= MIN_PART
    data = bytes(range(256)) * (part * 2 // 256 + 1000)  # two full parts and a small last one
    writer = storage.writer("uploads/u/big.bin")
    for start in range(0, len(data), 300_000):  # an upload arriving in small pieces
        writer.write(data[start : start + 300_000])
    assert storage.list("uploads/") == []  # parts uploaded, nothing visible yet
    stored = writer.commit()
    assert stored.size == len(data)
    parts = [len(params["Body"].getbuffer()) for name, params in requests_seen if name == "UploadPart"]
    assert parts == [part, part, len(data) - 2 * part]
    assert [name for name, _ in requests_seen].count("PutObject") == 0
    assert read_bytes(storage, "uploads/u/big.bin") == data


def test_an_aborted_multipart_upload_leaves_no_parts(storage: S3Storage) -> None:
    writer = storage.writer("uploads/u/dropped.bin")
    writer.write(b"\x01" * (MIN_PART + 10))  # a part already sent
    writer.abort()
    assert storage.list("uploads/") == []
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket)
    assert uploads.get("Uploads", []) == []


def test_a_seek_and_read_fetches_only_that_range(
    storage: S3Storage, requests_seen: list[tuple[str, dict[str, Any]]]
) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB
    storage.write("jobs/a/blob", [data])
    requests_seen.clear()
    with storage.open("jobs/a/blob") as stream:
        stream.seek(5_000_000)
        assert stream.read(1_000_000) == data[5_000_000:6_000_000]
        stream.seek(-10, io.SEEK_END)
        assert stream.read() == data[-10:]
    assert _fetched(requests_seen) == ["bytes=5000000-5999999", f"bytes={len(data) - 10}-{len(data) - 1}"]


def test_a_chunk_of_long_audio_reads_only_its_bytes(
    storage: S3Storage, requests_seen: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    """stages/chunk.py cuts its part from `normalize`'s WAV through `open`: the header and its own
    frames are fetched, never the whole file (before, it took a `local_copy` of all of it)."""
    rate, seconds = 16000, 120
    source = io.BytesIO()
    with wave.open(source, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(range(256)) * (rate * 2 * seconds // 256))
    whole = source.getvalue()
    storage.write("jobs/a/stages/normalize/f1/audio.wav", [whole])
    requests_seen.clear()
    with storage.open("jobs/a/stages/normalize/f1/audio.wav") as audio:
        length = cut_wav(audio, tmp_path / "chunk.wav", 60.0, 70.0)
    assert length == 10.0
    fetched = sum(
        int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in _fetched(requests_seen)
    )
    assert fetched < 10 * rate * 2 + 2 * 256 * 1024  # its 10 s (320 kB) and a header block, of 3.8 MB
    with wave.open(str(tmp_path / "chunk.wav"), "rb") as cut:
        assert cut.getnframes() == 10 * rate
        assert cut.readframes(cut.getnframes()) == whole[44 + 60 * rate * 2 : 44 + 70 * rate * 2]


def test_downloads_are_presigned_urls_or_proxied_bytes(s3: S3Server, tmp_path: Path) -> None:
    presigned = s3.storage(tmp_path)
    presigned.write("jobs/a/artifacts/v1/t.txt", [b"hello"])
    download = presigned.download("jobs/a/artifacts/v1/t.txt", content_type="text/plain", filename="t.txt")
    assert download.url is not None
    assert download.chunks is None
    response = httpx.get(download.url)
    assert response.status_code == 200
    assert response.content == b"hello"
    assert response.headers["content-type"] == "text/plain"  # what the API would have sent
    assert response.headers["content-disposition"] == 'attachment; filename="t.txt"'

    proxied = s3.storage(tmp_path, download_mode="proxy")
    proxied.write("jobs/a/artifacts/v1/t.txt", [b"hello" * 100_000])
    download = proxied.download("jobs/a/artifacts/v1/t.txt")
    assert download.url is None
    assert download.chunks is not None
    assert download.size == 500_000
    assert b"".join(download.chunks()) == b"hello" * 100_000


def test_a_prefix_keeps_the_keys_under_it(s3: S3Server, tmp_path: Path) -> None:
    storage = s3.storage(tmp_path, prefix="team-a/media/")
    storage.write("uploads/u/a.wav", [b"x"])
    raw = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["team-a/media/uploads/u/a.wav"]
    assert [o.key for o in storage.list("uploads/")] == ["uploads/u/a.wav"]
    assert storage.delete_prefix("uploads/") == 1


def test_an_unreachable_store_is_storage_unavailable_which_is_retryable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = S3Server(tmp_path / "unused.log").settings(
        tmp_path,
        "mj-nowhere",
        MEDIAJOBS_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        MEDIAJOBS_S3_CONNECT_TIMEOUT=1,
    )
    storage = build_registry(settings).storage()  # the registry's `s3` backend, from the settings
    assert isinstance(storage, S3Storage)
    for call in (
        lambda: storage.write("k/x", [b"x"]),
        lambda: storage.stat("k/x"),
        lambda: storage.list("k/"),
    ):
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert isinstance(caught.value, RetryableError)
    with pytest.raises(StorageUnavailable), storage.local_copy("k/x"):
        pass
    with pytest.raises(StorageUnavailable, match="unreachable"):
        storage.check_ready()  # /readyz says so


def test_a_missing_bucket_is_not_ready(s3: S3Server, tmp_path: Path) -> None:
    storage = s3.storage(tmp_path)
    storage.check_ready()
    storage.client.delete_bucket(Bucket=storage.bucket)
    with pytest.raises(StorageUnavailable, match=storage.bucket):
        storage.check_ready()


def test_a_missing_bucket_object_is_object_missing_not_unavailable(storage: S3Storage) -> None:
    with pytest.raises(ObjectMissing), storage.open("no/such"):
        pass
