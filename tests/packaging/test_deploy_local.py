"""`make deploy-local` (sls deploy --stage local through serverless-localstack) deploys
every service's CloudFormation stack to an AWS emulator (the session's deploy, which the
other packaging tests inspect the artefacts of). moto runs no Lambda code without
Docker, so this checks the deployment, not the invocation (the e2e suite covers that)."""

from __future__ import annotations

import boto3
import pytest

from tests.packaging.conftest import Deployed

pytestmark = pytest.mark.packaging


def test_deploy_local_deploys_every_stack(deployed: Deployed) -> None:
    """Every service's stack completes, with its functions and APIs created (the session's
    deploy, tests/packaging/conftest.py, must have exited 0)."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1"
    )
    endpoint = f"http://127.0.0.1:{deployed.emulator_port}"
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
