"""ApplyBankUpdate: the bank's callbacks move a payment on, once, never out of a final state."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.apply_bank_update import ApplyBankUpdate, BankUpdate
from shared_kernel.domain.errors import InvalidTransition, PaymentNotFound
from shared_kernel.domain.payment import Outcome, PaymentStatus

from .builders import (
    CREATED_AT,
    DO_NOT_HONOR,
    FRAUD,
    INSUFFICIENT_FUNDS,
    MERCHANT_ID,
    OTHER_MERCHANT_ID,
    PAID,
    PAYMENT_ID,
    PROCESSING,
    outcome_id,
    pending_payment,
)
from .fakes import FixedClock, InMemoryPaymentRepository, ReversibleCipher

pytestmark = pytest.mark.unit


def update(
    outcome: Outcome, payment_id: UUID = PAYMENT_ID, merchant_id: UUID = MERCHANT_ID
) -> BankUpdate:
    """A verified bank callback for the stored payment."""
    return BankUpdate(payment_id, merchant_id, outcome, "bank-ref-1", CREATED_AT)


@pytest.fixture
def apply_update(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher, clock: FixedClock
) -> ApplyBankUpdate:
    """The use case over a repository holding one pending payment."""
    repository.add(pending_payment(cipher))
    clock.advance(timedelta(seconds=3))
    return ApplyBankUpdate(repository, clock)


@pytest.mark.parametrize(
    "outcome", [PROCESSING, PAID, INSUFFICIENT_FUNDS, FRAUD, DO_NOT_HONOR], ids=outcome_id
)
def test_each_bank_outcome_is_applied(
    apply_update: ApplyBankUpdate,
    repository: InMemoryPaymentRepository,
    clock: FixedClock,
    outcome: Outcome,
) -> None:
    """Each bank outcome moves the payment, records the bank reference and drops the card."""
    changed = apply_update(update(outcome))
    stored = repository.get(PAYMENT_ID)
    assert (True, outcome.status, outcome.decline_reason, "bank-ref-1", None, clock.now()) == (
        changed,
        stored.status,
        stored.decline_reason,
        stored.bank_reference,
        stored.sealed_card,
        stored.updated_at,
    )


@pytest.mark.parametrize("outcome", [PROCESSING, PAID, FRAUD], ids=outcome_id)
def test_a_duplicate_update_changes_nothing(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository, outcome: Outcome
) -> None:
    """The same callback twice: the second returns False and writes nothing."""
    apply_update(update(outcome))
    before, saves = repository.get(PAYMENT_ID), repository.saves
    assert (False, before, saves) == (
        apply_update(update(outcome)),
        repository.get(PAYMENT_ID),
        repository.saves,
    )


def test_processing_after_paid_is_an_invalid_transition(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """An out-of-order PROCESSING after PAID raises InvalidTransition; the payment stays paid."""
    apply_update(update(PAID))
    before = repository.get(PAYMENT_ID)
    with pytest.raises(InvalidTransition):
        apply_update(update(PROCESSING))
    assert before == repository.get(PAYMENT_ID)


def test_a_different_final_outcome_is_an_invalid_transition(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """A DECLINED after PAID raises InvalidTransition; the first final state wins."""
    apply_update(update(PAID))
    with pytest.raises(InvalidTransition):
        apply_update(update(DO_NOT_HONOR))
    assert PaymentStatus.SUCCEEDED == repository.get(PAYMENT_ID).status


def test_merchant_mismatch_is_not_found(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """An update naming another merchant raises PaymentNotFound and changes nothing."""
    before = repository.get(PAYMENT_ID)
    with pytest.raises(PaymentNotFound):
        apply_update(update(PAID, merchant_id=OTHER_MERCHANT_ID))
    assert before == repository.get(PAYMENT_ID)


def test_unknown_payment_is_not_found(apply_update: ApplyBankUpdate) -> None:
    """An update for a payment that was never stored raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        apply_update(update(PAID, payment_id=UUID("00000000-0000-4000-8000-000000000000")))


def test_a_concurrent_write_is_retried_against_the_fresh_state(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """If the forwarder records acceptance between read and save, PAID is re-applied on top."""
    repository.interleave(lambda p: p.record_bank_acceptance("bank-ref-0", CREATED_AT))
    changed = apply_update(update(PAID))
    stored = repository.get(PAYMENT_ID)
    assert (True, PaymentStatus.SUCCEEDED, "bank-ref-0", 2) == (
        changed,
        stored.status,
        stored.bank_reference,
        stored.version,
    )


def test_a_concurrent_duplicate_is_reported_as_no_change(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """If the same PAID callback lands between read and save, this one returns False."""
    repository.interleave(lambda p: p.apply(PAID, CREATED_AT, "bank-ref-1"))
    assert (False, PaymentStatus.SUCCEEDED) == (
        apply_update(update(PAID)),
        repository.get(PAYMENT_ID).status,
    )


def test_a_concurrent_conflicting_settlement_wins(
    apply_update: ApplyBankUpdate, repository: InMemoryPaymentRepository
) -> None:
    """If a decline lands between read and save, the PAID update fails with InvalidTransition."""
    repository.interleave(lambda p: p.apply(FRAUD, CREATED_AT, "bank-ref-1"))
    with pytest.raises(InvalidTransition):
        apply_update(update(PAID))
    assert FRAUD == Outcome(
        repository.get(PAYMENT_ID).status, repository.get(PAYMENT_ID).decline_reason
    )
