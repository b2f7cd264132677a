"""Validation of ``POST /payments`` (SPEC §4) and of the captures, voids and refunds (§8):
every failing field is reported at once."""

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
# Optional: `"capture": false` asks only for an authorisation (SPEC §8).
OPTIONAL_FIELDS = ("capture",)
# The body of each action request: every field required, no other allowed.
ACTION_FIELDS = {
    "capture": ("action_id", "amount"),
    "void": ("action_id",),
    "refund": ("action_id", "amount"),
}
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
    if name in ("payment_request_id", "merchant_id", "action_id"):
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
    if name == "capture":
        return None if isinstance(value, bool) else "must be true or false"
    return "is not allowed"


def validate_payment_request(
    body: Any,
    idempotency_key: str | None,
) -> list[FieldError]:
    """Every problem with a payment request body and its Idempotency-Key header."""
    return _validate(body, FIELDS, OPTIONAL_FIELDS, "payment_request_id", idempotency_key)


def validate_action_request(
    action_type: str, body: Any, idempotency_key: str | None
) -> list[FieldError]:
    """Every problem with a capture, void or refund body and its Idempotency-Key header."""
    return _validate(body, ACTION_FIELDS[action_type], (), "action_id", idempotency_key)


def _validate(
    body: Any,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    key_field: str,
    idempotency_key: str | None,
) -> list[FieldError]:
    if not isinstance(body, dict):
        return [{"field": "body", "message": "must be a JSON object"}]
    errors: list[FieldError] = []
    for name in required + optional:
        if name not in body:
            if name in required:
                errors.append({"field": name, "message": "is required"})
            continue
        problem = _check_field(name, body[name])
        if problem:
            errors.append({"field": name, "message": problem})
    for name in sorted(set(body) - set(required) - set(optional)):
        errors.append({"field": name, "message": "is not allowed"})
    if not idempotency_key:
        errors.append({"field": "Idempotency-Key", "message": "header is required"})
    elif idempotency_key != body.get(key_field):
        errors.append({"field": "Idempotency-Key", "message": f"must equal {key_field}"})
    return errors
