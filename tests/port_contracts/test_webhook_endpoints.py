"""The webhook endpoints' contract (WebhookEndpointRegistry for the merchant API, WebhookEndpoints
for the sender, SecretSealer), against the in-memory fakes and the DynamoDB + KMS adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.webhook_endpoints import DynamoWebhookEndpoints
from shared_kernel.adapters.kms_webhook_secrets import KmsSecretSealer
from shared_kernel.application.webhook_ports import SecretSealer, WebhookEndpoint
from shared_kernel.domain.errors import EndpointLimitReached
from shared_kernel.domain.webhook_endpoint import SealedSecret, new_secret, rotated
from tests.unit.webhook_endpoint_fakes import InMemoryWebhookEndpoints, XorSealer

from .conftest import BOTH, FAKE, moto_client, moto_tables

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@dataclass
class Endpoints:
    """One implementation: its store (both ports) and its sealer."""

    store: Any
    sealer: SecretSealer


@pytest.fixture(params=BOTH)
def endpoints(request: pytest.FixtureRequest) -> Endpoints:
    """The fakes, or the DynamoDB adapter with KMS under a fresh key on moto."""
    if request.param == FAKE:
        sealer: SecretSealer = XorSealer()
        return Endpoints(InMemoryWebhookEndpoints(sealer), sealer)
    kms = moto_client(request, "kms")
    key_id = kms.create_key(Description="webhook secrets")["KeyMetadata"]["KeyId"]
    sealer = KmsSecretSealer(kms, key_id, stage="test")
    tables = moto_tables(request)
    return Endpoints(
        DynamoWebhookEndpoints(tables.dynamodb(), tables.webhook_endpoints, sealer), sealer
    )


def endpoint(
    merchant: UUID, events: tuple[str, ...] = ("*",), at: datetime = NOW
) -> WebhookEndpoint:
    """A new endpoint of `merchant`."""
    return WebhookEndpoint(uuid4(), merchant, "https://merchant.example/hook", events, at)


def add(endpoints: Endpoints, new: WebhookEndpoint, limit: int = 16) -> str:
    """Store `new` with a fresh sealed secret; the secret."""
    secret = new_secret()
    blob = endpoints.sealer.seal(secret, new.merchant_id, new.id)
    endpoints.store.add(new, SealedSecret(new.id, blob, new.created_at), limit)
    return secret


def test_an_added_endpoint_is_read_back_as_it_was_stored(endpoints: Endpoints) -> None:
    """get, endpoints and stored give back the endpoint; its secret opens for the sender."""
    merchant = uuid4()
    new = endpoint(merchant, ("payment.succeeded", "refund.failed"))
    secret = add(endpoints, new)

    stored = endpoints.store.stored(merchant, new.id)

    assert (new, [new], new) == (
        endpoints.store.get(merchant, new.id),
        endpoints.store.endpoints(merchant),
        stored.endpoint,
    )
    assert [secret] == endpoints.store.signing_secrets(new, NOW)
    assert secret.encode() not in stored.secrets[0].blob


def test_another_merchants_endpoint_is_none(endpoints: Endpoints) -> None:
    """An endpoint is found only under its own merchant."""
    new = endpoint(uuid4())
    add(endpoints, new)

    assert (None, None, []) == (
        endpoints.store.get(uuid4(), new.id),
        endpoints.store.stored(uuid4(), new.id),
        endpoints.store.endpoints(uuid4()),
    )


def test_the_limit_refuses_the_next_endpoint(endpoints: Endpoints) -> None:
    """With `limit` endpoints stored the next add raises EndpointLimitReached and stores
    nothing; another merchant has its own count; a delete frees a place."""
    merchant = uuid4()
    first, second = endpoint(merchant), endpoint(merchant)
    add(endpoints, first, limit=2)
    add(endpoints, second, limit=2)

    with pytest.raises(EndpointLimitReached):
        add(endpoints, endpoint(merchant), limit=2)
    add(endpoints, endpoint(uuid4()), limit=2)
    removed = endpoints.store.remove(merchant, first.id)
    add(endpoints, endpoint(merchant), limit=2)

    assert (True, 2) == (removed, len(endpoints.store.endpoints(merchant)))


def test_an_id_is_added_once(endpoints: Endpoints) -> None:
    """The same endpoint id twice: ValueError, one endpoint stored, the count unchanged."""
    merchant = uuid4()
    new = endpoint(merchant)
    add(endpoints, new, limit=2)

    with pytest.raises(ValueError, match="already stored"):
        add(endpoints, new, limit=2)
    add(endpoints, endpoint(merchant), limit=2)

    assert 2 == len(endpoints.store.endpoints(merchant))


def test_endpoints_are_listed_oldest_first(endpoints: Endpoints) -> None:
    """Whatever their ids, endpoints come in the order they were created."""
    merchant = uuid4()
    made = [endpoint(merchant, at=NOW + timedelta(seconds=n)) for n in (2, 0, 1)]
    for new in made:
        add(endpoints, new)

    assert [made[1], made[2], made[0]] == endpoints.store.endpoints(merchant)


def test_subscribed_are_the_endpoints_that_want_the_type(endpoints: Endpoints) -> None:
    """`*` and the named type match; other types do not; deleted endpoints never do."""
    merchant = uuid4()
    every = endpoint(merchant, ("*",), NOW)
    refunds = endpoint(merchant, ("refund.succeeded",), NOW + timedelta(seconds=1))
    gone = endpoint(merchant, ("refund.succeeded",), NOW + timedelta(seconds=2))
    for new in (every, refunds, gone):
        add(endpoints, new)
    endpoints.store.remove(merchant, gone.id)

    assert ([every, refunds], [every]) == (
        endpoints.store.subscribed(merchant, "refund.succeeded"),
        endpoints.store.subscribed(merchant, "payment.failed"),
    )


def test_a_removed_endpoint_is_gone_for_both_sides(endpoints: Endpoints) -> None:
    """After remove: get and stored are None, no secrets; a second remove is False."""
    merchant = uuid4()
    new = endpoint(merchant)
    add(endpoints, new)

    first, second = (
        endpoints.store.remove(merchant, new.id),
        endpoints.store.remove(merchant, new.id),
    )

    assert (True, False, None, []) == (
        first,
        second,
        endpoints.store.get(merchant, new.id),
        endpoints.store.signing_secrets(new, NOW),
    )


def test_replaced_secrets_sign_newest_first_until_the_old_one_expires(
    endpoints: Endpoints,
) -> None:
    """A rotation with an overlap: both secrets (newest first) until it ends, then one."""
    merchant = uuid4()
    new = endpoint(merchant)
    old_secret = add(endpoints, new)
    stored = endpoints.store.stored(merchant, new.id)
    secret = new_secret()
    sealed = SealedSecret(
        uuid4(), endpoints.sealer.seal(secret, merchant, new.id), NOW + timedelta(minutes=1)
    )

    replaced = endpoints.store.replace_secrets(
        stored, rotated(stored.secrets, sealed, timedelta(hours=1), NOW)
    )

    assert replaced
    assert [secret, old_secret] == endpoints.store.signing_secrets(new, NOW + timedelta(minutes=59))
    assert [secret] == endpoints.store.signing_secrets(new, NOW + timedelta(hours=1))


def test_a_stale_version_does_not_replace_secrets(endpoints: Endpoints) -> None:
    """replace_secrets with an outdated read is False and changes nothing."""
    merchant = uuid4()
    new = endpoint(merchant)
    add(endpoints, new)
    stale = endpoints.store.stored(merchant, new.id)
    assert endpoints.store.replace_secrets(stale, stale.secrets)

    refused = endpoints.store.replace_secrets(stale, ())

    assert (False, 1) == (refused, len(endpoints.store.stored(merchant, new.id).secrets))


def test_a_sealed_secret_opens_for_its_endpoint_only(endpoints: Endpoints) -> None:
    """A blob opened for another endpoint (or merchant) is a ValueError."""
    merchant, endpoint_id = uuid4(), uuid4()
    blob = endpoints.sealer.seal(new_secret(), merchant, endpoint_id)

    for other_merchant, other_endpoint in ((merchant, uuid4()), (uuid4(), endpoint_id)):
        with pytest.raises(ValueError, match="webhook secret cannot be opened"):
            endpoints.sealer.open(blob, other_merchant, other_endpoint)
