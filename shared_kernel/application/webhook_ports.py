"""The ports of events and merchant webhooks (SPEC §10): the stored events, the merchants'
webhook endpoints with their signing secrets, the webhook queue, and the delivery attempts.

The change that a merchant can see is recorded as an event by the events recorder (from the
payments table's change stream); the recorder hands each new event to the webhook queue as a
`FanOut`; the webhook sender turns it into one `EndpointDelivery` per subscribed endpoint and
delivers each on its own, retrying on the schedule of §10 and recording every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from shared_kernel.domain.webhook_endpoint import SealedSecret


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One immutable event: `body` is the exact JSON bytes of the event object, which every
    delivery sends and signs as they are (never re-serialised)."""

    id: UUID
    type: str
    merchant_id: UUID
    created_at: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """A merchant's webhook endpoint as the sender needs it (no secret)."""

    id: UUID
    merchant_id: UUID
    url: str
    enabled_events: tuple[str, ...]
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        """Whether the endpoint subscribed to `event_type` (`*` is every type)."""
        return "*" in self.enabled_events or event_type in self.enabled_events


@dataclass(frozen=True, slots=True)
class FanOut:
    """The webhook queue's message for a new event: send it to every subscribed endpoint."""

    event_id: UUID
    merchant_id: UUID


@dataclass(frozen=True, slots=True)
class EndpointDelivery:
    """The webhook queue's message for one (event, endpoint): make attempt number `attempt`
    (1-based; attempt 1 is the first of the schedule, a resend is outside it)."""

    event_id: UUID
    merchant_id: UUID
    endpoint_id: UUID
    attempt: int
    resend: bool = False
    # When the attempt is due, for a wait longer than one SQS delay (900 s): the message then
    # hops through the queue until this time (None: due when received).
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST to an endpoint, as `GET .../events/{id}/deliveries` shows it."""

    event_id: UUID
    endpoint_id: UUID
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    # A merchant's resend (outside the schedule: never overwrites a scheduled attempt).
    resend: bool = False
    # The schedule's last attempt failed: the delivery to this endpoint is `failed`.
    delivery_failed: bool = False


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one webhook POST came to: the HTTP status (None if there was no answer), why it
    failed when it did, and how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        """A 2xx answer (within the timeout): the event is delivered."""
        return self.status_code is not None and 200 <= self.status_code < 300


class UnsafeUrl(Exception):
    """A webhook URL the SSRF rules refuse (loopback, private, link-local, metadata, ...)."""


class UrlGuard(Protocol):
    """The SSRF check of a webhook URL, made again at each delivery (DNS can change)."""

    def __call__(self, url: str) -> Sequence[str]:
        """The checked IP addresses `url`'s host resolves to (connect only to these); raises
        UnsafeUrl when the URL or any address is refused."""


class WebhookPoster(Protocol):
    """HTTP POSTs to merchants' webhook endpoints."""

    def post(
        self, url: str, addresses: Sequence[str], headers: dict[str, str], body: bytes
    ) -> PostResult:
        """POST `body` to `url`, connected to one of the checked `addresses`, the whole
        request bounded by the timeout, no redirect followed, no proxy used."""


@dataclass(frozen=True, slots=True)
class EventPosition:
    """An event's place in its merchant's list: its `created_at` (to the microsecond), then
    its id; the list runs newest first, so greater positions come first."""

    created_at: datetime
    event_id: UUID

    @classmethod
    def of(cls, event: StoredEvent) -> EventPosition:
        """Where `event` stands in its merchant's list."""
        return cls(event.created_at, event.id)


