"""`python -m mediajobs.engines.serve`: a speech-to-text engine in its own process.

Reads one JSON request per line on stdin, answers with JSON lines on stdout: `ready` once the model is
loaded, then per request any number of `segment` lines and one `done` or `error`. The worker that
started it can kill it at any moment (cancel, time limit); it exits by itself when that worker dies.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
from typing import Any, TextIO

from mediajobs.errors import MediaJobsError, RetryableError

from .whisper import WhisperModels
from .wire import request_from_json, segment_to_json, transcript_to_json


def _watch_parent(parent: int) -> None:
    """Exit when the worker that started us is gone (e.g. SIGKILLed): never decode for nobody."""
    while not threading.Event().wait(0.5):
        if os.getppid() != parent:
            os._exit(3)


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mediajobs.engines.serve")
    parser.add_argument("--model", default=None)
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--cpu-threads", type=int, default=0)
    parser.add_argument("--parent", type=int, default=os.getppid())
    parser.add_argument("--memory-limit", type=int, default=0, help="address space cap in bytes (0: none)")
    args = parser.parse_args(argv)
    if args.memory_limit > 0:
        # A file that decodes to more audio than fits fails this process's request, not the machine.
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit, args.memory_limit))

    # stdout is the protocol channel: anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    try:
        engine = WhisperModels(
            args.model, device=args.device, compute_type=args.compute_type, cpu_threads=args.cpu_threads
        )
        engine.load()  # the default model, so a broken install is reported before any request
    except MediaJobsError as exc:
        _send(out, {"type": "fatal", "code": exc.code, "message": exc.message})
        return 2
    _send(out, {"type": "ready", "name": engine.name})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = request_from_json(json.loads(line))
            transcript = engine.transcribe(
                request, on_segment=lambda s: _send(out, {"type": "segment", "segment": segment_to_json(s)})
            )
            _send(out, {"type": "done", "transcript": transcript_to_json(transcript)})
        except MemoryError:
            message = "the audio needs more memory than this engine may use (MEDIAJOBS_ENGINE_MEMORY_LIMIT)"
            code = "engine_out_of_memory"
            _send(out, {"type": "error", "code": code, "message": message, "retryable": False})
        except MediaJobsError as exc:
            retryable = isinstance(exc, RetryableError)
            _send(out, {"type": "error", "code": exc.code, "message": exc.message, "retryable": retryable})
        except Exception as exc:  # a decoding failure of this input; the process stays usable
            message = f"{type(exc).__name__}: {exc}"[:2000]
            _send(out, {"type": "error", "code": "engine_error", "message": message, "retryable": False})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
