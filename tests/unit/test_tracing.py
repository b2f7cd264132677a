"""The pure parts of tracing: the sampling decision of a trace header, the ids a request names."""

from __future__ import annotations

import json

import pytest

from shared_kernel.observability.tracing import ids_in_request, is_sampled

pytestmark = pytest.mark.unit

PAYMENT_ID = "3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a"
MERCHANT_ID = "6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("header", "sampled"),
    [
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", False),
        ("Root=1-5759e988-bd862e3fe1be46a994272793; Sampled=1; Lineage=a87bd80c:0", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_header_saying_sampled_1_is_sampled(header: str | None, sampled: bool) -> None:
    """Sampled=1 (anywhere in the header) traces; Sampled=0, no flag or no header does not."""
    assert sampled == is_sampled(header)


def test_the_ids_of_a_payments_item_are_read_and_nothing_else() -> None:
    """A PutItem names the payment and merchant; other attributes (the card) are not read."""
    item = {
        "payment_id": {"S": PAYMENT_ID},
        "merchant_id": {"S": MERCHANT_ID},
        "card_last4": {"S": "4242"},
        "sealed_card": {"B": b"..."},
    }
    assert {"payment_id": PAYMENT_ID, "merchant_id": MERCHANT_ID} == ids_in_request(
        {"TableName": "payments", "Item": item}
    )


def test_the_ids_of_a_key_and_of_a_queue_message_are_read() -> None:
    """A GetItem's key names the payment; a SendMessage's body both ids."""
    body = json.dumps({"payment_id": PAYMENT_ID, "merchant_id": MERCHANT_ID, "correlation_id": "c"})
    assert ({"payment_id": PAYMENT_ID}, {"payment_id": PAYMENT_ID, "merchant_id": MERCHANT_ID}) == (
        ids_in_request({"Key": {"payment_id": {"S": PAYMENT_ID}}}),
        ids_in_request({"QueueUrl": "q", "MessageBody": body}),
    )


@pytest.mark.parametrize(
    "params",
    [
        {"Key": {"pk": {"S": "key#ab12"}}},
        {"MessageBody": "not json"},
        {"MessageBody": json.dumps(["payment_id"])},
        {"Key": {"payment_id": {"N": "12"}}},
        {"SecretId": "gateway-local/bank-api-key"},
    ],
    ids=["merchants-key", "text-body", "list-body", "number-attribute", "secret"],
)
def test_a_request_naming_no_payment_gives_no_ids(params: dict[str, object]) -> None:
    """Other tables' keys, bodies that are not our message, non-string values: no ids."""
    assert {} == ids_in_request(params)
