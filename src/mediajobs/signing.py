"""Signing outbound HTTP the Standard Webhooks way (https://www.standardwebhooks.com/).

A message is signed with the user's secret `whsec_<base64 key>`:

    webhook-id:        a unique id of the message (the same on every retry of it)
    webhook-timestamp: seconds since the epoch when it was sent
    webhook-signature: v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>

A receiver recomputes the HMAC over the raw body it got and refuses a timestamp far from its clock
(replays). During a rotation of the secret a message carries two signatures, space-separated, one per
secret (the new one first), so a receiver that still knows only the old secret keeps verifying. The
publish stage of the video pipeline signs with it, and so do webhooks (hooks/webhooks.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix of every secret, not a secret)
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
TOLERANCE_SECONDS = 300  # how far a receiver lets a timestamp stray from its own clock
ROTATION_WINDOW = timedelta(hours=24)
"""After a rotation, messages are signed with the previous secret too, for this long: time to give the
receivers the new one without refusing a message meanwhile."""


class SignatureError(ValueError):
    """Raised by `verify` when a message's headers are missing, stale or do not match its body."""


def new_secret() -> str:
    """A fresh secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret holds (the prefix is optional, as the spec's libraries allow)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is `whsec_` and base64") from exc


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of `body`: `v1,<base64 HMAC-SHA256>`."""
    return sign_stream(secret, message_id, timestamp, [body])


def sign_stream(secret: str | Sequence[str], message_id: str, timestamp: int, chunks: Iterable[bytes]) -> str:
    """`sign` of a body given in pieces (a video too large to hold in memory), read once; with several
    secrets, one signature each, space-separated, in their order."""
    keys = [secret_key(s) for s in ([secret] if isinstance(secret, str) else secret)]
    if not keys:
        raise ValueError("signing needs at least one secret")
    prefix = message_id.encode() + b"." + str(timestamp).encode() + b"."
    macs = [hmac.new(key, prefix, hashlib.sha256) for key in keys]
    for chunk in chunks:
        for mac in macs:
            mac.update(chunk)
    return " ".join("v1," + base64.b64encode(mac.digest()).decode("ascii") for mac in macs)


def signed_headers(
    secret: str | Sequence[str],
    body: bytes,
    *,
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three headers of a signed message (a fresh id and the current time unless given); with
    several secrets, `webhook-signature` holds one signature each."""
    message_id = message_id or new_message_id()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_stream(secret, message_id, timestamp, [body]),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """What a receiver does: SignatureError unless one `v1` signature of the (space-separated) list
    matches and the timestamp is within `tolerance` seconds of `now`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id")
    raw_timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not raw_timestamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(f"webhook-timestamp {raw_timestamp[:40]!r} is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is too far from now")
    expected = sign(secret, message_id, timestamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise SignatureError("no signature matches")


__all__ = [
    "ROTATION_WINDOW",
    "SECRET_PREFIX",
    "SignatureError",
    "new_message_id",
    "new_secret",
    "secret_key",
    "sign",
    "sign_stream",
    "signed_headers",
    "verify",
]
