"""End to end: the webhook sender runs in the stack (serverless-offline, fed by the local
SQS event source) and the delivery routes answer through the edge. Deliveries of real events
to endpoints need the events recorder and the endpoint routes in the same stack; until then
the stack has no events, and these tests check what holds without them."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue
from shared_kernel.application.webhook_ports import EndpointDelivery, FanOut
from tests.e2e.conftest import Merchant

pytestmark = pytest.mark.e2e


def test_the_delivery_routes_answer_404_for_an_event_the_merchant_does_not_have(
    api: httpx.Client, merchant: Merchant
) -> None:
    """GET deliveries and POST resend of an unknown event: 404 not_found, through the edge."""
    path = f"/merchant/{merchant.id}/events/{uuid.uuid4()}"
    answers = [
        api.get(f"{path}/deliveries", headers=merchant.auth),
        api.post(f"{path}/resend", headers=merchant.auth),
        api.post(f"{path}/resend", json={"endpoint_id": str(uuid.uuid4())}, headers=merchant.auth),
    ]

    assert [(404, "not_found")] * 3 == [(a.status_code, a.json()["error"]["code"]) for a in answers]


@pytest.mark.parametrize("body", ["null", "false", "0", '""', '"{}"', " null "])
def test_a_json_body_that_is_not_an_object_reaches_the_handler_as_sent(
    api: httpx.Client, merchant: Merchant, body: str
) -> None:
    """`-d null` is a body that is not an object: 400 naming the body, as in API Gateway,
    never "resend to every endpoint". serverless-offline 13.9.0 dropped falsy JSON bodies and
    unquoted JSON strings (`"{}"` came as `{}`); the project's patch
    (patches/serverless-offline+13.9.0.patch) hands the Lambda the text as sent."""
    answer = api.post(
        f"/merchant/{merchant.id}/events/{uuid.uuid4()}/resend",
        content=body,
        headers={**merchant.auth, "Content-Type": "application/json"},
    )

    assert (400, ["body"]) == (
        answer.status_code,
        [d["field"] for d in answer.json()["error"]["details"]],
    ), answer.text


def test_the_sender_consumes_both_kinds_of_message_from_the_webhook_queue(
    stack: LocalStack,
) -> None:
    """A fan-out and a delivery of unknown events are handled by the sender under
    serverless-offline (nothing to send) and deleted from the queue, none failed."""
    import boto3

    sqs = boto3.session.Session(region_name="eu-west-1").client("sqs", endpoint_url=stack.endpoint)
    before = stack.webhook_source.stats()
    queue = SqsWebhookQueue(sqs, stack.webhook_queue_url)
    merchant, event = uuid.uuid4(), uuid.uuid4()
    queue.fan_out(FanOut(event, merchant))
    queue.deliver(EndpointDelivery(event, merchant, uuid.uuid4(), 1))

    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and stack.webhook_source.stats()["deleted"] < before["deleted"] + 2
    ):
        time.sleep(0.2)
    after = stack.webhook_source.stats()

    assert (2, 0, 0) == (
        after["deleted"] - before["deleted"],
        after["failed"] - before["failed"],
        after["invoke_errors"] - before["invoke_errors"],
    )
