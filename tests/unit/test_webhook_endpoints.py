"""Webhook endpoints (SPEC §10): secrets, rotation, the 16-endpoint limit, idempotency, and
the use cases over the in-memory fakes."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from shared_kernel.application.errors import IdempotencyKeyReused
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.webhook_endpoints import (
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
    EndpointCreation,
    ListWebhookEndpoints,
    RotateWebhookSecret,
    SecretRotation,
    SecretWrites,
)
from shared_kernel.domain.errors import EndpointLimitReached, EndpointNotFound
from shared_kernel.domain.webhook_endpoint import (
    SealedSecret,
    live_secrets,
    new_secret,
    rotated,
)

from .fakes import FixedClock, InMemoryIdempotencyStore, SequentialIds
from .webhook_endpoint_fakes import InMemoryWebhookEndpoints, XorSealer

pytestmark = pytest.mark.unit

MERCHANT = UUID("2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f")
OTHER = UUID("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
URL = "https://merchant.example/hook"
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")


class Wiring:
    """The four use cases over one set of fakes; secrets numbered so a test can tell them."""

    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.ids = SequentialIds()
        self.registry = InMemoryWebhookEndpoints()
        self.sealer = XorSealer()
        self.idempotency = InMemoryIdempotencyStore()
        self.made: list[str] = []
        idempotent = IdempotentSubmit(self.idempotency, self.clock, SequentialIds(), b"pepper")
        writes = SecretWrites(
            self.registry, self.sealer, self.clock, self.ids, lambda: idempotent, self._secret
        )
        self.create = CreateWebhookEndpoint(writes)
        self.rotate = RotateWebhookSecret(writes)
        self.list = ListWebhookEndpoints(self.registry)
        self.delete = DeleteWebhookEndpoint(self.registry)

    def _secret(self) -> str:
        self.made.append(new_secret(bytes([len(self.made) + 1]) * 32))
        return self.made[-1]

    def add(self, merchant: UUID = MERCHANT, key: str | None = None) -> UUID:
        """A new endpoint of `merchant` wanting every event; its id."""
        return self.create(EndpointCreation(merchant, URL, ("*",), key)).endpoint.id


def test_a_secret_is_whsec_and_32_random_bytes_in_base64url() -> None:
    """`whsec_` + 43 base64url characters that decode to 32 bytes; two secrets differ."""
    first, second = new_secret(), new_secret()
    raw = base64.urlsafe_b64decode(first.removeprefix("whsec_") + "=")

    assert (True, 32, True) == (bool(SECRET.fullmatch(first)), len(raw), first != second)


def test_a_secret_needs_32_bytes() -> None:
    """Fewer random bytes than 32 is refused."""
    with pytest.raises(ValueError, match="32"):
        new_secret(b"short")


def _sealed(n: int, expires_at: datetime | None = None) -> SealedSecret:
    return SealedSecret(UUID(int=n, version=4), bytes([n]), NOW + timedelta(minutes=n), expires_at)


def test_rotation_keeps_the_current_secret_live_for_the_overlap() -> None:
    """After a rotation the new secret is current and the old one expires after the overlap."""
    old, new = _sealed(1), _sealed(2)

    after = rotated([old], new, timedelta(hours=24), NOW)

    assert (new, _sealed(1, NOW + timedelta(hours=24))) == after


def test_a_rotation_with_no_overlap_drops_the_old_secret() -> None:
    """`expires_in_hours: 0`: only the new secret remains."""
    assert (_sealed(2),) == rotated([_sealed(1)], _sealed(2), timedelta(0), NOW)


def test_a_second_rotation_in_the_overlap_leaves_two_secrets() -> None:
    """Rotating twice within the overlap drops the oldest: at most two live."""
    once = rotated([_sealed(1)], _sealed(2), timedelta(hours=24), NOW)
    twice = rotated(once, _sealed(3), timedelta(hours=1), NOW)

    assert [3, 2] == [s.blob[0] for s in live_secrets(twice, NOW)]


def test_live_secrets_are_newest_first_and_end_at_their_expiry() -> None:
    """Before the old secret's expiry both are live (newest first), at it only the new one."""
    secrets = (_sealed(2), _sealed(1, NOW + timedelta(hours=1)))

    before = [s.blob[0] for s in live_secrets(secrets, NOW + timedelta(minutes=59))]
    at = [s.blob[0] for s in live_secrets(secrets, NOW + timedelta(hours=1))]

    assert ([2, 1], [2]) == (before, at)


