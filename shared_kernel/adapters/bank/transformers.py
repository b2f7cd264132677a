"""The acquiring bank's wire formats (SPEC §4, §8) and the one mapping of its statuses.

Like a Hyperswitch connector's transformers: the bank's request and answer bodies as types,
`to_bank_request` / `to_action_request` to build the requests, parsers that check each answer
against its contract, and `outcome_of`, the single exhaustive mapping from a bank status to
the gateway's outcome. A 2xx answer that breaks its contract leaves the outcome unknown:
parsers raise BankUnavailable, so the payment or action is retried or queried, never guessed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, NotRequired, TypedDict, assert_never
from uuid import UUID

from shared_kernel import contracts
from shared_kernel.application.errors import BankUnavailable
from shared_kernel.application.ports import (
    BankAcceptance,
    BankActionReport,
    BankActionRequest,
    BankActionStatus,
    BankPaymentRequest,
    BankStatusReport,
)
from shared_kernel.domain.action import ActionType
from shared_kernel.domain.payment import DeclineReason, Outcome, PaymentStatus

ACCEPTED_CONTRACT = "bank-payment-accepted"
STATUS_CONTRACT = "bank-payment-status"
ACTION_ACCEPTED_CONTRACT = "bank-action-accepted"
ACTION_STATUS_CONTRACT = "bank-action-status"
# The contract of each action's request body, and the bank's path segment for it
# (`POST {bank_url}/payments/{payment_request_id}/<segment>`).
ACTION_REQUEST_CONTRACTS = {
    ActionType.CAPTURE: "bank-capture-request",
    ActionType.VOID: "bank-void-request",
    ActionType.REFUND: "bank-refund-request",
}
ACTION_PATHS = {
    ActionType.CAPTURE: "captures",
    ActionType.VOID: "voids",
    ActionType.REFUND: "refunds",
}


class BankStatus(StrEnum):
    """A payment's status at the acquiring bank."""

    PROCESSING = "PROCESSING"
    PAID = "PAID"
    AUTHORIZED = "AUTHORIZED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    FRAUD_DETECTED = "FRAUD_DETECTED"
    DECLINED = "DECLINED"


class BankPaymentBody(TypedDict):
    """Body of `POST {bank_url}/payments` (holds the card: never log it)."""

    payment_request_id: str
    merchant_id: str
    card_number: str
    expiry_month: int
    expiry_year: int
    cvv: str
    amount: int
    currency: str
    # Sent only as false (a manual payment: authorise, do not capture); absent means true.
    capture: NotRequired[bool]


class BankActionBody(TypedDict):
    """Body of `POST {bank_url}/payments/{id}/captures|voids|refunds` (no card data)."""

    action_id: str
    # Captures and refunds only: a void releases the whole authorisation.
    amount: NotRequired[int]


class BankAcceptedAnswer(TypedDict):
    """The bank's 202 answer to `POST /payments`."""

    payment_request_id: str
    bank_reference: str
    status: str


class BankStatusAnswer(TypedDict):
    """The bank's 200 answer to `GET /payments/{payment_request_id}`."""

    payment_request_id: str
    bank_reference: str
    status: str


def outcome_of(bank_status: str) -> Outcome:
    """The gateway outcome of a bank status; ValueError for a status the contract lacks."""
    try:
        status = BankStatus(bank_status)
    except ValueError:
        raise ValueError(f"unknown bank status {bank_status[:32]!r}") from None
    match status:
        case BankStatus.PROCESSING:
            return Outcome(PaymentStatus.PROCESSING)
        case BankStatus.PAID:
            return Outcome(PaymentStatus.SUCCEEDED)
        case BankStatus.AUTHORIZED:
            return Outcome(PaymentStatus.AUTHORIZED)
        case BankStatus.INSUFFICIENT_FUNDS:
            return Outcome(PaymentStatus.DECLINED, DeclineReason.INSUFFICIENT_FUNDS)
        case BankStatus.FRAUD_DETECTED:
            return Outcome(PaymentStatus.DECLINED, DeclineReason.FRAUD_SUSPECTED)
        case BankStatus.DECLINED:
            return Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR)
        case _:
            assert_never(status)


