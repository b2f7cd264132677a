"""The webhook endpoints table under concurrency (serialising emulator, local/emulator.py): the
limit of 16 holds when many creations race, because it is checked by the transaction that
stores the endpoint; and the requests each operation makes."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.webhook_endpoints import DynamoWebhookEndpoints
from shared_kernel.adapters.kms_webhook_secrets import KmsSecretSealer
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.webhook_endpoints import (
    CreateWebhookEndpoint,
    EndpointCreation,
    SecretWrites,
)
from shared_kernel.application.webhook_ports import WebhookEndpoint
from shared_kernel.domain.errors import EndpointLimitReached
from shared_kernel.domain.webhook_endpoint import MAX_ENDPOINTS_PER_MERCHANT, SealedSecret
from tests.unit.fakes import FixedClock, InMemoryIdempotencyStore

from .conftest import ClientFactory, DynamoRequests, Tables, serialised_table

pytestmark = pytest.mark.integration

THREADS = 24
ROUNDS = 3


def sealer(aws_client: ClientFactory, endpoint: str | None = None) -> KmsSecretSealer:
    """KMS under a fresh key (on `endpoint`, default the session's moto server)."""
    kms = aws_client("kms", endpoint_url=endpoint)
    key_id = kms.create_key(Description="webhook secrets")["KeyMetadata"]["KeyId"]
    return KmsSecretSealer(kms, key_id, stage="test")


def creation(store: DynamoWebhookEndpoints, secrets: KmsSecretSealer) -> CreateWebhookEndpoint:
    """The create use case over the adapter (fresh ids, a fixed clock)."""
    clock = FixedClock(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    idempotent = IdempotentSubmit(InMemoryIdempotencyStore(), clock, uuid4, b"pepper")
    return CreateWebhookEndpoint(SecretWrites(store, secrets, clock, uuid4, lambda: idempotent))


def race(create: CreateWebhookEndpoint, merchant: UUID) -> Counter[str]:
    """THREADS creations for one merchant released at once; what each one got."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def one() -> None:
        start.wait()
        try:
            create(EndpointCreation(merchant, "https://merchant.example/hook", ("*",)))
            outcome = "created"
        except EndpointLimitReached:
            outcome = "endpoint_limit_reached"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_racing_creations_never_pass_the_limit(
    serialising_endpoint: str, aws_client: ClientFactory, round_number: int
) -> None:
    """24 concurrent creations for one merchant: exactly 16 created, 8 refused
    endpoint_limit_reached, 16 stored and the count item says 16 (three rounds)."""
    connection, name = serialised_table(
        serialising_endpoint, aws_client, "WebhookEndpointsTable", "endpoints"
    )
    store = DynamoWebhookEndpoints(connection, name, sealer(aws_client, serialising_endpoint))
    merchant = uuid4()

    outcomes = race(creation(store, sealer(aws_client, serialising_endpoint)), merchant)
    count = aws_client("dynamodb", endpoint_url=serialising_endpoint).get_item(
        TableName=name,
        Key={"merchant_id": {"S": str(merchant)}, "endpoint_id": {"S": "count"}},
        ConsistentRead=True,
    )["Item"]["endpoint_count"]["N"]

    assert {"created": 16, "endpoint_limit_reached": THREADS - 16} == dict(outcomes)
    assert (MAX_ENDPOINTS_PER_MERCHANT, "16") == (len(store.endpoints(merchant)), count)


class ReadThenWrite(DynamoWebhookEndpoints):
    """The control: the limit checked by a read, then an unconditional add, every racer
    reading before any writes (the interleaving the transaction makes harmless)."""

    def __init__(self, *args: Any, racers: int) -> None:
        super().__init__(*args)
        self.all_read = threading.Barrier(racers)

    def add(self, endpoint: WebhookEndpoint, secret: SealedSecret, limit: int) -> None:
        """Count the merchant's endpoints, wait for the others to count, then add."""
        full = len(self.endpoints(endpoint.merchant_id)) >= limit
        self.all_read.wait()
        if full:
            raise EndpointLimitReached(str(endpoint.merchant_id))
        super().add(endpoint, secret, limit=10**6)


def test_the_race_breaks_a_limit_checked_by_a_read(
    serialising_endpoint: str, aws_client: ClientFactory
) -> None:
    """Control: the same race against a read-then-write limit stores all 24 endpoints, so
    the race above would catch an adapter that checked the limit that way."""
    connection, name = serialised_table(
        serialising_endpoint, aws_client, "WebhookEndpointsTable", "endpoints"
    )
    secrets = sealer(aws_client, serialising_endpoint)
    store = ReadThenWrite(connection, name, secrets, racers=THREADS)
    merchant = uuid4()

    outcomes = race(creation(store, secrets), merchant)

    assert ({"created": THREADS}, THREADS) == (dict(outcomes), len(store.endpoints(merchant)))


def test_create_and_delete_are_each_one_transaction(
    tables: Tables, aws_client: ClientFactory, dynamodb_requests: DynamoRequests
) -> None:
    """Adding is one TransactWriteItems (the Put and the count), listing one Query, deleting
    one TransactWriteItems (the Delete and the count): no read-then-write."""
    store = DynamoWebhookEndpoints(tables.dynamodb(), tables.webhook_endpoints, sealer(aws_client))
    merchant = uuid4()
    create = creation(store, sealer(aws_client))

    endpoint = create(EndpointCreation(merchant, "https://merchant.example/h", ("*",))).endpoint
    store.endpoints(merchant)
    store.remove(merchant, endpoint.id)

    assert [
        ("TransactWriteItems", ""),
        ("Query", tables.webhook_endpoints),
        ("TransactWriteItems", ""),
    ] == dynamodb_requests.operations()
