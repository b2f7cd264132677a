"""PaymentRepository's contract, against InMemoryPaymentRepository and DynamoPaymentRepository."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.application.errors import ConcurrentUpdate, DuplicatePayment
from shared_kernel.application.ports import PaymentRepository
from shared_kernel.domain.action import ActionFailureReason, ActionStatus, PaymentAction
from shared_kernel.domain.errors import ActionNotFound, PaymentNotFound
from shared_kernel.domain.money import Money
from shared_kernel.domain.money_movements import (
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import (
    CaptureMethod,
    DeclineReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)
from tests.integration.test_dynamodb_payments import ACCEPTED_AT, LATER, a_payment
from tests.unit.fakes import InMemoryPaymentRepository

from .conftest import BOTH, FAKE, moto_tables

PAID = Outcome(PaymentStatus.SUCCEEDED)
AUTHORIZED = Outcome(PaymentStatus.AUTHORIZED)
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


def test_a_forward_lease_is_stored_and_the_bank_s_acceptance_removes_it(
    repository: PaymentRepository,
) -> None:
    """A claimed forward lease reads back with its end; the save recording the 202 removes it."""
    payment = a_payment()
    repository.add(payment)
    leased = repository.get(payment.id)
    leased.lease_forwarding(LATER, LATER + timedelta(seconds=30))

    repository.save(leased)
    stored_lease = repository.get(payment.id).forward_lease_until
    leased.record_bank_acceptance("bank_1", LATER)
    repository.save(leased)

    assert (LATER + timedelta(seconds=30), None) == (
        stored_lease,
        repository.get(payment.id).forward_lease_until,
    )


def test_of_two_lease_claims_from_one_read_the_second_is_refused(
    repository: PaymentRepository,
) -> None:
    """Two deliveries read version 0 and each claim the lease: the first save stores its
    lease, the second raises ConcurrentUpdate and leaves the first one's lease."""
    payment = a_payment()
    repository.add(payment)
    first, second = repository.get(payment.id), repository.get(payment.id)
    first.lease_forwarding(LATER, LATER + timedelta(seconds=30))
    second.lease_forwarding(LATER, LATER + timedelta(seconds=31))

    repository.save(first)
    with pytest.raises(ConcurrentUpdate):
        repository.save(second)

    assert (first, LATER + timedelta(seconds=30)) == (
        repository.get(payment.id),
        repository.get(payment.id).forward_lease_until,
    )


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


def stored_payment(
    repository: PaymentRepository, outcome: Outcome, **changes: object
) -> PaymentRequest:
    """A payment added, then saved with the bank's `outcome`, as read back."""
    payment = a_payment(**changes)
    repository.add(payment)
    payment.apply(outcome, LATER)
    repository.save(payment)
    return repository.get(payment.id)


def a_refund(
    repository: PaymentRepository, amount: int, seconds: int = 2
) -> tuple[PaymentRequest, PaymentAction]:
    """A succeeded payment of 1050 and a refund of `amount` requested (not yet saved)."""
    payment = stored_payment(repository, PAID)
    at = ACCEPTED_AT + timedelta(seconds=seconds)
    return payment, request_refund(payment, amount, None, at, action_id=uuid4()).action


def test_the_manual_capture_fields_round_trip(repository: PaymentRepository) -> None:
    """A manual payment with a pending capture reads back with its capture method, expiry
    and reserved slot."""
    payment = stored_payment(repository, AUTHORIZED, capture_method=CaptureMethod.MANUAL)
    action = request_capture(payment, 600, LATER, action_id=uuid4()).action

    repository.save(payment, [action])

    stored = repository.get(payment.id)
    assert payment == stored
    assert (CaptureMethod.MANUAL, LATER + timedelta(days=7), action.id) == (
        stored.capture_method,
        stored.capture_before,
        stored.pending_action_id,
    )


def test_an_action_saved_with_its_reservation_reads_back_equal(
    repository: PaymentRepository,
) -> None:
    """save(payment, [action]) stores both: the action reads back equal at version 1, and
    the payment holds its reservation."""
    payment, refund = a_refund(repository, 300)

    repository.save(payment, [refund])

    stored = repository.get(payment.id)
    assert (refund, 1) == (repository.get_action(payment.id, refund.id), refund.version)
    assert ([refund], 300, 1) == (
        list(repository.actions(payment.id)),
        stored.amount_refund_pending,
        stored.refund_count,
    )


def test_a_stale_save_writes_neither_the_reservation_nor_the_action(
    repository: PaymentRepository,
) -> None:
    """A refund reserved on a stale read raises ConcurrentUpdate: the payment keeps the other
    writer's state and the action does not exist."""
    payment, refund = a_refund(repository, 300)
    theirs = repository.get(payment.id)
    repository.save(theirs)

    with pytest.raises(ConcurrentUpdate):
        repository.save(payment, [refund])

    assert (theirs, 0) == (repository.get(payment.id), refund.version)
    with pytest.raises(ActionNotFound):
        repository.get_action(payment.id, refund.id)
    assert [] == list(repository.actions(payment.id))


