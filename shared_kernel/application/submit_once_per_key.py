"""Use case: submit a merchant's payment, once per Idempotency-Key when the request has one.

Without a key every request is a new payment (SubmitPayment). With one, IdempotentSubmit
runs the submission at most once per (merchant, key) under its claim's submission id, and a
repeat is answered with the payment stored under that id, as it was first answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

from shared_kernel.application.get_payment import GetPayment
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.payment import PaymentRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    """A merchant's request to accept a payment: the submit body's fields (holding card data:
    never log it), the correlation id and the Idempotency-Key (None when absent)."""

    merchant_id: UUID
    fields: Mapping[str, object]
    correlation_id: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """The payment the submission stored, and whether it was stored by an earlier request
    with the same key (a replay)."""

    payment: PaymentRequest
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class SubmitOncePerKey:
    """Submit; with an Idempotency-Key, once per (merchant, key) within its retention."""

    submit: SubmitPayment
    get_payment: GetPayment
    # Built on the first request with a key only: it reads a secret and binds a table.
    idempotent: Callable[[], IdempotentSubmit]

    def __call__(self, request: Submission) -> Submitted:
        """The payment accepted for the request, or the one an earlier request with its key
        stored (replayed).

        Raises ValidationError naming every bad field, IdempotencyKeyReused (the key came
        with another body) or IdempotencyInProgress (its first request is still running).
        """
        key = request.idempotency_key
        if key is None:
            return Submitted(self._submit(request, None, resume=False))
        answer = self.idempotent()(
            request.merchant_id,
            key,
            request.fields,
            lambda submission_id, resume: self._submit(request, submission_id, resume),
            lambda submission_id: self._stored(request.merchant_id, submission_id),
        )
        return Submitted(answer.answer, answer.replayed)

    def _submit(self, request: Submission, payment_id: UUID | None, resume: bool) -> PaymentRequest:
        payment = self.submit(
            request.merchant_id,
            request.fields,
            request.correlation_id,
            payment_id=payment_id,
            resume=resume,
        )
        logger.info("payment accepted", extra={"payment_id": str(payment.id)})
        return payment

    def _stored(self, merchant_id: UUID, payment_id: UUID) -> PaymentRequest | None:
        # Never another merchant's payment: GetPayment hides it, so the claim counts as
        # having no payment yet.
        try:
            return self.get_payment(merchant_id, payment_id)
        except PaymentNotFound:
            return None
