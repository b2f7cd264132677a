"""Use case: accept a merchant's payment, store it durably, then queue it for the bank."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from shared_kernel.application.ports import (
    CardCipher,
    Clock,
    IdGenerator,
    PaymentQueue,
    PaymentRepository,
    QueuedPayment,
    QueueUnavailable,
)
from shared_kernel.domain.payment import PaymentRequest, draft_payment

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitPayment:
    """Validate, seal the card, store as pending, queue; the reconciler covers a failed queue."""

    repository: PaymentRepository
    queue: PaymentQueue
    cipher: CardCipher
    clock: Clock
    new_id: IdGenerator

    def __call__(
        self, merchant_id: UUID, fields: Mapping[str, object], correlation_id: str
    ) -> PaymentRequest:
        """Accept the payment; raises ValidationError naming every bad field."""
        now = self.clock.now()
        draft = draft_payment(fields, now.date())
        payment_id = self.new_id()
        payment = PaymentRequest.accept(
            payment_id=payment_id,
            merchant_id=merchant_id,
            draft=draft,
            sealed_card=self.cipher.seal(draft.secrets, payment_id, merchant_id),
            now=now,
            correlation_id=correlation_id,
        )
        self.repository.add(payment)
        try:
            self.queue.publish(QueuedPayment(payment.id, merchant_id, correlation_id))
        except QueueUnavailable:
            # The payment is stored as pending: the reconciler queues it within a minute.
            logger.warning("queue unavailable; left for the reconciler", exc_info=True)
        return payment
