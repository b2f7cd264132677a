"""Use case: send a queued payment to the acquiring bank, exactly once in effect.

One payment can have two messages in the queue (the reconciler requeues a payment pending too
long, e.g. while its first message waits in a backlog), and the two can be delivered at the
same time. Before it POSTs, a delivery therefore claims the payment's forward lease with one
conditional write at the version it read (`PaymentRequest.lease_forwarding`); of two racing
claims one wins, and a delivery that finds a live lease does not POST but is retried when the
lease ends (ForwardingInProgress), by which time the payment has usually moved on. The write
that records the bank's answer clears the lease; a lease left by a crash expires by itself.
See docs/decisions.md ("Why a forward lease").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared_kernel.application.errors import (
    BankRejected,
    BankUnavailable,
    ForwardingInProgress,
)
from shared_kernel.application.outcome_metrics import update_counting_final
from shared_kernel.application.ports import (
    NO_METRICS,
    AcquiringBank,
    BankPaymentRequest,
    CardCipher,
    Clock,
    Metrics,
    PaymentRepository,
    QueuedPayment,
)
from shared_kernel.application.retrying import update_payment, update_payment_unless_moved
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.payment import (
    AUTHORIZATION_VALIDITY,
    CaptureMethod,
    FailureReason,
    PaymentRequest,
    PaymentStatus,
)

logger = logging.getLogger(__name__)

# The production lease (bootstrap derives it from the bank timeouts): two bank calls of 2 s
# connect + 8 s read, the POST and a final attempt's status query, plus 10 s of margin.
DEFAULT_FORWARD_LEASE = timedelta(seconds=30)


class ForwardResult(StrEnum):
    """What forwarding did with one message; every value means the message is done."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALREADY_FORWARDED = "already_forwarded"
    UNKNOWN_PAYMENT = "unknown_payment"
    GAVE_UP = "gave_up"
    FOUND_AT_BANK = "found_at_bank"


