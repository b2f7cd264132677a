"""The PaymentRequest aggregate, its state machine and the validated draft it starts from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
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
from shared_kernel.domain.money import Money, amount_error, currency_error

REFERENCE_MAX_LENGTH = 64
SUBMIT_FIELDS = frozenset(
    {"card_number", "expiry_month", "expiry_year", "cvv", "amount", "currency", "reference"}
)


class PaymentStatus(StrEnum):
    """Where a payment is in its life, as the merchant sees it."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """Final states never change again."""
        return self in _FINAL

    @property
    def rank(self) -> int:
        """Order along the life of a payment; a transition may never lower it."""
        return _RANK[self]


_FINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.DECLINED, PaymentStatus.FAILED})
_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.SUCCEEDED: 2,
    PaymentStatus.DECLINED: 2,
    PaymentStatus.FAILED: 2,
}


class DeclineReason(StrEnum):
    """Why the bank declined a payment, in the merchant's words."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    FRAUD_SUSPECTED = "fraud_suspected"
    DO_NOT_HONOR = "do_not_honor"


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


def _reference_error(reference: object) -> str | None:
    if reference is None:
        return None
    if not isinstance(reference, str) or not 1 <= len(reference) <= REFERENCE_MAX_LENGTH:
        return f"must be a string of 1 to {REFERENCE_MAX_LENGTH} characters, or null"
    return None


def _safe_name(name: str) -> str:
    # A property name is echoed back in the error: never echo something card-like.
    if sum(c.isdigit() for c in name) >= 12:
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
    )


@dataclass(slots=True)
class PaymentRequest:
    """A merchant's payment from acceptance to a final state.

    Invariants: amount, currency, merchant and card never change; a final state is final;
    the status never moves backwards; the sealed card (number and CVV) is dropped as soon
    as the bank has acknowledged the payment or the payment is final.
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
    # current status, and when it should next look at the payment. `next_check_at` is set
    # while the payment is open and None once it is final; it is the range key of the
    # reconciler's index, so only the reconciler moves it (a status change between open
    # states leaves it, so that the index entry is not rewritten).
    reconcile_attempts: int = 0
    next_check_at: datetime | None = None

    def __post_init__(self) -> None:
        # An open payment always has a check scheduled (one without is due at once, from its
        # last change), so none can drop out of the reconciler's index; a final one has none.
        if self.status.is_final:
            self.next_check_at = None
        elif self.next_check_at is None:
            self.next_check_at = self.updated_at

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
        )

    def record_bank_acceptance(self, bank_reference: str, at: datetime) -> bool:
        """The bank has the payment: pending becomes processing and the card is dropped.

        Returns whether anything changed. A payment the bank has already settled (its
        callback won the race) keeps its final status.
        """
        changed = False
        if self.sealed_card is not None:
            self.sealed_card = None
            changed = True
        if self.bank_reference is None:
            self.bank_reference = bank_reference
            changed = True
        if self.status is PaymentStatus.PENDING:
            self.status = PaymentStatus.PROCESSING
            self._restart_reconcile_schedule()
            changed = True
        if changed:
            self.updated_at = at
        return changed

    def apply(self, outcome: Outcome, at: datetime, bank_reference: str | None = None) -> bool:
        """Move to `outcome`; False when it is already there (nothing changes).

        Raises InvalidTransition when the move would leave a final state or go backwards.
        """
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
        self.status = outcome.status
        self.decline_reason = outcome.decline_reason
        self._restart_reconcile_schedule()
        if bank_reference and self.bank_reference is None:
            self.bank_reference = bank_reference
        self.sealed_card = None
        self.updated_at = at
        return True

    def fail(self, reason: FailureReason, at: datetime) -> bool:
        """The gateway gives up on the payment; False if it was already final."""
        if self.status.is_final:
            return False
        self.apply(Outcome(PaymentStatus.FAILED), at)
        self.failure_reason = reason
        return True

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

    def _restart_reconcile_schedule(self) -> None:
        # A new status is progress: the reconciler's count starts again for it. The next
        # check stays where it is while the payment is open (the reconciler moves it when it
        # looks); a final payment has none, which takes it out of the reconciler's index.
        self.reconcile_attempts = 0
        if self.status.is_final:
            self.next_check_at = None

    def _drop_card_if_final(self, at: datetime) -> bool:
        if self.status.is_final and self.sealed_card is not None:
            self.sealed_card = None
            self.updated_at = at
            return True
        return False

    def copy(self) -> PaymentRequest:
        """An independent copy (used by in-memory fakes to mimic storage)."""
        return replace(self)
