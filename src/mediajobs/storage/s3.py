"""Storage in an S3-compatible object store (AWS S3, MinIO, Ceph, Garage...), with boto3.

One object per key, under an optional key prefix in one bucket. Writes stream: the first
`part_size` bytes (at least 5 MiB, S3's smallest part) are held in memory; a smaller object is one
PUT, a larger one a multipart upload completed on commit, so an object is whole or absent and a
dropped writer leaves nothing visible (its parts are aborted). Reads are ranged: `open` returns a
seekable stream that fetches only the bytes read (HTTP Range), so a chunk of long media costs its
own bytes, not the whole file's. `local_copy` downloads to a scratch folder for tools that need a
path. Artifact downloads are presigned URLs (the API redirects) or proxied through the API.

Errors: a store that cannot be reached (connection refused or reset, timeouts, HTTP 5xx, SlowDown)
raises StorageUnavailable, which the runner retries; a missing object raises ObjectMissing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mediajobs.errors import ConfigurationError, StorageUnavailable

from .base import Download, ObjectInfo, ObjectMissing, StoredObject, check_key, check_prefix

if TYPE_CHECKING:
    from mediajobs.settings import Settings

MIN_PART = 5 * 1024 * 1024  # S3's smallest part (all but the last)
READ_BLOCK = 256 * 1024  # what a small read of `open` fetches at once
DOWNLOAD_CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
_TRANSIENT = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "RequestTimeTooSkewed"}


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    """botocore's errors as ours: ObjectMissing, StorageUnavailable; the rest unchanged."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _MISSING or status == 404:
            raise ObjectMissing(f"no stored object {key!r}") from None
        if code in _TRANSIENT or status >= 500:
            raise StorageUnavailable(f"object store error on {key!r}: {code} ({status})") from exc
        raise
    except BotoCoreError as exc:  # connection refused, reset, timeouts, a truncated body
        raise StorageUnavailable(f"object store unreachable ({key!r}): {exc}") from exc
    except OSError as exc:  # a socket error surfacing from a streamed body
        raise StorageUnavailable(f"object store connection lost ({key!r}): {exc}") from exc


