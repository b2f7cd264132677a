"""Contract tests: the JSON Schemas in contracts/, the validator over them, the OpenAPI document."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from shared_kernel.contracts import (
    BASE_URI,
    ContractViolation,
    UnknownContract,
    assert_valid,
    load_schema,
    schema_names,
    validate,
)
from shared_kernel.domain.errors import FieldError

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
OPENAPI = CONTRACTS / "merchant-api.openapi.json"

PAYMENT_ID = "9f1c0c5e-3b7a-4e0f-8d2a-6c1b5e4f3a21"
MERCHANT_ID = "2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
CARD_NUMBER = "4242424242424242"
CVV = "123"

SUBMIT: dict[str, Any] = {
    "card_number": CARD_NUMBER,
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": CVV,
    "amount": 1050,
    "currency": "GBP",
    "reference": "order-1234",
}
PAYMENT: dict[str, Any] = {
    "id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "status": "pending",
    "decline_reason": None,
    "amount": 1050,
    "currency": "GBP",
    "capture_method": "automatic",
    "amount_captured": 0,
    "amount_refunded": 0,
    "amount_refundable": 0,
    "capture_before": None,
    "cancellation_reason": None,
    "card": {"last4": "4242", "brand": "visa", "expiry_month": 12, "expiry_year": 2030},
    "reference": "order-1234",
    "created_at": "2026-11-26T10:00:00Z",
    "updated_at": "2026-11-26T10:00:00Z",
}
BANK_UPDATE: dict[str, Any] = {
    "payment_request_id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "status": "PAID",
    "bank_reference": "bank_7c1e2a9b",
    "occurred_at": "2026-11-26T10:00:01Z",
}
BANK_REQUEST: dict[str, Any] = {
    "payment_request_id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "card_number": CARD_NUMBER,
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": CVV,
    "amount": 1050,
    "currency": "GBP",
}
QUEUE_MESSAGE: dict[str, Any] = {
    "payment_id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "correlation_id": "c0a8012e-7f3d-4b1a-9c2e-5d6f7a8b9c0d",
    "enqueued_at": "2026-11-26T10:00:00Z",
}

ACTION_ID = "5b2e7f10-8c4d-4a6b-9e1f-3d2c1b0a9f8e"
ACTION: dict[str, Any] = {
    "id": ACTION_ID,
    "payment_id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "type": "refund",
    "status": "pending",
    "amount": 500,
    "currency": "GBP",
    "reason": "requested_by_customer",
    "failure_reason": None,
    "created_at": "2026-11-27T09:00:00Z",
    "updated_at": "2026-11-27T09:00:00Z",
}
MONEY_FIELDS: dict[str, Any] = {
    "capture_method": "manual",
    "amount_captured": 800,
    "amount_refunded": 300,
    "amount_refundable": 200,
    "capture_before": None,
    "cancellation_reason": None,
}
BANK_ACTION_UPDATE: dict[str, Any] = {
    "payment_request_id": PAYMENT_ID,
    "merchant_id": MERCHANT_ID,
    "action_id": ACTION_ID,
    "type": "capture",
    "status": "SUCCEEDED",
    "occurred_at": "2026-11-27T09:00:01Z",
}
ACTION_CODES = (
    "payment_unexpected_state",
    "action_in_progress",
    "authorization_expired",
    "refund_limit_reached",
    "amount_too_large",
)

EXPECTED_CONTRACTS = (
    "action-list",
    "action-resource",
    "bank-action-accepted",
    "bank-action-status",
    "bank-action-update",
    "bank-callback-ack",
    "bank-capture-request",
    "bank-error",
    "bank-payment-accepted",
    "bank-payment-request",
    "bank-payment-status",
    "bank-payment-update",
    "bank-refund-request",
    "bank-void-request",
    "capture-request",
    "common",
    "delivery-attempt-list",
    "error",
    "event",
    "event-list",
    "payment-list",
    "payment-queue-message",
    "payment-resource",
    "refund-request",
    "resend-accepted",
    "resend-request",
    "rotate-secret-request",
    "submit-payment-request",
    "void-request",
    "webhook-endpoint",
    "webhook-endpoint-list",
    "webhook-endpoint-request",
    "webhook-endpoint-secret",
    "webhook-queue-message",
)


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` applied at the top level."""
    changed = copy.deepcopy(base)
    changed.update(changes)
    return changed


