"""The forwarder's SQS handler: a record to retry gets its back-off as visibility timeout and
is reported in batchItemFailures; a settled one is not (the wiring replaced by fakes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from bank_forwarder_handlers import forward
from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankUnavailable
from shared_kernel.application.forward_delivery import ForwardDelivery
from shared_kernel.application.forward_payment import ForwardResult
from shared_kernel.application.ports import QueuedPayment

from .builders import MERCHANT_ID, PAYMENT_ID
from .fakes import InMemoryPaymentQueue

pytestmark = pytest.mark.unit

CONTEXT = SimpleNamespace(
    function_name="forward",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:forward",
    aws_request_id="req-1",
)


@dataclass
class FakeGateway:
    """What the handler takes from bootstrap.gateway(): the real delivery use case around a
    scripted forward, and a queue recording the redelivery delays."""

    answer: ForwardResult | Exception
    queue: InMemoryPaymentQueue = field(default_factory=InMemoryPaymentQueue)
    calls: list[tuple[QueuedPayment, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.forward_delivery = ForwardDelivery(
            self.forward_payment, Backoff(2.0, 300.0, lambda: 1.0), max_attempts=6
        )

    def forward_payment(self, message: QueuedPayment, final_attempt: bool = False) -> ForwardResult:
        """Record the call and answer as scripted."""
        self.calls.append((message, final_attempt))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def load_handler(monkeypatch: pytest.MonkeyPatch, fake: FakeGateway) -> ModuleType:
    """The handler module, its `gateway()` returning `fake`."""
    monkeypatch.setattr(forward, "gateway", lambda: fake)
    return forward


def record(receive_count: int) -> dict[str, Any]:
    """An SQS record of the SPEC payment, received `receive_count` times."""
    body = {
        "payment_id": str(PAYMENT_ID),
        "merchant_id": str(MERCHANT_ID),
        "correlation_id": "corr-1",
        "enqueued_at": "2026-11-26T10:00:00Z",
    }
    return {
        "messageId": f"m-{receive_count}",
        "receiptHandle": f"h-{receive_count}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


@pytest.mark.parametrize(("receive_count", "delay"), [(1, 2.0), (3, 8.0), (20, 300.0)])
def test_bank_unavailable_delays_the_record_by_its_back_off_and_reports_it(
    monkeypatch: pytest.MonkeyPatch, receive_count: int, delay: float
) -> None:
    """The n-th receive of a record the bank could not take waits 2·2^(n-1) s (cap 300)."""
    fake = FakeGateway(BankUnavailable("503"))
    answer = load_handler(monkeypatch, fake).handler({"Records": [record(receive_count)]}, CONTEXT)
    assert (
        {"batchItemFailures": [{"itemIdentifier": f"m-{receive_count}"}]},
        [(f"h-{receive_count}", delay)],
    ) == (answer, fake.queue.delays)


def test_a_settled_record_is_neither_delayed_nor_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record forwarded (or otherwise done) leaves the batch: no failure, no delay."""
    fake = FakeGateway(ForwardResult.ACCEPTED)
    answer = load_handler(monkeypatch, fake).handler({"Records": [record(1)]}, CONTEXT)
    assert ({"batchItemFailures": []}, []) == (answer, fake.queue.delays)


def test_the_last_receive_is_the_final_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """At FORWARD_MAX_ATTEMPTS receives the use case is told it is the last attempt (it then
    asks the bank and fails the payment only if the bank never received it)."""
    fake = FakeGateway(ForwardResult.GAVE_UP)
    load_handler(monkeypatch, fake).handler({"Records": [record(5), record(6)]}, CONTEXT)
    assert [False, True] == sorted(final for _, final in fake.calls)


def test_a_malformed_record_is_dropped_without_forwarding(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body breaking the queue-message contract is done (never retried) and never forwarded;
    the well-formed record beside it is forwarded."""
    fake = FakeGateway(ForwardResult.ACCEPTED)
    malformed = {**record(1), "messageId": "m-bad", "body": '{"payment_id": "nope"}'}
    answer = load_handler(monkeypatch, fake).handler({"Records": [malformed, record(2)]}, CONTEXT)
    assert ({"batchItemFailures": []}, [PAYMENT_ID]) == (
        answer,
        [message.payment_id for message, _ in fake.calls],
    )
