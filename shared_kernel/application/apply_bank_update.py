"""Use case: apply a status update the bank sent to the callback endpoint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from shared_kernel.application.outcome_metrics import update_counting_final
from shared_kernel.application.ports import NO_METRICS, Clock, Metrics, PaymentRepository
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.payment import AUTHORIZATION_VALIDITY, Outcome, PaymentRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BankUpdate:
    """A verified, schema-valid bank callback, mapped to the gateway's outcome."""

    payment_id: UUID
    merchant_id: UUID
    outcome: Outcome
    bank_reference: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ApplyBankUpdate:
    """Duplicates apply once; moves out of a final state or backwards raise InvalidTransition;
    concurrent updates of one payment are serialised by conditional writes."""

    repository: PaymentRepository
    clock: Clock
    metrics: Metrics = NO_METRICS
    # How long an authorisation can be captured from the AUTHORIZED update applied.
    authorization_validity: timedelta = AUTHORIZATION_VALIDITY

    def __call__(self, update: BankUpdate) -> bool:
        """Apply the update; True if the payment changed, False if it already had that status.

        Raises PaymentNotFound (unknown payment or another merchant's) or InvalidTransition.
        """
        payment = self.repository.get(update.payment_id)
        if payment.merchant_id != update.merchant_id:
            raise PaymentNotFound(str(update.payment_id))
        changed = False
        now = self.clock.now()

        def transition(p: PaymentRequest) -> bool:
            nonlocal changed
            changed = p.apply(
                update.outcome, now, update.bank_reference, self.authorization_validity
            )
            return changed

        update_counting_final(
            self.metrics, self.repository, update.payment_id, transition, first=payment
        )
        self.metrics.count("BankUpdatesApplied" if changed else "BankUpdatesRepeated")
        # The submit request's correlation id, stored on the payment, joins this line to the
        # API's and the forwarder's lines about the same payment.
        logger.info(
            "bank update applied" if changed else "bank update already applied",
            extra={
                "correlation_id": payment.correlation_id,
                "payment_id": str(update.payment_id),
                "status": update.outcome.status.value,
            },
        )
        return changed
