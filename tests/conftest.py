"""Fixtures shared by every suite that needs the running gateway (e2e, reliability, security).

The whole local stack starts once per test session, on free ports, the first time a test
asks for it, and stops at the end of the session; suites that never ask never start it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local.cloudformation import gateway_names
from local.stack import REGION, STAGE, LocalStack, Ports


def stored_payment_ids(stack: LocalStack, merchant_id: str) -> set[str]:
    """The ids of every payment the payments table holds for a merchant (a test may scan;
    product code never does), to show that a refused request created nothing."""
    import boto3

    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=gateway_names(STAGE)["PaymentsTable"],
        FilterExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": merchant_id}},
        ConsistentRead=True,
    )
    return {item["payment_id"]["S"] for page in pages for item in page["Items"]}


@dataclass
class Merchant:
    """A merchant registered in the running stack."""

    id: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        """Its Authorization header."""
        return {"Authorization": f"Bearer {self.api_key}"}


# The forwarder's and reconciler's production timings (services/bank-forwarder/serverless.yml)
# scaled down: retries after 1, 2, 4, 4, 4 s; a bank read times out after 1.5 s (the battery's
# simulated timeouts hold answers longer); processing is checked after 3 s; pending is
# requeued after 20 s, then 4, 8, 16, 16 s apart. 20 s is on purpose shorter than the
# battery's backlog with retries (the flaky run's is longer), as production's 30 s is under
# overload: the reconciler does requeue payments whose first message is still waiting, and
# the oracle checks that the forward lease makes that second delivery harmless (no concurrent
# POST, none after a known 202; docs/decisions.md, "Why a forward lease"). Much shorter, and
# every pass requeues the whole backlog, which only grows it.
TEST_TUNING = {
    "FORWARD_MAX_ATTEMPTS": "6",
    "FORWARD_BACKOFF_BASE_S": "1",
    "FORWARD_BACKOFF_CAP_S": "4",
    "BANK_READ_TIMEOUT_S": "1.5",
    "RECONCILE_PENDING_AFTER_S": "20",
    "RECONCILE_PROCESSING_AFTER_S": "3",
    "RECONCILE_BACKOFF_BASE_S": "4",
    "RECONCILE_BACKOFF_CAP_S": "16",
    "RECONCILE_MAX_REQUEUES": "5",
    # An authorisation lasts 20 s instead of 7 days, so that the e2e suite sees the reconciler
    # void an expired one (tests capturing an authorisation do so well within it).
    "AUTHORIZATION_VALIDITY_S": "20",
    # The webhook retry schedule in about 25 s (SPEC §10), for the delivery tests.
    "WEBHOOK_RETRY_SCALE": "0.0001",
}


AUTHORIZER_TTL_S = 5.0


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The gateway, every part running, reconciler every 2 s, retries and reconciler
    thresholds shortened (TEST_TUNING) so that the reliability battery settles in CI time."""
    log_dir: Path = tmp_path_factory.mktemp("stack-logs")
    local = LocalStack(
        Ports.all_free(),
        log_dir=log_dir,
        reconcile_every_s=2,
        bank_callback_delay_ms=100,
        tuning_env=TEST_TUNING,
        # Short, so that a test rotating a secret sees the Lambdas pick it up (security suite).
        secrets_ttl_s=3,
        # The edge's authorizer cache (API Gateway's, 60 s in the template) shortened so the
        # rotation test sees a revoked key expire from it.
        authorizer_ttl_s=AUTHORIZER_TTL_S,
        quiet=True,
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


def _client(port: int, timeout: float) -> Iterator[httpx.Client]:
    """An HTTP client for a local server, closed when the session ends."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
        yield client


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the merchant API."""
    yield from _client(stack.ports.merchant_api, timeout=30)


@pytest.fixture(scope="session")
def bank(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the bank simulator (its test-only records)."""
    yield from _client(stack.ports.bank_simulator, timeout=10)


@pytest.fixture(scope="session")
def callback_api(stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client for the bank callback API."""
    yield from _client(stack.ports.callback_api, timeout=10)


@pytest.fixture(scope="session")
def merchant(stack: LocalStack) -> Merchant:
    """A merchant of the running stack."""
    created = stack.register_merchant("E2E merchant")
    return Merchant(created["merchant_id"], created["api_key"])


@pytest.fixture(scope="session")
def other_merchant(stack: LocalStack) -> Merchant:
    """A second merchant, for the cross-merchant cases."""
    created = stack.register_merchant("Another merchant")
    return Merchant(created["merchant_id"], created["api_key"])
