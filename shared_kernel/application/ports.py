"""The ports: what the use cases need from the outside world, as Protocols.

Adapters in shared_kernel.adapters implement them for AWS; tests/unit/fakes.py implements
them in memory. bootstrap.py picks which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared_kernel.domain.action import ActionType, PaymentAction
from shared_kernel.domain.card import CardSecrets, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import Outcome, PaymentRequest, PaymentStatus


@dataclass(frozen=True, slots=True)
class QueuedPayment:
    """The queue message asking the forwarder to send a payment to the bank: ids only."""

    payment_id: UUID
    merchant_id: UUID
    correlation_id: str
    # Set when the message asks for one of the payment's actions (a capture, void or refund,
    # SPEC §8) to be sent instead of the payment itself.
    action_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class BankPaymentRequest:
    """What the bank needs to charge a card (holds secrets: never log or store it)."""

    payment_id: UUID
    merchant_id: UUID
    card: CardSecrets
    expiry: Expiry
    money: Money
    # The submit request's correlation id, sent as X-Correlation-Id so the bank's logs and
    # ours can be joined (never a secret).
    correlation_id: str | None = None
    # False for a manual-capture payment: the bank only authorises (status AUTHORIZED).
    capture: bool = True


@dataclass(frozen=True, slots=True)
class BankActionRequest:
    """A capture, void or refund of a payment the bank knows (no card data: the bank finds
    the payment by its id). The action id is the Idempotency-Key."""

    payment_id: UUID
    merchant_id: UUID
    action_id: UUID
    type: ActionType
    # Captures and refunds only; a void releases the whole authorisation.
    amount: int | None = None
    correlation_id: str | None = None


class BankActionStatus(StrEnum):
    """The bank's view of an action (SPEC §8 bank contract)."""

    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"


@dataclass(frozen=True, slots=True)
class BankActionReport:
    """The bank's current view of one action."""

    action_id: UUID
    type: ActionType
    status: BankActionStatus


@dataclass(frozen=True, slots=True)
class BankAcceptance:
    """The bank took the payment (202) and will report its outcome later."""

    bank_reference: str


