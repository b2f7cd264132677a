"""ForwardPayment: send a queued payment to the bank once in effect, whatever is redelivered."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.errors import BankRejected, BankUnavailable
from shared_kernel.application.forward_payment import ForwardPayment, ForwardResult
from shared_kernel.application.ports import (
    BankAcceptance,
    BankPaymentRequest,
    BankStatusReport,
    QueuedPayment,
)
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import FailureReason, PaymentStatus

from .builders import (
    CREATED_AT,
    MERCHANT_ID,
    OTHER_MERCHANT_ID,
    PAID,
    PAYMENT_ID,
    PROCESSING,
)
from .fakes import FixedClock, InMemoryPaymentRepository, ScriptedBank

pytestmark = pytest.mark.unit

MESSAGE = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")


def test_accepted_payment_becomes_processing_and_loses_its_card(
    forward: ForwardPayment, repository: InMemoryPaymentRepository, clock: FixedClock
) -> None:
    """On the bank's 202 the payment is processing, keeps the bank reference, card gone."""
    result = forward(MESSAGE)
    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.ACCEPTED, PaymentStatus.PROCESSING, f"bank-{PAYMENT_ID}", None) == (
        result,
        stored.status,
        stored.bank_reference,
        stored.sealed_card,
    )
    assert clock.now() == stored.updated_at


def test_bank_receives_the_decrypted_card_keyed_by_the_payment_id(
    forward: ForwardPayment, bank: ScriptedBank
) -> None:
    """The bank gets the unsealed card and money, with the payment id as idempotency key and
    the payment's stored correlation id."""
    forward(MESSAGE)
    expected = BankPaymentRequest(
        payment_id=PAYMENT_ID,
        merchant_id=MERCHANT_ID,
        card=CardSecrets("4242424242424242", "123"),
        expiry=Expiry(12, 2030),
        money=Money(1050, "GBP"),
        correlation_id="corr-1",
    )
    assert [expected] == bank.requests


