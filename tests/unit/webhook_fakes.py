"""In-memory implementations of the webhook ports (shared_kernel/application/webhook_ports.py)
for the sender's unit tests: events, endpoints with their secrets, the queue, the delivery
log, a permissive URL guard and a scripted poster. Each records what it was asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from shared_kernel.application.webhook_ports import (
    DeliveryAttempt,
    EndpointDelivery,
    FanOut,
    PostResult,
    StoredEvent,
    UnsafeUrl,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from shared_kernel.application.webhook_ports import (
        DeliveryLog,
        EventStore,
        UrlGuard,
        WebhookEndpoints,
        WebhookPoster,
        WebhookQueue,
    )

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
MERCHANT = UUID("2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f")


def an_event(
    n: int = 1, type_: str = "payment.succeeded", merchant: UUID = MERCHANT
) -> StoredEvent:
    """Event number `n`, whose body is bytes no serialiser would write (spacing, key order)."""
    event_id = UUID(int=n, version=4)
    body = (
        f'{{"type":"{type_}",  "id":"{event_id}", "merchant_id":"{merchant}",'
        f' "data":{{"object":{{"amount":1050 }}}}}}'
    ).encode()
    return StoredEvent(event_id, type_, merchant, NOW, body)


def an_endpoint(
    n: int = 1, url: str = "https://merchant.example/hooks", events: tuple[str, ...] = ("*",)
) -> WebhookEndpoint:
    """Endpoint number `n` of MERCHANT."""
    return WebhookEndpoint(UUID(int=1000 + n, version=4), MERCHANT, url, events, NOW)


class InMemoryEventStore:
    """Events by id (only `get`, the sender's and the routes' read)."""

    def __init__(self, *events: StoredEvent) -> None:
        self.events = {e.id: e for e in events}

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """The merchant's event, or None (unknown or another merchant's)."""
        event = self.events.get(event_id)
        return event if event is not None and event.merchant_id == merchant_id else None


class InMemoryWebhookEndpoints:
    """Endpoints by id, each with its live secrets (newest first)."""

    def __init__(self) -> None:
        self.endpoints: dict[UUID, WebhookEndpoint] = {}
        self.secrets: dict[UUID, list[str]] = {}

    def add(self, endpoint: WebhookEndpoint, *secrets: str) -> WebhookEndpoint:
        """Register `endpoint` with `secrets` (default: one derived from its id)."""
        self.endpoints[endpoint.id] = endpoint
        self.secrets[endpoint.id] = list(secrets) or [f"whsec_{endpoint.id.hex}"]
        return endpoint

    def delete(self, endpoint_id: UUID) -> None:
        """Delete an endpoint (its pending retries must then stop) and its secrets."""
        del self.endpoints[endpoint_id]
        del self.secrets[endpoint_id]

    def subscribed(self, merchant_id: UUID, event_type: str) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints that want `event_type`, in the order added."""
        return [
            e
            for e in self.endpoints.values()
            if e.merchant_id == merchant_id and e.wants(event_type)
        ]

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The merchant's endpoint, or None once deleted."""
        endpoint = self.endpoints.get(endpoint_id)
        return endpoint if endpoint is not None and endpoint.merchant_id == merchant_id else None

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> Sequence[str]:
        """The endpoint's secrets as registered; none once it is deleted (as the adapter)."""
        return list(self.secrets.get(endpoint.id, []))


@dataclass
class RecordingWebhookQueue:
    """Every message queued, with its delay, in order."""

    fanned_out: list[FanOut] = field(default_factory=list)
    delivered: list[tuple[EndpointDelivery, float]] = field(default_factory=list)

    def fan_out(self, message: FanOut) -> None:
        """Record a fan-out."""
        self.fanned_out.append(message)

    def deliver(self, message: EndpointDelivery, delay_s: float = 0) -> None:
        """Record a delivery and its delay (refusing what SQS refuses: over 900 s)."""
        if delay_s > 900:
            raise ValueError(f"an SQS delay is at most 900 s, not {delay_s}")
        self.delivered.append((message, delay_s))


class InMemoryDeliveryLog:
    """Attempts keyed as the adapter keys them: (event, endpoint, attempt) for the schedule,
    (event, endpoint, time) for a resend."""

    def __init__(self) -> None:
        self.items: dict[tuple[UUID, UUID, object], DeliveryAttempt] = {}

    def record(self, attempt: DeliveryAttempt) -> None:
        """Store (a repeat of a scheduled attempt overwrites it)."""
        third: object = ("resend", attempt.at) if attempt.resend else attempt.attempt
        self.items[(attempt.event_id, attempt.endpoint_id, third)] = attempt

    def attempts(self, event_id: UUID) -> Sequence[DeliveryAttempt]:
        """The event's attempts, oldest first."""
        found = [a for (e, _, _), a in self.items.items() if e == event_id]
        return sorted(found, key=lambda a: (a.at, a.attempt))


@dataclass
class CheckingUrlGuard:
    """Permissive by default (every URL resolves to 203.0.113.10); refuses the URLs in
    `refused`. Records every URL checked."""

    refused: set[str] = field(default_factory=set)
    checked: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> Sequence[str]:
        """The one documentation address, or UnsafeUrl."""
        self.checked.append(url)
        if url in self.refused:
            raise UnsafeUrl(url)
        return ["203.0.113.10"]


@dataclass(frozen=True)
class Post:
    """One POST the poster was asked for."""

    url: str
    addresses: tuple[str, ...]
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedPoster:
    """Answers each POST with `answer(url)` (default 200), recording every request."""

    answer: Callable[[str], PostResult] = lambda _url: PostResult(200, None, 12)
    posts: list[Post] = field(default_factory=list)

    def post(
        self, url: str, addresses: Sequence[str], headers: dict[str, str], body: bytes
    ) -> PostResult:
        """The scripted answer."""
        self.posts.append(Post(url, tuple(addresses), dict(headers), body))
        return self.answer(url)


if TYPE_CHECKING:
    _events: EventStore = InMemoryEventStore()
    _endpoints: WebhookEndpoints = InMemoryWebhookEndpoints()
    _queue: WebhookQueue = RecordingWebhookQueue()
    _log: DeliveryLog = InMemoryDeliveryLog()
    _guard: UrlGuard = CheckingUrlGuard()
    _poster: WebhookPoster = ScriptedPoster()
