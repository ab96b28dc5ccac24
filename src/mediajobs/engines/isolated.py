"""A speech-to-text engine that runs in a child process, so that it can be stopped at once.

CTranslate2 decodes inside C++ calls that Python cannot interrupt; a cancel or a time limit would wait
for the current 30-second window. Here the worker only waits on a pipe, checks its stop condition every
0.1 s, and kills the engine process when it must stop (the next request starts a fresh one). The model
is loaded once per engine process, which lives as long as its worker process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from mediajobs.errors import PermanentError, RetryableError

from .speech import SegmentCallback, StopCheck, TranscribeRequest, Transcript
from .wire import request_to_json, segment_from_json, transcript_from_json

log = logging.getLogger(__name__)

_POLL = 0.1


class _DiedIdle(Exception):
    """The engine process ended before answering a request: it died while idle."""


class IsolatedSpeechToText:
    """SpeechToText over `python -m mediajobs.engines.serve` (JSON lines on stdin/stdout)."""

    def __init__(
        self, engine_args: Sequence[str], *, name: str = "faster-whisper", start_timeout: float = 120.0
    ) -> None:
        self.name = name
        self._args = list(engine_args)
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def transcribe(
        self,
        request: TranscribeRequest,
        on_segment: SegmentCallback | None = None,
        check: StopCheck | None = None,
    ) -> Transcript:
        with self._lock:
            try:
                return self._request(request, on_segment, check)
            except _DiedIdle:
                # the engine died between requests (killed, out of memory): start a fresh one, once
                self._kill()
                try:
                    return self._request(request, on_segment, check)
                except _DiedIdle as exc:
                    raise RetryableError(str(exc), code="engine_crashed") from None
            except (PermanentError, RetryableError) as exc:
                if exc.code == "engine_crashed":
                    self._kill()
                raise
            except BaseException:  # cancelled, timed out, interrupted: the engine must stop now
                self._kill()
                raise

    def _request(
        self, request: TranscribeRequest, on_segment: SegmentCallback | None, check: StopCheck | None
    ) -> Transcript:
        proc = self._ensure_started(check)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request_to_json(request)) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise _DiedIdle("the speech-to-text engine process was gone") from None
        answered = False
        while True:
            try:
                message = self._next(check)
            except RetryableError as exc:
                if not answered and exc.code == "engine_crashed":
                    raise _DiedIdle(exc.message) from None
                raise
            answered = True
            kind = message.get("type")
            if kind == "segment" and on_segment is not None:
                on_segment(segment_from_json(message["segment"]))
            elif kind == "done":
                return transcript_from_json(message["transcript"])
            elif kind == "error":
                cls = RetryableError if message.get("retryable") else PermanentError
                raise cls(str(message["message"]), code=str(message["code"]))

    def close(self) -> None:
        with self._lock:
            self._kill()

    # -- process management ------------------------------------------------------------------

    def _ensure_started(self, check: StopCheck | None) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()  # reap a dead predecessor and close its pipes
        self._lines = queue.Queue()
        argv = [sys.executable, "-m", "mediajobs.engines.serve", *self._args, "--parent", str(os.getpid())]
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(
            target=self._pump, args=(self._proc, self._lines), daemon=True, name="stt-engine-reader"
        ).start()
        deadline = time.monotonic() + self._start_timeout
        message = self._next(check, deadline=deadline)
        if message.get("type") == "fatal":
            self._kill()
            raise PermanentError(str(message["message"]), code=str(message["code"]))
        if message.get("type") != "ready":
            self._kill()
            raise RetryableError(
                f"unexpected first message from the engine: {message}", code="engine_crashed"
            )
        log.info("speech-to-text engine process %d ready", self._proc.pid)
        return self._proc

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _next(self, check: StopCheck | None, *, deadline: float | None = None) -> dict[str, Any]:
        while True:
            try:
                line = self._lines.get(timeout=_POLL)
            except queue.Empty:
                if check is not None:
                    check()
                if deadline is not None and time.monotonic() > deadline:
                    raise RetryableError(
                        "the speech-to-text engine did not start in time", code="engine_crashed"
                    ) from None
                continue
            if line is None:
                code = self._proc.wait() if self._proc is not None else None
                raise RetryableError(
                    f"the speech-to-text engine process exited (code {code})", code="engine_crashed"
                )
            message: dict[str, Any] = json.loads(line)
            return message

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("engine process %d did not exit after SIGKILL", proc.pid)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
