"""Helpers of the security battery: sentinel card data, signed callbacks, polling, scans."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from local.stack import LocalStack
from shared_kernel.domain.card import luhn_valid

# What the battery tried and found, printed at the end of the run (see conftest.py).
FIGURES: Counter[str] = Counter()

FINAL = frozenset({"succeeded", "declined", "failed"})
SETTLED_OR_PROCESSING = FINAL | {"processing"}
# Around a CVV a hit is a token of its own: not part of a longer number, a UUID group
# (dash), a timestamp (colon, dot) or an identifier.
_NOT_A_TOKEN_EDGE = r"0-9A-Za-z._:+/=-"


def sentinel_card() -> str:
    """A random Luhn-valid 16-digit Visa-range number (outside the simulator's table: PAID)."""
    while True:
        body = "49" + "".join(secrets.choice("0123456789") for _ in range(13))
        for check in "0123456789":
            if luhn_valid(body + check):
                return body + check


def sentinel_cvv() -> str:
    """A random 4-digit CVV."""
    return f"{secrets.randbelow(9000) + 1000}"


def card_pattern(card: str) -> re.Pattern[str]:
    """The card number in plain text."""
    return re.compile(re.escape(card))


def cvv_pattern(cvv: str) -> re.Pattern[str]:
    """The CVV as a token of its own (see _NOT_A_TOKEN_EDGE)."""
    edge = _NOT_A_TOKEN_EDGE
    return re.compile(rf"(?<![{edge}]){re.escape(cvv)}(?![{edge}])")


def payment_body(card_number: str, cvv: str = "123", **overrides: Any) -> dict[str, Any]:
    """A valid submit body."""
    body: dict[str, Any] = {
        "card_number": card_number,
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": cvv,
        "amount": 1050,
        "currency": "GBP",
        "reference": "security-battery",
    }
    body.update(overrides)
    return body


def auth(api_key: str) -> dict[str, str]:
    """An Authorization header for a key."""
    return {"Authorization": f"Bearer {api_key}"}


def sign(secret: str, raw: bytes, at: float | None = None) -> str:
    """An X-Bank-Signature value, computed here independently of the product code."""
    t = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def post_callback(
    client: httpx.Client,
    raw: bytes,
    signature: str | None,
    content_type: str = "application/json",
    path: str = "/bank/payment-updates",
) -> httpx.Response:
    """POST raw bytes to a bank callback endpoint (`path`) with an optional signature header."""
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Bank-Signature"] = signature
    return client.post(path, content=raw, headers=headers)


def update_for(payment: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    """A callback body for a payment resource."""
    return {
        "payment_request_id": payment["id"],
        "merchant_id": payment["merchant_id"],
        "status": status,
        "bank_reference": "ref-security",
        "occurred_at": "2026-11-26T10:00:01Z",
        **extra,
    }


def read_payment(
    api: httpx.Client, merchant_id: str, api_key: str, payment_id: str
) -> dict[str, Any]:
    """The payment resource (200 expected)."""
    response = api.get(f"/merchant/{merchant_id}/payment/{payment_id}", headers=auth(api_key))
    assert 200 == response.status_code, response.text
    resource: dict[str, Any] = response.json()
    return resource


def wait_status(
    api: httpx.Client,
    merchant_id: str,
    api_key: str,
    payment_id: str,
    wanted: Iterable[str] = FINAL,
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll a payment until its status is one of `wanted` (or the timeout passes)."""
    wanted = frozenset(wanted)
    deadline = time.monotonic() + timeout
    while True:
        resource = read_payment(api, merchant_id, api_key, payment_id)
        if resource["status"] in wanted or time.monotonic() > deadline:
            return resource
        time.sleep(0.25)


def response_text(response: httpx.Response) -> str:
    """Status line, headers and body of an answer, as one searchable text."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


def _plain(value: Any) -> Any:
    """A DynamoDB low-level value as plain JSON-able data (binary kept as latin-1 text)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, inner),) = value.items()
            if kind == "B":
                raw = bytes(inner)
                return {"B": raw.decode("latin-1"), "B64": base64.b64encode(raw).decode()}
            if kind in {"S", "N", "BOOL", "NULL"}:
                return inner
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def scan_all_tables(dynamodb: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item of every table of the emulator: (table name, item as raw low-level JSON).

    Tests may scan; product code never does.
    """
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield table, item


def item_text(item: dict[str, Any]) -> str:
    """An item as searchable text (binary attributes both raw and base64)."""
    return json.dumps(_plain(item), ensure_ascii=False, sort_keys=True)


@contextmanager
def forwarder_paused(stack: LocalStack) -> Iterator[None]:
    """The forwarder's event source paused (messages stay queued), resumed on exit."""
    stack.forwarder_source.pause()
    try:
        yield
    finally:
        stack.forwarder_source.resume()
