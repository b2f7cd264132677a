"""Use cases of a merchant's webhook endpoints (SPEC §10): create one (with its first secret),
list them, delete one, rotate one's secret.

A new secret is sealed (KMS) before it is stored and shown once, in the answer. The two
POSTs take an Idempotency-Key like a payment's (IdempotentSubmit): the endpoint is created
under the claim's submission id, and a rotation's new secret carries it, so a retried
request finds what it did. A replay answers the endpoint as it is now, without the secret:
the gateway cannot read a secret back (only the sender may decrypt), so a merchant who lost
the first answer rotates the secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from shared_kernel.application.errors import ConcurrentUpdate
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.ports import Clock, IdGenerator
from shared_kernel.application.webhook_ports import (
    SecretSealer,
    WebhookEndpoint,
    WebhookEndpointRegistry,
)
from shared_kernel.domain.errors import EndpointNotFound
from shared_kernel.domain.webhook_endpoint import (
    DEFAULT_ROTATION_OVERLAP_HOURS,
    MAX_ENDPOINTS_PER_MERCHANT,
    SealedSecret,
    live_secrets,
    new_secret,
    rotated,
)

# A rotation re-reads the endpoint this many times when another write moved it meanwhile.
_ROTATION_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class EndpointCreation:
    """A merchant's checked request for a new endpoint."""

    merchant_id: UUID
    url: str
    enabled_events: tuple[str, ...]
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class SecretRotation:
    """A merchant's checked request for a new secret of one of its endpoints."""

    merchant_id: UUID
    endpoint_id: UUID
    expires_in_hours: int = DEFAULT_ROTATION_OVERLAP_HOURS
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    """The endpoint and the secret just made (None on a replay), and whether it replays."""

    endpoint: WebhookEndpoint
    secret: str | None
    replayed: bool = False

    def __repr__(self) -> str:  # never the secret, in any log or traceback
        return f"EndpointWithSecret(endpoint={self.endpoint!r}, replayed={self.replayed})"


@dataclass(frozen=True, slots=True)
class SecretWrites:
    """What the two POSTs share: the registry, the sealer of new secrets, the clock, new ids
    and the idempotency use case (built on the first request with a key only: it reads a
    secret and binds a table)."""

    registry: WebhookEndpointRegistry
    sealer: SecretSealer
    clock: Clock
    new_id: IdGenerator
    idempotent: Callable[[], IdempotentSubmit]
    make_secret: Callable[[], str] = new_secret

    def new(
        self, secret_id: UUID, merchant_id: UUID, endpoint_id: UUID
    ) -> tuple[str, SealedSecret]:
        """A new secret and its sealed form, for this endpoint."""
        secret = self.make_secret()
        blob = self.sealer.seal(secret, merchant_id, endpoint_id)
        return secret, SealedSecret(secret_id, blob, self.clock.now())

    def once_per_key(
        self,
        merchant_id: UUID,
        key: str | None,
        body: Mapping[str, object],
        run: Callable[[UUID], EndpointWithSecret],
        replay: Callable[[UUID], EndpointWithSecret | None],
    ) -> EndpointWithSecret:
        """`run` under a fresh id without a key; with one, once per (merchant, key) under
        the claim's id, a repeat answered by `replay` (which finds what `run` stored)."""
        if key is None:
            return run(self.new_id())
        answer = self.idempotent()(
            merchant_id,
            key,
            body,
            lambda submission_id, _resumed: replay(submission_id) or run(submission_id),
            replay,
        )
        if answer.replayed:
            return EndpointWithSecret(answer.answer.endpoint, None, replayed=True)
        return answer.answer


@dataclass(frozen=True, slots=True)
class CreateWebhookEndpoint:
    """Create an endpoint and its first secret, at most 16 per merchant."""

    writes: SecretWrites
    limit: int = MAX_ENDPOINTS_PER_MERCHANT

    def __call__(self, request: EndpointCreation) -> EndpointWithSecret:
        """The new endpoint and its secret; raises EndpointLimitReached, or the idempotency
        errors (IdempotencyKeyReused, IdempotencyInProgress)."""
        body = {
            "operation": "create-webhook-endpoint",
            "url": request.url,
            "enabled_events": list(request.enabled_events),
        }
        return self.writes.once_per_key(
            request.merchant_id,
            request.idempotency_key,
            body,
            lambda endpoint_id: self._create(request, endpoint_id),
            lambda endpoint_id: self._stored(request.merchant_id, endpoint_id),
        )

    def _create(self, request: EndpointCreation, endpoint_id: UUID) -> EndpointWithSecret:
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            merchant_id=request.merchant_id,
            url=request.url,
            enabled_events=request.enabled_events,
            created_at=self.writes.clock.now(),
        )
        secret, sealed = self.writes.new(endpoint_id, request.merchant_id, endpoint_id)
        self.writes.registry.add(endpoint, sealed, self.limit)
        return EndpointWithSecret(endpoint, secret)

    def _stored(self, merchant_id: UUID, endpoint_id: UUID) -> EndpointWithSecret | None:
        stored = self.writes.registry.stored(merchant_id, endpoint_id)
        return None if stored is None else EndpointWithSecret(stored.endpoint, None, True)


