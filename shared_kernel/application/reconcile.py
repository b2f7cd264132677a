"""Use case: find payments stuck on the way and move them on (SPEC §6).

* `pending` payments older than a threshold were never queued, or their message was
  lost: queue them again (forwarding is idempotent, so a duplicate message is harmless).
* `processing` payments whose callback has not come: ask the bank and apply its answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from shared_kernel.application.ports import (
    AcquiringBank,
    Clock,
    PaymentQueue,
    PaymentRepository,
    QueuedPayment,
    QueueUnavailable,
)
from shared_kernel.application.retrying import update_payment
from shared_kernel.domain.errors import BankUnavailable, InvalidTransition
from shared_kernel.domain.payment import PaymentRequest, PaymentStatus

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciler run did, by count."""

    requeued: int = 0
    settled: int = 0
    still_processing: int = 0
    unreachable: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reconcile:
    """One pass over the open payments, bounded by `batch_limit` per status."""

    repository: PaymentRepository
    queue: PaymentQueue
    bank: AcquiringBank
    clock: Clock
    pending_after: timedelta = timedelta(seconds=30)
    processing_after: timedelta = timedelta(seconds=60)
    batch_limit: int = 500

    def __call__(self) -> ReconcileReport:
        """Requeue stale pending payments and query the bank about stale processing ones."""
        report = ReconcileReport()
        now = self.clock.now()
        for payment in self.repository.open_payments(
            PaymentStatus.PENDING, now - self.pending_after, self.batch_limit
        ):
            try:
                self.queue.publish(
                    QueuedPayment(payment.id, payment.merchant_id, _correlation(payment))
                )
                report.requeued += 1
            except QueueUnavailable:
                report.notes.append("queue unavailable")
                break
        for payment in self.repository.open_payments(
            PaymentStatus.PROCESSING, now - self.processing_after, self.batch_limit
        ):
            self._ask_bank(payment, report)
        return report

    def _ask_bank(self, payment: PaymentRequest, report: ReconcileReport) -> None:
        try:
            answer = self.bank.status_of(payment.id)
        except BankUnavailable:
            report.unreachable += 1
            return
        if answer is None or answer.outcome.status is PaymentStatus.PROCESSING:
            report.still_processing += 1
            if answer is None:
                logger.error("bank has no record of a processing payment")
            return
        now = self.clock.now()
        try:
            update_payment(
                self.repository,
                payment.id,
                lambda p: p.apply(answer.outcome, now, answer.bank_reference),
                first=payment,
            )
            report.settled += 1
        except InvalidTransition:
            # A callback settled it differently in the meantime: the first final state wins.
            logger.warning("bank answer conflicts with the stored final state")


def _correlation(payment: PaymentRequest) -> str:
    return payment.correlation_id or str(payment.id)
