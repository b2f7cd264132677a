"""The forward lease: of two deliveries of one payment (its message and the reconciler's
requeue of it) only one POSTs it to the bank; the other comes back when the lease ends."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankRejected, BankUnavailable, ForwardingInProgress
from shared_kernel.application.forward_delivery import Done, ForwardDelivery, RetryAfter
from shared_kernel.application.forward_payment import ForwardPayment, ForwardResult
from shared_kernel.application.ports import BankAcceptance, BankPaymentRequest, QueuedPayment
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.domain.payment import FailureReason, PaymentRequest, PaymentStatus

from .builders import CREATED_AT, MERCHANT_ID, PAID, PAYMENT_ID, PROCESSING, pending_payment
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
)

pytestmark = pytest.mark.unit

MESSAGE = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")
REQUEUED = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")
LEASE = timedelta(seconds=30)
BACKOFF = Backoff(2.0, 300.0, lambda: 1.0)
NOW = CREATED_AT + timedelta(seconds=2)


@pytest.fixture
def leasing(forward: ForwardPayment) -> ForwardPayment:
    """The forwarding use case (one pending payment stored) with a 30 s lease."""
    return replace(forward, lease=LEASE)


# --- the domain rule -------------------------------------------------------------------


def test_a_pending_payment_is_leased_until_the_given_time_without_a_visible_change(
    cipher: ReversibleCipher,
) -> None:
    """lease_forwarding on a pending payment with its card sets the lease; `updated_at` and the
    events (what a merchant sees) stay as they were."""
    payment = pending_payment(cipher)

    claimed = payment.lease_forwarding(NOW, NOW + LEASE)

    assert (True, NOW + LEASE, CREATED_AT, []) == (
        claimed,
        payment.forward_lease_until,
        payment.updated_at,
        payment.pull_events(),
    )


def test_a_live_lease_refuses_another_claim_and_an_expired_one_does_not(
    cipher: ReversibleCipher,
) -> None:
    """A second claim before the lease ends is refused (the lease kept); at its end it is free."""
    payment = pending_payment(cipher)
    payment.lease_forwarding(NOW, NOW + LEASE)

    refused = payment.lease_forwarding(NOW + LEASE - timedelta(microseconds=1), NOW + 2 * LEASE)
    kept = payment.forward_lease_until
    taken = payment.lease_forwarding(NOW + LEASE, NOW + 2 * LEASE)

    assert (False, NOW + LEASE, True, NOW + 2 * LEASE) == (
        refused,
        kept,
        taken,
        payment.forward_lease_until,
    )


def test_a_payment_that_no_longer_awaits_forwarding_cannot_be_leased(
    cipher: ReversibleCipher,
) -> None:
    """Processing (the bank has it) or without its card, a payment is never leased."""
    processing = pending_payment(cipher)
    processing.apply(PROCESSING, NOW)
    no_card = pending_payment(cipher)
    no_card.sealed_card = None

    assert (False, False, None, None) == (
        processing.lease_forwarding(NOW, NOW + LEASE),
        no_card.lease_forwarding(NOW, NOW + LEASE),
        processing.forward_lease_until,
        no_card.forward_lease_until,
    )


def test_the_bank_s_answer_clears_the_lease(cipher: ReversibleCipher) -> None:
    """The 202's record, a status change (a callback) and a failure each clear the lease."""
    cleared = []
    for record in (
        lambda p: p.record_bank_acceptance("bank-1", NOW),
        lambda p: p.apply(PAID, NOW),
        lambda p: p.fail(FailureReason.BANK_REJECTED, NOW),
    ):
        payment = pending_payment(cipher)
        payment.lease_forwarding(NOW, NOW + LEASE)
        record(payment)
        cleared.append(payment.forward_lease_until)

    assert [None, None, None] == cleared


# --- two deliveries at once --------------------------------------------------------------


