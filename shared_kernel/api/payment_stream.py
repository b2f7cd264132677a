"""The payments table's change stream as a Lambda trigger (DynamoDB Streams): each record
handled in order, and the partial batch response (`ReportBatchItemFailures`) naming the
first record that failed, from which the event source delivers the rest again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from shared_kernel.adapters.dynamodb.stream import payment_change, payment_id, sequence_number
from shared_kernel.application.record_events import PaymentChange

logger = logging.getLogger(__name__)


def record_changes(
    event: Mapping[str, Any], record: Callable[[PaymentChange], object]
) -> dict[str, Any]:
    """Pass each record's change to `record`, in stream order, and stop at the first that
    fails: the answer names its sequence number, so it and every later record of the batch
    come again (a stream is ordered per item: a later change must not be recorded before
    an earlier one is). Records already done are done; recording is idempotent anyway."""
    for item in event.get("Records") or []:
        try:
            change = payment_change(item)
            if change is not None:
                record(change)
        except Exception:
            logger.exception(
                "recording a change failed; the stream delivers it again",
                extra={"payment_id": _payment_id(item), "sequence_number": sequence_number(item)},
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence_number(item)}]}
    return {"batchItemFailures": []}


def _payment_id(item: Mapping[str, Any]) -> str:
    try:
        return str(payment_id(item))
    except (KeyError, ValueError):
        return "unknown"
