"""The composition root against moto server: what one cold start builds and shares."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from uuid import uuid4

import botocore.session
import pytest

from shared_kernel.bootstrap import build_gateway
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.settings import Settings

from .conftest import (
    REGION,
    ClientFactory,
    create_table_from_definition,
    table_definitions,
    unique,
)
from .test_dynamodb_idempotency import SCOPE, claim
from .test_dynamodb_payments import a_payment

TABLES = {
    "PAYMENTS_TABLE": "PaymentsTable",
    "MERCHANTS_TABLE": "MerchantsTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
}

pytestmark = pytest.mark.integration


def settings_with_fresh_tables(endpoint: str, aws_client: ClientFactory) -> Settings:
    """Settings naming fresh payments, merchants and idempotency tables of their own."""
    dynamodb = aws_client("dynamodb")
    names = {}
    for variable, logical_id in TABLES.items():
        names[variable] = unique(logical_id.removesuffix("Table").lower())
        create_table_from_definition(dynamodb, table_definitions()[logical_id], names[variable])
    return Settings.from_env({"AWS_REGION": REGION, "AWS_ENDPOINT_URL": endpoint, **names})


@pytest.fixture
def settings(aws_endpoint: str, aws_client: ClientFactory) -> Settings:
    """Settings naming this test's fresh payments, merchants and idempotency tables."""
    return settings_with_fresh_tables(aws_endpoint, aws_client)


def test_every_table_adapter_sends_through_the_gateways_one_dynamodb_client(
    settings: Settings,
) -> None:
    """Payments, API keys and idempotency records all go through `Gateway.dynamodb`'s one
    client, each to the table the settings name."""
    gateway = build_gateway(settings)
    payments, merchants, idempotency = gateway.payments, gateway.merchants, gateway.idempotency
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params["TableName"]))

    gateway.dynamodb.connection.client.meta.events.register(
        "before-parameter-build.dynamodb", record
    )
    payment = a_payment()
    payments.add(payment)

    assert payment == payments.get(payment.id)
    assert merchants.merchant_for("ab" * 32) is None
    assert idempotency.get(f"{uuid4()}#key-1") is None
    assert ["PutItem", "GetItem", "GetItem", "GetItem"] == [operation for operation, _ in calls]
    assert [
        settings.payments_table,
        settings.payments_table,
        settings.merchants_table,
        settings.idempotency_table,
    ] == [table for _, table in calls]


def test_a_gateway_makes_all_its_clients_from_one_botocore_session(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB (PynamoDB's client), SQS, KMS and Secrets Manager clients all come from one
    botocore session: a cold start loads credentials and endpoint data once."""
    made: list[tuple[int, str]] = []
    create_client = botocore.session.Session.create_client

    def recording(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append((id(session), service_name))
        return create_client(session, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", recording)
    gateway = build_gateway(settings)
    _ = gateway.payments, gateway.merchants, gateway.idempotency, gateway.queue, gateway.cipher
    _ = gateway.secrets

    services = [service for _, service in made]
    assert (["dynamodb", "sqs", "kms", "secretsmanager"], 1) == (
        services,
        len({session for session, _ in made}),
    )


def test_two_gateways_in_one_process_keep_to_their_own_tables(
    settings: Settings, aws_endpoint: str, aws_client: ClientFactory
) -> None:
    """A second composition root with other tables changes nothing of the first: each
    Gateway writes and reads its own payments, merchants and idempotency tables only."""
    first = build_gateway(settings)
    first_payment = a_payment()
    first.payments.add(first_payment)
    second = build_gateway(settings_with_fresh_tables(aws_endpoint, aws_client))
    second_payment = a_payment()

    second.payments.add(second_payment)
    first.merchants.add(uuid4(), "First Ltd", "1f" * 32, first_payment.created_at)
    claimed = first.idempotency.claim(claim())

    assert first_payment == first.payments.get(first_payment.id)
    assert second_payment == second.payments.get(second_payment.id)
    with pytest.raises(PaymentNotFound):
        first.payments.get(second_payment.id)
    with pytest.raises(PaymentNotFound):
        second.payments.get(first_payment.id)
    assert (True, None) == (
        first.merchants.merchant_for("1f" * 32) is not None,
        second.merchants.merchant_for("1f" * 32),
    )
    assert (True, True, False) == (
        claimed,
        first.idempotency.get(SCOPE) is not None,
        second.idempotency.get(SCOPE) is not None,
    )


def test_building_the_gateway_does_not_import_boto3(settings: Settings) -> None:
    """The clients are botocore's: a fresh process building them never imports boto3 (with
    its resources and s3transfer), which the test process itself has already imported."""
    code = (
        "import sys\n"
        "from shared_kernel.bootstrap import build_gateway\n"
        "from shared_kernel.settings import Settings\n"
        "gateway = build_gateway(Settings.from_env())\n"
        "gateway.payments, gateway.merchants, gateway.client('sqs'), gateway.client('kms')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer')))\n"
    )
    env = {
        **os.environ,
        "AWS_REGION": settings.region,
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url or "",
        "PAYMENTS_TABLE": settings.payments_table,
        "MERCHANTS_TABLE": settings.merchants_table,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )

    assert "[]" == result.stdout.strip()