@dataclass(frozen=True, slots=True)
class EventPageQuery:
    """One page of a merchant's events: at most `limit` of type `type` (None: every type)
    recorded at or after `not_before` (older ones have expired), older than `after` or newer than
    `before` (at most one of the two; neither: the newest)."""

    merchant_id: UUID
    limit: int
    not_before: datetime
    type: str | None = None
    after: EventPosition | None = None
    before: EventPosition | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page, newest first, and whether more match beyond it (older ones for a first or an
    `after` page, newer ones for a `before` page)."""

    events: list[StoredEvent]
    has_more: bool


class EventStore(Protocol):
    """The merchants' events, kept 30 days."""

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """The merchant's event; None if unknown, expired or another merchant's."""

    def add(self, event: StoredEvent) -> bool:
        """Store a new event, kept 30 days from its `created_at`; False (nothing written)
        when an event with its id is already stored: a redelivered change records nothing
        twice."""

    def page(self, query: EventPageQuery) -> EventPage:
        """One page of the merchant's events, newest first: the `query.limit` matching events
        next to its position, `limit` of them whenever `has_more` (eventually consistent)."""


class WebhookEndpoints(Protocol):
    """The merchants' webhook endpoints, read by the sender."""

    def subscribed(self, merchant_id: UUID, event_type: str) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints (not deleted) that want `event_type`."""

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The merchant's endpoint; None once deleted (its pending retries then stop)."""

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> Sequence[str]:
        """The endpoint's live `whsec_...` secrets at `now`, newest first (at most two): the
        sender signs with each. Decrypts them: only the sender may call this."""


class WebhookQueue(Protocol):
    """The queue between the events recorder, the merchant API (resend) and the sender."""

    def fan_out(self, message: FanOut) -> None:
        """Queue a new event for every subscribed endpoint; raises QueueUnavailable."""

    def deliver(self, message: EndpointDelivery, delay_s: float = 0) -> None:
        """Queue one attempt at one endpoint, not before `delay_s` seconds; raises
        QueueUnavailable."""


class DeliveryLog(Protocol):
    """Every delivery attempt, per event."""

    def record(self, attempt: DeliveryAttempt) -> None:
        """Store one attempt (a repeat of the same event, endpoint and attempt overwrites)."""

    def attempts(self, event_id: UUID) -> Sequence[DeliveryAttempt]:
        """The event's attempts, oldest first."""


# -- the merchant API's side of the endpoints (added with the endpoint routes) ----------


@dataclass(frozen=True, slots=True)
class StoredEndpoint:
    """An endpoint with its sealed secrets, as stored, and the version its next write is
    conditional on."""

    endpoint: WebhookEndpoint
    secrets: tuple[SealedSecret, ...]
    version: int


class WebhookEndpointRegistry(Protocol):
    """The merchants' webhook endpoints, written by the merchant API (which may seal
    secrets but never open them)."""

    def add(self, endpoint: WebhookEndpoint, secret: SealedSecret, limit: int) -> None:
        """Store a new endpoint with its first secret, if the merchant has fewer than `limit`
        endpoints (checked by the same conditional write, so concurrent adds cannot pass it).

        Raises EndpointLimitReached; ValueError if the endpoint id is already stored."""

    def endpoints(self, merchant_id: UUID) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints (not deleted), oldest first."""

    def stored(self, merchant_id: UUID, endpoint_id: UUID) -> StoredEndpoint | None:
        """The merchant's endpoint with its sealed secrets; None if unknown or deleted."""

    def replace_secrets(self, stored: StoredEndpoint, secrets: Sequence[SealedSecret]) -> bool:
        """Store `secrets` as the endpoint's, if it is still at `stored.version` and not
        deleted; False if it moved (read it again) or is gone."""

    def remove(self, merchant_id: UUID, endpoint_id: UUID) -> bool:
        """Delete the endpoint (its pending retries then stop); False if it was not there."""


class SecretSealer(Protocol):
    """Encrypts signing secrets for one endpoint; only the sender's role may open them."""

    def seal(self, secret: str, merchant_id: UUID, endpoint_id: UUID) -> bytes:
        """The encrypted secret, bound to the merchant and the endpoint."""

    def open(self, blob: bytes, merchant_id: UUID, endpoint_id: UUID) -> str:
        """The secret sealed for this endpoint; ValueError for another endpoint's blob."""
