"""The payment queue's Lambda trigger (SQS): the event's records as deliveries, and the
partial batch response naming the ones to retry (`ReportBatchItemFailures`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared_kernel.adapters.sqs import parse_queued_payment
from shared_kernel.application.ports import QueuedPayment


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received record: the ids to answer and delay it by, the payment it names (None
    when its body breaks the queue-message contract) and how often SQS has delivered it."""

    message_id: str
    receipt_handle: str
    payment: QueuedPayment | None
    receive_count: int


def delivery(record: Mapping[str, Any]) -> Delivery:
    """The delivery of one SQS record."""
    try:
        payment: QueuedPayment | None = parse_queued_payment(record["body"])
    except ValueError:
        payment = None
    attributes = record.get("attributes") or {}
    return Delivery(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        payment=payment,
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )


def deliveries(event: Mapping[str, Any]) -> list[Delivery]:
    """Every record of an SQS event, in order."""
    return [delivery(record) for record in event.get("Records") or []]


def batch_response(received: Sequence[Delivery], done: Sequence[bool]) -> dict[str, Any]:
    """The partial batch response: the message ids of the deliveries not done."""
    failures = [
        {"itemIdentifier": d.message_id} for d, ok in zip(received, done, strict=True) if not ok
    ]
    return {"batchItemFailures": failures}
