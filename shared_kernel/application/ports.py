"""The ports: what the use cases need from the outside world, as Protocols.

Adapters in shared_kernel.adapters implement them for AWS; tests/unit/fakes.py implements
them in memory. bootstrap.py picks which.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from shared_kernel.domain.card import CardSecrets, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import Outcome, PaymentRequest, PaymentStatus


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

    def open_payments(
        self, status: PaymentStatus, updated_before: datetime, limit: int
    ) -> Iterable[PaymentRequest]:
        """Payments still in `status` (pending or processing) last changed before a time."""


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
        """The merchant owning an active key with this hash, or None."""
