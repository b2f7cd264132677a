"""The webhook queue's Lambda trigger (SQS): each record's message (a `FanOut` or an
`EndpointDelivery`, None when the body breaks the contract), handed to its use case, and the
partial batch response naming the records to retry (`ReportBatchItemFailures`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared_kernel.adapters.sqs_webhooks import parse_webhook_message
from shared_kernel.application.deliver_webhooks import Outcome
from shared_kernel.application.webhook_ports import EndpointDelivery, FanOut


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """One received record: its id (to name it in the answer) and its message."""

    message_id: str
    message: FanOut | EndpointDelivery | None


def webhook_records(event: Mapping[str, Any]) -> list[WebhookRecord]:
    """Every record of an SQS event, in order."""
    records = []
    for record in event.get("Records") or []:
        try:
            message: FanOut | EndpointDelivery | None = parse_webhook_message(record["body"])
        except ValueError:
            message = None
        records.append(WebhookRecord(record["messageId"], message))
    return records


def handle(
    message: FanOut | EndpointDelivery,
    fan_out: Callable[[FanOut], Outcome],
    deliver: Callable[[EndpointDelivery], Outcome],
) -> Outcome:
    """The use case of the message's kind, called."""
    if isinstance(message, FanOut):
        return fan_out(message)
    return deliver(message)


def batch_response(records: Sequence[WebhookRecord], done: Sequence[bool]) -> dict[str, Any]:
    """The partial batch response: the message ids of the records not done."""
    failures = [
        {"itemIdentifier": r.message_id} for r, ok in zip(records, done, strict=True) if not ok
    ]
    return {"batchItemFailures": failures}
