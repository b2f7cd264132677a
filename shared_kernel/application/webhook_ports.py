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


class EventStore(Protocol):
    """The merchants' events, kept 30 days."""

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """The merchant's event; None if unknown, expired or another merchant's."""


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
