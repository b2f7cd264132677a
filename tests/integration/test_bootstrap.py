"""The composition root against moto server: what one cold start builds and shares."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from uuid import uuid4

import pytest

from shared_kernel.bootstrap import build_gateway
from shared_kernel.settings import Settings

from .conftest import REGION, ClientFactory, Tables, create_table_from_definition, table_definitions
from .test_dynamodb_payments import a_payment

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tables: Tables, aws_endpoint: str, aws_client: ClientFactory) -> Settings:
    """Settings naming this test's fresh payments, merchants and idempotency tables."""
    idempotency = f"idempotency-{uuid4().hex[:8]}"
    create_table_from_definition(
        aws_client("dynamodb"), table_definitions()["IdempotencyTable"], idempotency
    )
    return Settings.from_env(
        {
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "PAYMENTS_TABLE": tables.payments,
            "MERCHANTS_TABLE": tables.merchants,
            "IDEMPOTENCY_TABLE": idempotency,
        }
    )


def test_every_table_model_sends_through_the_gateways_one_dynamodb_client(
    settings: Settings,
) -> None:
    """Payments, API keys and idempotency records all go through `Gateway.dynamodb`."""
    gateway = build_gateway(settings)
    payments, merchants, idempotency = gateway.payments, gateway.merchants, gateway.idempotency
    operations: list[str] = []

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    gateway.dynamodb.meta.events.register("before-call.dynamodb", record)
    payment = a_payment()
    payments.add(payment)

    assert payment == payments.get(payment.id)
    assert merchants.merchant_for("ab" * 32) is None
    assert idempotency.get(f"{uuid4()}#key-1") is None
    assert ["PutItem", "GetItem", "GetItem", "GetItem"] == operations


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
