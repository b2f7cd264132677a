"""The PaymentRequest aggregate, its state machine and the validated draft it starts from.

A payment is captured in one step (`automatic`) or authorised first and captured, voided or
left to expire later (`manual`, SPEC §8). The payment also carries what its pending actions
hold (the one pending capture or void, the pending refund total, the refund count), so that
the rules of `money_movements` can be checked and reserved in one write of this aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from shared_kernel.domain.card import (
    CardSecrets,
    CardSummary,
    Expiry,
    SealedCard,
    card_number_error,
    cvv_error,
    expiry_errors,
)
from shared_kernel.domain.errors import FieldError, InvalidTransition, ValidationError
from shared_kernel.domain.events import DomainEvent, PaymentStatusChanged
from shared_kernel.domain.money import Money, amount_error, currency_error

REFERENCE_MAX_LENGTH = 64
SUBMIT_FIELDS = frozenset(
    {
        "card_number",
        "expiry_month",
        "expiry_year",
        "cvv",
        "amount",
        "currency",
        "reference",
        "capture_method",
    }
)
# How long an authorisation can be captured (card-not-present holds last about 7 days); the
# use cases pass the configured window, this is its default.
AUTHORIZATION_VALIDITY = timedelta(days=7)


class CaptureMethod(StrEnum):
    """Whether the bank captures a payment with its authorisation, or the merchant later."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class PaymentStatus(StrEnum):
    """Where a payment is in its life, as the merchant sees it."""

    PENDING = "pending"
    PROCESSING = "processing"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        """Final states never change again."""
        return self in _FINAL

    @property
    def rank(self) -> int:
        """Order along the life of a payment; a transition may never lower it."""
        return _RANK[self]


_FINAL = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.DECLINED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
    }
)
_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.AUTHORIZED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.DECLINED: 3,
    PaymentStatus.FAILED: 3,
    PaymentStatus.CANCELED: 3,
}


class DeclineReason(StrEnum):
    """Why the bank declined a payment, in the merchant's words."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    FRAUD_SUSPECTED = "fraud_suspected"
    DO_NOT_HONOR = "do_not_honor"


class CancellationReason(StrEnum):
    """Why an authorised payment was canceled: the merchant's void, or its expiry."""

    REQUESTED_BY_MERCHANT = "requested_by_merchant"
    AUTHORIZATION_EXPIRED = "authorization_expired"


