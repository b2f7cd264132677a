"""The webhook sender's SQS handler: each record goes to the use case of its kind, the
records of a batch are handled side by side, a record whose handling raised is reported in
batchItemFailures and a malformed one is dropped (the wiring replaced by fakes)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.adapters.sqs_webhooks import message_body
from shared_kernel.application.deliver_webhooks import Outcome
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.webhook_ports import EndpointDelivery, FanOut
from webhook_sender_handlers import deliver

from .webhook_fakes import MERCHANT

pytestmark = pytest.mark.unit

CONTEXT = SimpleNamespace(
    function_name="deliver",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:deliver",
    aws_request_id="req-1",
)
EVENT_ID = UUID(int=1, version=4)


@dataclass
class FakeGateway:
    """The two use cases the handler calls, recording their messages; deliveries to the
    endpoints in `slow` take 0.5 s, to those in `broken` raise."""

    slow: set[UUID] = field(default_factory=set)
    broken: set[UUID] = field(default_factory=set)
    fanned_out: list[FanOut] = field(default_factory=list)
    delivered: list[EndpointDelivery] = field(default_factory=list)
    finished_at: dict[UUID, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fan_out_event(self, message: FanOut) -> Outcome:
        """Record the fan-out."""
        self.fanned_out.append(message)
        return Outcome.FANNED_OUT

    def deliver_to_endpoint(self, message: EndpointDelivery) -> Outcome:
        """Record the attempt, slowly or failing as scripted."""
        if message.endpoint_id in self.broken:
            raise QueueUnavailable("webhook queue unavailable: EndpointConnectionError")
        if message.endpoint_id in self.slow:
            time.sleep(0.5)
        with self.lock:
            self.delivered.append(message)
            self.finished_at[message.endpoint_id] = time.monotonic()
        return Outcome.DELIVERED


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS Lambda event of these bodies, message ids m-0, m-1, ..."""
    return {
        "Records": [
            {"messageId": f"m-{n}", "receiptHandle": f"h-{n}", "body": body, "attributes": {}}
            for n, body in enumerate(bodies)
        ]
    }


def body(message: FanOut | EndpointDelivery) -> str:
    """The queue body of a message, as the publisher writes it."""
    return json.dumps(message_body(message))


def attempt_at(n: int) -> EndpointDelivery:
    """Attempt 1 of EVENT_ID at endpoint number n."""
    return EndpointDelivery(EVENT_ID, MERCHANT, UUID(int=100 + n, version=4), 1)


def test_each_record_goes_to_the_use_case_of_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fan-out and a delivery: each handled once by its use case, none to retry."""
    fake = FakeGateway()
    monkeypatch.setattr(deliver, "gateway", lambda: fake)

    answer = deliver.handler(
        sqs_event(body(FanOut(EVENT_ID, MERCHANT)), body(attempt_at(1))), CONTEXT
    )

    assert ({"batchItemFailures": []}, [FanOut(EVENT_ID, MERCHANT)], [attempt_at(1)]) == (
        answer,
        fake.fanned_out,
        fake.delivered,
    )


def test_a_record_whose_handling_raised_is_reported_for_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A queue outage while handling m-1 reports m-1 only; m-0 is done."""
    fake = FakeGateway(broken={attempt_at(2).endpoint_id})
    monkeypatch.setattr(deliver, "gateway", lambda: fake)

    answer = deliver.handler(sqs_event(body(attempt_at(1)), body(attempt_at(2))), CONTEXT)

    assert ({"batchItemFailures": [{"itemIdentifier": "m-1"}]}, [attempt_at(1)]) == (
        answer,
        fake.delivered,
    )


def test_a_malformed_record_is_dropped_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body breaking the contract is logged and dropped: retrying it cannot help."""
    fake = FakeGateway()
    monkeypatch.setattr(deliver, "gateway", lambda: fake)

    answer = deliver.handler(sqs_event('{"kind": "deliver"}'), CONTEXT)

    assert ({"batchItemFailures": []}, [], []) == (answer, fake.fanned_out, fake.delivered)


def test_a_slow_endpoint_does_not_hold_up_the_others_of_its_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Endpoint 1 takes 0.5 s; endpoints 2 and 3, after it in the batch, finish well before."""
    fake = FakeGateway(slow={attempt_at(1).endpoint_id})
    monkeypatch.setattr(deliver, "gateway", lambda: fake)

    deliver.handler(sqs_event(*(body(attempt_at(n)) for n in (1, 2, 3))), CONTEXT)

    slow_done = fake.finished_at[attempt_at(1).endpoint_id]
    others = [fake.finished_at[attempt_at(n).endpoint_id] for n in (2, 3)]
    assert [True, True] == [slow_done - t > 0.3 for t in others]
