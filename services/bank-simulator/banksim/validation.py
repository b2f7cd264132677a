"""Validation of ``POST /payments`` (SPEC §4): every failing field is reported at once."""

from __future__ import annotations

import re
import uuid
from typing import Any

FIELDS = (
    "payment_request_id",
    "merchant_id",
    "card_number",
    "expiry_month",
    "expiry_year",
    "cvv",
    "amount",
    "currency",
)
MAX_AMOUNT = 100_000_000

_CARD_RE = re.compile(r"[0-9]{12,19}")
_CVV_RE = re.compile(r"[0-9]{3,4}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

FieldError = dict[str, str]


def is_uuid(value: object) -> bool:
    """True for a UUID in its canonical 36-character hyphenated form (any case)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _is_int(value: object) -> bool:
    # bool is a subclass of int in Python, but `true` is not a number in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field(name: str, value: Any) -> str | None:
    """The problem with one field's value, or None when it is fine."""
    if name in ("payment_request_id", "merchant_id"):
        return None if is_uuid(value) else "must be a UUID"
    if name == "card_number":
        ok = isinstance(value, str) and _CARD_RE.fullmatch(value)
        return None if ok else "must be a string of 12 to 19 digits"
    if name == "expiry_month":
        ok = _is_int(value) and 1 <= value <= 12
        return None if ok else "must be an integer from 1 to 12"
    if name == "expiry_year":
        ok = _is_int(value) and 1000 <= value <= 9999
        return None if ok else "must be a four-digit integer"
    if name == "cvv":
        ok = isinstance(value, str) and _CVV_RE.fullmatch(value)
        return None if ok else "must be a string of 3 or 4 digits"
    if name == "amount":
        ok = _is_int(value) and 1 <= value <= MAX_AMOUNT
        return None if ok else f"must be an integer from 1 to {MAX_AMOUNT}"
    if name == "currency":
        ok = isinstance(value, str) and _CURRENCY_RE.fullmatch(value)
        return None if ok else "must be a three-letter uppercase currency code"
    return "is not allowed"


def validate_payment_request(
    body: Any,
    idempotency_key: str | None,
) -> list[FieldError]:
    """Every problem with a payment request body and its Idempotency-Key header."""
    if not isinstance(body, dict):
        return [{"field": "body", "message": "must be a JSON object"}]
    errors: list[FieldError] = []
    for name in FIELDS:
        if name not in body:
            errors.append({"field": name, "message": "is required"})
            continue
        problem = _check_field(name, body[name])
        if problem:
            errors.append({"field": name, "message": problem})
    for name in sorted(set(body) - set(FIELDS)):
        errors.append({"field": name, "message": "is not allowed"})
    if not idempotency_key:
        errors.append({"field": "Idempotency-Key", "message": "header is required"})
    elif idempotency_key != body.get("payment_request_id"):
        mismatch = "must equal payment_request_id"
        errors.append({"field": "Idempotency-Key", "message": mismatch})
    return errors