def to_bank_request(request: BankPaymentRequest) -> BankPaymentBody:
    """The body of the bank's `POST /payments` for a payment."""
    body: BankPaymentBody = {
        "payment_request_id": str(request.payment_id),
        "merchant_id": str(request.merchant_id),
        "card_number": request.card.number,
        "expiry_month": request.expiry.month,
        "expiry_year": request.expiry.year,
        "cvv": request.card.cvv,
        "amount": request.money.amount,
        "currency": request.money.currency,
    }
    if not request.capture:
        body["capture"] = False
    return body


def to_action_request(request: BankActionRequest) -> tuple[str, BankActionBody]:
    """The path segment and body of the bank's request for an action; ValueError for a
    capture or refund without an amount (nothing is sent)."""
    body: BankActionBody = {"action_id": str(request.action_id)}
    if request.type is not ActionType.VOID:
        if request.amount is None:
            raise ValueError(f"a {request.type} needs an amount")
        body["amount"] = request.amount
    return ACTION_PATHS[request.type], body


def parse_action_acceptance(raw: bytes, action_id: UUID) -> None:
    """Check a 202 answer to an action request; BankUnavailable if it breaks its contract."""
    _checked(raw, ACTION_ACCEPTED_CONTRACT, "action_id", action_id)


def parse_action_report(raw: bytes, action_id: UUID) -> BankActionReport:
    """The action's status in a 200 answer; BankUnavailable if it breaks its contract."""
    document = _checked(raw, ACTION_STATUS_CONTRACT, "action_id", action_id)
    return BankActionReport(
        action_id=action_id,
        type=ActionType(document["type"]),
        status=BankActionStatus(document["status"]),
    )


def parse_acceptance(raw: bytes, payment_id: UUID) -> BankAcceptance:
    """The acceptance in a 202 answer; BankUnavailable if it breaks its contract."""
    document = _checked(raw, ACCEPTED_CONTRACT, "payment_request_id", payment_id)
    answer = BankAcceptedAnswer(
        payment_request_id=document["payment_request_id"],
        bank_reference=document["bank_reference"],
        status=document["status"],
    )
    return BankAcceptance(bank_reference=answer["bank_reference"])


def parse_status_report(raw: bytes, payment_id: UUID) -> BankStatusReport:
    """The status in a 200 answer; BankUnavailable if it breaks its contract."""
    document = _checked(raw, STATUS_CONTRACT, "payment_request_id", payment_id)
    answer = BankStatusAnswer(
        payment_request_id=document["payment_request_id"],
        bank_reference=document["bank_reference"],
        status=document["status"],
    )
    try:
        outcome = outcome_of(answer["status"])
    except ValueError:
        raise BankUnavailable("bank answered an unknown status") from None
    return BankStatusReport(bank_reference=answer["bank_reference"], outcome=outcome)


def _checked(raw: bytes, contract: str, id_field: str, expected_id: UUID) -> dict[str, Any]:
    """The JSON object of an answer that honours `contract` and whose `id_field` names
    `expected_id` (the payment or action the request was about)."""
    try:
        document: object = json.loads(raw)
    except ValueError:
        raise BankUnavailable(f"bank answer is not JSON ({contract})") from None
    problems = contracts.validate(contract, document)
    if problems:
        fields = ", ".join(f"{p.field}: {p.message}" for p in problems)
        raise BankUnavailable(f"bank answer breaks {contract}: {fields}")
    assert isinstance(document, dict)
    if UUID(document[id_field]) != expected_id:
        raise BankUnavailable(f"bank answered about another {id_field} ({contract})")
    return document
