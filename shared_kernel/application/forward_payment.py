"""Use case: send a queued payment to the acquiring bank, exactly once in effect."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from shared_kernel.application.errors import BankRejected, BankUnavailable
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
    (the queue redelivers the message after its visibility timeout).
    """

    repository: PaymentRepository
    bank: AcquiringBank
    cipher: CardCipher
    clock: Clock
    metrics: Metrics = NO_METRICS
    # How long after a failed attempt the message's next delivery may still be running (the
    # longest back-off plus an attempt's bank calls). Until then the reconciler must not
    # requeue the payment: a second message would be a second delivery running beside the
    # first, POSTing again while the first may already have the bank's 202. Zero: no hold.
    retry_horizon: timedelta = timedelta(0)
    # How long an authorisation the bank reports on a final attempt can be captured.
    authorization_validity: timedelta = AUTHORIZATION_VALIDITY

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
        if payment.status is not PaymentStatus.PENDING or payment.sealed_card is None:
            return ForwardResult.ALREADY_FORWARDED

        request = BankPaymentRequest(
            payment_id=payment.id,
            merchant_id=payment.merchant_id,
            card=self.cipher.unseal(payment.sealed_card, payment.id, payment.merchant_id),
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

    def _hold_reconciler(self, payment: PaymentRequest) -> None:
        # Only on this failure path: one conditional write moving the reconciler's next look
        # past the retry (never earlier). A lost race means the payment moved on: nothing to do.
        if self.retry_horizon <= timedelta(0):
            return
        until = self.clock.now() + self.retry_horizon
        update_payment_unless_moved(
            self.repository, payment.id, lambda p: p.hold_check_until(until), first=payment
        )

    def _give_up(self, payment: PaymentRequest) -> ForwardResult:
        # Earlier attempts may have reached the bank (a timeout is an unknown outcome), so
        # ask before failing: never fail a payment the bank may have charged.
        report = self.bank.status_of(payment.id)
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
