"""Use case: read one of a merchant's payments."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared_kernel.application.ports import PaymentRepository
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.payment import PaymentRequest


@dataclass(frozen=True, slots=True)
class GetPayment:
    """Another merchant's payment is reported as not found, never as forbidden."""

    repository: PaymentRepository

    def __call__(self, merchant_id: UUID, payment_id: UUID) -> PaymentRequest:
        """The payment; raises PaymentNotFound if it does not exist for this merchant."""
        payment = self.repository.get(payment_id)
        if payment.merchant_id != merchant_id:
            raise PaymentNotFound(str(payment_id))
        return payment