class FailureReason(StrEnum):
    """Why the gateway could not complete a payment (kept internally, not shown)."""

    BANK_REJECTED = "bank_rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"
    UNKNOWN_AT_BANK = "unknown_at_bank"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A status a payment can move to, with the decline reason when it is a decline."""

    status: PaymentStatus
    decline_reason: DeclineReason | None = None

    def __post_init__(self) -> None:
        if (self.status is PaymentStatus.DECLINED) != (self.decline_reason is not None):
            raise ValueError("a decline reason goes with, and only with, a declined status")


@dataclass(frozen=True, slots=True)
class PaymentDraft:
    """A submitted payment that passed every validation rule, not yet accepted."""

    secrets: CardSecrets
    summary: CardSummary
    money: Money
    reference: str | None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC


_CAPTURE_METHODS = frozenset(method.value for method in CaptureMethod)


def _capture_method_error(fields: Mapping[str, object]) -> str | None:
    if "capture_method" not in fields:
        return None
    capture_method = fields["capture_method"]
    if isinstance(capture_method, str) and capture_method in _CAPTURE_METHODS:
        return None
    return "must be one of automatic, manual"


def _reference_error(reference: object) -> str | None:
    if reference is None:
        return None
    if not isinstance(reference, str) or not 1 <= len(reference) <= REFERENCE_MAX_LENGTH:
        return f"must be a string of 1 to {REFERENCE_MAX_LENGTH} characters, or null"
    return None


def _safe_name(name: str) -> str:
    # A property name is echoed back in the error: never echo something card-like, and
    # never an empty field name (the error body's `field` is never empty).
    if not name or sum(c.isdigit() for c in name) >= 12:
        return "<property>"
    return name[:64]


def draft_errors(fields: Mapping[str, object], today: date) -> list[FieldError]:
    """Every business-rule violation in a submission, one entry per failing field."""
    found: dict[str, str] = {}
    for name, problem in (
        ("card_number", card_number_error(fields.get("card_number"))),
        ("cvv", cvv_error(fields.get("cvv"))),
        ("amount", amount_error(fields.get("amount"))),
        ("currency", currency_error(fields.get("currency"))),
        ("reference", _reference_error(fields.get("reference"))),
        ("capture_method", _capture_method_error(fields)),
    ):
        if problem:
            found[name] = problem
    for name, problem in expiry_errors(
        fields.get("expiry_month"), fields.get("expiry_year"), today
    ):
        found.setdefault(name, problem)
    for name in sorted(set(fields) - SUBMIT_FIELDS):
        found[_safe_name(name)] = "is not an accepted property"
    return [FieldError(name, message) for name, message in sorted(found.items())]


def draft_payment(fields: Mapping[str, object], today: date) -> PaymentDraft:
    """Validate a submission and return the draft; raise ValidationError naming every bad field."""
    errors = draft_errors(fields, today)
    if errors:
        raise ValidationError(errors)
    number, cvv = str(fields["card_number"]), str(fields["cvv"])
    month, year = fields["expiry_month"], fields["expiry_year"]
    amount, currency = fields["amount"], fields["currency"]
    assert isinstance(month, int) and isinstance(year, int)
    assert isinstance(amount, int) and isinstance(currency, str)
    reference = fields.get("reference")
    return PaymentDraft(
        secrets=CardSecrets(number, cvv),
        summary=CardSummary.of(number, Expiry(month, year)),
        money=Money(amount, currency),
        reference=reference if isinstance(reference, str) else None,
        capture_method=CaptureMethod(str(fields.get("capture_method") or "automatic")),
    )


@dataclass(slots=True)
class PaymentRequest:
    """A merchant's payment from acceptance to a final state.

    Invariants: amount, currency, merchant, card and capture method never change; a final
    state is final; the status never moves backwards; the sealed card (number and CVV) is
    dropped as soon as the bank has acknowledged the payment or the payment is final; an
    automatic payment that succeeded has captured its whole amount; succeeded plus pending
    refunds never exceed the captured amount; a forward lease is held only while the payment
    awaits forwarding (pending, card sealed).
    """

    id: UUID
    merchant_id: UUID
    money: Money
    card: CardSummary
    reference: str | None
    created_at: datetime
    updated_at: datetime
    status: PaymentStatus = PaymentStatus.PENDING
    decline_reason: DeclineReason | None = None
    failure_reason: FailureReason | None = None
    bank_reference: str | None = None
    sealed_card: SealedCard | None = None
    correlation_id: str | None = None
    # Keyed hash (HMAC) of the card number, the same for the same card: finds duplicates
    # without keeping the number (PCI DSS 3.4.1); never the number nor a reversible form.
    card_fingerprint: str | None = None
    version: int = 0
    # The reconciler's schedule: how many times it has acted without progress in the
    # current status (or, while actions are pending, on them), and when it should next look
    # at the payment. `next_check_at` is set while the payment is watched (open, or with a
    # capture, void or refund pending) and None after; it is the range key of the
    # reconciler's index, so it moves only when the reconciler needs it to: the reconciler
    # itself, an authorisation (its expiry check, at `capture_before`), a new action (due at
    # once: the reconciler judges when it is stuck) and the end of the last pending one.
    reconcile_attempts: int = 0
    next_check_at: datetime | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    amount_captured: int = 0
    amount_refunded: int = 0
    # Set while authorized: the first AUTHORIZED update's time plus the validity window.
    capture_before: datetime | None = None
    cancellation_reason: CancellationReason | None = None
    # What pending actions hold (SPEC §8), so one conditional write can reserve it: the one
    # pending capture or void, the sum of the pending refunds, and every refund ever
    # accepted (failed ones count toward the limit).
    pending_action_id: UUID | None = None
    amount_refund_pending: int = 0
    refund_count: int = 0
    # Until when one delivery of the payment's queue message holds the right to POST it to the
    # bank (`lease_forwarding`): two deliveries of one payment (a message and the reconciler's
    # requeue of it) never send it at once. Cleared by the write that records the bank's answer
    # (any status change, the acceptance, a failed attempt); one left by a crash just expires.
    forward_lease_until: datetime | None = None
    # The events recorded since the aggregate was built, oldest first: the repository stores
    # them with the change. Not part of the payment's state, so not compared.
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A watched payment always has a check scheduled (one without is due at once, from
        # its last change), so none can drop out of the reconciler's index; any other has none.
        if not self.is_watched:
            self.next_check_at = None
        elif self.next_check_at is None:
            self.next_check_at = self.updated_at
        # For an automatic payment the captured amount follows from its status, also for a
        # record written before captures existed (which carries none).
        if self.capture_method is CaptureMethod.AUTOMATIC:
            succeeded = self.status is PaymentStatus.SUCCEEDED
            self.amount_captured = self.money.amount if succeeded else 0

    @classmethod
    def accept(
        cls,
        *,
        payment_id: UUID,
        merchant_id: UUID,
        draft: PaymentDraft,
        sealed_card: SealedCard,
        now: datetime,
        first_check_after: timedelta,
        correlation_id: str | None = None,
        card_fingerprint: str | None = None,
    ) -> PaymentRequest:
        """A new pending payment holding its card sealed until the bank acknowledges it,
        for the reconciler to look at `first_check_after` from now if it is still open."""
        return cls(
            id=payment_id,
            merchant_id=merchant_id,
            money=draft.money,
            card=draft.summary,
            reference=draft.reference,
            created_at=now,
            updated_at=now,
            sealed_card=sealed_card,
            correlation_id=correlation_id,
            card_fingerprint=card_fingerprint,
            next_check_at=now + first_check_after,
            capture_method=draft.capture_method,
        )

    @property
    def has_pending_action(self) -> bool:
        """Whether a capture, void or refund of the payment is waiting for the bank."""
        return self.pending_action_id is not None or self.amount_refund_pending > 0

    @property
    def is_watched(self) -> bool:
        """Whether the reconciler must keep the payment in view: open (an authorisation
        until its capture, void or expiry), or with an action pending."""
        return not self.status.is_final or self.has_pending_action

    @property
    def awaits_forwarding(self) -> bool:
        """Whether the bank may not have the payment yet: pending, its card still sealed."""
        return self.status is PaymentStatus.PENDING and self.sealed_card is not None

    def forward_lease_left(self, now: datetime) -> timedelta:
        """How long the forward lease a delivery holds still lives at `now` (zero: none)."""
        if self.forward_lease_until is None or self.forward_lease_until <= now:
            return timedelta(0)
        return self.forward_lease_until - now

    def lease_forwarding(self, now: datetime, until: datetime) -> bool:
        """Take the right to send the payment to the bank from `now` to `until` (the caller's
        bank calls end before then). False (nothing changes) if it no longer awaits
        forwarding or another delivery's lease is live at `now`: that one may be POSTing.

        Bookkeeping only: `updated_at` stays."""
        if not self.awaits_forwarding or self.forward_lease_left(now) > timedelta(0):
            return False
        self.forward_lease_until = until
        return True

    def release_forward_lease(self) -> bool:
        """The attempt holding the lease ended without the bank's acceptance (its outcome
        is unknown, it will be retried): another delivery may send it now. False (nothing
        changes) if no lease is held."""
        if self.forward_lease_until is None:
            return False
        self.forward_lease_until = None
        return True

    @property
    def amount_refundable(self) -> int:
        """What a refund may still take: captured, less succeeded and pending refunds."""
        return self.amount_captured - self.amount_refunded - self.amount_refund_pending

    def record_bank_acceptance(self, bank_reference: str, at: datetime) -> bool:
        """The bank has the payment: pending becomes processing and the card is dropped.

        Returns whether anything changed. A payment the bank has already settled (its
        callback won the race) keeps its final status.
        """
        released = self.release_forward_lease()
        changed = False
        if self.sealed_card is not None:
            self.sealed_card = None
            changed = True
        if self.bank_reference is None:
            self.bank_reference = bank_reference
            changed = True
        if self.status is PaymentStatus.PENDING:
            self._enter(PaymentStatus.PROCESSING, at)
            changed = True
        if changed:
            self.updated_at = at
        return changed or released

    def apply(
        self,
        outcome: Outcome,
        at: datetime,
        bank_reference: str | None = None,
        authorization_validity: timedelta = AUTHORIZATION_VALIDITY,
    ) -> bool:
        """Move to the outcome of a bank update; False when it is already there (nothing
        changes). An authorisation can be captured until `at` plus `authorization_validity`.

        Raises InvalidTransition when the move would leave a final state, go backwards,
        not fit the capture method (succeeded for a manual payment, authorized for an
        automatic one) or do what only an action does (move an authorised payment on, or
        cancel one).
        """
        self._check_fits_capture_method(outcome.status)
        if outcome.status is self.status:
            if outcome.decline_reason is not self.decline_reason:
                raise InvalidTransition(f"payment is already {self.status} for a different reason")
            return self._drop_card_if_final(at)
        if self.status.is_final:
            raise InvalidTransition(f"payment is already final ({self.status})")
        if outcome.status.rank < self.status.rank:
            raise InvalidTransition(f"cannot move back from {self.status} to {outcome.status}")
        if outcome.status is PaymentStatus.PENDING:
            raise InvalidTransition("a payment cannot be moved to pending")
        if outcome.status is PaymentStatus.CANCELED:
            raise InvalidTransition("a payment is canceled only by a void or its expiry")
        if self.status is PaymentStatus.AUTHORIZED:
            raise InvalidTransition("an authorised payment moves on only by a capture or void")
        self.decline_reason = outcome.decline_reason
        if outcome.status is PaymentStatus.AUTHORIZED:
            self.capture_before = at + authorization_validity
            # Nothing is left to reconcile but the expiry: look again when it is due.
            self.next_check_at = self.capture_before
        if outcome.status is PaymentStatus.SUCCEEDED:
            self.amount_captured = self.money.amount
        if bank_reference and self.bank_reference is None:
            self.bank_reference = bank_reference
        self.sealed_card = None
        self._enter(outcome.status, at)
        return True

    def fail(self, reason: FailureReason, at: datetime) -> bool:
        """The gateway gives up on the payment; False if it was already final, or is
        authorised (the bank holds the funds: only a capture, a void or the expiry end it)."""
        if self.status.is_final or self.status is PaymentStatus.AUTHORIZED:
            return False
        self.apply(Outcome(PaymentStatus.FAILED), at)
        self.failure_reason = reason
        return True

    def record_capture(self, amount: int, at: datetime) -> None:
        """A capture of `amount` succeeded: the authorised payment is succeeded (a partial
        capture releases the rest). Raises InvalidTransition unless authorised."""
        self._check_authorized("captured")
        if not 1 <= amount <= self.money.amount:
            raise ValueError("a capture takes from 1 to the authorised amount")
        self.amount_captured = amount
        self.capture_before = None
        self._enter(PaymentStatus.SUCCEEDED, at)

    def record_cancellation(self, reason: CancellationReason, at: datetime) -> None:
        """A void succeeded: the authorised payment is canceled for `reason`. Raises
        InvalidTransition unless authorised."""
        self._check_authorized("canceled")
        self.cancellation_reason = reason
        self.capture_before = None
        self._enter(PaymentStatus.CANCELED, at)

    def authorization_expired(self, now: datetime) -> bool:
        """Whether the payment is authorised and its capture window has passed at `now`."""
        return (
            self.status is PaymentStatus.AUTHORIZED
            and self.capture_before is not None
            and now >= self.capture_before
        )

    def is_due_for_check(self, now: datetime) -> bool:
        """Whether the reconciler should look at the payment at `now`: open, check due."""
        return self.next_check_at is not None and self.next_check_at <= now

    def note_reconcile_attempt(self, status: PaymentStatus, next_at: datetime) -> bool:
        """The reconciler acted on the payment in `status` without moving it: count the
        attempt and look again at `next_at`. False (nothing changes) if it left that status.

        Bookkeeping only: `updated_at`, the time of the last change a merchant sees, stays.
        """
        if self.status is not status or self.status.is_final:
            return False
        self.reconcile_attempts += 1
        self.next_check_at = next_at
        return True

    def postpone_check(self, status: PaymentStatus, until: datetime) -> bool:
        """The reconciler found the payment in `status` not stuck yet: look again at `until`,
        without counting an attempt. False (nothing changes) if it left that status or the
        check is already then."""
        if self.status is not status or self.status.is_final or self.next_check_at == until:
            return False
        self.next_check_at = until
        return True

    def hold_check_until(self, until: datetime) -> bool:
        """A forward attempt failed: the reconciler must not look at the pending payment before
        `until` (its retry will have run by then). Never moves the check earlier; False (nothing
        changes) if it is not pending or already checked that late."""
        if self.next_check_at is not None and self.next_check_at >= until:
            return False
        return self.postpone_check(PaymentStatus.PENDING, until)

    def check_actions_by(self, at: datetime) -> None:
        """A new action is pending: the reconciler looks at the payment by `at` (never later
        than a check already due)."""
        if self.next_check_at is None or at < self.next_check_at:
            self.next_check_at = at

    def note_action_ended(self) -> None:
        """An action ended: that is progress (the count starts again). With nothing pending
        any more, an authorised payment is next looked at for its expiry and a final one
        leaves the reconciler's view."""
        self.reconcile_attempts = 0
        if self.has_pending_action:
            return
        if self.status is PaymentStatus.AUTHORIZED:
            self.next_check_at = self.capture_before
        elif self.status.is_final:
            self.next_check_at = None

    def note_action_check(self, next_at: datetime) -> bool:
        """The reconciler asked about the pending actions without settling any: count the
        attempt and look again at `next_at`. False (nothing changes) if none is pending."""
        if not self.has_pending_action:
            return False
        self.reconcile_attempts += 1
        self.next_check_at = next_at
        return True

    def hold_action_checks_until(self, until: datetime) -> bool:
        """The reconciler must not look at the pending actions before `until`: a failed
        forward attempt's retry will have run by then, or none of them is stuck before.
        Never earlier; False if nothing changes."""
        if not self.has_pending_action:
            return False
        if self.next_check_at is not None and self.next_check_at >= until:
            return False
        self.next_check_at = until
        return True

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded so far, oldest first, leaving none (for the repository)."""
        events, self.events = self.events, []
        return events

    def _check_fits_capture_method(self, status: PaymentStatus) -> None:
        manual = self.capture_method is CaptureMethod.MANUAL
        if (manual and status is PaymentStatus.SUCCEEDED) or (
            not manual and status is PaymentStatus.AUTHORIZED
        ):
            raise InvalidTransition(
                f"a bank update cannot make a {self.capture_method} payment {status}"
            )

    def _check_authorized(self, verb: str) -> None:
        if self.status is not PaymentStatus.AUTHORIZED:
            raise InvalidTransition(f"a {self.status} payment cannot be {verb}")

    def _enter(self, status: PaymentStatus, at: datetime) -> None:
        # Every status a merchant can see is entered here, so each records its event. A new
        # status is the bank's answer (or the end of the payment): no forward lease outlives it.
        self.status = status
        self.forward_lease_until = None
        self._restart_reconcile_schedule()
        self.updated_at = at
        self.events.append(PaymentStatusChanged(self.id, self.merchant_id, status, at))

    def _restart_reconcile_schedule(self) -> None:
        # A new status is progress: the reconciler's count starts again for it. The next
        # check stays where it is while the payment is watched (the reconciler moves it when
        # it looks); one no longer watched has none, which takes it out of the index.
        self.reconcile_attempts = 0
        if not self.is_watched:
            self.next_check_at = None

    def _drop_card_if_final(self, at: datetime) -> bool:
        if self.status.is_final and self.sealed_card is not None:
            self.sealed_card = None
            self.updated_at = at
            return True
        return False

    def copy(self) -> PaymentRequest:
        """An independent copy (used by in-memory fakes to mimic storage)."""
        return replace(self, events=list(self.events))