def test_second_delivery_does_not_call_the_bank_again(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """A redelivered message answers ALREADY_FORWARDED and charges nothing more."""
    forward(MESSAGE)
    after_first = repository.get(PAYMENT_ID)
    assert (ForwardResult.ALREADY_FORWARDED, 1, after_first) == (
        forward(MESSAGE),
        bank.charges_of(PAYMENT_ID),
        repository.get(PAYMENT_ID),
    )


def test_bank_rejection_fails_the_payment(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """BankRejected (400/422) makes the payment failed, reason bank_rejected, card gone."""
    bank.then(BankRejected("invalid request"))
    result = forward(MESSAGE)
    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.REJECTED, PaymentStatus.FAILED, FailureReason.BANK_REJECTED, None) == (
        result,
        stored.status,
        stored.failure_reason,
        stored.sealed_card,
    )


def test_bank_unavailable_raises_and_leaves_the_payment_pending(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """BankUnavailable before the final attempt propagates; the payment keeps its sealed card
    and is as it was but for its version: its forward lease was claimed, then released."""
    before = repository.get(PAYMENT_ID)
    bank.then(BankUnavailable("503"))
    with pytest.raises(BankUnavailable):
        forward(MESSAGE)
    stored = repository.get(PAYMENT_ID)
    assert (replace(before, version=before.version + 2), PaymentStatus.PENDING, True) == (
        stored,
        stored.status,
        stored.sealed_card is not None,
    )


def test_retry_after_bank_unavailable_reuses_the_payment_id(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """The redelivery after a 503 is accepted, and both requests carry the same payment id."""
    bank.on_card("4242424242424242", BankUnavailable("503"))
    with pytest.raises(BankUnavailable):
        forward(MESSAGE)
    result = forward(MESSAGE)
    assert (ForwardResult.ACCEPTED, [PAYMENT_ID, PAYMENT_ID], PaymentStatus.PROCESSING) == (
        result,
        [r.payment_id for r in bank.requests],
        repository.get(PAYMENT_ID).status,
    )


def test_final_attempt_with_no_record_at_the_bank_fails_the_payment(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """After the last retry, a bank that never got the payment means failed/retries_exhausted."""
    bank.then(BankUnavailable("timeout"))
    result = forward(MESSAGE, final_attempt=True)
    stored = repository.get(PAYMENT_ID)
    assert (
        ForwardResult.GAVE_UP,
        PaymentStatus.FAILED,
        FailureReason.RETRIES_EXHAUSTED,
        None,
        [PAYMENT_ID],
    ) == (
        result,
        stored.status,
        stored.failure_reason,
        stored.sealed_card,
        bank.status_queries,
    )


def test_final_attempt_finds_the_payment_paid_at_the_bank(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """After the last retry, a bank that has it PAID makes the payment succeeded, not failed."""
    bank.then(BankUnavailable("timeout"))
    bank.statuses[PAYMENT_ID] = BankStatusReport("bank-ref-9", PAID)
    result = forward(MESSAGE, final_attempt=True)
    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.FOUND_AT_BANK, PaymentStatus.SUCCEEDED, "bank-ref-9", None, None) == (
        result,
        stored.status,
        stored.bank_reference,
        stored.failure_reason,
        stored.sealed_card,
    )


def test_final_attempt_finds_the_payment_processing_at_the_bank(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """After the last retry, a bank still processing it makes the payment processing."""
    bank.then(BankUnavailable("timeout"))
    bank.statuses[PAYMENT_ID] = BankStatusReport("bank-ref-9", PROCESSING)
    result = forward(MESSAGE, final_attempt=True)
    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.FOUND_AT_BANK, PaymentStatus.PROCESSING, None) == (
        result,
        stored.status,
        stored.sealed_card,
    )


def test_callback_settling_first_keeps_its_final_status(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """A PAID callback written between the forwarder's POST and its write of the 202 wins; the
    card is dropped."""
    # After the first save (the forward lease's claim), before the second (the 202's record).
    repository.interleave(lambda p: p.apply(PAID, CREATED_AT, "bank-ref-cb"), after_saves=1)
    result = forward(MESSAGE)
    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.ACCEPTED, PaymentStatus.SUCCEEDED, None, 1) == (
        result,
        stored.status,
        stored.sealed_card,
        bank.charges_of(PAYMENT_ID),
    )


def test_giving_up_never_overrides_a_callback_that_settled_first(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """If a PAID callback lands while the forwarder gives up, the payment stays succeeded."""
    bank.then(BankUnavailable("timeout"))
    # After the forward lease's claim, before the give-up's write.
    repository.interleave(lambda p: p.apply(PAID, CREATED_AT, "bank-ref-cb"), after_saves=1)
    forward(MESSAGE, final_attempt=True)
    stored = repository.get(PAYMENT_ID)
    assert (PaymentStatus.SUCCEEDED, None) == (stored.status, stored.failure_reason)


def test_unknown_payment_is_reported_and_the_bank_not_called(
    forward: ForwardPayment, bank: ScriptedBank
) -> None:
    """A message naming no stored payment answers UNKNOWN_PAYMENT without calling the bank."""
    message = QueuedPayment(UUID("00000000-0000-4000-8000-000000000000"), MERCHANT_ID, "c")
    assert (ForwardResult.UNKNOWN_PAYMENT, []) == (forward(message), bank.requests)


def test_merchant_mismatch_is_reported_and_the_bank_not_called(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """A message naming a merchant that does not own the payment: UNKNOWN_PAYMENT, no change."""
    before = repository.get(PAYMENT_ID)
    message = QueuedPayment(PAYMENT_ID, OTHER_MERCHANT_ID, "corr-1")
    assert (ForwardResult.UNKNOWN_PAYMENT, [], before) == (
        forward(message),
        bank.requests,
        repository.get(PAYMENT_ID),
    )


def test_scripted_acceptance_reference_is_recorded(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """The bank reference stored is the one from the bank's acceptance."""
    bank.then(BankAcceptance("bank-ref-42"))
    forward(MESSAGE)
    assert "bank-ref-42" == repository.get(PAYMENT_ID).bank_reference


def test_a_failed_attempt_holds_the_reconciler_off_until_the_retry_has_run(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """After a 503, the payment's next reconciler check moves to now + the retry horizon (never
    earlier), so no requeue runs a second delivery beside the message's own retry."""
    clock = FixedClock(CREATED_AT + timedelta(seconds=5))
    holding = replace(forward, clock=clock, retry_horizon=timedelta(seconds=60))
    bank.then(BankUnavailable("503"))
    bank.then(BankUnavailable("503"))

    with pytest.raises(BankUnavailable):
        holding(MESSAGE)
    held = repository.get(PAYMENT_ID).next_check_at
    clock.set(CREATED_AT + timedelta(seconds=1))  # an earlier hold never moves it back
    with pytest.raises(BankUnavailable):
        holding(MESSAGE)

    stored = repository.get(PAYMENT_ID)
    assert (CREATED_AT + timedelta(seconds=65), held, PaymentStatus.PENDING) == (
        held,
        stored.next_check_at,
        stored.status,
    )
    assert not stored.is_due_for_check(CREATED_AT + timedelta(seconds=64))