def without(base: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A deep copy of ``base`` without ``keys``."""
    return {key: copy.deepcopy(value) for key, value in base.items() if key not in keys}


def refs_in(node: Any) -> list[str]:
    """Every ``$ref`` value anywhere inside a JSON document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in refs_in(item)]
    return []


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The part of ``document`` at a JSON Pointer such as ``/$defs/uuid``; KeyError if absent."""
    node = document
    for token in pointer.lstrip("/").split("/") if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


# --- the schema files ----------------------------------------------------------------------


def test_contract_names_are_the_schema_files() -> None:
    """schema_names() lists every contracts/*.schema.json file by its name without suffix."""
    assert EXPECTED_CONTRACTS == schema_names()


@pytest.mark.parametrize("name", EXPECTED_CONTRACTS)
def test_every_contract_is_a_valid_draft_2020_12_schema(name: str) -> None:
    """Each contract passes the draft 2020-12 meta-schema and names itself by $id."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert "https://json-schema.org/draft/2020-12/schema" == schema["$schema"]
    assert f"{BASE_URI}{name}.schema.json" == schema["$id"]
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("name", EXPECTED_CONTRACTS)
def test_every_ref_resolves_to_a_contract_file(name: str) -> None:
    """Every $ref resolves, by $id, to a definition that exists in contracts/."""
    schema = load_schema(name)
    for ref in refs_in(schema):
        target = urljoin(schema["$id"], ref)
        document_uri, _, pointer = target.partition("#")
        assert document_uri.startswith(BASE_URI), ref
        target_name = document_uri.removeprefix(BASE_URI).removesuffix(".schema.json")
        resolve_pointer(load_schema(target_name), pointer)


@pytest.mark.parametrize("name", EXPECTED_CONTRACTS)
def test_every_schema_example_is_valid(name: str) -> None:
    """The examples a contract documents are valid against it."""
    for example in load_schema(name).get("examples", []):
        assert [] == validate(name, example)


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("submit-payment-request", SUBMIT),
        ("payment-resource", PAYMENT),
        (
            "error",
            {
                "error": {
                    "code": "validation_error",
                    "message": "The request is invalid.",
                    "details": [{"field": "card_number", "message": "must be 12 to 19 digits"}],
                }
            },
        ),
        ("error", {"error": {"code": "not_found", "message": "No such payment.", "details": []}}),
        ("payment-queue-message", QUEUE_MESSAGE),
        ("bank-payment-request", BANK_REQUEST),
        (
            "bank-payment-accepted",
            {"payment_request_id": PAYMENT_ID, "bank_reference": "b-1", "status": "PROCESSING"},
        ),
        (
            "bank-payment-status",
            {"payment_request_id": PAYMENT_ID, "bank_reference": "b-1", "status": "DECLINED"},
        ),
        (
            "bank-error",
            {"error": {"code": "invalid_request", "message": "Bad card.", "details": []}},
        ),
        ("bank-payment-update", BANK_UPDATE),
        ("bank-callback-ack", {"received": True}),
    ],
)
def test_spec_examples_are_valid(name: str, instance: object) -> None:
    """The messages SPEC sections 3 and 4 show are valid against their contracts."""
    assert [] == validate(name, instance)


# --- what the validator reports ------------------------------------------------------------


def test_every_failing_field_is_reported_at_once_sorted_by_field() -> None:
    """Missing, unexpected, wrongly typed and out-of-range fields all come back, sorted."""
    body = {
        "card_number": CARD_NUMBER,
        "expiry_month": 13,
        "expiry_year": "2030",
        "amount": 0,
        "currency": "GBP",
        "colour": "blue",
    }
    expected = [
        FieldError("amount", "must be an integer from 1 to 100000000 (minor units)"),
        FieldError("colour", "is not allowed"),
        FieldError("cvv", "is required"),
        FieldError("expiry_month", "must be an integer from 1 to 12"),
        FieldError("expiry_year", "must be a four-digit year"),
    ]
    assert expected == validate("submit-payment-request", body)


def test_an_empty_body_reports_every_required_field() -> None:
    """An empty object names each required property; reference is optional."""
    expected = [
        FieldError(field, "is required")
        for field in ("amount", "card_number", "currency", "cvv", "expiry_month", "expiry_year")
    ]
    assert expected == validate("submit-payment-request", {})


@pytest.mark.parametrize("body", [[], [SUBMIT], "text", 42, None, True])
def test_a_body_that_is_not_an_object_is_one_body_error(body: object) -> None:
    """A JSON array, string, number or null as the body is reported once, as field 'body'."""
    assert [FieldError("body", "must be a JSON object")] == validate("submit-payment-request", body)


def test_nested_errors_are_named_by_dotted_path() -> None:
    """A failing field inside card is named card.<field>, array items by index."""
    payment = with_changes(
        PAYMENT, card={"last4": "42", "brand": "visa", "expiry_month": 12, "expiry_year": 2030}
    )
    assert [FieldError("card.last4", "must be exactly 4 digits")] == validate(
        "payment-resource", payment
    )
    error = {"error": {"code": "not_found", "message": "x", "details": [{"field": "a"}]}}
    assert [FieldError("error.details[0].message", "is required")] == validate("error", error)


def test_a_field_failing_several_keywords_is_reported_once() -> None:
    """decline_reason breaking its enum and the status rule yields one, clearest, error."""
    payment = with_changes(PAYMENT, decline_reason="bad_luck")
    assert [FieldError("decline_reason", "must be null unless status is declined")] == validate(
        "payment-resource", payment
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expiry_month": 0}, "expiry_month"),
        ({"expiry_month": 13}, "expiry_month"),
        ({"expiry_year": 999}, "expiry_year"),
        ({"expiry_year": 10000}, "expiry_year"),
        ({"amount": 0}, "amount"),
        ({"amount": 100_000_001}, "amount"),
        ({"amount": 1050.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "1050"}, "amount"),
        ({"currency": "gbp"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"reference": ""}, "reference"),
        ({"reference": "r" * 65}, "reference"),
        ({"reference": 1234}, "reference"),
        ({"cvv": "12"}, "cvv"),
        ({"cvv": "12345"}, "cvv"),
        ({"cvv": 123}, "cvv"),
        ({"card_number": "42424242424"}, "card_number"),
        ({"card_number": "42424242424242424242"}, "card_number"),
        ({"card_number": "4242 4242 4242 4242"}, "card_number"),
    ],
)
def test_out_of_range_submit_fields_are_rejected(changes: dict[str, Any], field: str) -> None:
    """Each submit field's bounds and type are enforced by the contract."""
    assert [field] == [e.field for e in validate("submit-payment-request", {**SUBMIT, **changes})]


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 1},
        {"amount": 100_000_000},
        {"currency": "JPY"},
        {"reference": None},
        {"reference": "r" * 64},
        {"cvv": "1234"},
        {"expiry_month": 1, "expiry_year": 1000},
        {"card_number": "424242424242"},
        {"card_number": "4242424242424242424"},
    ],
)
def test_boundary_submit_fields_are_accepted(changes: dict[str, Any]) -> None:
    """The edges of every range are inside it."""
    assert [] == validate("submit-payment-request", {**SUBMIT, **changes})


def test_reference_may_be_left_out() -> None:
    """reference is optional."""
    assert [] == validate("submit-payment-request", without(SUBMIT, "reference"))


@pytest.mark.parametrize(
    "card_number",
    [f"{CARD_NUMBER}\n", "\u0664\u0662\u0664\u0662" * 4, "\uff14\uff12" * 8],
)
def test_card_number_is_ascii_digits_only(card_number: str) -> None:
    """A trailing newline or non-ASCII digits (Arabic-Indic, full-width) are not digits."""
    assert ["card_number"] == [
        e.field for e in validate("submit-payment-request", {**SUBMIT, "card_number": card_number})
    ]


# --- card data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("payment-resource", {**PAYMENT, "card_number": CARD_NUMBER}),
        ("payment-resource", {**PAYMENT, "cvv": CVV}),
        ("payment-resource", {**PAYMENT, "card": {**PAYMENT["card"], "number": CARD_NUMBER}}),
        ("payment-resource", {**PAYMENT, "card": {**PAYMENT["card"], "cvv": CVV}}),
        ("payment-list", {"data": [{**PAYMENT, "card_number": CARD_NUMBER}], "has_more": False}),
        ("payment-queue-message", {**QUEUE_MESSAGE, "card_number": CARD_NUMBER}),
    ],
)
def test_card_data_cannot_ride_along(name: str, instance: dict[str, Any]) -> None:
    """A payment resource or queue message carrying a card number or CVV is rejected."""
    errors = validate(name, instance)
    assert ["is not allowed"] == [e.message for e in errors]


@pytest.mark.parametrize(
    "changes",
    [
        {"card_number": f"{CARD_NUMBER}\n", "cvv": "12345"},
        {"card_number": "4242-4242-4242-4242", "cvv": "1a3"},
        {"card_number": f"{CARD_NUMBER}4242", "cvv": "98765"},
        {"card_number": int(CARD_NUMBER), "cvv": 98765},
        {"card_number": [CARD_NUMBER], "cvv": {"cvv": "98765"}},
    ],
)
def test_errors_never_echo_the_card_number_or_cvv(changes: dict[str, Any]) -> None:
    """No field name, message or exception text contains the submitted card number or CVV."""
    body = {**SUBMIT, **changes, CARD_NUMBER: "as a key"}
    with pytest.raises(ContractViolation) as caught:
        assert_valid("submit-payment-request", body)
    texts = [str(caught.value)] + [f"{e.field} {e.message}" for e in caught.value.details]
    secrets = (CARD_NUMBER, "4242-4242", "12345", "98765", "1a3")
    assert [] == [(s, t) for t in texts for s in secrets if s in t]
    assert {"card_number", "cvv"} <= {e.field for e in caught.value.details}


# --- per-contract rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "decline_reason", "valid"),
    [
        ("declined", "insufficient_funds", True),
        ("declined", "fraud_suspected", True),
        ("declined", "do_not_honor", True),
        ("declined", None, False),
        ("succeeded", None, True),
        ("failed", None, True),
        ("processing", "do_not_honor", False),
    ],
)
def test_decline_reason_is_set_exactly_when_declined(
    status: str, decline_reason: str | None, valid: bool
) -> None:
    """decline_reason is one of the reasons when status is declined, and null otherwise."""
    payment = with_changes(PAYMENT, status=status, decline_reason=decline_reason)
    assert valid == (validate("payment-resource", payment) == [])


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-26T10:00:00",
        "2026-11-26T10:00:00.123Z",
        "2026-11-26 10:00:00Z",
        "2026-02-30T10:00:00Z",
    ],
)
def test_payment_timestamps_are_utc_whole_seconds(timestamp: str) -> None:
    """created_at must be YYYY-MM-DDTHH:MM:SSZ and a real calendar date."""
    errors = validate("payment-resource", with_changes(PAYMENT, created_at=timestamp))
    assert ["created_at"] == [e.field for e in errors]


@pytest.mark.parametrize(
    ("occurred_at", "valid"),
    [
        ("2026-11-26T10:00:01Z", True),
        ("2026-11-26T11:00:01.250+01:00", True),
        ("2026-11-26T10:00:01", False),
        ("2026-02-30T10:00:01Z", False),
        ("yesterday", False),
    ],
)
def test_bank_update_occurred_at_is_an_rfc_3339_date_time(occurred_at: str, valid: bool) -> None:
    """occurred_at accepts RFC 3339 with offset or fraction, and rejects anything else."""
    errors = validate("bank-payment-update", with_changes(BANK_UPDATE, occurred_at=occurred_at))
    assert valid == (errors == [])


def test_bank_update_requires_every_field_and_no_other() -> None:
    """A callback missing a field or carrying an extra one is reported field by field."""
    body = {**without(BANK_UPDATE, "bank_reference"), "status": "LOST", "amount": 1050}
    expected = [
        FieldError("amount", "is not allowed"),
        FieldError("bank_reference", "is required"),
        FieldError(
            "status",
            "must be one of PROCESSING, PAID, AUTHORIZED, INSUFFICIENT_FUNDS, FRAUD_DETECTED,"
            " DECLINED",
        ),
    ]
    assert expected == validate("bank-payment-update", body)


def test_bank_request_has_no_merchant_reference() -> None:
    """The gateway's request to the bank carries exactly the SPEC's fields."""
    assert [FieldError("reference", "is not allowed")] == validate(
        "bank-payment-request", {**BANK_REQUEST, "reference": "order-1234"}
    )


def test_bank_answers_are_read_tolerantly() -> None:
    """The bank's 202 and 200 answers may carry properties the contract does not name."""
    answer = {
        "payment_request_id": PAYMENT_ID,
        "bank_reference": "b-1",
        "status": "PROCESSING",
        "received_at": "2026-11-26T10:00:00Z",
    }
    assert [] == validate("bank-payment-accepted", answer)
    assert [] == validate("bank-payment-status", answer)


def test_bank_accepted_answer_is_processing() -> None:
    """A 202 from the bank says PROCESSING, nothing else."""
    answer = {"payment_request_id": PAYMENT_ID, "bank_reference": "b-1", "status": "PAID"}
    assert [FieldError("status", "must be PROCESSING")] == validate("bank-payment-accepted", answer)


def test_error_codes_are_the_gateways() -> None:
    """An error body with a code outside the gateway's list is rejected."""
    body = {"error": {"code": "teapot", "message": "I am a teapot.", "details": []}}
    assert [FieldError("error.code", "must be one of the gateway's error codes")] == validate(
        "error", body
    )


@pytest.mark.parametrize("service", ["merchant-api", "bank-callback"])
def test_every_gateway_response_body_is_a_valid_error(service: str) -> None:
    """API Gateway's own answers (429 throttled, 401, 403, ...) carry the error contract too."""
    from local.cloudformation import load_yaml

    template = load_yaml(ROOT / "services" / service / "serverless.yml")
    bodies = {
        logical_id: json.loads(resource["Properties"]["ResponseTemplates"]["application/json"])
        for logical_id, resource in (template.get("resources", {}).get("Resources") or {}).items()
        # `${file(...)}` resources (the log groups' KMS key) are resolved only when packaging.
        if isinstance(resource, dict) and resource.get("Type") == "AWS::ApiGateway::GatewayResponse"
    }

    assert {} == {
        name: errors for name, body in bodies.items() if (errors := validate("error", body))
    }


def test_callback_ack_is_received_true() -> None:
    """The callback's 200 body is exactly {"received": true}."""
    assert [FieldError("received", "must be true")] == validate(
        "bank-callback-ack", {"received": False}
    )


def test_ids_are_uuids() -> None:
    """A queue message whose ids are not UUIDs names each of them."""
    message = with_changes(QUEUE_MESSAGE, payment_id="42", merchant_id=f"{MERCHANT_ID}\n")
    expected = [
        FieldError("merchant_id", "must be a UUID"),
        FieldError("payment_id", "must be a UUID"),
    ]
    assert expected == validate("payment-queue-message", message)


# --- captures, voids and refunds (SPEC section 8) -------------------------------------------


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        ("capture-request", {}),
        ("capture-request", {"amount": 1}),
        ("void-request", {}),
        ("refund-request", {}),
        ("refund-request", {"amount": 500, "reason": "requested_by_customer"}),
        ("refund-request", {"amount": 500}),
        ("refund-request", {"reason": None}),
        ("action-resource", ACTION),
        ("action-list", {"data": [ACTION, with_changes(ACTION, type="void", reason=None)]}),
        ("payment-resource", {**PAYMENT, **MONEY_FIELDS, "status": "succeeded"}),
        (
            "payment-resource",
            {
                **PAYMENT,
                **MONEY_FIELDS,
                "status": "canceled",
                "amount_captured": 0,
                "amount_refunded": 0,
                "amount_refundable": 0,
                "cancellation_reason": "authorization_expired",
            },
        ),
        ("submit-payment-request", {**SUBMIT, "capture_method": "automatic"}),
        ("bank-payment-request", {**BANK_REQUEST, "capture": False}),
        ("bank-capture-request", {"action_id": ACTION_ID, "amount": 800}),
        ("bank-void-request", {"action_id": ACTION_ID}),
        ("bank-refund-request", {"action_id": ACTION_ID, "amount": 500}),
        ("bank-action-accepted", {"action_id": ACTION_ID, "status": "PROCESSING"}),
        ("bank-action-status", {"action_id": ACTION_ID, "type": "void", "status": "DECLINED"}),
        ("bank-action-update", BANK_ACTION_UPDATE),
        ("bank-action-update", with_changes(BANK_ACTION_UPDATE, type="refund", status="DECLINED")),
    ],
)
def test_spec_section_8_messages_are_valid(name: str, instance: object) -> None:
    """The bodies, resources and bank messages SPEC section 8 shows honour their contracts."""
    assert [] == validate(name, instance)


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "capture-request",
            {"amount": 0, "currency": "GBP"},
            [
                FieldError("amount", "must be an integer of at least 1 (minor units)"),
                FieldError("currency", "is not allowed"),
            ],
        ),
        ("void-request", {"amount": 5}, [FieldError("amount", "is not allowed")]),
        (
            "refund-request",
            {"amount": "500", "reason": "changed_mind", "note": "x"},
            [
                FieldError("amount", "must be an integer of at least 1 (minor units)"),
                FieldError("note", "is not allowed"),
                FieldError(
                    "reason",
                    "must be null or one of requested_by_customer, duplicate, fraudulent",
                ),
            ],
        ),
    ],
)
def test_action_request_bodies_report_every_failing_field(
    name: str, body: dict[str, Any], expected: list[FieldError]
) -> None:
    """A capture, void or refund body names each bad or unknown property at once."""
    assert expected == validate(name, body)


@pytest.mark.parametrize("amount", [0, -1, 1.5, 500.0, True, "500", None])
@pytest.mark.parametrize("name", ["capture-request", "refund-request"])
def test_an_action_amount_is_an_integer_of_at_least_one(name: str, amount: object) -> None:
    """0, negatives, fractions, floats, booleans, strings and null are not amounts."""
    assert ["amount"] == [e.field for e in validate(name, {"amount": amount})]


@pytest.mark.parametrize("name", ["capture-request", "void-request", "refund-request"])
def test_an_action_body_is_an_object(name: str) -> None:
    """An array as an action body is one body error."""
    assert [FieldError("body", "must be a JSON object")] == validate(name, [])


def test_an_action_resource_reports_every_failing_field() -> None:
    """A missing id, an unknown type and status and a zero amount are all reported."""
    action = {
        **without(ACTION, "id"),
        "type": "chargeback",
        "status": "done",
        "amount": 0,
        "reason": None,
    }
    expected = [
        FieldError("amount", "must be an integer from 1 to 100000000 (minor units)"),
        FieldError("id", "is required"),
        FieldError("status", "must be one of pending, succeeded, failed"),
        FieldError("type", "must be one of capture, void, refund"),
    ]
    assert expected == validate("action-resource", action)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "capture"}, FieldError("reason", "must be null unless type is refund")),
        ({"status": "failed"}, FieldError("failure_reason", "must be set when status is failed")),
        (
            {"status": "succeeded", "failure_reason": "declined_by_bank"},
            FieldError("failure_reason", "must be null unless status is failed"),
        ),
        (
            {"status": "failed", "failure_reason": "timeout"},
            FieldError(
                "failure_reason",
                "must be null or one of declined_by_bank, rejected_by_bank, unknown_at_bank",
            ),
        ),
    ],
)
def test_action_reasons_go_with_their_type_and_status(
    changes: dict[str, Any], expected: FieldError
) -> None:
    """reason belongs to refunds; failure_reason is set exactly when failed."""
    assert [expected] == validate("action-resource", with_changes(ACTION, **changes))


@pytest.mark.parametrize("field", ["card_number", "cvv"])
def test_card_data_cannot_ride_along_an_action(field: str) -> None:
    """An action resource or a bank capture request carrying card data is rejected."""
    errors = validate("action-resource", {**ACTION, field: CARD_NUMBER}) + validate(
        "bank-capture-request", {"action_id": ACTION_ID, "amount": 1, field: CVV}
    )
    assert [FieldError(field, "is not allowed")] * 2 == errors


def test_an_action_list_names_the_failing_item() -> None:
    """A bad action inside data is named by index; no other top-level property is allowed."""
    listing = {
        "data": [ACTION, with_changes(ACTION, type="chargeback", reason=None)],
        "has_more": False,
    }
    expected = [
        FieldError("data[1].type", "must be one of capture, void, refund"),
        FieldError("has_more", "is not allowed"),
    ]
    assert expected == validate("action-list", listing)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"status": "authorized"},
            FieldError("capture_before", "must be set while status is authorized"),
        ),
        (
            {"capture_before": "2026-12-03T10:00:02Z"},
            FieldError("capture_before", "must be null unless status is authorized"),
        ),
        (
            {"status": "authorized", "capture_before": "next week"},
            FieldError(
                "capture_before", "must be a UTC timestamp like 2026-11-26T10:00:00Z, or null"
            ),
        ),
        (
            {"status": "canceled"},
            FieldError("cancellation_reason", "must be set when status is canceled"),
        ),
        (
            {"cancellation_reason": "requested_by_merchant"},
            FieldError("cancellation_reason", "must be null unless status is canceled"),
        ),
        (
            {"amount_refundable": -1},
            FieldError("amount_refundable", "must be an integer of at least 0 (minor units)"),
        ),
        (
            {"capture_method": "later"},
            FieldError("capture_method", "must be one of automatic, manual"),
        ),
    ],
)
def test_the_payment_resources_money_fields_follow_its_status(
    changes: dict[str, Any], expected: FieldError
) -> None:
    """capture_before is set exactly while authorized, cancellation_reason exactly when
    canceled; totals are never negative; capture_method is automatic or manual."""
    payment = {**PAYMENT, **MONEY_FIELDS, "status": "succeeded", **changes}
    assert [expected] == validate("payment-resource", payment)


@pytest.mark.parametrize("name", sorted(MONEY_FIELDS))
def test_the_payment_resources_money_fields_are_required(name: str) -> None:
    """Every payment resource shows each money-movement field (null where it has none)."""
    payment = {key: value for key, value in PAYMENT.items() if key != name}
    assert [FieldError(name, "is required")] == validate("payment-resource", payment)


@pytest.mark.parametrize("capture_method", ["automatic", "manual"])
def test_a_submit_may_ask_for_either_capture_method(capture_method: str) -> None:
    """capture_method automatic and manual are both accepted by the submit contract."""
    assert [] == validate("submit-payment-request", {**SUBMIT, "capture_method": capture_method})


@pytest.mark.parametrize("code", ACTION_CODES)
def test_the_refusals_of_an_action_are_gateway_error_codes(code: str) -> None:
    """Each SPEC section 8 refusal code is a valid error body code."""
    assert [] == validate("error", {"error": {"code": code, "message": "x", "details": []}})


def test_the_action_error_codes_are_the_domains() -> None:
    """The codes the domain's refusals carry are exactly the contract's new codes."""
    from shared_kernel.domain.errors import ActionRefused

    def leaves(cls: type[ActionRefused]) -> list[type[ActionRefused]]:
        return [leaf for sub in cls.__subclasses__() for leaf in [sub, *leaves(sub)]]

    assert sorted(ACTION_CODES) == sorted(error.code for error in leaves(ActionRefused))


def test_bank_action_update_requires_every_field_and_no_other() -> None:
    """An action update with PAID, an unknown type, no action_id and an extra field is
    reported field by field."""
    body = {
        **without(BANK_ACTION_UPDATE, "action_id"),
        "status": "PAID",
        "type": "chargeback",
        "amount": 500,
    }
    expected = [
        FieldError("action_id", "is required"),
        FieldError("amount", "is not allowed"),
        FieldError("status", "must be one of SUCCEEDED, DECLINED"),
        FieldError("type", "must be one of capture, void, refund"),
    ]
    assert expected == validate("bank-action-update", body)


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "bank-capture-request",
            {"amount": 0},
            [
                FieldError("action_id", "is required"),
                FieldError("amount", "must be an integer from 1 to 100000000 (minor units)"),
            ],
        ),
        (
            "bank-refund-request",
            {"action_id": "42"},
            [FieldError("action_id", "must be a UUID"), FieldError("amount", "is required")],
        ),
        (
            "bank-void-request",
            {"action_id": ACTION_ID, "amount": 5},
            [FieldError("amount", "is not allowed")],
        ),
        (
            "bank-payment-request",
            {**BANK_REQUEST, "capture": "no"},
            [FieldError("capture", "must be true or false")],
        ),
    ],
)
def test_bank_action_requests_report_every_failing_field(
    name: str, body: dict[str, Any], expected: list[FieldError]
) -> None:
    """The gateway's requests to the bank carry exactly their fields, each checked."""
    assert expected == validate(name, body)


def test_bank_action_answers_are_read_tolerantly_but_checked() -> None:
    """The bank's 202 and 200 action answers may carry extra properties; a 202 is always
    PROCESSING and a status is one of the bank's action statuses."""
    extra = {"action_id": ACTION_ID, "type": "refund", "status": "PROCESSING", "note": "x"}
    assert (
        [],
        [],
        [FieldError("status", "must be PROCESSING")],
        [FieldError("status", "must be one of PROCESSING, SUCCEEDED, DECLINED")],
    ) == (
        validate("bank-action-accepted", extra),
        validate("bank-action-status", extra),
        validate("bank-action-accepted", {**extra, "status": "SUCCEEDED"}),
        validate("bank-action-status", {**extra, "status": "PAID"}),
    )


# --- the module's API -----------------------------------------------------------------------


def test_assert_valid_raises_with_every_detail() -> None:
    """assert_valid raises ContractViolation carrying the same details validate returns."""
    body = without(SUBMIT, "cvv", "amount")
    with pytest.raises(ContractViolation) as caught:
        assert_valid("submit-payment-request", body)
    assert "submit-payment-request" == caught.value.schema_name
    assert validate("submit-payment-request", body) == caught.value.details


def test_assert_valid_returns_quietly_for_a_valid_message() -> None:
    """assert_valid returns None when the message honours its contract."""
    assert_valid("payment-resource", PAYMENT)


def test_an_unknown_contract_name_is_an_error() -> None:
    """Asking for a contract that does not exist raises UnknownContract, not a KeyError."""
    with pytest.raises(UnknownContract):
        validate("no-such-contract", {})
    with pytest.raises(UnknownContract):
        validate("../contracts/error", {})


def test_importing_contracts_does_not_import_jsonschema() -> None:
    """jsonschema is loaded on first validation, not at import (Lambda cold start)."""
    code = (
        "import sys, shared_kernel.contracts as c\n"
        "assert 'jsonschema' not in sys.modules\n"
        "assert c.validate('bank-callback-ack', {'received': True}) == []\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- the OpenAPI document -------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The committed merchant API document."""
    document: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return document


def test_openapi_document_is_up_to_date() -> None:
    """The committed merchant-api.openapi.json is what build_openapi.py builds from the schemas."""
    result = subprocess.run(
        [sys.executable, str(CONTRACTS / "build_openapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert (0, "") == (result.returncode, result.stderr)


def test_openapi_document_is_valid_openapi_3_1() -> None:
    """The document passes the OpenAPI 3.1 validator (offline, bundled meta-schemas)."""
    import openapi_spec_validator

    document = openapi_document()
    assert "3.1.0" == document["openapi"]
    openapi_spec_validator.validate(document)


def test_openapi_refs_all_resolve_inside_the_document() -> None:
    """Every $ref is local (#/...) and points at something the document holds."""
    document = openapi_document()
    refs = refs_in(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        resolve_pointer(document, ref.removeprefix("#"))


def test_openapi_operations_document_their_responses() -> None:
    """Each operation lists exactly the statuses SPEC section 3 gives it."""
    paths = openapi_document()["paths"]
    submit = paths["/merchant/{merchant_id}/payments"]["post"]
    get = paths["/merchant/{merchant_id}/payment/{payment_id}"]["get"]
    expected = (
        ["201", "400", "401", "403", "409", "413", "415", "422", "500"],
        ["200", "400", "401", "403", "404", "500"],
    )
    assert expected == (sorted(submit["responses"]), sorted(get["responses"]))
    assert {"Location", "Idempotent-Replayed"} == set(submit["responses"]["201"]["headers"])


def test_openapi_schemas_validate_like_the_contract_files() -> None:
    """The embedded schemas accept and reject what the contract files do, with no files."""
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    uri = "urn:merchant-api"
    registry = Registry().with_resource(uri, DRAFT202012.create_resource(openapi_document()))

    def errors(component: str, instance: object) -> int:
        schema = {"$ref": f"{uri}#/components/schemas/{component}"}
        return len(list(Draft202012Validator(schema, registry=registry).iter_errors(instance)))

    assert 0 == errors("SubmitPaymentRequest", SUBMIT)
    assert 0 == errors("PaymentResource", PAYMENT)
    assert 0 < errors("SubmitPaymentRequest", {**SUBMIT, "colour": "blue"})
    assert 0 < errors("PaymentResource", {**PAYMENT, "card_number": CARD_NUMBER})
    assert 0 < errors("Error", {"error": {"code": "teapot", "message": "x", "details": []}})