def test_creating_an_endpoint_answers_it_with_a_secret_stored_only_sealed() -> None:
    """The answer has the endpoint and its secret; the store holds the sealed blob, which
    is not the secret and opens to it for this endpoint only."""
    app = Wiring()

    created = app.create(EndpointCreation(MERCHANT, URL, ("payment.succeeded",)))
    stored = app.registry.stored(MERCHANT, created.endpoint.id)

    assert stored is not None
    blob = stored.secrets[0].blob
    assert (URL, ("payment.succeeded",), NOW) == (
        created.endpoint.url,
        created.endpoint.enabled_events,
        created.endpoint.created_at,
    )
    assert app.made == [created.secret]
    assert created.secret is not None and created.secret.encode() not in blob
    assert created.secret == app.sealer.open(blob, MERCHANT, created.endpoint.id)
    assert "whsec_" not in repr(created)


def test_a_seventeenth_endpoint_is_refused_and_not_stored() -> None:
    """16 endpoints per merchant; the 17th raises EndpointLimitReached; another merchant is
    not affected."""
    app = Wiring()
    for _ in range(16):
        app.add()

    with pytest.raises(EndpointLimitReached):
        app.add()
    app.add(OTHER)

    assert (16, 1) == (len(app.list(MERCHANT)), len(app.list(OTHER)))


def test_a_deleted_endpoint_frees_its_place() -> None:
    """After a delete the merchant can add one again."""
    app = Wiring()
    first, *_ = [app.add() for _ in range(16)]

    app.delete(MERCHANT, first)
    app.add()

    assert 16 == len(app.list(MERCHANT))


def test_a_repeated_create_with_the_same_key_replays_without_the_secret() -> None:
    """Same Idempotency-Key, same body: the same endpoint, replayed, no secret, no second
    endpoint and no second secret made."""
    app = Wiring()
    request = EndpointCreation(MERCHANT, URL, ("*",), "key-1")

    first = app.create(request)
    again = app.create(request)

    assert (first.endpoint, None, True) == (again.endpoint, again.secret, again.replayed)
    assert (1, 1) == (len(app.list(MERCHANT)), len(app.made))


def test_the_same_key_with_another_url_is_refused() -> None:
    """Same key, different body: IdempotencyKeyReused, nothing stored."""
    app = Wiring()
    app.create(EndpointCreation(MERCHANT, URL, ("*",), "key-1"))

    with pytest.raises(IdempotencyKeyReused):
        app.create(EndpointCreation(MERCHANT, URL + "2", ("*",), "key-1"))
    assert 1 == len(app.list(MERCHANT))


def test_rotation_signs_with_both_secrets_until_the_old_one_expires() -> None:
    """After rotating with 2 h overlap the sender gets (new, old) until then, then (new)."""
    app = Wiring()
    created = app.create(EndpointCreation(MERCHANT, URL, ("*",)))
    app.clock.advance(timedelta(minutes=5))

    rotation = app.rotate(SecretRotation(MERCHANT, created.endpoint.id, 2))
    endpoint = created.endpoint
    during = app.registry.signing_secrets(endpoint, NOW + timedelta(hours=2))
    after = app.registry.signing_secrets(endpoint, NOW + timedelta(hours=2, minutes=5))

    assert (endpoint, app.made[1]) == (rotation.endpoint, rotation.secret)
    assert ([app.made[1], app.made[0]], [app.made[1]]) == (during, after)


