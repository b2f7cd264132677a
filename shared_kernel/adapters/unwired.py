"""Stand-ins for three adapters the webhook sender uses but other parts of the gateway own:
the events table (the events recorder), the webhook endpoints and the URL guard (the endpoint
routes). Until those are wired in `bootstrap.py`, the gateway behaves as one with no events
and no endpoints: the delivery routes answer 404, a fan-out reaches no endpoint, and every URL
is refused (deny by default). Nothing here stores or sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from shared_kernel.application.webhook_ports import StoredEvent, UnsafeUrl, WebhookEndpoint


class NoEvents:
    """An EventStore that holds no event."""

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """None: no event is known."""
        return None


class NoEndpoints:
    """WebhookEndpoints with no endpoint."""

    def subscribed(self, merchant_id: UUID, event_type: str) -> Sequence[WebhookEndpoint]:
        """No endpoint wants anything."""
        return []

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """None: every endpoint counts as deleted."""
        return None

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> Sequence[str]:
        """No secret: there is no endpoint to sign for."""
        return []


def refuse_every_url(url: str) -> Sequence[str]:
    """A URL guard that refuses everything (until the real SSRF check is wired)."""
    raise UnsafeUrl(f"no URL guard wired: {url!r} refused")
