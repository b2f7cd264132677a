"""The forward lease on DynamoDB, raced on the local stack's emulator (local/emulator.py: moto
with DynamoDB requests applied one at a time, as DynamoDB applies them to an item; bare moto
server can let two racing conditional writes pass): of claims made from one read exactly one
is stored, and of ten deliveries of one payment at once exactly one POSTs it to the bank."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.application.errors import ConcurrentUpdate, ForwardingInProgress
from shared_kernel.application.forward_payment import ForwardPayment
from shared_kernel.application.ports import BankAcceptance, BankPaymentRequest, QueuedPayment
from shared_kernel.domain.action import PaymentAction
from shared_kernel.domain.card import CardSecrets
from shared_kernel.domain.payment import PaymentRequest, PaymentStatus
from tests.unit.fakes import FixedClock, ReversibleCipher

from .test_dynamodb_payments import ACCEPTED_AT, a_payment

pytestmark = pytest.mark.integration

THREADS = 10  # the forwarder's batch size: a batch could hold every copy of one message
LEASE = timedelta(seconds=30)
NOW = ACCEPTED_AT + timedelta(seconds=2)


def stored_pending(repository: DynamoPaymentRepository, cipher: ReversibleCipher) -> UUID:
    """A pending payment with its card sealed by `cipher`, added; its id."""
    payment = a_payment()
    payment.sealed_card = cipher.seal(
        CardSecrets("4242424242424242", "123"), payment.id, payment.merchant_id
    )
    repository.add(payment)
    return payment.id


class ReadTogether:
    """The adapter, with every thread's first read held until all THREADS have read: they
    all decide on the same version. Counts the saves that lost a race."""

    def __init__(self, repository: DynamoPaymentRepository) -> None:
        self.repository = repository
        self.barrier = threading.Barrier(THREADS, timeout=30)
        self.local = threading.local()
        self.lost = 0
        self.reads: list[PaymentRequest] = []
        self._lock = threading.Lock()

    def get(self, payment_id: UUID) -> PaymentRequest:
        """Read; a thread's first read waits for every other thread's."""
        payment = self.repository.get(payment_id)
        if not getattr(self.local, "has_read", False):
            self.local.has_read = True
            with self._lock:
                self.reads.append(payment.copy())  # as read, before the caller changes it
            self.barrier.wait()
        return payment

    def save(self, payment: PaymentRequest, actions: Sequence[PaymentAction] = ()) -> None:
        """Save; a ConcurrentUpdate is counted and raised."""
        try:
            self.repository.save(payment, actions)
        except ConcurrentUpdate:
            with self._lock:
                self.lost += 1
            raise


class CountingBank:
    """A bank that records each POST and holds its 202 until `others_done` is set (every
    other delivery has ended) or 10 s have passed: the first POST is in flight meanwhile."""

    def __init__(self) -> None:
        self.posts: list[UUID] = []
        self.others_done = threading.Event()
        self._lock = threading.Lock()

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Record the POST, then accept it once the other deliveries are over."""
        with self._lock:
            self.posts.append(request.payment_id)
        self.others_done.wait(timeout=10)
        return BankAcceptance(f"bank-{request.payment_id}")

    def status_of(self, payment_id: UUID) -> None:
        """Never asked here."""
        raise AssertionError("no status query expected")


def test_of_claims_racing_from_one_read_exactly_one_is_stored(
    raced_repository: DynamoPaymentRepository,
) -> None:
    """THREADS threads read the payment together, each claims the lease with its own end and
    saves: one conditional UpdateItem passes, the others raise ConcurrentUpdate, and the
    stored lease is the winner's."""
    repository = ReadTogether(raced_repository)
    payment_id = stored_pending(raced_repository, ReversibleCipher())

    def claim(n: int) -> tuple[bool, timedelta]:
        payment = repository.get(payment_id)
        end = LEASE + timedelta(milliseconds=n)
        assert payment.lease_forwarding(NOW, NOW + end)
        try:
            repository.save(payment)
        except ConcurrentUpdate:
            return False, end
        return True, end

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        claims = list(pool.map(claim, range(THREADS)))

    won = [end for ok, end in claims if ok]
    stored = raced_repository.get(payment_id)
    print(f"\nracing claims: {THREADS} -> won {len(won)}, lost {repository.lost}")
    assert (1, THREADS - 1, THREADS) == (len(won), repository.lost, len(repository.reads))
    assert (NOW + won[0], 1) == (stored.forward_lease_until, stored.version)


def test_ten_concurrent_deliveries_of_one_payment_make_one_bank_post(
    raced_repository: DynamoPaymentRepository,
) -> None:
    """THREADS deliveries of one pending payment run at once and all read it pending with its
    card (the fault: each, unguarded, would POST): one claims the lease and POSTs, the others
    lose the claim's race and, while that POST is in flight, are told to retry when the lease
    ends; the payment is processing, its lease cleared, and the bank got one POST."""
    cipher = ReversibleCipher()
    payment_id = stored_pending(raced_repository, cipher)
    repository = ReadTogether(raced_repository)
    bank = CountingBank()
    forward = ForwardPayment(repository, bank, cipher, FixedClock(NOW), lease=LEASE)
    stored = raced_repository.get(payment_id)
    message = QueuedPayment(payment_id, stored.merchant_id, "corr-race")

    ended: list[str] = []

    def deliver(_: int) -> str:
        try:
            outcome = forward(message).value
        except ForwardingInProgress as busy:
            outcome = f"retry in {busy.retry_in_s:.0f}s"
        ended.append(outcome)
        if len(ended) == THREADS - 1:
            bank.others_done.set()
        return outcome

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(deliver, range(THREADS)))

    after = raced_repository.get(payment_id)
    pending_reads = [p for p in repository.reads if p.awaits_forwarding]
    print(
        f"\nconcurrent deliveries: {THREADS} read pending {len(pending_reads)},"
        f" claims lost {repository.lost}, bank POSTs {len(bank.posts)}: {sorted(outcomes)}"
    )
    assert (THREADS, THREADS - 1) == (len(pending_reads), repository.lost)
    assert ["accepted", *["retry in 30s"] * (THREADS - 1)] == sorted(outcomes)
    assert ([payment_id], PaymentStatus.PROCESSING, None) == (
        bank.posts,
        after.status,
        after.forward_lease_until,
    )
