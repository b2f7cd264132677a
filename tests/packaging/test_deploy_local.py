"""`make deploy-local` (sls deploy --stage local through serverless-localstack) deploys
every service's CloudFormation stack to an AWS emulator. moto runs no Lambda code without
Docker, so this checks the deployment, not the invocation (the e2e suite covers that)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local.stack import free_port, port_open, wait_until

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator() -> Iterator[int]:
    """A fresh moto server on a free port, stopped by pid afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), "moto server", 30)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_deploy_local_deploys_every_stack(emulator: int) -> None:
    """Every service's stack completes, with its functions and APIs created."""
    env = {**os.environ, "AWS_EMULATOR_PORT": str(emulator)}
    result = subprocess.run(
        [sys.executable, "-m", "local.deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]

    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1"
    )
    endpoint = f"http://127.0.0.1:{emulator}"
    stacks = session.client("cloudformation", endpoint_url=endpoint).describe_stacks()["Stacks"]
    statuses = {s["StackName"]: s["StackStatus"] for s in stacks}
    functions = session.client("lambda", endpoint_url=endpoint).list_functions()["Functions"]

    assert {
        "gateway-resources-local",
        "merchant-api-local",
        "bank-forwarder-local",
        "bank-callback-local",
        "events-local",
        "webhook-sender-local",
    } == set(statuses)
    assert all(s.endswith("_COMPLETE") and "ROLLBACK" not in s for s in statuses.values())
    assert {
        "merchant-api-local-authorizer",
        "merchant-api-local-submitPayment",
        "merchant-api-local-listPayments",
        "merchant-api-local-getPayment",
        "merchant-api-local-requestCapture",
        "merchant-api-local-requestVoid",
        "merchant-api-local-requestRefund",
        "merchant-api-local-listActions",
        "merchant-api-local-getAction",
        "merchant-api-local-methodNotAllowed",
        "merchant-api-local-listEvents",
        "merchant-api-local-getEvent",
        "merchant-api-local-createWebhookEndpoint",
        "merchant-api-local-listWebhookEndpoints",
        "merchant-api-local-deleteWebhookEndpoint",
        "merchant-api-local-rotateWebhookSecret",
        "merchant-api-local-listDeliveries",
        "merchant-api-local-resendEvent",
        "bank-forwarder-local-forward",
        "bank-forwarder-local-reconcile",
        "bank-callback-local-paymentUpdates",
        "bank-callback-local-actionUpdates",
        "events-local-record",
        "webhook-sender-local-deliver",
    } == {f["FunctionName"] for f in functions}
