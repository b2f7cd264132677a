"""The payments table's change stream, as a Lambda receives it: each record's old and new
image read back into the payment and its actions, with the table's own mapping (payments.py).

Images are the stored items in DynamoDB's typed JSON. The sealed card (card data under KMS,
binary) is left out before parsing: no event shows it, and the recorder never holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from shared_kernel.adapters.dynamodb.models import PaymentModel
from shared_kernel.adapters.dynamodb.payments import record_to_action, to_domain
from shared_kernel.application.record_events import PaymentChange
from shared_kernel.domain.change_events import PaymentSnapshot

# What the recorder never reads from an image.
UNREAD_ATTRIBUTES = frozenset({"sealed_card"})


def snapshot(image: Mapping[str, Any]) -> PaymentSnapshot:
    """The payment and its actions an image of a payment item holds."""
    item = PaymentModel.from_raw_data(
        {k: v for k, v in image.items() if k not in UNREAD_ATTRIBUTES}
    )
    actions = [record_to_action(item, record) for record in (item.actions or {}).values()]
    return PaymentSnapshot(to_domain(item), {action.id: action for action in actions})


def payment_change(record: Mapping[str, Any]) -> PaymentChange | None:
    """The change a stream record holds; None for a removal (no event is made of one)."""
    data = record["dynamodb"]
    if record["eventName"] == "REMOVE" or "NewImage" not in data:
        return None
    old = data.get("OldImage")
    return PaymentChange(None if old is None else snapshot(old), snapshot(data["NewImage"]))


def sequence_number(record: Mapping[str, Any]) -> str:
    """The record's sequence number: its item identifier in a partial batch response."""
    return str(record["dynamodb"]["SequenceNumber"])


def payment_id(record: Mapping[str, Any]) -> UUID:
    """The id of the payment the record is about (from its keys: no image needed)."""
    return UUID(record["dynamodb"]["Keys"]["payment_id"]["S"])
