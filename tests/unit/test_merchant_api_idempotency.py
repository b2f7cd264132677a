"""The merchant API's Idempotency-Key wire format: the header's rules, replay, 409 and 422."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_kernel import contracts
from shared_kernel.api.merchant import (
    http_errors,
    idempotency_key,
    payment_resource,
    submitted_response,
)
from shared_kernel.application.errors import IdempotencyInProgress, IdempotencyKeyReused
from shared_kernel.application.submit_once_per_key import Submitted
from shared_kernel.domain.errors import FieldError

from .builders import MERCHANT_ID, PAYMENT_ID, pending_payment
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit


def event_with(headers: dict[str, str]) -> dict[str, Any]:
    """A proxy event carrying only headers."""
    return {"headers": headers}


@pytest.mark.parametrize(
    "key", ["k", " order #1234 / attempt: 1 ~ ", "x" * 255, "".join(map(chr, range(32, 127)))]
)
def test_printable_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    """Any 1-255 characters from 0x20 to 0x7E is a key, read case-insensitively."""
    assert (key, []) == idempotency_key(event_with({"idempotency-key": key}))


def test_no_header_means_no_key() -> None:
    """The header is optional."""
    assert (None, []) == idempotency_key(event_with({"Content-Type": "application/json"}))


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "del\x7f"])
def test_other_keys_are_a_field_error_naming_the_header(key: str) -> None:
    """Empty, too long, non-ASCII or control characters: an error naming Idempotency-Key."""
    value, errors = idempotency_key(event_with({"Idempotency-Key": key}))

    assert None is value
    assert ["Idempotency-Key"] == [e.field for e in errors]
    assert all(isinstance(e, FieldError) for e in errors)


def test_replayed_answer_carries_the_first_answer_and_the_replay_header() -> None:
    """A replay: 201, the resource as accepted and its Location, plus
    `Idempotent-Replayed: true`."""
    payment = pending_payment(ReversibleCipher())

    response = submitted_response(Submitted(payment, replayed=True))

    assert (
        201,
        {
            "Content-Type": "application/json",
            "Location": f"/merchant/{MERCHANT_ID}/payment/{PAYMENT_ID}",
            "Idempotent-Replayed": "true",
        },
        payment_resource(payment),
    ) == (response["statusCode"], response["headers"], json.loads(response["body"]))


def test_fresh_answer_has_no_replay_header() -> None:
    """A fresh answer, with or without a key, does not say it was replayed."""
    response = submitted_response(Submitted(pending_payment(ReversibleCipher())))

    assert "Idempotent-Replayed" not in response["headers"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (IdempotencyInProgress("s"), 409, "idempotency_in_progress"),
        (IdempotencyKeyReused("s"), 422, "idempotency_key_reused"),
    ],
)
def test_idempotency_errors_map_to_their_status_and_code(
    error: Exception, status: int, code: str
) -> None:
    """In progress is 409, a reused key is 422, each with SPEC's error body."""

    @http_errors
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise error

    response = handler({}, None)

    body = json.loads(response["body"])
    contracts.assert_valid("error", body)
    assert (status, code) == (response["statusCode"], body["error"]["code"])
