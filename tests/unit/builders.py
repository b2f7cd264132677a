"""Test data: the SPEC's example submission and payments in a chosen state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from shared_kernel.application.ports import CardCipher
from shared_kernel.domain.payment import (
    DeclineReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
    draft_payment,
)

MERCHANT_ID = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")
OTHER_MERCHANT_ID = UUID("0b7e8a0c-3d2f-4c6b-8e9a-1f2e3d4c5b6a")
PAYMENT_ID = UUID("3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a")
CREATED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
# When the reconciler first looks at a payment still pending (its default `pending_after`).
FIRST_CHECK_AFTER = timedelta(seconds=30)
TODAY = date(2026, 11, 26)

SPEC_BODY: dict[str, object] = {
    "card_number": "4242424242424242",
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": "123",
    "amount": 1050,
    "currency": "GBP",
    "reference": "order-1234",
}

AUTHORIZED = Outcome(PaymentStatus.AUTHORIZED)
PAID = Outcome(PaymentStatus.SUCCEEDED)
PROCESSING = Outcome(PaymentStatus.PROCESSING)
FAILED = Outcome(PaymentStatus.FAILED)
INSUFFICIENT_FUNDS = Outcome(PaymentStatus.DECLINED, DeclineReason.INSUFFICIENT_FUNDS)
FRAUD = Outcome(PaymentStatus.DECLINED, DeclineReason.FRAUD_SUSPECTED)
DO_NOT_HONOR = Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR)


def body(**overrides: object) -> dict[str, object]:
    """The SPEC's example submission with some fields replaced."""
    return {**SPEC_BODY, **overrides}


def pending_payment(
    cipher: CardCipher,
    *,
    payment_id: UUID = PAYMENT_ID,
    merchant_id: UUID = MERCHANT_ID,
    at: datetime = CREATED_AT,
    **overrides: object,
) -> PaymentRequest:
    """A freshly accepted payment of the SPEC's example body, its card sealed by `cipher`."""
    draft = draft_payment(body(**overrides), at.date())
    return PaymentRequest.accept(
        payment_id=payment_id,
        merchant_id=merchant_id,
        draft=draft,
        sealed_card=cipher.seal(draft.secrets, payment_id, merchant_id),
        now=at,
        first_check_after=FIRST_CHECK_AFTER,
        correlation_id="corr-1",
    )


def payment_in(cipher: CardCipher, *outcomes: Outcome, **overrides: object) -> PaymentRequest:
    """A payment of the SPEC's example body (`capture_method` and the rest overridable),
    moved through `outcomes` by bank updates one second apart, its events pulled."""
    payment = pending_payment(cipher, **overrides)
    for second, outcome in enumerate(outcomes, start=1):
        payment.apply(outcome, CREATED_AT + timedelta(seconds=second))
    payment.pull_events()
    return payment


def outcome_id(outcome: object) -> str:
    """A short test id for an Outcome: its status, and decline reason if any."""
    if not isinstance(outcome, Outcome):
        return str(outcome)
    reason = f"-{outcome.decline_reason}" if outcome.decline_reason else ""
    return f"{outcome.status}{reason}"