@dataclass(frozen=True, slots=True)
class BankStatusReport:
    """The bank's current view of a payment, mapped to the gateway's outcome."""

    bank_reference: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ListPosition:
    """A payment's place in a merchant's list (SPEC §9): its `created_at` in whole seconds,
    then its id; the list runs newest first, so greater positions come first."""

    created_second: datetime
    payment_id: UUID

    @classmethod
    def of(cls, payment: PaymentRequest) -> ListPosition:
        """Where `payment` stands in its merchant's list."""
        return cls(payment.created_at.replace(microsecond=0), payment.id)

    def sort_key(self) -> tuple[datetime, str]:
        """Ascending order of positions (an id's text sorts as the id does)."""
        return self.created_second, str(self.payment_id)


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    """The list's filters, all optional and combined (AND). The created bounds compare the
    whole-second `created_at` the resource shows: at or after `created_gte`, before
    `created_lt`."""

    status: PaymentStatus | None = None
    reference: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None

    def matches(self, payment: PaymentRequest) -> bool:
        """Whether `payment` passes every filter (what an index serves, said once)."""
        second = payment.created_at.replace(microsecond=0)
        return (
            (self.status is None or payment.status == self.status)
            and (self.reference is None or payment.reference == self.reference)
            and (self.created_gte is None or second >= self.created_gte)
            and (self.created_lt is None or second < self.created_lt)
        )


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of a merchant's payments: at most `limit` of those matching `filters`, older
    than `after` or newer than `before` (at most one of the two; neither: the newest)."""

    merchant_id: UUID
    limit: int
    filters: PaymentFilters = PaymentFilters()
    after: ListPosition | None = None
    before: ListPosition | None = None


@dataclass(frozen=True, slots=True)
class PaymentPage:
    """A page, newest first, and whether more match beyond it: older ones for a first or
    an `after` page, newer ones for a `before` page."""

    payments: list[PaymentRequest]
    has_more: bool


class PaymentRepository(Protocol):
    """Durable storage of payments, with optimistic concurrency on `version`."""

    def add(self, payment: PaymentRequest) -> None:
        """Store a new payment; raises DuplicatePayment if its id exists."""

    def get(self, payment_id: UUID) -> PaymentRequest:
        """The payment with this id; raises PaymentNotFound."""

    def save(self, payment: PaymentRequest, actions: Sequence[PaymentAction] = ()) -> None:
        """Write the payment's changes and `actions` (new or changed actions of this
        payment) in one atomic write, if nobody else wrote the payment since it was read
        (else raises ConcurrentUpdate and writes nothing); bumps `payment.version` and each
        action's `version`. Raises PaymentNotFound if the payment was never added,
        ValueError (nothing written) for an action of another payment."""

    def get_action(self, payment_id: UUID, action_id: UUID) -> PaymentAction:
        """The action of the payment with this id; raises PaymentNotFound or ActionNotFound."""

    def actions(self, payment_id: UUID) -> Sequence[PaymentAction]:
        """Every action of the payment, oldest first (created_at, then id); raises
        PaymentNotFound."""

    def open_payments(self, due_at: datetime, limit: int) -> Iterable[PaymentRequest]:
        """At most `limit` open payments whose next check is due at `due_at` (its
        `next_check_at` not after it), earliest due first, each read strongly consistent
        just before it is yielded (it may have changed since it was found: check again)."""

    def page(self, query: PageQuery) -> PaymentPage:
        """One page of the merchant's list (SPEC §9), newest first: the `query.limit`
        matching payments next to its position, `limit` of them whenever `has_more`. The
        payments are as the list shows them (eventually consistent), never to be saved."""


class PaymentQueue(Protocol):
    """The queue between submit and the forwarder (at-least-once delivery, redelivered until
    the forwarder is done with a message)."""

    def publish(self, message: QueuedPayment) -> None:
        """Queue one message; raises QueueUnavailable."""

    def delay_retry(self, receipt_handle: str, seconds: float) -> bool:
        """Deliver a received message (by its receipt handle) again in `seconds`, not sooner;
        False if the queue refused (it then comes back after its default delay)."""


class AcquiringBank(Protocol):
    """The acquiring bank's API."""

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Ask the bank to charge; idempotent on the payment id.

        Raises BankRejected (invalid: never retry) or BankUnavailable (outcome unknown).
        """

    def status_of(self, payment_id: UUID) -> BankStatusReport | None:
        """The bank's status for a payment; None if the bank never received it."""


class BankActions(Protocol):
    """The acquiring bank's API for a payment's captures, voids and refunds (SPEC §8)."""

    def submit_action(self, request: BankActionRequest) -> None:
        """Send a capture, void or refund; idempotent on the action id. Returns when the bank
        accepted it (202: the outcome comes later by callback or query).

        Raises BankRejected (400/422: never retry), BankUnknownPayment (404) or
        BankUnavailable (outcome unknown: retry with the same id, or query).
        """

    def action_status_of(self, payment_id: UUID, action_id: UUID) -> BankActionReport | None:
        """The bank's status for an action; None if the bank never received it."""


class CardCipher(Protocol):
    """Seals card secrets at rest (envelope encryption bound to the payment)."""

    def seal(self, secrets: CardSecrets, payment_id: UUID, merchant_id: UUID) -> SealedCard:
        """Encrypt the secrets for this payment."""

    def unseal(self, sealed: SealedCard, payment_id: UUID, merchant_id: UUID) -> CardSecrets:
        """Decrypt secrets sealed for this payment (fails for any other payment)."""


class CardFingerprinter(Protocol):
    """A keyed, one-way fingerprint of a card number (the same card, the same fingerprint)."""

    def __call__(self, number: str) -> str:
        """The fingerprint of `number` (never reversible to it)."""


