"""The ports: what the use cases need from the outside world, as Protocols.

Adapters in shared_kernel.adapters implement them for AWS; tests/unit/fakes.py implements
them in memory. bootstrap.py picks which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared_kernel.domain.card import CardSecrets, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import Outcome, PaymentRequest


class QueueUnavailable(Exception):
    """The payment queue could not take a message right now."""


@dataclass(frozen=True, slots=True)
class QueuedPayment:
    """The queue message asking the forwarder to send a payment to the bank: ids only."""

    payment_id: UUID
    merchant_id: UUID
    correlation_id: str


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


@dataclass(frozen=True, slots=True)
class BankAcceptance:
    """The bank took the payment (202) and will report its outcome later."""

    bank_reference: str


@dataclass(frozen=True, slots=True)
class BankStatusReport:
    """The bank's current view of a payment, mapped to the gateway's outcome."""

    bank_reference: str
    outcome: Outcome


class PaymentRepository(Protocol):
    """Durable storage of payments, with optimistic concurrency on `version`."""

    def add(self, payment: PaymentRequest) -> None:
        """Store a new payment; fails if its id exists."""

    def get(self, payment_id: UUID) -> PaymentRequest:
        """The payment with this id; raises PaymentNotFound."""

    def save(self, payment: PaymentRequest) -> None:
        """Write changes if nobody else did since it was read (raises ConcurrentUpdate);
        bumps `payment.version`."""

    def open_payments(self, due_at: datetime, limit: int) -> Iterable[PaymentRequest]:
        """At most `limit` open payments whose next check is due at `due_at` (its
        `next_check_at` not after it), earliest due first, each read strongly consistent
        just before it is yielded (it may have changed since it was found: check again)."""


class PaymentQueue(Protocol):
    """The queue between submit and the forwarder (at-least-once delivery)."""

    def publish(self, message: QueuedPayment) -> None:
        """Queue one message; raises QueueUnavailable."""


class AcquiringBank(Protocol):
    """The acquiring bank's API."""

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Ask the bank to charge; idempotent on the payment id.

        Raises BankRejected (invalid: never retry) or BankUnavailable (outcome unknown).
        """

    def status_of(self, payment_id: UUID) -> BankStatusReport | None:
        """The bank's status for a payment; None if the bank never received it."""


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
class StoredAnswer:
    """The first answer to an idempotent request, kept to be replayed: status, JSON body
    text and the headers that belong to it (Location). Never holds card data."""

    status: int
    body: str
    headers: Mapping[str, str]


class IdempotencyState(StrEnum):
    """Where the first request with a key is: still running, or answered."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What is remembered about one (merchant, key): the request's keyed hash, its state,
    the claim that owns it (`owner`, `locked_until`), the id the submission creates its
    payment under (kept when a claim is taken over) and, once completed, its answer."""

    scope: str
    request_hash: str
    state: IdempotencyState
    owner: str
    submission_id: UUID
    expires_at: datetime
    locked_until: datetime
    answer: StoredAnswer | None = None


class IdempotencyStore(Protocol):
    """Idempotency records keyed by scope (`<merchant_id>#<key>`); every write conditional."""

    def claim(
        self,
        scope: str,
        request_hash: str,
        owner: str,
        submission_id: UUID,
        now: datetime,
        expires_at: datetime,
        locked_until: datetime,
    ) -> bool:
        """Create an IN_PROGRESS record owned by `owner` unless a live one exists (none, or
        expired before `now`); False when a live record is in the way."""

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record of a scope (strongly consistent), or None."""

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """Give an abandoned IN_PROGRESS record to `owner` if `stale_owner` still holds it."""

    def complete(self, scope: str, owner: str, answer: StoredAnswer) -> bool:
        """Mark the record COMPLETED with its answer if `owner` still holds it."""

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """Let a retry take the IN_PROGRESS record over at once (its lock set to `now`) if
        `owner` still holds it; the record keeps its submission id for the retry to resume."""