def test_a_rotation_of_an_unknown_or_foreign_endpoint_is_not_found() -> None:
    """Another merchant's endpoint, or an id that is none: EndpointNotFound, no secret made
    or sealed (no KMS call), theirs unchanged."""
    app = Wiring()
    theirs = app.add(OTHER)
    sealed_before = app.sealer.sealed

    for endpoint_id in (theirs, UUID(int=99, version=4)):
        with pytest.raises(EndpointNotFound):
            app.rotate(SecretRotation(MERCHANT, endpoint_id))
    stored = app.registry.stored(OTHER, theirs)

    assert stored is not None and 1 == len(stored.secrets)
    assert (0, 1) == (app.sealer.sealed - sealed_before, len(app.made))


def test_a_repeated_rotation_with_the_same_key_rotates_once() -> None:
    """Same key, same body: the second answer replays (no secret), one rotation stored."""
    app = Wiring()
    endpoint_id = app.add()

    first = app.rotate(SecretRotation(MERCHANT, endpoint_id, 24, "rot-1"))
    again = app.rotate(SecretRotation(MERCHANT, endpoint_id, 24, "rot-1"))
    stored = app.registry.stored(MERCHANT, endpoint_id)

    assert stored is not None
    assert (True, None, True) == (first.secret is not None, again.secret, again.replayed)
    assert 2 == len(stored.secrets)


def test_the_same_key_on_two_endpoints_is_two_requests() -> None:
    """The endpoint id is part of what a key's request is: another endpoint is another
    body (IdempotencyKeyReused), never the first one's replay."""
    app = Wiring()
    first, second = app.add(), app.add()
    app.rotate(SecretRotation(MERCHANT, first, 24, "rot-1"))

    with pytest.raises(IdempotencyKeyReused):
        app.rotate(SecretRotation(MERCHANT, second, 24, "rot-1"))


def test_a_concurrent_write_between_read_and_rotation_is_retried() -> None:
    """A secret written by someone else after the read: the rotation reads again and keeps it
    (the version condition refused the stale write)."""
    app = Wiring()
    endpoint_id = app.add()
    registry = app.registry
    original = registry.replace_secrets
    moved: list[bool] = []

    def interleaved(stored, secrets):  # type: ignore[no-untyped-def]
        if not moved:
            moved.append(original(stored, stored.secrets))  # bumps the version
        return original(stored, secrets)

    registry.replace_secrets = interleaved  # type: ignore[method-assign]
    app.rotate(SecretRotation(MERCHANT, endpoint_id, 24))
    stored = registry.stored(MERCHANT, endpoint_id)

    assert stored is not None
    assert ([True], 2, 2) == (moved, stored.version, len(stored.secrets))


def test_delete_removes_only_ones_own_endpoint() -> None:
    """A merchant deletes its endpoint (gone from the list and for the sender); deleting it
    again, or another merchant's, is EndpointNotFound and deletes nothing."""
    app = Wiring()
    mine, theirs = app.add(), app.add(OTHER)

    app.delete(MERCHANT, mine)
    refused = []
    for merchant, endpoint_id in ((MERCHANT, mine), (MERCHANT, theirs)):
        with pytest.raises(EndpointNotFound):
            app.delete(merchant, endpoint_id)
        refused.append(endpoint_id)

    assert ([], None) == (app.list(MERCHANT), app.registry.get(MERCHANT, mine))
    assert [theirs] == [e.id for e in app.list(OTHER)]
    assert [mine, theirs] == refused


def test_subscribed_filters_by_event_type() -> None:
    """`*` wants everything; a list wants only its types."""
    app = Wiring()
    every = app.add()
    only = app.create(EndpointCreation(MERCHANT, URL, ("refund.failed",))).endpoint.id

    assert ([every, only], [every]) == (
        [e.id for e in app.registry.subscribed(MERCHANT, "refund.failed")],
        [e.id for e in app.registry.subscribed(MERCHANT, "payment.succeeded")],
    )