@dataclass(frozen=True, slots=True)
class RotateWebhookSecret:
    """Give an endpoint a new current secret; the previous one lives on for the overlap."""

    writes: SecretWrites

    def __call__(self, request: SecretRotation) -> EndpointWithSecret:
        """The endpoint and its new secret; raises EndpointNotFound (unknown, deleted or
        another merchant's), or the idempotency errors."""
        body = {
            "operation": "rotate-webhook-secret",
            "endpoint_id": str(request.endpoint_id),
            "expires_in_hours": request.expires_in_hours,
        }
        return self.writes.once_per_key(
            request.merchant_id,
            request.idempotency_key,
            body,
            lambda secret_id: self._rotate(request, secret_id),
            lambda secret_id: self._done(request, secret_id),
        )

    def _rotate(self, request: SecretRotation, secret_id: UUID) -> EndpointWithSecret:
        writes = self.writes
        overlap = timedelta(hours=request.expires_in_hours)
        stored = writes.registry.stored(request.merchant_id, request.endpoint_id)
        if stored is None:  # checked before the secret is made: no KMS call for a 404
            raise EndpointNotFound(str(request.endpoint_id))
        secret, sealed = writes.new(secret_id, request.merchant_id, request.endpoint_id)
        for _ in range(_ROTATION_ROUNDS):
            if stored is None:
                raise EndpointNotFound(str(request.endpoint_id))
            kept = rotated(stored.secrets, sealed, overlap, writes.clock.now())
            if writes.registry.replace_secrets(stored, kept):
                return EndpointWithSecret(stored.endpoint, secret)
            stored = writes.registry.stored(request.merchant_id, request.endpoint_id)
        raise ConcurrentUpdate(str(request.endpoint_id))

    def _done(self, request: SecretRotation, secret_id: UUID) -> EndpointWithSecret | None:
        """The endpoint if the rotation with this id is already stored."""
        stored = self.writes.registry.stored(request.merchant_id, request.endpoint_id)
        if stored is None or all(s.id != secret_id for s in stored.secrets):
            return None
        return EndpointWithSecret(stored.endpoint, None, True)


@dataclass(frozen=True, slots=True)
class ListWebhookEndpoints:
    """A merchant's endpoints, oldest first (never a secret)."""

    registry: WebhookEndpointRegistry

    def __call__(self, merchant_id: UUID) -> list[WebhookEndpoint]:
        """Every endpoint of the merchant."""
        return list(self.registry.endpoints(merchant_id))


@dataclass(frozen=True, slots=True)
class DeleteWebhookEndpoint:
    """Delete an endpoint: no event is sent to it after, and its pending retries stop."""

    registry: WebhookEndpointRegistry

    def __call__(self, merchant_id: UUID, endpoint_id: UUID) -> None:
        """Raises EndpointNotFound when the merchant has no such endpoint."""
        if not self.registry.remove(merchant_id, endpoint_id):
            raise EndpointNotFound(str(endpoint_id))


@dataclass(frozen=True, slots=True)
class SigningEndpoints:
    """The sender's `WebhookEndpoints` over a registry and a sealer that may open secrets
    (the DynamoDB adapter and the in-memory fake both answer the sender through it)."""

    registry: WebhookEndpointRegistry
    sealer: SecretSealer

    def subscribed(self, merchant_id: UUID, event_type: str) -> list[WebhookEndpoint]:
        """The merchant's endpoints that want `event_type`."""
        return [e for e in self.registry.endpoints(merchant_id) if e.wants(event_type)]

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint, or None once deleted."""
        stored = self.registry.stored(merchant_id, endpoint_id)
        return None if stored is None else stored.endpoint

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The live secrets at `now`, newest first, opened; none once it is deleted."""
        stored = self.registry.stored(endpoint.merchant_id, endpoint.id)
        if stored is None:
            return []
        return [
            self.sealer.open(s.blob, endpoint.merchant_id, endpoint.id)
            for s in live_secrets(stored.secrets, now)
        ]