class S3Storage:
    """Storage port over an S3 bucket (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        prefix: str = "",
        part_size: int = 8 * 1024 * 1024,
        download_mode: Literal["presigned", "proxy"] = "presigned",
        presign_seconds: int = 3600,
        scratch: Path | None = None,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"S3 parts are at least {MIN_PART} bytes, not {part_size}")
        self.client = client
        self.bucket = bucket
        self.prefix = check_prefix(prefix)
        self.part_size = part_size
        self.download_mode = download_mode
        self.presign_seconds = presign_seconds
        self.scratch = scratch

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def write(self, key: str, chunks: Iterable[bytes]) -> StoredObject:
        writer = self.writer(key)
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()  # a no-op after the commit

    def writer(self, key: str) -> _S3Writer:
        return _S3Writer(self, key, self._name(key))

    def put_file(self, key: str, path: Path) -> StoredObject:
        writer = self.writer(key)
        try:
            with path.open("rb") as fh:
                while piece := fh.read(self.part_size):
                    writer.write(piece)
            stored = writer.commit()
        finally:
            writer.abort()
        path.unlink(missing_ok=True)
        return StoredObject(key=key, size=stored.size)

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        size = self.stat(key).size
        with _RangedReader(self, key, size) as stream:
            yield cast(BinaryIO, stream)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        name = self._name(key)
        if self.scratch is not None:
            self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="mediajobs-copy-", dir=self.scratch))
        try:
            path = folder / key.rsplit("/", 1)[-1]
            with _translated(key), path.open("wb") as out:
                body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
                for piece in body.iter_chunks(DOWNLOAD_CHUNK):
                    out.write(piece)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def stat(self, key: str) -> ObjectInfo:
        with _translated(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        return ObjectInfo(key=key, size=int(head["ContentLength"]))

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes from `start` (fewer at the end of the object): one ranged GET."""
        if length <= 0:
            return b""
        with _translated(key):
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._name(key), Range=f"bytes={start}-{start + length - 1}"
            )
            data: bytes = response["Body"].read()
        return data

    def list(self, prefix: str) -> list[ObjectInfo]:
        check_prefix(prefix)
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(prefix or "/"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(self.prefix) :]
                    found.append(ObjectInfo(key=key, size=int(item["Size"])))
        return sorted(found, key=lambda o: o.key)

    def check_ready(self) -> None:
        """The bucket answers a HEAD with these credentials."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise StorageUnavailable(f"bucket {self.bucket!r}: {code}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"object store unreachable: {exc}") from exc

    def delete(self, key: str) -> bool:
        try:
            self.stat(key)  # S3 deletes quietly whether or not the object was there
        except ObjectMissing:
            return False
        with _translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        return True

    def delete_prefix(self, prefix: str) -> int:
        if not check_prefix(prefix):
            raise ValueError("refusing to delete everything: give a prefix")
        keys = [self.prefix + o.key for o in self.list(prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            with _translated(prefix):
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def download(self, key: str, *, content_type: str | None = None, filename: str | None = None) -> Download:
        size = self.stat(key).size
        name = self._name(key)
        if self.download_mode == "presigned":
            params = {"Bucket": self.bucket, "Key": name}
            if content_type is not None:  # the object store answers with these headers (signed in)
                params["ResponseContentType"] = content_type
            if filename is not None:
                params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
            url = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=self.presign_seconds
            )
            return Download(size=size, url=str(url))

        def chunks() -> Iterator[bytes]:
            with _translated(key):
                body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
                yield from body.iter_chunks(DOWNLOAD_CHUNK)

        return Download(size=size, chunks=chunks)


class _RangedReader(io.RawIOBase):
    """A seekable read-only stream over one object. A read the last fetched block does not hold is
    one ranged GET of what it asks, at least READ_BLOCK (so a parser's small reads of a header
    cost one request); a large read is fetched whole in one request."""

    def __init__(self, storage: S3Storage, key: str, size: int) -> None:
        super().__init__()
        self._storage = storage
        self._key = key
        self._size = size
        self._pos = 0
        self._block_start = 0
        self._block = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        length = min(len(view), max(0, self._size - self._pos))
        if length == 0:
            return 0
        offset = self._pos - self._block_start
        if not (offset >= 0 and offset + length <= len(self._block)):
            fetch = min(max(length, READ_BLOCK), self._size - self._pos)
            self._block = self._storage.read_range(self._key, self._pos, fetch)
            self._block_start, offset = self._pos, 0
            length = min(length, len(self._block))
        view[:length] = self._block[offset : offset + length]
        self._pos += length
        return length


class _S3Writer:
    """Bytes held until a part is full; a multipart upload from the first full part; one PUT when
    the whole object fits in a part. Nothing is visible under the key before `commit`."""

    def __init__(self, storage: S3Storage, key: str, name: str) -> None:
        self._storage = storage
        self._key = key
        self._name = name
        self._digest = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload: dict[str, str | None] = {"id": None}  # shared with the finalizer
        self._closed = False
        self._discard = weakref.finalize(
            self, _abort_upload, storage.client, storage.bucket, name, self._upload
        )

    def write(self, chunk: bytes) -> None:
        self._check_open()
        self._buffer += chunk
        self._digest.update(chunk)
        self._size += len(chunk)
        while len(self._buffer) >= self._storage.part_size:
            part = bytes(self._buffer[: self._storage.part_size])
            del self._buffer[: self._storage.part_size]
            self._send_part(part)

    def _send_part(self, data: bytes) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        with _translated(self._key):
            if self._upload["id"] is None:
                started = client.create_multipart_upload(Bucket=bucket, Key=self._name)
                self._upload["id"] = str(started["UploadId"])
            number = len(self._parts) + 1
            sent = client.upload_part(
                Bucket=bucket, Key=self._name, UploadId=self._upload["id"], PartNumber=number, Body=data
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def commit(self) -> StoredObject:
        self._check_open()
        client, bucket = self._storage.client, self._storage.bucket
        try:
            if self._upload["id"] is None:
                with _translated(self._key):
                    client.put_object(Bucket=bucket, Key=self._name, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part(bytes(self._buffer))
                with _translated(self._key):
                    client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=self._name,
                        UploadId=self._upload["id"],
                        MultipartUpload={"Parts": self._parts},
                    )
                self._upload["id"] = None  # completed: nothing to abort
        finally:
            self.abort()
        return StoredObject(key=self._key, size=self._size, sha256=self._digest.hexdigest())

    def abort(self) -> None:
        self._closed = True
        self._buffer = bytearray()
        self._discard()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the writer of {self._key!r} is closed")


def _abort_upload(client: Any, bucket: str, name: str, upload: dict[str, str | None]) -> None:
    """Drop the parts of an unfinished multipart upload (best effort: a bucket lifecycle rule
    `AbortIncompleteMultipartUpload` catches what this misses, see docs/storage.md)."""
    upload_id, upload["id"] = upload["id"], None
    if upload_id is not None:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload_id)


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client from the MEDIAJOBS_S3_* settings (credentials: the settings, else boto3's
    own chain: AWS_* variables, a profile, an instance or pod role)."""
    config = Config(
        region_name=settings.s3_region,
        signature_version="s3v4",
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=config,
    )


def s3_storage(settings: Settings) -> S3Storage:
    """`s3`: a bucket (MEDIAJOBS_S3_BUCKET) every API and worker host reaches."""
    if not settings.s3_bucket:
        raise ConfigurationError("MEDIAJOBS_STORAGE_BACKEND=s3 needs MEDIAJOBS_S3_BUCKET")
    return S3Storage(
        s3_client(settings),
        settings.s3_bucket,
        prefix=settings.s3_prefix,
        part_size=settings.s3_part_size,
        download_mode=settings.s3_download_mode,
        presign_seconds=settings.s3_presign_seconds,
        scratch=settings.work_dir,
    )


__all__ = ["MIN_PART", "S3Storage", "s3_client", "s3_storage"]