class Clock(Protocol):
    """The current time, UTC."""

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""


class IdGenerator(Protocol):
    """New random identifiers."""

    def __call__(self) -> UUID:
        """A new UUID4."""


class MerchantDirectory(Protocol):
    """Merchants and their API keys, stored only as keyed hashes."""

    def add(self, merchant_id: UUID, name: str, key_hash: str, created_at: datetime) -> None:
        """Register a merchant with the hash of its first API key."""

    def merchant_for(self, key_hash: str) -> UUID | None:
        """The merchant owning an active key with this hash, or None (also once the key's
        revocation time has passed)."""

    def rotate_key(
        self, merchant_id: UUID, key_hash: str, created_at: datetime, revoke_old_at: datetime
    ) -> int:
        """Add a key and schedule the merchant's earlier keys to stop at `revoke_old_at`;
        the number of earlier keys. Raises LookupError for an unknown merchant."""


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """A request's claim on its (merchant, key) scope: the request's keyed hash, the claim's
    `owner` token, the id the submission stores its payment under, when it claims, when the
    record expires and until when the claim is locked."""

    scope: str
    request_hash: str
    owner: str
    submission_id: UUID
    claimed_at: datetime
    expires_at: datetime
    locked_until: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What is remembered about one (merchant, key): the request's keyed hash, the claim that
    owns it (`owner`, `locked_until`) and the id the submission stores its payment under
    (kept when a claim is taken over). The answer is not kept: a replay rebuilds it from
    that payment."""

    scope: str
    request_hash: str
    owner: str
    submission_id: UUID
    expires_at: datetime
    locked_until: datetime


class IdempotencyStore(Protocol):
    """Idempotency records keyed by scope (`<merchant_id>#<key>`); every write conditional."""

    def claim(self, claim: IdempotencyClaim) -> bool:
        """Create the claim's record unless a live one exists (none, or expired before
        `claim.claimed_at`); False when a live record is in the way."""

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record of a scope (strongly consistent), or None."""

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """Give an abandoned record to `owner` if `stale_owner` still holds it."""

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """Let a retry take the record over at once (its lock set to `now`) if `owner` still
        holds it; the record keeps its submission id for the retry to resume."""

    def forget(self, scope: str, owner: str) -> None:
        """Delete the record if `owner` still holds it (else leave it): its request was
        refused and stored nothing, so the key is free again."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message taken from the payment queue's dead-letter queue, as it arrived there: its
    body and attributes untouched (it may be the malformed one that crashed the forwarder),
    and the handle that deletes it from the dead-letter queue."""

    handle: str
    body: str
    attributes: Mapping[str, object]


class DeadLetterQueue(Protocol):
    """The payment queue's dead-letter queue, and the way back into the payment queue."""

    def take(self, max_count: int) -> list[DeadLetter]:
        """Up to `max_count` (1..10) letters, hidden from other readers for a while; an
        empty list when none is visible."""

    def send_back(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        """Put `letters` on the payment queue as they are; those the queue accepted."""

    def delete(self, letters: list[DeadLetter]) -> None:
        """Remove `letters` from the dead-letter queue."""


class Metrics(Protocol):
    """Business and dependency metrics (CloudWatch EMF in Lambda): counts and timings, each
    with a few low-cardinality dimensions (a status, a reason, an operation). Never an id or
    card data in a dimension."""

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Add `value` to the count `name` under `dimensions`."""

    def timing_ms(self, name: str, ms: float, **dimensions: str) -> None:
        """Record one duration of `name`, in milliseconds."""


class NoMetrics:
    """Records nothing: the default of every use case and adapter that takes Metrics."""

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Ignore the count."""

    def timing_ms(self, name: str, ms: float, **dimensions: str) -> None:
        """Ignore the timing."""


NO_METRICS = NoMetrics()
