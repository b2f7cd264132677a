"""Use cases of the merchant API around one event's deliveries (SPEC §10): list its attempts,
and resend it now (one attempt outside the retry schedule, to one endpoint or to each
endpoint that wants its type)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from shared_kernel.application.errors import EventNotFound
from shared_kernel.application.webhook_ports import (
    DeliveryAttempt,
    DeliveryLog,
    EndpointDelivery,
    EventStore,
    StoredEvent,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookQueue,
)
from shared_kernel.domain.errors import EndpointNotFound


@dataclass(frozen=True, slots=True)
class ListDeliveries:
    """The attempts of a merchant's event, oldest first."""

    events: EventStore
    log: DeliveryLog

    def __call__(self, merchant_id: UUID, event_id: UUID) -> Sequence[DeliveryAttempt]:
        """Every recorded attempt; raises EventNotFound unless the event is the merchant's."""
        _event(self.events, merchant_id, event_id)
        return self.log.attempts(event_id)


@dataclass(frozen=True, slots=True)
class ResendEvent:
    """Queue one attempt now at an endpoint (or at each subscribed one), outside the
    schedule: it is never retried and never changes the scheduled attempts."""

    events: EventStore
    endpoints: WebhookEndpoints
    queue: WebhookQueue
    log: DeliveryLog

    def __call__(
        self, merchant_id: UUID, event_id: UUID, endpoint_id: UUID | None = None
    ) -> list[UUID]:
        """The endpoints the resend was queued for; raises EventNotFound, or
        EndpointNotFound when `endpoint_id` is not one of the merchant's endpoints."""
        event = _event(self.events, merchant_id, event_id)
        targets = self._targets(event, endpoint_id)
        recorded = self.log.attempts(event_id)
        for endpoint in targets:
            # Numbered after the attempts so far, for the merchant reading the log.
            attempt = 1 + sum(1 for a in recorded if a.endpoint_id == endpoint.id)
            self.queue.deliver(
                EndpointDelivery(event.id, merchant_id, endpoint.id, attempt, resend=True)
            )
        return [endpoint.id for endpoint in targets]

    def _targets(self, event: StoredEvent, endpoint_id: UUID | None) -> list[WebhookEndpoint]:
        if endpoint_id is None:
            return list(self.endpoints.subscribed(event.merchant_id, event.type))
        endpoint = self.endpoints.get(event.merchant_id, endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(str(endpoint_id))
        return [endpoint]


def _event(events: EventStore, merchant_id: UUID, event_id: UUID) -> StoredEvent:
    event = events.get(merchant_id, event_id)
    if event is None:
        raise EventNotFound(str(event_id))
    return event