@dataclass
class BankRunningASecondDelivery:
    """A bank that, while the first POST is in flight, lets a second delivery of the same
    payment run from start to end (two forwarder invocations at once), recording what the
    second delivery read and how it ended."""

    bank: ScriptedBank
    repository: InMemoryPaymentRepository
    second: ForwardDelivery | None = None
    read_by_second: PaymentRequest | None = None
    second_outcome: Done | RetryAfter | None = None
    posts_when_second_ran: int | None = None
    requests: list[BankPaymentRequest] = field(default_factory=list)

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Record the POST; on the first, run the second delivery before answering 202."""
        self.requests.append(request)
        if self.second is not None and self.posts_when_second_ran is None:
            self.posts_when_second_ran = len(self.requests)
            self.read_by_second = self.repository.get(request.payment_id)
            self.second_outcome = self.second(REQUEUED, 1)
        return self.bank.submit(request)

    def status_of(self, payment_id: object) -> None:
        """Never asked in these tests."""
        raise AssertionError("no status query expected")


def test_two_concurrent_deliveries_of_one_payment_post_it_once(
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """A second delivery running while the first one's POST is in flight (it read the payment
    pending with its card: without the lease it would POST too) does not POST: it is retried
    when the lease ends; then the payment is processing and the retry is done. One POST."""
    repository.add(pending_payment(cipher))
    clock.set(NOW)
    racing = BankRunningASecondDelivery(bank, repository)
    forward = ForwardPayment(repository, racing, cipher, clock, lease=LEASE)
    racing.second = ForwardDelivery(forward, BACKOFF, max_attempts=6)
    first = ForwardDelivery(forward, BACKOFF, max_attempts=6)

    first_outcome = first(MESSAGE, 1)
    clock.advance(LEASE)
    retried = racing.second(REQUEUED, 2)

    # The fault fired: the second delivery ran inside the first POST, on a payment pending
    # with its card, as the reconciler's requeue does beside a message still in a backlog.
    assert racing.read_by_second is not None
    assert (1, PaymentStatus.PENDING, True) == (
        racing.posts_when_second_ran,
        racing.read_by_second.status,
        racing.read_by_second.sealed_card is not None,
    )
    assert (Done(ForwardResult.ACCEPTED), RetryAfter(LEASE.total_seconds())) == (
        first_outcome,
        racing.second_outcome,
    )
    assert (Done(ForwardResult.ALREADY_FORWARDED), 1, PaymentStatus.PROCESSING) == (
        retried,
        len(racing.requests),
        repository.get(PAYMENT_ID).status,
    )


def test_of_two_deliveries_that_read_the_payment_together_only_the_first_claim_posts(
    leasing: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """Another delivery claims the lease between this one's read and its claim: this claim's
    conditional write loses, the payment read again shows the live lease, and this delivery
    raises ForwardingInProgress for the rest of that lease without POSTing."""
    theirs = NOW + timedelta(seconds=20)
    repository.interleave(lambda p: p.lease_forwarding(NOW, theirs))

    with pytest.raises(ForwardingInProgress) as raised:
        leasing(MESSAGE)

    assert (20.0, [], theirs) == (
        raised.value.retry_in_s,
        bank.requests,
        repository.get(PAYMENT_ID).forward_lease_until,
    )


def test_a_lease_left_by_a_crashed_delivery_expires_and_the_payment_is_sent(
    leasing: ForwardPayment,
    bank: ScriptedBank,
    repository: InMemoryPaymentRepository,
    clock: FixedClock,
) -> None:
    """A delivery killed after its claim leaves the lease; once it has ended, the next
    delivery claims it and the bank gets the payment."""
    crashed = repository.get(PAYMENT_ID)
    crashed.lease_forwarding(NOW - LEASE, NOW)
    repository.save(crashed)

    result = leasing(MESSAGE)

    assert (ForwardResult.ACCEPTED, 1, None) == (
        result,
        bank.charges_of(PAYMENT_ID),
        repository.get(PAYMENT_ID).forward_lease_until,
    )


def test_a_failed_attempt_releases_the_lease_for_its_retry(
    leasing: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """After a 503 the lease is released at once: the retry, sooner than the lease's end,
    POSTs again with the same payment id, and the 202 is recorded."""
    bank.then(BankUnavailable("503"))
    with pytest.raises(BankUnavailable):
        leasing(MESSAGE)
    released = repository.get(PAYMENT_ID).forward_lease_until

    retried = leasing(MESSAGE)

    assert (None, ForwardResult.ACCEPTED, 2) == (released, retried, bank.charges_of(PAYMENT_ID))


def test_a_final_attempt_whose_status_query_fails_releases_the_lease(
    leasing: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """A final attempt that cannot learn the outcome (POST and status query both unavailable)
    raises BankUnavailable and releases the lease for the next attempt."""
    bank.then(BankUnavailable("timeout"))
    bank.unreachable = True

    with pytest.raises(BankUnavailable):
        leasing(MESSAGE, final_attempt=True)

    stored = repository.get(PAYMENT_ID)
    assert (PaymentStatus.PENDING, None) == (stored.status, stored.forward_lease_until)


def test_a_rejected_payment_fails_and_keeps_no_lease(
    leasing: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """The bank's 400: the payment fails, its lease gone with the write of the failure."""
    bank.then(BankRejected("400"))

    result = leasing(MESSAGE)

    stored = repository.get(PAYMENT_ID)
    assert (ForwardResult.REJECTED, PaymentStatus.FAILED, None) == (
        result,
        stored.status,
        stored.forward_lease_until,
    )


def test_the_reconciler_forwarding_directly_gives_way_to_a_live_lease(
    leasing: ForwardPayment,
    bank: ScriptedBank,
    repository: InMemoryPaymentRepository,
    clock: FixedClock,
) -> None:
    """A payment past its requeue bound whose queued delivery holds the lease is not sent by
    the reconciler: its next check moves to the lease's end, no attempt is counted."""
    payment = repository.get(PAYMENT_ID)
    payment.reconcile_attempts = 5
    payment.next_check_at = CREATED_AT
    repository.save(payment)
    clock.set(CREATED_AT + timedelta(minutes=5))
    leased = repository.get(PAYMENT_ID)
    leased.lease_forwarding(clock.now(), clock.now() + LEASE)
    repository.save(leased)
    reconcile = Reconcile(
        repository,
        InMemoryPaymentQueue(),
        bank,
        clock,
        forward=lambda: leasing,
        pending_after=timedelta(seconds=30),
        max_requeues=5,
    )

    reconcile()

    stored = repository.get(PAYMENT_ID)
    assert ([], clock.now() + LEASE, 5) == (
        bank.requests,
        stored.next_check_at,
        stored.reconcile_attempts,
    )
