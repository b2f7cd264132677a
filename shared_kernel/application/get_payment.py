"""Use cases: read one of a merchant's payments; an operator's read of any payment."""

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


@dataclass(frozen=True, slots=True)
class LookUpPayment:
    """An operator's read (support, incidents): any merchant's payment, by its id alone.

    A class of its own rather than GetPayment without a merchant, so that no merchant-facing
    path can reach it by passing None.
    """

    repository: PaymentRepository

    def __call__(self, payment_id: UUID) -> PaymentRequest:
        """The payment; raises PaymentNotFound if there is none with this id."""
        return self.repository.get(payment_id)
