"""Use case: find payments stuck on the way and move them on (SPEC §6).

Every open payment carries `next_check_at`, when the reconciler should next look at it: set
when it is stored (acceptance + `pending_after`), left alone by the forwarder and the
callback while the payment stays open, removed when it is final. A pass reads the payments
due by now, earliest first, at most `batch_limit` (keys from the open-payments index, then a
strongly consistent read of each), and for each one still open and due:

* not stuck yet (changed less than `pending_after` / `processing_after` ago, e.g. just
  acknowledged by the bank): look again that long after its last change, nothing else;
* `pending`: never queued, or its message was lost: queue it again (forwarding is
  idempotent, so a duplicate message is harmless), then wait the back-off. One requeued
  `max_requeues` times without progress goes through the forwarder's give-up path here,
  without the queue: it is sent to the bank once more with the same Idempotency-Key, and
  if the outcome is unknown the bank is asked; it ends `failed` only if the bank never
  received it.
* `processing` whose callback has not come: ask the bank and apply its answer, on a
  back-off schedule (attempt count and next check stored on the payment). Past the bound
  (`max_checks` checks or `give_up_after` since the last change) a payment the bank still
  reports PROCESSING stays processing and is logged as an alert at every check (the checks
  go on, at the back-off's cap); one the bank has no record of ends `failed`.

* a payment with a capture, void or refund pending (SPEC §8; a succeeded payment with a
  pending refund stays in the index for it): each pending action older than
  `processing_after` is asked about (`action_status_of`) on the same bounded back-off,
  counted on the payment; the bank's SUCCEEDED/DECLINED ends it (with its effect on the
  payment, one write); one the bank never received is queued again while requeues remain,
  else it fails `unknown_at_bank` and releases its reservation; one still PROCESSING past
  the bound is an alert at every check.
* `authorized` with nothing pending: once `capture_before` has passed, the authorisation is
  voided (a void action with cancellation reason authorization_expired, reserved and
  recorded in one write, then queued); before, the next check is moved to `capture_before`.
  Never while a capture is pending (that payment is in the case above).

Every write is conditional on the version read, so a forwarder or callback writing first
wins and the reconciler's change is decided again on what they wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from shared_kernel.application.action_changes import settle, update_action
from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import (
    BankUnavailable,
    ConcurrentUpdate,
    ForwardingInProgress,
    QueueUnavailable,
)
from shared_kernel.application.forward_payment import ForwardPayment, ForwardResult
from shared_kernel.application.outcome_metrics import update_counting_final
from shared_kernel.application.ports import (
    NO_METRICS,
    AcquiringBank,
    BankActions,
    BankActionStatus,
    BankStatusReport,
    Clock,
    IdGenerator,
    Metrics,
    PaymentQueue,
    PaymentRepository,
    QueuedPayment,
)
from shared_kernel.application.retrying import MAX_ATTEMPTS, update_payment_unless_moved
from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
)
from shared_kernel.domain.errors import ActionRefused, InvalidTransition
from shared_kernel.domain.money_movements import expiry_void_due, request_void
from shared_kernel.domain.payment import (
    AUTHORIZATION_VALIDITY,
    CancellationReason,
    FailureReason,
    PaymentRequest,
    PaymentStatus,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciler run did, by count."""

    requeued: int = 0
    # Payments whose status the bank's answer actually changed.
    settled: int = 0
    still_processing: int = 0
    unreachable: int = 0
    # Pending payments past the requeue bound that the reconciler sent to the bank itself.
    forwarded: int = 0
    # Payments the reconciler ended `failed` (the bank never received them).
    failed: int = 0
    # Processing payments past the bound that the bank still reports PROCESSING, pending
    # actions past it that it still reports PROCESSING, expired authorisations whose voids
    # keep failing.
    alerts: int = 0
    # Pending actions the bank's answer ended, and those queued again (never received).
    actions_settled: int = 0
    actions_requeued: int = 0
    # Pending actions ended `unknown_at_bank` (the bank never received them, requeues spent).
    actions_failed: int = 0
    # Expired authorisations whose void the reconciler created and queued.
    expiry_voids: int = 0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts by metric name (`Requeued`, `StillProcessing`, ..., `Alerts`)."""
        return {
            f.name.title().replace("_", ""): getattr(self, f.name)
            for f in fields(self)
            if f.name != "notes"
        }


# Production schedule of the checks: one minute, doubling, at most one hour apart.
CHECK_BACKOFF = Backoff(base_s=60.0, cap_s=3600.0)

_FORWARD_COUNTS = {
    ForwardResult.ACCEPTED: "forwarded",
    ForwardResult.FOUND_AT_BANK: "forwarded",
    ForwardResult.GAVE_UP: "failed",
    ForwardResult.REJECTED: "failed",
}


@dataclass(frozen=True, slots=True)
class Reconcile:
    """One pass over the open payments due for a check, at most `batch_limit` of them."""

    repository: PaymentRepository
    queue: PaymentQueue
    bank: AcquiringBank
    clock: Clock
    # The give-up path for pending payments past `max_requeues`; without it they are
    # requeued for ever.
    # Forwarding a stuck payment directly (its card unsealed with KMS): built on first use,
    # since most passes never need it and a cold start need not pay for its KMS client.
    forward: Callable[[], ForwardPayment] | None = None
    pending_after: timedelta = timedelta(seconds=30)
    processing_after: timedelta = timedelta(seconds=60)
    batch_limit: int = 500
    backoff: Backoff = CHECK_BACKOFF
    max_requeues: int = 5
    max_checks: int = 20
    give_up_after: timedelta = timedelta(hours=24)
    metrics: Metrics = NO_METRICS
    # The bank's API for actions; without it pending actions are left to the callback.
    bank_actions: BankActions | None = None
    # The ids of the voids of expired authorisations.
    new_id: IdGenerator = uuid4
    # How long an authorisation the bank reports (a processing payment's answer) lasts.
    authorization_validity: timedelta = AUTHORIZATION_VALIDITY

    def __call__(self) -> ReconcileReport:
        """Requeue stuck pending payments, query the bank about silent processing ones and
        pending actions, void expired authorisations."""
        report = ReconcileReport()
        now = self.clock.now()
        queue_down = False
        for payment in self.repository.open_payments(now, self.batch_limit):
            if not payment.is_due_for_check(now):
                continue  # settled or rescheduled since the index was read
            if payment.has_pending_action or payment.status is PaymentStatus.AUTHORIZED:
                self._money_movements(payment, report, now)
                continue
            if payment.status.is_final:
                continue  # nothing left to watch (an index entry not yet removed)
            stuck_after = (
                self.pending_after
                if payment.status is PaymentStatus.PENDING
                else self.processing_after
            )
            if now - payment.updated_at < stuck_after:
                self._postpone(payment, payment.updated_at + stuck_after)
            elif payment.status is PaymentStatus.PROCESSING:
                self._ask_bank(payment, report, now)
            elif self.forward is not None and payment.reconcile_attempts >= self.max_requeues:
                self._forward_directly(payment, report, now)
            elif not queue_down:
                queue_down = not self._requeue(payment, report, now)
        for name, value in report.counts().items():
            self.metrics.count(f"Reconcile{name}", value)
        return report

    def _requeue(self, payment: PaymentRequest, report: ReconcileReport, now: datetime) -> bool:
        """Queue the payment again; False (and noted) if the queue is unavailable."""
        try:
            self.queue.publish(
                QueuedPayment(payment.id, payment.merchant_id, _correlation(payment))
            )
        except QueueUnavailable:
            # Left due: the next pass tries again.
            report.notes.append("queue unavailable")
            return False
        report.requeued += 1
        self._note_attempt(payment, now)
        return True

    def _forward_directly(
        self, payment: PaymentRequest, report: ReconcileReport, now: datetime
    ) -> None:
        assert self.forward is not None
        logger.warning(
            "pending payment past its requeue bound: forwarding it directly",
            extra={"payment_id": str(payment.id), "attempts": payment.reconcile_attempts},
        )
        message = QueuedPayment(payment.id, payment.merchant_id, _correlation(payment))
        try:
            result = self.forward()(message, final_attempt=True)
        except ForwardingInProgress as busy:
            # A queued delivery is sending it right now: look again once its lease is over.
            self._postpone(payment, now + timedelta(seconds=busy.retry_in_s))
            return
        except BankUnavailable:
            # Not even the bank's status could be read: try again later.
            report.unreachable += 1
            self._note_attempt(payment, now)
            return
        except Exception:
            logger.exception("forwarding a stuck pending payment failed")
            report.notes.append(f"forwarding {payment.id} failed")
            self._note_attempt(payment, now)
            return
        counter = _FORWARD_COUNTS.get(result)
        if counter is not None:
            setattr(report, counter, getattr(report, counter) + 1)

    def _ask_bank(self, payment: PaymentRequest, report: ReconcileReport, now: datetime) -> None:
        try:
            answer = self.bank.status_of(payment.id)
        except BankUnavailable:
            report.unreachable += 1
            self._note_attempt(payment, now)
            return
        past_bound = (
            payment.reconcile_attempts + 1 >= self.max_checks
            or now - payment.updated_at >= self.give_up_after
        )
        context = {"payment_id": str(payment.id), "attempts": payment.reconcile_attempts + 1}
        if answer is None and past_bound:
            logger.error("bank has no record of a processing payment: failing it", extra=context)
            self._fail(payment, report, now)
            return
        if answer is None or answer.outcome.status is PaymentStatus.PROCESSING:
            report.still_processing += 1
            if answer is None:
                logger.error("bank has no record of a processing payment", extra=context)
            elif past_bound:
                report.alerts += 1
                logger.error("ALERT: payment still processing at the bank", extra=context)
            self._note_attempt(payment, now)
            return
        self._settle(payment, answer, report, now)

    def _settle(
        self,
        payment: PaymentRequest,
        answer: BankStatusReport,
        report: ReconcileReport,
        now: datetime,
    ) -> None:
        moved = False

        def settle(p: PaymentRequest) -> bool:
            nonlocal moved
            before = p.status
            changed = p.apply(
                answer.outcome, now, answer.bank_reference, self.authorization_validity
            )
            moved = p.status is not before
            return changed

        try:
            update_counting_final(self.metrics, self.repository, payment.id, settle, first=payment)
        except InvalidTransition:
            # A callback settled it differently in the meantime: the first final state wins.
            logger.warning("bank answer conflicts with the stored final state")
            return
        except ConcurrentUpdate:
            report.notes.append(f"{payment.id} kept changing; next pass")
            return
        if moved:
            report.settled += 1

    def _fail(self, payment: PaymentRequest, report: ReconcileReport, now: datetime) -> None:
        failed = False

        def fail(p: PaymentRequest) -> bool:
            nonlocal failed
            failed = p.status is PaymentStatus.PROCESSING and p.fail(
                FailureReason.UNKNOWN_AT_BANK, now
            )
            return failed

        try:
            update_counting_final(self.metrics, self.repository, payment.id, fail, first=payment)
        except ConcurrentUpdate:
            report.notes.append(f"{payment.id} kept changing; next pass")
            return
        if failed:
            report.failed += 1

    def _money_movements(
        self, payment: PaymentRequest, report: ReconcileReport, now: datetime
    ) -> None:
        """Settle the payment's pending actions, or void its expired authorisation. One
        payment's failure (an outage, a bug) is noted and never stops the pass."""
        try:
            if payment.has_pending_action:
                self._check_actions(payment, report, now)
            else:
                self._expire(payment, report, now)
        except Exception:
            logger.exception(
                "reconciling a money movement failed", extra={"payment_id": str(payment.id)}
            )
            report.notes.append(f"reconciling {payment.id} failed")

    def _check_actions(
        self, payment: PaymentRequest, report: ReconcileReport, now: datetime
    ) -> None:
        """Ask the bank about the payment's pending actions that are stuck; settle, requeue
        or fail each as its answer says; count one attempt unless one of them ended."""
        pending = [a for a in self.repository.actions(payment.id) if not a.status.is_final]
        stuck = [a for a in pending if now - a.created_at >= self.processing_after]
        if pending and not stuck:
            # None is stuck yet: look again when the first one would be.
            until = min(a.created_at for a in pending) + self.processing_after
            self._reschedule(payment, lambda p: p.hold_action_checks_until(until))
            return
        ended = False
        for action in stuck:
            try:
                ended = self._check_action(payment, action, report, now) or ended
            except ConcurrentUpdate:
                report.notes.append(f"{payment.id} kept changing; next pass")
                return
        if not ended:
            wait = self.backoff.delay(payment.reconcile_attempts + 1)
            next_at = now + timedelta(seconds=wait)
            self._reschedule(payment, lambda p: p.note_action_check(next_at))

    def _check_action(
        self,
        payment: PaymentRequest,
        action: PaymentAction,
        report: ReconcileReport,
        now: datetime,
    ) -> bool:
        """Whether the bank's answer about `action` ended it."""
        if self.bank_actions is None:
            return False  # left to the callback
        context = {"payment_id": str(payment.id), "action_id": str(action.id)}
        try:
            answer = self.bank_actions.action_status_of(payment.id, action.id)
        except BankUnavailable:
            report.unreachable += 1
            return False
        if answer is None:
            if action.sent_at is None and payment.reconcile_attempts < self.max_requeues:
                self._requeue_action(payment, action, report)
                return False
            if action.sent_at is None:
                logger.error("bank never received a pending action: failing it", extra=context)
                return self._end_action(
                    payment, action, False, ActionFailureReason.UNKNOWN_AT_BANK, report
                )
            # It answered 202 for it once: never give up on an action the bank took.
            logger.error("ALERT: bank has no record of an action it accepted", extra=context)
            report.alerts += 1
            return False
        if answer.status is BankActionStatus.PROCESSING:
            report.still_processing += 1
            if action.sent_at is None:
                # The bank has it: no delivery may send it again.
                update_action(
                    self.repository,
                    payment.id,
                    action.id,
                    lambda _, a: a.record_bank_acceptance(now),
                )
            past_bound = (
                payment.reconcile_attempts + 1 >= self.max_checks
                or now - action.created_at >= self.give_up_after
            )
            if past_bound:
                report.alerts += 1
                logger.error("ALERT: action still processing at the bank", extra=context)
            return False
        succeeded = answer.status is BankActionStatus.SUCCEEDED
        return self._end_action(payment, action, succeeded, None, report)

    def _requeue_action(
        self, payment: PaymentRequest, action: PaymentAction, report: ReconcileReport
    ) -> None:
        """Queue the action again (forwarding it is idempotent)."""
        message = QueuedPayment(payment.id, payment.merchant_id, _correlation(payment), action.id)
        try:
            self.queue.publish(message)
        except QueueUnavailable:
            report.notes.append("queue unavailable")
            return
        report.actions_requeued += 1

    def _end_action(
        self,
        payment: PaymentRequest,
        action: PaymentAction,
        succeeded: bool,
        failure_reason: ActionFailureReason | None,
        report: ReconcileReport,
    ) -> bool:
        change = settle(succeeded, self.clock.now(), failure_reason)
        try:
            changed = update_action(self.repository, payment.id, action.id, change)
        except InvalidTransition:
            # The callback ended it otherwise in the meantime: the first end stands.
            logger.warning("bank answer conflicts with the action's stored end")
            return True
        if changed and failure_reason is ActionFailureReason.UNKNOWN_AT_BANK:
            report.actions_failed += 1
        elif changed:
            report.actions_settled += 1
        return True

    def _expire(self, payment: PaymentRequest, report: ReconcileReport, now: datetime) -> None:
        """Void an authorisation past `capture_before`; before, look again then."""
        if not expiry_void_due(payment, now):
            if payment.capture_before is not None:
                until = payment.capture_before
                self._reschedule(
                    payment, lambda p: p.postpone_check(PaymentStatus.AUTHORIZED, until)
                )
            return
        failed_voids = sum(
            1
            for a in self.repository.actions(payment.id)
            if a.type is ActionType.VOID and a.status is ActionStatus.FAILED
        )
        if failed_voids >= self.max_requeues:
            report.alerts += 1
            logger.error(
                "ALERT: the bank keeps refusing to void an expired authorisation",
                extra={"payment_id": str(payment.id), "failed_voids": failed_voids},
            )
            self._note_attempt(payment, now)
            return
        void_id = self._void_expired(payment, now)
        if void_id is None:
            report.notes.append(f"{payment.id} kept changing; next pass")
            return
        report.expiry_voids += 1
        logger.warning(
            "authorisation expired: voiding it",
            extra={"payment_id": str(payment.id), "action_id": str(void_id)},
        )
        message = QueuedPayment(payment.id, payment.merchant_id, _correlation(payment), void_id)
        try:
            self.queue.publish(message)
        except QueueUnavailable:
            # The void is stored pending: the next passes ask the bank and queue it again.
            report.notes.append("queue unavailable")

    def _void_expired(self, payment: PaymentRequest, now: datetime) -> UUID | None:
        """Reserve and record the expiry void in one write; its id, or None if the payment
        kept changing or no longer needs it (a capture arrived first)."""
        void_id = self.new_id()
        current = payment
        for _ in range(MAX_ATTEMPTS):
            try:
                requested = request_void(
                    current,
                    now,
                    action_id=void_id,
                    reason=CancellationReason.AUTHORIZATION_EXPIRED,
                )
            except ActionRefused:
                return None
            try:
                self.repository.save(current, [requested.action])
                return void_id
            except ConcurrentUpdate:
                current = self.repository.get(payment.id)
        return None

    def _note_attempt(self, payment: PaymentRequest, now: datetime) -> None:
        """Count one more try without progress and schedule the next after the back-off."""
        status = payment.status
        wait = self.backoff.delay(payment.reconcile_attempts + 1)
        next_at = now + timedelta(seconds=wait)
        self._reschedule(payment, lambda p: p.note_reconcile_attempt(status, next_at))

    def _postpone(self, payment: PaymentRequest, until: datetime) -> None:
        """Look again at `until` (the payment is not stuck yet); no attempt is counted."""
        status = payment.status
        self._reschedule(payment, lambda p: p.postpone_check(status, until))

    def _reschedule(
        self, payment: PaymentRequest, change: Callable[[PaymentRequest], bool]
    ) -> None:
        # It is moving if this gives way; the next pass sees where it went.
        update_payment_unless_moved(self.repository, payment.id, change, first=payment)


def _correlation(payment: PaymentRequest) -> str:
    return payment.correlation_id or str(payment.id)