def test_an_action_of_another_payment_is_refused_and_nothing_is_written(
    repository: PaymentRepository,
) -> None:
    """Saving a payment with another payment's action raises ValueError; neither payment
    changes and the action is stored nowhere."""
    payment, refund = a_refund(repository, 300)
    other = stored_payment(repository, PAID)

    with pytest.raises(ValueError):
        repository.save(other, [refund])

    assert (0, 1) == (repository.get(payment.id).refund_count, repository.get(other.id).version)
    assert ([], []) == (list(repository.actions(payment.id)), list(repository.actions(other.id)))


def test_settling_an_action_writes_its_end_and_its_effect_together(
    repository: PaymentRepository,
) -> None:
    """A refund ended succeeded is saved with its payment: the action is final and the
    payment's pending amount became refunded."""
    payment, refund = a_refund(repository, 300)
    repository.save(payment, [refund])
    payment, refund = repository.get(payment.id), repository.get_action(payment.id, refund.id)

    settle_action(payment, refund, True, ACCEPTED_AT + timedelta(seconds=9))
    repository.save(payment, [refund])

    stored = repository.get(payment.id)
    assert (ActionStatus.SUCCEEDED, 2) == (
        repository.get_action(payment.id, refund.id).status,
        refund.version,
    )
    assert (0, 300, 750) == (
        stored.amount_refund_pending,
        stored.amount_refunded,
        stored.amount_refundable,
    )


def test_actions_are_listed_oldest_first_then_by_id(repository: PaymentRepository) -> None:
    """Actions come back by created_at, and by id among those created at the same moment,
    whatever order they were saved in; a failed one keeps its reason."""
    payment = stored_payment(repository, PAID)
    at = ACCEPTED_AT + timedelta(seconds=5)
    earlier = ACCEPTED_AT + timedelta(seconds=3)
    ids = [UUID(int=3), UUID(int=1), UUID(int=2)]
    refunds = [request_refund(payment, 100, None, at, action_id=i).action for i in ids]
    first = request_refund(payment, 100, None, earlier, action_id=UUID(int=9)).action
    repository.save(payment, [*refunds, first])
    settle_action(payment, first, False, at, ActionFailureReason.REJECTED_BY_BANK)
    repository.save(payment, [first])

    listed = list(repository.actions(payment.id))

    assert [UUID(int=9), UUID(int=1), UUID(int=2), UUID(int=3)] == [a.id for a in listed]
    assert ActionFailureReason.REJECTED_BY_BANK == listed[0].failure_reason


def test_a_void_reads_back_with_its_cancellation_reason(repository: PaymentRepository) -> None:
    """A void action round-trips with its cancellation reason and the authorised amount."""
    payment = stored_payment(repository, AUTHORIZED, capture_method=CaptureMethod.MANUAL)
    void = request_void(payment, LATER, action_id=uuid4()).action

    repository.save(payment, [void])

    assert void == repository.get_action(payment.id, void.id)


def test_unknown_actions_and_payments_are_not_found(repository: PaymentRepository) -> None:
    """get_action of an unknown action raises ActionNotFound; of an unknown payment, and
    actions of one, PaymentNotFound; a payment without actions lists none."""
    payment = stored_payment(repository, PAID)

    with pytest.raises(ActionNotFound):
        repository.get_action(payment.id, uuid4())
    with pytest.raises(PaymentNotFound):
        repository.get_action(uuid4(), uuid4())
    with pytest.raises(PaymentNotFound):
        repository.actions(uuid4())
    assert [] == list(repository.actions(payment.id))


def test_a_payment_with_a_pending_refund_stays_in_open_payments_until_it_ends(
    repository: PaymentRepository,
) -> None:
    """A succeeded payment leaves the index, comes back with a pending refund (due at its
    request) and leaves again once the refund has ended."""
    payment, refund = a_refund(repository, 300)
    due = ACCEPTED_AT + timedelta(hours=1)
    before = [p.id for p in repository.open_payments(due, limit=10)]
    repository.save(payment, [refund])
    while_pending = [(p.id, p.next_check_at) for p in repository.open_payments(due, limit=10)]
    settle_action(payment, refund, True, LATER)
    repository.save(payment, [refund])
    assert ([], [(payment.id, refund.created_at)], []) == (
        before,
        while_pending,
        list(repository.open_payments(due, limit=10)),
    )


def test_an_authorised_payment_is_due_at_its_capture_before(repository: PaymentRepository) -> None:
    """An authorisation is found by the reconciler at capture_before, not before."""
    payment = stored_payment(repository, AUTHORIZED, capture_method=CaptureMethod.MANUAL)
    assert payment.capture_before is not None
    just_before = payment.capture_before - timedelta(seconds=1)
    assert ([], [payment.id]) == (
        [p.id for p in repository.open_payments(just_before, limit=10)],
        [p.id for p in repository.open_payments(payment.capture_before, limit=10)],
    )


def test_an_actions_acceptance_by_the_bank_round_trips(repository: PaymentRepository) -> None:
    """`sent_at` (the bank's 202 for the action) reads back as written."""
    payment, refund = a_refund(repository, 300)
    repository.save(payment, [refund])
    refund.record_bank_acceptance(LATER)
    repository.save(payment, [refund])
    assert LATER == repository.get_action(payment.id, refund.id).sent_at
