"""The Gateway-Signature header: t, then one v1 per secret over "<t>.<raw body>"."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared_kernel.application.webhook_signature import signature_header

pytestmark = pytest.mark.unit

BODY = b'{"id": "e1",\n "type":"payment.succeeded"}'


def test_the_key_is_the_utf8_of_the_whole_secret_and_the_body_is_signed_byte_for_byte() -> None:
    """v1 = HMAC-SHA256(b"whsec_...", b"1764151200." + body), body untouched."""
    secret = "whsec_café-key"
    expected = hmac.new(secret.encode("utf-8"), b"1764151200." + BODY, hashlib.sha256).hexdigest()

    assert f"t=1764151200,v1={expected}" == signature_header([secret], 1764151200, BODY)


def test_a_reserialised_body_does_not_match() -> None:
    """Signing the same JSON with other spacing gives another signature."""
    compact = b'{"id":"e1","type":"payment.succeeded"}'

    assert signature_header(["whsec_a"], 1, BODY) != signature_header(["whsec_a"], 1, compact)


def test_no_secret_is_refused() -> None:
    """A delivery is never sent unsigned."""
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header([], 1, BODY)
