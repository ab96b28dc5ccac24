"""Every error mediajobs raises on purpose, under one root.

MediaJobsError                  root; carries a machine-readable `code` and a human message
├── ClientError                 the caller asked for something wrong (API maps to 4xx)
│   ├── InvalidRequest          malformed source, options or pipeline name          -> 422
│   ├── NotFound                no such job, upload or artifact (for this owner)    -> 404
│   ├── Conflict                the resource is in the wrong state for the request  -> 409
│   ├── PayloadTooLarge         an upload over the configured limit                 -> 413
│   ├── RequestTimeout          a request body that stopped arriving (idle timeout)  -> 408
│   ├── Unauthorized            no API key, or one that is malformed, unknown or revoked -> 401
│   ├── Forbidden               a valid key that may not do this (an admin-only route)  -> 403
│   └── TooManyRequests         over a quota or the submit rate limit (Retry-After)  -> 429
├── StageError                  raised inside a stage; decides retry versus fail
│   ├── RetryableError          transient: network, timeout, HTTP 429/5xx, lost connection
│   │   └── StorageUnavailable  the object store cannot be reached (also an Unavailable -> 503)
│   └── PermanentError          will fail again: bad media, HTTP 4xx, unsupported input
│       ├── UnsupportedMedia    the input is not audio/video ffmpeg can decode (`unsupported_media`)
│       ├── ForbiddenSource     a URL source (or a redirect) points at a non-public host
│       └── StageTimeout        the stage ran past its soft time limit (`timeout`)
├── JobCancelled                the job was cancelled while a stage ran; the stage stops
├── LeaseLost                   another runner took the stage over (fencing token moved on)
├── HandedBack                  the worker is stopping and the stage outran the drain's grace period
├── Unavailable                 a service mediajobs depends on cannot be reached now  -> 503
│   └── StoreUnavailable        the database: connection refused, lost or timed out
├── NotMigrated                 the database schema is not at the head revision       -> 503
├── ConfigurationError          the deployment's settings or plug-ins cannot be put together
└── ClientSideError             raised by `mediajobs.client` (see there): API errors, timeouts
"""

from __future__ import annotations


class MediaJobsError(Exception):
    """Root of all mediajobs errors."""

    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ClientError(MediaJobsError):
    """Raised when a request cannot be served because of what the caller sent."""

    code = "bad_request"


class InvalidRequest(ClientError):
    """Raised when a job's pipeline, source or options are not acceptable."""

    code = "invalid_request"


class NotFound(ClientError):
    """Raised when a job, upload or artifact does not exist or is not the caller's."""

    code = "not_found"


class Conflict(ClientError):
    """Raised when the target is in a state that forbids the request (result of a running job...)."""

    code = "conflict"


class PayloadTooLarge(ClientError):
    """Raised when an upload exceeds `MEDIAJOBS_UPLOAD_MAX_BYTES`."""

    code = "payload_too_large"


class RequestTimeout(ClientError):
    """Raised when a request body sends nothing for `MEDIAJOBS_BODY_IDLE_TIMEOUT_SECONDS`."""

    code = "body_timeout"


class Unauthorized(ClientError):
    """Raised when a request has no API key, or one that is malformed, unknown, revoked or disabled."""

    code = "unauthorized"


class Forbidden(ClientError):
    """Raised when the caller's key is valid but may not do this: an admin-only route for a user."""

    code = "forbidden"


class TooManyRequests(ClientError):
    """Raised when a user is over a monthly quota or the submit rate limit; says when to come back."""

    code = "too_many_requests"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = dict(headers or {})


class StageError(MediaJobsError):
    """Raised by a stage; its subclass tells the runner whether to try again."""

    code = "stage_error"


class RetryableError(StageError):
    """Raised when the failure is likely transient; `retry_after` honours a server's Retry-After."""

    code = "retryable_error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(StageError):
    """Raised when running the stage again cannot succeed; the job fails at once."""

    code = "permanent_error"


class UnsupportedMedia(PermanentError):
    """Raised when the input is not audio or video that ffmpeg can decode."""

    code = "unsupported_media"


class ForbiddenSource(PermanentError):
    """Raised when a URL source (or a redirect) points at a loopback, private or link-local host."""

    code = "forbidden_source"


class StageTimeout(PermanentError):
    """Raised when a stage runs past its soft time limit."""

    code = "timeout"


class JobCancelled(MediaJobsError):
    """Raised inside a running stage once its job's cancellation is recorded."""

    code = "cancelled"


class LeaseLost(MediaJobsError):
    """Raised when a runner's lease (fencing token) no longer matches: another runner owns the stage."""

    code = "lease_lost"


class HandedBack(MediaJobsError):
    """Raised inside a running stage when its worker stops and the drain's grace period
    (MEDIAJOBS_DRAIN_SECONDS) is over: the stage stops and is queued again for another worker."""

    code = "handed_back"


class Unavailable(MediaJobsError):
    """Raised when a service mediajobs depends on cannot be reached; the same call may work later."""

    code = "unavailable"
    retryable = True


class StoreUnavailable(Unavailable):
    """Raised by the store when the database cannot be reached (refused, lost, timed out).

    Nothing was committed by the failing call. Layers above the store catch this, never a driver's
    or SQLAlchemy's exceptions.
    """

    code = "database_unavailable"


class StorageUnavailable(RetryableError, Unavailable):
    """Raised by a remote storage backend (S3) when the object store cannot be reached: connection
    refused or lost, a timeout, HTTP 5xx or SlowDown. A stage that meets it is retried like any
    transient failure; an API request answers 503."""

    code = "storage_unavailable"


class ClientSideError(MediaJobsError):
    """Root of the errors `mediajobs.client` raises (it never raises this class itself)."""

    code = "client_error"


class NotMigrated(MediaJobsError):
    """Raised at start-up when the database is not migrated to the head revision."""

    code = "not_migrated"


class ConfigurationError(MediaJobsError):
    """Raised at start-up when the settings or plug-ins do not fit together (an unknown storage backend,
    a plug-in that cannot be imported, two pipelines of one name): the process refuses to start."""

    code = "configuration_error"


__all__ = [
    "ClientError",
    "ClientSideError",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "ForbiddenSource",
    "HandedBack",
    "InvalidRequest",
    "JobCancelled",
    "LeaseLost",
    "MediaJobsError",
    "NotFound",
    "NotMigrated",
    "PayloadTooLarge",
    "PermanentError",
    "RequestTimeout",
    "RetryableError",
    "StageError",
    "StageTimeout",
    "StorageUnavailable",
    "StoreUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMedia",
]
