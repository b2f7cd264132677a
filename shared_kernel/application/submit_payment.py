"""Use case: accept a merchant's payment, store it durably, then queue it for the bank."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.ports import (
    NO_METRICS,
    CardCipher,
    CardFingerprinter,
    Clock,
    IdGenerator,
    Metrics,
    PaymentQueue,
    PaymentRepository,
    QueuedPayment,
)
from shared_kernel.domain.errors import PaymentNotFound
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
    fingerprint: CardFingerprinter | None = None
    # When the reconciler first looks at a payment still pending: its `pending_after`.
    first_check_after: timedelta = timedelta(seconds=30)
    metrics: Metrics = NO_METRICS

    def __call__(
        self,
        merchant_id: UUID,
        fields: Mapping[str, object],
        correlation_id: str,
        *,
        payment_id: UUID | None = None,
        resume: bool = False,
    ) -> PaymentRequest:
        """Accept the payment; raises ValidationError naming every bad field.

        `payment_id` is the id to store it under (a new one when None). With `resume`, an
        earlier attempt with that id may have died after storing it: a payment of this
        merchant already stored under the id is returned as is, and nothing is stored again.
        """
        now = self.clock.now()
        draft = draft_payment(fields, now.date())
        if payment_id is None:
            payment_id = self.new_id()
        elif resume:
            stored = self._stored(payment_id, merchant_id)
            if stored is not None:
                return stored
        payment = PaymentRequest.accept(
            payment_id=payment_id,
            merchant_id=merchant_id,
            draft=draft,
            sealed_card=self.cipher.seal(draft.secrets, payment_id, merchant_id),
            now=now,
            first_check_after=self.first_check_after,
            correlation_id=correlation_id,
            card_fingerprint=self.fingerprint(draft.secrets.number) if self.fingerprint else None,
        )
        self.repository.add(payment)
        self.metrics.count("PaymentsAccepted")
        try:
            self.queue.publish(QueuedPayment(payment.id, merchant_id, correlation_id))
        except QueueUnavailable:
            # The payment is stored as pending: the reconciler queues it within a minute.
            self.metrics.count("PaymentsLeftUnqueued")
            logger.warning("queue unavailable; left for the reconciler", exc_info=True)
        return payment

    def _stored(self, payment_id: UUID, merchant_id: UUID) -> PaymentRequest | None:
        try:
            payment = self.repository.get(payment_id)
        except PaymentNotFound:
            return None
        return payment if payment.merchant_id == merchant_id else None
