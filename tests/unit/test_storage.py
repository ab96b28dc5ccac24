"""The storage port's contract, one suite for every backend (local disk, memory here; S3 runs every
test of it that takes `storage` against a moto server in tests/integration/test_storage_s3.py).

A backend passes when it stores and returns bytes exactly, is atomic for readers (a failed write
leaves nothing), lists by prefix, hands tools a local file, deletes, and refuses keys that could
escape (`..`, absolute paths, empty segments).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediajobs.errors import StorageUnavailable
from mediajobs.storage import (
    InMemoryStorage,
    LocalStorage,
    ObjectMissing,
    Storage,
    Workspace,
    artifact_key,
    read_bytes,
    safe_filename,
    stage_key,
    upload_key,
)

BACKENDS: dict[str, Callable[[Path], Storage]] = {
    "local": lambda root: LocalStorage(root / "storage"),
    "memory": lambda root: InMemoryStorage(),
}


@pytest.fixture(params=sorted(BACKENDS))
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return BACKENDS[request.param](tmp_path)


def test_write_then_read_returns_the_same_bytes_with_size_and_hash(storage: Storage) -> None:
    data = b"\x00\x01 some bytes \xff" * 1000
    stored = storage.write("jobs/a/stages/x/f1/blob.bin", [data[:10], data[10:]])
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert read_bytes(storage, "jobs/a/stages/x/f1/blob.bin") == data
    assert storage.stat("jobs/a/stages/x/f1/blob.bin").size == len(data)


def test_a_write_replaces_the_object(storage: Storage) -> None:
    storage.write("k/one", [b"first"])
    storage.write("k/one", [b"second, longer"])
    assert read_bytes(storage, "k/one") == b"second, longer"


def test_a_failed_write_stores_nothing_and_keeps_the_old_object(storage: Storage) -> None:
    storage.write("k/kept", [b"old"])

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("the client went away")

    with pytest.raises(OSError, match="went away"):
        storage.write("k/new", broken())
    with pytest.raises(OSError, match="went away"):
        storage.write("k/kept", broken())
    assert [o.key for o in storage.list("k/")] == ["k/kept"]
    assert read_bytes(storage, "k/kept") == b"old"


def test_a_writer_stores_its_pieces_only_on_commit(storage: Storage, tmp_path: Path) -> None:
    writer = storage.writer("uploads/u2/talk.wav")
    writer.write(b"RIFF")
    writer.write(b"\0" * 1000)
    assert storage.list("uploads/") == []  # nothing under the key before the commit
    stored = writer.commit()
    assert stored.size == 1004
    assert stored.sha256 == hashlib.sha256(b"RIFF" + b"\0" * 1000).hexdigest()
    assert read_bytes(storage, "uploads/u2/talk.wav") == b"RIFF" + b"\0" * 1000
    writer.abort()  # after the commit: nothing to drop
    assert storage.stat("uploads/u2/talk.wav").size == 1004


def test_an_aborted_writer_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    writer = storage.writer("uploads/u3/talk.wav")
    writer.write(b"partial")
    writer.abort()
    writer.abort()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    assert storage.list("uploads/") == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no temp file either


def test_put_file_takes_a_working_file(storage: Storage, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    made = work / "audio.wav"
    made.write_bytes(b"RIFF....WAVE")
    stored = storage.put_file("jobs/a/stages/normalize/f1/audio.wav", made)
    assert stored.size == 12
    assert read_bytes(storage, "jobs/a/stages/normalize/f1/audio.wav") == b"RIFF....WAVE"
    assert not made.exists()  # handed over: the caller no longer has it


def test_local_copy_is_a_readable_file_with_the_bytes(storage: Storage) -> None:
    storage.write("uploads/u1/talk.mp3", [b"ID3 fake"])
    with storage.local_copy("uploads/u1/talk.mp3") as path:
        assert path.is_file()
        assert path.read_bytes() == b"ID3 fake"
        assert path.name == "talk.mp3"  # tools may go by the extension


def test_open_is_seekable_and_reads_a_range(storage: Storage) -> None:
    data = bytes(range(256)) * 400
    storage.write("jobs/a/stages/normalize/f1/audio.wav", [data])
    with storage.open("jobs/a/stages/normalize/f1/audio.wav") as stream:
        assert stream.seekable()
        stream.seek(50_000)
        assert stream.read(1000) == data[50_000:51_000]
        assert stream.tell() == 51_000
        assert stream.read(4) == data[51_000:51_004]
        stream.seek(-6, 2)
        assert stream.read(100) == data[-6:]
        assert stream.read(1) == b""


def test_missing_objects_raise_object_missing(storage: Storage) -> None:
    for call in (
        lambda: read_bytes(storage, "no/such"),
        lambda: storage.stat("no/such"),
        lambda: storage.download("no/such"),
    ):
        with pytest.raises(ObjectMissing):
            call()
    with pytest.raises(ObjectMissing), storage.local_copy("no/such"):
        pass
    assert storage.delete("no/such") is False


def test_list_is_by_prefix_sorted_and_never_shows_partial_writes(storage: Storage) -> None:
    for key in ("jobs/b/x", "jobs/a/y", "jobs/a/z/deep", "jobsx/a", "uploads/1/f"):
        storage.write(key, [key.encode()])
    assert [o.key for o in storage.list("jobs/a/")] == ["jobs/a/y", "jobs/a/z/deep"]
    assert [o.key for o in storage.list("jobs/")] == ["jobs/a/y", "jobs/a/z/deep", "jobs/b/x"]
    assert [o.size for o in storage.list("uploads/")] == [len(b"uploads/1/f")]
    assert storage.list("nothing/") == []


def test_delete_and_delete_prefix(storage: Storage) -> None:
    for key in ("jobs/a/1", "jobs/a/2/3", "jobs/b/1"):
        storage.write(key, [b"x"])
    assert storage.delete("jobs/b/1") is True
    assert storage.delete_prefix("jobs/a/") == 2
    assert storage.list("jobs/") == []
    with pytest.raises(ValueError, match="everything"):
        storage.delete_prefix("")


def test_download_streams_the_object_or_gives_a_url(storage: Storage) -> None:
    storage.write("jobs/a/artifacts/v1/transcript.txt", [b"hello\n" * 1000])
    download = storage.download("jobs/a/artifacts/v1/transcript.txt")
    assert download.size == 6000
    if download.url is None:
        assert download.chunks is not None
        assert b"".join(download.chunks()) == b"hello\n" * 1000


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../outside", "jobs/../../x", "jobs//x", "jobs/./x", "jobs/x/", "a b", "jobs/\x00"],
)
def test_keys_that_could_escape_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="bad storage key"):
        storage.write(key, [b"x"])


def test_a_working_store_is_ready(storage: Storage) -> None:
    storage.check_ready()  # what /readyz asks of every backend


def test_local_storage_whose_folder_went_away_is_not_ready(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.check_ready()
    shutil.rmtree(tmp_path / "store")  # a lost mount
    with pytest.raises(StorageUnavailable, match="missing or not writable"):
        storage.check_ready()


def test_the_key_layout() -> None:
    import uuid

    job, upload = uuid.UUID(int=1), uuid.UUID(int=2)
    assert upload_key(upload, "My Talk (1).mp3") == f"uploads/{upload}/My_Talk_1_.mp3"
    assert stage_key(job, "part[3]", 7, "audio.wav") == f"jobs/{job}/stages/part_3_/f7/audio.wav"
    assert artifact_key(job, "../transcript.srt", version=2) == f"jobs/{job}/artifacts/v2/transcript.srt"
    assert safe_filename("...") == "file"


def test_local_storage_keeps_files_under_its_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    storage.write("uploads/u/a.wav", [b"x"])
    assert (tmp_path / "root" / "uploads" / "u" / "a.wav").read_bytes() == b"x"
    storage.delete("uploads/u/a.wav")
    assert not (tmp_path / "root" / "uploads").exists()  # empty folders are pruned


def test_a_workspace_folder_is_fresh_for_each_attempt(tmp_path: Path) -> None:
    import uuid

    workspace = Workspace(tmp_path / "work")
    job = uuid.uuid4()
    first = workspace.fresh(job, "normalize")
    (first / ".audio.part").write_bytes(b"left by a killed attempt")
    again = workspace.fresh(job, "normalize")
    assert again == first
    assert list(again.iterdir()) == []
    workspace.clear(job, "normalize")
    assert not (tmp_path / "work" / str(job)).exists()


def test_each_attempt_of_a_stage_has_its_own_workspace_folder(tmp_path: Path) -> None:
    """A stage handed back by a stopping worker may still write while the next attempt starts (on the
    same host): their folders differ, and clearing one leaves the other."""
    import uuid

    workspace = Workspace(tmp_path / "work")
    job = uuid.uuid4()
    handed_back = workspace.fresh(job, "transcribe", 1)
    (handed_back / "half.json").write_bytes(b"{")
    taken_over = workspace.fresh(job, "transcribe", 2)
    assert taken_over != handed_back
    assert (handed_back / "half.json").exists()
    workspace.clear(job, "transcribe", 1)
    assert taken_over.is_dir()
    workspace.clear(job, "transcribe", 2)
    assert not (tmp_path / "work" / str(job)).exists()
