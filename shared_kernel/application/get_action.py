"""Use cases: read one of a payment's actions, list them all (SPEC §8); another merchant's
payment is not found, never forbidden."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from shared_kernel.application.ports import PaymentRepository
from shared_kernel.domain.action import PaymentAction
from shared_kernel.domain.errors import PaymentNotFound


@dataclass(frozen=True, slots=True)
class GetAction:
    """One action of one of the merchant's payments."""

    repository: PaymentRepository

    def __call__(self, merchant_id: UUID, payment_id: UUID, action_id: UUID) -> PaymentAction:
        """The action; raises PaymentNotFound (no such payment of this merchant) or
        ActionNotFound (no such action of the payment)."""
        action = self.repository.get_action(payment_id, action_id)
        if action.merchant_id != merchant_id:
            raise PaymentNotFound(str(payment_id))
        return action


@dataclass(frozen=True, slots=True)
class ListActions:
    """Every action of one of the merchant's payments, oldest first."""

    repository: PaymentRepository

    def __call__(self, merchant_id: UUID, payment_id: UUID) -> Sequence[PaymentAction]:
        """The actions (created_at, then id); raises PaymentNotFound (no such payment of
        this merchant)."""
        actions = self.repository.actions(payment_id)
        # The actions name their merchant; a payment without any is read to learn its own.
        owner = actions[0].merchant_id if actions else self.repository.get(payment_id).merchant_id
        if owner != merchant_id:
            raise PaymentNotFound(str(payment_id))
        return actions
