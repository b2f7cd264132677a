"""Use cases: a merchant's capture, void or refund of a payment (SPEC §8), once per
Idempotency-Key when the request has one.

A request reads the payment (another merchant's is not found), lets the domain judge it
(`money_movements`: the edge rules' order) and saves the pending action with its
reservation in one conditional write. A lost race (the payment changed since it was read) is
read and judged again, a bounded number of times: the rules may now refuse it (another refund
took the amount). Then the action is queued for the forwarder; if the queue is down it stays
stored and pending, and the reconciler sends it. A refusal stores nothing, also under its
Idempotency-Key (the claim is forgotten), so a retry is judged afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared_kernel.application.errors import ConcurrentUpdate, QueueUnavailable
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.ports import (
    NO_METRICS,
    Clock,
    IdGenerator,
    Metrics,
    PaymentQueue,
    PaymentRepository,
    QueuedPayment,
)
from shared_kernel.domain.action import ActionStatus, ActionType, PaymentAction, RefundReason
from shared_kernel.domain.errors import ActionNotFound, DomainError, PaymentNotFound
from shared_kernel.domain.money_movements import (
    ActionRequested,
    request_capture,
    request_refund,
    request_void,
)
from shared_kernel.domain.payment import PaymentRequest

logger = logging.getLogger(__name__)

# Reads and judgements of one request before it gives up on a payment that keeps changing
# under it. Each lost round means another write of the payment won; the refunds a round can
# lose to end with the rules refusing, so a handful of rounds settles any burst.
MAX_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A merchant's request for an action on a payment: the path's ids, the body's fields
    (already checked against the route's contract), the body itself (hashed for the
    Idempotency-Key), the correlation id and the Idempotency-Key (None when absent)."""

    merchant_id: UUID
    payment_id: UUID
    correlation_id: str
    amount: int | None = None
    reason: RefundReason | None = None
    body: Mapping[str, object] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ActionAccepted:
    """The pending action a request stored, and whether an earlier request with the same
    key stored it (a replay)."""

    action: PaymentAction
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class RequestAction:
    """The flow every action shares; each subclass names its type, its route and what the
    domain is asked."""

    repository: PaymentRepository
    queue: PaymentQueue
    clock: Clock
    new_id: IdGenerator
    # Built on the first request with a key only: it reads a secret and binds a table.
    idempotent: Callable[[], IdempotentSubmit]
    metrics: Metrics = NO_METRICS
    max_rounds: int = MAX_ROUNDS

    type: ClassVar[ActionType]
    # The last segment of the route (`/merchant/{m}/payment/{p}/<route>`).
    route: ClassVar[str]

    def __call__(self, request: ActionRequest) -> ActionAccepted:
        """The pending action accepted for the request, or the one an earlier request with
        its key stored (replayed).

        Raises PaymentNotFound (no such payment of this merchant), an ActionRefused of the
        domain (409: the first edge rule that applies), IdempotencyKeyReused,
        IdempotencyInProgress, or ConcurrentUpdate when the payment kept changing for
        `max_rounds` reads (nothing stored; a retry with the same key is safe).
        """
        key = request.idempotency_key
        if key is None:
            return ActionAccepted(self._request(request, self.new_id(), resumed=False))
        answer = self.idempotent()(
            request.merchant_id,
            key,
            request.body,
            lambda action_id, resumed: self._request(request, action_id, resumed),
            lambda action_id: self._stored(request, action_id),
            route=f"payment/{request.payment_id}/{self.route}",
            refusals=(DomainError,),
        )
        return ActionAccepted(answer.answer, answer.replayed)

    def decide(
        self, payment: PaymentRequest, request: ActionRequest, now: datetime, action_id: UUID
    ) -> ActionRequested:
        """The domain's judgement of the request (raises the refusal)."""
        raise NotImplementedError

    def _request(self, request: ActionRequest, action_id: UUID, resumed: bool) -> PaymentAction:
        if resumed:
            # The claim's first holder died; it may have stored the action before.
            stored = self._stored(request, action_id)
            if stored is not None:
                if stored.status is ActionStatus.PENDING:
                    self._publish(request, stored)
                return stored
        for _ in range(self.max_rounds):
            payment = self.repository.get(request.payment_id)
            if payment.merchant_id != request.merchant_id:
                raise PaymentNotFound(str(request.payment_id))
            requested = self.decide(payment, request, self.clock.now(), action_id)
            try:
                self.repository.save(payment, [requested.action])
            except ConcurrentUpdate:
                continue  # another write of the payment won: read it and judge again
            self.metrics.count("ActionsAccepted", type=self.type.value)
            logger.info(
                "action accepted",
                extra={"action_id": str(action_id), "action_type": self.type.value},
            )
            self._publish(request, requested.action)
            return requested.action
        self.metrics.count("ActionRacesExhausted", type=self.type.value)
        raise ConcurrentUpdate(str(request.payment_id))

    def _publish(self, request: ActionRequest, action: PaymentAction) -> None:
        message = QueuedPayment(
            action.payment_id, action.merchant_id, request.correlation_id, action_id=action.id
        )
        try:
            self.queue.publish(message)
        except QueueUnavailable:
            # The action is stored as pending: the reconciler sends it.
            self.metrics.count("ActionsLeftUnqueued", type=self.type.value)
            logger.warning("queue unavailable; action left for the reconciler", exc_info=True)

    def _stored(self, request: ActionRequest, action_id: UUID) -> PaymentAction | None:
        # Never another merchant's action, nor one of another route: the claim then counts
        # as having stored nothing yet.
        try:
            action = self.repository.get_action(request.payment_id, action_id)
        except (PaymentNotFound, ActionNotFound):
            return None
        if (action.merchant_id, action.type) != (request.merchant_id, self.type):
            return None
        return action


@dataclass(frozen=True, slots=True)
class RequestCapture(RequestAction):
    """Capture all (no amount) or part of an authorised payment."""

    type: ClassVar[ActionType] = ActionType.CAPTURE
    route: ClassVar[str] = "capture"

    def decide(
        self, payment: PaymentRequest, request: ActionRequest, now: datetime, action_id: UUID
    ) -> ActionRequested:
        """request_capture."""
        return request_capture(payment, request.amount, now, action_id=action_id)


@dataclass(frozen=True, slots=True)
class RequestVoid(RequestAction):
    """Release an authorised payment's hold (the merchant's void)."""

    type: ClassVar[ActionType] = ActionType.VOID
    route: ClassVar[str] = "void"

    def decide(
        self, payment: PaymentRequest, request: ActionRequest, now: datetime, action_id: UUID
    ) -> ActionRequested:
        """request_void, for the merchant."""
        return request_void(payment, now, action_id=action_id)


@dataclass(frozen=True, slots=True)
class RequestRefund(RequestAction):
    """Refund part of a succeeded payment, or (no amount) all that is still refundable."""

    type: ClassVar[ActionType] = ActionType.REFUND
    route: ClassVar[str] = "refunds"

    def decide(
        self, payment: PaymentRequest, request: ActionRequest, now: datetime, action_id: UUID
    ) -> ActionRequested:
        """request_refund."""
        return request_refund(payment, request.amount, request.reason, now, action_id=action_id)
