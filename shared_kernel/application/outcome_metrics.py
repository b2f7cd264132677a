"""The payments-by-final-status metric, counted once per payment by the change that made it
final (the forwarder, the callback or the reconciler, whichever wrote first)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from shared_kernel.application.ports import Metrics, PaymentRepository
from shared_kernel.application.retrying import update_payment
from shared_kernel.domain.payment import PaymentRequest

PAYMENTS_FINALISED = "PaymentsFinalised"


def update_counting_final(
    metrics: Metrics,
    repository: PaymentRepository,
    payment_id: UUID,
    change: Callable[[PaymentRequest], bool],
    first: PaymentRequest | None = None,
) -> PaymentRequest:
    """`update_payment`, then count `PaymentsFinalised` by status and reason (decline or
    failure reason, `none` for a success) if the saved change is what made the payment final.
    A change re-applied after a concurrent write counts only for its last, saved, application."""
    made_final = False

    def counted(payment: PaymentRequest) -> bool:
        nonlocal made_final
        was_final = payment.status.is_final
        changed = change(payment)
        made_final = changed and not was_final and payment.status.is_final
        return changed

    payment = update_payment(repository, payment_id, counted, first=first)
    if made_final:
        reason = payment.decline_reason or payment.failure_reason
        metrics.count(
            PAYMENTS_FINALISED,
            status=payment.status.value,
            reason=reason.value if reason is not None else "none",
        )
    return payment