@dataclass(frozen=True, slots=True)
class ForwardPayment:
    """Forward one payment. Safe to run twice: the bank request carries the payment id as
    Idempotency-Key and every state change is a conditional write.

    Raises BankUnavailable when the outcome is unknown and another attempt should follow
    (the queue redelivers the message after its visibility timeout), ForwardingInProgress
    when another delivery holds the payment's forward lease (try again when it ends).
    """

    repository: PaymentRepository
    bank: AcquiringBank
    cipher: CardCipher
    clock: Clock
    metrics: Metrics = NO_METRICS
    # How long after a failed attempt the message's next delivery may still be running (the
    # longest back-off plus an attempt's bank calls). Until then the reconciler need not
    # requeue the payment: the retry is coming, and a second message would only be a second
    # delivery to wait behind the forward lease. Zero: no hold.
    retry_horizon: timedelta = timedelta(0)
    # How long an authorisation the bank reports on a final attempt can be captured.
    authorization_validity: timedelta = AUTHORIZATION_VALIDITY
    # How long a delivery holds the payment's forward lease: longer than all the bank calls
    # of one attempt (the POST, then a final attempt's status query), with margin for the
    # writes around them. A lease must never end while its holder may still be POSTing.
    lease: timedelta = DEFAULT_FORWARD_LEASE

    def __call__(self, message: QueuedPayment, final_attempt: bool = False) -> ForwardResult:
        """Send the payment unless it has already been sent; see the class docstring."""
        result = self._forward(message, final_attempt)
        self.metrics.count("PaymentsForwarded", result=result.value)
        return result

    def _forward(self, message: QueuedPayment, final_attempt: bool) -> ForwardResult:
        try:
            payment = self.repository.get(message.payment_id)
        except PaymentNotFound:
            logger.error("queued payment does not exist", extra={"payment_id": message.payment_id})
            return ForwardResult.UNKNOWN_PAYMENT
        if payment.merchant_id != message.merchant_id:
            logger.error("queued payment belongs to another merchant")
            return ForwardResult.UNKNOWN_PAYMENT
        if not payment.awaits_forwarding or payment.sealed_card is None:  # (the type's narrowing)
            return ForwardResult.ALREADY_FORWARDED
        # Before paying for the KMS call: another delivery may be sending it right now.
        self._check_not_leased(payment, self.clock.now())
        card = self.cipher.unseal(payment.sealed_card, payment.id, payment.merchant_id)
        leased = self._claim_lease(payment)
        if leased is None:
            return ForwardResult.ALREADY_FORWARDED
        payment = leased

        request = BankPaymentRequest(
            payment_id=payment.id,
            merchant_id=payment.merchant_id,
            card=card,
            expiry=payment.card.expiry,
            money=payment.money,
            correlation_id=payment.correlation_id,
            capture=payment.capture_method is CaptureMethod.AUTOMATIC,
        )
        try:
            acceptance = self.bank.submit(request)
        except BankRejected:
            self._fail(payment, FailureReason.BANK_REJECTED)
            return ForwardResult.REJECTED
        except BankUnavailable:
            if not final_attempt:
                self._hold_reconciler(payment)
                raise
            return self._give_up(payment)
        now = self.clock.now()
        update_payment(
            self.repository,
            payment.id,
            lambda p: p.record_bank_acceptance(acceptance.bank_reference, now),
            first=payment,
        )
        return ForwardResult.ACCEPTED

    def _check_not_leased(self, payment: PaymentRequest, now: datetime) -> None:
        """Raise ForwardingInProgress if another delivery's lease on `payment` is live."""
        left = payment.forward_lease_left(now)
        if left > timedelta(0):
            raise ForwardingInProgress(left.total_seconds())

    def _claim_lease(self, payment: PaymentRequest) -> PaymentRequest | None:
        """The payment with this delivery's lease on it: one conditional write at the version
        read; a lost race is decided again on the payment as it now is. None if it no longer
        awaits forwarding; ForwardingInProgress if another delivery claimed it first."""
        now = self.clock.now()
        claimed = False

        def claim(p: PaymentRequest) -> bool:
            nonlocal claimed
            claimed = p.lease_forwarding(now, now + self.lease)
            return claimed

        latest = update_payment(self.repository, payment.id, claim, first=payment)
        if claimed:
            return latest
        self._check_not_leased(latest, now)
        return None

    def _hold_reconciler(self, payment: PaymentRequest) -> None:
        # Only on this failure path: one conditional write releasing the lease (the next
        # delivery may send the payment at once) and moving the reconciler's next look past
        # the retry (never earlier). A lost race means the payment moved on: nothing to do.
        until = self.clock.now() + self.retry_horizon

        def release_and_hold(p: PaymentRequest) -> bool:
            released = p.release_forward_lease()
            held = self.retry_horizon > timedelta(0) and p.hold_check_until(until)
            return released or held

        update_payment_unless_moved(self.repository, payment.id, release_and_hold, first=payment)

    def _give_up(self, payment: PaymentRequest) -> ForwardResult:
        # Earlier attempts may have reached the bank (a timeout is an unknown outcome), so
        # ask before failing: never fail a payment the bank may have charged.
        try:
            report = self.bank.status_of(payment.id)
        except BankUnavailable:
            self._hold_reconciler(payment)  # releases the lease for the retry
            raise
        if report is None:
            self._fail(payment, FailureReason.RETRIES_EXHAUSTED)
            return ForwardResult.GAVE_UP
        now = self.clock.now()

        def settle(p: PaymentRequest) -> bool:
            changed = p.record_bank_acceptance(report.bank_reference, now)
            if report.outcome.status is not PaymentStatus.PROCESSING and not p.status.is_final:
                changed = p.apply(report.outcome, now, None, self.authorization_validity) or changed
            return changed

        update_counting_final(self.metrics, self.repository, payment.id, settle, first=payment)
        return ForwardResult.FOUND_AT_BANK

    def _fail(self, payment: PaymentRequest, reason: FailureReason) -> None:
        now = self.clock.now()
        update_counting_final(
            self.metrics, self.repository, payment.id, lambda p: p.fail(reason, now), first=payment
        )
