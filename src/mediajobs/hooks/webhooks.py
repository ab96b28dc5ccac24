"""Webhooks, the Standard Webhooks way (https://www.standardwebhooks.com/, docs/webhooks.md).

A job or batch submitted with a `callback_url` owes that URL one message when it ends. The delivery is
written in the transaction that ends it (`deliveries`, `batch_deliveries`), and a worker of the
`hooks` queue sends it (`deliver`): one JSON POST,

    webhook-id:        msg_...   the same on every attempt (and a manual redelivery)
    webhook-timestamp: seconds since the epoch of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> under the owner's
                       `whsec_` secret (two, space-separated, while a rotated secret's window lasts)

through the outbound HTTP port, so the address rules hold at every attempt (and no redirect is
followed: the spec counts a 3xx as a failure). What the answer means (`answer_for`):

    2xx                          delivered
    429, 5xx, timeout (15 s),    tried again on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    connection failure           10 h, each up to 20% later; at least the answer's Retry-After)
    410 Gone                     the endpoint is disabled for its owner: nothing more is sent there
    anything else (3xx, 4xx)     given up
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from mediajobs import __version__
from mediajobs.domain.deliveries import DeliveryOutcome
from mediajobs.domain.retry import RetrySchedule, parse_retry_after
from mediajobs.errors import ForbiddenSource
from mediajobs.signing import signed_headers

from .base import BatchFinished, JobFinished
from .durable import Answer, DurableHook, Outgoing, Owed

if TYPE_CHECKING:
    from mediajobs.engines.http import OutboundHttp

TIMEOUT_SECONDS = 15.0
"""How long a receiver has to connect, to take the body and to answer (each; the spec: 15 to 30 s)."""
EXCERPT_BYTES = 300
"""How much of a refusal's body is kept in its attempt's error, for whoever debugs the receiver."""


class Webhooks(DurableHook):
    """POSTs a job's (or a batch's) JSON to its `callback_url` when it ends."""

    name = "webhook"
    timeout_seconds = TIMEOUT_SECONDS

    def __init__(self, schedule: RetrySchedule | None = None) -> None:
        self.retry = schedule if schedule is not None else RetrySchedule()

    def deliveries(self, job: JobFinished) -> Sequence[Owed]:
        return (Owed(destination=job.callback_url),) if job.callback_url else ()

    def batch_deliveries(self, batch: BatchFinished) -> Sequence[Owed]:
        return (Owed(destination=batch.callback_url),) if batch.callback_url else ()

    def deliver(self, message: Outgoing, http: OutboundHttp) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"mediajobs/{__version__}",
            **signed_headers(message.secrets, message.body, message_id=message.message_id),
        }
        try:
            with (
                http.client(timeout=self.timeout_seconds, follow_redirects=False) as client,
                client.stream("POST", message.destination, content=message.body, headers=headers) as response,
            ):
                excerpt = b"" if response.is_success else _excerpt(response)
        except ForbiddenSource as exc:
            return Answer(outcome=DeliveryOutcome.FAILED, error=f"forbidden_callback: {exc}")
        except httpx.TimeoutException:
            return Answer(
                outcome=DeliveryOutcome.RETRY, error=f"no answer within {self.timeout_seconds:g} s (timeout)"
            )
        except httpx.TransportError as exc:  # refused, reset, unresolvable: maybe back later
            return Answer(outcome=DeliveryOutcome.RETRY, error=f"{type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:  # not a request we can make (a malformed URL)
            return Answer(outcome=DeliveryOutcome.FAILED, error=f"{type(exc).__name__}: {exc}")
        return answer_for(
            response.status_code,
            reason=response.reason_phrase,
            retry_after=response.headers.get("Retry-After"),
            location=response.headers.get("Location"),
            excerpt=excerpt,
        )


def answer_for(
    status: int,
    *,
    reason: str = "",
    retry_after: str | None = None,
    location: str | None = None,
    excerpt: bytes = b"",
) -> Answer:
    """What a receiver's HTTP answer means for the delivery."""
    if 200 <= status < 300:
        return Answer(outcome=DeliveryOutcome.DELIVERED, status=status)
    said = f"HTTP {status} {reason}".strip()
    if excerpt:
        said += f": {excerpt.decode('utf-8', 'replace').strip()[:EXCERPT_BYTES]}"
    if status == 410:
        return Answer(
            outcome=DeliveryOutcome.GONE,
            status=status,
            error=f"endpoint_disabled: the receiver answered {said}; nothing more is sent to it",
        )
    if status == 429 or status >= 500:
        return Answer(
            outcome=DeliveryOutcome.RETRY,
            status=status,
            error=f"the receiver answered {said}",
            retry_after=parse_retry_after(retry_after),
        )
    if 300 <= status < 400:
        where = f" to {location[:200]}" if location else ""
        return Answer(
            outcome=DeliveryOutcome.FAILED,
            status=status,
            error=f"the receiver answered {said}{where}: redirects are not followed, give the final URL",
        )
    return Answer(outcome=DeliveryOutcome.FAILED, status=status, error=f"the receiver answered {said}")


def _excerpt(response: httpx.Response) -> bytes:
    """The start of a refusal's body (the rest is not read)."""
    try:
        for chunk in response.iter_bytes(EXCERPT_BYTES):
            return chunk[:EXCERPT_BYTES]
    except httpx.HTTPError:
        pass
    return b""


__all__ = ["TIMEOUT_SECONDS", "Webhooks", "answer_for"]
