"""Use cases of the webhook sender (SPEC §10): fan an event out to its endpoints, then make
each (event, endpoint) attempt on its own, on the retry schedule.

A `FanOut` becomes one `EndpointDelivery(attempt=1)` message per subscribed endpoint, so a
slow or dead endpoint only ever holds up its own messages. An attempt re-reads the endpoint
(deleted: its retries stop), the event's stored bytes and the URL's SSRF check, signs and
POSTs, records the attempt, then either is done (2xx), queues the next attempt after the
schedule's wait, or, after the last, records the delivery as failed. A resend is one attempt
now, outside the schedule. Every step is idempotent enough for SQS's at-least-once delivery:
a repeated attempt overwrites its own record and re-queues the same next attempt.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from shared_kernel.application.ports import NO_METRICS, Clock, Metrics
from shared_kernel.application.webhook_ports import (
    DeliveryAttempt,
    DeliveryLog,
    EndpointDelivery,
    EventStore,
    FanOut,
    PostResult,
    StoredEvent,
    UnsafeUrl,
    UrlGuard,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookPoster,
    WebhookQueue,
)
from shared_kernel.application.webhook_schedule import RetrySchedule, hop_towards
from shared_kernel.application.webhook_signature import signature_header

logger = logging.getLogger(__name__)
URL_REFUSED = "url_refused"
DEFAULT_SCHEDULE = RetrySchedule()


class Outcome(enum.Enum):
    """What handling one webhook queue message came to."""

    FANNED_OUT = "fanned_out"
    DELIVERED = "delivered"
    RETRY_QUEUED = "retry_queued"
    FAILED = "failed"
    HOPPED = "hopped"
    ENDPOINT_DELETED = "endpoint_deleted"
    EVENT_GONE = "event_gone"


@dataclass(frozen=True, slots=True)
class FanOutEvent:
    """Queue attempt 1 of an event at each endpoint of its merchant that wants its type."""

    events: EventStore
    endpoints: WebhookEndpoints
    queue: WebhookQueue

    def __call__(self, message: FanOut) -> Outcome:
        """FANNED_OUT (to no endpoint, if none wants it), or EVENT_GONE."""
        event = self.events.get(message.merchant_id, message.event_id)
        if event is None:
            logger.warning("fan-out of an unknown event", extra=_ids(message))
            return Outcome.EVENT_GONE
        for endpoint in self.endpoints.subscribed(message.merchant_id, event.type):
            self.queue.deliver(
                EndpointDelivery(event.id, event.merchant_id, endpoint.id, attempt=1)
            )
        return Outcome.FANNED_OUT


@dataclass(frozen=True, slots=True)
class DeliverToEndpoint:
    """Make one attempt of one (event, endpoint) and decide what comes next."""

    events: EventStore
    endpoints: WebhookEndpoints
    queue: WebhookQueue
    log: DeliveryLog
    url_guard: UrlGuard
    poster: WebhookPoster
    clock: Clock
    schedule: RetrySchedule = DEFAULT_SCHEDULE
    metrics: Metrics = NO_METRICS

    def __call__(self, message: EndpointDelivery) -> Outcome:
        """The outcome of the attempt, or HOPPED when it is not due yet."""
        now = self.clock.now()
        if message.not_before is not None and now < message.not_before:
            return self._hop(message, message.not_before, now)
        endpoint = self.endpoints.get(message.merchant_id, message.endpoint_id)
        if endpoint is None:
            logger.info("endpoint deleted; delivery stops", extra=_ids(message))
            return self._counted(Outcome.ENDPOINT_DELETED)
        event = self.events.get(message.merchant_id, message.event_id)
        if event is None:
            logger.warning("event gone; delivery stops", extra=_ids(message))
            return self._counted(Outcome.EVENT_GONE)
        secrets = self.endpoints.signing_secrets(endpoint, now)
        if not secrets:  # deleted since it was read: nothing to sign with, nothing to send
            logger.info("endpoint deleted; delivery stops", extra=_ids(message))
            return self._counted(Outcome.ENDPOINT_DELETED)
        result = self._attempt(endpoint, secrets, event, now)
        last = not message.resend and self.schedule.wait_after(message.attempt) is None
        failed = not result.delivered and (message.resend or last)
        self.log.record(
            DeliveryAttempt(
                event_id=event.id,
                endpoint_id=endpoint.id,
                attempt=message.attempt,
                at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
                resend=message.resend,
                delivery_failed=failed and not message.resend,
            )
        )
        self.metrics.timing_ms("WebhookAttemptDuration", result.duration_ms)
        context = {**_ids(message), "status_code": result.status_code, "error": result.error}
        if result.delivered:
            logger.info("webhook delivered", extra=context)
            return self._counted(Outcome.DELIVERED)
        if failed:
            logger.warning("webhook delivery failed", extra=context)
            return self._counted(Outcome.FAILED)
        return self._retry(message, now, context)

    def _attempt(
        self, endpoint: WebhookEndpoint, secrets: Sequence[str], event: StoredEvent, now: datetime
    ) -> PostResult:
        try:
            addresses = self.url_guard(endpoint.url)
        except UnsafeUrl:
            # Refused now (DNS may have changed since registration): nothing is sent; the
            # attempt counts as failed and the schedule goes on, as for any failure.
            return PostResult(None, URL_REFUSED, 0)
        headers = {
            "Content-Type": "application/json",
            "Gateway-Event-Id": str(event.id),
            "Gateway-Signature": signature_header(secrets, int(now.timestamp()), event.body),
        }
        return self.poster.post(endpoint.url, addresses, headers, event.body)

    def _retry(
        self, message: EndpointDelivery, now: datetime, context: dict[str, object]
    ) -> Outcome:
        wait = self.schedule.wait_after(message.attempt)
        assert wait is not None  # the last attempt's failure returned before
        logger.info(
            "webhook attempt failed; retry queued",
            extra={**context, "retry_in_s": wait.total_seconds()},
        )
        next_attempt = replace(message, attempt=message.attempt + 1, not_before=None)
        self._hop(next_attempt, now + wait, now)
        return self._counted(Outcome.RETRY_QUEUED)

    def _hop(self, message: EndpointDelivery, due: datetime, now: datetime) -> Outcome:
        hop = hop_towards(due, now)
        self.queue.deliver(replace(message, not_before=hop.not_before), hop.delay_s)
        return Outcome.HOPPED

    def _counted(self, outcome: Outcome) -> Outcome:
        self.metrics.count("WebhookAttempts", outcome=outcome.value)
        return outcome


def _ids(message: FanOut | EndpointDelivery) -> dict[str, object]:
    ids: dict[str, object] = {
        "event_id": str(message.event_id),
        "merchant_id": str(message.merchant_id),
    }
    if isinstance(message, EndpointDelivery):
        ids.update(endpoint_id=str(message.endpoint_id), attempt=message.attempt)
    return ids
