"""PaymentRepository's contract, against InMemoryPaymentRepository and DynamoPaymentRepository."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.application.errors import ConcurrentUpdate, DuplicatePayment
from shared_kernel.application.ports import PaymentRepository
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import DeclineReason, Outcome, PaymentStatus
from tests.integration.test_dynamodb_payments import ACCEPTED_AT, LATER, a_payment
from tests.unit.fakes import InMemoryPaymentRepository

from .conftest import BOTH, FAKE, moto_tables

PAID = Outcome(PaymentStatus.SUCCEEDED)
DECLINED = Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR)


@pytest.fixture(params=BOTH)
def repository(request: pytest.FixtureRequest) -> PaymentRepository:
    """An empty repository: the fake, or the adapter on a fresh payments table."""
    if request.param == FAKE:
        return InMemoryPaymentRepository()
    tables = moto_tables(request)
    return DynamoPaymentRepository(tables.dynamodb(), tables.payments)


def test_an_added_payment_reads_back_equal(repository: PaymentRepository) -> None:
    """add then get returns an equal payment, at version 0."""
    payment = a_payment()

    repository.add(payment)

    assert (payment, 0) == (repository.get(payment.id), repository.get(payment.id).version)


def test_what_is_stored_is_a_copy(repository: PaymentRepository) -> None:
    """Changing a payment after add, or after get, changes nothing stored."""
    payment = a_payment()
    repository.add(payment)

    payment.apply(PAID, LATER)
    repository.get(payment.id).apply(PAID, LATER)

    assert PaymentStatus.PENDING == repository.get(payment.id).status


def test_adding_an_existing_id_raises_duplicate_payment_and_keeps_the_first(
    repository: PaymentRepository,
) -> None:
    """A second add with the same id raises DuplicatePayment and never overwrites."""
    first = a_payment()
    repository.add(first)

    with pytest.raises(DuplicatePayment):
        repository.add(a_payment(id=first.id, money=Money(999, "EUR")))

    assert first == repository.get(first.id)


def test_get_of_an_unknown_id_raises_payment_not_found(repository: PaymentRepository) -> None:
    """get of an id never added raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        repository.get(a_payment().id)


def test_saving_a_payment_that_was_never_added_creates_nothing(
    repository: PaymentRepository,
) -> None:
    """save is an update, never an upsert: PaymentNotFound, and still nothing stored."""
    payment = a_payment()

    with pytest.raises(PaymentNotFound):
        repository.save(payment)

    with pytest.raises(PaymentNotFound):
        repository.get(payment.id)


def test_a_save_bumps_the_version_of_the_caller_and_the_stored_payment(
    repository: PaymentRepository,
) -> None:
    """A save from a fresh read writes the change and bumps the version on both sides."""
    payment = a_payment()
    repository.add(payment)
    read = repository.get(payment.id)
    read.apply(PAID, LATER)

    repository.save(read)

    stored = repository.get(payment.id)
    assert (1, 1, read) == (read.version, stored.version, stored)


def test_a_save_from_a_stale_read_raises_concurrent_update_and_changes_nothing(
    repository: PaymentRepository,
) -> None:
    """Two writers read version 0; the second save is refused, the first one's write stays
    and the refused payment keeps the version it read."""
    payment = a_payment()
    repository.add(payment)
    mine, theirs = repository.get(payment.id), repository.get(payment.id)
    theirs.apply(PAID, LATER)
    repository.save(theirs)

    mine.apply(DECLINED, LATER)
    with pytest.raises(ConcurrentUpdate):
        repository.save(mine)

    assert (theirs, 0) == (repository.get(payment.id), mine.version)


def test_a_save_removes_what_became_empty(repository: PaymentRepository) -> None:
    """Once the bank has the payment its sealed card is gone from storage too."""
    payment = a_payment()
    repository.add(payment)
    had_a_card = repository.get(payment.id).sealed_card is not None

    payment.record_bank_acceptance("bank_1", LATER)
    repository.save(payment)

    stored = repository.get(payment.id)
    assert (True, None, "bank_1") == (had_a_card, stored.sealed_card, stored.bank_reference)


def test_open_payments_are_the_open_due_ones_earliest_first_up_to_the_limit(
    repository: PaymentRepository,
) -> None:
    """Pending and processing payments whose next check is not after the time, earliest
    due first, at most `limit`; final ones and ones not due yet are left out."""
    now = ACCEPTED_AT + timedelta(minutes=10)
    pending_due = [a_payment(next_check_at=ACCEPTED_AT + timedelta(minutes=m)) for m in (3, 1, 2)]
    due_exactly_now = a_payment(next_check_at=now)
    not_due_yet = a_payment(next_check_at=now + timedelta(seconds=1))
    processing_due = a_payment(next_check_at=ACCEPTED_AT + timedelta(minutes=4))
    succeeded, declined = a_payment(), a_payment()
    open_ones = [*pending_due, due_exactly_now, not_due_yet, processing_due]
    for payment in [*open_ones, succeeded, declined]:
        repository.add(payment)
    processing_due.record_bank_acceptance("bank_1", ACCEPTED_AT + timedelta(minutes=4))
    succeeded.apply(PAID, ACCEPTED_AT + timedelta(minutes=5))
    declined.apply(DECLINED, ACCEPTED_AT + timedelta(minutes=6))
    for payment in (processing_due, succeeded, declined):
        repository.save(payment)

    due = list(repository.open_payments(now, limit=10))
    first_two = list(repository.open_payments(now, limit=2))

    earliest_first = sorted(
        [*pending_due, processing_due, due_exactly_now], key=lambda p: p.next_check_at or now
    )
    assert earliest_first == due
    assert earliest_first[:2] == first_two


def test_a_final_payment_leaves_open_payments(repository: PaymentRepository) -> None:
    """A payment found while open is no longer found once it is saved final."""
    payment = a_payment()
    repository.add(payment)
    due = ACCEPTED_AT + timedelta(hours=1)
    found_while_open = [p.id for p in repository.open_payments(due, limit=10)]

    payment.apply(PAID, LATER)
    repository.save(payment)

    assert ([payment.id], []) == (
        found_while_open,
        list(repository.open_payments(due, limit=10)),
    )


def test_open_payments_reads_each_payment_when_it_is_yielded(
    repository: PaymentRepository,
) -> None:
    """A payment changed after the listing began is yielded as it is now, not as found."""
    first = a_payment(next_check_at=ACCEPTED_AT + timedelta(seconds=1))
    second = a_payment(next_check_at=ACCEPTED_AT + timedelta(seconds=2))
    repository.add(first)
    repository.add(second)
    listing = iter(repository.open_payments(ACCEPTED_AT + timedelta(hours=1), limit=10))
    yielded_first = next(listing)

    second.apply(PAID, LATER)
    repository.save(second)

    assert (first, second) == (yielded_first, next(listing))
