"""An S3-compatible object store of a test's own: moto in server mode, on a free port."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from helpers.processes import free_port, wait_for
from helpers.settings import make_settings
from mediajobs.settings import Settings
from mediajobs.storage.s3 import S3Storage, s3_client

ACCESS_KEY = "testing"
SECRET_KEY = "testing-secret"


class S3Server:
    """`moto_server` bound to `host`; `bucket()` makes an empty bucket of a test's own."""

    def __init__(self, log: Path, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> S3Server:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(self._serves, timeout=30, message=f"moto server up (log {self.log})")
        return self

    def _serves(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {self.log.read_text(errors='replace')[-2000:]}")
        try:
            return httpx.get(f"{self.url}/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def settings_values(self, bucket: str, **overrides: object) -> dict[str, object]:
        """The MEDIAJOBS_* settings of the `s3` backend on `bucket` of this server."""
        values: dict[str, object] = {
            "MEDIAJOBS_STORAGE_BACKEND": "s3",
            "MEDIAJOBS_S3_ENDPOINT_URL": self.url,
            "MEDIAJOBS_S3_BUCKET": bucket,
            "MEDIAJOBS_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MEDIAJOBS_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        values.update(overrides)
        return values

    def bucket(self, tmp_path: Path) -> str:
        """A new empty bucket; its name."""
        name = f"mj-{uuid.uuid4().hex[:12]}"
        self.client(tmp_path).create_bucket(Bucket=name)
        return name

    def client(self, tmp_path: Path) -> Any:
        """One boto3 client per server (making one loads S3's service model: most of a second)."""
        if self._client is None:
            self._client = s3_client(self.settings(tmp_path, "unused"))
        return self._client

    def settings(self, tmp_path: Path, bucket: str, **overrides: object) -> Settings:
        return make_settings(tmp_path, **self.settings_values(bucket, **overrides))

    def storage(self, tmp_path: Path, **kwargs: Any) -> S3Storage:
        bucket = self.bucket(tmp_path)
        return S3Storage(self.client(tmp_path), bucket, scratch=tmp_path / "scratch", **kwargs)
