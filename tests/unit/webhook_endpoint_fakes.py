"""In-memory webhook endpoints and a reversible secret sealer, for unit tests (and the port
contract tests, which hold them to the DynamoDB + KMS adapter's behaviour)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from shared_kernel.application.webhook_endpoints import SigningEndpoints
from shared_kernel.application.webhook_ports import (
    SecretSealer,
    StoredEndpoint,
    WebhookEndpoint,
)
from shared_kernel.domain.errors import EndpointLimitReached
from shared_kernel.domain.webhook_endpoint import SealedSecret


@dataclass
class XorSealer:
    """Seals by XOR with a per-endpoint pad behind a (merchant, endpoint) tag: nothing like
    encryption, but the blob never holds the secret as it is, and opens for its own
    endpoint only."""

    sealed: int = 0
    opened: int = 0

    @staticmethod
    def _pad(merchant_id: UUID, endpoint_id: UUID, length: int) -> bytes:
        seed = merchant_id.bytes + endpoint_id.bytes
        return (seed * (length // len(seed) + 1))[:length]

    def seal(self, secret: str, merchant_id: UUID, endpoint_id: UUID) -> bytes:
        """The XORed secret, tagged with the endpoint."""
        self.sealed += 1
        raw = secret.encode()
        pad = self._pad(merchant_id, endpoint_id, len(raw))
        tag = merchant_id.bytes + endpoint_id.bytes
        return tag + bytes(a ^ b for a, b in zip(raw, pad, strict=True))

    def open(self, blob: bytes, merchant_id: UUID, endpoint_id: UUID) -> str:
        """The secret, or ValueError for another endpoint's blob."""
        if blob[:32] != merchant_id.bytes + endpoint_id.bytes:
            raise ValueError("webhook secret cannot be opened")
        self.opened += 1
        body = blob[32:]
        pad = self._pad(merchant_id, endpoint_id, len(body))
        return bytes(a ^ b for a, b in zip(body, pad, strict=True)).decode()


@dataclass
class InMemoryWebhookEndpoints:
    """Endpoints in a dict by (merchant, endpoint); the limit checked under a lock, as the
    adapter's transaction checks it."""

    sealer: SecretSealer = field(default_factory=XorSealer)
    items: dict[tuple[UUID, UUID], StoredEndpoint] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: WebhookEndpoint, secret: SealedSecret, limit: int) -> None:
        """Store it if the merchant has fewer than `limit`."""
        with self._lock:
            key = (endpoint.merchant_id, endpoint.id)
            if key in self.items:
                raise ValueError(f"endpoint {endpoint.id} is already stored")
            if len(self._of(endpoint.merchant_id)) >= limit:
                raise EndpointLimitReached(str(endpoint.merchant_id))
            self.items[key] = StoredEndpoint(endpoint, (secret,), 0)

    def endpoints(self, merchant_id: UUID) -> list[WebhookEndpoint]:
        """Oldest first."""
        with self._lock:
            return [s.endpoint for s in self._of(merchant_id)]

    def stored(self, merchant_id: UUID, endpoint_id: UUID) -> StoredEndpoint | None:
        """The stored endpoint, or None."""
        with self._lock:
            return self.items.get((merchant_id, endpoint_id))

    def replace_secrets(self, stored: StoredEndpoint, secrets: Sequence[SealedSecret]) -> bool:
        """Conditional on the version."""
        with self._lock:
            key = (stored.endpoint.merchant_id, stored.endpoint.id)
            now = self.items.get(key)
            if now is None or now.version != stored.version:
                return False
            self.items[key] = StoredEndpoint(now.endpoint, tuple(secrets), now.version + 1)
            return True

    def remove(self, merchant_id: UUID, endpoint_id: UUID) -> bool:
        """Delete; False if it was not there."""
        with self._lock:
            return self.items.pop((merchant_id, endpoint_id), None) is not None

    def subscribed(self, merchant_id: UUID, event_type: str) -> list[WebhookEndpoint]:
        """The merchant's endpoints that want the type."""
        return SigningEndpoints(self, self.sealer).subscribed(merchant_id, event_type)

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint, or None once deleted."""
        return SigningEndpoints(self, self.sealer).get(merchant_id, endpoint_id)

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The live secrets, newest first, opened."""
        return SigningEndpoints(self, self.sealer).signing_secrets(endpoint, now)

    def _of(self, merchant_id: UUID) -> list[StoredEndpoint]:
        found = [s for (m, _), s in self.items.items() if m == merchant_id]
        return sorted(found, key=lambda s: (s.endpoint.created_at, str(s.endpoint.id)))
