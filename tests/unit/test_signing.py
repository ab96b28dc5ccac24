"""Standard Webhooks signatures, against the spec's own test vector."""

from __future__ import annotations

import pytest

from mediajobs.signing import (
    SignatureError,
    new_secret,
    secret_key,
    sign,
    sign_stream,
    signed_headers,
    verify,
)

# The vector of the standard-webhooks reference libraries (their test_sign_function).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_spec_vector() -> None:
    assert sign(SECRET, MESSAGE_ID, TIMESTAMP, BODY) == EXPECTED
    assert sign(SECRET.removeprefix("whsec_"), MESSAGE_ID, TIMESTAMP, BODY) == EXPECTED


def test_headers_verify_and_a_changed_body_does_not() -> None:
    headers = signed_headers(SECRET, BODY, message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    assert headers == {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": EXPECTED,
    }
    verify(SECRET, headers, BODY, now=TIMESTAMP + 10)
    with pytest.raises(SignatureError, match="no signature"):
        verify(SECRET, headers, BODY + b" ", now=TIMESTAMP)
    with pytest.raises(SignatureError, match="too far"):
        verify(SECRET, headers, BODY, now=TIMESTAMP + 301)
    several = {**headers, "webhook-signature": f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {EXPECTED}"}
    verify(SECRET, several, BODY, now=TIMESTAMP)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, {"webhook-id": MESSAGE_ID}, BODY, now=TIMESTAMP)


def test_new_secrets_are_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert first != second
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_not base64!")


def test_a_body_in_pieces_signs_as_the_whole() -> None:
    from mediajobs.signing import sign_stream

    assert sign_stream(SECRET, MESSAGE_ID, TIMESTAMP, [BODY[:5], b"", BODY[5:]]) == EXPECTED


def test_during_a_rotation_one_signature_per_secret_in_one_pass_over_the_body() -> None:
    other = new_secret()
    chunks = iter([BODY[:5], BODY[5:]])  # read once
    signatures = sign_stream([other, SECRET], MESSAGE_ID, TIMESTAMP, chunks)
    assert signatures == f"{sign(other, MESSAGE_ID, TIMESTAMP, BODY)} {EXPECTED}"
    headers = signed_headers([other, SECRET], BODY, message_id=MESSAGE_ID, timestamp=TIMESTAMP)
    for secret in (other, SECRET):
        verify(secret, headers, BODY, now=TIMESTAMP)
    with pytest.raises(ValueError, match="at least one secret"):
        sign_stream([], MESSAGE_ID, TIMESTAMP, [BODY])
