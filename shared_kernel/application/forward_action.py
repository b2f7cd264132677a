"""Use case: send a queued capture, void or refund to the acquiring bank, exactly once in
effect (SPEC §8) — and the router that sends each queue message to its use case.

The bank request carries the action id as Idempotency-Key, so a retry after an unknown
outcome is safe; once the bank has answered 202 the action records `sent_at` and is never
sent again, only asked about (by the reconciler) or settled (by the callback). A rejected
action (400/422, or 404: the bank does not know the payment) fails `rejected_by_bank` and
releases what it reserved on the payment, in the same write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from shared_kernel.application.action_changes import settle, update_action
from shared_kernel.application.errors import BankRejected, BankUnavailable, ConcurrentUpdate
from shared_kernel.application.forward_payment import ForwardResult
from shared_kernel.application.ports import (
    NO_METRICS,
    BankActionRequest,
    BankActions,
    BankActionStatus,
    Clock,
    Metrics,
    PaymentRepository,
    QueuedPayment,
)
from shared_kernel.application.retrying import update_payment_unless_moved
from shared_kernel.domain.action import ActionFailureReason, ActionType, PaymentAction
from shared_kernel.domain.errors import ActionNotFound, InvalidTransition, PaymentNotFound
from shared_kernel.domain.payment import PaymentRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ForwardAction:
    """Forward one action. Safe to run twice: the bank request carries the action id as
    Idempotency-Key and every state change is a conditional write of the payment item.

    Raises BankUnavailable when the outcome is unknown and another attempt should follow.
    """

    repository: PaymentRepository
    bank: BankActions
    clock: Clock
    metrics: Metrics = NO_METRICS
    # As ForwardPayment's: until the failed attempt's retry has run, the reconciler must not
    # requeue the action beside its live message. Zero: no hold.
    retry_horizon: timedelta = timedelta(0)

    def __call__(self, message: QueuedPayment, final_attempt: bool = False) -> ForwardResult:
        """Send the message's action unless it was sent or has ended; see the class docstring."""
        result = self._forward(message, final_attempt)
        self.metrics.count("ActionsForwarded", result=result.value)
        return result

    def _forward(self, message: QueuedPayment, final_attempt: bool) -> ForwardResult:
        assert message.action_id is not None
        context = {"payment_id": str(message.payment_id), "action_id": str(message.action_id)}
        try:
            payment = self.repository.get(message.payment_id)
            action = self.repository.get_action(message.payment_id, message.action_id)
        except (PaymentNotFound, ActionNotFound):
            logger.error("queued action does not exist", extra=context)
            return ForwardResult.UNKNOWN_PAYMENT
        if payment.merchant_id != message.merchant_id:
            logger.error("queued action belongs to another merchant", extra=context)
            return ForwardResult.UNKNOWN_PAYMENT
        if action.status.is_final or action.sent_at is not None:
            return ForwardResult.ALREADY_FORWARDED
        request = BankActionRequest(
            payment_id=payment.id,
            merchant_id=payment.merchant_id,
            action_id=action.id,
            type=action.type,
            amount=None if action.type is ActionType.VOID else action.money.amount,
            correlation_id=message.correlation_id,
        )
        try:
            self.bank.submit_action(request)
        except BankRejected:
            logger.warning("bank rejected the action", extra=context)
            self._end(payment, action, False, ActionFailureReason.REJECTED_BY_BANK)
            return ForwardResult.REJECTED
        except BankUnavailable:
            if not final_attempt:
                self._hold_reconciler(payment)
                raise
            return self._give_up(payment, action)
        self._record_sent(payment, action)
        return ForwardResult.ACCEPTED

    def _give_up(self, payment: PaymentRequest, action: PaymentAction) -> ForwardResult:
        # Earlier attempts may have reached the bank (a timeout is an unknown outcome): ask
        # before failing, never fail an action the bank may have carried out.
        report = self.bank.action_status_of(payment.id, action.id)
        if report is None:
            self._end(payment, action, False, ActionFailureReason.UNKNOWN_AT_BANK)
            return ForwardResult.GAVE_UP
        if report.status is BankActionStatus.PROCESSING:
            # The bank has it: its callback (or the reconciler's query) ends it.
            self._record_sent(payment, action)
        else:
            self._end(payment, action, report.status is BankActionStatus.SUCCEEDED)
        return ForwardResult.FOUND_AT_BANK

    def _record_sent(self, payment: PaymentRequest, action: PaymentAction) -> None:
        now = self.clock.now()
        try:
            update_action(
                self.repository,
                payment.id,
                action.id,
                lambda _, a: a.record_bank_acceptance(now),
                first=(payment, action),
            )
        except ConcurrentUpdate:
            # The payment keeps changing (callbacks of its other actions): the bank has this
            # one, and the reconciler asks before it would ever send it again.
            logger.warning("could not record the bank's acceptance of an action")

    def _end(
        self,
        payment: PaymentRequest,
        action: PaymentAction,
        succeeded: bool,
        failure_reason: ActionFailureReason | None = None,
    ) -> None:
        change = settle(succeeded, self.clock.now(), failure_reason)
        try:
            update_action(self.repository, payment.id, action.id, change, first=(payment, action))
        except InvalidTransition:
            # The callback ended it otherwise in the meantime: the first end stands.
            logger.warning("action already ended otherwise", extra={"action_id": str(action.id)})

    def _hold_reconciler(self, payment: PaymentRequest) -> None:
        if self.retry_horizon <= timedelta(0):
            return
        until = self.clock.now() + self.retry_horizon
        update_payment_unless_moved(
            self.repository, payment.id, lambda p: p.hold_action_checks_until(until), first=payment
        )


# `forward(message, final_attempt)`, as ForwardDelivery calls it.
Forward = Callable[[QueuedPayment, bool], ForwardResult]


@dataclass(frozen=True, slots=True)
class ForwardQueued:
    """A payment-queue message to the use case it asks for: the payment's own forwarding,
    or (when it names an action) the action's, built on first use."""

    payment: Forward
    action: Callable[[], Forward]

    def __call__(self, message: QueuedPayment, final_attempt: bool = False) -> ForwardResult:
        """Forward the message's action if it names one, else its payment."""
        if message.action_id is not None:
            return self.action()(message, final_attempt)
        return self.payment(message, final_attempt)
