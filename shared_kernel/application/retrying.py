"""Optimistic concurrency: re-read and re-apply a change when someone else wrote first."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from shared_kernel.application.errors import ConcurrentUpdate
from shared_kernel.application.ports import PaymentRepository
from shared_kernel.domain.payment import PaymentRequest

MAX_ATTEMPTS = 5


def update_payment(
    repository: PaymentRepository,
    payment_id: UUID,
    change: Callable[[PaymentRequest], bool],
    first: PaymentRequest | None = None,
) -> PaymentRequest:
    """Apply `change` (which says whether it changed anything) and save it conditionally.

    On a concurrent write the payment is read again and `change` re-applied, so the
    change is decided against the latest state; domain errors propagate unchanged.
    """
    payment = first if first is not None else repository.get(payment_id)
    for _ in range(MAX_ATTEMPTS - 1):
        if not change(payment):
            return payment
        try:
            repository.save(payment)
            return payment
        except ConcurrentUpdate:
            payment = repository.get(payment_id)
    if change(payment):
        repository.save(payment)
    return payment


def update_payment_unless_moved(
    repository: PaymentRepository,
    payment_id: UUID,
    change: Callable[[PaymentRequest], bool],
    first: PaymentRequest | None = None,
) -> None:
    """`update_payment` for bookkeeping that may give way: if the payment keeps moving under
    it (every attempt lost a race), leave it; whoever moved it decides what comes next."""
    try:
        update_payment(repository, payment_id, change, first=first)
    except ConcurrentUpdate:
        pass
